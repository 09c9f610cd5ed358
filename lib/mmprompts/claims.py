"""The paper's claims as tested code: what it says, where, and a rule that decides it from this run.

Each `Claim` holds the paper's words (quoted, with section / figure / table), what this
library measures for it, and its decision rule with the tolerance and why. Each `decide_*`
function is pure: it takes this run's statistics (plain numbers) and returns a `Verdict`
(`supports` / `contradicts` / `inconclusive`, the numbers it used, one generated sentence).
Notebooks compute the statistics with `mmprompts.analysis` and call these functions; they hold
no threshold and no verdict sentence of their own. Each page records its verdicts
(`record_verdicts`) next to its executed notebook, and the ledger page reads them all.

Tolerances. Differences are judged against their standard error (SE), never a bare sign:
"significant" means the difference is more than 2 SE away from the boundary (about a 95%
two-sided interval). The SE is the spread of the unit the paper averages over: seeds for
accuracies (Tables 1-3), images for relevancy and [cls]-attention maps (Figs. 2, 3, 6), and
blocks x heads for attention shares (Fig. 4, one bar per head). A statement about "most
datasets" needs a majority of the datasets shown, with none significantly the other way.
"""
from __future__ import annotations

import html
import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import torch

__all__ = [
    "CLAIMS", "CONTRADICTS", "FAR_FROM_WEB_PHOTOS", "Claim", "Estimate", "INCONCLUSIVE", "SUPPORTS", "Verdict", "combine",
    "decide_bias_beats_prompts", "decide_bias_gain_largest", "decide_bias_near_optimal", "decide_depth_best_near_top",
    "decide_depth_exceeds_clip", "decide_depth_rises", "decide_equal", "decide_direction", "decide_identities",
    "decide_many_classes_keep_gaining", "decide_map_kept", "decide_more_prompts_help", "decide_relative_attention",
    "decide_scope_unchanged", "decide_unstable_above", "decide_zero_shot_weak", "estimate", "ledger_rows", "load_verdicts",
    "cls_map_effects", "paired", "record_verdicts", "relevancy_effects", "report", "seed_estimate", "text_attention_effects",
]

SUPPORTS, CONTRADICTS, INCONCLUSIVE = "supports", "contradicts", "inconclusive"
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
        return f"{self.mean:+.3f} ± {Z * self.se:.3f}" if self.se else f"{self.mean:+.3f}"


@dataclass(frozen=True)
class Verdict:
    claim: Claim
    outcome: str
    sentence: str
    numbers: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"claim": asdict(self.claim), "outcome": self.outcome, "sentence": self.sentence,
                "numbers": self.numbers}

    @classmethod
    def from_json(cls, data: dict) -> "Verdict":
        return cls(Claim(**data["claim"]), data["outcome"], data["sentence"], data["numbers"])

    def _repr_markdown_(self) -> str:
        # a claim is the paper's words; a check describes what this implementation must satisfy
        what = f"“{self.claim.quote}”" if self.claim.kind == "claim" else f"check: {self.claim.quote}"
        return f"**{self.outcome.capitalize()}** ({self.claim.where}: {what}). {self.sentence}"

    def _repr_html_(self) -> str:
        what = (f"<q>{html.escape(self.claim.quote)}</q>" if self.claim.kind == "claim"
                else f"check of this implementation: {html.escape(self.claim.quote)}")
        return (f'<div class="mmp-verdict mmp-{self.outcome}"><span class="mmp-outcome">{self.outcome}</span> '
                f'<span class="mmp-where">{html.escape(self.claim.where)}</span> {what}<br>{html.escape(self.sentence)}</div>')


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
    means = [statistics.fmean(v) for v in per_dataset.values()]
    variances = [statistics.variance(v) / len(v) if len(v) > 1 else 0.0 for v in per_dataset.values()]
    return Estimate(statistics.fmean(means), math.sqrt(sum(variances)) / len(means), min(len(v) for v in per_dataset.values()))


def _difference(a: Estimate, b: Estimate) -> Estimate:
    return Estimate(a.mean - b.mean, math.hypot(a.se, b.se), min(a.n, b.n))


def _sign(e: Estimate, boundary: float = 0.0) -> int:
    """+1 / −1 when the estimate is significantly above / below the boundary, else 0."""
    return 1 if e.low > boundary else -1 if e.high < boundary else 0


def _verdict(claim_id: str, outcome: str, sentence: str, **numbers) -> Verdict:
    return Verdict(CLAIMS[claim_id], outcome, sentence, {k: _plain(v) for k, v in numbers.items()})


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


def _names(items: Iterable[str]) -> str:
    items = list(items)
    return ", ".join(items) if items else "none"


# ----------------------------------------------------------------------------- generic rules
def decide_direction(claim_id: str, effects: Mapping[str, Estimate], expected: int, what: str) -> Verdict:
    """A per-dataset effect that the paper says goes one way (`expected` = +1 or −1) "in most datasets".

    supports: significant in the expected direction on more than half of the datasets and
    significantly the other way on none; contradicts: significantly the other way on more
    datasets than the expected way, and on at least half; else inconclusive."""
    if not effects:
        return _verdict(claim_id, INCONCLUSIVE, f"No dataset to measure {what} on.")
    signs = {d: _sign(e) for d, e in effects.items()}
    agree = [d for d, s in signs.items() if s == expected]
    oppose = [d for d, s in signs.items() if s == -expected]
    n = len(effects)
    if len(agree) > n / 2 and not oppose:
        outcome = SUPPORTS
    elif len(oppose) > len(agree) and len(oppose) >= n / 2:
        outcome = CONTRADICTS
    else:
        outcome = INCONCLUSIVE
    word = "rises" if expected > 0 else "falls"
    sentence = (f"{_first_upper(what)} {word} significantly (beyond {Z:g} SE) on {len(agree)} of {n} datasets "
                f"({_names(agree)}) and significantly the other way on {len(oppose)} ({_names(oppose)}).")
    return _verdict(claim_id, outcome, sentence, effects=dict(effects))


