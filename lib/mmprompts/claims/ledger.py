"""Where pages record their verdicts during a book build, and the rows of the ledger page."""
from __future__ import annotations

import html
import json
import os
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from ..storage import atomic_write_text, project_root
from .core import CONTRADICTS, INCONCLUSIVE, NOT_TESTABLE, Z, Verdict, verdict_anchor


VERDICTS_ENV = "MMPROMPTS_VERDICTS"


def verdicts_folder() -> Path:
    """Where pages record their verdicts: $MMPROMPTS_VERDICTS (set by the book build), else the
    book's `book/executed/verdicts/` (what the ledger page of a built book reads)."""
    return Path(os.environ.get(VERDICTS_ENV) or project_root() / "book" / "executed" / "verdicts")


def record_verdicts(page: str, verdicts: Iterable[Verdict], folder: Path | None = None) -> Path:
    """Write a page's verdicts as JSON (the ledger page reads every page's file)."""
    path = (folder or verdicts_folder()) / f"{page}.json"
    atomic_write_text(path, json.dumps([v.to_json() for v in verdicts], indent=1, ensure_ascii=False))
    return path


def load_verdicts(folder: Path | None = None) -> list[Verdict]:
    """Every recorded verdict, in page order, each page's in the order it recorded them."""
    folder = folder or verdicts_folder()
    return [Verdict.from_json(item) for path in sorted(folder.glob("*.json"))
            for item in json.loads(path.read_text())]


@dataclass(frozen=True)
class PageVerdicts:
    """What a page concludes: its verdicts, one box each."""

    verdicts: tuple[Verdict, ...]

    def _repr_html_(self) -> str:
        return "".join(v._repr_html_() for v in self.verdicts)

    def _repr_markdown_(self) -> str:
        return "\n\n".join(v._repr_markdown_() for v in self.verdicts)


def rule_numbers(verdicts: Iterable[Verdict], depth: int = 2) -> list[dict]:
    """Table rows of the numbers each verdict's rule read (`Verdict.numbers`): one row per measured value
    (a number, or an estimate as mean ± 2 SE), named by its path (e.g. "slope_first", "gains / land"), with
    more digits than the sentence prints, so a reader finds every number a verdict quotes on its page."""
    rows = []
    for v in verdicts:
        def visit(value, path):
            if isinstance(value, Mapping) and {"mean", "se", "n"} <= set(value):
                mean, se = value["mean"], value["se"]
                shown = f"{mean:+.3f} ± {Z * se:.3f}" if se else f"{mean:+.3f}"
                rows.append({"claim": v.claim.label or v.claim.sentence or v.claim.id, "value": " / ".join(path),
                             "this build": shown.replace("-", "\u2212")})
            elif isinstance(value, Mapping) and len(path) < depth:
                for key, inner in value.items():
                    visit(inner, [*path, str(key)])
            elif isinstance(value, float) and not isinstance(value, bool):
                rows.append({"claim": v.claim.label or v.claim.sentence or v.claim.id, "value": " / ".join(path),
                             "this build": f"{value:.4g}".replace("-", "\u2212")})
        for key, value in v.numbers.items():
            visit(value, [key])
    return rows


def report(page: str, verdicts: Sequence[Verdict], scope: str = "") -> PageVerdicts:
    """A page's conclusion: shown under the cell, and recorded for the ledger when the book is
    being built ($MMPROMPTS_VERDICTS set), so a page run on its own writes nothing. `scope` (the
    page's `Settings.scope`) says where the verdicts hold; it is stamped on each."""
    verdicts = [replace(v, scope=scope) if scope else v for v in verdicts]
    if os.environ.get(VERDICTS_ENV):
        record_verdicts(page, verdicts)
    return PageVerdicts(tuple(verdicts))


