"""Runs trained together (`multirun.train_group`) are the runs `train_run` trains alone."""
from __future__ import annotations

import json

import pytest
import torch

import mmprompts as mp
from mmprompts import multirun, runs
from mmprompts.data import load_dataset
from mmprompts.data.toy import make_toy_dataset
from mmprompts.experiments import RunSpec, group_specs
from mmprompts.multirun import train_group
from mmprompts.train import Recipe, RunDiverged

# No warm-up and a large lr, so that one epoch moves every learned tensor far beyond the tolerance.
ONE_EPOCH = Recipe(epochs=1, batch_size=4, lr=0.05, warmup_epochs=0, min_crop_scale=0.5)
FOUR_EPOCHS = Recipe(epochs=4, batch_size=4, lr=0.05, min_crop_scale=0.5)
# Grouped and alone differ only in float reduction order (batched matrix products, gradient sums).
TOLERANCE = 1e-5
BOTH_TOWERS = mp.PromptConfig(n_ctx_vision=2, depth_vision=2, n_ctx_text=2, depth_text=3, bias_vision=(1,),
                              bias_text=(0, 2))


@pytest.fixture(scope="module")
def eurosat(tmp_path_factory):
    root = tmp_path_factory.mktemp("coop")
    make_toy_dataset(root, "eurosat", per_class=(8, 2, 4), size=16)
    return load_dataset("eurosat", root)


def alone(clip, data, method, seeds, recipe, cache) -> dict[int, runs.RunResult]:
    return {seed: runs.train_run(clip, data, method, shots=4, seed=seed, recipe=recipe, cache=cache, progress=False)
            for seed in seeds}


def largest_difference(a: runs.RunResult, b: runs.RunResult) -> float:
    first, second = a.model.learned_state(), b.model.learned_state()
    assert first.keys() == second.keys()
    return max(float((first[k] - second[k]).abs().max()) for k in first)


@pytest.mark.parametrize("method", [
    BOTH_TOWERS,
    mp.PromptConfig.bias([0, 1, 2]),
    mp.PromptConfig(n_ctx_vision=2, depth_vision=3),  # nothing learned in the text tower: classes encoded once
], ids=["prompts+biases", "bias", "vision-prompts"])
def test_grouped_runs_equal_runs_alone(tiny_clip, eurosat, tmp_path, method):
    seeds = [1, 2, 3]
    expected = alone(tiny_clip, eurosat, method, seeds, ONE_EPOCH, tmp_path / "alone")
    grouped = train_group(tiny_clip, eurosat, method, seeds=seeds, shots=4, recipe=ONE_EPOCH, cache=tmp_path / "group",
                          progress=False)
    for seed, result in zip(seeds, grouped):
        reference = expected[seed]
        assert result.key == reference.key and not result.cached and result.metrics["group_size"] == 3
        assert largest_difference(result, reference) < TOLERANCE, seed
        # the runs moved far beyond the tolerance, and apart from each other (a mix-up of runs would show)
        start = runs.open_run(tiny_clip, eurosat, method, shots=4, seed=seed, recipe=ONE_EPOCH, cache=tmp_path / "new")
        assert largest_difference(reference, start) > 1000 * TOLERANCE
        assert largest_difference(reference, expected[seed % 3 + 1]) > 1000 * TOLERANCE
        assert result.accuracy == reference.accuracy
        assert result.metrics["history"][0]["loss"] == pytest.approx(reference.metrics["history"][0]["loss"], abs=1e-5)
        folder = tmp_path / "group" / "runs" / result.key
        assert sorted(p.name for p in folder.iterdir()) == ["config.json", "learned.pt", "metrics.json"]
    # finished runs are loaded, not trained again
    again = train_group(tiny_clip, eurosat, method, seeds=[3, 1], shots=4, recipe=ONE_EPOCH, cache=tmp_path / "group",
                        progress=False)
    assert [r.cached for r in again] == [True, True] and again[0].metrics == grouped[2].metrics


