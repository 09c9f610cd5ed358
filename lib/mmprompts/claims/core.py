"""What a claim and a verdict are, and the statistics every rule uses: estimates with standard errors."""
from __future__ import annotations

import html
import math
import re
import statistics
from dataclasses import asdict, dataclass, field
from typing import Mapping, Sequence

SUPPORTS, CONTRADICTS, INCONCLUSIVE = "supports", "contradicts", "inconclusive"
# A claim whose precondition fails here (the task did not learn, the paper's premise is absent, the
# statistic depends on a convention the paper does not state): the run cannot speak to it either way.
NOT_TESTABLE = "not testable"
OUTCOMES = (SUPPORTS, CONTRADICTS, INCONCLUSIVE, NOT_TESTABLE)
Z = 2.0  # "significant": more than 2 standard errors from the boundary


@dataclass(frozen=True)
class Claim:
    """One statement of the paper and how this companion tests it."""

    id: str
    quote: str  # the paper's words, verbatim (shortened with "…")
    where: str  # section, figure or table that says it
    page: str  # the book page (notebook stem) that tests it
    measured: str  # what this run measures
    rule: str  # the decision rule and its tolerance, with the reason
    kind: str = "claim"  # "claim" of the paper, or "check" of this implementation
    # The paper sentence this claim operationalises, as a short readable name shared by every
    # operationalisation of that sentence (the ledger shows one row per sentence); "" = its own.
    sentence: str = ""
    label: str = ""  # a short readable name of this operationalisation ("" = the sentence's)
    precondition: str = ""  # what must hold for the claim to be testable here ("" = nothing beyond the data)
    # The paper's position on what the claim states: "asserts" (the paper says it), or "rejects" (a hypothesis
    # the paper proposes and then rejects, Sec. 3.2.1): the verdict then says whether this run agrees with the
    # rejection, and the ledger counts it apart from the sentences the paper asserts.
    position: str = "asserts"
    # How a sentence's operationalisations combine (`ledger.sentence_outcome`): "parts" — each tests a part of
    # the sentence, so a contradicted part contradicts it; "readings" — each is one reading of the whole
    # sentence, so when readings disagree the sentence's verdict depends on the reading (no veto).
    combine: str = "parts"

    # What the sentence generalises over ("datasets", "the datasets' average", "one dataset", "the model"),
    # and how many tasks must be testable (the prompts learned there) for a verdict: a sentence about
    # many datasets is not decided on one task (`rules.too_few_tasks`).
    over: str = "the model"
    min_tasks: int = 1
    # The sentence states an effect size of the paper's CLIP (a number of points, "slight") that a stand-in
    # model cannot show (book/intro.md, "What the mini world cannot show"): decided only where sizes are
    # comparable (`rules.sizes_decidable`), else not testable here.
    effect_size: bool = False
    # The premise the paper's argument for this sentence rests on: the id of the claim that decides it
    # ("" = none); `rules.given_premises` sets the sentence aside where that premise does not hold.
    premise: str = ""
    # Design choices of this book that move the verdict, and where the page shows it decided both ways.
    design: str = ""
    # The rule's margins, counts and conventions, by name (e.g. {"slight": 2.0}): written once, in the register,
    # read by the rule (`rules`) and by the register's own prose, so the two cannot say different numbers.
    limits: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.position not in ("asserts", "rejects") or self.combine not in ("parts", "readings"):
            raise ValueError(f"{self.id}: position={self.position!r} (asserts/rejects), combine={self.combine!r} "
                             "(parts/readings)")

    @property
    def name(self) -> str:
        """What a reader calls it: the sentence's short name, with this operationalisation's label when it
        has one ("Bias tuning beats prompts of the same size (average over the tasks)"); else the id."""
        if self.sentence and self.label:
            return f"{self.sentence} ({self.label})"
        return self.sentence or self.label or self.id


@dataclass(frozen=True)
class Estimate:
    """A mean with its standard error (0 when it rests on one value)."""

    mean: float
    se: float = 0.0
    n: int = 1

    @property
    def low(self) -> float:
        return self.mean - Z * self.se

    @property
    def high(self) -> float:
        return self.mean + Z * self.se

    def __str__(self) -> str:
        digits = shown_digits(self.mean, Z * self.se, 3)
        text = f"{self.mean:+.{digits}f} ± {Z * self.se:.{digits}f}" if self.se else f"{self.mean:+.3f}"
        return text.replace("-", "\u2212")  # the minus sign a reader expects (claims.text.MINUS)


