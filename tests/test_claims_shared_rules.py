"""The rules every verdict shares: one "did it learn" precondition and one "in most datasets" majority."""
from __future__ import annotations

import pytest

from mmprompts import claims as C
from mmprompts.claims import CONTRADICTS, INCONCLUSIVE, SUPPORTS, Estimate
from mmprompts.claims.core import majority

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
