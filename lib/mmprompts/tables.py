"""The paper's tables from finished runs: this run's mean ± std over seeds, the paper's value, the delta.

Mini-world tasks are compared with the paper's dataset of the same kind (their `analogue`),
and a prompt depth of an L-block model with the paper's column at the same fraction of
ViT-B/16's 12 blocks. Tables are plain dicts {dataset: {column: Cell | None}}, rendered as
Markdown or CSV here, as figures by `figures.py`.
"""
from __future__ import annotations

import csv
import html
import io
import statistics
from dataclasses import dataclass
from typing import Any, Sequence

from .data.miniworld import MINI_TASKS
from .experiments import RunSpec
from .paper import TABLE1, TABLE2, TABLE3

__all__ = ["Cell", "HTMLText", "TableView", "VERDICTS", "html_table", "paper_dataset", "show", "summary", "table1", "table2", "table3",
           "preset_tables", "to_csv", "to_html", "to_markdown", "zero_shot_table"]

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


def summary(accuracies: dict[RunSpec, float], dataset: str, method: str, n_ctx: int, depth: int,
            paper: float | None) -> Cell | None:
    values = [acc for spec, acc in accuracies.items()
              if (spec.dataset, spec.method, spec.n_ctx, spec.depth) == (dataset, method, n_ctx, depth)]
    if not values:
        return None
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return Cell(statistics.fmean(values), std, len(values), paper)


def table1(accuracies: dict[RunSpec, float], datasets: Sequence[str], layers: int) -> dict[str, dict[str, Cell | None]]:
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
        row["optimal"] = max(cells, key=lambda c: c.mean, default=None)
        rows[d] = row
    return rows


def table2(accuracies: dict[RunSpec, float], datasets: Sequence[str], depths: Sequence[int], layers: int,
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


def table3(accuracies: dict[RunSpec, float], datasets: Sequence[str], layers: int,
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
            if not isinstance(cell, Cell):
                cells.append(cell or "not run")
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
    return {d: {"zeroshot": summary(accuracies, d, "zeroshot", 0, 0, TABLE1.get(paper_dataset(d), {}).get("zeroshot"))}
            for d in datasets}


def preset_tables(preset: str, accuracies: dict[RunSpec, float], datasets: Sequence[str], layers: int,
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


# HTML tables for the book. Class names refer to book/style/mmprompts.css; the text alone stays
# readable without it (signs on every delta, "not run" spelled out).
def _html(value: Any) -> str:
    """Escaped text, or the markup of an object that declares itself safe HTML (`__html__`, e.g. markupsafe)."""
    return value.__html__() if hasattr(value, "__html__") else html.escape(str(value))


def _caption(caption: str) -> str:
    return f"<caption>{html.escape(caption)}</caption>" if caption else ""


def _delta_cell(delta: float | None) -> str:
    if delta is None:
        return '<td class="mmp-num mmp-delta">–</td>'
    # rounded as shown, so a "+0.00" is never coloured as a gain or a loss
    sign = "mmp-pos" if round(delta, 2) > 0 else "mmp-neg" if round(delta, 2) < 0 else "mmp-zero"
    text = f"{delta:+.2f}".replace("-", "\u2212")
    return f'<td class="mmp-num mmp-delta {sign}">{text}</td>'


def to_html(table: dict[str, dict], columns: dict, caption: str = "") -> str:
    """The table as HTML: per column this run's mean ± std, the paper's value and Δ = this run − paper.

    A cell that is None shows "not run"; a string (e.g. "diverged") shows as a status.
    Mini tasks name the paper's dataset they are compared with."""
    head = "".join(f'<th colspan="3" scope="colgroup">{_html(label)}</th>' for label in columns.values())
    sub = '<th scope="col">this run</th><th scope="col">paper</th><th scope="col">Δ</th>' * len(columns)
    body = []
    for dataset, row in table.items():
        name = html.escape(dataset)
        if dataset in MINI_TASKS:
            name += f' <span class="mmp-analogue">vs {html.escape(paper_dataset(dataset))}</span>'
        cells = [f'<th scope="row">{name}</th>']
        for key in columns:
            cell = row.get(key)
            if not isinstance(cell, Cell):
                cells.append(f'<td colspan="3" class="mmp-status">{html.escape(cell or "not run")}</td>')
                continue
            spread = f'<span class="mmp-std"> ± {cell.std:.2f}</span>' if cell.runs > 1 else ""
            runs = f"{cell.runs} run" + ("s" if cell.runs > 1 else "")
            cells.append(f'<td class="mmp-num" title="{runs}">{cell.mean:.2f}{spread}</td>'
                         f'<td class="mmp-num mmp-paper">{_fmt(cell.paper)}</td>' + _delta_cell(cell.delta))
        body.append("<tr>" + "".join(cells) + "</tr>")
    note = (f'<tfoot><tr><td colspan="{1 + 3 * len(columns)}">Accuracy (%), mean ± std over seeds. '
            '<span class="mmp-pos">Δ &gt; 0</span>: this run above the paper; '
            '<span class="mmp-neg">Δ &lt; 0</span>: below.</td></tr></tfoot>')
    return (f'<table class="mmp-table">{_caption(caption)}<thead><tr><th rowspan="2" scope="col">dataset</th>{head}</tr>'
            f"<tr>{sub}</tr></thead><tbody>{''.join(body)}</tbody>{note}</table>")


# The verdicts a claims table may give, and the style of each (blue / orange survive colour-blindness).
VERDICTS = {"supported": "mmp-pos", "partly supported": "mmp-mixed", "contradicted": "mmp-neg",
            "inconclusive": "mmp-mixed", "not tested": "mmp-muted"}


class HTMLText(str):
    """HTML that a notebook displays as HTML (and code can still use as a string)."""

    def _repr_html_(self) -> str:
        return str(self)


def html_table(rows: Sequence[dict], caption: str = "") -> HTMLText:
    """Any list of records as an HTML table (e.g. a page's claims: claim, where, numbers, verdict, page);
    columns in first-seen key order, numbers right-aligned. A cell's last line displays it.

    A "verdict" column must hold one of VERDICTS and is coloured by it. Values are escaped
    unless they declare themselves HTML (`__html__`), e.g. a link to a page."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    head = "".join(f'<th scope="col">{html.escape(str(c))}</th>' for c in columns)
    body = []
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column, "")
            if column == "verdict":
                if value not in VERDICTS:
                    raise ValueError(f"verdict {value!r}: use one of {list(VERDICTS)}")
                cells.append(f'<td class="mmp-verdict {VERDICTS[value]}">{html.escape(value)}</td>')
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                cells.append(f'<td class="mmp-num">{value:.2f}</td>' if isinstance(value, float)
                             else f'<td class="mmp-num">{value}</td>')
            else:
                cells.append(f"<td>{_html(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return HTMLText(f'<table class="mmp-table">{_caption(caption)}<thead><tr>{head}</tr></thead>'
                    f'<tbody>{"".join(body)}</tbody></table>')


@dataclass(frozen=True)
class TableView:
    """A results table for a notebook: HTML in the book and Jupyter, Markdown in text-only front ends."""

    table: dict
    columns: dict
    caption: str = ""

    def _repr_html_(self) -> str:
        return to_html(self.table, self.columns, self.caption)

    def _repr_markdown_(self) -> str:
        return to_markdown(self.table, self.columns, self.caption)


def show(table: dict[str, dict], columns: dict, caption: str = "") -> TableView:
    """What a page displays for a results table: `show(rows, columns, "Table 1 — ...")` as a cell's last line."""
    return TableView(table, columns, caption)