def shown_digits(mean: float, half: float, digits: int) -> int:
    """Decimals to print `mean ± half` with (`digits` at least, at most 6) so that the two read as the rules
    decide: "+0.013 ± 0.013" cannot tell a mean beyond its 2 SE (0.0134 ± 0.0126) from one within them."""
    beyond = abs(mean) > half
    while digits < 6 and half and abs(mean) != half:
        shown_mean, shown_half = round(abs(mean), digits), round(half, digits)
        if shown_mean != shown_half and (shown_mean > shown_half) == beyond:
            break
        digits += 1
    return digits


@dataclass(frozen=True)
class Verdict:
    claim: Claim
    outcome: str
    sentence: str
    numbers: dict = field(default_factory=dict)
    # Where the verdict holds: the model, data and recipe it was computed on (`Settings.scope`),
    # e.g. "the mini world (mini-clip on the procedural tasks, version 8; the mini recipe)" or "ViT-B/16, CoOp data"; stamped by `report`.
    scope: str = ""

    def to_json(self) -> dict:
        return {"claim": asdict(self.claim), "outcome": self.outcome, "sentence": self.sentence,
                "numbers": self.numbers, "scope": self.scope}

    @classmethod
    def from_json(cls, data: dict) -> "Verdict":
        return cls(Claim(**data["claim"]), data["outcome"], data["sentence"], data["numbers"], data.get("scope", ""))

    def _repr_markdown_(self) -> str:
        # a claim is the paper's words; a check describes what this implementation must satisfy
        what = f"“{self.claim.quote}”" if self.claim.kind == "claim" else f"check: {self.claim.quote}"
        scope = f" ({self.scope})" if self.scope else ""
        return f"**{self.outcome.capitalize()}**{scope} ({self.claim.where}: {what}). {self.sentence}"

    def _repr_html_(self) -> str:
        return self.box_html()

    def box_html(self, omit: Sequence[str] = (), scope: bool = True, words: bool = True) -> str:
        """The verdict box: the outcome, the claim (its name, where the paper says it, its words), the
        decision with this run's numbers, and the rule with its threshold. `omit`: notes of the decision
        sentence that the page says once for all its verdicts (`page_notes`); `scope`: whether the box
        says where it holds (a page's verdict strip says it once); `words`: whether it quotes the claim's
        words (a reading under its sentence's combined box, which quotes them, does not)."""
        what = (f"<q>{html.escape(self.claim.quote)}</q>" if self.claim.kind == "claim"
                else f"check of this implementation: {html.escape(self.claim.quote)}")
        sentence = without_notes(self.sentence, omit)
        name = f'<span class="mmp-label">{html.escape(self.claim.name)}</span> ' if self.claim.sentence or self.claim.label else ""
        held = (f'<div class="mmp-scope">Where this holds: {html.escape(self.scope)}</div>'
                if self.scope and scope else "")
        # mathjax_process: the page typesets the TeX of claims.text (t_SOS, …) inside the box
        return (f'<div class="mmp-verdict mmp-{self.outcome.replace(" ", "-")} mathjax_process" '
                f'id="{verdict_anchor(self.claim.id)}"><div class="mmp-verdict-head"><span class="mmp-outcome">'
                f'{self.outcome}</span> {name}<span class="mmp-where">{html.escape(self.claim.where)}</span></div>'
                + (f'<div class="mmp-claim">{what}</div>' if words else "")
                + f'<div class="mmp-decision">{html.escape(sentence)}</div>'
                + (f'<div class="mmp-rule"><span class="mmp-rule-label">Rule:</span> {html.escape(self.claim.rule)}</div>'
                   if self._rule_not_in(sentence) else "")
                + f'{held}</div>')

    def _rule_not_in(self, sentence: str) -> bool:
        """Whether the box needs its rule line: a not-testable sentence that states its rule already does not."""
        return self.claim.rule.lower().removeprefix("not testable here: ") not in sentence.lower()


# The notes a rule appends to its sentence about the tasks it left out (rules._testable, rules._left_out):
# identical on every verdict of a page, so the page's verdict strip says them once.
_PAGE_NOTES = re.compile(r" Not testable on .*?\)\.(?=\s|$)| Left out, as they did not learn \(.*?\): .*?\.(?=\s|$)")


def page_notes(sentence: str) -> list[str]:
    """The notes on left-out tasks in a verdict sentence, each with its leading space, in order."""
    return _PAGE_NOTES.findall(sentence)


def without_notes(sentence: str, notes: Sequence[str]) -> str:
    """The sentence with these notes (`page_notes`, said elsewhere once) taken out."""
    for note in notes:
        sentence = sentence.replace(note, "")
    return sentence.strip()


