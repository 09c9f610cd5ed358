"""The decision rules: pure functions from this run's statistics to a Verdict (tolerances in each docstring)."""
from __future__ import annotations

import math
import statistics
from typing import Mapping, Sequence

from ..analysis.controls import POSITIVE_CONTROL
from .core import (CONTRADICTS, INCONCLUSIVE, NOT_TESTABLE, SUPPORTS, Z, Estimate, Verdict, _difference, _first_upper, _plain,
                   _sign, dataset_average, did_learn, estimate, majority)
from .register import CLAIMS
from .text import among, names, number, plus_minus, scientific, signed


def _verdict(claim_id: str, outcome: str, sentence: str, **numbers) -> Verdict:
    return Verdict(CLAIMS[claim_id], outcome, sentence, {k: _plain(v) for k, v in numbers.items()})


def not_testable(claim_id: str, failed: str, **numbers) -> Verdict:
    """The verdict of a claim whose precondition fails here; `failed` says which and with what numbers."""
    return _verdict(claim_id, NOT_TESTABLE, f"Not testable here: {failed}", **numbers)


def too_few_tasks(claim_id: str, kept: Sequence[str], note: str = "", **numbers) -> Verdict | None:
    """Not testable when fewer tasks are testable (the prompts learned there) than the claim's
    `Claim.min_tasks`: a sentence about most datasets, or about an average over datasets, is not
    decided on one task. None when there are enough."""
    claim = CLAIMS[claim_id]
    if len(kept) >= claim.min_tasks:
        return None
    return not_testable(claim_id, f"a sentence about {claim.over} needs at least {claim.min_tasks} tasks on which the "
                        f"prompts learned; here {among(list(kept))}.{note}", **numbers)


def sizes_decidable(verdict: Verdict, comparable: bool) -> Verdict:
    """`verdict` when its claim states no effect size (`Claim.effect_size`) or the run's sizes are comparable
    to the paper's (its model and data: `Settings.sizes_comparable`); else not testable here, the rule's
    reading on these numbers said. A stand-in model's effect sizes are not the paper's CLIP's (book/intro.md)."""
    if not verdict.claim.effect_size or comparable:
        return verdict
    return not_testable(verdict.claim.id, "the sentence states the size of an effect of the paper's CLIP, which a "
                        "stand-in model cannot show (see “What the mini world cannot show”). The rule on these "
                        f"numbers: {verdict.outcome}; {verdict.sentence}", stand_in=verdict.numbers)


# ----------------------------------------------------------------------------- generic rules
# Two inputs every analysis rule takes besides its effects:
#   controls  per null control ("initial", "zero", "random": `analysis.null_controls`), per dataset: for a
#             direction rule the paired difference learned − control (the learned prompts must beat each
#             control in the claimed direction); for a rule of no change the control's own statistic,
#             reported so the reader sees what prompts that learned nothing do, and a change counts only
#             beyond every control.
#   positive  (rules of no change only) per dataset, the same statistic of the positive control
#             (`analysis.POSITIVE_CONTROL`, bias tuning of the same task): a dataset kept by the learned
#             prompts counts only where the positive control changes the statistic (`_no_change`).
#   excluded  per dataset whose precondition fails, the reason (e.g. the prompts did not learn there): it
#             is left out of the majority and named; with every dataset left out the claim is not testable.
def _testable(claim_id: str, values: Mapping[str, object], excluded: Mapping[str, str] | None,
              what: str) -> tuple[dict, str, Verdict | None]:
    """The datasets left after the failed preconditions, the sentence's note on the others, and the verdict
    to return at once when none is left (not testable) or none was given (inconclusive)."""
    excluded = dict(excluded or {})
    kept = {d: v for d, v in values.items() if d not in excluded}
    note = (" Not testable on " + "; ".join(f"{d} ({why})" for d, why in excluded.items() if d in values) + "."
            if any(d in values for d in excluded) else "")
    if kept:
        return kept, note, too_few_tasks(claim_id, list(kept), note, excluded=excluded)
    if note:
        return kept, note, not_testable(claim_id, note.removeprefix(" Not testable on ").rstrip(".") + ".",
                                        excluded=excluded)
    return kept, note, _verdict(claim_id, INCONCLUSIVE, f"No dataset to measure {what} on.")


def decide_direction(claim_id: str, effects: Mapping[str, Estimate], expected: int, what: str,
                     controls: Mapping[str, Mapping[str, Estimate]] | None = None,
                     excluded: Mapping[str, str] | None = None) -> Verdict:
    """A per-dataset effect that the paper says goes one way (`expected` = +1 or −1) "in most datasets".

    A dataset agrees when its effect is significant in the expected direction and the learned prompts
    also beat every null control in that direction beyond 2 SE (`controls`: learned − control); a
    dataset where a control does as much agrees only with the untrained prompts. Likewise a dataset
    opposes only when its effect is significantly the other way and the learned prompts are also
    beyond every control that other way (else untrained prompts move it as much: learning is not
    shown to reverse it). The outcome over the datasets: `core.majority` (supports: agrees on more
    than half of the testable datasets and opposes on none; contradicts: the mirror case)."""
    effects, note, early = _testable(claim_id, effects, excluded, what)
    if early is not None:
        return early
    controls = dict(controls or {})
    signs = {d: _sign(e) for d, e in effects.items()}
    raw = [d for d, s in signs.items() if s == expected]
    raw_oppose = [d for d, s in signs.items() if s == -expected]
    matched = {d: [c for c, by in controls.items() if _sign(by[d]) != signs[d]] for d in raw + raw_oppose}
    agree = [d for d in raw if not matched[d]]
    oppose = [d for d in raw_oppose if not matched[d]]
    n = len(effects)
    outcome = majority(len(agree), len(oppose), n)
    word = "rises" if expected > 0 else "falls"
    sentence = (f"{_first_upper(what)} {word} beyond {Z:g} SE on {among(raw)} of {n} datasets and the other way on "
                f"{among(raw_oppose)}.")
    if controls:
        equalled = [f"{d} ({names(matched[d])})" for d in raw + raw_oppose if matched[d]]
        # the controls judged in the direction each dataset went: a dataset that went the other way is never
        # counted as beating the controls in the claimed direction
        sentence += (f" Beyond every untrained control ({names(controls)}): {word} on {among(agree)}"
                     + (f", the other way on {among(oppose)}" if oppose else "")
                     + (f"; untrained prompts do as much on {names(equalled)}." if equalled else "."))
    return _verdict(claim_id, outcome, sentence + note, effects=dict(effects), controls=controls,
                    excluded=dict(excluded or {}))


def _no_change(effects: Mapping[str, object], kept: Sequence[str], changed: Sequence[str],
               controls: Mapping[str, Mapping[str, object]], positive: Mapping[str, object], holds, moves, beyond,
               shown) -> tuple[str, str]:
    """The outcome of a claim of no change, and the sentence on the positive and null controls.

    That prompts leave a statistic alone says something only where the measurement could have seen a
    change: a dataset kept by the learned prompts counts for the claim only where the positive control
    (`positive`, per dataset: the statistic of `POSITIVE_CONTROL`, a learned change of the same task's
    feature extraction) changes it beyond the rule's own margin and 2 SE (`moves(d, positive_value)`);
    elsewhere the dataset is not shown able to see a change and does not count (a dataset missing from
    `positive` has no positive control and does not count either). Null controls leaving the statistic
    alone prove nothing (prompts that learned nothing are expected to), so they only decide the other
    side: a change counts against the claim only where the learned prompts change it more than every
    null control (`beyond(d, learned_value, control_value)`); `holds(d, control_value)` (the control
    leaves it alone) is reported. `shown(value)`: a value as the sentence prints it. The outcome:
    `core.majority` of the datasets counted as kept (agree) and counted as changed (against)."""
    n = len(effects)
    powered = [d for d in effects if d in positive and moves(d, positive[d])]
    agree = [d for d in kept if d in powered]
    blind = [d for d in kept if d not in powered]
    equalled = [d for d in changed if controls and not all(beyond(d, effects[d], by[d]) for by in controls.values())]
    oppose = [d for d in changed if d not in equalled]
    outcome = majority(len(agree), len(oppose), n)
    values = ", ".join(f"{d} {shown(positive[d])}" for d in effects if d in positive) or "none measured"
    sentence = (f" Positive control ({POSITIVE_CONTROL}): {values}; it changes the statistic beyond the margin on "
                f"{among(powered)} of {n}.")
    if blind:
        sentence += (f" Not shown able to see a change on {names(blind)} (the positive control does not change it "
                     "there), so the prompts keeping it there do not count.")
    if controls:
        counts = ", ".join(f"{c} on {sum(bool(holds(d, by[d])) for d in effects)}" for c, by in controls.items())
        sentence += f" Datasets on which untrained prompts ({names(controls)}) leave it alone: {counts} of {n}."
    if equalled:
        sentence += f" Untrained prompts change it as much on {names(equalled)}."
    return outcome, sentence


