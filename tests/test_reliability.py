"""Issue 21: one test per class of fault — nothing silently wrong, nothing of the user's lost."""
from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import threading
import time

import open_clip
import pytest

import mmprompts as mp
from mmprompts import models, runs
from mmprompts.cli import main
from mmprompts.data import fewshot, load_dataset
from mmprompts.data.toy import make_toy_dataset
from mmprompts.experiments import FailedRun, RunSpec, results
from mmprompts.paper import TABLE3
from mmprompts.profiles import settings
from mmprompts.tables import FailedCell, table3, to_csv, to_markdown
from mmprompts.train import Recipe, RunDiverged

SHORT = Recipe(epochs=2, batch_size=4, lr=0.05)
METHOD = mp.PromptConfig.prompts(1, 2)


@pytest.fixture(scope="module")
def eurosat(tmp_path_factory):
    root = tmp_path_factory.mktemp("coop")
    make_toy_dataset(root, "eurosat", per_class=(4, 1, 2), size=16)
    return load_dataset("eurosat", root)


def train(clip, data, cache, recipe=SHORT, **kwargs):
    return runs.train_run(clip, data, METHOD, shots=2, seed=1, recipe=recipe, cache=cache, progress=False, **kwargs)


# ----------------------------------------------------------------------------- a diverged run is no result
def test_diverged_run_stops_is_recorded_and_shows_as_diverged(tiny_clip, eurosat, tmp_path, monkeypatch):
    recipe = Recipe(epochs=2, batch_size=4, lr=1e38)  # epoch 1 is the warm-up at 1e-5; epoch 2 runs at 1e38
    with pytest.raises(RunDiverged, match=r"non-finite at epoch 2, step \d+ \(lr 1e\+38\)") as err:
        train(tiny_clip, eurosat, tmp_path, recipe)
    assert (err.value.epoch, err.value.lr) == (2, 1e38)
    folder = next((tmp_path / "runs").iterdir())
    assert not (folder / "metrics.json").exists() and not (folder / "learned.pt").exists()
    record = json.loads((folder / "diverged.json").read_text())
    assert (record["epoch"], record["step"], record["lr"]) == (2, err.value.step, 1e38)

    # recorded, not retrained: the same configuration diverges at the same step again
    monkeypatch.setattr(runs, "train_epochs", lambda *a, **k: pytest.fail("trained a recorded divergence again"))
    with pytest.raises(RunDiverged, match="delete it to train this run again"):
        train(tiny_clip, eurosat, tmp_path, recipe)
    config = settings("mini", cache=str(tmp_path), shots=2, epochs=2, batch_size=4, lr=1e38, min_crop_scale=0.08)
    spec = RunSpec("eurosat", mp.PromptConfig.prompts(1, 2), 1)
    failed = results([spec], tiny_clip, config, splits={"eurosat": eurosat}, only_cached=True)[spec]
    assert isinstance(failed, FailedRun) and failed.reason == "diverged"

    accuracies = {RunSpec("eurosat", mp.PromptConfig.prompts(1, 2), 1): failed, RunSpec("eurosat", mp.PromptConfig.prompts(1, 2), 2): 50.0}
    cell = table3(accuracies, ["eurosat"], 2, [1])["eurosat"][1]
    assert cell == FailedCell("diverged", 1, 2, TABLE3["eurosat"][1])  # never the mean of the run that finished
    assert "diverged (1 of 2 runs)" in to_markdown({"eurosat": {1: cell}}, {1: "1+1"})
    assert to_csv({"eurosat": {1: cell}}, {1: "1+1"}).splitlines()[1].endswith(",diverged (1 of 2 runs)")


@pytest.mark.parametrize("value", [float("inf"), float("nan"), "1e-3"])
def test_non_finite_or_text_lr_is_refused_naming_lr(value):
    with pytest.raises(ValueError, match=f"lr={value!r}: must be a finite number"):
        Recipe(lr=value)