def decide_equal(claim_id: str, effects: Mapping[str, Estimate], margins: Mapping[str, float], what: str) -> Verdict:
    """An effect the paper says is absent ("stays the same"): an equivalence test per dataset.

    The same: |effect| + 2 SE ≤ margin; different: |effect| − 2 SE > margin; majority as in
    `decide_direction`."""
    if not effects:
        return _verdict(claim_id, INCONCLUSIVE, f"No dataset to measure {what} on.")
    same = [d for d, e in effects.items() if abs(e.mean) + Z * e.se <= margins[d]]
    different = [d for d, e in effects.items() if abs(e.mean) - Z * e.se > margins[d]]
    n = len(effects)
    outcome = (SUPPORTS if len(same) > n / 2 and not different else
               CONTRADICTS if len(different) > len(same) and len(different) >= n / 2 else INCONCLUSIVE)
    sentence = (f"{_first_upper(what)} stays within its margin on {len(same)} of {n} datasets ({_names(same)}) "
                f"and surely leaves it on {len(different)} ({_names(different)}).")
    return _verdict(claim_id, outcome, sentence, effects=dict(effects), margins=dict(margins))


def decide_map_kept(claim_id: str, similarity: Mapping[str, Estimate], what: str, threshold: float = 0.5) -> Verdict:
    """Maps the paper says prompts leave unchanged, per dataset a normalised similarity
    s = (r − r_unrelated) / (1 − r_unrelated) of the prompted model's map to CLIP's map of the
    same image (1: identical; 0: no more alike than CLIP's maps of two different images).

    kept: s − 2 SE ≥ threshold (closer to identical than to an unrelated image's map, with
    the default 0.5); changed: s + 2 SE < threshold; majority as in `decide_direction`."""
    if not similarity:
        return _verdict(claim_id, INCONCLUSIVE, f"No dataset to compare {what} on.")
    kept = [d for d, s in similarity.items() if s.low >= threshold]
    changed = [d for d, s in similarity.items() if s.high < threshold]
    n = len(similarity)
    outcome = (SUPPORTS if len(kept) > n / 2 and not changed else
               CONTRADICTS if len(changed) > len(kept) and len(changed) >= n / 2 else INCONCLUSIVE)
    values = ", ".join(f"{d} {s.mean:.2f}" for d, s in similarity.items())
    sentence = (f"Normalised similarity of {what} to zero-shot CLIP's (1 identical, 0 unrelated): {values}; "
                f"kept (≥ {threshold} beyond {Z:g} SE) on {len(kept)} of {n}, changed on {len(changed)}.")
    return _verdict(claim_id, outcome, sentence, similarity=dict(similarity), threshold=threshold)


def combine(claim_id: str, parts: Mapping[str, Verdict]) -> Verdict:
    """A claim made of several parts: supports when every part does, contradicts when any part does."""
    outcomes = [v.outcome for v in parts.values()]
    outcome = (CONTRADICTS if CONTRADICTS in outcomes else SUPPORTS if all(o == SUPPORTS for o in outcomes)
               else INCONCLUSIVE)
    sentence = "; ".join(f"{name}: {v.outcome}" for name, v in parts.items()) + "."
    return _verdict(claim_id, outcome, sentence, parts={name: v.numbers for name, v in parts.items()})


# ----------------------------------------------------------------------------- page 1: zero-shot
# The paper's datasets whose images are furthest from the web photos CLIP learned from: satellite
# tiles and texture close-ups (this book's reading of "significant differences from natural
# language and images"; the paper names no list). A mini task counts through its analogue.
FAR_FROM_WEB_PHOTOS = ("eurosat", "dtd")


def decide_zero_shot_weak(accuracy: Mapping[str, float], test_items: Mapping[str, int],
                          analogue: Mapping[str, str]) -> Verdict:
    """Zero-shot accuracy on the datasets far from web photos (`FAR_FROM_WEB_PHOTOS`, through
    each dataset's `analogue`) against the others.

    SE of a test accuracy p on n images: 100 · sqrt(p (1 − p) / n) (binomial)."""
    def group(names):
        ses = [100 * math.sqrt(accuracy[d] / 100 * (1 - accuracy[d] / 100) / test_items[d]) for d in names]
        return Estimate(statistics.fmean(accuracy[d] for d in names), math.sqrt(sum(s * s for s in ses)) / len(names),
                        len(names))
    shifted = [d for d in accuracy if analogue[d] in FAR_FROM_WEB_PHOTOS]
    others = [d for d in accuracy if d not in shifted]
    if not shifted or not others:
        return _verdict("zeroshot.weak-where-images-differ", INCONCLUSIVE,
                        f"Needs datasets of both kinds; shown: shifted {_names(shifted)}, others {_names(others)}.")
    gap = _difference(group(shifted), group(others))
    outcome = {-1: SUPPORTS, 1: CONTRADICTS, 0: INCONCLUSIVE}[_sign(gap)]
    sentence = (f"Zero-shot accuracy on {_names(shifted)} is {group(shifted).mean:.1f}% against {group(others).mean:.1f}% "
                f"on {_names(others)}: a gap of {gap.mean:+.1f} ± {Z * gap.se:.1f} points.")
    return _verdict("zeroshot.weak-where-images-differ", outcome, sentence, gap=gap, shifted=shifted, others=others)


