"""The rules every verdict shares: one "did it learn" precondition and one "in most datasets" majority."""
from __future__ import annotations

import pytest

from mmprompts import claims as C
from mmprompts.claims import CONTRADICTS, INCONCLUSIVE, NOT_TESTABLE, SUPPORTS, Estimate
from mmprompts.claims.core import majority

E = Estimate
MIRROR = {SUPPORTS: CONTRADICTS, CONTRADICTS: SUPPORTS, INCONCLUSIVE: INCONCLUSIVE}


@pytest.mark.parametrize("agree, against, n, outcome", [
    (2, 0, 3, SUPPORTS), (2, 1, 3, INCONCLUSIVE), (0, 2, 3, CONTRADICTS), (1, 2, 3, INCONCLUSIVE),
    (1, 0, 2, INCONCLUSIVE),  # boundary: exactly half is not "most"
    (0, 1, 2, INCONCLUSIVE), (2, 0, 2, SUPPORTS), (0, 2, 2, CONTRADICTS), (0, 0, 0, INCONCLUSIVE),
])
def test_majority_of_datasets(agree, against, n, outcome):
    assert majority(agree, against, n) == outcome


def test_majority_is_the_same_rule_both_ways():
    # a contradiction needs exactly the evidence a support needs, mirrored (issue 35, F14)
    for n in range(0, 8):
        for agree in range(n + 1):
            for against in range(n + 1 - agree):
                assert majority(against, agree, n) == MIRROR[majority(agree, against, n)]


def test_majority_refuses_more_decided_than_testable():
    with pytest.raises(ValueError, match="exceeds the n=2"):
        majority(2, 1, 2)


@pytest.mark.parametrize("gain, learned", [
    (Estimate(2.0, 0.9), True), (Estimate(2.0, 1.0), False),  # boundary: exactly 2 SE is not beyond
    (Estimate(0.5, 0.0), True), (Estimate(-1.0, 0.1), False)])
def test_did_learn_is_the_gain_beyond_2_se(gain, learned):
    assert C.did_learn(gain) is learned
    # every page's left-out tasks are the ones this precondition rejects
    assert ("x" in C.not_learned({"x": gain})) is not learned


def test_did_learn_decides_the_tables_precondition_too():
    # Tables 1-3 read the same precondition through TaskAccuracies.gain: one seed at 60% over 50% zero-shot on
    # 100 images has SE hypot(5, 5) = 7.07 points, so +10 is not beyond 2 SE and +15 is
    task = C.TaskAccuracies(zero_shot=50.0, test_items=100, classes=4, analogue="x")
    assert not C.did_learn(task.gain([Estimate(60.0)])) and C.did_learn(task.gain([Estimate(65.0)]))


def _direction(effects):
    return C.decide_direction("relevancy.category-decreases", effects, -1, "the class name's share")


def test_a_verdict_that_a_design_choice_moves_is_recorded_inconclusive():
    # page 3's pattern: with land kept 2 of 3 datasets agree (supports); with it left out 1 of 2 (inconclusive)
    kept = [_direction({"badges": E(-1, 0.1), "places": E(0.0, 0.1), "land": E(-1, 0.1)})]
    left_out = [_direction({"badges": E(-1, 0.1), "places": E(0.0, 0.1)})]
    assert (kept[0].outcome, left_out[0].outcome) == (SUPPORTS, INCONCLUSIVE)
    [verdict] = C.decided_in_every_design(kept, {"land left out": left_out}, "keeping land", "land kept")
    assert verdict.outcome == INCONCLUSIVE and verdict.numbers["by_design"] == {"land kept": SUPPORTS, "land left out": INCONCLUSIVE}
    assert "depends on keeping land (land kept: supports, land left out: inconclusive)" in verdict.sentence
    assert kept[0].sentence in verdict.sentence
    # the same outcome in every design: the recorded verdict stands as it is
    assert C.decided_in_every_design(kept, {"other": kept}, "x") == kept
    assert C.decided_in_every_design(kept, {}, "x") == kept


def test_a_failed_precondition_is_not_made_testable_by_another_design():
    few = [_direction({"badges": E(-1, 0.1)})]  # one task: not testable for a sentence about most datasets
    more = [_direction({"badges": E(-1, 0.1), "land": E(-1, 0.1)})]
    assert C.decided_in_every_design(few, {"more": more}, "x")[0].outcome == NOT_TESTABLE


def test_a_design_in_which_the_claim_is_not_testable_is_set_aside_not_counted_against():
    kept = [_direction({"badges": E(-1, 0.1), "land": E(-1, 0.1)})]
    few = [_direction({"badges": E(-1, 0.1)})]  # not testable in that design (one task)
    [verdict] = C.decided_in_every_design(kept, {"one task": few}, "x", "two tasks")
    assert verdict.outcome == SUPPORTS and verdict.numbers["by_design"] == {"two tasks": SUPPORTS, "one task": NOT_TESTABLE}
    assert "Not testable in one task, a design that so decides nothing" in verdict.sentence
    # with a third design that decides otherwise, it is inconclusive and names the set-aside one
    against = [_direction({"badges": E(1, 0.1), "land": E(1, 0.1)})]
    [mixed] = C.decided_in_every_design(kept, {"one task": few, "reversed": against}, "x", "two tasks")
    assert mixed.outcome == INCONCLUSIVE and "one task: not testable, set aside" in mixed.sentence


def test_designs_must_decide_the_same_claims():
    other = [C.decide_direction("relevancy.sos-increases", {"a": E(1, 0.1), "b": E(1, 0.1)}, +1, "x")]
    with pytest.raises(ValueError, match="decide the same claims in the same order"):
        C.decided_in_every_design([_direction({"a": E(-1, 0.1), "b": E(-1, 0.1)})], {"other": other}, "x")