# ----------------------------------------------------------------------------- never write over the user's data
def test_toy_data_refuses_an_existing_dataset_folder(tmp_path, capsys):
    folder = make_toy_dataset(tmp_path, "eurosat", per_class=(2, 1, 1), size=8)
    split = folder / "split_zhou_EuroSAT.json"
    before = split.read_text()
    files = sorted(p for p in folder.rglob("*"))
    assert main(["toy-data", str(tmp_path), "--dataset", "eurosat", "--per-class", "3", "1", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"'{folder}' exists already" in err and "--force" in err
    assert split.read_text() == before and sorted(p for p in folder.rglob("*")) == files
    assert main(["toy-data", str(tmp_path), "--dataset", "eurosat", "--per-class", "3", "1", "1", "--force"]) == 0
    assert len(load_dataset("eurosat", tmp_path).train) == 3 * 4


def test_pretrain_never_writes_the_shipped_weights_by_default(tmp_path, monkeypatch, capsys):
    from mmprompts import pretrain

    shipped = pretrain.SHIPPED_FILE
    stamps = [(p.stat().st_mtime_ns, p.read_bytes()) for p in (shipped, models.manifest_path(shipped))]
    monkeypatch.setenv("MMPROMPTS_CACHE", str(tmp_path))
    assert pretrain.default_output() == tmp_path / "pretrain" / shipped.name
    # --rescore rewrites the manifest of the output: by default the cache's (none there yet), not the shipped one
    assert pretrain.main(["--rescore"]) == 2
    assert f"'{tmp_path / 'pretrain' / shipped.name}'" in capsys.readouterr().err
    assert pretrain.main(["--rescore", "--out", str(shipped)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--replace-shipped" in err
    assert [(p.stat().st_mtime_ns, p.read_bytes()) for p in (shipped, models.manifest_path(shipped))] == stamps


# ----------------------------------------------------------------------------- split files that disagree with themselves
@pytest.mark.parametrize("edit, message", [
    (lambda s: s["test"][1].__setitem__(2, "Forrest"), r"test row 1 .*label 1 is named 'Forest' in an earlier row"),
    (lambda s: s["train"].append(["AnnualCrop/x.jpg", 0]), r"train row 8 .*a row must be \[relative image path"),
    (lambda s: s["val"].append(list(s["train"][0])), r"val row 4 .*listed twice \(also in train\)"),
    (lambda s: s["val"].append(["x.jpg", 4, "Annual Crop Land"]), r"val row 4 .*class name 'Annual Crop Land' has label 0"),
    (lambda s: [r.__setitem__(1, 5) for k in s for r in s[k] if r[1] == 3], r"labels must be 0..C-1; missing \[3, 4\]"),
    (lambda s: s.__setitem__("test", [r for r in s["test"] if r[1] != 2]), r"the test split has no image of class 'Highway or Road' \(label 2\)"),
])
def test_inconsistent_split_file_is_refused_naming_file_and_row(tmp_path, edit, message):
    folder = make_toy_dataset(tmp_path, "eurosat", per_class=(2, 1, 1), size=8)
    split_file = folder / "split_zhou_EuroSAT.json"
    splits = json.loads(split_file.read_text())
    edit(splits)
    split_file.write_text(json.dumps(splits))
    with pytest.raises(ValueError, match=f"eurosat: '{split_file}', {message}" if "row" in message
                       else f"eurosat: '{split_file}': {message}"):
        load_dataset("eurosat", tmp_path)


# ----------------------------------------------------------------------------- a hub that accepts and never answers
def test_hub_that_never_answers_fails_in_seconds(tiny_name, tmp_path, monkeypatch):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)  # the kernel completes the TCP handshake; nobody ever reads or answers
    held = []
    threading.Thread(target=lambda: held.append(server.accept()), daemon=True).start()
    monkeypatch.setitem(open_clip.pretrained._PRETRAINED, tiny_name, {"silent": {"hf_hub": "mmprompts/silent/"}})
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(models, "_HUB_PROBE_TIMEOUT_S", 1.0)
    start = time.monotonic()
    try:
        with pytest.raises(mp.WeightsUnavailableError, match=r"127\.0\.0\.1:\d+ cannot be reached.*--checkpoint"):
            mp.load_clip(tiny_name, "silent", cache_dir=tmp_path)
    finally:
        server.close()
    assert time.monotonic() - start < 5
    assert held  # the connection was accepted: a TCP-only probe would have called the hub reachable


# ----------------------------------------------------------------------------- corrupt run files heal and are named
def _truncate(path):
    path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 2)])


@pytest.mark.parametrize("name", ["metrics.json", "learned.pt"])
def test_corrupt_finished_run_file_is_named_and_retrained(tiny_clip, eurosat, tmp_path, name):
    first = train(tiny_clip, eurosat, tmp_path)
    path = tmp_path / "runs" / first.key / name
    _truncate(path)
    with pytest.raises(runs.RunFileCorrupt, match=f"run file '{path}' is unreadable"):
        train(tiny_clip, eurosat, tmp_path, only_cached=True)  # eval/tables never train
    config = settings("mini", cache=str(tmp_path), shots=2, epochs=2, batch_size=4, lr=0.05, min_crop_scale=0.08)
    spec = RunSpec("eurosat", mp.PromptConfig.prompts(1, 2), 1)
    found = results([spec], tiny_clip, config, splits={"eurosat": eurosat}, only_cached=True)[spec]
    assert isinstance(found, FailedRun) and found.reason == "unreadable" and f"'{path}'" in found.detail
    with pytest.warns(UserWarning, match=f"run file '{path}' is unreadable.*computing the run again"):
        healed = train(tiny_clip, eurosat, tmp_path)
    assert not healed.cached and healed.accuracy == first.accuracy
    assert train(tiny_clip, eurosat, tmp_path).cached


