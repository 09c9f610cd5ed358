"""Page 8 (notebooks/08_claims_ledger.py): every tested sentence of the paper with its verdict in this build, from
the verdicts the other pages recorded (it reads no run, so it is not one of `PAGES`)."""
from __future__ import annotations

from dataclasses import dataclass

from IPython.display import HTML

from ..claims import counts_sentence, ledger_counts, ledger_html, load_verdicts, paper_verdicts, sentence_rows, verdicts_folder
from ..claims.ledger import _badge  # the ledger's badge, on the headline too

__all__ = ["CENTRAL_CLAIM", "LedgerPage", "NOTEBOOK", "asserted_table", "checks_table", "headline", "measure",
           "rejected_table"]

NOTEBOOK = "08_claims_ledger"
CENTRAL_CLAIM = "mechanism.second-way"  # the paper's conclusion, whose verdict heads the ledger


@dataclass
class LedgerPage:
    """The ledger's rows: one per sentence (claims.sentence_rows), none before a build recorded verdicts."""

    rows: list

    def of(self, kind: str, position: str | None = None) -> list:
        """The rows of one kind ("claim" or "check"), and for claims one position ("asserts" or "rejects")."""
        return [r for r in self.rows if r.kind == kind and (position is None or r.position == position)]


def measure() -> LedgerPage:
    """The recorded verdicts of every page, as the ledger's rows."""
    try:
        verdicts = load_verdicts()
    except FileNotFoundError:
        verdicts = []
    return LedgerPage(sentence_rows(verdicts))


def headline(page: LedgerPage) -> list[HTML]:
    """The paper's conclusion in this build, the counts of outcomes per scope and the sentences not testable here
    (or, before a build, where the verdicts would be)."""
    if not page.rows:
        return [HTML(f"<p>No verdicts recorded yet: build the book (<code>python -m mmprompts book</code>); "
                     f"pages record them in {verdicts_folder()}.</p>")]
    shown = []
    asserted = page.of("claim", "asserts")
    central = [r for r in asserted if any(p.claim.id == CENTRAL_CLAIM for p in r.parts)]
    if central:
        # its badge first, as on every line of the ledger; where it holds is said once, in the counts below
        shown.append(HTML(f"<p class=\"mmp-ledger-headline\">{_badge(central[0].outcome)} <b>The paper's conclusion</b>, <q>the learned prompts improve "
                          f"the performance mainly through the second way, which acts as the dataset bias</q> (Abstract), put "
                          f"to the test by transplanting each way between CLIP and the prompted model "
                          f"(<a class=\"mmp-ledger-link\" href=\"{central[0].anchor}\">page 2</a>): "
                          f"<b>{central[0].outcome}</b> in this build. {central[0].why}</p>"))
    for scope, counts in ledger_counts(page.rows).items():
        shown.append(HTML(f"<p class=\"mmp-ledger-headline\">In {scope}: {counts_sentence(counts)}.</p>"))
    untestable = [r.name for r in asserted if r.outcome == "not testable"]
    if untestable:
        # closed, so that the ledger's first lines stay on the first screen
        shown.append(HTML(f"<details class=\"mmp-ledger-headline\"><summary>The {len(untestable)} sentences not testable in this "
                          "build</summary><p>A precondition fails (open the sentence's line below for which): "
                          + "; ".join(untestable) + ".</p></details>"))
    return shown


def asserted_table(page: LedgerPage) -> HTML | None:
    """The sentences the paper asserts, with the same rules on the paper's own numbers where it published them."""
    return HTML(ledger_html(page.of("claim", "asserts"), paper_verdicts())) if page.rows else None


def rejected_table(page: LedgerPage) -> HTML | None:
    """The hypotheses the paper proposed and concluded against."""
    return HTML(ledger_html(page.of("claim", "rejects"))) if page.rows else None


def checks_table(page: LedgerPage) -> HTML | None:
    """The checks of the implementation and of the rules."""
    return HTML(ledger_html(page.of("check"))) if page.rows else None
