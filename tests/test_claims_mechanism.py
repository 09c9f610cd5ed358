"""The rules of the paper's central claim (Sec. 3.2.1's hypotheses, decided by transplant) on hand-made numbers."""
from __future__ import annotations

import pytest
import torch

from mmprompts import claims as C
from mmprompts.claims import CONTRADICTS, INCONCLUSIVE, NOT_TESTABLE, SUPPORTS, Estimate


def E(mean, se=0.0):
    return Estimate(mean, se, 100)


def effects(gain=20.0, term_half=5.0, reweighting_half=-5.0, versus=10.0, se=1.0):
    return {"gain": E(gain, se), "prompt_term_half": E(term_half, se), "reweighting_half": E(reweighting_half, se),
            "prompt_term_vs_reweighting": E(versus, se), "constant_term_half": E(term_half, se),
            "constant_term_vs_reweighting": E(versus, se)}


FIRST = dict(term_half=-5, reweighting_half=5, versus=-10)
BOTH = dict(term_half=-5, reweighting_half=-5, versus=0)


@pytest.mark.parametrize("e, way", [
    (effects(), "second"),
    (effects(gain=2.0), NOT_TESTABLE),                                   # boundary: exactly 2 SE is no gain
    (effects(gain=2.1), "second"),
    (effects(**FIRST), "first"),
    (effects(**BOTH), "both"),
    (effects(term_half=5, reweighting_half=5, versus=0), "undecided"),   # each alone keeps more than half: tied
    (effects(term_half=5, versus=2.0), "undecided"),                     # more than re-weighting, but not beyond 2 SE
    (effects(term_half=2.0, versus=10), "undecided"),                    # half the gain, not beyond 2 SE
])
def test_mechanism_way_per_dataset(e, way):
    assert C.mechanism_way(e) == way


def test_with_the_fixed_term_both_needs_the_two_together_to_keep_more_than_half():
    e = effects(**BOTH)
    e["constant_term_half"], e["constant_term_vs_reweighting"] = E(-5, 1), E(0, 1)
    e["reweighting_constant_term_half"] = E(5, 1)
    assert C.mechanism_way(e, "constant-term") == "both"
    e["reweighting_constant_term_half"] = E(-5, 1)
    assert C.mechanism_way(e, "constant-term") == "neither"
    e["reweighting_constant_term_half"] = E(1, 1)
    assert C.mechanism_way(e, "constant-term") == "undecided"
    assert C.mechanism_way(effects(**BOTH)) == "both"  # the added term per input: together they are the full model


def test_mechanism_way_reads_the_fixed_term_arm_when_asked():
    e = effects(reweighting_half=0.0)
    e["constant_term_half"] = E(-5, 1)
    assert C.mechanism_way(e) == "second" and C.mechanism_way(e, "constant-term") == "undecided"


@pytest.mark.parametrize("ways, hypothesis, outcome", [
    ({"a": effects(), "b": effects(), "c": effects(term_half=1)}, "second", SUPPORTS),
    ({"a": effects(), "b": effects(**FIRST), "c": effects()}, "second", INCONCLUSIVE),
    ({"a": effects(), "b": effects(**BOTH), "c": effects(**BOTH)}, "second", INCONCLUSIVE),  # the mirror of the above
    ({"a": effects(term_half=1), "b": effects(**BOTH), "c": effects(**BOTH)}, "second", CONTRADICTS),
    ({"a": effects(**FIRST)}, "first", SUPPORTS),  # the known answer: a check of the machinery, one task suffices
    ({"a": effects(gain=0), "b": effects(gain=-3)}, "second", NOT_TESTABLE),
    ({"a": effects(gain=0), "b": effects()}, "second", NOT_TESTABLE),  # a sentence about datasets: one task is too few
    ({"a": effects(gain=0), "b": effects(), "c": effects()}, "second", SUPPORTS),
])
def test_decide_mechanism_over_datasets(ways, hypothesis, outcome):
    claim = "mechanism.second-way" if hypothesis == "second" else "mechanism.known-first-way"
    assert C.decide_mechanism(claim, ways, hypothesis).outcome == outcome