# ----------------------------------------------------------------------------- page 2: attention formulation
def decide_identities(max_error: float, tolerance: float = 1e-5) -> Verdict:
    """Appendix B's algebra on this implementation: both parts of eq. 32 hold to float32 rounding."""
    outcome = SUPPORTS if max_error <= tolerance else CONTRADICTS
    sentence = (f"The largest deviation from the two identities over every block is {max_error:.1e} "
                f"(tolerance {tolerance:.0e}, float32 attention against a float64 recomputation).")
    return _verdict("formulation.identities", outcome, sentence, max_error=max_error, tolerance=tolerance)


def decide_relative_attention(change_per_block: Sequence[float], float_tolerance: float = 1e-4,
                              changed: float = 0.02, unchanged: float = 0.005) -> Verdict:
    """Fig. 1: in the first block the input tokens' attention is CLIP's scaled by one factor per
    query; in later blocks the relative attention among input tokens differs from CLIP's.

    Input per block: the total variation between the prompted model's attention renormalised
    over input tokens and zero-shot CLIP's attention (mean over images, heads, queries).
    supports: block 1 ≤ `float_tolerance` and some later block ≥ `changed` (2% of each
    query's attention mass moved); contradicts: block 1 above the float tolerance, or every
    later block ≤ `unchanged` (0.5%, the relative attention is CLIP's); else inconclusive."""
    if len(change_per_block) < 2:
        return _verdict("formulation.relative-attention", INCONCLUSIVE, "Needs a model with at least two blocks.")
    first, later = change_per_block[0], max(change_per_block[1:])
    if first > float_tolerance or later <= unchanged:
        outcome = CONTRADICTS
    elif later >= changed:
        outcome = SUPPORTS
    else:
        outcome = INCONCLUSIVE
    sentence = (f"Attention moved relative to CLIP's (total variation over input tokens): block 1 {first:.1e}, "
                f"later blocks up to {later:.3f} (changed ≥ {changed}, unchanged ≤ {unchanged}).")
    return _verdict("formulation.relative-attention", outcome, sentence, change_per_block=list(change_per_block))


# ----------------------------------------------------------------------------- page 5: attention scope
def decide_scope_unchanged(claim_id: str, ratios: Mapping[str, Mapping[str, float]], what: str,
                           unchanged: float = 0.5, changed: float = 1.0) -> Verdict:
    """Figs. 5 / 7: CLIP, "W/O prompt" and "W prompt" show no significant difference.

    Input: per variant and dataset, the mean |variant − CLIP| over (block, head) divided by
    CLIP's own head-to-head spread (std over the heads of a block, mean over blocks) — the
    scale of the dots in Fig. 5. A variant is unchanged on a dataset at ratio ≤ `unchanged`
    (half the spread between heads), changed at ratio ≥ `changed`. supports: every variant
    unchanged on most datasets and changed on none; contradicts: some variant changed on at
    least half of the datasets; else inconclusive."""
    outcome, parts = SUPPORTS, []
    for variant, by_dataset in ratios.items():
        n = len(by_dataset)
        kept = [d for d, r in by_dataset.items() if r <= unchanged]
        moved = [d for d, r in by_dataset.items() if r >= changed]
        if moved and len(moved) >= n / 2:
            outcome = CONTRADICTS
        elif outcome == SUPPORTS and not (len(kept) > n / 2 and not moved):
            outcome = INCONCLUSIVE
        parts.append(f"{variant}: " + ", ".join(f"{d} {r:.2f}" for d, r in by_dataset.items()))
    if not ratios:
        outcome = INCONCLUSIVE
    sentence = (f"Mean |difference from CLIP| of {what} in units of CLIP's head-to-head spread (unchanged ≤ "
                f"{unchanged}, changed ≥ {changed}): " + "; ".join(parts) + ".")
    return _verdict(claim_id, outcome, sentence, ratios=dict(ratios))


# ----------------------------------------------------------------------------- page 6: Table 1
def decide_bias_beats_prompts(bias: Mapping[str, Sequence[float]], prompt: Mapping[str, Sequence[float]]) -> Verdict:
    """Table 1: bias tuning beats same-size prompts on average (paper 79.5 vs 77.8)."""
    gap = _difference(seed_estimate(bias), seed_estimate(prompt))
    outcome = {1: SUPPORTS, -1: CONTRADICTS, 0: INCONCLUSIVE}[_sign(gap)]
    sentence = (f"Averaged over {len(bias)} datasets, bias − same-size prompts = {gap.mean:+.2f} ± {Z * gap.se:.2f} "
                f"points (paper: +1.7 over 11 datasets).")
    return _verdict("bias.beats-same-size-prompts", outcome, sentence, gap=gap)


def decide_bias_gain_largest(target: str | None, bias: Mapping[str, Sequence[float]],
                             prompt: Mapping[str, Sequence[float]]) -> Verdict:
    """Table 1 / abstract: bias beats prompts "by a large margin" on EuroSAT — the largest gain.

    supports: the target's gain is significantly positive and the largest; contradicts: its
    gain is significantly negative, or another dataset's gain is surely larger (intervals
    apart); else inconclusive."""
    claim = "bias.largest-gain-on-eurosat"
    if target is None or target not in bias:
        return _verdict(claim, INCONCLUSIVE, "No dataset standing for EuroSAT is among those shown.")
    gains = {d: _difference(estimate(bias[d]), estimate(prompt[d])) for d in bias}
    mine = gains[target]
    surely_larger = [d for d, g in gains.items() if d != target and g.low > mine.high]
    if mine.high < 0 or surely_larger:
        outcome = CONTRADICTS
    elif mine.low > 0 and mine.mean >= max(g.mean for g in gains.values()):
        outcome = SUPPORTS
    else:
        outcome = INCONCLUSIVE
    sentence = (f"Gain of bias over same-size prompts: " + ", ".join(f"{d} {g.mean:+.1f}" for d, g in gains.items())
                + f"; on {target} {mine.mean:+.1f} ± {Z * mine.se:.1f} (paper, EuroSAT: +14.8, the largest)."
                + (f" Surely larger elsewhere: {_names(surely_larger)}." if surely_larger else ""))
    return _verdict(claim, outcome, sentence, gains=gains, target=target)


