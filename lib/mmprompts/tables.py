"""The paper's tables from finished runs: this run's mean ± std over seeds, the paper's value, the delta.

Mini-world tasks are compared with the paper's dataset of the same kind (their `analogue`),
and a prompt depth of an L-block model with the paper's column at the same fraction of
ViT-B/16's 12 blocks. Tables are plain dicts {dataset: {column: Cell | None}}, rendered as
Markdown or CSV here, as figures by `figures.py`.
"""
from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass
from typing import Sequence

from .data.miniworld import MINI_TASKS
from .experiments import RunSpec, table1_methods, table2_methods, table3_methods
from .paper import TABLE1, TABLE2, TABLE3
from .prompted import PromptConfig

__all__ = ["Cell", "best_prompt_setting", "paper_dataset", "summary", "table1", "table2", "table3", "preset_tables", "to_csv", "to_markdown", "zero_shot_table"]

PAPER_LAYERS = 12  # ViT-B/16


def paper_dataset(name: str) -> str:
    """The paper's dataset a table row is compared with: itself, or a mini task's analogue."""
    return MINI_TASKS[name].analogue if name in MINI_TASKS else name


@dataclass(frozen=True)
class Cell:
    """One table cell: this run's mean ± std over seeds, the paper's value and the difference."""

    mean: float
    std: float
    runs: int
    paper: float | None

    @property
    def delta(self) -> float | None:
        return None if self.paper is None else self.mean - self.paper


def summary(accuracies: dict[RunSpec, float], dataset: str, method: PromptConfig | None,
            paper: float | None) -> Cell | None:
    """Mean ± std over the seeds of `method` (None: zero-shot) on `dataset`; None when it has no runs."""
    values = [acc for spec, acc in accuracies.items() if (spec.dataset, spec.method) == (dataset, method)]
    if not values:
        return None
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return Cell(statistics.fmean(values), std, len(values), paper)


def table1(accuracies: dict[RunSpec, float], datasets: Sequence[str], layers: int) -> dict[str, dict[str, Cell | None]]:
    """Rows per dataset: zeroshot, prompt (1+1 in every block), bias, optimal (10+10 in every block)."""
    rows = {}
    for d in datasets:
        paper = TABLE1.get(paper_dataset(d), {})
        rows[d] = {column: summary(accuracies, d, method, paper.get(column)) for column, method in table1_methods(layers).items()}
    return rows


def best_prompt_setting(accuracies: dict[RunSpec, float], dataset: str) -> tuple[PromptConfig | None, Cell | None]:
    """This book's own column: the IVLP setting (n+n prompts, depth d) with the best mean over seeds
    among the runs given, and its cell; (None, None) when there is none. Not the paper's OPTIMAL."""
    settings = {s.method for s in accuracies if s.dataset == dataset and _is_ivlp(s.method)}
    cells = {m: summary(accuracies, dataset, m, None) for m in settings}
    best = max(cells, key=lambda m: cells[m].mean, default=None)
    return best, cells.get(best)


def _is_ivlp(method: PromptConfig | None) -> bool:
    """Symmetric deep prompts without biases: the settings `best_prompt_setting` chooses among."""
    return method is not None and method.n_ctx_text > 0 and method == PromptConfig.prompts(method.n_ctx_text, method.depth_text)


def table2(accuracies: dict[RunSpec, float], datasets: Sequence[str], depths: Sequence[int],
           layers: int) -> dict[str, dict[int, Cell | None]]:
    """Rows per dataset, columns 0 (zero-shot) and each depth.

    A depth d of an L-block model is compared with the paper's column at the same fraction
    of ViT-B/16's 12 blocks, round(12 d / L) (the same column when L = 12)."""
    rows = {}
    for d in datasets:
        paper = TABLE2.get(paper_dataset(d), {})
        rows[d] = {depth: summary(accuracies, d, method, paper.get(round(PAPER_LAYERS * depth / layers)))
                   for depth, method in table2_methods(depths).items()}
    return rows


def table3(accuracies: dict[RunSpec, float], datasets: Sequence[str], layers: int,
           prompt_counts: Sequence[int]) -> dict[str, dict[int, Cell | None]]:
    """Rows per dataset, columns 0 (zero-shot) and each prompt count per branch."""
    rows = {}
    for d in datasets:
        paper = TABLE3.get(paper_dataset(d), {})
        rows[d] = {n: summary(accuracies, d, method, paper.get(n)) for n, method in table3_methods(layers, prompt_counts).items()}
    return rows


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def to_markdown(table: dict[str, dict], columns: dict, caption: str = "") -> str:
    """Markdown with, per column, this run (mean ± std, n runs), the paper's value and the delta."""
    header = ["dataset"] + [f"{label}" for label in columns.values()]
    lines = [f"**{caption}**\n" if caption else "", "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    for dataset, row in table.items():
        cells = [f"{dataset} ({paper_dataset(dataset)})" if dataset in MINI_TASKS else dataset]
        for key in columns:
            cell = row.get(key)
            if cell is None:
                cells.append("not run")
                continue
            spread = f" ± {cell.std:.2f}" if cell.runs > 1 else ""
            cells.append(f"{cell.mean:.2f}{spread} · paper {_fmt(cell.paper)} · Δ {_fmt(cell.delta, signed=True)}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines).strip() + "\n"


def to_csv(table: dict[str, dict], columns: dict) -> str:
    """One line per (dataset, column): mean, std, runs, paper, delta."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["dataset", "paper_dataset", "column", "mean", "std", "runs", "paper", "delta"])
    for dataset, row in table.items():
        for key, label in columns.items():
            cell = row.get(key)
            if cell is not None:
                writer.writerow([dataset, paper_dataset(dataset), label, f"{cell.mean:.4f}", f"{cell.std:.4f}", cell.runs,
                                 _fmt(cell.paper), _fmt(cell.delta)])
    return out.getvalue()


def zero_shot_table(accuracies: dict[RunSpec, float], datasets: Sequence[str]) -> dict[str, dict[str, Cell | None]]:
    """Rows per dataset with the single column "zeroshot" (the paper's CLIP column)."""
    return {d: {"zeroshot": summary(accuracies, d, None, TABLE1.get(paper_dataset(d), {}).get("zeroshot"))}
            for d in datasets}


def preset_tables(preset: str, accuracies: dict[RunSpec, float], datasets: Sequence[str], layers: int,
                  depths: Sequence[int], prompt_counts: Sequence[int]) -> list[tuple[str, dict, dict]]:
    """(caption, table, columns) for each table of a sweep preset ('all' gives the three)."""
    out = []
    if preset in ("table1", "all"):
        out.append(("Table 1: zero-shot vs 1+1 prompts vs bias vs 10+10 prompts", table1(accuracies, datasets, layers),
                    {"zeroshot": "CLIP", "prompt": "PROMPT", "bias": "BIAS", "optimal": "OPTIMAL"}))
    if preset in ("table2", "all"):
        out.append(("Table 2: 4+4 prompts in the first d blocks", table2(accuracies, datasets, depths, layers),
                    {0: "CLIP", **{d: f"d={d}" for d in depths}}))
    if preset in ("table3", "all"):
        out.append((f"Table 3: n+n prompts in all {layers} blocks", table3(accuracies, datasets, layers, prompt_counts),
                    {0: "CLIP", **{n: f"{n}+{n}" for n in prompt_counts}}))
    return out