# "stays the same" for an attention share: within this fraction of CLIP's own share (the register's limit,
# with why); the margin of `decide_equal` for such a share.
SAME_SHARE = CLAIMS["text-attention.category-same"].limits["share"]


def decide_equal(claim_id: str, effects: Mapping[str, Estimate], margins: Mapping[str, float], what: str,
                 controls: Mapping[str, Mapping[str, Estimate]] | None = None,
                 excluded: Mapping[str, str] | None = None, *, positive: Mapping[str, Estimate]) -> Verdict:
    """An effect the paper says is absent ("stays the same"): an equivalence test per dataset.

    The same: |effect| + 2 SE ≤ margin; different: |effect| − 2 SE > margin. `positive`: the positive
    control's own effect per dataset; a dataset the same counts only where the positive control is
    different by this very test (|effect| − 2 SE > margin), `_no_change`. `controls`: each null
    control's own effect; a difference counts only where |learned| is above every control's |effect|
    beyond 2 SE."""
    effects, note, early = _testable(claim_id, effects, excluded, what)
    if early is not None:
        return early
    controls = {c: {d: e for d, e in by.items() if d in effects} for c, by in (controls or {}).items()}
    positive = {d: e for d, e in positive.items() if d in effects}
    same = [d for d, e in effects.items() if abs(e.mean) + Z * e.se <= margins[d]]
    different = [d for d, e in effects.items() if abs(e.mean) - Z * e.se > margins[d]]
    outcome, on_controls = _no_change(
        effects, same, different, controls, positive, lambda d, e: abs(e.mean) + Z * e.se <= margins[d],
        lambda d, e: abs(e.mean) - Z * e.se > margins[d],
        lambda d, learned, control: abs(learned.mean) - abs(control.mean) > Z * math.hypot(learned.se, control.se),
        lambda e: plus_minus(e, 3))
    sentence = (f"{_first_upper(what)} stays within its margin on {among(same)} of {len(effects)} datasets and leaves "
                f"it beyond {Z:g} SE on {among(different)}.")
    return _verdict(claim_id, outcome, sentence + on_controls + note, effects=dict(effects), margins=dict(margins),
                    controls=controls, positive=positive, excluded=dict(excluded or {}))


def decide_map_kept(claim_id: str, similarity: Mapping[str, Estimate], what: str,
                    controls: Mapping[str, Mapping[str, Estimate]] | None = None,
                    excluded: Mapping[str, str] | None = None, *, positive: Mapping[str, Estimate]) -> Verdict:
    """Maps the paper says prompts leave unchanged, per dataset a normalised similarity
    s = (r − r_unrelated) / (1 − r_unrelated) of the prompted model's map to CLIP's map of the
    same image (1: identical; 0: no more alike than CLIP's maps of two different images).

    kept: s − 2 SE ≥ threshold (the claim's limit "kept": 0.5, closer to identical than to an
    unrelated image's map); changed: s + 2 SE < threshold. `positive`: the positive control's own
    similarity per dataset; a dataset kept counts only where the positive control's maps are changed
    by this very test (`_no_change`). `controls`: each null control's own similarity; a change counts
    only where the learned prompts are below every control's similarity beyond 2 SE."""
    similarity, note, early = _testable(claim_id, similarity, excluded, what)
    if early is not None:
        return early
    threshold = CLAIMS[claim_id].limits["kept"]
    controls = {c: {d: e for d, e in by.items() if d in similarity} for c, by in (controls or {}).items()}
    positive = {d: e for d, e in positive.items() if d in similarity}
    kept = [d for d, s in similarity.items() if s.low >= threshold]
    changed = [d for d, s in similarity.items() if s.high < threshold]
    outcome, on_controls = _no_change(
        similarity, kept, changed, controls, positive, lambda d, s: s.low >= threshold, lambda d, s: s.high < threshold,
        lambda d, learned, control: control.mean - learned.mean > Z * math.hypot(learned.se, control.se),
        lambda s: plus_minus(s, 2, sign=False))
    n = len(similarity)
    values = ", ".join(f"{d} {number(s.mean, 2)}" for d, s in similarity.items())
    sentence = (f"Normalised similarity of {what} to zero-shot CLIP's (1 identical, 0 unrelated): {values}; "
                f"kept (≥ {threshold} beyond {Z:g} SE) on {len(kept)} of {n}, changed on {len(changed)}.")
    return _verdict(claim_id, outcome, sentence + on_controls + note, similarity=dict(similarity), threshold=threshold,
                    controls=controls, positive=positive, excluded=dict(excluded or {}))


def combine(claim_id: str, parts: Mapping[str, Verdict]) -> Verdict:
    """A claim made of several parts that must all hold ("shallow and deep alike"): contradicts when any
    part does; else not testable when some part is (its precondition fails, so the whole cannot be
    borne out: e.g. shallow prompts that did not learn say nothing of "alike"); supports when every
    part does; else inconclusive."""
    outcomes = [v.outcome for v in parts.values()]
    if CONTRADICTS not in outcomes and NOT_TESTABLE in outcomes:
        failed = {name: v for name, v in parts.items() if v.outcome == NOT_TESTABLE}
        return not_testable(claim_id, f"{'no part is' if len(failed) == len(parts) else 'a part of the sentence is not'} "
                            "testable, so the whole cannot be decided: "
                            + "; ".join(f"{name}: {v.outcome}" + (f" ({v.sentence.rstrip('.')})" if name in failed else "")
                                        for name, v in parts.items()),
                            parts={name: v.numbers for name, v in parts.items()})
    outcome = (CONTRADICTS if CONTRADICTS in outcomes else SUPPORTS if all(o == SUPPORTS for o in outcomes)
               else INCONCLUSIVE)
    sentence = "; ".join(f"{name}: {v.outcome}" for name, v in parts.items()) + "."
    return _verdict(claim_id, outcome, sentence, parts={name: v.numbers for name, v in parts.items()})


def decided_in_every_design(recorded: Sequence[Verdict], others: Mapping[str, Sequence[Verdict]], design: str,
                            recorded_name: str = "as recorded") -> list[Verdict]:
    """The verdicts a page records when a choice of this book that the paper did not make (`design`: keeping
    the EuroSAT stand-in, the training recipe) could move them: `recorded` decided in this book's design,
    `others` the same claims, in the same order, decided in each alternative (name → verdicts).

    A verdict stands when every design gives its outcome. Where they differ it becomes inconclusive, each
    design's outcome said: a finding that one defensible design makes and another undoes is the design's, not
    the paper's, and choosing the design that decides would be choosing the answer. A recorded verdict that
    is not testable stays so (another design cannot make a failed precondition hold). An alternative in which
    the claim is not testable decides nothing either way: it is named and set aside, and the verdict rests on
    the designs that could test it (its sentence names the design that could not)."""
    out = []
    for i, verdict in enumerate(recorded):
        alternatives = {name: verdicts[i] for name, verdicts in others.items()}
        if any(v.claim.id != verdict.claim.id for v in alternatives.values()):
            raise ValueError(f"decided_in_every_design: the designs {list(others)} decide other claims than "
                             f"{verdict.claim.id!r} at position {i}; decide the same claims in the same order")
        untestable = [name for name, v in alternatives.items() if v.outcome == NOT_TESTABLE]
        outcomes = {recorded_name: verdict.outcome,
                    **{name: v.outcome for name, v in alternatives.items() if name not in untestable}}
        if len(set(outcomes.values())) == 1 or verdict.outcome == NOT_TESTABLE:
            if untestable and verdict.outcome != NOT_TESTABLE:
                deciding = (f"{recorded_name}, the only design that could test it," if len(outcomes) == 1
                            else "every design that could test it")
                verdict = _verdict(verdict.claim.id, verdict.outcome, f"{verdict.sentence} Not testable in "
                                   f"{names(untestable)}, a design that so decides nothing; {deciding} gives "
                                   f"{verdict.outcome}.", **{**verdict.numbers, "by_design": {
                                       **outcomes, **{name: NOT_TESTABLE for name in untestable}}})
            out.append(verdict)
            continue
        listed = ", ".join([f"{name}: {outcome}" for name, outcome in outcomes.items()]
                           + [f"{name}: not testable, set aside" for name in untestable])
        out.append(_verdict(verdict.claim.id, INCONCLUSIVE, f"Inconclusive: the outcome depends on {design} ({listed}), "
                            f"a choice of this book, so neither outcome is this run's finding. {_first_upper(recorded_name)}: "
                            f"{verdict.sentence}", **{**verdict.numbers, "by_design": outcomes}))
    return out


