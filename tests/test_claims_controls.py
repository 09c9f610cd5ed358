"""Null controls, preconditions and conventions in the analysis rules (pages 2-5), on hand-made numbers."""
from __future__ import annotations

import random

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


def test_rules_of_no_change_count_a_kept_dataset_only_where_the_positive_control_moves_the_statistic():
    similarity = {"a": E(0.9, 0.05), "b": E(0.8, 0.05)}
    kept_by_controls = {"zero": {"a": E(0.95, 0.01), "b": E(0.9, 0.01)}}  # untrained prompts keep them: says nothing
    moved = {"a": E(0.2, 0.05), "b": E(0.3, 0.05)}
    verdict = C.decide_map_kept("cls-attention.unchanged", similarity, "maps", controls=kept_by_controls, positive=moved)
    assert verdict.outcome == SUPPORTS and "zero on 2 of 2" in verdict.sentence
    assert "beyond the margin on 2 (a and b) of 2" in verdict.sentence and verdict.numbers["positive"]["a"]["mean"] == 0.2
    # the positive control keeps b's maps too: b shows no power and does not count; 1 of 2 is no majority
    half = {"a": E(0.2, 0.05), "b": E(0.6, 0.05)}
    verdict = C.decide_map_kept("cls-attention.unchanged", similarity, "maps", controls=kept_by_controls, positive=half)
    assert verdict.outcome == INCONCLUSIVE and "Not shown able to see a change on b" in verdict.sentence
    # no positive control at all: nothing kept counts
    assert C.decide_map_kept("cls-attention.unchanged", similarity, "maps", positive={}).outcome == INCONCLUSIVE
    assert C.decide_map_kept("cls-attention.unchanged", similarity, "maps", positive={"a": moved["a"]}).outcome == INCONCLUSIVE
    effects = {"a": E(0.01, 0.01), "b": E(0.02, 0.01)}
    margins = {"a": 0.1, "b": 0.1}
    verdict = C.decide_equal("text-attention.category-same", effects, margins, "x",
                             controls={"random": {"a": E(0.0, 0.01), "b": E(0.01, 0.01)}},
                             positive={"a": E(0.5, 0.01), "b": E(-0.3, 0.01)})
    assert verdict.outcome == SUPPORTS and "random on 2 of 2" in verdict.sentence
    # boundary of the positive control: |0.12| − 2 × 0.01 = 0.1 is not beyond the margin 0.1, so b shows no power
    verdict = C.decide_equal("text-attention.category-same", effects, margins, "x",
                             positive={"a": E(0.5, 0.01), "b": E(0.12, 0.01)})
    assert verdict.outcome == INCONCLUSIVE and "Not shown able to see a change on b" in verdict.sentence
    assert C.decide_equal("text-attention.category-same", effects, margins, "x",
                          positive={"a": E(0.5, 0.01), "b": E(0.1201, 0.01)}).outcome == SUPPORTS
    ratios = {"W prompt": {"a": 0.2, "b": 0.3}}
    assert C.decide_scope_unchanged("scope.entropy", ratios, "x", positive={"a": 1.0, "b": 1.3}).outcome == SUPPORTS
    verdict = C.decide_scope_unchanged("scope.entropy", ratios, "x", positive={"a": 0.99, "b": 1.3})  # boundary: 1.0
    assert verdict.outcome == INCONCLUSIVE and "Not shown able to see a change on a" in verdict.sentence


def test_the_positive_control_is_an_independent_count_of_the_datasets_that_show_power():
    # a naive recount over many random cases: supports exactly when more than half of the datasets are kept with a
    # moving positive control and no dataset is changed beyond every null control
    rng = random.Random(7)
    seen = set()
    for _ in range(300):
        names_ = [f"d{i}" for i in range(rng.randint(2, 5))]
        similarity = {d: E(rng.choice([0.2, 0.45, 0.6, 0.9]), 0.05) for d in names_}
        positive = {d: E(rng.choice([0.1, 0.44, 0.6, 0.9]), 0.03) for d in names_ if rng.random() < 0.9}
        nulls = {"zero": {d: E(rng.choice([0.1, 0.9]), 0.02) for d in names_}}
        kept = sum(1 for d in names_ if similarity[d].mean - 2 * 0.05 >= 0.5
                   and d in positive and positive[d].mean + 2 * 0.03 < 0.5)
        against = sum(1 for d in names_ if similarity[d].mean + 2 * 0.05 < 0.5
                      and nulls["zero"][d].mean - similarity[d].mean > 2 * (0.05 ** 2 + 0.02 ** 2) ** 0.5)
        expected = _naive_majority(kept, against, len(names_))
        verdict = C.decide_map_kept("cls-attention.unchanged", similarity, "maps", controls=nulls, positive=positive)
        assert verdict.outcome == expected, (similarity, positive, nulls)
        seen.add(expected)
    assert seen == {SUPPORTS, CONTRADICTS, INCONCLUSIVE}


