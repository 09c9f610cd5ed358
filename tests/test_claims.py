"""Every decision rule of `mmprompts.claims` on hand-made statistics: supports, contradicts,
inconclusive, and the boundary between them."""
from __future__ import annotations

import math

import pytest

from mmprompts import claims as C
from mmprompts.claims import CONTRADICTS, INCONCLUSIVE, SUPPORTS, Estimate


def E(mean, se=0.0):
    return Estimate(mean, se, 10)


# ----------------------------------------------------------------------------- estimates
def test_estimate_and_paired_match_a_hand_computation():
    e = C.estimate([1.0, 2.0, 4.0])
    assert e.mean == pytest.approx(7 / 3)
    sd = math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2)
    assert e.se == pytest.approx(sd / math.sqrt(3))
    d = C.paired([3.0, 5.0, 9.0], [1.0, 2.0, 4.0])  # differences 2, 3, 5
    assert d.mean == pytest.approx(10 / 3)
    assert d.se == pytest.approx(math.sqrt(((2 - 10 / 3) ** 2 + (3 - 10 / 3) ** 2 + (5 - 10 / 3) ** 2) / 2) / math.sqrt(3))
    with pytest.raises(ValueError, match="equal lengths"):
        C.paired([1.0], [1.0, 2.0])


def test_seed_estimate_pools_the_seed_variance_of_each_dataset():
    e = C.seed_estimate({"a": [1.0, 3.0], "b": [10.0, 10.0, 10.0]})
    assert e.mean == pytest.approx((2.0 + 10.0) / 2)
    assert e.se == pytest.approx(math.sqrt(2.0 / 2 + 0.0) / 2)  # var(a)=2 over 2 seeds, b has none


# ----------------------------------------------------------------------------- generic rules
@pytest.mark.parametrize("effects, outcome", [
    ({"a": E(-1, 0.1), "b": E(-2, 0.5), "c": E(0.1, 0.2)}, SUPPORTS),      # 2 of 3 significant, none against
    ({"a": E(-1, 0.1), "b": E(0.1, 0.2), "c": E(0.1, 0.2)}, INCONCLUSIVE),  # only 1 of 3
    ({"a": E(-1, 0.1), "b": E(-1, 0.1), "c": E(1, 0.1)}, INCONCLUSIVE),     # majority but one against
    ({"a": E(1, 0.1), "b": E(1, 0.1), "c": E(-1, 0.1)}, CONTRADICTS),
    ({"a": E(-0.2, 0.1), "b": E(-0.2, 0.1)}, INCONCLUSIVE),                  # boundary: exactly 2 SE is not beyond
    ({"a": E(-0.21, 0.1), "b": E(-0.21, 0.1)}, SUPPORTS),
])
def test_direction_rule(effects, outcome):
    verdict = C.decide_direction("relevancy.category-decreases", effects, -1, "the category share")
    assert verdict.outcome == outcome
    assert verdict.claim is C.CLAIMS["relevancy.category-decreases"]


def test_direction_rule_without_datasets_cannot_support():
    assert C.decide_direction("relevancy.sos-increases", {}, 1, "x").outcome == INCONCLUSIVE


@pytest.mark.parametrize("effects, outcome", [
    ({"a": E(0.01, 0.01), "b": E(-0.02, 0.01)}, SUPPORTS),   # 0.03 and 0.04 ≤ 0.05
    ({"a": E(0.04, 0.01), "b": E(0.0, 0.0)}, INCONCLUSIVE),  # a: 0.06 > 0.05 but 0.02 not > 0.05
    ({"a": E(0.2, 0.01), "b": E(-0.3, 0.01)}, CONTRADICTS),
    ({"a": E(0.03, 0.01), "b": E(0.03, 0.01)}, SUPPORTS),    # boundary: 0.05 ≤ 0.05 counts as the same
])
def test_equivalence_rule(effects, outcome):
    margins = {"a": 0.05, "b": 0.05}
    assert C.decide_equal("text-attention.category-same", effects, margins, "x").outcome == outcome


@pytest.mark.parametrize("similarity, outcome", [
    ({"a": E(0.9, 0.05), "b": E(0.8, 0.1)}, SUPPORTS),
    ({"a": E(0.1, 0.05), "b": E(0.2, 0.1)}, CONTRADICTS),
    ({"a": E(0.55, 0.1), "b": E(0.9, 0.01)}, INCONCLUSIVE),  # a's interval straddles 0.5
    ({"a": E(0.6, 0.05), "b": E(0.6, 0.05)}, SUPPORTS),      # boundary: low = 0.5 exactly is kept
])
def test_map_kept_rule(similarity, outcome):
    assert C.decide_map_kept("relevancy.patches-unchanged", similarity, "maps").outcome == outcome


