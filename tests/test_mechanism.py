"""The transplant test's bookkeeping (mmprompts.mechanism) on hand-made per-image hits."""
from __future__ import annotations

import pytest
import torch

from mmprompts.analysis import ARMS, BRANCHES
from mmprompts.claims import Estimate
from mmprompts.mechanism import ARM_NAMES, ArmAccuracies, arm_rows, recovered


def hits(*values):
    return torch.tensor(values, dtype=torch.bool)


def result():
    """4 test images, 2 runs; the CLIP corner gets 1 right, the full model 4 (run 1) and 3 (run 2)."""
    runs = {}
    for seed, full in (("seed 1", hits(1, 1, 1, 1)), ("seed 2", hits(1, 1, 1, 0))):
        correct = {(b, a): hits(1, 0, 0, 0) for b in BRANCHES for a in ARMS}
        for b in BRANCHES:
            correct[(b, "full")] = full
        correct[("both", "prompt-term")] = hits(1, 1, 1, 0)
        runs[seed] = correct
    return ArmAccuracies("task", runs)


def test_accuracies_per_run_and_per_image():
    r = result()
    assert r.accuracy("both", "full") == [100.0, 75.0]
    assert torch.equal(r.effects_input("both")["full"].float().mean(0), torch.tensor([1.0, 1.0, 1.0, 0.5]))
    assert r.images == 4
    assert set(r.effects_input("both")) == set(ARMS)


def test_gain_kept_is_measured_from_the_clip_corner_and_rows():
    rec = recovered({"task": result()}, "both")
    # full 87.5, CLIP corner 25: the prompt term's 75 keeps (75 − 25) / 62.5 = 80%, the other arms 0%
    assert rec["task"]["prompt-term"] == pytest.approx(80.0)
    assert rec["task"]["reweighting"] == pytest.approx(0.0)
    assert "clip" not in rec["task"] and "full" not in rec["task"]
    row = arm_rows({"task": result()}, "both")[0]
    assert row["CLIP"] == "25.0" and row[ARM_NAMES["full"]] == "87.5 ± 17.7" and row[ARM_NAMES["prompt-term"]] == "75.0 ± 0.0"


def test_a_task_whose_full_model_does_not_beat_clip_keeps_nothing():
    r = result()
    for correct in r.runs.values():
        correct[("both", "clip")] = hits(1, 1, 1, 1)
    assert recovered({"task": r}, "both") == {}


def test_a_task_whose_prompts_did_not_learn_is_left_out_of_the_gain_kept():
    assert set(recovered({"task": result(), "other": result()}, "both", excluded={"other"})) == {"task"}


def test_gain_rows_say_which_prompts_learned():
    from mmprompts.claims import Estimate
    from mmprompts.gains import gain_rows

    rows = gain_rows({"deep": {"a": Estimate(1.1, 1.0), "b": Estimate(5.0, 1.0)}, "shallow": {"a": Estimate(-0.3, 3.0)}})
    assert rows == [{"dataset": "a", "deep − CLIP": "+1.1 ± 2.0 (not learned)", "shallow − CLIP": "−0.3 ± 6.0 (not learned)"},
                    {"dataset": "b", "deep − CLIP": "+5.0 ± 2.0"}]


def test_every_reading_is_decided_and_gated_by_the_known_answer():
    from mmprompts.claims import CLAIMS, CONTRADICTS, INCONCLUSIVE, SUPPORTS
    from mmprompts.mechanism import READINGS, reading_verdicts
    from mmprompts.claims import Verdict

    e = {"gain": Estimate(20, 1, 100), "prompt_term_half": Estimate(5, 1, 100), "reweighting_half": Estimate(-5, 1, 100),
         "prompt_term_vs_reweighting": Estimate(10, 1, 100), "constant_term_half": Estimate(5, 1, 100),
         "constant_term_vs_reweighting": Estimate(10, 1, 100), "reweighting_constant_term_half": Estimate(5, 1, 100)}
    effects = {branch: {"a": e, "b": e} for branch in BRANCHES}
    passed = Verdict(CLAIMS["mechanism.known-second-way"], SUPPORTS, "recovered")
    missed = Verdict(CLAIMS["mechanism.known-second-way"], CONTRADICTS, "missed")
    decided = reading_verdicts(effects, passed)
    assert set(decided) == set(READINGS) and {v.claim.id for v in decided.values()} == {c for c, *_ in READINGS.values()}
    assert decided["both towers, the added term per input"].outcome == SUPPORTS
    assert decided["hypothesis 1, added term"].outcome == SUPPORTS  # the paper's position: hypothesis 1 fails here
    assert all(v.outcome == INCONCLUSIVE for v in reading_verdicts(effects, missed).values())


def test_the_memory_of_clip_image_parts_is_what_they_take(tiny_clip, images):
    """`_clip_parts_bytes` decides whether page 2 keeps CLIP's parts across a dataset's runs: it must count what a
    recording of them holds (r, s, t per block)."""
    import mmprompts as mp
    from mmprompts.analysis import arm_correct, prompt_term_means
    from mmprompts.mechanism import _clip_parts_bytes

    model = mp.PromptedCLIP(tiny_clip, mp.PromptConfig.prompts(2, 3)).eval()
    shared: list = []
    arm_correct(model, [(images, torch.tensor([0, 1, 2]))], ["a", "b", "c"],
                prompt_term_means(model, [images], ["a", "b", "c"]), clip_image_parts=shared)
    recorded = sum(t.numel() * 4 for parts in shared for p in parts for t in (p.relative, p.share, p.term))
    assert _clip_parts_bytes(tiny_clip, len(images)) == recorded