def test_a_failing_run_is_reported_and_the_others_finish(tiny_clip, eurosat, tmp_path, monkeypatch):
    seeds = [1, 2, 3]
    expected = alone(tiny_clip, eurosat, BOTH_TOWERS, seeds, FOUR_EPOCHS, tmp_path / "alone")

    # a bad configuration for one run: it never starts
    outcomes = train_group(tiny_clip, eurosat, BOTH_TOWERS, seeds=[1, -1], shots=4, recipe=FOUR_EPOCHS,
                           cache=tmp_path / "bad", progress=False)
    assert isinstance(outcomes[1], ValueError) and "seed=-1" in str(outcomes[1])
    assert outcomes[0].metrics["group_size"] == 1 and largest_difference(outcomes[0], expected[1]) < TOLERANCE

    # a run that diverges: seed 2's values turn non-finite at the first step after resuming (epoch 3); the
    # detection itself is `_finite_runs`, tested below
    cache = tmp_path / "diverge"
    for seed in seeds:
        with pytest.raises(KeyboardInterrupt):
            runs.train_run(tiny_clip, eurosat, BOTH_TOWERS, shots=4, seed=seed, recipe=FOUR_EPOCHS, cache=cache,
                           on_epoch_end=_interrupt_after(1), progress=False)
    real = multirun._finite_runs

    def seed_2_fails_once(losses, stacked):
        finite = real(losses, stacked)
        if not seed_2_fails_once.done:
            finite[1], seed_2_fails_once.done = False, True
        return finite
    seed_2_fails_once.done = False
    monkeypatch.setattr(multirun, "_finite_runs", seed_2_fails_once)
    outcomes = train_group(tiny_clip, eurosat, BOTH_TOWERS, seeds=seeds, shots=4, recipe=FOUR_EPOCHS, cache=cache,
                           progress=False)
    assert isinstance(outcomes[1], RunDiverged)
    assert "seed 2" in str(outcomes[1]) and "epoch 3, step 1 (lr " in str(outcomes[1])
    assert not (cache / "runs" / expected[2].key / "metrics.json").exists()
    assert json.loads((cache / "runs" / expected[2].key / "diverged.json").read_text())["epoch"] == 3  # recorded, not retrained
    for index in (0, 2):
        assert outcomes[index].metrics["group_size"] == 3
        assert largest_difference(outcomes[index], expected[seeds[index]]) < TOLERANCE
        assert outcomes[index].accuracy == expected[seeds[index]].accuracy


def _interrupt_after(last_epoch: int):
    def interrupt(epoch: int, stats: dict) -> None:
        if epoch == last_epoch:
            raise KeyboardInterrupt
    return interrupt