def test_by_variant_inverts_compare():
    from mmprompts.variants import by_variant, compare, other_variants
    a = [_direction({"a": E(-1, 0.1), "b": E(-1, 0.1)})]
    b = [_direction({"a": E(1, 0.1), "b": E(1, 0.1)})]
    assert by_variant(compare({"one": a, "two": b})) == {"one": a, "two": b} and by_variant([]) == {}
    assert other_variants(compare({"this build's": a, "two": b})) == {"two": b} and other_variants([]) == {}


def _heads(*block_means):
    return [[m + 0.02 * (h - 1.5) for h in range(4)] for m in block_means]


def test_especially_sos_rests_on_the_premise_that_eos_attends_mostly_to_sos():
    # "especially SOS" ranks SOS's gain of EOS relevance above the prompts'; where EOS barely attends to SOS
    # (the mini CLIP: 0.00-0.19), a reversed ranking describes the stand-in: not testable, never contradicts
    assert C.CLAIMS["relevancy.sos-most"].premise == "text-attention.eos-focus-on-sos"
    assert C.CLAIMS["relevancy.sos-increases"].premise == ""  # a direction, before against after: not gated
    reversed_ranking = C.decide_direction("relevancy.sos-most", {"a": E(-0.1, 0.01), "b": E(-0.1, 0.01)}, +1, "x")
    assert reversed_ranking.outcome == CONTRADICTS
    lacks = C.decide_eos_focus_on_sos({"a": _heads(0.05, 0.1, 0.12), "b": _heads(0.02, 0.1, 0.19)}, stand_in=True)
    holds = C.decide_eos_focus_on_sos({"a": _heads(0.8, 0.7, 0.9), "b": _heads(0.6, 0.7, 0.6)}, stand_in=True)
    [gated] = C.given_premises([reversed_ranking], [lacks])
    assert gated.outcome == NOT_TESTABLE and "the stand-in lacks it" in gated.sentence and "Decided without it: contradicts" in gated.sentence
    assert C.given_premises([reversed_ranking], [holds]) == [reversed_ranking]
    with pytest.raises(ValueError, match="is not among the verdicts"):
        C.given_premises([reversed_ranking])


def test_every_limit_is_stated_by_its_claims_rule_prose():
    # the register's prose reads the field, so the number a reader sees is the number the rule uses
    from mmprompts.claims.register import _g
    limited = {c.id: c for c in C.CLAIMS.values() if c.limits}
    assert {"bias.slight-gap-to-optimal", "depth.exceeds-clip-by-14", "text-attention.category-same",
            "count.unstable-above-10-per-branch", "scope.distance"} <= set(limited)
    for claim in limited.values():
        prose = claim.rule + claim.measured
        for name, value in claim.limits.items():
            assert _g(value) in prose or f"{value:.0%}" in prose, (claim.id, name, value)


def test_the_rules_read_their_limits_from_the_register(monkeypatch):
    from dataclasses import replace
    from mmprompts.claims import register
    gap = {"a": E(80.0, 0.2), "b": E(80.0, 0.2)}
    optimal = {"a": E(81.5, 0.2), "b": E(81.5, 0.2)}  # gap 1.5 ± 0.4: slight under 2 points
    learned = {"a": E(10, 1), "b": E(10, 1)}
    assert C.decide_bias_near_optimal(gap, optimal, learned).outcome == SUPPORTS
    claim = register.CLAIMS["bias.slight-gap-to-optimal"]
    monkeypatch.setitem(register.CLAIMS, claim.id, replace(claim, limits={"slight": 1.0}))
    assert C.decide_bias_near_optimal(gap, optimal, learned).outcome == CONTRADICTS
    exceeds = register.CLAIMS["depth.exceeds-clip-by-14"]
    assert C.decide_depth_exceeds_clip(E(70.0, 0.1), 55.0).outcome == SUPPORTS  # +15 > 14
    monkeypatch.setitem(register.CLAIMS, exceeds.id, replace(exceeds, limits={"margin": 16.0}))
    assert C.decide_depth_exceeds_clip(E(70.0, 0.1), 55.0).outcome == CONTRADICTS


def test_a_direction_sentence_says_which_way_each_dataset_beat_the_controls():
    # this build's SOS share (V5): up on places (untrained prompts as much), down on badges beyond every control;
    # the sentence must not read as SOS rising beyond the controls on badges
    effects = {"badges": E(-0.05, 0.01), "places": E(0.04, 0.01), "land": E(0.0, 0.01)}
    controls = {"zero": {"badges": E(-0.05, 0.01), "places": E(0.0, 0.01), "land": E(0.0, 0.01)}}
    verdict = C.decide_direction("relevancy.sos-increases", effects, +1, "SOS's share", controls)
    assert verdict.outcome == INCONCLUSIVE
    assert "Beyond every untrained control (zero): rises on none, the other way on 1 (badges)" in verdict.sentence
    assert "untrained prompts do as much on places (zero)" in verdict.sentence


def test_a_box_states_its_rule_once():
    """A not-testable sentence that is its rule's own words (a sentence this book cannot measure) drops the
    box's rule line; any other box keeps it."""
    unmeasured = C.not_measured("similarity.bridge")
    assert unmeasured.sentence.startswith("Not testable here: a causal reading")  # the rule's words, after a colon
    assert "Rule:" not in unmeasured.box_html()
    decided = _direction({"badges": E(-1, 0.1), "land": E(-1, 0.1)})
    assert "Rule:" in decided.box_html() and decided.claim.rule in decided.box_html().replace("&#x27;", "'")
