"""Where pages record their verdicts during a book build, and the rows of the ledger page."""
from __future__ import annotations

import html
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from ..storage import atomic_write_text, project_root
from .core import CONTRADICTS, INCONCLUSIVE, NOT_TESTABLE, SUPPORTS, Z, Verdict, page_notes, verdict_anchor, without_notes


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
    """What a page concludes: per paper sentence with several operationalisations a combined box
    (`sentence_outcome`), then one box per verdict; and the page's verdict strip (`strip_html`),
    which the page header shows at the top and `report` fills in."""

    verdicts: tuple[Verdict, ...]
    page: str = ""

    def _repr_html_(self) -> str:
        notes = shared_notes(self.verdicts)
        # a sentence that several boxes would say word for word (a reading's verdict gated by a check that
        # failed, a stand-in model's limit) is said once, as a lettered note above the boxes that point to it
        lettered = {sentence: f"{chr(ord('A') + i)}" for i, sentence in enumerate(repeated_sentences(self.verdicts, notes))}
        out = []
        if lettered:
            said = "".join(f'<li><span class="mmp-label">Note {letter}.</span> {html.escape(sentence)}</li>'
                           for sentence, letter in lettered.items())
            out.append(f'<div class="mmp-verdict-notes mathjax_process"><p>Said once for several boxes below, '
                       f"which point to it:</p><ul>{said}</ul></div>")
        for row in sentence_rows(self.verdicts):
            # under a combined box, which quotes the sentence, a reading quotes only words of its own
            quoted = row.parts[0].claim.quote if len(row.parts) > 1 else None
            boxes = "".join(_pointing(v, notes, lettered).box_html(omit=notes, scope=False, words=v.claim.quote != quoted)
                            for v in row.parts)
            if len(row.parts) > 1:
                out.append(_combined_box(row) + f'<div class="mmp-verdict-parts">{boxes}</div>')
            else:
                out.append(boxes)
        return "".join(out)

    def _repr_markdown_(self) -> str:
        return "\n\n".join(v._repr_markdown_() for v in self.verdicts)

    def strip_html(self) -> str:
        """One line per paper sentence (and check): its verdict, its short name linking to its box below,
        and the key result; a key result that two or more lines share (a choice of this book that decides
        several sentences) is said once under the lines, as a lettered note they point to; then, once for the
        page, where the verdicts hold and the tasks left out."""
        rows = sentence_rows(self.verdicts)
        keys = [_key_result(row) for row in rows]
        shared = Counter(key for row, key in zip(rows, keys) if len(row.parts) == 1)
        lettered = {key: chr(ord("A") + i) for i, key in enumerate(key for key, n in shared.items() if n > 1)}
        lines = []
        for row, key in zip(rows, keys):
            shown = f"See note {lettered[key]} below." if key in lettered else key
            lines.append(f'<li>{_badge(row.outcome)} <a class="mmp-strip-name" href="#{row.box_id}">'
                         f'{html.escape(row.name)}</a> <span class="mmp-strip-key">{html.escape(shown)}'
                         f"</span></li>")
        said = "".join(f'<div class="mmp-strip-note"><span class="mmp-label">Note {letter}.</span> {html.escape(key)}</div>'
                       for key, letter in lettered.items())
        scope = "; ".join(dict.fromkeys(v.scope for v in self.verdicts if v.scope))
        held = f"Where these verdicts hold: {html.escape(scope)}." if scope else ""
        notes = " ".join(html.escape(n) for n in said_once(shared_notes(self.verdicts)))
        return (f'<div class="mmp-strip" role="region" aria-label="The verdicts of this page">'
                f'<div class="mmp-strip-title">What this page finds</div><ul>{"".join(lines)}</ul>{said}'
                + (f'<div class="mmp-strip-scope">{held} {notes}</div>' if held or notes else "") + "</div>")


STRIP_PENDING = ('<div class="mmp-strip mmp-strip-pending" role="region" aria-label="The verdicts of this page">'
                 '<div class="mmp-strip-title">What this page finds</div><p>The verdicts appear here when the page '
                 "has run to its end (they are computed in its last section).</p></div>")


def strip_display_id(page: str) -> str:
    """The display id of a page's verdict strip: shown pending by the page header, filled in by `report`."""
    return f"mmp-verdict-strip-{page}"


def said_once(notes: Sequence[str]) -> list[str]:
    """`notes` as a reader reads them: notes that open alike ("Left out, as they did not learn (…): ", from two
    experiments of one page) merged into one, each task named once (its first note's numbers)."""
    merged: dict[str, dict[str, str]] = {}
    for note in notes:
        lead, colon, tail = note.strip().partition(": ")
        if not colon:
            lead, tail = note.strip(), ""
        items = merged.setdefault(lead + colon, {})
        for item in filter(None, tail.rstrip(".").split(", ")):
            items.setdefault(item.split(" ", 1)[0], item)
    return [lead + ", ".join(items.values()) + ("." if items else "") for lead, items in merged.items()]