@pytest.mark.parametrize("ways, outcome, finding", [
    ({"a": effects(), "b": effects()}, SUPPORTS, "finds the hypothesis failing, as the paper holds"),   # the second way: H1 fails
    ({"a": effects(**FIRST), "b": effects(**FIRST)}, CONTRADICTS, "finds the hypothesis holding, against"),  # H1 holds: against the paper
    ({"a": effects(), "b": effects(**FIRST), "c": effects(term_half=1, reweighting_half=1, versus=0)}, INCONCLUSIVE,
     "undecided"),
    ({"a": effects(gain=0)}, NOT_TESTABLE, ""),
    ({"a": effects(**FIRST), "b": effects(gain=0)}, NOT_TESTABLE, ""),  # one testable task: too few
])
def test_a_hypothesis_the_paper_rejects_is_scored_against_the_rejection(ways, outcome, finding):
    assert C.CLAIMS["mechanism.first-way"].position == "rejects"
    verdict = C.decide_mechanism("mechanism.first-way", ways, "first")
    assert verdict.outcome == outcome and finding in verdict.sentence
    if outcome != NOT_TESTABLE:
        assert verdict.sentence.startswith("The paper concludes against this hypothesis")


def test_hypothesis_3_rejected_by_the_paper_reaches_each_outcome():
    both = {"a": effects(**BOTH), "b": effects(**BOTH)}
    verdict = C.decide_mechanism("mechanism.both-ways", both, "both")
    assert verdict.outcome == CONTRADICTS
    # the paper does not reject hypothesis 3 in words: the sentence says it is this book's reading of "mainly"
    assert verdict.sentence.startswith("The paper does not reject this hypothesis in words")
    assert C.decide_mechanism("mechanism.both-ways", {"a": effects(), "b": effects()}, "both").outcome == SUPPORTS


def test_not_testable_names_the_failed_precondition():
    verdict = C.decide_mechanism("mechanism.second-way", {"objects": effects(gain=0.9, se=1.0)}, "second")
    assert verdict.outcome == NOT_TESTABLE
    assert "objects +0.9" in verdict.sentence and verdict.sentence.startswith("Not testable here")


def test_the_se_of_an_effect_counts_the_spread_of_the_runs():
    """Two runs that disagree on every image: over images their mean effect is exact, over runs it is not."""
    per_image = {"clip": torch.zeros(2, 4), "full": torch.tensor([[1.0, 1, 1, 1], [0, 0, 0, 0]]),
                 "reweighting": torch.zeros(2, 4), "prompt-term": torch.zeros(2, 4)}
    gain = C.mechanism_effects(per_image)["gain"]
    assert gain.mean == pytest.approx(50.0)
    assert gain.se == pytest.approx(50.0)  # the image SE is 0 (every image 0.5); the runs' means 100 and 0: SE 50


def test_mechanism_effects_pair_the_images_in_points_against_the_clip_corner():
    per_image = {"clip": torch.tensor([0.0, 0.0, 1.0, 1.0]), "full": torch.tensor([1.0, 1.0, 1.0, 1.0]),
                 "reweighting": torch.tensor([0.0, 0.0, 1.0, 1.0]), "prompt-term": torch.tensor([1.0, 2 / 3, 1.0, 1.0])}
    e = C.mechanism_effects(per_image)
    assert e["gain"].mean == pytest.approx(50.0)
    # half the gain per image: 0.5, 0.5, 1, 1; prompt term − half: 0.5, 1/6, 0, 0
    assert e["prompt_term_half"].mean == pytest.approx(100 * (0.5 + 1 / 6) / 4)
    assert e["reweighting_half"].mean == pytest.approx(-25.0)
    assert e["prompt_term_vs_reweighting"].mean == pytest.approx(100 * (1 + 2 / 3) / 4)
    assert "reweighting_vs_reweighting" not in e and "clip_half" not in e


