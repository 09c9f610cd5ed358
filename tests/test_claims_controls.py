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
    ([1e-7, 0.02, 0.0], SUPPORTS),      # boundary: exactly `changed`
    ([1e-7, 0.01, 0.012], INCONCLUSIVE),
    ([1e-7, 0.004, 0.005], CONTRADICTS),  # later blocks keep CLIP's relative attention
    ([0.01, 0.05, 0.1], CONTRADICTS),   # block 1 is not a pure rescaling
    ([1e-7], INCONCLUSIVE),
])
def test_relative_attention_rule(per_block, outcome):
    assert C.decide_relative_attention(images(per_block, jitter=0)).outcome == outcome


def test_relative_attention_needs_the_learned_prompts_to_move_it_more_than_untrained_ones():
    learned = images([1e-7, 0.05, 0.10])
    weaker = {"zero": images([1e-7, 0.01, 0.03]), "random": images([1e-7, 0.02, 0.05])}
    assert C.decide_relative_attention(learned, weaker).outcome == SUPPORTS
    as_much = dict(weaker, random=images([1e-7, 0.05, 0.10], jitter=0.002))
    verdict = C.decide_relative_attention(learned, as_much)
    assert verdict.outcome == INCONCLUSIVE and "random" in verdict.sentence and "as much" in verdict.sentence


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


def test_rules_of_no_change_report_the_controls_without_requiring_them():
    similarity = {"a": E(0.9, 0.05), "b": E(0.8, 0.05)}
    controls = {"zero": {"a": E(0.95, 0.01), "b": E(0.2, 0.05)}}
    verdict = C.decide_map_kept("cls-attention.unchanged", similarity, "maps", controls=controls)
    assert verdict.outcome == SUPPORTS and "zero on 1 of 2" in verdict.sentence
    effects = {"a": E(0.01, 0.01), "b": E(0.02, 0.01)}
    verdict = C.decide_equal("text-attention.category-same", effects, {"a": 0.1, "b": 0.1}, "x",
                             controls={"random": {"a": E(0.5, 0.01), "b": E(0.0, 0.01)}})
    assert verdict.outcome == SUPPORTS and "random on 1 of 2" in verdict.sentence


@pytest.mark.parametrize("ratios, outcome", [
    ({"W/O prompt": {"a": 0.1, "b": 0.3}, "W prompt": {"a": 0.2, "b": 0.5}}, SUPPORTS),
    ({"W/O prompt": {"a": 0.1, "b": 0.3}, "W prompt": {"a": 1.0, "b": 0.2}}, CONTRADICTS),  # boundary: 1.0 is changed
    ({"W/O prompt": {"a": 0.1, "b": 0.3}, "W prompt": {"a": 0.7, "b": 0.2}}, INCONCLUSIVE),
])
def test_scope_rule(ratios, outcome):
    assert C.decide_scope_unchanged("scope.distance-renormalised", ratios, "the distance").outcome == outcome


def test_scope_rule_on_a_convention_the_paper_does_not_state_is_not_testable():
    ratios = {"W/O prompt": {"a": 0.1}, "W prompt": {"a": 3.0}}
    verdict = C.decide_scope_unchanged("scope.distance", ratios, "the distance", convention="where prompts sit")
    assert verdict.outcome == NOT_TESTABLE and "where prompts sit" in verdict.sentence and "a 3.00" in verdict.sentence
    excluded = C.decide_scope_unchanged("scope.entropy", {"W prompt": {"a": 3.0, "b": 0.1}}, "x", excluded={"a": "no"})
    assert excluded.outcome == SUPPORTS


def heads(*block_means, spread=0.01, n=4):
    """Per block, n heads around the given mean."""
    return [[m + spread * (h - (n - 1) / 2) for h in range(n)] for m in block_means]


@pytest.mark.parametrize("shares, outcome", [
    ({"a": heads(0.8, 0.7, 0.9), "b": heads(0.6, 0.7, 0.6)}, SUPPORTS),
    ({"a": heads(0.8, 0.7, 0.9), "b": heads(0.6, 0.7, 0.45)}, INCONCLUSIVE),  # one block of b surely below half
    ({"a": heads(0.05, 0.1, 0.12), "b": heads(0.02, 0.1, 0.6)}, CONTRADICTS),  # the mini CLIP's pattern
    ({"a": heads(0.5, 0.7, 0.9)}, SUPPORTS),   # a block at exactly 0.5 is neither above nor below
    ({"a": heads(0.5, 0.5, 0.9)}, INCONCLUSIVE),  # only 1 of 3 blocks surely above
])
def test_the_premise_that_eos_attends_mostly_to_sos(shares, outcome):
    assert C.decide_eos_focus_on_sos(shares).outcome == outcome


def test_claims_resting_on_the_premise_are_not_testable_without_it():
    decided = C.decide_direction("text-attention.sos-decreases", {"a": E(-0.1, 0.01)}, -1, "EOS attention on SOS")
    holds = C.decide_eos_focus_on_sos({"a": heads(0.8, 0.7, 0.9)})
    fails = C.decide_eos_focus_on_sos({"a": heads(0.05, 0.1, 0.12)})
    assert C.given_premise(holds, decided) is decided
    verdict = C.given_premise(fails, decided)
    assert verdict.outcome == NOT_TESTABLE and verdict.claim.id == "text-attention.sos-decreases"
    assert "contradicts, decided on page 4" in verdict.sentence and "Decided without it: supports" in verdict.sentence


def test_not_learned_names_the_datasets_without_a_gain():
    reasons = C.not_learned({"objects": E(0.9, 1.0), "land": E(57.0, 2.0), "edge": E(2.0, 1.0)})
    assert set(reasons) == {"objects", "edge"}  # exactly 2 SE is no gain
    assert "+0.9 ± 2.0 points" in reasons["objects"]
