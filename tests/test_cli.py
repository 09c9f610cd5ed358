"""The command line as a user runs it, on a CoOp-layout folder built here."""
from __future__ import annotations

import json

import pytest

from tiny_config import TINY_CONFIG
from mmprompts.cli import build_parser, main


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    config = root / "tiny-cli.json"
    config.write_text(json.dumps(TINY_CONFIG))
    assert main(["toy-data", str(root / "data"), "--dataset", "eurosat", "--per-class", "6", "2", "3"]) == 0
    return {"model": str(config), "data": str(root / "data"), "cache": str(root / "cache")}


def common(setup, *extra):
    return ["--model", setup["model"], "--dataset", "eurosat", "--data-root", setup["data"],
            "--cache", setup["cache"], "--quiet", *extra]


def test_help_documents_every_option_and_default(capsys):
    for command in ("train", "eval", "zeroshot", "toy-data"):
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])
        text = capsys.readouterr().out
        sub = build_parser()._subparsers._group_actions[0].choices[command]
        for action in sub._actions:
            for flag in action.option_strings:
                assert flag in text, (command, flag)
            if action.option_strings and action.dest != "help":
                assert action.help, (command, action.dest)
        if command == "train":
            assert "0.0025 for ViT-B/16, 0.01 for" in " ".join(text.split()) and "(default: [1, 2, 3])" in text and "(default: 16)" in text


def training(setup, *extra):
    """--depth 3: the tiny model has 3 blocks (the default, 12, is ViT-B/16's)."""
    return common(setup, "--depth", "3", *extra)


def test_train_then_cached_then_eval(setup, capsys, tmp_path):
    out = tmp_path / "train.json"
    args = training(setup, "--method", "bias", "--epochs", "2", "--batch-size", "4", "--shots", "2", "--seeds", "1", "2",
                  "--output", str(out))
    assert main(["train", *args]) == 0
    printed = capsys.readouterr().out
    assert "eurosat" in printed and "bias after 3 blocks" in printed and f"results written to {out}" in printed
    result = json.loads(out.read_text())["rows"][0]
    assert result["seeds"] == [1, 2] and len(result["accuracies"]) == 2 and result["cached"] == [False, False]
    assert main(["train", *args]) == 0
    assert json.loads(out.read_text())["rows"][0]["cached"] == [True, True]
    assert main(["eval", *args]) == 0
    assert json.loads(out.read_text())["rows"][0]["accuracies"] == result["accuracies"]


def test_eval_without_runs_says_so(setup, capsys):
    assert main(["eval", *training(setup, "--seeds", "9", "--epochs", "2")]) == 2
    assert "no finished run" in capsys.readouterr().err


def test_zeroshot(setup, capsys):
    assert main(["zeroshot", *common(setup)]) == 0
    assert "zero-shot" in capsys.readouterr().out


@pytest.mark.parametrize("extra, message", [
    (["--shots", "0"], "shots=0: must be a positive integer"),
    (["--seeds", "-1"], "seed=-1"),
    (["--epochs", "0"], "epochs=0"),
    (["--batch-size", "0"], "batch_size=0"),
    (["--depth", "20"], "depth_vision=20 exceeds the 3 blocks"),
    (["--n-ctx", "40"], "n_ctx_text=40 does not fit the text context of 32"),
])
def test_bad_values_exit_with_message(setup, capsys, extra, message):
    assert main(["train", *training(setup, *extra)]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--method", "lora"], "invalid choice: 'lora'"),
    (["--dataset", "eurosta"], "invalid choice: 'eurosta'"),
])
def test_bad_names_are_rejected_by_the_parser(setup, capsys, extra, message):
    with pytest.raises(SystemExit) as err:
        main(["train", *training(setup), *extra])
    assert err.value.code == 2 and message in capsys.readouterr().err


def test_missing_data_root_names_the_path(setup, capsys, tmp_path):
    args = ["--model", setup["model"], "--dataset", "dtd", "--data-root", str(tmp_path), "--quiet"]
    assert main(["zeroshot", *args]) == 2
    assert f"'{tmp_path}/dtd' not found" in capsys.readouterr().err
