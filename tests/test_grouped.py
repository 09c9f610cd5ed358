"""One training loop for one run or many: a run alone is the naive recipe, and runs trained together are runs alone."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

import mmprompts as mp
from mmprompts import runs, train
from mmprompts.data import ImageDataset, fewshot_splits, load_dataset, train_transform
from mmprompts.data.toy import make_toy_dataset
from mmprompts.experiments import RunSpec, _train_in_processes, results, run_all
from mmprompts.profiles import settings
from mmprompts.train import Recipe, RunDiverged, lr_at_epoch

# No warm-up and a large lr, so that one epoch moves every learned tensor far beyond the tolerance.
ONE_EPOCH = Recipe(epochs=1, batch_size=4, lr=0.05, warmup_epochs=0, min_crop_scale=0.5)
FOUR_EPOCHS = Recipe(epochs=4, batch_size=4, lr=0.05, min_crop_scale=0.5)
# Grouped and alone differ only in float reduction order (batched matrix products, gradient sums).
TOLERANCE = 1e-5
BOTH_TOWERS = mp.PromptConfig(n_ctx_vision=2, depth_vision=2, n_ctx_text=2, depth_text=3, bias_vision=(1,),
                              bias_text=(0, 2))


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> dict:
    """Two datasets of different class counts and templates: EuroSAT (4 classes) and DTD (3)."""
    root = tmp_path_factory.mktemp("coop")
    for name in ("eurosat", "dtd"):
        make_toy_dataset(root, name, per_class=(8, 2, 4), size=16)
    return {name: load_dataset(name, root) for name in ("eurosat", "dtd")}


def alone(clip, data, method, seeds, recipe, cache) -> dict[int, runs.RunResult]:
    return {seed: runs.train_run(clip, data, method, shots=4, seed=seed, recipe=recipe, cache=cache, progress=False)
            for seed in seeds}


def largest_difference(a: runs.RunResult, b: runs.RunResult) -> float:
    first, second = a.model.learned_state(), b.model.learned_state()
    assert first.keys() == second.keys()
    return max(float((first[k] - second[k]).abs().max()) for k in first)


def naive_training(clip, data, method, seed, recipe, shots) -> dict[str, torch.Tensor]:
    """The recipe written out plainly: one model, torch's SGD, the PIL transforms, the full text context."""
    fewshot = fewshot_splits(data, shots, seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = mp.PromptedCLIP(clip, method)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)
    tokens = model.tokenize(model.prompt_texts(fewshot.classnames, fewshot.template))
    for epoch in range(recipe.epochs):
        for group in optimizer.param_groups:
            group["lr"] = lr_at_epoch(epoch, recipe)
        epoch_seed = seed * 100_003 + epoch  # each epoch's streams, as the library seeds them
        train._seed_everything(epoch_seed)
        loader = torch.utils.data.DataLoader(ImageDataset(fewshot.train, train_transform(clip, recipe.min_crop_scale)),
                                             batch_size=recipe.batch_size, shuffle=True, drop_last=True,
                                             generator=torch.Generator().manual_seed(epoch_seed))
        iter(loader)  # the dropped iterator of the library's loader (see train.epoch_batches)
        model.train()
        for images, labels in loader:
            logits = model.logits(model.encode_image(images), model.encode_tokens(tokens, truncate=False))
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.learned_state()


@pytest.mark.parametrize("method", [BOTH_TOWERS, mp.PromptConfig.bias([0, 1, 2]), mp.PromptConfig.attention_bias([0, 2])],
                         ids=["prompts+biases", "bias", "attention-bias"])
def test_a_run_alone_is_the_naive_recipe(tiny_clip, toy, tmp_path, method):
    recipe = Recipe(epochs=2, batch_size=4, lr=0.05, warmup_epochs=1, min_crop_scale=0.5)
    result = runs.train_run(tiny_clip, toy["eurosat"], method, shots=4, seed=3, recipe=recipe, cache=tmp_path,
                            progress=False)
    expected = naive_training(tiny_clip, toy["eurosat"], method, 3, recipe, shots=4)
    learned = result.model.learned_state()
    assert max(float((learned[k] - v).abs().max()) for k, v in expected.items()) < TOLERANCE
    start = runs.open_run(tiny_clip, toy["eurosat"], method, shots=4, seed=3, recipe=recipe, cache=tmp_path / "new")
    assert max(float((start.model.learned_state()[k] - v).abs().max()) for k, v in expected.items()) > 1000 * TOLERANCE