def test_combine_needs_every_part_and_any_contradiction_wins():
    s = C.decide_identities(0.0)
    c = C.decide_identities(1.0)
    i = C.decide_direction("relevancy.sos-increases", {}, 1, "x")
    assert C.combine("relevancy.shallow-and-deep", {"a": s, "b": s}).outcome == SUPPORTS
    assert C.combine("relevancy.shallow-and-deep", {"a": s, "b": i}).outcome == INCONCLUSIVE
    assert C.combine("relevancy.shallow-and-deep", {"a": i, "b": c}).outcome == CONTRADICTS


# ----------------------------------------------------------------------------- page rules
def test_zero_shot_weak_uses_the_binomial_error_of_each_test_set():
    acc = {"shapes": 90.0, "aerial": 40.0}
    big = {"shapes": 1000, "aerial": 1000}
    analogue = {"shapes": "caltech101", "aerial": "eurosat"}
    assert C.decide_zero_shot_weak(acc, big, analogue).outcome == SUPPORTS
    assert C.decide_zero_shot_weak({"shapes": 40.0, "aerial": 90.0}, big, analogue).outcome == CONTRADICTS
    # 2 images each: the binomial SE (~35 points) swamps a 5-point gap
    assert C.decide_zero_shot_weak({"shapes": 50.0, "aerial": 45.0}, {"shapes": 2, "aerial": 2}, analogue).outcome == INCONCLUSIVE
    assert C.decide_zero_shot_weak(acc, big, {"shapes": "caltech101", "aerial": "imagenet"}).outcome == INCONCLUSIVE


@pytest.mark.parametrize("error, outcome", [(3e-7, SUPPORTS), (1e-5, SUPPORTS), (1.1e-5, CONTRADICTS)])
def test_identities_are_an_exact_check(error, outcome):
    verdict = C.decide_identities(error)
    assert verdict.outcome == outcome and verdict.claim.kind == "check"


@pytest.mark.parametrize("ratios, outcome", [
    ({"W/O prompt": {"a": 0.1, "b": 0.3}, "W prompt": {"a": 0.2, "b": 0.5}}, SUPPORTS),
    ({"W/O prompt": {"a": 0.1, "b": 0.3}, "W prompt": {"a": 1.0, "b": 0.2}}, CONTRADICTS),  # boundary: 1.0 is changed
    ({"W/O prompt": {"a": 0.1, "b": 0.3}, "W prompt": {"a": 0.7, "b": 0.2}}, INCONCLUSIVE),
])
def test_scope_rule(ratios, outcome):
    assert C.decide_scope_unchanged("scope.distance", ratios, "the distance").outcome == outcome


def test_bias_beats_prompts_from_seed_spread():
    bias = {"a": [80.0, 81.0, 82.0], "b": [70.0, 70.5, 71.0]}
    prompt = {"a": [75.0, 76.0, 77.0], "b": [66.0, 67.0, 66.5]}
    assert C.decide_bias_beats_prompts(bias, prompt).outcome == SUPPORTS
    assert C.decide_bias_beats_prompts(prompt, bias).outcome == CONTRADICTS
    noisy = {"a": [60.0, 90.0, 75.0], "b": [70.0, 70.5, 71.0]}
    assert C.decide_bias_beats_prompts(noisy, {"a": [74.0, 74.0, 74.0], "b": [70.0, 70.5, 71.0]}).outcome == INCONCLUSIVE


def test_bias_gain_largest_on_the_eurosat_stand_in():
    prompt = {"aerial": [50.0, 51.0, 52.0], "shapes": [80.0, 80.0, 80.0]}
    assert C.decide_bias_gain_largest("aerial", {"aerial": [70.0, 71.0, 72.0], "shapes": [81.0, 81.0, 81.0]},
                                      prompt).outcome == SUPPORTS
    assert C.decide_bias_gain_largest("aerial", {"aerial": [40.0, 41.0, 42.0], "shapes": [81.0, 81.0, 81.0]},
                                      prompt).outcome == CONTRADICTS
    # positive on aerial, but surely larger on shapes: contradicts "the largest"
    assert C.decide_bias_gain_largest("aerial", {"aerial": [53.0, 54.0, 55.0], "shapes": [90.0, 90.0, 90.0]},
                                      prompt).outcome == CONTRADICTS
    assert C.decide_bias_gain_largest(None, prompt, prompt).outcome == INCONCLUSIVE


