"""Null controls, preconditions and conventions in the analysis rules (pages 2-5), on hand-made numbers."""
from __future__ import annotations

import pytest

from mmprompts import claims as C
from mmprompts.claims import CONTRADICTS, INCONCLUSIVE, NOT_TESTABLE, SUPPORTS, Estimate


def E(mean, se=0.0):
    return Estimate(mean, se, 10)


def images(per_block, n=8, jitter=0.001):
    """n images with these per-block values, slightly different so that the SE is not zero."""
    return [[v + jitter * (i % 3 - 1) for v in per_block] for i in range(n)]


@pytest.mark.parametrize("per_block, outcome", [
    ([1e-7, 0.05, 0.1], SUPPORTS),
    ([1e-7, 0.004, 0.0], SUPPORTS),        # any later block surely moved holds the check
    ([1e-4, 0.05, 0.1], SUPPORTS),         # boundary: block 1 exactly at the float tolerance
    ([2e-4, 0.05, 0.1], CONTRADICTS),      # block 1 is not a pure rescaling
    ([1e-7, 1e-4, 5e-5], CONTRADICTS),     # no later block moves beyond rounding: prompts never attended to
    ([1e-7], NOT_TESTABLE),                # one block: no later block
])
def test_relative_attention_check(per_block, outcome):
    assert C.decide_relative_attention(images(per_block, jitter=0)).outcome == outcome


def test_relative_attention_judges_the_later_blocks_against_their_spread_over_images():
    # later blocks at 2e-4 ± noise: above the tolerance on average but not beyond 2 SE
    noisy = C.decide_relative_attention(images([1e-7, 2e-4, 1e-4], jitter=2e-4))
    assert noisy.outcome == INCONCLUSIVE
    assert C.decide_relative_attention(images([1e-7, 2e-4, 1e-4], jitter=1e-6)).outcome == SUPPORTS


def test_relative_attention_is_a_check_and_reports_the_controls_moving_it_too():
    learned = images([1e-7, 0.05, 0.10])
    controls = {"zero": images([1e-7, 0.01, 0.03]), "random": images([1e-7, 0.02, 0.05])}
    verdict = C.decide_relative_attention(learned, controls)
    assert verdict.outcome == SUPPORTS and verdict.claim.kind == "check"
    assert "zero 0.030" in verdict.sentence and "random 0.050" in verdict.sentence and "any prompts" in verdict.sentence


@pytest.mark.parametrize("controls, outcome", [
    ({}, SUPPORTS),
    ({"zero": {"a": E(-1, 0.1), "b": E(-1, 0.1), "c": E(-1, 0.1)}}, SUPPORTS),   # beyond the control everywhere
    ({"zero": {"a": E(-1, 0.1), "b": E(0.0, 0.1), "c": E(-1, 0.1)}}, SUPPORTS),  # 2 of 3 still beyond it
    ({"zero": {"a": E(-1, 0.1), "b": E(0.0, 0.1), "c": E(0.0, 0.1)}}, INCONCLUSIVE),  # the control does as much on 2
    ({"zero": {"a": E(-1, 0.1), "b": E(-1, 0.1), "c": E(-1, 0.1)},
      "random": {"a": E(-0.1, 0.1), "b": E(-0.1, 0.1), "c": E(-0.1, 0.1)}}, INCONCLUSIVE),  # boundary: 2 SE is not beyond
])
def test_direction_needs_the_learned_prompts_beyond_every_control(controls, outcome):
    effects = {"a": E(-1, 0.1), "b": E(-2, 0.5), "c": E(-1, 0.2)}
    verdict = C.decide_direction("relevancy.category-decreases", effects, -1, "the share", controls=controls)
    assert verdict.outcome == outcome
    if controls:
        assert set(verdict.numbers["controls"]) == set(controls)