REPEATED = 3  # a sentence said by this many boxes of a page or more is said once, above them


def decision_sentences(text: str) -> list[str]:
    """A verdict's decision split into its sentences (the paper's abbreviations kept whole)."""
    return [part.strip() for part in re.split(_SENTENCE_END, text.strip()) if part.strip()]


def repeated_sentences(verdicts: Sequence[Verdict], notes: Sequence[str] = (), least: int = REPEATED) -> list[str]:
    """The sentences that `least` or more of these verdicts' decisions say word for word (the page's notes on
    left-out tasks, said in the strip, taken out first), in the order they first appear."""
    counts = Counter(part for v in verdicts for part in dict.fromkeys(decision_sentences(without_notes(v.sentence, notes))))
    return [part for part, n in counts.items() if n >= least]


def _pointing(verdict: Verdict, notes: Sequence[str], lettered: Mapping[str, str]) -> Verdict:
    """The verdict with each sentence said once above the boxes (`lettered`: sentence → its note's letter)
    replaced, where it stood, by a pointer to its note; its own sentences stay."""
    parts = decision_sentences(without_notes(verdict.sentence, notes))
    if not any(part in lettered for part in parts):
        return verdict
    return replace(verdict, sentence=" ".join(f"See note {lettered[part]} above the boxes." if part in lettered else part
                                              for part in parts))


def shared_notes(verdicts: Sequence[Verdict]) -> list[str]:
    """The notes on left-out tasks (`core.page_notes`) that recur in several of these verdicts: said once."""
    counts = Counter(note for v in verdicts for note in dict.fromkeys(page_notes(v.sentence)))
    return [note for note, n in counts.items() if n > 1]


# The end of a sentence: "." or ";" before a capital or "(", but not the paper's abbreviations ("App. E", "Sec. 3").
_SENTENCE_END = re.compile(r"(?<=[.;])(?<!App\.)(?<!Sec\.)(?<!Fig\.)(?<!Figs\.)(?<!Tab\.)(?<!eq\.)(?<!cf\.)(?<!e\.g\.)"
                           r"(?<!i\.e\.)(?<!vs\.)\s+(?=[A-Z(])")


def key_sentence(text: str, limit: int = 160) -> str:
    """The sentence's first sentence; one longer than `limit` loses whole clauses (after "; ") from its end,
    never part of one, so that every number the strip shows is shown whole."""
    first = re.split(_SENTENCE_END, text.strip(), maxsplit=1)[0]
    clauses = first.split("; ")
    kept = clauses[0]
    for clause in clauses[1:]:
        if len(kept) + 2 + len(clause) > limit:
            return kept + "; …"
        kept += "; " + clause
    return kept


def _key_result(row: "SentenceRow") -> str:
    if len(row.parts) == 1:
        return key_sentence(row.parts[0].sentence)
    counts = Counter(v.outcome for v in row.parts)
    return (f"{len(row.parts)} operationalisations: "
            + ", ".join(f"{n} {outcome}" for outcome, n in counts.most_common()))


def _combined_box(row: "SentenceRow") -> str:
    first = row.parts[0].claim
    what = (f"<q>{html.escape(first.quote)}</q>" if row.kind == "claim"
            else f"check of this implementation: {html.escape(first.quote)}")
    listed = "; ".join(f"{_label(v)}: {v.outcome}" for v in row.parts)
    decision = row.why or f"Its operationalisations agree ({listed})."
    # mathjax_process: the page typesets the TeX of the paper's words (x_i, …)
    return (f'<div class="mmp-verdict mmp-combined mmp-{row.outcome.replace(" ", "-")} mathjax_process" id="{row.box_id}">'
            f'<div class="mmp-verdict-head"><span class="mmp-outcome">{row.outcome}</span> '
            f'<span class="mmp-label">{html.escape(row.name)}</span> <span class="mmp-where">{html.escape(first.where)}'
            f'</span></div><div class="mmp-claim">{what}</div><div class="mmp-decision">The sentence\'s verdict, '
            f"combined from its {len(row.parts)} operationalisations below: {html.escape(decision)}</div></div>")