@pytest.mark.parametrize("method", [
    BOTH_TOWERS,
    mp.PromptConfig.bias([0, 1, 2]),
    mp.PromptConfig(n_ctx_vision=2, depth_vision=3),  # nothing learned in the text tower: classes encoded once
    mp.PromptConfig.attention_bias([0, 1, 2]),  # stacked [R, heads, keys] score biases
], ids=["prompts+biases", "bias", "vision-prompts", "attention-bias"])
def test_grouped_runs_equal_runs_alone_across_datasets(tiny_clip, toy, tmp_path, method):
    """Two datasets with 4 and 3 classes (padded and masked logits; DTD's epochs one step shorter) in one group."""
    seeds = [1, 2]
    expected = {(name, seed): result for name, data in toy.items()
                for seed, result in alone(tiny_clip, data, method, seeds, ONE_EPOCH, tmp_path / "alone").items()}
    requests = [(toy[name], method, seed) for name in ("dtd", "eurosat") for seed in seeds]
    grouped = runs.train_runs(tiny_clip, requests, shots=4, recipe=ONE_EPOCH, cache=tmp_path / "group", progress=False)
    for (data, _, seed), result in zip(requests, grouped):
        reference = expected[data.name, seed]
        assert result.key == reference.key and not result.cached and result.metrics["group_size"] == 4
        assert largest_difference(result, reference) < TOLERANCE, (data.name, seed)
        # the runs moved far beyond the tolerance, and apart from each other (a mix-up of runs would show)
        start = runs.open_run(tiny_clip, data, method, shots=4, seed=seed, recipe=ONE_EPOCH, cache=tmp_path / "new")
        assert largest_difference(reference, start) > 1000 * TOLERANCE
        # (score biases start at zero for every seed, so two seeds part by data order alone: less far)
        apart = 100 if method.attention_bias_vision else 1000
        assert largest_difference(reference, expected[data.name, 3 - seed]) > apart * TOLERANCE
        assert result.accuracy == reference.accuracy
        assert [h["steps"] for h in result.metrics["history"]] == [len(data.classnames)]  # 4 shots, batch 4
        assert result.metrics["history"][0]["loss"] == pytest.approx(reference.metrics["history"][0]["loss"], abs=1e-5)
        folder = tmp_path / "group" / "runs" / result.key
        assert sorted(p.name for p in folder.iterdir()) == ["config.json", "learned.pt", "log.jsonl", "metrics.json"]
    # finished runs are loaded, not trained again
    again = runs.train_runs(tiny_clip, requests[::-1], shots=4, recipe=ONE_EPOCH, cache=tmp_path / "group",
                            progress=False)
    assert all(r.cached for r in again) and again[0].metrics == grouped[-1].metrics


def test_stacked_sgd_is_torch_sgd_row_by_row():
    """Any subset of rows steps exactly as torch's SGD on those runs' tensors; the other rows stay as they are."""
    recipe = Recipe(lr=0.3, momentum=0.9, weight_decay=5e-4)
    generator = torch.Generator().manual_seed(0)
    values = [torch.randn(4, 3, 5, generator=generator), torch.randn(4, 7, generator=generator)]
    alone = [[v[r].clone().requires_grad_() for v in values] for r in range(4)]
    optimizers = [torch.optim.SGD(p, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)
                  for p in alone]
    stacked = train._StackedSGD(values, recipe, None, ["a", "b"])
    for rows in (None, [0, 2], [3], None, [1, 2, 3]):
        active = list(range(4)) if rows is None else rows
        grads = [torch.randn(len(active), *v.shape[1:], generator=generator) for v in values]
        leaves = stacked.leaves(None if rows is None else torch.tensor(rows))
        for leaf, grad in zip(leaves, grads):
            leaf.grad = grad
        stacked.step(None if rows is None else torch.tensor(rows), leaves, recipe.lr)
        for i, r in enumerate(active):
            for param, grad in zip(alone[r], grads):
                param.grad = grad[i].clone()
            optimizers[r].step()
        for r in range(4):
            for value, param in zip(values, alone[r]):
                assert torch.equal(value[r], param.detach()), (rows, r)
    for r in range(4):
        momentum = stacked.state_of(r)["momentum"]
        assert torch.equal(momentum["a"], optimizers[r].state[alone[r][0]]["momentum_buffer"])