def test_excluded_datasets_leave_the_majority_and_all_excluded_is_not_testable():
    effects = {"a": E(-1, 0.1), "b": E(1, 0.1), "c": E(-1, 0.1)}
    assert C.decide_direction("relevancy.category-decreases", effects, -1, "x").outcome == INCONCLUSIVE
    verdict = C.decide_direction("relevancy.category-decreases", effects, -1, "x", excluded={"b": "did not learn"})
    assert verdict.outcome == SUPPORTS and "b (did not learn)" in verdict.sentence
    none_left = C.decide_direction("relevancy.category-decreases", effects, -1, "x",
                                   excluded={d: "did not learn" for d in effects})
    assert none_left.outcome == NOT_TESTABLE and "did not learn" in none_left.sentence


def test_rules_of_no_change_count_a_dataset_only_where_untrained_prompts_move_the_statistic():
    similarity = {"a": E(0.9, 0.05), "b": E(0.8, 0.05)}
    moved = {"zero": {"a": E(0.95, 0.01), "b": E(0.2, 0.05)}, "random": {"a": E(0.1, 0.05), "b": E(0.9, 0.01)}}
    verdict = C.decide_map_kept("cls-attention.unchanged", similarity, "maps", controls=moved)
    assert verdict.outcome == SUPPORTS and "zero on 1, random on 1 of 2" in verdict.sentence
    # every control keeps the maps too: the learned prompts are not distinguishable from untrained ones
    kept = {"zero": {"a": E(0.95, 0.01), "b": E(0.9, 0.01)}}
    verdict = C.decide_map_kept("cls-attention.unchanged", similarity, "maps", controls=kept)
    assert verdict.outcome == INCONCLUSIVE and "Not distinguishable from untrained prompts on a and b" in verdict.sentence
    effects = {"a": E(0.01, 0.01), "b": E(0.02, 0.01)}
    verdict = C.decide_equal("text-attention.category-same", effects, {"a": 0.1, "b": 0.1}, "x",
                             controls={"random": {"a": E(0.5, 0.01), "b": E(0.3, 0.01)}})
    assert verdict.outcome == SUPPORTS and "random on 0 of 2" in verdict.sentence
    verdict = C.decide_equal("text-attention.category-same", effects, {"a": 0.1, "b": 0.1}, "x",
                             controls={"random": {"a": E(0.5, 0.01), "b": E(0.0, 0.01)}})
    assert verdict.outcome == INCONCLUSIVE  # b kept as untrained prompts keep it: 1 of 2 is no majority


def test_a_change_contradicts_only_beyond_the_controls():
    similarity = {"a": E(0.2, 0.05), "b": E(0.1, 0.05)}
    assert C.decide_map_kept("cls-attention.unchanged", similarity, "maps").outcome == CONTRADICTS
    kept_by_controls = {"zero": {"a": E(0.9, 0.01), "b": E(0.9, 0.01)}}
    assert C.decide_map_kept("cls-attention.unchanged", similarity, "maps", controls=kept_by_controls).outcome == CONTRADICTS
    as_much = {"zero": {"a": E(0.9, 0.01), "b": E(0.15, 0.05)}, "random": {"a": E(0.2, 0.05), "b": E(0.9, 0.01)}}
    verdict = C.decide_map_kept("cls-attention.unchanged", similarity, "maps", controls=as_much)
    assert verdict.outcome == INCONCLUSIVE and "Untrained prompts change it as much on a and b" in verdict.sentence
    effects = {"a": E(0.5, 0.01), "b": E(0.4, 0.01)}
    margins = {"a": 0.1, "b": 0.1}
    assert C.decide_equal("text-attention.category-same", effects, margins, "x").outcome == CONTRADICTS
    big = {"random": {"a": E(-0.6, 0.01), "b": E(0.45, 0.01)}}  # |control| as large: not a change learning made
    assert C.decide_equal("text-attention.category-same", effects, margins, "x", controls=big).outcome == INCONCLUSIVE
    small = {"random": {"a": E(0.05, 0.01), "b": E(0.3, 0.01)}}
    assert C.decide_equal("text-attention.category-same", effects, margins, "x", controls=small).outcome == CONTRADICTS
    ratios = {"W/O prompt": {"a": 1.5, "b": 1.2}}
    assert C.decide_scope_unchanged("scope.entropy", ratios, "x", controls={"zero": {"a": 0.1, "b": 0.2}}).outcome == CONTRADICTS
    assert C.decide_scope_unchanged("scope.entropy", ratios, "x", controls={"zero": {"a": 1.1, "b": 1.3}}).outcome == INCONCLUSIVE