def test_an_interrupted_group_resumes_to_the_same_result(tiny_clip, eurosat, tmp_path, monkeypatch):
    seeds = [1, 2, 3, 4]
    expected = alone(tiny_clip, eurosat, BOTH_TOWERS, seeds, FOUR_EPOCHS, tmp_path / "alone")
    cache = tmp_path / "cache"
    # seeds 2-4 train together and are interrupted after their epoch 2 (index 1) ...
    save = runs.OpenRun.save_checkpoint

    def save_then_interrupt(run, epoch, *args):
        save(run, epoch, *args)
        if epoch == 1 and run.seed == 4:
            raise KeyboardInterrupt

    monkeypatch.setattr(runs.OpenRun, "save_checkpoint", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        train_group(tiny_clip, eurosat, BOTH_TOWERS, seeds=[2, 3, 4], shots=4, recipe=FOUR_EPOCHS, cache=cache,
                    progress=False)
    monkeypatch.undo()
    for seed in (2, 3, 4):
        folder = cache / "runs" / expected[seed].key
        assert torch.load(folder / "checkpoint.pt")["epoch"] == 1 and not (folder / "metrics.json").exists()
    # ... seed 1 alone after its epoch 1, and seed 2 resumes alone from the group's checkpoint
    with pytest.raises(KeyboardInterrupt):
        runs.train_run(tiny_clip, eurosat, BOTH_TOWERS, shots=4, seed=1, recipe=FOUR_EPOCHS, cache=cache,
                       on_epoch_end=_interrupt_after(0), progress=False)
    runs.train_run(tiny_clip, eurosat, BOTH_TOWERS, shots=4, seed=2, recipe=FOUR_EPOCHS, cache=cache, progress=False)

    # seed 1 resumes from epoch 1 and seeds 3, 4 from epoch 2, as two groups; seed 2 is loaded
    resumed = train_group(tiny_clip, eurosat, BOTH_TOWERS, seeds=seeds, shots=4, recipe=FOUR_EPOCHS, cache=cache,
                          progress=False)
    assert [r.cached for r in resumed] == [False, True, False, False]
    assert [r.metrics["group_size"] for r in resumed] == [1, 1, 2, 2]
    for seed, result in zip(seeds, resumed):
        reference = expected[seed]
        assert largest_difference(result, reference) < TOLERANCE, seed
        assert result.accuracy == reference.accuracy
        assert [h["epoch"] for h in result.metrics["history"]] == [0, 1, 2, 3]
        assert [h["loss"] for h in result.metrics["history"]] == pytest.approx(
            [h["loss"] for h in reference.metrics["history"]], abs=1e-5)
        assert not (cache / "runs" / result.key / "checkpoint.pt").exists()


def test_runs_group_by_everything_but_the_seed():
    p42, p43, bias = mp.PromptConfig.prompts(4, 2), mp.PromptConfig.prompts(4, 3), mp.PromptConfig.bias(range(2))
    specs = [RunSpec("shapes", p42, seed) for seed in (1, 2, 3)] + [
        RunSpec("shapes", p43, 1), RunSpec("badges", p42, 1), RunSpec("shapes"),
        RunSpec("shapes", p42, 2), RunSpec("shapes", bias, 1), RunSpec("shapes"),
    ]
    assert group_specs(specs) == [specs[:3], [specs[3]], [specs[4]], [specs[5]], [specs[7]]]


def test_finite_runs_flags_each_run_with_a_non_finite_loss_or_tensor():
    losses = torch.tensor([1.0, float("nan"), 2.0, 3.0])
    prompts = torch.zeros(4, 2, 3)
    prompts[2, 1, 0] = float("inf")
    bias = torch.zeros(4, 5)
    assert multirun._finite_runs(losses, [prompts, bias]).tolist() == [True, False, False, True]


def test_runs_trained_in_worker_processes_are_the_runs_trained_here(tmp_path):
    """run_all with two one-thread processes fills the run cache with the runs one process trains."""
    from mmprompts.experiments import _train_in_processes, run_all
    from mmprompts.profiles import settings

    specs = [RunSpec("eurosat", method, seed) for method in (mp.PromptConfig.prompts(2, 2), mp.PromptConfig.bias(range(2)))
             for seed in (1, 2)]
    make_toy_dataset(tmp_path / "data", "eurosat", per_class=(4, 1, 2), size=16)
    common = dict(data_root=str(tmp_path / "data"), datasets=["eurosat"], shots=2, epochs=2, batch_size=4, device="cpu")
    alone = settings("paper", cache=str(tmp_path / "alone"), workers=1, **common)
    parallel = settings("paper", cache=str(tmp_path / "parallel"), workers=2, **common)
    clip = mp.load_clip("mini-clip", "mini-world")
    expected = run_all(specs, clip, alone, progress=False)
    data = {"eurosat": load_dataset("eurosat", tmp_path / "data")}
    _train_in_processes(group_specs(specs), clip, data, parallel, workers=2, progress=False)
    assert run_all(specs, clip, parallel, progress=False, only_cached=True) == expected  # the workers trained them all
    keys = lambda cache: sorted(p.name for p in (cache / "runs").iterdir())  # noqa: E731
    assert keys(tmp_path / "parallel") == keys(tmp_path / "alone") and len(keys(tmp_path / "alone")) == 4
