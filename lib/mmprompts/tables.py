"""The paper's tables from finished runs: this run's mean ± std over seeds, the paper's value, the delta.

Mini-world tasks are compared with the paper's dataset of the same kind (their `analogue`),
and a prompt depth of an L-block model with the paper's column at the same fraction of
ViT-B/16's 12 blocks. Tables are plain dicts {dataset: {column: Cell | FailedCell | None}},
rendered here as Markdown, CSV or HTML (`to_html`, and `html_table` for any list of rows), as figures
by `figures.py`. A run that diverged (or whose run
file is unreadable) is a `FailedRun` in place of its accuracy; its cell is a `FailedCell` and shows
"diverged", never a mean of the runs that did finish. (The paper's Table 3 dashes are cells it gives no value
for; it does not say why, so they are not read as failed runs anywhere in this book.)
"""
from __future__ import annotations

import csv
import html
import io
import math
import re
import statistics
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .claims import TaskAccuracies, estimate
from .data.coop import DatasetSplits
from .data.miniworld import MINI_TASKS
from .experiments import FailedRun, RunSpec, seed_accuracies
from .paper import PAPER_LAYERS, TABLE1, TABLE2, TABLE3, dataset_name
from .presets import table1_methods, table2_methods, table3_methods
from .prompted import PromptConfig

__all__ = ["Cell", "FailedCell", "HTMLText", "TableView", "VERDICTS", "best_prompt_setting", "bias_wins", "html_table",
           "paper_dataset", "show", "summary", "table1", "task_accuracies", "table2", "table3", "preset_tables", "to_csv", "to_html",
           "to_markdown", "with_average", "zero_shot_table"]

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


def summary(accuracies: dict[RunSpec, float | FailedRun], dataset: str, method: PromptConfig | None,
            paper: float | None) -> Cell | FailedCell | None:
    """Mean ± std over the seeds of `method` (None: zero-shot) on `dataset`; a FailedCell when a seed
    has no accuracy; None when it has no runs."""
    values = [acc for spec, acc in accuracies.items() if (spec.dataset, spec.method) == (dataset, method)]
    if not values:
        return None
    failed = [v for v in values if isinstance(v, FailedRun)]
    if failed:
        return FailedCell(failed[0].reason, len(failed), len(values), paper)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return Cell(statistics.fmean(values), std, len(values), paper)


def table1(accuracies: dict[RunSpec, float | FailedRun], datasets: Sequence[str], layers: int) -> dict[str, dict[str, Cell | None]]:
    """Rows per dataset: zeroshot, prompt (1+1 in every block), bias, optimal (10+10 in every block)."""
    rows = {}
    for d in datasets:
        paper = TABLE1.get(paper_dataset(d), {})
        rows[d] = {column: summary(accuracies, d, method, paper.get(column)) for column, method in table1_methods(layers).items()}
    return rows


def bias_wins(rows: dict[str, dict[str, Cell | None]]) -> list[dict]:
    """Table 1's datasets where BIAS beats PROMPT on the mean, each with the gap, the larger seed std
    of the two and whether the gap is within that std (seed noise)."""
    out = []
    for dataset, row in rows.items():
        bias, prompt = row.get("bias"), row.get("prompt")
        if isinstance(bias, Cell) and isinstance(prompt, Cell) and bias.mean > prompt.mean:
            noise = max(bias.std, prompt.std)
            out.append({"dataset": dataset, "BIAS − PROMPT": bias.mean - prompt.mean, "larger seed std": noise,
                        "within one seed std": "yes" if bias.mean - prompt.mean <= noise else "no"})
    return out


def best_prompt_setting(accuracies: dict[RunSpec, float | FailedRun], dataset: str) -> tuple[PromptConfig | None, Cell | None]:
    """This book's own column: the IVLP setting (n+n prompts, depth d) with the best mean over seeds
    among the runs given, and its cell; (None, None) when there is none. Not the paper's OPTIMAL.

    Settings whose means tie (to 1e-9: accuracies are multiples of 1 / test images) go to the one
    with fewer learned prompts (n × d), then the shallower: the choice must not depend on the
    order of the runs, and a set of settings iterates in hash order, which PYTHONHASHSEED changes."""
    settings = {s.method for s in accuracies if s.dataset == dataset and _is_ivlp(s.method)}
    cells = {m: summary(accuracies, dataset, m, None) for m in settings}
    cells = {m: c for m, c in cells.items() if isinstance(c, Cell)}  # a setting that diverged is no candidate
    ranked = sorted(cells, key=lambda m: (-round(cells[m].mean, 9), m.n_ctx_text * m.depth_text, m.depth_text))
    best = ranked[0] if ranked else None
    return best, cells.get(best)