# ----------------------------------------------------------------------------- page 1: zero-shot
# The paper's datasets whose images are furthest from the web photos CLIP learned from: satellite
# tiles and texture close-ups (this book's reading of "significant differences from natural
# language and images"; the paper names no list). A mini task counts through its analogue.
FAR_FROM_WEB_PHOTOS = ("eurosat", "dtd")


def decide_zero_shot_weak(accuracy: Mapping[str, float], analogue: Mapping[str, str]) -> Verdict:
    """Zero-shot accuracy on the datasets far from web photos (`FAR_FROM_WEB_PHOTOS`, through
    each dataset's `analogue`) against the others.

    The sentence is about datasets, so a dataset is the unit: each group's mean accuracy over its
    datasets, with the SE from the spread between them (std / sqrt(datasets); it contains each test
    set's sampling noise too), and the gap with the two SEs combined (Welch). supports: the shifted
    group below the others beyond 2 SE; contradicts: above beyond 2 SE; else inconclusive. Not
    testable with fewer than two datasets of a kind: one dataset has no spread to judge a gap by."""
    claim = "zeroshot.weak-where-images-differ"
    shifted = [d for d in accuracy if analogue[d] in FAR_FROM_WEB_PHOTOS]
    others = [d for d in accuracy if d not in shifted]
    if len(shifted) < 2 or len(others) < 2:
        return not_testable(claim, f"the gap between kinds of datasets needs at least two of each to measure the spread "
                            f"between datasets; shown: far from web photos {among(shifted)}, others {among(others)}.",
                            shifted=shifted, others=others)
    far, rest = estimate([accuracy[d] for d in shifted]), estimate([accuracy[d] for d in others])
    gap = _difference(far, rest)
    outcome = {-1: SUPPORTS, 1: CONTRADICTS, 0: INCONCLUSIVE}[_sign(gap)]
    sentence = (f"Zero-shot accuracy on {names(shifted)} is {number(far.mean, 1)}% against {number(rest.mean, 1)}% "
                f"on {names(others)}: a gap of {plus_minus(gap, 1)} points (± 2 SE from the spread between the datasets "
                f"of each kind).")
    return _verdict(claim, outcome, sentence, gap=gap, shifted=shifted, others=others, shifted_mean=far, others_mean=rest)


# ----------------------------------------------------------------------------- page 2: attention formulation
def decide_identities(max_error: float) -> Verdict:
    """Appendix B's algebra on this implementation: both parts of eq. 32 hold to float32 rounding (the claim's
    limit "tolerance")."""
    tolerance = CLAIMS["formulation.identities"].limits["tolerance"]
    outcome = SUPPORTS if max_error <= tolerance else CONTRADICTS
    sentence = (f"The largest deviation from the two identities over every block is {scientific(max_error)} "
                f"(tolerance {scientific(tolerance, 0)}, float32 attention against a float64 recomputation).")
    return _verdict("formulation.identities", outcome, sentence, max_error=max_error, tolerance=tolerance)


def decide_relative_attention(shift: Sequence[Sequence[float]], controls: Mapping[str, Sequence[Sequence[float]]] | None = None
                              ) -> Verdict:
    """Fig. 1: in the first block the input tokens' attention is CLIP's scaled by one factor per
    query; in later blocks the relative attention among input tokens differs from CLIP's.

    A check, not a finding: both halves follow from adding tokens to attention (eq. 12) for any
    prompts, learned or not — block 1's inputs are CLIP's own, later blocks' are not once prompts
    are attended to. So it can only fail when the implementation is wrong (prompts leaking into
    block 1's input tokens, or prompts that never reach the attention).

    shift: per image, per block, the total variation between the prompted model's attention
    renormalised over input tokens and zero-shot CLIP's (`analysis.attention_shift`); controls: the
    same for each null control on the same images, reported beside it (they move it too, which is
    why this is a check). Each block's shift is a mean over images with its SE. supports (the check
    holds): block 1 ≤ `float_tolerance` and the block that moved most above it beyond 2 SE;
    contradicts (it fails): block 1 above the tolerance, or every later block's mean within it;
    else inconclusive."""
    claim = "formulation.relative-attention"
    float_tolerance = CLAIMS[claim].limits["float_tolerance"]
    per_block = [estimate(column) for column in zip(*shift)]
    if len(per_block) < 2:
        return not_testable(claim, "a model with one block has no later block.")
    block = max(range(1, len(per_block)), key=lambda b: per_block[b].mean)
    first, later = per_block[0].mean, per_block[block]
    if first > float_tolerance or all(b.mean <= float_tolerance for b in per_block[1:]):
        outcome = CONTRADICTS
    elif later.low > float_tolerance:
        outcome = SUPPORTS
    else:
        outcome = INCONCLUSIVE
    sentence = (f"Attention among the input tokens moved from CLIP's (total variation): block 1 {scientific(first)} "
                f"(tolerance {scientific(float_tolerance, 0)}), at most {plus_minus(later, 3)} (block {block + 1}).")
    moved = {c: estimate([row[block] for row in rows]) for c, rows in (controls or {}).items()}
    if moved:
        sentence += (" There, prompts that learned nothing move it too (" + ", ".join(f"{c} {number(e.mean, 3)}" for c, e in moved.items())
                     + "): any prompts change it, so this checks the implementation and says nothing of what learning does.")
    return _verdict(claim, outcome, sentence, per_block=per_block, block=block + 1, controls_moved=moved)


# ----------------------------------------------------------------------------- page 2: the two ways, by transplant
WAYS = {"second": "the second way", "first": "the first way (re-weighting)", "both": "both indispensable",
        "neither": "neither as read here (together they keep less than half)", "undecided": "undecided",
        NOT_TESTABLE: "not testable (no gain over CLIP beyond 2 SE)"}


def mechanism_way(effects: Mapping[str, Estimate], term_arm: str = "prompt-term") -> str:
    """Which of Sec. 3.2.1's three hypotheses one dataset's transplant effects (`mechanism_effects`) decide.

    NOT_TESTABLE when the full model's gain over CLIP is not beyond 2 SE (tensors that did not help cannot
    say how they help); "second" when the `term_arm` alone (what the prompts add, with CLIP's relative
    attention) keeps more than half of the gain and more than re-weighting alone, each beyond 2 SE;
    "first" when re-weighting alone (the model's relative attention, nothing added) keeps more than half
    and more than the term arm; when each alone keeps less than half, beyond 2 SE: "both" if the two
    together keep more than half (the full model; with the fixed term, re-weighting + fixed term),
    "neither" if together they keep less (the gain needs what this reading of the ways leaves out);
    else "undecided". Half the gain is the boundary because "mainly" means most of it."""
    key = term_arm.replace("-", "_")
    if not did_learn(effects["gain"]):
        return NOT_TESTABLE
    term_half, reweighting_half, versus = effects[f"{key}_half"], effects["reweighting_half"], effects[f"{key}_vs_reweighting"]
    together = effects.get(f"reweighting_{key}_half")  # None for the prompt term: together they are the full model
    if _sign(term_half) > 0 and _sign(versus) > 0:
        return "second"
    if _sign(reweighting_half) > 0 and _sign(versus) < 0:
        return "first"
    if _sign(term_half) < 0 and _sign(reweighting_half) < 0:
        joint = 1 if together is None else _sign(together)
        return {1: "both", -1: "neither", 0: "undecided"}[joint]
    return "undecided"


# Why the book scores hypotheses 1 and 3 against the paper: it concludes for the second way (the verdict of a claim
# with position "rejects" cites this).
_REJECTION = {  # the paper's position on each hypothesis it proposes, in its words and this book's reading of them
    "first": ("The paper concludes against this hypothesis: prompts work \u201cmainly through the second way\u201d "
              "(Abstract; Sec. 3.2.2: \u201cbetter aligns with the second way\u201d)"),
    "both": ("The paper does not reject this hypothesis in words; it concludes that prompts work \u201cmainly through "
             "the second way\u201d (Abstract), which this book reads as against both ways being indispensable"),
}


def _against(effects: Mapping[str, Estimate], hypothesis: str, term_arm: str) -> bool:
    """Whether one dataset's effects go against `hypothesis` whatever else they decide: the way it names keeps
    significantly less than half of the gain on its own ("second", "first"), or one way alone keeps
    significantly more than half ("both")."""
    key = term_arm.replace("-", "_")
    term, reweighting = _sign(effects[f"{key}_half"]), _sign(effects["reweighting_half"])
    return {"second": term < 0, "first": reweighting < 0, "both": term > 0 or reweighting > 0}[hypothesis]