def _naive_majority(agree: int, against: int, n: int) -> str:
    return SUPPORTS if agree > n / 2 and not against else CONTRADICTS if against > n / 2 and not agree else INCONCLUSIVE


def test_equivalence_and_scope_rules_against_a_naive_recount():
    rng = random.Random(11)
    seen = set()
    for _ in range(300):
        names_ = [f"d{i}" for i in range(rng.randint(2, 5))]
        margin = 0.05
        effects = {d: E(rng.choice([0.0, 0.03, 0.06, 0.2, -0.2]), 0.01) for d in names_}
        positive = {d: E(rng.choice([0.0, 0.06, 0.08, -0.3]), 0.01) for d in names_}
        nulls = {"random": {d: E(rng.choice([0.0, 0.2]), 0.01) for d in names_}}
        kept = sum(1 for d in names_ if abs(effects[d].mean) + 0.02 <= margin and abs(positive[d].mean) - 0.02 > margin)
        against = sum(1 for d in names_ if abs(effects[d].mean) - 0.02 > margin
                      and abs(effects[d].mean) - abs(nulls["random"][d].mean) > 2 * (2 * 0.01 ** 2) ** 0.5)
        verdict = C.decide_equal("text-attention.category-same", effects, {d: margin for d in names_}, "x", controls=nulls,
                                 positive=positive)
        assert verdict.outcome == _naive_majority(kept, against, len(names_)), (effects, positive, nulls)
        seen.add(verdict.outcome)
        ratios = {d: rng.choice([0.2, 0.5, 0.7, 1.0, 1.4]) for d in names_}
        moved = {d: rng.choice([0.3, 0.99, 1.0, 1.5]) for d in names_}
        null_ratios = {d: rng.choice([0.2, 1.2]) for d in names_}
        kept = sum(1 for d in names_ if ratios[d] <= 0.5 and moved[d] >= 1.0)
        against = sum(1 for d in names_ if ratios[d] >= 1.0 and null_ratios[d] < 1.0)
        verdict = C.decide_scope_unchanged("scope.entropy", {"W prompt": ratios}, "x", controls={"zero": null_ratios},
                                           positive=moved)
        assert verdict.outcome == _naive_majority(kept, against, len(names_)), (ratios, moved, null_ratios)
        seen.add(verdict.outcome)
    assert seen == {SUPPORTS, CONTRADICTS, INCONCLUSIVE}


def test_a_change_contradicts_only_beyond_the_controls():
    similarity = {"a": E(0.2, 0.05), "b": E(0.1, 0.05)}
    # a change needs no positive control: the statistic plainly saw it
    assert C.decide_map_kept("cls-attention.unchanged", similarity, "maps", positive={}).outcome == CONTRADICTS
    kept_by_controls = {"zero": {"a": E(0.9, 0.01), "b": E(0.9, 0.01)}}
    assert C.decide_map_kept("cls-attention.unchanged", similarity, "maps", controls=kept_by_controls,
                             positive={}).outcome == CONTRADICTS
    as_much = {"zero": {"a": E(0.9, 0.01), "b": E(0.15, 0.05)}, "random": {"a": E(0.2, 0.05), "b": E(0.9, 0.01)}}
    verdict = C.decide_map_kept("cls-attention.unchanged", similarity, "maps", controls=as_much, positive={})
    assert verdict.outcome == INCONCLUSIVE and "Untrained prompts change it as much on a and b" in verdict.sentence
    effects = {"a": E(0.5, 0.01), "b": E(0.4, 0.01)}
    margins = {"a": 0.1, "b": 0.1}
    assert C.decide_equal("text-attention.category-same", effects, margins, "x", positive={}).outcome == CONTRADICTS
    big = {"random": {"a": E(-0.6, 0.01), "b": E(0.45, 0.01)}}  # |control| as large: not a change learning made
    assert C.decide_equal("text-attention.category-same", effects, margins, "x", controls=big,
                          positive={}).outcome == INCONCLUSIVE
    small = {"random": {"a": E(0.05, 0.01), "b": E(0.3, 0.01)}}
    assert C.decide_equal("text-attention.category-same", effects, margins, "x", controls=small,
                          positive={}).outcome == CONTRADICTS
    ratios = {"W/O prompt": {"a": 1.5, "b": 1.2}}
    assert C.decide_scope_unchanged("scope.entropy", ratios, "x", controls={"zero": {"a": 0.1, "b": 0.2}},
                                    positive={}).outcome == CONTRADICTS
    assert C.decide_scope_unchanged("scope.entropy", ratios, "x", controls={"zero": {"a": 1.1, "b": 1.3}},
                                    positive={}).outcome == INCONCLUSIVE


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
    assert C.decide_scope_unchanged("scope.distance-renormalised", ratios, "the distance",
                                    positive={"a": 1.2, "b": 1.1}).outcome == outcome