def decide_bias_near_optimal(bias: Mapping[str, Sequence[float]], optimal: Mapping[str, Sequence[float]],
                             slight: float = 2.0) -> Verdict:
    """Sec. 3.4: "the slight performance gap (0.5) between bias tuning and the optimal prompt
    tuning settings … still exists" (OPTIMAL = 10 + 10 prompts at full depth, Table 3's "20 prompts").

    gap = OPTIMAL − BIAS averaged over datasets, SE from seeds. supports: gap ≥ 0 and
    gap + 2 SE ≤ `slight`; contradicts: gap − 2 SE > `slight` (a large gap) or gap + 2 SE < 0
    (bias surely better: no gap exists); else inconclusive. `slight` = 2 points: the paper
    calls 0.5 slight, and seed spreads of a few-shot run are about 1 point (several on DTD
    and EuroSAT), so a gap under 2 points is one a reader would call slight."""
    gap = _difference(seed_estimate(optimal), seed_estimate(bias))
    if gap.low > slight or gap.high < 0:
        outcome = CONTRADICTS
    elif gap.mean >= 0 and gap.high <= slight:
        outcome = SUPPORTS
    else:
        outcome = INCONCLUSIVE
    sentence = (f"OPTIMAL − BIAS averaged over {len(bias)} datasets = {gap.mean:+.2f} ± {Z * gap.se:.2f} points "
                f"(paper: +0.5; 'slight' up to {slight:g}).")
    return _verdict("bias.slight-gap-to-optimal", outcome, sentence, gap=gap, slight=slight)


