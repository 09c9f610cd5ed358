"""The rules of the paper's central claim (Sec. 3.2.1's hypotheses, decided by intervention) on hand-made numbers."""
from __future__ import annotations

import pytest
import torch

from mmprompts import claims as C
from mmprompts.claims import CONTRADICTS, INCONCLUSIVE, NOT_TESTABLE, SUPPORTS, Estimate


def E(mean, se=0.0):
    return Estimate(mean, se, 100)


def effects(gain=20.0, bias_half=5.0, reweighting_half=-5.0, versus=10.0, se=1.0):
    return {"gain": E(gain, se), "bias_half": E(bias_half, se), "reweighting_half": E(reweighting_half, se),
            "bias_vs_reweighting": E(versus, se), "constant_bias_half": E(bias_half, se),
            "constant_bias_vs_reweighting": E(versus, se)}


@pytest.mark.parametrize("e, way", [
    (effects(), "second"),
    (effects(gain=2.0), NOT_TESTABLE),                                   # boundary: exactly 2 SE is no gain
    (effects(gain=2.1), "second"),
    (effects(bias_half=-5, reweighting_half=5, versus=-10), "first"),
    (effects(bias_half=-5, reweighting_half=-5, versus=0), "both"),
    (effects(bias_half=5, reweighting_half=5, versus=0), "undecided"),   # each alone recovers more than half: tied
    (effects(bias_half=5, versus=2.0), "undecided"),                     # more than re-weighting, but not beyond 2 SE
    (effects(bias_half=2.0, versus=10), "undecided"),                    # half the gain, not beyond 2 SE
])
def test_mechanism_way_per_dataset(e, way):
    assert C.mechanism_way(e) == way


def test_mechanism_way_reads_the_constant_bias_arm_when_asked():
    e = effects(reweighting_half=0.0)
    e["constant_bias_half"] = E(-5, 1)
    assert C.mechanism_way(e) == "second" and C.mechanism_way(e, "constant-bias") == "undecided"


@pytest.mark.parametrize("ways, hypothesis, outcome", [
    ({"a": effects(), "b": effects(), "c": effects(bias_half=1)}, "second", SUPPORTS),
    ({"a": effects(), "b": effects(bias_half=-5, reweighting_half=5, versus=-10), "c": effects()}, "second", INCONCLUSIVE),
    ({"a": effects(), "b": effects(bias_half=-5, reweighting_half=-5, versus=0),
      "c": effects(bias_half=-5, reweighting_half=-5, versus=0)}, "second", CONTRADICTS),
    ({"a": effects(), "b": effects(bias_half=-5, reweighting_half=-5, versus=0),
      "c": effects(bias_half=-5, reweighting_half=-5, versus=0)}, "both", INCONCLUSIVE),  # a decided the second way
    ({"a": effects(bias_half=-5, reweighting_half=5, versus=-10)}, "first", SUPPORTS),
    ({"a": effects(gain=0), "b": effects(gain=-3)}, "second", NOT_TESTABLE),
    ({"a": effects(gain=0), "b": effects()}, "second", SUPPORTS),  # only b is testable, and it agrees
])
def test_decide_mechanism_over_datasets(ways, hypothesis, outcome):
    verdict = C.decide_mechanism("mechanism.second-way", ways, hypothesis)
    assert verdict.outcome == outcome


def test_not_testable_names_the_failed_precondition():
    verdict = C.decide_mechanism("mechanism.second-way", {"objects": effects(gain=0.9, se=1.0)}, "second")
    assert verdict.outcome == NOT_TESTABLE
    assert "objects +0.9" in verdict.sentence and verdict.sentence.startswith("Not testable here")


def test_mechanism_effects_pair_the_images_in_points():
    zero_shot = torch.tensor([0.0, 0.0, 1.0, 1.0])
    per_image = {"full": torch.tensor([1.0, 1.0, 1.0, 1.0]), "reweighting": torch.tensor([0.0, 0.0, 1.0, 1.0]),
                 "bias": torch.tensor([1.0, 2 / 3, 1.0, 1.0])}
    e = C.mechanism_effects(per_image, zero_shot)
    assert e["gain"].mean == pytest.approx(50.0)
    # half the gain per image: 0.5, 0.5, 1, 1; bias − half: 0.5, 1/6, 0, 0
    assert e["bias_half"].mean == pytest.approx(100 * (0.5 + 1 / 6) / 4)
    assert e["reweighting_half"].mean == pytest.approx(-25.0)
    assert e["bias_vs_reweighting"].mean == pytest.approx(100 * (1 + 2 / 3) / 4)
    assert "reweighting_vs_reweighting" not in e