# What a rule's recorded numbers (`Verdict.numbers`, named by the rules) are, in a reader's words;
# a name not listed reads with its underscores as spaces.
NUMBER_LABELS = {
    "gap": "gap", "gain": "gain", "margin": "margin", "total": "total rise", "target": "target",
    "shifted_mean": "mean, datasets far from web photos", "others_mean": "mean, the other datasets",
    "slope_first": "rise per block, first half of the depths", "slope_second": "rise per block, second half",
    "spread_ratio": "seed spread above / below the threshold", "saturation_many": "saturation, many classes",
    "saturation_few": "saturation, few classes", "near_best": "near the best", "beaten_by": "beaten by",
    "left_out": "left out (did not learn)", "max_error": "largest error", "per_block": "per block",
    "controls_moved": "moved by the controls", "bonferroni_half_width": "half-width, z × SE (best of several)", "failed_above": "failed runs above", "failed_below": "failed runs at or below",
}


def _reader_label(path: Sequence[str]) -> str:
    words = [NUMBER_LABELS.get(part, part.replace("_", " ")) for part in path]
    return words[0] + (": " + " / ".join(words[1:]) if len(words) > 1 else "")


def _shown(value: float, like: float | None = None) -> str:
    """A value as the table shows it: 3 decimals when `like` (default: the value) is under 1 in size, else 2
    (at least the verdict sentence's); a mean's ± takes the mean's decimals."""
    return f"{value:.3f}" if abs(value if like is None else like) < 1 else f"{value:.2f}"


def rule_numbers(verdicts: Iterable[Verdict], depth: int = 2) -> list[dict]:
    """Table rows of the numbers each verdict's rule read (`Verdict.numbers`): one row per measured value
    (a number, or an estimate as mean ± 2 SE), named in a reader's words by its path (`NUMBER_LABELS`, e.g.
    "left out (did not learn): land"), with at least as many digits as the sentence prints, so a reader
    finds every number a verdict quotes on its page."""
    rows = []
    for v in verdicts:
        name = v.claim.label or v.claim.sentence or v.claim.id

        def visit(value, path):
            if isinstance(value, Mapping) and {"mean", "se", "n"} <= set(value):
                mean, se = value["mean"], value["se"]
                shown = f"{_shown(mean)} ± {_shown(Z * se, like=mean)}" if se else _shown(mean)
                rows.append({"claim": name, "value": _reader_label(path), "this build": shown.replace("-", "\u2212")})
            elif isinstance(value, Mapping) and len(path) < depth:
                for key, inner in value.items():
                    visit(inner, [*path, str(key)])
            elif isinstance(value, float) and not isinstance(value, bool):
                rows.append({"claim": name, "value": _reader_label(path), "this build": f"{value:.4g}".replace("-", "\u2212")})
        for key, value in v.numbers.items():
            visit(value, [key])
    return rows


def report(page: str, verdicts: Sequence[Verdict], scope: str = "") -> PageVerdicts:
    """A page's conclusion: shown under the cell, summed up in the verdict strip at the top of the page
    (the page header's pending strip, updated by its display id), and recorded for the ledger when the
    book is being built ($MMPROMPTS_VERDICTS set), so a page run on its own writes nothing. `scope` (the
    page's `Settings.scope`) says where the verdicts hold; it is stamped on each."""
    verdicts = [replace(v, scope=scope) if scope else v for v in verdicts]
    if os.environ.get(VERDICTS_ENV):
        record_verdicts(page, verdicts)
    shown = PageVerdicts(tuple(verdicts), page)
    from IPython import get_ipython

    if get_ipython() is not None:  # in a kernel: nbclient writes the update into the header's output
        from IPython.display import HTML, update_display

        update_display(HTML(shown.strip_html()), display_id=strip_display_id(page))
    return shown


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
    def box_id(self) -> str:
        """The id of the box that shows this sentence's verdict on its page: the combined box when it has
        several operationalisations, else its one verdict's box."""
        anchor = verdict_anchor(self.parts[0].claim.id)
        return anchor + "-combined" if len(self.parts) > 1 else anchor

    @property
    def anchor(self) -> str:
        return f"{self.page}.html#{self.box_id}"


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