def decide_mechanism(claim_id: str, effects: Mapping[str, Mapping[str, Estimate]], hypothesis: str,
                     term_arm: str = "prompt-term") -> Verdict:
    """A hypothesis of Sec. 3.2.1 ("second", "first" or "both") over the datasets, from each testable dataset's
    `mechanism_way`: a dataset agrees when it is decided for the hypothesis, and goes against it when it is
    decided for another one or its effects rule the hypothesis out on their own (`_against`: e.g. the
    second way alone keeps significantly less than half of the gain). The hypothesis holds when it is
    agreed on by more than half of the testable datasets and none goes against it, and fails in the mirror
    case (`core.majority`); not testable when no dataset is (no gain over CLIP anywhere)
    or fewer than the claim's minimum; else inconclusive.

    For a claim the paper asserts, holds = supports and fails = contradicts. For a hypothesis the paper
    proposes and concludes against (`Claim.position == "rejects"`) the verdict is on the paper's position:
    the hypothesis failing here supports the paper, holding here contradicts it. For a known-answer check
    (`Claim.kind == "check"`), the answer recovered (holds) supports and missed (fails) contradicts, by the
    same majority as every claim, else inconclusive."""
    ways = {d: mechanism_way(e, term_arm) for d, e in effects.items()}
    testable = {d: w for d, w in ways.items() if w != NOT_TESTABLE}
    by_way = {w: [d for d, x in ways.items() if x == w] for w in WAYS}
    listing = "; ".join(f"{WAYS[w]}: {names(ds)}" for w, ds in by_way.items() if ds)
    gains = {d: e["gain"] for d, e in effects.items()}
    if not testable:
        return not_testable(claim_id, f"on no dataset did the learned tensors beat CLIP beyond {Z:g} SE "
                            f"({names(f'{d} {signed(g.mean, 1)}' for d, g in gains.items())} points).", gains=gains)
    few = too_few_tasks(claim_id, list(testable), f" Decided per dataset: {listing}.", ways=ways)
    if few is not None:
        return few
    agree = [d for d, w in testable.items() if w == hypothesis]
    other = [d for d, w in testable.items()
             if w not in (hypothesis, "undecided") or (w == "undecided" and _against(effects[d], hypothesis, term_arm))]
    ruled_out = [d for d in other if testable[d] == "undecided"]
    n = len(testable)
    holds = majority(len(agree), len(other), n) == SUPPORTS
    fails = majority(len(agree), len(other), n) == CONTRADICTS
    sentence = f"Decided per dataset: {listing}."
    if ruled_out:
        sentence += f" Against {WAYS[hypothesis]} though undecided between the others: {names(ruled_out)}."
    claim = CLAIMS[claim_id]
    if claim.kind == "check":
        outcome = SUPPORTS if holds else CONTRADICTS if fails else INCONCLUSIVE
        if not agree:
            sentence += f" The answer is recovered on none of the {n} testable datasets."
    elif claim.position == "rejects":
        outcome = SUPPORTS if fails else CONTRADICTS if holds else INCONCLUSIVE
        finding = ("the rule finds the hypothesis failing, as the paper holds" if fails else
                   "the rule finds the hypothesis holding, against the paper's position" if holds else
                   "the rule leaves the hypothesis undecided")
        sentence = f"{_REJECTION[hypothesis]}; {finding}. " + sentence
    else:
        outcome = SUPPORTS if holds else CONTRADICTS if fails else INCONCLUSIVE
    return _verdict(claim_id, outcome, sentence, ways=ways, effects={d: dict(e) for d, e in effects.items()})


def given_known_answer(verdict: Verdict, check: Verdict | None) -> Verdict:
    """`verdict` when the rule that decided it recovered its known answer (`check`: the same rule on bias tuning,
    whose learned vectors are a second-way term, supports); else a decisive verdict becomes inconclusive, with
    both said: a rule that misses a known second way is not shown able to tell the two ways apart in this world
    (its positive control failed), so neither its support nor its contradiction counts. A verdict already
    inconclusive or not testable is returned as it is; with no check (imported prompts), the verdict says so."""
    if verdict.outcome in (INCONCLUSIVE, NOT_TESTABLE) or (check is not None and check.outcome == SUPPORTS):
        return verdict
    why = ("the rule's known answer was not run (imported prompts: no bias-tuned runs)" if check is None else
           f"the same rule did not decide bias tuning as the second way, the answer the paper's argument expects "
           f"({check.outcome})")
    # what the rule reads stays in the numbers (and the page's tables), not in the sentence: a reading the
    # verdict voids is no finding to state
    return _verdict(verdict.claim.id, INCONCLUSIVE, f"Inconclusive: {why}, so it is not shown able to tell the two ways "
                    f"apart here, and what it reads on these runs is no finding (its numbers are in page 2's Tables 2.6–2.7).",
                    **{**verdict.numbers, "rule_alone": verdict.outcome})


def mechanism_conclusion(readings: Mapping[str, Verdict], known_answers: Sequence[Verdict] = ()) -> str:
    """A page's prose conclusion on the paper's central sentence, written from its verdicts only: first what the
    rule finds where the answer is known (its checks), then per reading the tasks each way decided and the
    outcome. Where a missed check made a reading inconclusive, the rule's own outcome is left out: it is no
    finding (the page's tables keep the numbers). No number or outcome in it is typed by hand."""
    def found(v: Verdict) -> str:
        if v.outcome == NOT_TESTABLE:
            return "not testable: too few tasks gained over CLIP beyond 2 SE"
        ways = v.numbers.get("ways", {})
        decided = {w: [d for d, x in ways.items() if x == w] for w in WAYS if w != NOT_TESTABLE}
        parts = [f"{WAYS[w]} on {names(ds)}" for w, ds in decided.items() if ds]
        return f"{'; '.join(parts)} — {v.outcome}"
    text = ""
    if known_answers:
        text += "Where the answer is known or expected, the same rule finds: " + "; ".join(
            f"{v.claim.label or v.claim.sentence}: {found(v)}" for v in known_answers) + "."
        missed = [v for v in known_answers if v.outcome != SUPPORTS]
        if missed:
            text += (" A check missed means the rule is not shown able to tell the two ways apart in this world, "
                     "so each reading below is inconclusive, whatever the tasks were decided as.")
    return (text + " Per reading of the sentence, the way each task that learned was decided as: " + "; ".join(
        f"{label}: {found(v)}" for label, v in readings.items()) + ".").strip()


# ----------------------------------------------------------------------------- preconditions
def not_learned(gains: Mapping[str, Estimate]) -> dict[str, str]:
    """The datasets on which the analysed prompts did not learn (gain over zero-shot CLIP, paired over
    the test images, not beyond 2 SE), with the reason: a claim about what learned prompts do cannot be
    tested on prompts that learned nothing."""
    return {d: f"the prompts did not learn: {plus_minus(g, 1)} points over CLIP"
            for d, g in gains.items() if not did_learn(g)}


def not_measured(claim_id: str) -> Verdict:
    """The verdict of a sentence this book cannot measure (its register entry's rule says why): not testable here."""
    return not_testable(claim_id, CLAIMS[claim_id].rule.removeprefix("not testable here: ") + ".")


def decide_eos_focus_on_sos(shares: Mapping[str, Sequence[Sequence[float]]], stand_in: bool = False) -> Verdict:
    """Sec. 3.3.1, Fig. 4 (row 1): zero-shot CLIP's EOS "predominantly focuses most of its attention on
    the t_SOS token in each layer" — the premise of the claims about SOS.

    shares: per dataset, per block, per head, CLIP's EOS attention on SOS (mean over the class
    prompts). Per block, the mean over heads with its SE: above `most` (half: "most of its
    attention") beyond 2 SE, or below. A dataset holds the premise when more than half of the blocks
    are above and none below ("in each layer"), and fails it in the mirror case; over the datasets
    the same rule (`core.majority`). On a `stand_in` model (not the paper's CLIP) a sentence about
    CLIP's own attention is a property the stand-in has or lacks: where it does not hold, the verdict
    is not testable ("the stand-in lacks it"), never a contradiction of the paper."""
    most = CLAIMS["text-attention.eos-focus-on-sos"].limits["most"]
    holds, fails, low, high = [], [], 1.0, 0.0
    for dataset, per_block in shares.items():
        blocks = [estimate(heads) for heads in per_block]
        above = sum(_sign(b, most) > 0 for b in blocks)
        below = sum(_sign(b, most) < 0 for b in blocks)
        low, high = min(low, *(b.mean for b in blocks)), max(high, *(b.mean for b in blocks))
        per_dataset = majority(above, below, len(blocks))
        if per_dataset == SUPPORTS:
            holds.append(dataset)
        elif per_dataset == CONTRADICTS:
            fails.append(dataset)
    n = len(shares)
    outcome = majority(len(holds), len(fails), n) if n else INCONCLUSIVE
    sentence = (f"Zero-shot CLIP's EOS gives SOS {number(low, 2)}–{number(high, 2)} of its attention (per block, mean over heads); "
                f"above {most:g} in most blocks on {among(holds)} of {n} datasets, below in most blocks on "
                f"{among(fails)}.")
    if stand_in and outcome != SUPPORTS:
        return not_testable("text-attention.eos-focus-on-sos", f"the stand-in lacks it: a property of the paper's CLIP, "
                            f"not of this model ({outcome} on this model). {sentence}", holds=holds, fails=fails,
                            range=[low, high])
    return _verdict("text-attention.eos-focus-on-sos", outcome, sentence, holds=holds, fails=fails, range=[low, high])