def test_a_direction_contradicts_only_beyond_the_controls():
    effects = {"a": E(1, 0.1), "b": E(1, 0.1), "c": E(0.1, 0.2)}
    assert C.decide_direction("relevancy.category-decreases", effects, -1, "x").outcome == CONTRADICTS
    same = {"zero": {"a": E(0.0, 0.1), "b": E(0.0, 0.1), "c": E(0.1, 0.2)}}  # learned − control: untrained rise as much
    verdict = C.decide_direction("relevancy.category-decreases", effects, -1, "x", controls=same)
    assert verdict.outcome == INCONCLUSIVE and "untrained prompts do as much on a (zero) and b (zero)" in verdict.sentence
    beyond = {"zero": {"a": E(1, 0.1), "b": E(1, 0.1), "c": E(0.1, 0.2)}}
    assert C.decide_direction("relevancy.category-decreases", effects, -1, "x", controls=beyond).outcome == CONTRADICTS


def test_a_sentence_about_most_datasets_needs_two_tasks():
    verdict = C.decide_direction("relevancy.category-decreases", {"a": E(-1, 0.1), "b": E(-1, 0.1)}, -1, "x",
                                 excluded={"b": "did not learn"})
    assert verdict.outcome == NOT_TESTABLE and "needs at least 2 tasks" in verdict.sentence and "b (did not learn)" in verdict.sentence
    # a sentence about the model's attention mechanism is decided on one task
    assert C.decide_direction("formulation.similar-tokens-attend", {"a": E(1, 0.1)}, +1, "x").outcome == SUPPORTS
    assert C.CLAIMS["relevancy.category-decreases"].min_tasks == 2 and C.CLAIMS["bias.beats-optimal-on-eurosat"].min_tasks == 1


def test_an_effect_size_is_not_testable_on_a_stand_in():
    decided = C.decide_depth_exceeds_clip(Estimate(81, 0.5, 3), 65.0)
    assert C.sizes_decidable(decided, True) is decided
    verdict = C.sizes_decidable(decided, False)
    assert verdict.outcome == NOT_TESTABLE and "The rule on these numbers: supports" in verdict.sentence
    other = C.decide_bias_beats_optimal_on_eurosat("land", {"land": E(86.5, 1.2)}, {"land": E(82.5)}, {"land": E(10, 1)})
    assert C.sizes_decidable(other, False) is other  # no size stated: decided anywhere


@pytest.mark.parametrize("ratios, outcome", [
    ({"W/O prompt": {"a": 0.1, "b": 0.3}, "W prompt": {"a": 0.2, "b": 0.5}}, SUPPORTS),
    ({"W/O prompt": {"a": 0.1, "b": 0.3}, "W prompt": {"a": 1.0, "b": 1.2}}, CONTRADICTS),  # boundary: 1.0 is changed
    ({"W/O prompt": {"a": 0.1, "b": 0.3}, "W prompt": {"a": 1.0, "b": 0.6}}, INCONCLUSIVE),  # 1 of 2 changed: no majority
    ({"W/O prompt": {"a": 0.1, "b": 0.3}, "W prompt": {"a": 0.7, "b": 0.2}}, INCONCLUSIVE),
])
def test_scope_rule(ratios, outcome):
    assert C.decide_scope_unchanged("scope.distance-renormalised", ratios, "the distance").outcome == outcome