def test_the_conclusion_is_written_from_the_verdicts():
    main = C.decide_mechanism("mechanism.second-way", {"a": effects(), "b": effects()}, "second")
    fixed = C.decide_mechanism("mechanism.second-way-constant", {"a": effects(**BOTH), "b": effects(**BOTH)}, "second")
    known = C.decide_mechanism("mechanism.known-first-way", {"a": effects(**FIRST)}, "first")
    text = C.mechanism_conclusion({"both towers": main, "fixed term": fixed}, [known])
    assert "both towers: the second way on a and b — supports" in text
    assert "fixed term: both indispensable on a and b — contradicts" in text
    assert text.index("Where the answer is known") < text.index("Per reading")  # the checks come first
    assert "attention-bias tuning, which can act only through the relative attention: the first way (re-weighting) on a" \
        in text


def test_a_failed_known_answer_makes_the_rules_verdicts_inconclusive():
    main = C.decide_mechanism("mechanism.second-way", {"a": effects(), "b": effects()}, "second")
    rejected = C.decide_mechanism("mechanism.first-way", {"a": effects(), "b": effects()}, "first")
    passed = C.decide_mechanism("mechanism.known-second-way", {"a": effects(), "b": effects()}, "second")
    missed = C.decide_mechanism("mechanism.known-second-way", {"a": effects(**FIRST)}, "second")
    assert (main.outcome, rejected.outcome, passed.outcome, missed.outcome) == (SUPPORTS, SUPPORTS, SUPPORTS, CONTRADICTS)
    assert C.given_known_answer(main, passed) is main
    for verdict in (main, rejected):
        gated = C.given_known_answer(verdict, missed)
        assert gated.outcome == INCONCLUSIVE and gated.numbers["rule_alone"] == SUPPORTS
        assert "did not decide bias tuning as the second way, the answer the paper's argument expects (contradicts)" in gated.sentence
    assert C.given_known_answer(main, None).outcome == INCONCLUSIVE  # no check run: not shown able to decide
    undecided = C.decide_mechanism("mechanism.second-way", {"a": effects(term_half=1, reweighting_half=1, versus=0),
                                                            "b": effects()}, "second")
    assert C.given_known_answer(undecided, missed) is undecided
    text = C.mechanism_conclusion({"both towers": C.given_known_answer(main, missed)}, [missed])
    # a gated reading's own outcome is no finding: the conclusion does not show it
    assert "inconclusive, whatever the tasks were decided as" in text and "— inconclusive" in text
    assert "supports" not in text.split("Per reading")[1]


def test_a_dataset_whose_way_keeps_less_than_half_goes_against_the_hypothesis_even_when_undecided():
    """The fixed term alone keeps significantly less than half of the gain, but the rule cannot say which other
    hypothesis holds (re-weighting + fixed term within noise of half): still evidence against "mainly the
    second way"."""
    def fixed(term_half):
        e = effects(**BOTH)
        e["constant_term_half"], e["constant_term_vs_reweighting"] = E(term_half, 1), E(0, 1)
        e["reweighting_constant_term_half"] = E(0.5, 1)
        return e
    assert C.mechanism_way(fixed(-5), "constant-term") == "undecided"
    verdict = C.decide_mechanism("mechanism.second-way-constant", {"a": fixed(-5), "b": fixed(-5), "c": fixed(1)}, "second",
                                 term_arm="constant-term")
    assert verdict.outcome == CONTRADICTS and "though undecided between the others: a and b" in verdict.sentence
    # only significantly below half counts against: within noise it stays undecided
    verdict = C.decide_mechanism("mechanism.second-way-constant", {"a": fixed(-1), "b": fixed(-1)}, "second",
                                 term_arm="constant-term")
    assert verdict.outcome == INCONCLUSIVE


@pytest.mark.parametrize("ways, outcome", [
    ({"a": effects(), "b": effects()}, SUPPORTS),                                   # recovered on both
    ({"a": effects(**FIRST), "b": effects(**FIRST)}, CONTRADICTS),  # missed on both
    ({"a": effects(), "b": effects(term_half=1, reweighting_half=1, versus=0)}, INCONCLUSIVE),
    ({"a": effects(gain=0)}, NOT_TESTABLE),
])
def test_a_known_answer_missed_on_every_dataset_fails_its_check(ways, outcome):
    verdict = C.decide_mechanism("mechanism.known-second-way", ways, "second")
    assert verdict.outcome == outcome
    assert ("recovered on none" in verdict.sentence) == (outcome == CONTRADICTS)