@pytest.mark.parametrize("optimal, outcome", [
    ([80.5, 80.5], SUPPORTS),        # gap 0.5, no spread
    ([82.0, 82.0], SUPPORTS),        # boundary: gap 2.0 = slight
    ([82.5, 82.5], CONTRADICTS),     # gap 2.5 > 2
    ([79.0, 79.0], CONTRADICTS),     # bias better: no gap exists
    ([79.0, 83.0], INCONCLUSIVE),    # gap 1 ± 2.8
])
def test_bias_near_optimal(optimal, outcome):
    assert C.decide_bias_near_optimal({"a": [80.0, 80.0]}, {"a": optimal}).outcome == outcome


@pytest.mark.parametrize("curve, outcome", [
    ({1: E(70), 2: E(75), 4: E(77)}, SUPPORTS),          # rises, slows (5/1 vs 2/2 per block)
    ({1: E(70), 2: E(71), 4: E(79)}, CONTRADICTS),       # speeds up: 1 vs 4 per block
    ({1: E(70), 2: E(69), 4: E(65)}, CONTRADICTS),       # falls
    ({1: E(70, 2), 2: E(71, 2), 4: E(71.5, 2)}, INCONCLUSIVE),
    ({1: E(70), 4: E(75)}, INCONCLUSIVE),
])
def test_depth_rule(curve, outcome):
    assert C.decide_depth_rises(curve).outcome == outcome


def test_many_classes_keep_gaining_compares_saturation_depths():
    late = {1: E(60), 2: E(65), 4: E(70)}
    early = {1: E(60), 2: E(70), 4: E(70)}
    classes = {"big": 100, "euro": 10}
    assert C.decide_many_classes_keep_gaining({"big": late, "euro": early}, classes, "euro").outcome == SUPPORTS
    assert C.decide_many_classes_keep_gaining({"big": early, "euro": late}, classes, "euro").outcome == CONTRADICTS
    assert C.decide_many_classes_keep_gaining({"big": late, "euro": late}, classes, "euro").outcome == INCONCLUSIVE


def test_best_depth_near_the_top_needs_those_depths_in_the_grid():
    curve12 = {1: E(70), 6: E(76), 10: E(79.4), 11: E(79.4), 12: E(79.0)}
    assert C.decide_depth_best_near_top(curve12, 12).outcome == SUPPORTS
    curve12[6] = E(85, 0.1)
    assert C.decide_depth_best_near_top(curve12, 12).outcome == CONTRADICTS
    assert C.decide_depth_best_near_top({1: E(70), 2: E(75), 4: E(77)}, 4).outcome == INCONCLUSIVE


def test_exceeds_clip_by_14_points():
    assert C.decide_depth_exceeds_clip(E(81, 0.5), 65.0).outcome == SUPPORTS
    assert C.decide_depth_exceeds_clip(E(80, 0.5), 65.0).outcome == INCONCLUSIVE  # boundary: 15 - 2 * 0.5 = 14
    assert C.decide_depth_exceeds_clip(E(70, 0.5), 65.0).outcome == CONTRADICTS
    assert C.decide_depth_exceeds_clip(E(79, 1.0), 65.0).outcome == INCONCLUSIVE


def test_more_prompts_help():
    assert C.decide_more_prompts_help({1: E(70, 0.2), 4: E(72, 0.2)}).outcome == SUPPORTS
    assert C.decide_more_prompts_help({1: E(72, 0.2), 4: E(70, 0.2), 10: E(69, 0.2)}).outcome == CONTRADICTS
    assert C.decide_more_prompts_help({1: E(72, 1), 4: E(72.5, 1)}).outcome == INCONCLUSIVE


def test_instability_counts_failed_runs_above_the_threshold():
    chance = {"euro": 10.0, "a": 10.0}
    stable = {1: [70.0, 71.0, 72.0], 10: [75.0, 76.0, 77.0]}
    assert C.decide_unstable_above({"euro": {**stable, 20: [80.0, None, 12.0]}}, chance).outcome == SUPPORTS
    assert C.decide_unstable_above({"euro": {**stable, 20: [78.0, 79.0, 80.0]}}, chance).outcome == CONTRADICTS
    # no failure above, but a much larger spread: not a contradiction
    assert C.decide_unstable_above({"euro": {**stable, 20: [60.0, 79.0, 90.0]}}, chance).outcome == INCONCLUSIVE
    # failures below the threshold too: the threshold is not what makes runs fail
    assert C.decide_unstable_above({"euro": {1: [11.0, 70.0], 20: [None, 70.0]}}, chance).outcome == INCONCLUSIVE
    assert C.decide_unstable_above({"euro": stable}, chance).outcome == INCONCLUSIVE  # nothing above 10