def test_scope_rule_on_a_convention_the_paper_does_not_state_decides_only_where_the_conventions_agree():
    at_zero = {"W prompt": {"a": 3.0, "b": 1.5}}
    spread = {"W prompt": {"a": 0.1, "b": 0.2}}
    verdict = C.decide_scope_unchanged("scope.distance", at_zero, "the distance",
                                       conventions={"prompts at distance 0": at_zero, "prompts spread like the patches": spread})
    assert verdict.outcome == NOT_TESTABLE and "prompts at distance 0: contradicts" in verdict.sentence
    assert "a 3.00" in verdict.sentence
    both = C.decide_scope_unchanged("scope.distance", spread, "the distance",
                                    conventions={"prompts at distance 0": {"W prompt": {"a": 0.3, "b": 0.4}},
                                                 "prompts spread like the patches": spread})
    assert both.outcome == SUPPORTS
    moved = C.decide_scope_unchanged("scope.distance", at_zero, "the distance",
                                     conventions={"prompts at distance 0": at_zero, "spread": {"W prompt": {"a": 1.2, "b": 1.1}}})
    assert moved.outcome == CONTRADICTS
    excluded = C.decide_scope_unchanged("scope.entropy", {"W prompt": {"a": 3.0, "b": 0.1, "c": 0.2}}, "x",
                                        excluded={"a": "no"})
    assert excluded.outcome == SUPPORTS


def heads(*block_means, spread=0.01, n=4):
    """Per block, n heads around the given mean."""
    return [[m + spread * (h - (n - 1) / 2) for h in range(n)] for m in block_means]


@pytest.mark.parametrize("shares, outcome", [
    ({"a": heads(0.8, 0.7, 0.9), "b": heads(0.6, 0.7, 0.6)}, SUPPORTS),
    ({"a": heads(0.8, 0.7, 0.9), "b": heads(0.6, 0.7, 0.45)}, INCONCLUSIVE),  # one block of b surely below half
    ({"a": heads(0.05, 0.1, 0.12), "b": heads(0.02, 0.1, 0.19)}, CONTRADICTS),  # the mini CLIP's pattern, on CLIP
    ({"a": heads(0.05, 0.1, 0.12), "b": heads(0.02, 0.1, 0.6)}, INCONCLUSIVE),  # b: one block above, so b is undecided
    ({"a": heads(0.05, 0.1, 0.12), "b": heads(0.8, 0.7, 0.9)}, INCONCLUSIVE),  # one dataset each way
    ({"a": heads(0.5, 0.7, 0.9)}, SUPPORTS),   # a block at exactly 0.5 is neither above nor below
    ({"a": heads(0.5, 0.5, 0.9)}, INCONCLUSIVE),  # only 1 of 3 blocks surely above
])
def test_the_premise_that_eos_attends_mostly_to_sos(shares, outcome):
    assert C.decide_eos_focus_on_sos(shares).outcome == outcome


def test_a_property_the_stand_in_lacks_is_a_failed_premise_not_a_contradiction():
    lacks = C.decide_eos_focus_on_sos({"a": heads(0.05, 0.1, 0.12), "b": heads(0.02, 0.1, 0.19)}, stand_in=True)
    assert lacks.outcome == NOT_TESTABLE and "the stand-in lacks it" in lacks.sentence and "contradicts" in lacks.sentence
    assert C.decide_eos_focus_on_sos({"a": heads(0.8, 0.7, 0.9)}, stand_in=True).outcome == SUPPORTS


def test_claims_resting_on_the_premise_are_not_testable_without_it():
    two = {"a": E(-0.1, 0.01), "b": E(-0.1, 0.01)}
    decided = C.decide_direction("text-attention.sos-decreases", two, -1, "EOS attention on SOS")
    holds = C.decide_eos_focus_on_sos({"a": heads(0.8, 0.7, 0.9)})
    fails = C.decide_eos_focus_on_sos({"a": heads(0.05, 0.1, 0.12)})
    assert C.given_premise(holds, decided) is decided
    verdict = C.given_premise(fails, decided)
    assert verdict.outcome == NOT_TESTABLE and verdict.claim.id == "text-attention.sos-decreases"
    assert "contradicts, decided as on page 4" in verdict.sentence and "Decided without it: supports" in verdict.sentence
    lacks = C.given_premise(C.decide_eos_focus_on_sos({"a": heads(0.05, 0.1, 0.12)}, stand_in=True), decided)
    assert lacks.outcome == NOT_TESTABLE and "(the stand-in lacks it)" in lacks.sentence
    # the sentences this book cannot measure say why
    for claim in ("text-attention.sos-merely-bias", "text-attention.prompts-like-sos", "similarity.bridge"):
        verdict = C.not_measured(claim)
        assert verdict.outcome == NOT_TESTABLE and len(verdict.sentence) > 60