def given_premises(verdicts: Sequence[Verdict], premises: Sequence[Verdict] = ()) -> list[Verdict]:
    """`verdicts` with each one whose claim rests on a premise (`Claim.premise`, decided among `verdicts`, or
    among `premises`: decided by the same rule on the same statistic for a page that records it elsewhere)
    passed through `given_premise`: one rule for every sentence that needs a premise, and only those."""
    decided = {v.claim.id: v for v in (*premises, *verdicts)}
    missing = {v.claim.premise for v in verdicts if v.claim.premise and v.claim.premise not in decided}
    if missing:
        raise ValueError(f"the premise {sorted(missing)} is not among the verdicts; decide it on the same page")
    return [given_premise(decided[v.claim.premise], v) if v.claim.premise else v for v in verdicts]


def given_premise(premise: Verdict, verdict: Verdict) -> Verdict:
    """`verdict` when the paper's premise it rests on holds here (`premise` supports), else not testable:
    a claim about how prompts move EOS's focus on SOS says nothing where EOS does not focus on SOS."""
    if premise.outcome == SUPPORTS or verdict.outcome == NOT_TESTABLE:
        return verdict
    why = ("the stand-in lacks it" if premise.sentence.startswith("Not testable here: the stand-in lacks it")
           else f"{premise.outcome}, decided as on page 4")
    return not_testable(verdict.claim.id, "its premise (Sec. 3.3.1) does not hold here: zero-shot CLIP's EOS does not "
                        f"attend mostly to SOS ({why}). Decided without it: "
                        f"{verdict.outcome}.", premise=premise.numbers, without=verdict.numbers)


# ----------------------------------------------------------------------------- page 5: attention scope
def decide_scope_unchanged(claim_id: str, ratios: Mapping[str, Mapping[str, float]], what: str,
                           controls: Mapping[str, Mapping[str, float]] | None = None,
                           excluded: Mapping[str, str] | None = None,
                           conventions: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None,
                           convention_controls: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None, *,
                           positive: Mapping[str, float],
                           convention_positive: Mapping[str, Mapping[str, float]] | None = None) -> Verdict:
    """Figs. 5 / 7: CLIP, "W/O prompt" and "W prompt" show no significant difference.

    Input: per variant and dataset, the mean |variant − CLIP| over (block, head) divided by
    CLIP's own head-to-head spread (std over the heads of a block, mean over blocks) — the
    scale of the dots in Fig. 5. A dataset is unchanged when every variant's ratio is ≤
    `unchanged` (half the spread between heads), changed when some variant's is ≥ `changed`.
    `positive`: per dataset, the positive control's ratio; an unchanged dataset counts only where
    the positive control's ratio reaches `changed` (`_no_change`; the ratio is one number per
    dataset, a mean over every block and head, so the margin itself is the tolerance: no SE).
    `controls`: per null control and dataset, the control's ratio (with its prompts); a changed
    dataset counts only where every control stays below `changed`.

    `conventions`: when the statistic rests on a convention the paper does not state (where the
    prompt keys sit on the patch grid), the same ratios under each convention (name → ratios,
    `ratios` the first): the claim is decided only when every convention gives the same outcome,
    and is not testable where they disagree (the verdict would be the convention's, not the paper's).
    `convention_controls` and `convention_positive`: per convention, the null controls' and the
    positive control's ratios under that same convention (a control judged under another convention
    than the learned prompts says nothing about them); every convention needs its own."""
    if conventions:
        if controls and set(convention_controls or {}) != set(conventions):
            raise ValueError(f"decide_scope_unchanged: convention_controls={sorted(convention_controls or {})} must give "
                             f"the controls under each convention {sorted(conventions)}")
        if set(convention_positive or {}) != set(conventions):
            raise ValueError(f"decide_scope_unchanged: convention_positive={sorted(convention_positive or {})} must give "
                             f"the positive control under each convention {sorted(conventions)}")
        decided = {name: decide_scope_unchanged(claim_id, by, what, (convention_controls or {}).get(name), excluded,
                                                positive=convention_positive[name])
                   for name, by in conventions.items()}
        outcomes = {v.outcome for v in decided.values()}
        listed = " ".join(f"With {name}: {v.outcome}. {v.sentence}" for name, v in decided.items())
        numbers = {name: v.numbers for name, v in decided.items()}
        if len(outcomes) == 1:
            return _verdict(claim_id, outcomes.pop(), f"The same under every convention for the prompt keys' distance. "
                            f"{listed}", conventions=numbers)
        return not_testable(claim_id, f"the verdict depends on where the prompt keys sit, which the paper does not "
                            f"state. {listed}", conventions=numbers)
    unchanged, changed = CLAIMS[claim_id].limits["unchanged"], CLAIMS[claim_id].limits["changed"]
    parts = []
    for variant, by_dataset in ratios.items():
        by_dataset = {d: r for d, r in by_dataset.items() if d not in (excluded or {})}
        parts.append(f"{variant}: " + ", ".join(f"{d} {number(r, 2)}" for d, r in by_dataset.items()))
    sentence = (f"Mean |difference from CLIP| of {what} in units of CLIP's head-to-head spread (unchanged ≤ "
                f"{unchanged}, changed ≥ {changed}): " + "; ".join(parts) + ".")
    first = next(iter(ratios.values()), {})
    datasets, note, early = _testable(claim_id, first, excluded, what)
    if early is not None:
        return early
    worst = {d: max(by[d] for by in ratios.values()) for d in datasets}
    controls = {c: {d: r for d, r in by.items() if d in datasets} for c, by in (controls or {}).items()}
    positive = {d: r for d, r in positive.items() if d in datasets}
    outcome, on_controls = _no_change(
        worst, [d for d, r in worst.items() if r <= unchanged], [d for d, r in worst.items() if r >= changed], controls,
        positive, lambda d, r: r <= unchanged, lambda d, r: r >= changed, lambda d, learned, control: control < changed,
        lambda r: number(r, 2))
    return _verdict(claim_id, outcome, sentence + on_controls + note, ratios=dict(ratios), controls=controls,
                    positive=positive, excluded=dict(excluded or {}))


# ----------------------------------------------------------------------------- pages 6 and 7: which tasks learned
# The precondition of every claim of Tables 1–3: a task whose training did not learn (its best
# trained accuracy is not above zero-shot beyond 2 SE, `core.did_learn`) cannot say which
# method or setting learns better. Such tasks are left out, and named; a claim with none left is
# not testable. `learned` maps each task to that gain over zero-shot (`core.gain_over_zero_shot`).
def _learned_tasks(learned: Mapping[str, Estimate]) -> tuple[list[str], list[str]]:
    kept = [d for d, gain in learned.items() if did_learn(gain)]
    return kept, [d for d in learned if d not in kept]


def _gains(learned: Mapping[str, Estimate], tasks: Sequence[str]) -> str:
    return ", ".join(f"{d} {plus_minus(learned[d], 1)}" for d in tasks)


def _the_learned(tasks: Sequence[str]) -> str:
    return "the task that learned" if len(tasks) == 1 else f"the {len(tasks)} tasks that learned"


def _gains_of(learned: Mapping[str, Estimate], left: Sequence[str]) -> dict[str, Estimate]:
    """The left-out tasks' gains, recorded with the verdict so that its page's table of what the rule read shows them."""
    return {d: learned[d] for d in left}


def _left_out(learned: Mapping[str, Estimate], left: Sequence[str]) -> str:
    return (f" Left out, as they did not learn (gain over zero-shot, needs > 0 beyond {Z:g} SE): "
            f"{_gains(learned, left)}." if left else "")


def _none_learned(claim_id: str, learned: Mapping[str, Estimate], what: str) -> Verdict:
    return not_testable(claim_id, f"no task learned with {what} (gain over zero-shot, needs > 0 beyond {Z:g} SE: "
                        f"{_gains(learned, list(learned)) or 'no task'}).", learned=dict(learned))