def test_a_failing_run_is_reported_and_the_others_finish(tiny_clip, toy, tmp_path, monkeypatch):
    eurosat, seeds = toy["eurosat"], [1, 2, 3]
    expected = alone(tiny_clip, eurosat, BOTH_TOWERS, seeds, FOUR_EPOCHS, tmp_path / "alone")

    # a bad configuration for one run: it never starts
    outcomes = runs.train_runs(tiny_clip, [(eurosat, BOTH_TOWERS, 1), (eurosat, BOTH_TOWERS, -1)], shots=4,
                               recipe=FOUR_EPOCHS, cache=tmp_path / "bad", progress=False)
    assert isinstance(outcomes[1], ValueError) and "seed=-1" in str(outcomes[1])
    assert outcomes[0].metrics["group_size"] == 1 and largest_difference(outcomes[0], expected[1]) < TOLERANCE

    # a run that diverges: seed 2's values turn non-finite at the first step after resuming (epoch 3); the
    # detection itself is `_finite_runs`, tested below
    cache = tmp_path / "diverge"
    for seed in seeds:
        with pytest.raises(KeyboardInterrupt):
            runs.train_run(tiny_clip, eurosat, BOTH_TOWERS, shots=4, seed=seed, recipe=FOUR_EPOCHS, cache=cache,
                           on_epoch_end=_interrupt_after(1), progress=False)
    real = train._finite_runs

    def seed_2_fails_once(losses, stacked):
        finite = real(losses, stacked)
        if not seed_2_fails_once.done:
            finite[1], seed_2_fails_once.done = False, True
        return finite
    seed_2_fails_once.done = False
    monkeypatch.setattr(train, "_finite_runs", seed_2_fails_once)
    outcomes = runs.train_runs(tiny_clip, [(eurosat, BOTH_TOWERS, seed) for seed in seeds], shots=4,
                               recipe=FOUR_EPOCHS, cache=cache, progress=False)
    assert isinstance(outcomes[1], RunDiverged)
    assert "seed 2" in str(outcomes[1]) and "epoch 3, step 1 (lr " in str(outcomes[1])
    folder = cache / "runs" / expected[2].key
    assert not (folder / "metrics.json").exists()
    assert json.loads((folder / "diverged.json").read_text())["epoch"] == 3  # recorded, not retrained
    log = runs.read_log(folder)  # the epochs before, the diverging step, and why
    assert [(r["kind"], r["epoch"]) for r in log if r["kind"] != "step"] == [("epoch", 1), ("epoch", 2), ("diverged", 3)]
    assert [(r["epoch"], r["step"]) for r in log if r["kind"] == "step"][-1] == (3, 1)
    for index in (0, 2):
        assert outcomes[index].metrics["group_size"] == 3
        assert largest_difference(outcomes[index], expected[seeds[index]]) < TOLERANCE
        assert outcomes[index].accuracy == expected[seeds[index]].accuracy


def _interrupt_after(last_epoch: int):
    def interrupt(epoch: int, stats: dict) -> None:
        if epoch == last_epoch:
            raise KeyboardInterrupt
    return interrupt