def counts_sentence(counts: Mapping[str, int]) -> str:
    """The ledger's and the landing page's headline for the sentences the paper asserts, by outcome, saying
    how many were decided here and how many were only put to a test (inconclusive) or could not be
    (not testable): a count of sentences is not a count of findings."""
    total = sum(counts.values())
    decided = counts.get(SUPPORTS, 0) + counts.get(CONTRADICTS, 0)
    return (f"{total} sentence{'s' if total != 1 else ''} the paper asserts: {decided} decided here "
            f"({counts.get(SUPPORTS, 0)} supported, {counts.get(CONTRADICTS, 0)} contradicted), "
            f"{counts.get(INCONCLUSIVE, 0)} tested without a decision (inconclusive), "
            f"{counts.get(NOT_TESTABLE, 0)} not testable here")


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
    # one scope for every row: not repeated on each (the ledger page says it with its counts, per scope)
    scopes = list(dict.fromkeys(r.scope for r in rows))
    out = ['<div class="mmp-ledger mathjax_process">']
    for page, section in PAGE_SECTIONS.items():
        in_section = [r for r in rows if r.page == page]
        if not in_section:
            continue
        out.append(f'<p class="mmp-ledger-section">{html.escape(section)}</p>')
        notes = shared_notes([v for r in in_section for v in r.parts])
        if notes:
            out.append(f'<p class="mmp-ledger-notes">On this page: {" ".join(html.escape(n) for n in said_once(notes))}</p>')
        for row in in_section:
            out.append(_ledger_row(row, paper, notes, each_scope=len(scopes) > 1))
    out.append("</div>")
    return "".join(out)


def _badge(outcome: str) -> str:
    return f'<span class="mmp-badge mmp-{outcome.replace(" ", "-")}">{html.escape(outcome)}</span>'


def _ledger_row(row: SentenceRow, paper: Mapping[str, Verdict], notes: Sequence[str] = (), each_scope: bool = True) -> str:
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
                     + f'<br>{html.escape(without_notes(v.sentence, notes))}'
                     + (f'<br><span class="mmp-ledger-paper">On the paper\'s own numbers: {_badge(on_paper.outcome)} '
                        f'{html.escape(on_paper.sentence)}</span>' if on_paper is not None else "")
                     + (f'<br><span class="mmp-ledger-pre">Precondition: {html.escape(v.claim.precondition)}.</span>'
                        if v.claim.precondition else "")
                     + "</li>")
    body = (f'<div class="mmp-ledger-body"><p>{words}</p>'
            + (f'<p class="mmp-ledger-why">{html.escape(row.why)}</p>' if row.why else "")
            + f'<ul class="mmp-ledger-parts">{"".join(parts)}</ul>'
            + (f'<p class="mmp-ledger-scope">Where this holds: {html.escape(row.scope or "unstated")}.</p>'
               if each_scope else "") + "</div>")
    return f'<details class="mmp-ledger-row">{summary}{body}</details>'


CENTRAL_CLAIM = "mechanism.second-way"  # the paper's conclusion (Abstract), tested on page 2


def book_summary_html(rows: Sequence[SentenceRow], pages: str = "executed/") -> str:
    """The landing page's "what this book found", from the ledger's rows: the paper's conclusion and its
    verdict in one sentence, the sentences of the paper counted by outcome, where the verdicts hold, and
    the sentences themselves by outcome, each linking to its box (`pages`: the notebook pages' folder,
    relative to the landing page)."""
    claims = [r for r in rows if r.kind == "claim" and r.position == "asserts"]  # not the hypotheses it rejects
    if not claims:
        return '<div class="mmp-summary"><p>No verdicts were recorded in this build.</p></div>'
    out = ['<div class="mmp-summary">']
    central = next((r for r in claims if any(v.claim.id == CENTRAL_CLAIM for v in r.parts)), None)
    if central is not None:
        out.append(f'<p class="mmp-summary-central">{_badge(central.outcome)} The paper\'s conclusion, <q>the learned '
                   f"prompts improve the performance mainly through the second way, which acts as the dataset bias</q> "
                   f"(Abstract), put to the test by transplanting each of the two ways of its eq. 12 between zero-shot "
                   f"CLIP and the prompted model: <b>{html.escape(central.outcome)}</b> in this build "
                   f'(<a href="{pages}{html.escape(central.anchor)}">page {int(central.page[:2])}</a>). '
                   f"{html.escape(central.why)}</p>")
    out.append(f"<p>{html.escape(counts_sentence(Counter(r.outcome for r in claims)))} "
               f'(<a href="{pages}08_claims_ledger.html">the claims ledger</a> lists them all).</p>')
    scopes = list(dict.fromkeys(r.scope for r in claims if r.scope))
    if scopes:
        out.append(f"<p>Where these verdicts hold: {html.escape('; '.join(scopes))}.</p>")
    out.append('<ul class="mmp-summary-list">')
    for outcome in (CONTRADICTS, SUPPORTS, INCONCLUSIVE, NOT_TESTABLE):
        named = [r for r in claims if r.outcome == outcome]
        if named:
            links = "; ".join(f'<a href="{pages}{html.escape(r.anchor)}">{html.escape(r.name)}</a>' for r in named)
            out.append(f"<li>{_badge(outcome)} {links}</li>")
    out.append("</ul></div>")
    return "".join(out)
