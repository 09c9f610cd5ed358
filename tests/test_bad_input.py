"""Issue 30's poor cases: each ends in one line that names the bad value and the fix, before any slow work.

(Checkpoints and prompt files: test_interop.py; dataset layouts: test_data.py; model names, config files
and weights files: test_models.py; notebook parameters: test_profiles.py and test_notebooks.py.)
"""
from __future__ import annotations

import json
import os

import pytest

from tiny_config import TINY_CONFIG
from mmprompts import cli, pretrain, storage
from mmprompts.cli import main
from mmprompts.data.toy import make_toy_dataset
from mmprompts.train import Recipe


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-input")
    config = root / "tiny.json"
    config.write_text(json.dumps(TINY_CONFIG))
    make_toy_dataset(root / "data", "eurosat", per_class=(4, 1, 2), size=16)
    return {"model": str(config), "data": str(root / "data"), "cache": str(root / "cache")}


def train_args(setup, *extra):
    return ["--model", setup["model"], "--dataset", "eurosat", "--data-root", setup["data"], "--cache", setup["cache"],
            "--quiet", "--depth", "3", "--shots", "2", "--batch-size", "4", *extra]


@pytest.fixture
def no_model(monkeypatch):
    """The model must not load: these mistakes are found before it does (23 s for ViT-B/16)."""
    monkeypatch.setattr(cli, "load_clip", lambda *a, **k: pytest.fail("the model was loaded before the check"))


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


@pytest.mark.parametrize("extra, message", [
    (["--seeds", "99999999999999999999"], "seed=99999999999999999999: must be an integer in 0..4294967295"),
    (["--seeds", "1", "1", "1"], "seeds=[1, 1, 1]: seed 1 is given 3 times, which would count one run as several; "
                                 "give each seed once, e.g. --seeds 1 2 3"),
    (["--method", "prompts", "--bias-layers", "0", "1"], "--bias-layers 0 1: only --method bias uses it (this is "
                                                         "--method prompts); drop it or add --method bias"),
    (["--epochs", "1", "--warmup-epochs", "1"], "warmup_epochs=1: must be an integer in 0..0 with epochs=1 (the last "
                                                "epoch trains after the warm-up); e.g. --warmup-epochs 0"),
])
def test_settings_are_checked_before_the_model_loads(setup, capsys, no_model, extra, message):
    assert main(["train", *train_args(setup, *extra)]) == 2
    assert message in one_line_error(capsys)


def test_one_epoch_trains_without_a_warm_up(setup, tmp_path):
    assert Recipe(epochs=1).warmup_epochs == 0 and Recipe(epochs=2).warmup_epochs == Recipe().warmup_epochs == 1
    assert Recipe().as_dict()["warmup_epochs"] == 1  # the run keys of every cached run stay as they were
    assert main(["train", *train_args(setup, "--epochs", "1", "--seeds", "1", "--output", str(tmp_path / "out.json"))]) == 0
    key = json.loads((tmp_path / "out.json").read_text())["rows"][0]["runs"][0]
    history = json.loads(open(os.path.join(setup["cache"], "runs", key, "metrics.json")).read())["history"]
    assert [epoch["lr"] for epoch in history] == [Recipe().lr]  # its one epoch at the lr, not the warm-up's 1e-5


def test_eval_of_a_run_never_trained_says_to_train_it(setup, capsys):
    assert main(["eval", *train_args(setup, "--seeds", "7", "--epochs", "2")]) == 2
    err = one_line_error(capsys)
    assert "no finished run of this setting (seed 7) in '" in err and "; train it first (python -m mmprompts train" in err
    assert len(err) < 300  # not the whole configuration


def test_a_full_disk_names_the_file(setup, capsys, monkeypatch):
    def full_disk(fd, mode):
        os.close(fd)
        return open("/dev/full", mode)  # every write fails with ENOSPC, as on a full disk

    monkeypatch.setattr(storage.os, "fdopen", full_disk)
    assert main(["zeroshot", "--model", setup["model"], "--dataset", "eurosat", "--data-root", setup["data"],
                 "--cache", setup["cache"], "--quiet"]) == 2
    err = one_line_error(capsys)
    assert f"[Errno 28] cannot write '{setup['cache']}/runs/" in err
    assert "No space left on device; free space there, or write elsewhere (the run cache: --cache" in err


def test_pretraining_with_no_worker_processes_draws_in_this_one(tmp_path, monkeypatch):
    real = pretrain.torch.utils.data.DataLoader

    class Built(Exception):
        pass

    def build_then_stop(*args, **kwargs):  # the loader is built and yields a batch; then no training
        loader = real(*args, **kwargs)
        raise Built(next(iter(loader))[0])

    monkeypatch.setattr(pretrain.torch.utils.data, "DataLoader", build_then_stop)
    with pytest.raises(Built, match="attributes"):  # the first batch: the vision warm-up's
        pretrain.pretrain(tmp_path / "mini.pt", pretrain.PretrainRecipe(vision_warmup=2, steps=2), work_dir=tmp_path,
                          progress=False, workers=0)
    with pytest.raises(ValueError, match=r"workers=-1: give 0 \(draw the scenes in this process\) or more processes"):
        pretrain.pretrain(tmp_path / "mini.pt", workers=-1)