def _task_not_learned(claim_id: str, learned: Mapping[str, Estimate], task: str, role: str) -> Verdict:
    return not_testable(claim_id, f"{task}, {role}, did not learn: gain over zero-shot "
                        f"{_gains(learned, [task])} (needs > 0 beyond {Z:g} SE).", learned=dict(learned))


def _average_curve(curves: Mapping[str, Mapping[int, Estimate]], tasks: Sequence[str]) -> dict[int, Estimate]:
    """Per setting the average over `tasks` (`dataset_average`), at the settings every one of them has."""
    common = sorted(set.intersection(*(set(curves[d]) for d in tasks))) if tasks else []
    return {k: dataset_average({d: curves[d][k] for d in tasks}) for k in common}


def _across_tasks(per_task: Mapping[str, float]) -> Estimate:
    """An average over tasks with the task as the unit: the mean of the per-task values and the SE from
    their spread (needs two tasks). Tables 2–3's sentences describe how one method's average moves with a
    setting, and their rules decide from the seeds (the noise of this set of tasks' average); this
    second reading is printed beside each so that an average carried by one task shows as such. Table
    1's comparison of two methods decides in both (`decide_bias_beats_prompts`)."""
    return estimate(list(per_task.values()))


def _units(seeds: Estimate, tasks: Estimate, digits: int = 2) -> str:
    """Both readings of an average effect, as the sentences print them: the decided one first, then the task
    as the unit (reported, not deciding); each ± 2 SE."""
    return (f"{signed(seeds.mean, digits)} ± {number(Z * seeds.se, digits)} over the seeds "
            f"(± {number(Z * tasks.se, digits)} with the task as the unit)")


# ----------------------------------------------------------------------------- page 6: Table 1
def decide_bias_beats_prompts(bias: Mapping[str, Estimate], prompt: Mapping[str, Estimate],
                              learned: Mapping[str, Estimate]) -> Verdict:
    """Table 1: bias tuning beats same-size prompts on average (paper 79.5 vs 77.8).

    Per task the mean over seeds with its SE; `learned`: the gain over zero-shot of the better of
    the two. The average is over the tasks that learned. "Outperforms" compares two methods in general,
    not on one set of tasks, so the gap must stand out both from the seeds' noise and from how much
    the tasks differ (`_across_tasks`, the task as the unit): supports / contradicts when bias −
    prompts is above / below 0 beyond 2 SE in both; else inconclusive, each task's gap said. (On the
    paper's own Table 1 the second reading does not decide either: EuroSAT's +14.8 carries the +1.7.)"""
    claim = "bias.beats-same-size-prompts"
    kept, left = _learned_tasks(learned)
    if not kept:
        return _none_learned(claim, learned, "bias tuning or same-size prompts")
    if (few := too_few_tasks(claim, kept, _left_out(learned, left), learned=dict(learned))) is not None:
        return few
    gap = _difference(dataset_average({d: bias[d] for d in kept}), dataset_average({d: prompt[d] for d in kept}))
    per_task = {d: bias[d].mean - prompt[d].mean for d in kept}
    between = _across_tasks(per_task)
    both = {_sign(gap), _sign(between)}
    outcome = {1: SUPPORTS, -1: CONTRADICTS}.get(both.pop(), INCONCLUSIVE) if len(both) == 1 else INCONCLUSIVE
    sentence = (f"Averaged over {_the_learned(kept)}, bias − same-size prompts = {_units(gap, between)}; per "
                "task: " + ", ".join(f"{d} {signed(v, 1)}" for d, v in per_task.items()) + "." + _left_out(learned, left))
    return _verdict(claim, outcome, sentence, gap=gap, gap_between_tasks=between, tasks=kept,
                    left_out=_gains_of(learned, left))


def decide_bias_gain_largest(target: str | None, bias: Mapping[str, Estimate], prompt: Mapping[str, Estimate],
                             learned: Mapping[str, Estimate]) -> Verdict:
    """Table 1 / abstract: bias beats prompts "by a large margin" on EuroSAT — the largest gain.

    Among the tasks that learned (`learned` as for `decide_bias_beats_prompts`; the EuroSAT
    stand-in `target` must be one). supports: the target's gain is significantly positive and the
    largest; contradicts: its gain is significantly negative, or another task's gain is surely
    larger (intervals apart); else inconclusive."""
    claim = "bias.largest-gain-on-eurosat"
    if target is None or target not in bias:
        return _verdict(claim, INCONCLUSIVE, "No dataset standing for EuroSAT is among those shown.")
    if not did_learn(learned[target]):
        return _task_not_learned(claim, learned, target, "the EuroSAT stand-in")
    kept, left = _learned_tasks(learned)
    if (few := too_few_tasks(claim, kept, _left_out(learned, left), learned=dict(learned))) is not None:
        return few
    gains = {d: _difference(bias[d], prompt[d]) for d in kept}
    mine = gains[target]
    surely_larger = [d for d, g in gains.items() if d != target and g.low > mine.high]
    if mine.high < 0 or surely_larger:
        outcome = CONTRADICTS
    elif mine.low > 0 and mine.mean >= max(g.mean for g in gains.values()):
        outcome = SUPPORTS
    else:
        outcome = INCONCLUSIVE
    sentence = ("Gain of bias over same-size prompts: " + ", ".join(f"{d} {signed(g.mean, 1)}" for d, g in gains.items())
                + f"; on {target} {plus_minus(mine, 1)} (paper, EuroSAT: +14.8, the largest)."
                + (f" Surely larger elsewhere: {names(surely_larger)}." if surely_larger else "") + _left_out(learned, left))
    return _verdict(claim, outcome, sentence, gains=gains, target=target, left_out=_gains_of(learned, left))


def decide_bias_near_optimal(bias: Mapping[str, Estimate], optimal: Mapping[str, Estimate],
                             learned: Mapping[str, Estimate]) -> Verdict:
    """Sec. 3.4: "the slight performance gap (0.5) between bias tuning and the optimal prompt
    tuning settings … still exists" (OPTIMAL = 10 + 10 prompts at full depth, Table 3's "20 prompts").

    gap = OPTIMAL − BIAS averaged over the tasks that learned with either (`learned`), SE from
    seeds. supports: gap ≥ 0 and gap + 2 SE ≤ `slight`; contradicts: gap − 2 SE > `slight` (a
    large gap) or gap + 2 SE < 0 (bias surely better: no gap exists); else inconclusive.
    `slight` = 2 points: the paper calls 0.5 slight, and seed spreads of a few-shot run are about
    1 point (several on DTD and EuroSAT), so a gap under 2 points is one a reader would call slight."""
    claim = "bias.slight-gap-to-optimal"
    slight = CLAIMS[claim].limits["slight"]
    kept, left = _learned_tasks(learned)
    if not kept:
        return _none_learned(claim, learned, "bias tuning or OPTIMAL")
    if (few := too_few_tasks(claim, kept, _left_out(learned, left), learned=dict(learned))) is not None:
        return few
    gap = _difference(dataset_average({d: optimal[d] for d in kept}), dataset_average({d: bias[d] for d in kept}))
    if gap.low > slight or gap.high < 0:
        outcome = CONTRADICTS
    elif gap.mean >= 0 and gap.high <= slight:
        outcome = SUPPORTS
    else:
        outcome = INCONCLUSIVE
    sentence = (f"OPTIMAL − BIAS averaged over {_the_learned(kept)} = {plus_minus(gap, 2)} "
                f"points (paper: +0.5; 'slight' up to {slight:g})." + _left_out(learned, left))
    return _verdict(claim, outcome, sentence, gap=gap, slight=slight, tasks=kept, left_out=_gains_of(learned, left))


def decide_bias_beats_optimal_on_eurosat(target: str | None, bias: Mapping[str, Estimate],
                                         optimal: Mapping[str, Estimate], learned: Mapping[str, Estimate]) -> Verdict:
    """Sec. 1: "Bias tuning still falls slightly short compared to the optimal prompt
    configuration. However, for datasets with limited category information, the advantages of
    bias tuning remain highly evident" — on EuroSAT BIAS beats OPTIMAL (paper 86.5 vs 82.6).

    On the EuroSAT stand-in `target` (which must have learned with either, `learned`):
    supports: BIAS − OPTIMAL > 0 beyond 2 SE; contradicts: < 0 beyond 2 SE; else inconclusive.
    "Highly evident" is read as significant: the paper gives no margin beyond its +3.9."""
    claim = "bias.beats-optimal-on-eurosat"
    if target is None or target not in bias:
        return _verdict(claim, INCONCLUSIVE, "No dataset standing for EuroSAT is among those shown.")
    if not did_learn(learned[target]):
        return _task_not_learned(claim, learned, target, "the EuroSAT stand-in")
    gap = _difference(bias[target], optimal[target])
    outcome = {1: SUPPORTS, -1: CONTRADICTS, 0: INCONCLUSIVE}[_sign(gap)]
    sentence = (f"On {target}, BIAS − OPTIMAL = {plus_minus(gap, 1)} points "
                f"(paper, EuroSAT: 86.5 − 82.6 = +3.9).")
    return _verdict(claim, outcome, sentence, gap=gap, target=target)


