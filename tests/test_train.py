"""The paper's recipe, the training loop, the run cache and resume."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

import mmprompts as mp
from mmprompts import runs
from mmprompts.data import ImageDataset, eval_transform, fewshot_splits, load_dataset
from mmprompts.data.toy import make_toy_dataset
from mmprompts.train import Recipe, class_text_features, lr_at_epoch

SHORT = Recipe(epochs=3, batch_size=4, lr=0.05)


@pytest.fixture(scope="module")
def eurosat(tmp_path_factory):
    root = tmp_path_factory.mktemp("coop")
    make_toy_dataset(root, "eurosat", per_class=(8, 2, 4), size=16)
    return load_dataset("eurosat", root)


def test_lr_schedule_matches_dassl():
    paper = Recipe()
    # epoch 0 is the constant warm-up; then the values of a published CoOp log
    expected = [1e-5, 0.0025, 0.00243882, 0.00226127, 0.00198473, 0.00163627, 0.00125, 0.000863729,
                0.000515268, 0.000238729]
    # the log prints 6 significant digits
    assert [float(f"{lr_at_epoch(e, paper):.6g}") for e in range(10)] == expected


@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": 0}, "epochs=0: must be a positive integer"),
    ({"batch_size": -2}, "batch_size=-2: must be a positive integer"),
    ({"epochs": 2.5}, "epochs=2.5"),
    ({"warmup_epochs": 10}, "warmup_epochs=10: must be an integer in 0..9 with epochs=10"),
    ({"lr": -1.0}, "lr=-1.0: must be >= 0"),
    ({"min_crop_scale": 0.0}, "min_crop_scale=0.0: must be in \\(0, 1\\]"),
])
def test_bad_recipes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Recipe(**kwargs)


def test_full_crop_scale_keeps_the_whole_image(tiny_clip):
    """min_crop_scale=1 (the mini recipe): the train transform is the test transform up to a flip."""
    from PIL import Image

    from mmprompts.data import train_transform

    image = Image.fromarray(torch.randint(0, 256, (tiny_clip.image_size,) * 2 + (3,), dtype=torch.uint8).numpy())
    expected = eval_transform(tiny_clip)(image)
    torch.manual_seed(0)
    for _ in range(8):
        out = train_transform(tiny_clip, 1.0)(image)
        assert torch.equal(out, expected) or torch.equal(out, expected.flip(-1))
    cropped = [train_transform(tiny_clip)(image) for _ in range(8)]  # CoOp's crops do change it
    assert not all(torch.equal(c, expected) or torch.equal(c, expected.flip(-1)) for c in cropped)


def train_loss(model, clip, data) -> float:
    """Mean cross-entropy over the (few-shot) train images without augmentation."""
    images, labels = zip(*ImageDataset(data.train, eval_transform(clip)))
    with torch.no_grad():
        logits = model.logits(model.encode_image(torch.stack(images)),
                              class_text_features(model, data.classnames, data.template))
    return F.cross_entropy(logits, torch.tensor(labels)).item()


@pytest.mark.parametrize("method", [mp.PromptConfig.prompts(2, 2), mp.PromptConfig.bias([0, 1, 2])], ids=["prompts", "bias"])
def test_training_lowers_loss_and_touches_only_learned_tensors(tiny_clip, eurosat, tmp_path, method):
    backbone = {k: v.clone() for k, v in tiny_clip.model.state_dict().items()}
    with torch.random.fork_rng():
        torch.manual_seed(4)
        start = mp.PromptedCLIP(tiny_clip, method)
    before = train_loss(start, tiny_clip, fewshot_splits(eurosat, 4, 4))
    result = runs.train_run(tiny_clip, eurosat, method, shots=4, seed=4, recipe=Recipe(epochs=6, batch_size=4, lr=0.1),
                            cache=tmp_path, progress=False)
    after = train_loss(result.model, tiny_clip, fewshot_splits(eurosat, 4, 4))
    assert after < before - 0.05
    assert all(torch.equal(v, backbone[k]) for k, v in tiny_clip.model.state_dict().items())
    learned = result.model.learned_state()
    assert any(not torch.equal(learned[k], v) for k, v in start.learned_state().items())
    assert result.metrics["train_items"] == 16
    images, labels = zip(*ImageDataset(eurosat.test, eval_transform(tiny_clip)))  # the test split in one batch
    with torch.no_grad():
        logits = result.model.logits(result.model.encode_image(torch.stack(images)),
                                     class_text_features(result.model, eurosat.classnames, eurosat.template))
    assert result.accuracy == pytest.approx(100 * (logits.argmax(-1) == torch.tensor(labels)).float().mean().item())
    assert [h["lr"] for h in result.metrics["history"]] == [lr_at_epoch(e, Recipe(epochs=6, lr=0.1)) for e in range(6)]


def test_cache_hit_skips_training(tiny_clip, eurosat, tmp_path, monkeypatch):
    method = mp.PromptConfig.prompts(1, 2)
    first = runs.train_run(tiny_clip, eurosat, method, shots=2, seed=1, recipe=SHORT, cache=tmp_path, progress=False)
    monkeypatch.setattr(runs, "train_epochs", lambda *a, **k: pytest.fail("trained again"))
    again = runs.train_run(tiny_clip, eurosat, method, shots=2, seed=1, recipe=SHORT, cache=tmp_path, progress=False)
    assert again.cached and not first.cached and again.metrics == first.metrics
    assert all(torch.equal(again.model.learned_state()[k], v) for k, v in first.model.learned_state().items())
    stored = tmp_path / "runs" / first.key
    assert sorted(p.name for p in stored.iterdir()) == ["config.json", "learned.pt", "log.jsonl", "metrics.json"]
    assert json.loads((stored / "config.json").read_text())["model"] == tiny_clip.identity
    # any change of the configuration is a different run
    with pytest.raises(LookupError, match="no finished run"):
        runs.train_run(tiny_clip, eurosat, method, shots=2, seed=2, recipe=SHORT, cache=tmp_path, only_cached=True)


def test_interrupted_run_resumes_to_the_same_result(tiny_clip, eurosat, tmp_path):
    method = mp.PromptConfig(n_ctx_vision=2, depth_vision=2, bias_text=(0, 1))
    recipe = Recipe(epochs=4, batch_size=4, lr=0.05)
    straight = runs.train_run(tiny_clip, eurosat, method, shots=4, seed=2, recipe=recipe, cache=tmp_path / "a",
                              progress=False)

    def interrupt(epoch, stats):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runs.train_run(tiny_clip, eurosat, method, shots=4, seed=2, recipe=recipe, cache=tmp_path / "b",
                       on_epoch_end=interrupt, progress=False)
    folder = tmp_path / "b" / "runs" / straight.key
    assert (folder / "checkpoint.pt").exists() and not (folder / "metrics.json").exists()
    epochs_seen = []
    resumed = runs.train_run(tiny_clip, eurosat, method, shots=4, seed=2, recipe=recipe, cache=tmp_path / "b",
                             on_epoch_end=lambda e, s: epochs_seen.append(e), progress=False)
    assert epochs_seen == [2, 3]  # only the epochs that were missing
    assert not resumed.cached and resumed.accuracy == straight.accuracy
    assert [h["loss"] for h in resumed.metrics["history"]] == [h["loss"] for h in straight.metrics["history"]]
    for key, value in straight.model.learned_state().items():
        assert torch.equal(resumed.model.learned_state()[key], value), key
    assert not (folder / "checkpoint.pt").exists()


def test_zero_shot_run_is_cached(tiny_clip, eurosat, tmp_path):
    first = mp.runs.zero_shot_run(tiny_clip, eurosat, cache=tmp_path, progress=False)
    images, labels = zip(*ImageDataset(eurosat.test, eval_transform(tiny_clip)))
    model = mp.PromptedCLIP(tiny_clip)
    with torch.no_grad():  # independent: open_clip's own towers and the CoOp template
        text = tiny_clip.model.encode_text(tiny_clip.tokenizer([eurosat.template.format(c) for c in eurosat.classnames]))
        logits = model.logits(tiny_clip.model.encode_image(torch.stack(images)), text)
    expected = 100 * (logits.argmax(-1) == torch.tensor(labels)).float().mean().item()
    assert first.accuracy == pytest.approx(expected)
    assert mp.runs.zero_shot_run(tiny_clip, eurosat, cache=tmp_path, progress=False).cached


def test_correct_per_image_is_each_images_top1_and_gives_the_accuracy(tiny_clip, eurosat):
    from mmprompts.train import correct_per_image, evaluate_models

    images, labels = zip(*ImageDataset(eurosat.test, eval_transform(tiny_clip)))
    models = [mp.PromptedCLIP(tiny_clip), mp.PromptedCLIP(tiny_clip, mp.PromptConfig.prompts(2, 2))]
    hits = correct_per_image(models, tiny_clip, eurosat, batch_size=3, progress=False)  # batches of 3: a partial last one
    for model, got in zip(models, hits):
        with torch.no_grad():  # all images at once, the PIL path, the texts tokenised here
            text = model.encode_text([eurosat.template.format(c) for c in eurosat.classnames]) \
                if not model.config.n_ctx_text else class_text_features(model, eurosat.classnames, eurosat.template)
            want = model.logits(model.encode_image(torch.stack(images)), text).argmax(-1) == torch.tensor(labels)
        assert got.dtype == torch.bool and torch.equal(got, want)
    assert evaluate_models(models, tiny_clip, eurosat, progress=False) == [100 * h.sum().item() / len(h) for h in hits]


def test_a_runs_derived_artefact_is_kept_in_its_folder_and_computed_once(tiny_clip, eurosat, tmp_path):
    run = mp.runs.zero_shot_run(tiny_clip, eurosat, cache=tmp_path, progress=False)
    folder = mp.runs.run_folder(run.key, tmp_path)
    assert folder == tmp_path / "runs" / run.key and (folder / "metrics.json").is_file()  # the layout of runs.py
    assert mp.runs.runs_root(tmp_path) == folder.parent
    calls = []

    def compute():
        calls.append(1)
        return torch.arange(3)

    first = mp.runs.cached_artefact(run.key, "hits-v9", compute, tmp_path)
    again = mp.runs.cached_artefact(run.key, "hits-v9", compute, tmp_path)
    assert torch.equal(first, torch.arange(3)) and torch.equal(again, first) and len(calls) == 1
    assert torch.equal(torch.load(folder / "hits-v9.pt"), first)


def test_nothing_to_learn_is_refused(tiny_clip, eurosat, tmp_path):
    with pytest.raises(ValueError, match="nothing to learn"):
        runs.train_run(tiny_clip, eurosat, mp.PromptConfig(), shots=2, seed=1, recipe=SHORT, cache=tmp_path, progress=False)


def test_the_training_log_records_every_step_and_epoch(tiny_clip, eurosat, tmp_path, capsys):
    method = mp.PromptConfig.prompts(1, 2)
    recipe = Recipe(epochs=2, batch_size=4, lr=0.05)
    result = runs.train_run(tiny_clip, eurosat, method, shots=2, seed=1, recipe=recipe, cache=tmp_path,
                            progress=False, log_every=2)
    log = runs.read_log(tmp_path / "runs" / result.key)
    steps = [r for r in log if r["kind"] == "step"]
    epochs = [r for r in log if r["kind"] == "epoch"]
    assert [(r["epoch"], r["step"], r["global_step"]) for r in steps] == [(1, 1, 1), (1, 2, 2), (2, 1, 3), (2, 2, 4)]
    assert [r["lr"] for r in steps] == [lr_at_epoch(0, recipe)] * 2 + [lr_at_epoch(1, recipe)] * 2
    # an epoch's loss is the mean of its steps' losses (equal batches); its record is the run's history
    for epoch, history in zip(epochs, result.metrics["history"]):
        assert epoch["loss"] == pytest.approx(sum(r["loss"] for r in steps if r["epoch"] == epoch["epoch"]) / 2)
        assert epoch["train_acc"] == history["train_acc"] and epoch["seconds"] > 0
    # the norm after the last step is the norm of the learned tensors the run stored
    final = torch.cat([v.flatten() for v in result.model.learned_state().values()]).double().norm()
    assert steps[-1]["norm"] == pytest.approx(float(final), rel=1e-9)
    assert log[-1] == {"kind": "test", "accuracy": result.accuracy}
    printed = capsys.readouterr().out.splitlines()  # every second step of each epoch
    assert [line.split(":")[0] for line in printed] == ["eurosat seed 1"] * 2
    assert printed[1].startswith("eurosat seed 1: epoch 2/2 step 2 loss ") and f"lr {lr_at_epoch(1, recipe):.3g}" in printed[1]


def test_training_curves_draw_each_run_by_global_step(tiny_clip, eurosat, tmp_path):
    from mmprompts.figures import training_curves

    recipe = Recipe(epochs=2, batch_size=4, lr=0.05)
    logs = {name: {f"seed {seed}": runs.read_log(tmp_path / "runs" / runs.train_run(
        tiny_clip, eurosat, method, shots=2, seed=seed, recipe=recipe, cache=tmp_path, progress=False).key)
        for seed in (1, 2)} for name, method in (("1+1", mp.PromptConfig.prompts(1, 2)), ("bias", mp.PromptConfig.bias([0])))}
    lines = training_curves(logs).axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["1+1", "_nolegend_", "bias", "_nolegend_"]
    assert lines[0].get_color() == lines[1].get_color() != lines[2].get_color()
    for line, log in zip(lines, [log for runs_ in logs.values() for log in runs_.values()]):
        steps = [r for r in log if r["kind"] == "step"]
        assert list(line.get_xdata()) == [r["global_step"] for r in steps] == [1, 2, 3, 4]
        assert list(line.get_ydata()) == [r["loss"] for r in steps]


def test_tensorboard_events_when_tensorboard_is_installed(tiny_clip, eurosat, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = runs.train_run(tiny_clip, eurosat, mp.PromptConfig.prompts(1, 2), shots=2, seed=1,
                            recipe=Recipe(epochs=2, batch_size=4, lr=0.05), cache=tmp_path, progress=False)
    events = EventAccumulator(str(tmp_path / "runs" / result.key / "tensorboard")).Reload()
    steps = [r for r in runs.read_log(tmp_path / "runs" / result.key) if r["kind"] == "step"]
    assert [e.value for e in events.Scalars("step/loss")] == pytest.approx([r["loss"] for r in steps])
    assert events.Scalars("test/accuracy")[0].value == pytest.approx(result.accuracy)