# ----------------------------------------------------------------------------- register and ledger
def test_every_claim_is_quoted_from_the_paper():
    from pathlib import Path

    paper = Path(__file__).resolve().parents[2] / "shared" / "paper" / "understanding-multimodal-prompts.txt"
    if not paper.is_file():
        pytest.skip("the paper's text is not beside this checkout")
    text = " ".join(paper.read_text().split())
    assert len(C.CLAIMS) >= 15
    for claim in C.CLAIMS.values():
        if claim.kind != "claim":
            continue
        for piece in claim.quote.split(" … "):
            # runs of plain words between symbols the paper typesets in LaTeX (t_SOS, [cls]) appear verbatim
            segment, segments = [], []
            for word in piece.split() + ["_"]:
                if "_" in word or "[" in word:
                    segments.append(segment)
                    segment = []
                else:
                    segment.append(word)
            for words in segments:
                if len(words) >= 3:
                    assert " ".join(words) in text, f"{claim.id}: {' '.join(words)!r} is not in the paper"


def test_verdicts_round_trip_through_the_ledger_files(tmp_path):
    verdicts = [C.decide_identities(1e-7), C.decide_more_prompts_help({1: E(70, 0.2), 4: E(72, 0.2)})]
    C.record_verdicts("02_page", verdicts[:1], tmp_path)
    C.record_verdicts("07_page", verdicts[1:], tmp_path)
    loaded = C.load_verdicts(tmp_path)
    assert [v.claim.id for v in loaded] == ["formulation.identities", "count.more-prompts-help"]
    assert [v.outcome for v in loaded] == [SUPPORTS, SUPPORTS]
    assert loaded[1].numbers["gain"]["mean"] == pytest.approx(2.0)


# ----------------------------------------------------------------------------- effects from statistics
def test_relevancy_effects_pair_the_images():
    import torch

    groups = {"sos": 0, "prompt": 0, "template": 0, "category": 0, ".": 0}
    clip = {"text_groups": groups, "text_group_samples": torch.tensor([[0.5, 0.0, 0.2, 0.3, 0.0], [0.4, 0.0, 0.2, 0.4, 0.0]]),
            "image_samples": torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]])}
    prompted = {"text_groups": groups,
                "text_group_samples": torch.tensor([[0.6, 0.3, 0.0, 0.1, 0.0], [0.6, 0.3, 0.0, 0.1, 0.0]]),
                "image_samples": torch.tensor([[0.05, 0.1, 0.15, 0.2, 0.5], [0.2, 0.15, 0.1, 0.05, 0.5]])}
    e = C.relevancy_effects(clip, prompted, n_patches=4)
    assert e["category"].mean == pytest.approx(-0.25) and e["sos"].mean == pytest.approx(0.15)
    assert e["prefix"].mean == pytest.approx(0.1)  # 0.3 prompts against 0.2 template words
    assert e["sos_most"].mean == pytest.approx(0.05)
    assert e["patches"].mean == pytest.approx(1.0)  # the same patch distributions once renormalised
    assert e["vision_prompts"].mean == pytest.approx(0.5 / 0.2 - 1)  # one prompt of five tokens holds half


def test_text_attention_effects_pair_the_cells():
    import torch

    groups = ["sos", "prompt", "template", "category", "."]
    clip = torch.tensor([[[0.7, 0.0, 0.1, 0.2, 0.0], [0.5, 0.0, 0.3, 0.2, 0.0]]])  # 1 block, 2 heads
    prompted = torch.tensor([[[0.4, 0.4, 0.0, 0.2, 0.0], [0.3, 0.5, 0.0, 0.2, 0.0]]])
    e = C.text_attention_effects(clip, prompted, groups)
    assert e["sos"].mean == pytest.approx(-0.25) and e["prefix"].mean == pytest.approx(0.25)
    assert e["category"].mean == pytest.approx(0.0) and e["category_level"].mean == pytest.approx(0.2)


def test_cls_map_effects():
    import torch

    g = torch.Generator().manual_seed(0)
    clip = torch.rand(2, 4, 5, 5, generator=g)
    e = C.cls_map_effects(clip, clip.clone(), 1 - clip)
    assert e["kept"].mean == pytest.approx(1.0) and e["background"].mean == pytest.approx(-1.0)