def verdict_anchor(claim_id: str) -> str:
    """The HTML id of a claim's verdict box on its page (the ledger links there)."""
    return "verdict-" + claim_id.replace(".", "-")


# ----------------------------------------------------------------------------- estimates
def estimate(values: Sequence[float]) -> Estimate:
    """Mean and standard error of the mean of independent values."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("no values to estimate from")
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return Estimate(statistics.fmean(values), se, len(values))


def paired(after: Sequence[float], before: Sequence[float]) -> Estimate:
    """The mean paired difference after − before (same images / cells), with its SE."""
    if len(after) != len(before):
        raise ValueError(f"paired values need equal lengths, got {len(after)} and {len(before)}")
    return estimate([a - b for a, b in zip(after, before)])


def seed_estimate(per_dataset: Mapping[str, Sequence[float]]) -> Estimate:
    """The average over datasets of the per-dataset mean over seeds, with the SE from the seed spread.

    Seeds are independent, so Var(average) = Σ_d Var(mean_d) / D²; a dataset with one seed
    contributes no spread (its SE is unknown, so the result is optimistic and says so by n)."""
    return dataset_average({d: estimate(v) for d, v in per_dataset.items()})


def dataset_average(per_dataset: Mapping[str, Estimate]) -> Estimate:
    """The average over datasets of independent per-dataset estimates: Var = Σ_d SE_d² / D²."""
    if not per_dataset:
        raise ValueError("no datasets to average over")
    values = list(per_dataset.values())
    return Estimate(statistics.fmean(e.mean for e in values), math.sqrt(sum(e.se ** 2 for e in values)) / len(values),
                    min(e.n for e in values))


def binomial_se(accuracy: float, items: int) -> float:
    """SE (percentage points) of a test accuracy in percent measured on `items` independent test images."""
    p = min(max(accuracy / 100, 0.0), 1.0)
    return 100 * math.sqrt(p * (1 - p) / max(items, 1))


def gain_over_zero_shot(trained: Sequence[float] | Estimate, zero_shot: float, test_items: int) -> Estimate:
    """Trained accuracy (mean over seeds, or an Estimate of it) minus zero-shot accuracy, in points.

    SE: the seed spread of the trained runs (one seed: the binomial SE of its test accuracy)
    combined with the binomial SE of the zero-shot accuracy on the same `test_items` images."""
    runs = trained if isinstance(trained, Estimate) else estimate(trained)
    run_se = runs.se if runs.n > 1 else binomial_se(runs.mean, test_items)
    return Estimate(runs.mean - zero_shot, math.hypot(run_se, binomial_se(zero_shot, test_items)), runs.n)


def did_learn(gain: Estimate) -> bool:
    """The one precondition of every claim about what training does, on every page: the gain over
    zero-shot CLIP (`gain_over_zero_shot`, or paired over the test images) is above 0 beyond 2 SE.
    A task, model or tuning that did not learn cannot say what learning does."""
    return gain.low > 0


# The rule of "in most datasets", the same both ways: a statement holds when more than half of the testable
# datasets agree with it and none goes against it, and fails in the mirror case (more than half against, none
# agreeing); anything between is inconclusive. (A contradiction that needed less than a support would let the
# rule fail on evidence it would not accept for the claim.)
MOST = ("more than half of the testable datasets and none the other way; contradicted in the mirror case (more "
        "than half the other way and none agreeing)")


def majority(agree: int, against: int, n: int) -> str:
    """The outcome of a statement about most of `n` testable datasets, `agree` of which are decided for it
    and `against` against it (`MOST`): supports, contradicts or inconclusive."""
    if agree + against > n or min(agree, against, n) < 0:
        raise ValueError(f"majority: agree={agree} + against={against} exceeds the n={n} testable datasets")
    if agree > n / 2 and not against:
        return SUPPORTS
    if against > n / 2 and not agree:
        return CONTRADICTS
    return INCONCLUSIVE


def _difference(a: Estimate, b: Estimate) -> Estimate:
    return Estimate(a.mean - b.mean, math.hypot(a.se, b.se), min(a.n, b.n))


def _sign(e: Estimate, boundary: float = 0.0) -> int:
    """+1 / −1 when the estimate is significantly above / below the boundary, else 0."""
    return 1 if e.low > boundary else -1 if e.high < boundary else 0


def _plain(value):
    if isinstance(value, Estimate):
        return {"mean": value.mean, "se": value.se, "n": value.n}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]