# ----------------------------------------------------------------------------- page 7: Tables 2 and 3
def decide_depth_rises(curve: Mapping[int, Estimate]) -> Verdict:
    """Sec. 3.5 / App. C.1: accuracy rises with the number of prompted blocks, "but the upward
    trend also gradually slows down".

    curve: dataset-average accuracy per depth (SE from seeds). rises: deepest − shallowest >
    2 SE; slows down: the gain per block over the first half of the depth range ≥ over the
    second. supports: both; contradicts: significantly falls, or the second half gains
    significantly more per block; else inconclusive."""
    depths = sorted(curve)
    if len(depths) < 3:
        return _verdict("depth.rises-and-slows", INCONCLUSIVE, f"Needs at least three depths, got {depths}.")
    low, mid, high = depths[0], depths[len(depths) // 2], depths[-1]
    total = _difference(curve[high], curve[low])
    first, second = _difference(curve[mid], curve[low]), _difference(curve[high], curve[mid])
    slope1 = Estimate(first.mean / (mid - low), first.se / (mid - low))
    slope2 = Estimate(second.mean / (high - mid), second.se / (high - mid))
    speeding = _difference(slope2, slope1)
    if total.high < 0 or speeding.low > 0:
        outcome = CONTRADICTS
    elif total.low > 0 and slope1.mean >= slope2.mean:
        outcome = SUPPORTS
    else:
        outcome = INCONCLUSIVE
    sentence = (f"Average accuracy from depth {low} to {high}: {total.mean:+.2f} ± {Z * total.se:.2f}; per block "
                f"{slope1.mean:+.2f} up to depth {mid} and {slope2.mean:+.2f} after.")
    return _verdict("depth.rises-and-slows", outcome, sentence, total=total, slope_first=slope1, slope_second=slope2)


def _saturation_depth(curve: Mapping[int, Estimate]) -> int:
    """The smallest depth whose accuracy is within 2 SE of the best depth's."""
    best = max(curve.values(), key=lambda e: e.mean)
    return min(d for d, e in curve.items() if e.mean >= best.mean - Z * math.hypot(best.se, e.se))


def decide_many_classes_keep_gaining(curves: Mapping[str, Mapping[int, Estimate]], classes: Mapping[str, int],
                                     few: str | None) -> Verdict:
    """App. C.1: "for datasets with a large number of categories, such as ImageNet, the
    performance continues to increase … for … EuroSAT, the performance saturates after adding a
    smaller number of multi-modal prompt layers."

    The dataset with the most classes against the EuroSAT stand-in (`few`): each one's
    saturation depth (smallest depth within 2 SE of its best). supports: the many-class one
    saturates later; contradicts: earlier; inconclusive: at the same depth."""
    claim = "depth.many-classes-keep-gaining"
    many = max(classes, key=classes.get)
    if few is None or few not in curves or few == many:
        return _verdict(claim, INCONCLUSIVE, "Needs a EuroSAT stand-in and a dataset with more classes.")
    s_many, s_few = _saturation_depth(curves[many]), _saturation_depth(curves[few])
    outcome = SUPPORTS if s_many > s_few else CONTRADICTS if s_many < s_few else INCONCLUSIVE
    sentence = (f"{many} ({classes[many]} classes) reaches its best within noise at depth {s_many}; "
                f"{few} ({classes[few]} classes) at depth {s_few}.")
    return _verdict(claim, outcome, sentence, many=many, few=few, saturation_many=s_many, saturation_few=s_few)


def decide_depth_best_near_top(curve: Mapping[int, Estimate], layers: int) -> Verdict:
    """App. C.1: "With the addition of the 10 and 11-layer multi-modal prompts, the average
    performance reached its highest" (of 12 blocks).

    The depths at 10/12 and 11/12 of this model's depth (rounded) must be in the grid.
    supports: the best average is at one of them and significantly above full depth …
    or tied with it; contradicts: another depth is significantly better than both; else
    inconclusive."""
    claim = "depth.best-at-10-11-of-12"
    near = sorted({round(layers * 10 / 12), round(layers * 11 / 12)} & set(curve) - {layers})
    if not near:
        return _verdict(claim, INCONCLUSIVE, f"The depth grid {sorted(curve)} of this {layers}-block model has no "
                        f"depth at 10–11 twelfths of it below full depth, so the claim cannot be tested here.")
    best_near = max((curve[d] for d in near), key=lambda e: e.mean)
    others = {d: e for d, e in curve.items() if d not in near}
    beaten_by = [d for d, e in others.items() if e.low > best_near.high]
    outcome = (CONTRADICTS if beaten_by else
               SUPPORTS if all(best_near.mean >= e.mean for e in others.values()) else INCONCLUSIVE)
    sentence = (f"Average accuracy at depths {near}: {best_near.mean:.2f}; best elsewhere: "
                f"{max(others.values(), key=lambda e: e.mean).mean:.2f}" if others else "")
    return _verdict(claim, outcome, sentence + ".", near=near, beaten_by=beaten_by)


def decide_depth_exceeds_clip(best: Estimate, clip: float, margin: float = 14.0) -> Verdict:
    """App. C.1: the best average "exceeding CLIP by more than 14 points"."""
    gain = Estimate(best.mean - clip, best.se, best.n)
    outcome = {1: SUPPORTS, -1: CONTRADICTS, 0: INCONCLUSIVE}[_sign(gain, margin)]
    sentence = f"The best prompt depth's average is {gain.mean:+.1f} ± {Z * gain.se:.1f} points over zero-shot (paper: > +14)."
    return _verdict("depth.exceeds-clip-by-14", outcome, sentence, gain=gain, margin=margin)


def decide_more_prompts_help(curve: Mapping[int, Estimate]) -> Verdict:
    """Sec. 3.5: "Increasing the number of prompts can improve performance"."""
    counts = sorted(curve)
    if len(counts) < 2:
        return _verdict("count.more-prompts-help", INCONCLUSIVE, f"Needs at least two prompt counts, got {counts}.")
    best = max(counts[1:], key=lambda c: curve[c].mean)
    gain = _difference(curve[best], curve[counts[0]])
    outcome = {1: SUPPORTS, -1: CONTRADICTS, 0: INCONCLUSIVE}[_sign(gain)]
    sentence = f"The best larger count ({best}+{best}) against {counts[0]}+{counts[0]}: {gain.mean:+.2f} ± {Z * gain.se:.2f} points."
    return _verdict("count.more-prompts-help", outcome, sentence, gain=gain, best=best)


def decide_unstable_above(runs: Mapping[str, Mapping[int, Sequence[float | None]]], chance: Mapping[str, float],
                          threshold: int = 10) -> Verdict:
    """Sec. 3.5 / App. C.2: "when the number of multi-modal prompts exceeds 20 [> 10 per branch],
    the learning process … becomes highly unstable and prone to failure, especially for
    datasets with limited category information such as EuroSAT."

    runs: per dataset and prompts per branch, the accuracy of each seed (None = diverged).
    A run failed when it diverged or ended at or below chance + 5 points (it learned nothing,
    like the paper's dashes). supports: failures above the threshold and none at or below it;
    contradicts: no failure above the threshold while its seed spread is no larger than
    below (pooled std ratio ≤ 1.5); else inconclusive (including grids without counts above)."""
    claim = "count.unstable-above-10-per-branch"
    def failed(d, acc):
        return acc is None or acc <= chance[d] + 5.0
    above = {(d, c): v for d, per in runs.items() for c, v in per.items() if c > threshold}
    below = {(d, c): v for d, per in runs.items() for c, v in per.items() if c <= threshold}
    if not above or not below:
        return _verdict(claim, INCONCLUSIVE, f"The grid needs counts at or below and above {threshold} per branch.")
    fail_above = sorted({f"{d} {c}+{c}" for (d, c), v in above.items() for a in v if failed(d, a)})
    fail_below = sorted({f"{d} {c}+{c}" for (d, c), v in below.items() for a in v if failed(d, a)})

    def pooled_std(cells):
        spreads = [statistics.pvariance([a for a in v if a is not None]) for v in cells.values()
                   if sum(a is not None for a in v) > 1]
        return math.sqrt(statistics.fmean(spreads)) if spreads else 0.0
    ratio = pooled_std(above) / max(pooled_std(below), 0.1)
    if fail_above and not fail_below:
        outcome = SUPPORTS
    elif not fail_above and ratio <= 1.5:
        outcome = CONTRADICTS
    else:
        outcome = INCONCLUSIVE
    sentence = (f"Failed runs (diverged, or at most chance + 5 points) above {threshold} per branch: {_names(fail_above)}; "
                f"at or below: {_names(fail_below)}. Seed spread above / below: {ratio:.2f}×.")
    return _verdict(claim, outcome, sentence, failed_above=fail_above, failed_below=fail_below, spread_ratio=ratio)


# ----------------------------------------------------------------------------- from statistics to effects
def relevancy_effects(clip: Mapping, prompted: Mapping, n_patches: int) -> dict[str, Estimate]:
    """The per-dataset effects of Sec. 3.2.2 from two `relevancy_statistics` of the same images
    (zero-shot CLIP with "a photo of a {}.", the prompted model), paired image by image.

    category / sos: change of that group's share of EOS relevance; prefix: the learned
    prompts' share against the template words they replace (prompt + template groups of each
    model: the words before the class name); sos_most: the SOS gain minus the prefix gain;
    patches: normalised similarity of the patch relevance (renormalised over patches) to
    CLIP's; vision_prompts: the vision prompts' share over their uniform share, minus 1
    (absent without vision prompts)."""
    groups = list(prompted["text_groups"])
    c, p = clip["text_group_samples"], prompted["text_group_samples"]
    col = lambda t, name: t[:, groups.index(name)]  # noqa: E731
    prefix = lambda t: col(t, "prompt") + col(t, "template")  # noqa: E731
    effects = {
        "category": paired(col(p, "category").tolist(), col(c, "category").tolist()),
        "sos": paired(col(p, "sos").tolist(), col(c, "sos").tolist()),
        "prefix": paired(prefix(p).tolist(), prefix(c).tolist()),
        "sos_most": paired((col(p, "sos") - prefix(p)).tolist(), (col(c, "sos") - prefix(c)).tolist()),
    }
    from .analysis import normalised_similarity

    def patches(stats):
        rows = stats["image_samples"][:, :n_patches]
        return rows / rows.sum(-1, keepdim=True)
    effects["patches"] = estimate(normalised_similarity(patches(prompted), patches(clip)).tolist())
    n_prompts = prompted["image_samples"].shape[1] - n_patches
    if n_prompts:
        uniform = n_prompts / (n_patches + n_prompts)
        effects["vision_prompts"] = estimate((prompted["image_samples"][:, n_patches:].sum(-1) / uniform - 1).tolist())
    return effects


def text_attention_effects(clip: torch.Tensor, prompted: torch.Tensor, groups: Sequence[str]) -> dict[str, Estimate]:
    """Fig. 4's effects from two `token_group_attention(...)["text"]` tensors [layers, heads, groups],
    paired over the block × head cells (the bars of Fig. 4): sos, prefix (learned prompts
    against CLIP's "a photo of a": the words before the class name) and category; plus
    `category_level`, CLIP's mean category share (the scale of the equivalence margin)."""
    col = lambda t, name: t[..., list(groups).index(name)].flatten()  # noqa: E731
    prefix = lambda t: col(t, "prompt") + col(t, "template")  # noqa: E731
    return {
        "sos": paired(col(prompted, "sos").tolist(), col(clip, "sos").tolist()),
        "prefix": paired(prefix(prompted).tolist(), prefix(clip).tolist()),
        "category": paired(col(prompted, "category").tolist(), col(clip, "category").tolist()),
        "category_level": Estimate(col(clip, "category").mean().item()),
    }


def cls_map_effects(clip_attention: torch.Tensor, prompted_attention: torch.Tensor,
                    similarity: torch.Tensor) -> dict[str, Estimate]:
    """Fig. 6's effects from maps [layers, B, S, S] of the same images: `kept`, the normalised
    similarity of the prompted model's [cls] attention to CLIP's (mean over blocks per image);
    `background`, the correlation of the prompts' similarity map with CLIP's [cls] attention
    (mean over blocks per image; negative = the prompts resemble what [cls] does not look at)."""
    from .analysis import map_correlation, normalised_similarity

    kept = torch.stack([normalised_similarity(p, c) for p, c in zip(prompted_attention, clip_attention)]).mean(0)
    background = map_correlation(similarity, clip_attention).mean(0)
    return {"kept": estimate(kept.tolist()), "background": estimate(background.tolist())}


# ----------------------------------------------------------------------------- the register
_CLAIMS = [
    Claim("zeroshot.weak-where-images-differ", "their zero-shot performance is unsatisfactory in many specific datasets, "
          "especially those with significant differences from natural language and images", "Sec. 1", "01_zero_shot",
          "zero-shot top-1 accuracy per dataset (the dataset's own template)",
          "datasets whose images are furthest from web photos (satellite tiles, textures: EuroSAT and DTD or their "
          "stand-ins) against the others; significant when the gap exceeds 2 binomial SE of the test accuracies"),
    Claim("formulation.identities", "the input part of a prompted update equals the prompt-free update times "
          "Z_in / (Z_in + Z_p), and input part + prompt part equal the update (eq. 32)",
          "App. B, eqs. 17–32", "02_prompts_in_attention", "largest deviation from both identities, every block, float64",
          "an exact identity: holds within float32 rounding (1e-5); a check of this implementation, true by algebra",
          kind="check"),
    Claim("formulation.relative-attention", "In the first layer, the attention between tokens undergoes a proportional "
          "transformation … However, the relative values of attention between tokens are changed in the subsequent layers",
          "Fig. 1, Sec. 3.2.1", "02_prompts_in_attention",
          "per block, total variation between the prompted model's attention renormalised over input tokens and CLIP's",
          "block 1 within float tolerance (1e-4) and some later block ≥ 0.02 (2% of the attention mass moved); "
          "contradicted when block 1 differs or no later block moves more than 0.005"),
    Claim("relevancy.category-decreases", "the contribution of category tokens does not increase but decreases",
          "Sec. 3.2.2, Fig. 2", "03_alignment_contribution",
          "share of EOS relevance on the class-name tokens, prompted − CLIP, paired over test images",
          "per dataset significant beyond 2 SE over images; most datasets, none the other way"),
    Claim("relevancy.sos-increases", "the contribution of t_SOS and prompt tokens significantly increased, especially "
          "the t_SOS token", "Sec. 3.2.2, Fig. 2", "03_alignment_contribution",
          "share of EOS relevance on SOS, prompted − CLIP, paired over test images",
          "per dataset significant beyond 2 SE over images; most datasets, none the other way"),
    Claim("relevancy.prompts-increase", "the contribution of t_SOS and prompt tokens significantly increased",
          "Sec. 3.2.2, Fig. 2", "03_alignment_contribution",
          "share of EOS relevance on the learned prompts minus CLIP's share on the template words they replace "
          "('a photo of a'), paired over test images",
          "per dataset significant beyond 2 SE over images; most datasets, none the other way"),
    Claim("relevancy.sos-most", "especially the t_SOS token", "Sec. 3.2.2, Fig. 2", "03_alignment_contribution",
          "gain of SOS's share minus gain of the prompts' share, paired over test images",
          "per dataset significant beyond 2 SE over images; most datasets, none the other way"),
    Claim("relevancy.patches-unchanged", "the learned multi-modal prompts do not significantly adjust the relative "
          "relevance to [cls] between inputs", "Sec. 3.2.2, Fig. 3", "03_alignment_contribution",
          "per image, correlation of the prompted model's patch relevance with CLIP's, normalised by the correlation "
          "of CLIP's maps of two different images",
          "kept when the normalised similarity is ≥ 0.5 beyond 2 SE (closer to CLIP's own map than to an unrelated "
          "image's); most datasets, none changed"),
    Claim("relevancy.vision-prompts-prominent", "the contribution of multi-modal prompts to the alignment process is "
          "unusually prominent", "Sec. 3.2.2, Fig. 3", "03_alignment_contribution",
          "relevance on the vision prompts divided by their uniform share n_ctx / (patches + n_ctx), per image",
          "prominent when the ratio exceeds 1 beyond 2 SE: a vision prompt then carries more relevance than an average "
          "patch; most datasets, none below"),
    Claim("relevancy.shallow-and-deep", "the contribution of category tokens decreases after adding the learned prompt, "
          "while the contribution of the learned prompt tokens increases compared to that of template tokens. This "
          "phenomenon can be clearly observed in both shallow and deep prompts", "App. E, Figs. 8–23",
          "03_alignment_contribution",
          "the category and prompt-vs-template shares for shallow prompts (first block only) and deep prompts",
          "both rules above hold for both prompt depths (each: most datasets beyond 2 SE, none the other way)"),
    Claim("text-attention.sos-decreases", "the attention of t_EOS towards t_SOS significantly decreases",
          "Sec. 3.3.1, Fig. 4", "04_text_prompts",
          "EOS attention share on SOS, prompted − CLIP, per block and head (mean over the class prompts)",
          "significant beyond 2 SE over the block × head cells (Fig. 4's bars); most datasets, none the other way"),
    Claim("text-attention.prompts-increase", "its attention towards the prompts noticeably increases", "Sec. 3.3.1, Fig. 4",
          "04_text_prompts", "EOS attention on the learned prompts minus CLIP's EOS attention on 'a photo of a'",
          "significant beyond 2 SE over the block × head cells; most datasets, none the other way"),
    Claim("text-attention.category-same", "the attention toward category tokens stays the same", "Sec. 3.3.1, Fig. 4",
          "04_text_prompts", "EOS attention share on the class-name tokens, prompted − CLIP, per block and head",
          "equivalence: |change| + 2 SE within 25% of CLIP's own share (a quarter of the bar is a change a reader "
          "would see in Fig. 4); most datasets, none surely outside"),
    Claim("scope.distance", "there is no significant impact on the model’s attention distance before and after "
          "incorporating prompts for the input patches", "Sec. 3.3.2, Fig. 5", "05_vision_prompts",
          "mean attention distance per block and head (prompt mass at distance 0, ViT convention) for CLIP, W/O prompt, "
          "W prompt", "|difference from CLIP| ≤ 0.5 × CLIP's head-to-head spread on most datasets for both variants; "
          "contradicted at ≥ 1 × on half of them"),
    Claim("scope.distance-renormalised", "there is no significant impact on the model’s attention distance",
          "Sec. 3.3.2, Fig. 5", "05_vision_prompts",
          "the same with each patch query's attention renormalised over patch keys (prompt mass removed)",
          "as for the ViT convention"),
    Claim("scope.entropy", "the prompts do not significantly impact the attention scope", "Sec. 3.3.2, Fig. 5",
          "05_vision_prompts", "attention entropy per block and head ([cls] and patch queries)",
          "as for the distance"),
    Claim("scope.cls-entropy", "we also computed the attention entropy of the [cls] token … the prompts do not "
          "significantly impact the attention scope", "App. D, Fig. 7", "05_vision_prompts",
          "entropy of the [cls] query's attention per block and head", "as for the distance"),
    Claim("cls-attention.unchanged", "the vision prompts do not influence [cls] token’s attention on the input patches",
          "Sec. 3.3.2, Fig. 6 rows 1–2", "05_vision_prompts",
          "per block and image, correlation of the prompted model's [cls] attention over patches with CLIP's, "
          "normalised by the correlation of CLIP's maps of two different images",
          "kept when the normalised similarity is ≥ 0.5 beyond 2 SE over images; most datasets, none changed"),
    Claim("similarity.background", "the learned vision prompts resemble background features in relation to the "
          "attention of the [cls] token, i.e., the features that the [cls] token did not pay attention to",
          "Sec. 3.3.2, Fig. 6 row 3", "05_vision_prompts",
          "per image, correlation between the prompts' similarity map and zero-shot CLIP's [cls] attention map "
          "(mean over blocks)", "negative beyond 2 SE over images (similar where CLIP's [cls] does not look); most "
          "datasets, none positive"),
    Claim("bias.beats-same-size-prompts", "bias tuning outperforms prompt tuning with the same number of parameters",
          "Abstract, Sec. 3.4, Table 1", "06_bias_vs_prompts",
          "average over datasets of BIAS − PROMPT (1 + 1 prompts in every block: the same parameter count)",
          "beyond 2 SE from the seed spread"),
    Claim("bias.largest-gain-on-eurosat", "In datasets with limited category information, i.e., EuroSAT, bias tuning "
          "surpasses prompt tuning by a large margin", "Abstract, Table 1", "06_bias_vs_prompts",
          "BIAS − PROMPT on the EuroSAT stand-in against the other datasets",
          "the stand-in's gain positive beyond 2 SE and the largest; contradicted when negative or another gain is "
          "surely larger"),
    Claim("bias.slight-gap-to-optimal", "the slight performance gap (0.5) between bias tuning and the optimal prompt "
          "tuning settings … still exists", "Sec. 3.4, Table 1", "06_bias_vs_prompts",
          "average OPTIMAL − BIAS, OPTIMAL = 10 + 10 prompts in every block (Table 3's '20 prompts', as in the paper)",
          "gap ≥ 0 and below 2 points beyond 2 SE; contradicted above 2 or below 0 beyond 2 SE"),
    Claim("depth.rises-and-slows", "the performance of the multi-modal prompts increases as the number of layers "
          "increases, but the upward trend also gradually slows down", "Sec. 3.5, App. C.1, Table 2", "07_sensitivity",
          "average accuracy of 4 + 4 prompts in the first d blocks", "rise beyond 2 SE (seeds) and a smaller gain per "
          "block in the second half of the depth range"),
    Claim("depth.many-classes-keep-gaining", "For datasets with many categories, such as ImageNet [8], the performance "
          "continues to increase with more layers … such as EuroSAT [14], the performance saturates after adding a smaller "
          "number", "Sec. 3.5, App. C.1, Table 2", "07_sensitivity",
          "smallest depth within 2 SE of the best, for the dataset with the most classes and the EuroSAT stand-in",
          "the many-class dataset saturates at a larger depth"),
    Claim("depth.best-at-10-11-of-12", "With the addition of the 10 and 11-layer multi-modal prompts, the average "
          "performance reached its highest", "App. C.1, Table 2", "07_sensitivity",
          "average accuracy at depths 10–11 of 12 (the same fractions of this model's depth) against the other depths",
          "best there (or tied); contradicted when another depth is better beyond 2 SE"),
    Claim("depth.exceeds-clip-by-14", "exceeding CLIP by more than 14 points", "App. C.1, Table 2", "07_sensitivity",
          "best average accuracy over depths minus zero-shot CLIP's average", "above 14 points beyond 2 SE"),
    Claim("count.more-prompts-help", "Increasing the number of prompts can improve performance", "Sec. 3.5, App. C.2, "
          "Table 3", "07_sensitivity", "average accuracy of the best larger count against 1 + 1 prompts",
          "beyond 2 SE from the seed spread"),
    Claim("count.unstable-above-10-per-branch", "when the number of multi-modal prompts exceeds 20, the learning process "
          "of the prompts becomes highly unstable and prone to failure, especially for datasets with limited category "
          "information such as EuroSAT [14]", "Sec. 3.5, App. C.2, Table 3", "07_sensitivity",
          "failed runs (diverged, or ending at most 5 points above chance) and seed spread above and at or below "
          "10 prompts per branch (20 multi-modal prompts)",
          "failures only above the threshold; contradicted by no failure above it and a seed spread there at most "
          "1.5 × the spread below"),
]
CLAIMS: dict[str, Claim] = {c.id: c for c in _CLAIMS}


# ----------------------------------------------------------------------------- the ledger
VERDICTS_ENV = "MMPROMPTS_VERDICTS"


def verdicts_folder() -> Path:
    """Where pages record their verdicts: $MMPROMPTS_VERDICTS (set by the book build), else the
    book's `book/executed/verdicts/` (what the ledger page of a built book reads)."""
    import os

    from .book import project_root

    return Path(os.environ.get(VERDICTS_ENV) or project_root() / "book" / "executed" / "verdicts")


def record_verdicts(page: str, verdicts: Iterable[Verdict], folder: Path | None = None) -> Path:
    """Write a page's verdicts as JSON (the ledger page reads every page's file)."""
    from .storage import atomic_write_text

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


def report(page: str, verdicts: Sequence[Verdict]) -> PageVerdicts:
    """A page's conclusion: shown under the cell, and recorded for the ledger when the book is
    being built ($MMPROMPTS_VERDICTS set), so a page run on its own writes nothing."""
    import os

    if os.environ.get(VERDICTS_ENV):
        record_verdicts(page, verdicts)
    return PageVerdicts(tuple(verdicts))


@dataclass(frozen=True)
class _PageLink:
    """A link to a book page (its notebook stem) inside an HTML table; every page sits in one folder."""

    page: str

    def __html__(self) -> str:
        return f'<a href="{html.escape(self.page)}.html">{html.escape(self.page)}</a>'

    def __str__(self) -> str:
        return self.page


def ledger_rows(verdicts: Iterable[Verdict], kind: str = "claim") -> list[dict]:
    """The ledger's rows for `tables.html_table`: one per verdict of that kind ("claim" or "check")."""
    return [{"claim": v.claim.id, "the paper says": f"“{v.claim.quote}”", "where": v.claim.where,
             "this build": v.sentence, "verdict": v.outcome, "page": _PageLink(v.claim.page)}
            for v in verdicts if v.claim.kind == kind]
