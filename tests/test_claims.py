"""Every decision rule of `mmprompts.claims` on hand-made statistics: supports, contradicts,
inconclusive, and the boundary between them."""
from __future__ import annotations

import math

import pytest

from mmprompts import claims as C
from mmprompts.claims import CONTRADICTS, INCONCLUSIVE, NOT_TESTABLE, SUPPORTS, Estimate


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
    ({"a": E(1, 0.1), "b": E(1, 0.1), "c": E(-1, 0.1)}, INCONCLUSIVE),      # its mirror: the same rule both ways
    ({"a": E(1, 0.1), "b": E(1, 0.1), "c": E(0.1, 0.2)}, CONTRADICTS),      # 2 of 3 against, none agreeing
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
    moves = {"a": E(0.3, 0.01), "b": E(-0.3, 0.01)}  # the positive control leaves the margin on both
    assert C.decide_equal("text-attention.category-same", effects, margins, "x", positive=moves).outcome == outcome


@pytest.mark.parametrize("similarity, outcome", [
    ({"a": E(0.9, 0.05), "b": E(0.8, 0.1)}, SUPPORTS),
    ({"a": E(0.1, 0.05), "b": E(0.2, 0.1)}, CONTRADICTS),
    ({"a": E(0.55, 0.1), "b": E(0.9, 0.01)}, INCONCLUSIVE),  # a's interval straddles 0.5
    ({"a": E(0.6, 0.05), "b": E(0.6, 0.05)}, SUPPORTS),      # boundary: low = 0.5 exactly is kept
])
def test_map_kept_rule(similarity, outcome):
    moves = {"a": E(0.1, 0.05), "b": E(0.2, 0.1)}  # the positive control changes the maps on both
    assert C.decide_map_kept("relevancy.patches-unchanged", similarity, "maps", positive=moves).outcome == outcome


def test_combine_needs_every_part_and_any_contradiction_wins():
    s = C.decide_identities(0.0)
    c = C.decide_identities(1.0)
    i = C.decide_direction("relevancy.sos-increases", {}, 1, "x")
    assert C.combine("relevancy.shallow-and-deep", {"a": s, "b": s}).outcome == SUPPORTS
    assert C.combine("relevancy.shallow-and-deep", {"a": s, "b": i}).outcome == INCONCLUSIVE
    assert C.combine("relevancy.shallow-and-deep", {"a": i, "b": c}).outcome == CONTRADICTS
    # a part whose precondition fails (shallow prompts that did not learn): the whole is not testable (V4) ...
    n = C.decide_direction("relevancy.sos-increases", {"a": E(1, 0.1)}, 1, "x", excluded={"a": "did not learn"})
    both = C.combine("relevancy.shallow-and-deep", {"deep": s, "shallow": n})
    assert both.outcome == NOT_TESTABLE and "a part of the sentence is not testable" in both.sentence
    assert "deep: supports" in both.sentence
    # ... unless another part already contradicts it
    assert C.combine("relevancy.shallow-and-deep", {"deep": c, "shallow": n}).outcome == CONTRADICTS


# ----------------------------------------------------------------------------- page rules
def test_zero_shot_weak_judges_the_gap_by_the_spread_between_datasets():
    analogue = {"a": "eurosat", "b": "dtd", "c": "caltech101", "d": "imagenet"}
    # far 40, 42 (mean 41, SE 1); others 90, 70 (mean 80, SE 10): gap −39 ± 2·hypot(1, 10) = ±20.1
    verdict = C.decide_zero_shot_weak({"a": 40.0, "b": 42.0, "c": 90.0, "d": 70.0}, analogue)
    assert verdict.outcome == SUPPORTS
    assert verdict.numbers["gap"]["mean"] == pytest.approx(-39.0) and verdict.numbers["gap"]["se"] == pytest.approx(math.hypot(1, 10))
    # others 90, 10: the spread between datasets (SE 40) swamps the same gap, however many test images
    assert C.decide_zero_shot_weak({"a": 40.0, "b": 42.0, "c": 90.0, "d": 10.0}, analogue).outcome == INCONCLUSIVE
    assert C.decide_zero_shot_weak({"a": 90.0, "b": 88.0, "c": 40.0, "d": 42.0}, analogue).outcome == CONTRADICTS
    # one dataset of a kind has no spread: not testable, never decided on a binomial SE
    assert C.decide_zero_shot_weak({"a": 40.0, "c": 90.0, "d": 70.0}, analogue).outcome == NOT_TESTABLE


@pytest.mark.parametrize("error, outcome", [(3e-7, SUPPORTS), (1e-5, SUPPORTS), (1.1e-5, CONTRADICTS)])
def test_identities_are_an_exact_check(error, outcome):
    verdict = C.decide_identities(error)
    assert verdict.outcome == outcome and verdict.claim.kind == "check"


@pytest.mark.parametrize("ratios, outcome", [
    ({"W/O prompt": {"a": 0.1, "b": 0.3}, "W prompt": {"a": 0.2, "b": 0.5}}, SUPPORTS),
    ({"W/O prompt": {"a": 0.1, "b": 0.3}, "W prompt": {"a": 1.0, "b": 1.2}}, CONTRADICTS),  # boundary: 1.0 is changed
    ({"W/O prompt": {"a": 0.1, "b": 0.3}, "W prompt": {"a": 1.0, "b": 0.6}}, INCONCLUSIVE),  # 1 of 2 changed: no majority
    ({"W/O prompt": {"a": 0.1, "b": 0.3}, "W prompt": {"a": 1.0, "b": 0.2}}, INCONCLUSIVE),  # one of each
    ({"W/O prompt": {"a": 0.1, "b": 0.3}, "W prompt": {"a": 0.7, "b": 0.2}}, INCONCLUSIVE),
])
def test_scope_rule(ratios, outcome):
    assert C.decide_scope_unchanged("scope.entropy", ratios, "the entropy", positive={"a": 1.5, "b": 2.0}).outcome == outcome


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
    verdicts = [C.decide_identities(1e-7), C.decide_more_prompts_help({t: {1: E(70, 0.2), 4: E(72, 0.2)} for t in "ab"},
                                                                        {t: E(10, 1) for t in "ab"})]
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
