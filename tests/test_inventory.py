"""`python -m mmprompts runs`: the cache's runs listed, shown and pruned, on a cache made here."""
from __future__ import annotations

import json
import shutil

import pytest

import mmprompts as mp
from mmprompts import runs
from mmprompts.cli import main
from mmprompts.data import load_dataset
from mmprompts.data.toy import make_toy_dataset
from mmprompts.inventory import list_runs
from mmprompts.train import Recipe, RunDiverged

METHOD = mp.PromptConfig.prompts(1, 2)
RECIPE = Recipe(epochs=2, batch_size=4, lr=0.05)


class Stop(Exception):
    pass


def _stop_after_first_epoch(epoch, stats):
    raise Stop


@pytest.fixture(scope="module")
def cache(tiny_clip, tmp_path_factory):
    """A finished run (seed 1), a diverged one (seed 2), one interrupted after epoch 1 (seed 3), one of an
    older trainer (seed 4), a zero-shot run, and a folder whose config cannot be read."""
    root = tmp_path_factory.mktemp("inventory")
    make_toy_dataset(root / "data", "eurosat", per_class=(4, 1, 2), size=16)
    data = load_dataset("eurosat", root / "data")
    cache = root / "cache"

    def train(seed, recipe=RECIPE, **kwargs):
        return runs.train_run(tiny_clip, data, METHOD, shots=2, seed=seed, recipe=recipe, cache=cache, progress=False,
                              **kwargs)

    keys = {"finished": train(1).key}
    with pytest.raises(RunDiverged) as diverged:
        train(2, Recipe(epochs=2, batch_size=4, lr=1e38))
    with pytest.raises(Stop):
        train(3, on_epoch_end=_stop_after_first_epoch)
    old = train(4).key
    config = json.loads((cache / "runs" / old / "config.json").read_text())
    (cache / "runs" / old / "config.json").write_text(json.dumps({**config, "trainer": "0"}))
    keys["zero-shot"] = runs.zero_shot_run(tiny_clip, data, cache=cache, progress=False).key
    (cache / "runs" / "broken").mkdir()
    (cache / "runs" / "broken" / "config.json").write_text("{")
    return {"root": root, "cache": cache, "diverged": diverged.value, "old": old, **keys}


def _rows(text: str) -> dict[str, str]:
    """The table's lines by run key."""
    return {line.split()[0]: line for line in text.splitlines()[2:-1]}


def test_list_shows_every_run_with_its_status(cache, capsys):
    assert main(["runs", "--cache", str(cache["cache"])]) == 0
    out = capsys.readouterr().out
    rows = _rows(out)
    assert len(rows) == 6 and out.splitlines()[-1].startswith("6 runs, ")
    finished = rows[cache["finished"]].split()
    metrics = json.loads((cache["cache"] / "runs" / cache["finished"] / "metrics.json").read_text())
    assert f"{metrics['accuracy']:.2f}" in finished and "2/2" in finished and "finished" in finished
    recipe = metrics["config"]["recipe"]  # the batch and lr columns tell apart runs of one setting under other recipes
    assert finished[finished.index("2/2") - 2:finished.index("2/2")] == [f"{recipe['batch_size']:g}", f"{recipe['lr']:g}"]
    assert "1+1 prompts, depth 2" in rows[cache["finished"]]
    by_status = {status: [k for k, line in rows.items() if status in line]
                 for status in ("diverged at epoch 2", "interrupted at epoch 2", "unreadable")}
    assert len(by_status["diverged at epoch 2"]) == 1 and cache["diverged"].epoch == 2
    assert len(by_status["interrupted at epoch 2"]) == 1 and by_status["unreadable"] == ["broken"]
    assert "zero-shot" in rows[cache["zero-shot"]]
    assert rows[cache["old"]].split()[-1] == "0"  # the trainer version column


def test_filters_by_dataset_and_status(cache, capsys):
    assert main(["runs", "--cache", str(cache["cache"]), "--status", "finished", "--dataset", "eurosat"]) == 0
    assert set(_rows(capsys.readouterr().out)) == {cache["finished"], cache["old"], cache["zero-shot"]}
    assert main(["runs", "--cache", str(cache["cache"]), "--dataset", "dtd"]) == 0
    assert _rows(capsys.readouterr().out) == {}


def test_show_one_run_by_a_key_prefix(cache, capsys):
    key = cache["finished"]
    assert main(["runs", "show", key[:8], "--cache", str(cache["cache"])]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"run {key}: eurosat, 1+1 prompts, depth 2, seed 1: finished, test accuracy ")
    assert "learned.pt" in out and "  epoch 1, lr 1e-05" in out and "  epoch 0," not in out and '"seed": 1' in out
    assert main(["runs", "show", "zzz", "--cache", str(cache["cache"])]) == 2
    assert "run key 'zzz': no run in the cache start with it" in capsys.readouterr().err


def test_prune_is_a_dry_run_unless_told(cache, capsys, tmp_path):
    copy = tmp_path / "cache"
    shutil.copytree(cache["cache"], copy)
    assert main(["runs", "prune", "--older-trainer", "--cache", str(copy)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("would delete 1 runs") and cache["old"] in out
    assert (copy / "runs" / cache["old"]).is_dir()
    assert main(["runs", "prune", "--older-trainer", "--delete", "--cache", str(copy)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("deleted 1 runs")
    assert not (copy / "runs" / cache["old"]).exists() and len(list_runs(copy)) == 5

    data = cache["root"] / "data"
    assert main(["runs", "prune", "--missing-data", "--data-root", str(data), "--cache", str(copy)]) == 0
    assert capsys.readouterr().out.startswith("would delete 0 runs")  # the data is unchanged
    other = tmp_path / "other"
    make_toy_dataset(other, "eurosat", per_class=(4, 1, 2), size=16, seed=5)  # other pixels: another fingerprint
    assert main(["runs", "prune", "--missing-data", "--data-root", str(other), "--cache", str(copy)]) == 0
    out = capsys.readouterr().out
    assert "its data changed" in out and out.splitlines()[-1].startswith("would delete 4 runs")
    (tmp_path / "emptied").mkdir()  # the data root is there, the dataset is gone from it
    assert main(["runs", "prune", "--missing-data", "--data-root", str(tmp_path / "emptied"), "--cache", str(copy)]) == 0
    assert "its data cannot be read: eurosat: dataset folder" in capsys.readouterr().out
    assert main(["runs", "prune", "--cache", str(copy)]) == 2
    assert "say which runs to remove: --older-trainer and/or --missing-data" in capsys.readouterr().err