def test_not_learned_names_the_datasets_without_a_gain():
    reasons = C.not_learned({"objects": E(0.9, 1.0), "land": E(57.0, 2.0), "edge": E(2.0, 1.0)})
    assert set(reasons) == {"objects", "edge"}  # exactly 2 SE is no gain
    assert "+0.9 ± 2.0 points" in reasons["objects"]


def test_one_premise_rule_for_every_sentence_that_needs_it_and_only_those():
    two = {"a": E(-0.1, 0.01), "b": E(-0.1, 0.01)}
    lacks = C.decide_eos_focus_on_sos({"a": heads(0.05, 0.1, 0.12)}, stand_in=True)
    falls = C.decide_direction("text-attention.sos-decreases", two, -1, "EOS attention on SOS")
    rises = C.decide_direction("text-attention.prompts-increase", {d: E(0.1, 0.01) for d in two}, +1, "x")
    unmeasured = C.not_measured("text-attention.sos-merely-bias")
    gated = C.given_premises([lacks, falls, rises, unmeasured])
    assert [v.outcome for v in gated] == [NOT_TESTABLE, NOT_TESTABLE, SUPPORTS, NOT_TESTABLE]
    assert "the stand-in lacks it" in gated[1].sentence and "Decided without it: supports" in gated[1].sentence
    assert gated[2] is rises and gated[3] is unmeasured  # no premise; an unmeasured sentence keeps its own reason
    holds = C.decide_eos_focus_on_sos({"a": heads(0.8, 0.7, 0.9)})
    assert C.given_premises([holds, falls])[1] is falls
    with pytest.raises(ValueError, match="text-attention.eos-focus-on-sos"):
        C.given_premises([falls])
    # of Sec. 3.2.2's relevance claims only "especially SOS" (a ranking of SOS's role) rests on Sec. 3.3.1's premise
    assert {c.id for c in C.CLAIMS.values() if c.premise} == {
        "text-attention.sos-decreases", "text-attention.sos-merely-bias", "text-attention.prompts-like-sos",
        "relevancy.sos-most"}
    assert "Table 3.5" in C.CLAIMS["relevancy.sos-most"].design


def test_each_convention_judges_the_controls_under_that_convention():
    # this build's pattern (V6): at distance 0 the learned prompts and the controls move the distance far (3.5, 1.3);
    # spread like the patches neither moves it (0.1-0.3). Controls judged under the other convention would say
    # "the controls leave it alone on 0 of 4" beside a learned ratio of 0.2: the wrong comparison.
    learned = {"at 0": {"W prompt": {"a": 3.5, "b": 1.3}}, "spread": {"W prompt": {"a": 0.24, "b": 0.34}}}
    controls = {"at 0": {"zero": {"a": 3.0, "b": 1.2}}, "spread": {"zero": {"a": 0.04, "b": 0.06}}}
    verdict = C.decide_scope_unchanged("scope.distance", learned["at 0"], "the distance", controls=controls["at 0"],
                                       conventions=learned, convention_controls=controls)
    spread = verdict.numbers["conventions"]["spread"]["controls"]
    assert spread == {"zero": {"a": 0.04, "b": 0.06}}
    # under both conventions the untrained prompts do what the learned ones do: inconclusive both ways, so decided
    assert verdict.outcome == INCONCLUSIVE and "The same under every convention" in verdict.sentence
    assert "leave it alone: zero on 2 of 2" in verdict.sentence and "zero on 0 of 2" in verdict.sentence
    with pytest.raises(ValueError, match="convention_controls"):
        C.decide_scope_unchanged("scope.distance", learned["at 0"], "x", controls=controls["at 0"], conventions=learned)
