"""The intervention test's bookkeeping (mmprompts.mechanism) on hand-made per-image hits."""
from __future__ import annotations

import pytest
import torch

from mmprompts.analysis import ARMS, BRANCHES
from mmprompts.mechanism import ARM_NAMES, ArmAccuracies, arm_rows, recovered


def hits(*values):
    return torch.tensor(values, dtype=torch.bool)


def result():
    """4 test images, 2 runs; CLIP gets 1 right, the full model 4 (run 1) and 3 (run 2)."""
    runs = {}
    for seed, full in (("seed 1", hits(1, 1, 1, 1)), ("seed 2", hits(1, 1, 1, 0))):
        correct = {(b, a): hits(1, 0, 0, 0) for b in BRANCHES for a in ARMS}
        for b in BRANCHES:
            correct[(b, "full")] = full
        correct[("both", "bias")] = hits(1, 1, 1, 0)
        runs[seed] = correct
    return ArmAccuracies("task", hits(1, 0, 0, 0), runs)


def test_accuracies_per_run_and_per_image():
    r = result()
    assert r.accuracy("both", "full") == [100.0, 75.0]
    assert r.zero_shot_accuracy == 25.0
    assert torch.equal(r.per_image("both", "full"), torch.tensor([1.0, 1.0, 1.0, 0.5]))
    assert set(r.effects_input("both")) == set(ARMS)


def test_gain_recovered_and_rows():
    rec = recovered({"task": result()}, "both")
    # full 87.5, CLIP 25: bias 75 recovers (75 − 25) / 62.5 = 80%, the other arms 0%
    assert rec["task"]["bias"] == pytest.approx(80.0)
    assert rec["task"]["reweighting"] == pytest.approx(0.0)
    row = arm_rows({"task": result()}, "both")[0]
    assert row["CLIP"] == "25.0" and row[ARM_NAMES["full"]] == "87.5 ± 17.7" and row[ARM_NAMES["bias"]] == "75.0 ± 0.0"


def test_a_task_whose_full_model_does_not_beat_clip_recovers_nothing():
    r = result()
    r.zero_shot = hits(1, 1, 1, 1)
    assert recovered({"task": r}, "both") == {}


def test_a_task_whose_prompts_did_not_learn_is_left_out_of_the_gain_recovered():
    assert set(recovered({"task": result(), "other": result()}, "both", excluded={"other"})) == {"task"}


def test_gain_rows_say_which_prompts_learned():
    from mmprompts.claims import Estimate
    from mmprompts.mechanism import gain_rows

    rows = gain_rows({"deep": {"a": Estimate(1.1, 1.0), "b": Estimate(5.0, 1.0)}, "shallow": {"a": Estimate(-0.3, 3.0)}})
    assert rows == [{"dataset": "a", "deep − CLIP": "+1.1 ± 2.0 (not learned)", "shallow − CLIP": "−0.3 ± 6.0 (not learned)"},
                    {"dataset": "b", "deep − CLIP": "+5.0 ± 2.0"}]