# ----------------------------------------------------------------------------- page 7: Tables 2 and 3
# Curves: per task, accuracy per setting (depth or prompts per branch) as an Estimate over seeds;
# averaged over the tasks that learned (`learned`: the gain over zero-shot of the task's best setting).
def decide_depth_rises(curves: Mapping[str, Mapping[int, Estimate]], learned: Mapping[str, Estimate]) -> Verdict:
    """Sec. 3.5 / App. C.1: accuracy rises with the number of prompted blocks, "but the upward
    trend also gradually slows down".

    The average curve over the tasks that learned, at its shallowest (l), middle (m) and deepest (h)
    depth. rises: a(h) − a(l) > 2 SE; slows down: the gain per block over the first half,
    s1 = (a(m) − a(l)) / (m − l), exceeds that over the second, s2 = (a(h) − a(m)) / (h − m), beyond
    2 SE of s1 − s2 (both slopes share a(m), so Var = Var a(l) / (m−l)² + Var a(m) (1/(m−l) + 1/(h−m))²
    + Var a(h) / (h−m)²). supports: rises and slows down; contradicts: falls beyond 2 SE, or the
    second half gains more per block beyond 2 SE; else inconclusive (a rise whose slowing is within
    noise, or a flat curve)."""
    claim = "depth.rises-and-slows"
    kept, left = _learned_tasks(learned)
    if not kept:
        return _none_learned(claim, learned, "prompts at any depth")
    if (few := too_few_tasks(claim, kept, _left_out(learned, left), learned=dict(learned))) is not None:
        return few
    curve = _average_curve(curves, kept)
    depths = sorted(curve)
    if len(depths) < 3:
        return _verdict(claim, INCONCLUSIVE, f"Needs at least three depths, got {depths}.")
    low, mid, high = depths[0], depths[len(depths) // 2], depths[-1]
    a, b = mid - low, high - mid
    total = _difference(curve[high], curve[low])
    slope1 = Estimate((curve[mid].mean - curve[low].mean) / a, math.hypot(curve[mid].se, curve[low].se) / a)
    slope2 = Estimate((curve[high].mean - curve[mid].mean) / b, math.hypot(curve[high].se, curve[mid].se) / b)
    slowing = Estimate(slope1.mean - slope2.mean, math.sqrt((curve[low].se / a) ** 2 + (curve[mid].se * (1 / a + 1 / b)) ** 2
                                                            + (curve[high].se / b) ** 2))
    total_tasks = _across_tasks({d: curves[d][high].mean - curves[d][low].mean for d in kept})
    slowing_tasks = _across_tasks({d: (curves[d][mid].mean - curves[d][low].mean) / a
                                   - (curves[d][high].mean - curves[d][mid].mean) / b for d in kept})
    if total.high < 0 or slowing.high < 0:
        outcome = CONTRADICTS
    elif total.low > 0 and slowing.low > 0:
        outcome = SUPPORTS
    else:
        outcome = INCONCLUSIVE
    sentence = (f"Average accuracy of {_the_learned(kept)}, from depth {low} to {high}: {_units(total, total_tasks)}"
                f"; per block {signed(slope1.mean, 2)} up to depth {mid} and {signed(slope2.mean, 2)} after "
                f"(slowing {_units(slowing, slowing_tasks)} per block)." + _left_out(learned, left))
    return _verdict(claim, outcome, sentence, total=total, total_between_tasks=total_tasks, slope_first=slope1,
                    slope_second=slope2, slowing=slowing, slowing_between_tasks=slowing_tasks,
                    left_out=_gains_of(learned, left))


def _near_best(curve: Mapping[int, Estimate]) -> list[int]:
    """The settings whose accuracy is within 2 SE of the best setting's (the best one included)."""
    best = max(curve.values(), key=lambda e: e.mean)
    return sorted(d for d, e in curve.items() if e.mean >= best.mean - Z * math.hypot(best.se, e.se))


def decide_many_classes_keep_gaining(curves: Mapping[str, Mapping[int, Estimate]], classes: Mapping[str, int],
                                     few: str | None, learned: Mapping[str, Estimate]) -> Verdict:
    """App. C.1: "for datasets with a large number of categories, such as ImageNet, the
    performance continues to increase … for … EuroSAT, the performance saturates after adding a
    smaller number of multi-modal prompt layers."

    The task with the most classes against the EuroSAT stand-in (`few`), both of which must have
    learned: each one's saturation depth, the smallest depth within 2 SE of its best. supports:
    the many-class one saturates later; contradicts: earlier; inconclusive: at the same depth. Not
    testable without both tasks in the grid: a "many-class" task needs the claim's limit `more_classes`
    times the stand-in's classes (ImageNet has 100 × EuroSAT's)."""
    claim = "depth.many-classes-keep-gaining"
    many = max(classes, key=classes.get)
    ratio = CLAIMS[claim].limits["more_classes"]
    if few is None or few not in curves:
        return not_testable(claim, "the grid has no EuroSAT stand-in", classes=dict(classes))
    if classes[many] < ratio * classes[few]:
        return not_testable(claim, f"the grid has no task with many more classes than the EuroSAT stand-in: its most is "
                            f"{many} with {classes[many]} against {few}'s {classes[few]} (needs {ratio:g} ×)",
                            classes=dict(classes))
    for task, role in ((many, f"the task with the most classes ({classes[many]})"), (few, "the EuroSAT stand-in")):
        if not did_learn(learned[task]):
            return _task_not_learned(claim, learned, task, role)
    s_many, s_few = _near_best(curves[many])[0], _near_best(curves[few])[0]
    outcome = SUPPORTS if s_many > s_few else CONTRADICTS if s_many < s_few else INCONCLUSIVE
    sentence = (f"{many} ({classes[many]} classes) reaches its best within noise at depth {s_many}; "
                f"{few} ({classes[few]} classes) at depth {s_few}.")
    return _verdict(claim, outcome, sentence, many=many, few=few, saturation_many=s_many, saturation_few=s_few)


def decide_depths_differ(curves: Mapping[str, Mapping[int, Estimate]], learned: Mapping[str, Estimate]) -> Verdict:
    """Sec. 3.5 / App. C.1: "different datasets have different optimal numbers of layers".

    Per task that learned, its near-best depths (within 2 SE of its best). supports: no depth is
    near-best on every task (one number of layers cannot serve them all); contradicts: every task
    has its best mean at the same depth; else inconclusive (the best depths differ, but some depth
    is within noise of the best everywhere). Needs two tasks that learned."""
    claim = "depth.different-optima"
    kept, left = _learned_tasks(learned)
    if len(kept) < 2:
        return not_testable(claim, f"needs two tasks that learned; gains over zero-shot of their best depth: "
                            f"{_gains(learned, list(learned))} (needs > 0 beyond {Z:g} SE).", learned=dict(learned))
    near = {d: _near_best(curves[d]) for d in kept}
    best = {d: max(sorted(curves[d]), key=lambda k: curves[d][k].mean) for d in kept}
    shared = sorted(set.intersection(*(set(v) for v in near.values())))
    outcome = SUPPORTS if not shared else CONTRADICTS if len(set(best.values())) == 1 else INCONCLUSIVE
    sentence = ("Best depth (within noise of the best): " + "; ".join(f"{d} {best[d]} ({', '.join(map(str, near[d]))})"
                                                                      for d in kept)
                + f". Within noise of the best on every task: {', '.join(map(str, shared)) or 'no depth'}."
                + _left_out(learned, left))
    return _verdict(claim, outcome, sentence, best=best, near_best=near, shared=shared, left_out=_gains_of(learned, left))


def decide_depth_best_near_top(curves: Mapping[str, Mapping[int, Estimate]], learned: Mapping[str, Estimate],
                               layers: int) -> Verdict:
    """App. C.1: "With the addition of the 10 and 11-layer multi-modal prompts, the average
    performance reached its highest" (of 12 blocks).

    The average curve over the tasks that learned; the depths at 10/12 and 11/12 of this model's
    depth (rounded) must be in it. The sentence places the average's peak, so the rule is symmetric:
    supports when the better of them is above every other depth of the grid beyond 2 SE;
    contradicts when another depth is above it beyond 2 SE; else inconclusive (the peak is not
    located within noise: the paper's own Table 2 puts depth 9 0.13 points below 10–11)."""
    claim = "depth.best-at-10-11-of-12"
    kept, left = _learned_tasks(learned)
    if not kept:
        return _none_learned(claim, learned, "prompts at any depth")
    if (few := too_few_tasks(claim, kept, _left_out(learned, left), learned=dict(learned))) is not None:
        return few
    curve = _average_curve(curves, kept)
    near = sorted({round(layers * 10 / 12), round(layers * 11 / 12)} & set(curve) - {layers})
    if not near:
        return _verdict(claim, INCONCLUSIVE, f"The depth grid {sorted(curve)} of this {layers}-block model has no "
                        f"depth at 10–11 twelfths of it below full depth, so the claim cannot be tested here.")
    best_near = max((curve[d] for d in near), key=lambda e: e.mean)
    others = {d: e for d, e in curve.items() if d not in near}
    beaten_by = [d for d, e in others.items() if _difference(e, best_near).low > 0]
    above_all = bool(others) and all(_difference(best_near, e).low > 0 for e in others.values())
    outcome = CONTRADICTS if beaten_by else SUPPORTS if above_all else INCONCLUSIVE
    best_other = max(others, key=lambda d: others[d].mean) if others else None
    sentence = (f"Average accuracy of {_the_learned(kept)} at depth {'/'.join(map(str, near))}: "
                f"{number(best_near.mean, 2)}" + (f"; best elsewhere: {number(others[best_other].mean, 2)} at depth {best_other}, "
                                                  f"a difference of {plus_minus(_difference(best_near, others[best_other]), 2)}"
                                                  if others else "")
                + (f"; significantly better: depth {names(map(str, beaten_by))}" if beaten_by else "") + "."
                + _left_out(learned, left))
    return _verdict(claim, outcome, sentence, near=near, beaten_by=beaten_by, above_all=above_all,
                    **({"over_best_elsewhere": _difference(best_near, others[best_other])} if others else {}),
                    left_out=_gains_of(learned, left))


def decide_depth_exceeds_clip(best: Estimate, clip: float) -> Verdict:
    """App. C.1: the best average "exceeding CLIP by more than 14 points" (the claim's limit "margin")."""
    margin = CLAIMS["depth.exceeds-clip-by-14"].limits["margin"]
    gain = Estimate(best.mean - clip, best.se, best.n)
    outcome = {1: SUPPORTS, -1: CONTRADICTS, 0: INCONCLUSIVE}[_sign(gain, margin)]
    sentence = f"The best prompt depth's average is {plus_minus(gain, 1)} points over zero-shot (paper: > +14)."
    return _verdict("depth.exceeds-clip-by-14", outcome, sentence, gain=gain, margin=margin)


def decide_more_prompts_help(curves: Mapping[str, Mapping[int, Estimate]], learned: Mapping[str, Estimate]) -> Verdict:
    """Sec. 3.5: "Increasing the number of prompts can improve performance".

    The average curve over the tasks that learned, at the counts where none of them failed: the
    best larger count against the smallest. supports: above it beyond the Bonferroni multiple of the
    SE for the number of larger counts (`_bonferroni_z`: the best of several is picked after the
    fact); contradicts: even the best larger count below the smallest beyond 2 SE; else inconclusive."""
    claim = "count.more-prompts-help"
    kept, left = _learned_tasks(learned)
    if not kept:
        return _none_learned(claim, learned, "prompts of any number")
    if (few := too_few_tasks(claim, kept, _left_out(learned, left), learned=dict(learned))) is not None:
        return few
    curve = _average_curve(curves, kept)
    counts = sorted(curve)
    if len(counts) < 2:
        return _verdict(claim, INCONCLUSIVE, f"Needs at least two prompt counts, got {counts}.")
    best = max(counts[1:], key=lambda c: curve[c].mean)
    gain = _difference(curve[best], curve[counts[0]])
    gain_tasks = _across_tasks({d: curves[d][best].mean - curves[d][counts[0]].mean for d in kept})
    z = _bonferroni_z(len(counts) - 1)
    if gain.mean - z * gain.se > 0:
        outcome = SUPPORTS
    elif gain.high < 0:
        outcome = CONTRADICTS
    else:
        outcome = INCONCLUSIVE
    sentence = (f"Average of {_the_learned(kept)}, the best of {len(counts) - 1} larger counts ({best}+{best}) against "
                f"{counts[0]}+{counts[0]}: {signed(gain.mean, 2)} ± {number(z * gain.se, 2)} over the seeds ({number(z, 2)} "
                f"SE: the best of {len(counts) - 1} comparisons; ± {number(Z * gain_tasks.se, 2)} with the task as the "
                "unit)." + _left_out(learned, left))
    return _verdict(claim, outcome, sentence, gain=gain, gain_between_tasks=gain_tasks, best=best, z=z,
                    bonferroni_half_width=z * gain.se, left_out=_gains_of(learned, left))


def _bonferroni_z(comparisons: int) -> float:
    """The SE multiple that keeps the two-sided 2-SE error rate (4.55%) over the best of `comparisons`
    estimates (Bonferroni): picking the largest of several gains and judging it at 2 SE would find
    a gain in noise more often than the rule says."""
    alpha = 2 * (1 - statistics.NormalDist().cdf(Z))
    return statistics.NormalDist().inv_cdf(1 - alpha / 2 / comparisons)


def decide_unstable_above(runs: Mapping[str, Mapping[int, Sequence[float | None]]], chance: Mapping[str, float],
                          learned: Mapping[str, Estimate]) -> Verdict:
    """Sec. 3.5 / App. C.2: "when the number of multi-modal prompts exceeds 20 [> 10 per branch],
    the learning process … becomes highly unstable and prone to failure, especially for
    datasets with limited category information such as EuroSAT."

    runs: per task and prompts per branch, the accuracy of each seed (None = diverged), of the
    tasks that learned at or below the threshold (`learned`: the gain of the best count there; a
    task that learns nowhere says nothing about where learning fails). A run failed when it
    diverged or ended at or below chance + the claim's limit "failed_within" (5 points: it learned
    nothing); the paper's Table 3 dashes are values it does not give, not failed runs (`positive`).
    supports: failures above the threshold and none at or below it; contradicts: no
    failure above the threshold while its seed spread is no larger than below (pooled std ratio
    ≤ 1.5, a std below 0.1 counted as 0.1); else inconclusive (including grids without counts
    above, and settings of one run each, which have no spread)."""
    claim = "count.unstable-above-10-per-branch"
    threshold, failed_within, spread_ratio = (CLAIMS[claim].limits[k] for k in ("above", "failed_within", "spread_ratio"))
    kept, left = _learned_tasks(learned)
    if not kept:
        return _none_learned(claim, learned, f"at most {threshold} prompts per branch")

    def failed(d, acc):
        return acc is None or acc <= chance[d] + failed_within
    above = {(d, c): v for d in kept for c, v in runs[d].items() if c > threshold}
    below = {(d, c): v for d in kept for c, v in runs[d].items() if c <= threshold}
    if not above or not below:
        return _verdict(claim, INCONCLUSIVE, f"The grid needs counts at or below and above {threshold} per branch.")
    fail_above = sorted({f"{d} {c}+{c}" for (d, c), v in above.items() for a in v if failed(d, a)})
    fail_below = sorted({f"{d} {c}+{c}" for (d, c), v in below.items() for a in v if failed(d, a)})

    def pooled_std(cells):
        spreads = [statistics.pvariance([a for a in v if a is not None]) for v in cells.values()
                   if sum(a is not None for a in v) > 1]
        return math.sqrt(statistics.fmean(spreads)) if spreads else None
    spread_above, spread_below = pooled_std(above), pooled_std(below)
    # one run per setting (the paper's printed means) has no seed spread to compare
    ratio = None if spread_above is None or spread_below is None else spread_above / max(spread_below, 0.1)
    if fail_above and not fail_below:
        outcome = SUPPORTS
    elif not fail_above and ratio is not None and ratio <= spread_ratio:
        outcome = CONTRADICTS
    else:
        outcome = INCONCLUSIVE
    spread = "not measured (one run per setting)" if ratio is None else f"{number(ratio, 2)}×"
    sentence = (f"Failed runs (diverged, or at most chance + {failed_within:g} points) above {threshold} per branch: {names(fail_above)}; "
                f"at or below: {names(fail_below)}. Seed spread above / below: {spread}." + _left_out(learned, left))
    return _verdict(claim, outcome, sentence, failed_above=fail_above, failed_below=fail_below, spread_ratio=ratio,
                    left_out=_gains_of(learned, left))