def test_an_interrupted_group_resumes_to_the_same_result(tiny_clip, toy, tmp_path, monkeypatch):
    eurosat, seeds = toy["eurosat"], [1, 2, 3, 4]
    expected = alone(tiny_clip, eurosat, BOTH_TOWERS, seeds, FOUR_EPOCHS, tmp_path / "alone")
    cache = tmp_path / "cache"

    # seeds 2-4 train together and are interrupted after their epoch 2 (index 1) ...
    def interrupt(run, epoch, stats):
        if epoch == 1 and run.seed == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runs.train_runs(tiny_clip, [(eurosat, BOTH_TOWERS, seed) for seed in (2, 3, 4)], shots=4, recipe=FOUR_EPOCHS,
                        cache=cache, progress=False, on_epoch_end=interrupt)
    for seed in (2, 3, 4):
        folder = cache / "runs" / expected[seed].key
        assert torch.load(folder / "checkpoint.pt")["epoch"] == 1 and not (folder / "metrics.json").exists()
    # ... seed 1 alone after its epoch 1, and seed 2 resumes alone from the group's checkpoint
    with pytest.raises(KeyboardInterrupt):
        runs.train_run(tiny_clip, eurosat, BOTH_TOWERS, shots=4, seed=1, recipe=FOUR_EPOCHS, cache=cache,
                       on_epoch_end=_interrupt_after(0), progress=False)
    runs.train_run(tiny_clip, eurosat, BOTH_TOWERS, shots=4, seed=2, recipe=FOUR_EPOCHS, cache=cache, progress=False)

    # seed 1 resumes from epoch 1 and seeds 3, 4 from epoch 2, as two groups; seed 2 is loaded
    resumed = runs.train_runs(tiny_clip, [(eurosat, BOTH_TOWERS, seed) for seed in seeds], shots=4,
                              recipe=FOUR_EPOCHS, cache=cache, progress=False)
    assert [r.cached for r in resumed] == [False, True, False, False]
    assert [r.metrics["group_size"] for r in resumed] == [1, 1, 2, 2]
    for seed, result in zip(seeds, resumed):
        reference = expected[seed]
        assert largest_difference(result, reference) < TOLERANCE, seed
        assert result.accuracy == reference.accuracy
        assert [h["epoch"] for h in result.metrics["history"]] == [0, 1, 2, 3]
        assert [h["loss"] for h in result.metrics["history"]] == pytest.approx(
            [h["loss"] for h in reference.metrics["history"]], abs=1e-5)
        folder = cache / "runs" / result.key
        assert not (folder / "checkpoint.pt").exists()
        # the log holds every epoch once, in order, whatever was interrupted and resumed
        log = runs.read_log(folder)
        assert [(r["epoch"], r["step"]) for r in log if r["kind"] == "step"] == [
            (e, s) for e in range(1, 5) for s in range(1, 5)]
        assert [r["kind"] for r in log if r["kind"] != "step"] == ["epoch"] * 4 + ["test"]


def test_groups_are_planned_by_shape_and_length_whatever_the_order(tiny_clip, toy, tmp_path):
    prompts, bias = mp.PromptConfig.prompts(2, 2), mp.PromptConfig.bias(range(2))
    requests = [(toy[name], method, seed) for name in ("dtd", "eurosat") for method in (prompts, bias)
                for seed in (1, 2, 3)]
    opened = runs.open_runs(tiny_clip, requests, shots=4, recipe=ONE_EPOCH, cache=tmp_path)

    def plan(runs_, limit):
        return [[(r.fewshot.name, r.model.config, r.seed) for r in g] for g in runs.plan_groups(runs_, ONE_EPOCH, limit)]

    groups = plan(opened, 4)
    assert plan(opened[::-1], 4) == groups
    # one shape per group, the longer dataset (eurosat: 16 images) first, groups as even as the limit allows,
    # the most work first (prompts cost more tokens than biases; eurosat has more steps than dtd)
    assert groups == [[("eurosat", prompts, s) for s in (1, 2, 3)], [("eurosat", bias, s) for s in (1, 2, 3)],
                      [("dtd", prompts, s) for s in (1, 2, 3)], [("dtd", bias, s) for s in (1, 2, 3)]]
    assert plan(opened, 16) == [[(n, prompts, s) for n in ("eurosat", "dtd") for s in (1, 2, 3)],
                                [(n, bias, s) for n in ("eurosat", "dtd") for s in (1, 2, 3)]]
    # a different batch size (the whole few-shot set is smaller than a batch) is a group of its own
    small = runs.open_runs(tiny_clip, [(toy["dtd"], prompts, 1), (toy["eurosat"], prompts, 1)], shots=1,
                           recipe=ONE_EPOCH, cache=tmp_path)
    assert plan(small, 16) == [[("eurosat", prompts, 1)], [("dtd", prompts, 1)]]