def _is_ivlp(method: PromptConfig | None) -> bool:
    """Symmetric deep prompts without biases: the settings `best_prompt_setting` chooses among."""
    return method is not None and method.n_ctx_text > 0 and method == PromptConfig.prompts(method.n_ctx_text, method.depth_text)


def task_accuracies(accuracies: dict[RunSpec, float | FailedRun], data: Mapping[str, DatasetSplits], layers: int,
                    depths: Sequence[int] = (), prompt_counts: Sequence[int] = ()) -> dict[str, TaskAccuracies]:
    """Per dataset of `data`, this build's accuracies that the claims of Tables 1–3 are decided on:
    Table 1's trained columns, Table 2's `depths` and Table 3's `prompt_counts`, each a mean over
    the seeds that did not fail (a setting whose every run failed is absent), and Table 3's runs
    per seed with None for a failed one. Needs the zero-shot run of every dataset."""
    def cells(methods: dict) -> dict:
        seeds = {key: seed_accuracies(accuracies, name, m) for key, m in methods.items() if m is not None}
        return {key: estimate(values) for key, values in seeds.items() if values}

    tasks = {}
    for name, splits in data.items():
        counts = table3_methods(layers, prompt_counts) if prompt_counts else {}
        tasks[name] = TaskAccuracies(
            zero_shot=accuracies[RunSpec(name)], test_items=len(splits.test), classes=len(splits.classnames),
            analogue=paper_dataset(name), table1=cells(table1_methods(layers)),
            depths=cells(table2_methods(depths)) if depths else {}, counts=cells(counts),
            count_runs={n: runs for n, m in counts.items() if m is not None
                        for runs in [seed_accuracies(accuracies, name, m, failed_as_none=True)] if runs})
    return tasks


