"""The paper's tables from finished runs: this run's mean ± std over seeds, the paper's value, the delta.

Mini-world tasks are compared with the paper's dataset of the same kind (their `analogue`),
and a prompt depth of an L-block model with the paper's column at the same fraction of
ViT-B/16's 12 blocks. Tables are plain dicts {dataset: {column: Cell | FailedCell | None}},
rendered as Markdown or CSV here, as figures by `figures.py`. A run that diverged (or whose run
file is unreadable) is a `FailedRun` in place of its accuracy; its cell is a `FailedCell` and shows
"diverged", as the paper's Table 3 shows a dash, never a mean of the runs that did finish.
"""
from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass
from typing import Sequence

from .data.miniworld import MINI_TASKS
from .experiments import FailedRun, RunSpec
from .paper import TABLE1, TABLE2, TABLE3

__all__ = ["Cell", "FailedCell", "paper_dataset", "summary", "table1", "table2", "table3", "preset_tables", "to_csv", "to_markdown", "zero_shot_table"]

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


@dataclass(frozen=True)
class FailedCell:
    """A cell with `failed` of its `runs` runs without an accuracy, for `reason` (the first failed run's)."""

    reason: str  # "diverged" or "unreadable"
    failed: int
    runs: int
    paper: float | None

    def __str__(self) -> str:
        return f"{self.reason} ({self.failed} of {self.runs} runs)"


def summary(accuracies: dict[RunSpec, float | FailedRun], dataset: str, method: str, n_ctx: int, depth: int,
            paper: float | None) -> Cell | FailedCell | None:
    values = [acc for spec, acc in accuracies.items()
              if (spec.dataset, spec.method, spec.n_ctx, spec.depth) == (dataset, method, n_ctx, depth)]
    if not values:
        return None
    failed = [v for v in values if isinstance(v, FailedRun)]
    if failed:
        return FailedCell(failed[0].reason, len(failed), len(values), paper)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return Cell(statistics.fmean(values), std, len(values), paper)


def table1(accuracies: dict[RunSpec, float | FailedRun], datasets: Sequence[str], layers: int) -> dict[str, dict[str, Cell | None]]:
    """Rows per dataset: zeroshot, prompt (1+1 in every block), bias, optimal (best prompt setting run)."""
    rows = {}
    for d in datasets:
        paper = TABLE1.get(paper_dataset(d), {})
        row = {
            "zeroshot": summary(accuracies, d, "zeroshot", 0, 0, paper.get("zeroshot")),
            "prompt": summary(accuracies, d, "prompts", 1, layers, paper.get("prompt")),
            "bias": summary(accuracies, d, "bias", 0, layers, paper.get("bias")),
        }
        prompt_settings = {(s.n_ctx, s.depth) for s in accuracies if s.dataset == d and s.method == "prompts"}
        cells = [summary(accuracies, d, "prompts", n, depth, paper.get("optimal")) for n, depth in sorted(prompt_settings)]
        # a setting that diverged is no candidate for the best one
        row["optimal"] = max((c for c in cells if isinstance(c, Cell)), key=lambda c: c.mean, default=None)
        rows[d] = row
    return rows


def table2(accuracies: dict[RunSpec, float | FailedRun], datasets: Sequence[str], depths: Sequence[int], layers: int,
           n_ctx: int = 4) -> dict[str, dict[int, Cell | None]]:
    """Rows per dataset, columns 0 (zero-shot) and each depth.

    A depth d of an L-block model is compared with the paper's column at the same fraction
    of ViT-B/16's 12 blocks, round(12 d / L) (the same column when L = 12)."""
    rows = {}
    for d in datasets:
        paper = TABLE2.get(paper_dataset(d), {})
        row = {0: summary(accuracies, d, "zeroshot", 0, 0, paper.get(0))}
        for depth in depths:
            column = round(PAPER_LAYERS * depth / layers)
            row[depth] = summary(accuracies, d, "prompts", n_ctx, depth, paper.get(column))
        rows[d] = row
    return rows


def table3(accuracies: dict[RunSpec, float | FailedRun], datasets: Sequence[str], layers: int,
           prompt_counts: Sequence[int]) -> dict[str, dict[int, Cell | None]]:
    """Rows per dataset, columns 0 (zero-shot) and each prompt count per branch."""
    rows = {}
    for d in datasets:
        paper = TABLE3.get(paper_dataset(d), {})
        row = {0: summary(accuracies, d, "zeroshot", 0, 0, paper.get(0))}
        for n in prompt_counts:
            row[n] = summary(accuracies, d, "prompts", n, layers, paper.get(n))
        rows[d] = row
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
            if isinstance(cell, FailedCell):
                cells.append(f"{cell} · paper {_fmt(cell.paper)}")
                continue
            spread = f" ± {cell.std:.2f}" if cell.runs > 1 else ""
            cells.append(f"{cell.mean:.2f}{spread} · paper {_fmt(cell.paper)} · Δ {_fmt(cell.delta, signed=True)}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines).strip() + "\n"


def to_csv(table: dict[str, dict], columns: dict) -> str:
    """One line per (dataset, column): mean, std, runs, paper, delta, status ("ok", or why the cell has no mean)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["dataset", "paper_dataset", "column", "mean", "std", "runs", "paper", "delta", "status"])
    for dataset, row in table.items():
        for key, label in columns.items():
            cell = row.get(key)
            if isinstance(cell, FailedCell):
                writer.writerow([dataset, paper_dataset(dataset), label, "", "", cell.runs, _fmt(cell.paper), "", str(cell)])
            elif cell is not None:
                writer.writerow([dataset, paper_dataset(dataset), label, f"{cell.mean:.4f}", f"{cell.std:.4f}", cell.runs,
                                 _fmt(cell.paper), _fmt(cell.delta), "ok"])
    return out.getvalue()


def zero_shot_table(accuracies: dict[RunSpec, float | FailedRun], datasets: Sequence[str]) -> dict[str, dict[str, Cell | None]]:
    """Rows per dataset with the single column "zeroshot" (the paper's CLIP column)."""
    return {d: {"zeroshot": summary(accuracies, d, "zeroshot", 0, 0, TABLE1.get(paper_dataset(d), {}).get("zeroshot"))}
            for d in datasets}


def preset_tables(preset: str, accuracies: dict[RunSpec, float | FailedRun], datasets: Sequence[str], layers: int,
                  depths: Sequence[int], prompt_counts: Sequence[int]) -> list[tuple[str, dict, dict]]:
    """(caption, table, columns) for each table of a sweep preset ('all' gives the three)."""
    out = []
    if preset in ("table1", "all"):
        out.append(("Table 1: zero-shot vs 1+1 prompts vs bias vs best prompts", table1(accuracies, datasets, layers),
                    {"zeroshot": "CLIP", "prompt": "PROMPT", "bias": "BIAS", "optimal": "OPTIMAL"}))
    if preset in ("table2", "all"):
        out.append(("Table 2: 4+4 prompts in the first d blocks", table2(accuracies, datasets, depths, layers),
                    {0: "CLIP", **{d: f"d={d}" for d in depths}}))
    if preset in ("table3", "all"):
        out.append((f"Table 3: n+n prompts in all {layers} blocks", table3(accuracies, datasets, layers, prompt_counts),
                    {0: "CLIP", **{n: f"{n}+{n}" for n in prompt_counts}}))
    return out