def test_corrupt_checkpoint_is_named_and_training_restarts(tiny_clip, eurosat, tmp_path):
    recipe = Recipe(epochs=3, batch_size=4, lr=0.05)
    straight = train(tiny_clip, eurosat, tmp_path / "a", recipe)

    def interrupt(epoch, stats):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(tiny_clip, eurosat, tmp_path / "b", recipe, on_epoch_end=interrupt)
    checkpoint = tmp_path / "b" / "runs" / straight.key / "checkpoint.pt"
    _truncate(checkpoint)
    epochs = []
    with pytest.warns(UserWarning, match=f"run file '{checkpoint}' is unreadable.*again from its first epoch"):
        healed = train(tiny_clip, eurosat, tmp_path / "b", recipe, on_epoch_end=lambda e, s: epochs.append(e))
    assert epochs == [0, 1, 2] and healed.accuracy == straight.accuracy
    assert [h["loss"] for h in healed.metrics["history"]] == [h["loss"] for h in straight.metrics["history"]]


# ----------------------------------------------------------------------------- a read-only data folder
def test_read_only_data_folder_keeps_fewshot_lists_in_the_run_cache(tiny_clip, tmp_path, monkeypatch):
    make_toy_dataset(tmp_path / "data", "eurosat", per_class=(4, 1, 2), size=16)
    data = load_dataset("eurosat", tmp_path / "data")
    write = fewshot.atomic_write_text

    def read_only_data(path, text):  # what a read-only mount does (chmod cannot stop root, who runs CI)
        if str(path).startswith(str(tmp_path / "data")):
            raise PermissionError(errno.EROFS, "Read-only file system", str(path))
        write(path, text)

    monkeypatch.setattr(fewshot, "atomic_write_text", read_only_data)
    trained = train(tiny_clip, data, tmp_path / "cache")
    assert not (data.folder / "split_fewshot").exists()
    stored = list((tmp_path / "cache" / "fewshot").rglob("shot_2-seed_1.json"))
    assert len(stored) == 1 and json.loads(stored[0].read_text())["fingerprint"] == data.fingerprint
    assert train(tiny_clip, data, tmp_path / "cache", only_cached=True).accuracy == trained.accuracy


# ----------------------------------------------------------------------------- Papermill / CLI values and messages
def test_papermill_strings_are_converted_or_named(capsys):
    assert settings("mini", lr="1e-3").recipe.lr == 0.001  # YAML 1.1 and `-p lr 1e-3` give a string
    with pytest.raises(ValueError, match=r"lr='fast': must be a number"):
        settings("mini", lr="fast")
    assert main(["tables", "-p", "seeds", "[1,"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "-p seeds '[1,': not a YAML value" in err


def test_cli_bad_output_and_ctrl_c_end_with_one_line(tiny_clip, tmp_path, capsys, monkeypatch):
    from tiny_config import TINY_CONFIG
    from mmprompts import cli, pretrain

    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY_CONFIG))
    make_toy_dataset(tmp_path / "data", "eurosat", per_class=(2, 1, 1), size=8)
    args = ["--model", str(config), "--dataset", "eurosat", "--data-root", str(tmp_path / "data"),
            "--cache", str(tmp_path / "cache"), "--quiet", "--depth", "3", "--epochs", "2", "--seeds", "1"]
    monkeypatch.setattr(cli, "train_runs", lambda *a, **k: pytest.fail("trained before checking --output"))
    for output, message in ((tmp_path / "missing" / "r.json", "does not exist; create it first"),
                            (tmp_path, "is a folder; give a file name")):
        assert main(["train", *args, "--output", str(output)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "train_runs", interrupted)
    assert main(["train", *args]) == 130
    assert capsys.readouterr().err == "interrupted: finished work stays in the cache; the same command resumes it\n"
    assert pretrain.main(["--steps", "0", "--out", str(tmp_path / "w.pt")]) == 2
    assert "steps=0" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the cache key covers the images
def test_run_key_changes_with_the_images_not_with_the_data_root(tiny_clip, tmp_path):
    def key(root):
        return runs.run_key(runs.run_config(tiny_clip, load_dataset("eurosat", root), METHOD, 2, 1, SHORT))

    make_toy_dataset(tmp_path / "a", "eurosat", per_class=(2, 1, 1), size=8, seed=0)
    make_toy_dataset(tmp_path / "b", "eurosat", per_class=(2, 1, 1), size=8, seed=1)  # other pixels
    shutil.copytree(tmp_path / "a", tmp_path / "c")  # the same files elsewhere (copy2 keeps modification times)
    split = "eurosat/split_zhou_EuroSAT.json"
    assert (tmp_path / "a" / split).read_text() == (tmp_path / "b" / split).read_text()
    assert key(tmp_path / "a") != key(tmp_path / "b")
    assert key(tmp_path / "a") == key(tmp_path / "c")
    image = load_dataset("eurosat", tmp_path / "c").test[0].path
    os.utime(image, ns=(0, 0))  # rewritten in place
    assert key(tmp_path / "c") != key(tmp_path / "a")


def test_mini_world_fingerprint_is_its_revision_not_its_file_times(tmp_path):
    """The mini world's pixels are a function of WORLD_VERSION: its run keys do not change with file times."""
    data = load_dataset("land", tmp_path)
    image = data.test[0].path
    os.utime(image, ns=(0, 0))
    assert load_dataset("land", tmp_path).fingerprint == data.fingerprint