def table2(accuracies: dict[RunSpec, float | FailedRun], datasets: Sequence[str], depths: Sequence[int],
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


def table3(accuracies: dict[RunSpec, float | FailedRun], datasets: Sequence[str], layers: int,
           prompt_counts: Sequence[int]) -> dict[str, dict[int, Cell | None]]:
    """Rows per dataset, columns 0 (zero-shot) and each prompt count per branch."""
    rows = {}
    for d in datasets:
        paper = TABLE3.get(paper_dataset(d), {})
        rows[d] = {n: summary(accuracies, d, method, paper.get(n)) for n, method in table3_methods(layers, prompt_counts).items()}
    return rows


def with_average(table: dict[str, dict]) -> dict[str, dict]:
    """The table with a last row "average over shown": per column the mean over the datasets shown,
    of this run and of the paper (its printed averages are over all 11 datasets, so they are
    recomputed over the same datasets as ours; None when a dataset has no paper value). The
    std is that of the average over seeds, sqrt(Σ std²) / D."""
    columns = list(dict.fromkeys(k for row in table.values() for k in row))
    average = {}
    for key in columns:
        cells = [row.get(key) for row in table.values()]
        if not cells or not all(isinstance(c, Cell) for c in cells):
            average[key] = None
            continue
        papers = [c.paper for c in cells]
        average[key] = Cell(statistics.fmean(c.mean for c in cells), math.sqrt(sum(c.std ** 2 for c in cells)) / len(cells),
                            min(c.runs for c in cells), None if None in papers else statistics.fmean(papers))
    return {**table, "average over shown": average}


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
        cells = [f"{dataset} ({dataset_name(paper_dataset(dataset))})" if dataset in MINI_TASKS else dataset_name(dataset)]
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
    return {d: {"zeroshot": summary(accuracies, d, None, TABLE1.get(paper_dataset(d), {}).get("zeroshot"))}
            for d in datasets}


def preset_tables(preset: str, accuracies: dict[RunSpec, float | FailedRun], datasets: Sequence[str], layers: int,
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


# HTML tables for the book. Class names refer to book/style/mmprompts.css; the text alone stays
# readable without it (signs on every delta, "not run" spelled out). Every table sits in a block: its
# caption, then a region that scrolls sideways (with a visible scroll bar) when the table is wider
# than the page, so a caption is never cut and a wide table never widens the page.
def _html(value: Any) -> str:
    """Escaped text, or the markup of an object that declares itself safe HTML (`__html__`, e.g. markupsafe)."""
    return value.__html__() if hasattr(value, "__html__") else html.escape(str(value))


def _block(caption: str, table: str, after: str = "") -> str:
    """A table with its caption above it, inside a sideways-scrolling region; `after`: notes below it."""
    label = f' aria-label="{html.escape(caption)}"' if caption else ""
    head = f'<figcaption class="mmp-caption">{html.escape(caption)}</figcaption>' if caption else ""
    # mathjax_process: MathJax typesets TeX between \( and \) in the cells (the book ignores other outputs)
    return (f'<figure class="mmp-table-block mathjax_process">{head}<div class="mmp-scroll" role="region" tabindex="0"{label}>'
            f"{table}</div>{after}</figure>")


def _minus(text: str) -> str:
    """A number's text with the minus sign U+2212 in place of the hyphen."""
    return text.replace("-", "\u2212")


def _delta_cell(cell: Cell) -> str:
    delta = cell.delta
    if delta is None:
        return '<td class="mmp-num mmp-delta">–</td>'
    # rounded as shown: a difference that shows as 0.00 has no sign and no colour
    shown = round(delta, 2)
    sign = "mmp-pos" if shown > 0 else "mmp-neg" if shown < 0 else "mmp-zero"
    text = _minus(f"{delta:+.2f}") if shown else "0.00"
    return f'<td class="mmp-num mmp-delta {sign}" title="paper {_fmt(cell.paper)}">{text}</td>'


def _row_name(dataset: str) -> str:
    """A row's dataset: a mini task names the paper's dataset it is compared with."""
    name = html.escape(dataset_name(dataset))
    if dataset in MINI_TASKS:
        ablation = "ablation, " if MINI_TASKS[dataset].ablation else ""
        name += f' <span class="mmp-analogue">{ablation}vs {html.escape(dataset_name(paper_dataset(dataset)))}</span>'
    return f'<th scope="row">{name}</th>'


def _runs_note(table: dict[str, dict]) -> str:
    """What a results table's numbers are: one run per cell, or mean ± std over how many seeds."""
    runs = {c.runs for row in table.values() for c in row.values() if isinstance(c, Cell)}
    seeds = sorted(r for r in runs if r > 1)
    if not seeds:
        return "Accuracy (%) of one run per cell (no spread over seeds)."
    single = " (a cell of one run, such as zero-shot CLIP, has no spread)" if 1 in runs else ""
    if len(seeds) == 1:
        return f"Accuracy (%): mean ± std over {seeds[0]} seeds{single}."
    return f"Accuracy (%): mean ± std over the seeds of each cell ({seeds[0]}–{seeds[-1]}; hover a value for its count){single}."


def to_html(table: dict[str, dict], columns: dict, caption: str = "") -> str:
    """The table as HTML: per column this run's mean, its ± std over seeds and the paper's value under it
    (small, grey), and Δ = this run − paper beside it.

    A cell that is None shows "not run"; a FailedCell (or a string such as "diverged") shows as a status.
    Mini tasks name the paper's dataset they are compared with. A spread of exactly 0 over several
    seeds is marked and explained in the note under the table."""
    head = "".join(f'<th colspan="2" scope="colgroup">{_html(label)}</th>' for label in columns.values())
    sub = '<th scope="col">this run<br/><span class="mmp-muted">(paper)</span></th><th scope="col">Δ</th>' * len(columns)
    body, zero_spread = [], False
    for dataset, row in table.items():
        cells = [_row_name(dataset)]
        for key in columns:
            cell = row.get(key)
            paper = getattr(cell, "paper", None)
            paper_value = f'<span class="mmp-paper-value">paper {_fmt(paper)}</span>' if paper is not None else ""
            if not isinstance(cell, Cell):
                status = html.escape("not run" if cell is None else str(cell))
                cells.append(f'<td colspan="2" class="mmp-status">{status}{paper_value}</td>')
                continue
            exact = cell.runs > 1 and cell.std == 0
            zero_spread |= exact
            spread = (f'<span class="mmp-std"> ± {cell.std:.2f}{"*" if exact else ""}</span>' if cell.runs > 1 else "")
            runs = f"{cell.runs} run" + ("s" if cell.runs > 1 else "")
            cells.append(f'<td class="mmp-num" title="{runs}">{cell.mean:.2f}{spread}{paper_value}</td>' + _delta_cell(cell))
        body.append("<tr>" + "".join(cells) + "</tr>")
    results = (f'<table class="mmp-table mmp-results"><thead><tr><th rowspan="2" scope="col">dataset</th>{head}</tr>'
               f"<tr>{sub}</tr></thead><tbody>{''.join(body)}</tbody></table>")
    exact = (" * ± 0.00: every seed's run got exactly the same test accuracy (the same number of test images "
             "right), not a rounding." if zero_spread else "")
    note = (f'<p class="mmp-table-note">{_runs_note(table)} Under it, in grey, the paper\'s value; Δ = this run − '
            'the paper: <span class="mmp-pos">blue</span> above it, <span class="mmp-neg">orange</span> below.'
            f"{exact}</p>")
    return _block(caption, results, note)


# The verdicts a claims table may give, and the style of each (blue / orange survive colour-blindness;
# "not testable" is left uncoloured: it is no finding either way).
VERDICTS = {"supports": "mmp-pos", "contradicts": "mmp-neg", "inconclusive": "mmp-mixed", "not testable": "mmp-untestable"}


_LONG_TEXT = 40  # characters: a cell longer than this is text to read, not a label
# Text that is numbers: a value, an estimate "+0.128 ± 0.026", a change "0.080 → 0.065", a percentage
_NUMERIC = re.compile(r"[+\-\u2212]?\d[\d.]*(e[+\-]?\d+)?%?( (±|→) [+\-\u2212]?\d[\d.]*(e[+\-]?\d+)?%?)*")


class HTMLText(str):
    """HTML that a notebook displays as HTML (and code can still use as a string)."""

    def _repr_html_(self) -> str:
        return str(self)


def html_table(rows: Sequence[dict], caption: str = "", note: str = "") -> HTMLText:
    """Any list of records as an HTML table (e.g. a page's claims: claim, where, numbers, verdict, page);
    columns in first-seen key order, numbers right-aligned. A cell's last line displays it. `caption`:
    what the table is, in a line or two; `note`: its definitions, in small type under it.

    A "verdict" column must hold one of VERDICTS, is coloured by it and comes first; on a phone such a
    table shows each row as a card, each cell under its column's name (`data-label`; book/style).
    Values are escaped unless they declare themselves HTML (`__html__`), e.g. a link to a page."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    if "verdict" in columns:
        columns.remove("verdict")
        columns.insert(0, "verdict")
    head = "".join(f'<th scope="col">{html.escape(str(c))}</th>' for c in columns)
    cards = "verdict" in columns
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
                cells.append(f'<td class="mmp-num">{_minus(f"{value:.2f}")}</td>' if isinstance(value, float)
                             else f'<td class="mmp-num">{_minus(str(value))}</td>')
            elif isinstance(value, str) and _NUMERIC.fullmatch(value):  # e.g. an estimate "-0.084 ± 0.028"
                cells.append(f'<td class="mmp-num">{html.escape(_minus(value))}</td>')
            else:
                # a sentence keeps a readable width on a narrow screen (the table scrolls instead)
                wide = ' class="mmp-text"' if len(str(value)) > _LONG_TEXT else ""
                cells.append(f"<td{wide}>{_html(value)}</td>")
        if cards:  # each cell names its column, for the phone's cards
            cells = [cell.replace("<td", f'<td data-label="{html.escape(str(column))}"', 1) for cell, column in zip(cells, columns)]
        body.append("<tr>" + "".join(cells) + "</tr>")
    after = f'<p class="mmp-table-note">{html.escape(note)}</p>' if note else ""
    kind = "mmp-table mmp-verdict-table" if cards else "mmp-table"
    return HTMLText(_block(caption, f'<table class="{kind}"><thead><tr>{head}</tr></thead>'
                                    f'<tbody>{"".join(body)}</tbody></table>', after))


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