# The book's pages follow the paper's sections: the ledger groups its rows by them.
PAGE_SECTIONS = {
    "01_zero_shot": "Sec. 1–2 · Zero-shot CLIP",
    "02_prompts_in_attention": "Sec. 3.2.1, App. B · How prompts enter attention, and the paper's conclusion",
    "03_alignment_contribution": "Sec. 3.2.2, App. E · Alignment contribution",
    "04_text_prompts": "Sec. 3.3.1 · Text prompts",
    "05_vision_prompts": "Sec. 3.3.2, App. D · Vision prompts",
    "06_bias_vs_prompts": "Sec. 3.4 · Bias tuning against prompts",
    "07_sensitivity": "Sec. 3.5, App. C · Sensitivity",
}


@dataclass(frozen=True)
class SentenceRow:
    """One sentence of the paper (or one check) in the ledger, decided from its operationalisations."""

    name: str
    kind: str  # "claim" or "check"
    position: str  # the paper's position: "asserts", or "rejects" (a hypothesis it proposes and rejects)
    page: str
    outcome: str
    parts: tuple[Verdict, ...]
    why: str  # why the outcome is not simply the parts' common one ("" when they agree)

    @property
    def scope(self) -> str:
        return "; ".join(dict.fromkeys(v.scope for v in self.parts if v.scope))

    @property
    def anchor(self) -> str:
        """Where the ledger links: the sentence's combined box when it has several operationalisations, else
        its one verdict box."""
        target = sentence_anchor(self.name) if len(self.parts) > 1 else verdict_anchor(self.parts[0].claim.id)
        return f"{self.page}.html#{target}"

    def _repr_html_(self) -> str:
        """The sentence's combined verdict box: its outcome, why, and each operationalisation's badge linking
        to its own box."""
        first = self.parts[0].claim
        items = "".join(f'<li>{_badge(v.outcome)} <a href="#{verdict_anchor(v.claim.id)}">{html.escape(_label(v))}</a></li>'
                        for v in self.parts)
        why = f"<br>{html.escape(self.why)}" if self.why else ""
        return (f'<div class="mmp-verdict mmp-{self.outcome.replace(" ", "-")} mathjax_process" '
                f'id="{sentence_anchor(self.name)}"><span class="mmp-outcome">{self.outcome}</span> '
                f'<span class="mmp-where">{html.escape(first.where)}</span> <q>{html.escape(first.quote)}</q>'
                f'<br><span class="mmp-label">One verdict for the sentence, from its {len(self.parts)} readings or '
                f'parts:</span>{why}<ul class="mmp-ledger-parts">{items}</ul></div>')


def sentence_anchor(name: str) -> str:
    """The HTML id of a sentence's combined verdict box on its page."""
    return "sentence-" + "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


def sentence_outcome(parts: Sequence[Verdict]) -> tuple[str, str]:
    """A sentence's verdict from its operationalisations (`Claim.combine` says how they relate).

    Those whose precondition fails are set aside (none left: not testable); when the rest agree, their
    outcome is the sentence's. When they disagree: if they are parts of the sentence, a contradicted
    part contradicts it (a sentence that says "X and Y" is not borne out when Y fails), else it stays
    inconclusive; if they are readings of the whole sentence, the verdict depends on the reading —
    inconclusive, each reading and its verdict listed — never a veto by the strictest reading."""
    testable = [v for v in parts if v.outcome != NOT_TESTABLE]
    if not testable:
        return NOT_TESTABLE, ""
    outcomes = [v.outcome for v in testable]
    set_aside = [v for v in parts if v.outcome == NOT_TESTABLE]
    aside = (f" Set aside (not testable here): {', '.join(_label(v) for v in set_aside)}." if set_aside else "")
    if len(set(outcomes)) == 1:
        return outcomes[0], aside.strip()
    listed = "; ".join(f"{_label(v)}: {v.outcome}" for v in testable)
    if any(v.claim.combine == "readings" for v in parts):
        return INCONCLUSIVE, f"Depends on the reading: {listed}.{aside}"
    outcome = CONTRADICTS if CONTRADICTS in outcomes else INCONCLUSIVE
    return outcome, (f"Its parts disagree ({listed}); each tests a part of the sentence, "
                     f"so {'a contradicted part decides it' if outcome == CONTRADICTS else 'it stays open'}.{aside}")


def _label(verdict: Verdict) -> str:
    return verdict.claim.label or verdict.claim.id