def test_scope_rule_on_a_convention_the_paper_does_not_state_decides_only_where_the_conventions_agree():
    at_zero = {"W prompt": {"a": 3.0, "b": 1.5}}
    spread = {"W prompt": {"a": 0.1, "b": 0.2}}
    moves = {"a": 1.5, "b": 1.2}  # the positive control under each convention
    both_moves = {"prompts at distance 0": moves, "prompts spread like the patches": moves}
    verdict = C.decide_scope_unchanged("scope.distance", at_zero, "the distance",
                                       conventions={"prompts at distance 0": at_zero, "prompts spread like the patches": spread},
                                       positive=moves, convention_positive=both_moves)
    assert verdict.outcome == NOT_TESTABLE and "prompts at distance 0: contradicts" in verdict.sentence
    assert "a 3.00" in verdict.sentence
    both = C.decide_scope_unchanged("scope.distance", spread, "the distance",
                                    conventions={"prompts at distance 0": {"W prompt": {"a": 0.3, "b": 0.4}},
                                                 "prompts spread like the patches": spread},
                                    positive=moves, convention_positive=both_moves)
    assert both.outcome == SUPPORTS
    # the positive control moves the distance under one convention only: the other cannot support, so they disagree
    one = C.decide_scope_unchanged("scope.distance", spread, "the distance",
                                   conventions={"prompts at distance 0": {"W prompt": {"a": 0.3, "b": 0.4}},
                                                "prompts spread like the patches": spread},
                                   positive=moves, convention_positive={"prompts at distance 0": moves,
                                                                        "prompts spread like the patches": {"a": 0.2, "b": 0.3}})
    assert one.outcome == NOT_TESTABLE and "Not shown able to see a change on a and b" in one.sentence
    moved = C.decide_scope_unchanged("scope.distance", at_zero, "the distance",
                                     conventions={"prompts at distance 0": at_zero, "spread": {"W prompt": {"a": 1.2, "b": 1.1}}},
                                     positive={}, convention_positive={"prompts at distance 0": {}, "spread": {}})
    assert moved.outcome == CONTRADICTS
    with pytest.raises(ValueError, match="convention_positive"):
        C.decide_scope_unchanged("scope.distance", spread, "x", conventions={"at 0": spread, "spread": spread}, positive=moves,
                                 convention_positive={"at 0": moves})
    excluded = C.decide_scope_unchanged("scope.entropy", {"W prompt": {"a": 3.0, "b": 0.1, "c": 0.2}}, "x",
                                        excluded={"a": "no"}, positive={"a": 0.1, "b": 1.0, "c": 2.0})
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
    # a positive control that moves neither: the point here is which controls each convention reads
    still = {"at 0": {"a": 0.3, "b": 0.2}, "spread": {"a": 0.3, "b": 0.2}}
    verdict = C.decide_scope_unchanged("scope.distance", learned["at 0"], "the distance", controls=controls["at 0"],
                                       conventions=learned, convention_controls=controls, positive=still["at 0"],
                                       convention_positive=still)
    spread = verdict.numbers["conventions"]["spread"]["controls"]
    assert spread == {"zero": {"a": 0.04, "b": 0.06}}
    # under both conventions the untrained prompts do what the learned ones do: inconclusive both ways, so decided
    assert verdict.outcome == INCONCLUSIVE and "The same under every convention" in verdict.sentence
    assert "leave it alone: zero on 2 of 2" in verdict.sentence and "zero on 0 of 2" in verdict.sentence
    with pytest.raises(ValueError, match="convention_controls"):
        C.decide_scope_unchanged("scope.distance", learned["at 0"], "x", controls=controls["at 0"], conventions=learned,
                                 positive=still["at 0"], convention_positive=still)
