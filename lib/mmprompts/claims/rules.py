"""The decision rules: pure functions from this run's statistics to a Verdict (tolerances in each docstring)."""
from __future__ import annotations

import math
import statistics
from typing import Mapping, Sequence

from .core import (CONTRADICTS, INCONCLUSIVE, NOT_TESTABLE, SUPPORTS, Z, Estimate, Verdict, _difference, _first_upper, _plain,
                   _sign, estimate, seed_estimate)
from .register import CLAIMS
from .text import among, counted, names, number, plus_minus, scientific, signed


def _verdict(claim_id: str, outcome: str, sentence: str, **numbers) -> Verdict:
    return Verdict(CLAIMS[claim_id], outcome, sentence, {k: _plain(v) for k, v in numbers.items()})


def not_testable(claim_id: str, failed: str, **numbers) -> Verdict:
    """The verdict of a claim whose precondition fails here; `failed` says which and with what numbers."""
    return _verdict(claim_id, NOT_TESTABLE, f"Not testable here: {failed}", **numbers)


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
                f"({names(agree)}) and significantly the other way on {among(oppose)}.")
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
    sentence = (f"{_first_upper(what)} stays within its margin on {len(same)} of {n} datasets ({names(same)}) "
                f"and leaves it beyond {Z:g} SE on {among(different)}.")
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
    values = ", ".join(f"{d} {number(s.mean)}" for d, s in similarity.items())
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
                        f"Needs datasets of both kinds; shown: shifted {names(shifted)}, others {names(others)}.")
    gap = _difference(group(shifted), group(others))
    outcome = {-1: SUPPORTS, 1: CONTRADICTS, 0: INCONCLUSIVE}[_sign(gap)]
    sentence = (f"Zero-shot accuracy on {names(shifted)} is {number(group(shifted).mean, 1)}% against "
                f"{number(group(others).mean, 1)}% on {names(others)}: a gap of {plus_minus(gap, 1)} points.")
    return _verdict("zeroshot.weak-where-images-differ", outcome, sentence, gap=gap, shifted=shifted, others=others)


# ----------------------------------------------------------------------------- page 2: attention formulation
def decide_identities(max_error: float, tolerance: float = 1e-5) -> Verdict:
    """Appendix B's algebra on this implementation: both parts of eq. 32 hold to float32 rounding."""
    outcome = SUPPORTS if max_error <= tolerance else CONTRADICTS
    sentence = (f"The largest deviation from the two identities over every block is {scientific(max_error)} "
                f"(tolerance {scientific(tolerance, 0)}, float32 attention against a float64 recomputation).")
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
    sentence = (f"Attention moved relative to CLIP's (total variation over input tokens): block 1 {scientific(first)}, "
                f"later blocks up to {number(later, 3)} (changed ≥ {changed}, unchanged ≤ {unchanged}).")
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
        parts.append(f"{variant}: " + ", ".join(f"{d} {number(r)}" for d, r in by_dataset.items()))
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
    sentence = (f"Averaged over {len(bias)} datasets, bias − same-size prompts = {plus_minus(gap)} "
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
    sentence = ("Gain of bias over same-size prompts: " + ", ".join(f"{d} {signed(g.mean, 1)}" for d, g in gains.items())
                + f"; on {target} {plus_minus(mine, 1)} (paper, EuroSAT: +14.8, the largest)."
                + (f" Larger beyond {Z:g} SE elsewhere: {names(surely_larger)}." if surely_larger else ""))
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
    sentence = (f"OPTIMAL − BIAS averaged over {len(bias)} datasets = {plus_minus(gap)} points "
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
        return _verdict("depth.rises-and-slows", INCONCLUSIVE, f"Needs at least three depths, got {counted('depth', depths)}.")
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
    sentence = (f"Average accuracy from depth {low} to {high}: {plus_minus(total)}; per block "
                f"{signed(slope1.mean)} up to depth {mid} and {signed(slope2.mean)} after.")
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
        return _verdict(claim, INCONCLUSIVE, f"The grid's {counted('depth', sorted(curve))} of this {layers}-block model have no "
                        f"depth at 10–11 twelfths of it below full depth, so the claim cannot be tested here.")
    best_near = max((curve[d] for d in near), key=lambda e: e.mean)
    others = {d: e for d, e in curve.items() if d not in near}
    beaten_by = [d for d, e in others.items() if e.low > best_near.high]
    outcome = (CONTRADICTS if beaten_by else
               SUPPORTS if all(best_near.mean >= e.mean for e in others.values()) else INCONCLUSIVE)
    sentence = (f"Average accuracy at {counted('depth', near)}: {number(best_near.mean)}; best elsewhere: "
                f"{number(max(others.values(), key=lambda e: e.mean).mean)}" if others else "")
    return _verdict(claim, outcome, sentence + ".", near=near, beaten_by=beaten_by)


def decide_depth_exceeds_clip(best: Estimate, clip: float, margin: float = 14.0) -> Verdict:
    """App. C.1: the best average "exceeding CLIP by more than 14 points"."""
    gain = Estimate(best.mean - clip, best.se, best.n)
    outcome = {1: SUPPORTS, -1: CONTRADICTS, 0: INCONCLUSIVE}[_sign(gain, margin)]
    sentence = f"The best prompt depth's average is {plus_minus(gain, 1)} points over zero-shot (paper: > +14)."
    return _verdict("depth.exceeds-clip-by-14", outcome, sentence, gain=gain, margin=margin)


def decide_more_prompts_help(curve: Mapping[int, Estimate]) -> Verdict:
    """Sec. 3.5: "Increasing the number of prompts can improve performance"."""
    counts = sorted(curve)
    if len(counts) < 2:
        return _verdict("count.more-prompts-help", INCONCLUSIVE,
                        f"Needs at least two prompt counts, got {names(f'{c}+{c}' for c in counts)}.")
    best = max(counts[1:], key=lambda c: curve[c].mean)
    gain = _difference(curve[best], curve[counts[0]])
    outcome = {1: SUPPORTS, -1: CONTRADICTS, 0: INCONCLUSIVE}[_sign(gain)]
    sentence = f"The best larger count ({best}+{best}) against {counts[0]}+{counts[0]}: {plus_minus(gain)} points."
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
    sentence = (f"Failed runs (diverged, or at most chance + 5 points) above {threshold} per branch: {names(fail_above)}; "
                f"at or below: {names(fail_below)}. Seed spread above / below: {number(ratio)}×.")
    return _verdict(claim, outcome, sentence, failed_above=fail_above, failed_below=fail_below, spread_ratio=ratio)