def sentence_rows(verdicts: Iterable[Verdict]) -> list[SentenceRow]:
    """The ledger's rows: the recorded verdicts grouped by the paper sentence they operationalise
    (`Claim.sentence`), in the order the pages recorded them."""
    groups: dict[tuple[str, str], list[Verdict]] = {}
    for v in verdicts:
        groups.setdefault((v.claim.kind, v.claim.sentence or v.claim.id), []).append(v)
    rows = []
    for (kind, name), parts in groups.items():
        outcome, why = sentence_outcome(parts)
        rows.append(SentenceRow(name, kind, parts[0].claim.position, parts[0].claim.page, outcome, tuple(parts), why))
    return rows


def ledger_counts(rows: Sequence[SentenceRow]) -> dict[str, Counter]:
    """Per scope, how many sentences the paper asserts (checks and the hypotheses it rejects left out) ended in
    each outcome."""
    counts: dict[str, Counter] = {}
    for row in rows:
        if row.kind == "claim" and row.position == "asserts":
            counts.setdefault(row.scope or "unstated scope", Counter())[row.outcome] += 1
    return counts


def ledger_html(rows: Sequence[SentenceRow], paper: Mapping[str, Verdict] | None = None) -> str:
    """The ledger: per paper section, one compact line per sentence (its verdict, a short name, where
    the paper says it, the scope, a link to the verdict on its page) that opens onto its parts: the
    paper's words, each operationalisation's verdict and this build's numbers, and the same rule run
    on the paper's own numbers (`paper`, by claim id) where the paper published them."""
    paper = paper or {}
    out = ['<div class="mmp-ledger">']
    for page, section in PAGE_SECTIONS.items():
        in_section = [r for r in rows if r.page == page]
        if not in_section:
            continue
        out.append(f'<p class="mmp-ledger-section">{html.escape(section)}</p>')
        for row in in_section:
            out.append(_ledger_row(row, paper))
    out.append("</div>")
    return "".join(out)


def _badge(outcome: str) -> str:
    return f'<span class="mmp-badge mmp-{outcome.replace(" ", "-")}">{html.escape(outcome)}</span>'


def _ledger_row(row: SentenceRow, paper: Mapping[str, Verdict]) -> str:
    first = row.parts[0].claim
    number = int(row.page[:2])
    words = (f"<q>{html.escape(first.quote)}</q>" if row.kind == "claim"
             else f"check of this implementation: {html.escape(first.quote)}")
    summary = (f'<summary>{_badge(row.outcome)} <span class="mmp-ledger-name">{html.escape(row.name)}</span> '
               f'<span class="mmp-ledger-where">{html.escape(first.where)}</span> '
               f'<a class="mmp-ledger-link" href="{html.escape(row.anchor)}">page {number}</a></summary>')
    parts = []
    for v in row.parts:
        on_paper = paper.get(v.claim.id)
        parts.append(f'<li>{_badge(v.outcome)} <b>{html.escape(_label(v))}</b>'
                     + (f" — <q>{html.escape(v.claim.quote)}</q>" if v.claim.quote != first.quote else "")
                     + f'<br>{html.escape(v.sentence)}'
                     + (f'<br><span class="mmp-ledger-paper">On the paper\'s own numbers: {_badge(on_paper.outcome)} '
                        f'{html.escape(on_paper.sentence)}</span>' if on_paper is not None else "")
                     + (f'<br><span class="mmp-ledger-pre">Precondition: {html.escape(v.claim.precondition)}.</span>'
                        if v.claim.precondition else "")
                     + "</li>")
    body = (f'<div class="mmp-ledger-body"><p>{words}</p>'
            + (f'<p class="mmp-ledger-why">{html.escape(row.why)}</p>' if row.why else "")
            + f'<ul class="mmp-ledger-parts">{"".join(parts)}</ul>'
            + f'<p class="mmp-ledger-scope">Where this holds: {html.escape(row.scope or "unstated")}.</p></div>')
    return f'<details class="mmp-ledger-row">{summary}{body}</details>'