def test_group_limit_follows_free_memory(tiny_clip, toy, tmp_path, monkeypatch):
    opened = runs.open_runs(tiny_clip, [(toy["eurosat"], BOTH_TOWERS, 1)], shots=4, recipe=ONE_EPOCH, cache=tmp_path)
    per_run = runs._step_bytes(opened[0].model, opened[0].fewshot, ONE_EPOCH)
    monkeypatch.setattr(runs, "_free_memory", lambda: 4 * 5 * per_run)
    assert runs.group_limit(opened, ONE_EPOCH) == 5
    monkeypatch.setattr(runs, "_free_memory", lambda: 10**15)
    assert runs.group_limit(opened, ONE_EPOCH) == runs.CPU_GROUP_RUNS


def test_finite_runs_flags_each_run_with_a_non_finite_loss_or_tensor():
    losses = torch.tensor([1.0, float("nan"), 2.0, 3.0])
    prompts = torch.zeros(4, 2, 3)
    prompts[2, 1, 0] = float("inf")
    bias = torch.zeros(4, 5)
    assert train._finite_runs(losses, [prompts, bias]).tolist() == [True, False, False, True]


def test_a_run_whose_test_logits_are_not_finite_is_diverged_not_finished(tiny_clip, toy, tmp_path):
    """Issue 30: `--epochs 1 --warmup-epochs 0 --lr 1e38` left finite prompts of ~1e38 and NaN test logits,
    and was stored as a finished run with a chance-level accuracy. One step (1 shot of 4 classes, batch 4) at
    lr 1e30 leaves every run's prompts finite but huge."""
    recipe = Recipe(epochs=1, warmup_epochs=0, lr=1e30, batch_size=4)
    for seeds in ([1], [1, 2, 3]):  # alone, and a group
        cache = tmp_path / str(len(seeds))
        outcomes = runs.train_runs(tiny_clip, [(toy["eurosat"], BOTH_TOWERS, seed) for seed in seeds], shots=1,
                                   recipe=recipe, cache=cache, progress=False)
        for seed, outcome in zip(seeds, outcomes):
            assert isinstance(outcome, RunDiverged), outcome
            assert "its test logits are not finite after its last step (epoch 1, step 1, lr 1e+30)" in str(outcome)
        for folder in (cache / "runs").iterdir():
            assert not (folder / "metrics.json").exists()
            assert json.loads((folder / "diverged.json").read_text())["step"] == 1
            assert runs.read_log(folder)[-1]["kind"] == "diverged"
    # never cached as an accuracy: the tables read it as diverged
    config = settings("paper", datasets=["eurosat"], shots=1, epochs=1, warmup_epochs=0, lr=1e30,
                                  batch_size=4, cache=str(tmp_path / "3"), processes=1)
    found = results([RunSpec("eurosat", BOTH_TOWERS, 2)], tiny_clip, config, splits={"eurosat": toy["eurosat"]},
                    only_cached=True)
    assert found[RunSpec("eurosat", BOTH_TOWERS, 2)].reason == "diverged"


def test_runs_trained_in_worker_processes_are_the_runs_trained_here(tmp_path):
    """run_all with two one-thread processes fills the run cache with the runs one process trains, in the same groups."""
    specs = [RunSpec(name, method, seed) for name in ("eurosat", "dtd")
             for method in (mp.PromptConfig.prompts(2, 2), mp.PromptConfig.bias(range(2))) for seed in (1, 2)]
    for name in ("eurosat", "dtd"):
        make_toy_dataset(tmp_path / "data", name, per_class=(4, 1, 2), size=16)
    common = dict(data_root=str(tmp_path / "data"), datasets=["eurosat", "dtd"], shots=2, epochs=2, batch_size=4,
                  device="cpu")
    clip = mp.load_clip("mini-clip", "mini-world")
    expected = run_all(specs, clip, settings("paper", cache=str(tmp_path / "alone"), processes=1, **common),
                       progress=False)
    parallel = settings("paper", cache=str(tmp_path / "parallel"), processes=2, **common)
    data = {name: load_dataset(name, tmp_path / "data") for name in ("eurosat", "dtd")}
    _train_in_processes(specs, clip, parallel, data, processes=2, progress=False)
    assert run_all(specs, clip, parallel, progress=False, only_cached=True) == expected  # the workers trained them all
    keys = lambda cache: sorted(p.name for p in (cache / "runs").iterdir())  # noqa: E731
    assert keys(tmp_path / "parallel") == keys(tmp_path / "alone") and len(keys(tmp_path / "alone")) == 8
