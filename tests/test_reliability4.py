"""Issue 38 (reliability round 4): nothing deleted by a typo, no hang without a word, one reading of a run folder.

Each test here failed on the code before the issue (checked against c8525af), except the diverged-marker case of
the damaged-run test, on which the old readers already agreed (kept to show they still do)."""
from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import mmprompts as mp
from mmprompts import inventory, runs
from mmprompts.cli import main
from mmprompts.data import load_dataset
from mmprompts.data.toy import make_toy_dataset
from mmprompts.train import Recipe, RunDiverged
from tiny_config import TINY_CONFIG

SHORT = Recipe(epochs=2, batch_size=4, lr=0.05)
METHOD = mp.PromptConfig.prompts(1, 2)
LIB = str(Path(mp.__file__).resolve().parents[1])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A CoOp-layout eurosat (tiny images)."""
    root = tmp_path_factory.mktemp("round4")
    make_toy_dataset(root / "data", "eurosat", per_class=(4, 1, 2), size=16)
    return {"root": root, "data": root / "data"}


@pytest.fixture
def cache_with_run(world, tiny_clip, tmp_path):
    """A cache with one finished zero-shot run of eurosat (made in a second): its folder and the run's key."""
    cache = tmp_path / "cache"
    key = runs.zero_shot_run(tiny_clip, load_dataset("eurosat", world["data"]), cache=cache, progress=False).key
    return cache, key


def one_line(text: str) -> str:
    assert text.count("\n") == 1, text
    return text


# ----------------------------------------------------------------------------- BAD: prune with a mistyped data root
def test_prune_refuses_a_data_root_that_does_not_exist(cache_with_run, tmp_path, capsys):
    cache, key = cache_with_run
    typo = tmp_path / "dtaa"
    assert main(["runs", "prune", "--missing-data", "--data-root", str(typo), "--delete", "--cache", str(cache)]) == 2
    err = one_line(capsys.readouterr().err)
    assert f"--data-root '{typo}' is not a folder" in err and "nothing was deleted" in err
    assert (cache / "runs" / key / "metrics.json").is_file()


# ----------------------------------------------------------------------------- BAD: sweeps that would wait forever
def _no_model(monkeypatch):
    from mmprompts import profiles
    monkeypatch.setattr(profiles, "settings", lambda *a, **k: pytest.fail("loaded the settings and model first"))


@pytest.mark.parametrize("value, message", [
    ("100", f"--cpus-per-run 100: this machine has {os.cpu_count()} CPUs, so no task could ever start; give at most "
            f"--cpus-per-run {os.cpu_count()}"),
    ("-1", "--cpus-per-run -1: must be a positive number of CPUs, e.g. --cpus-per-run 1"),
    ("nan", "--cpus-per-run nan: must be a positive number of CPUs, e.g. --cpus-per-run 1"),
])
def test_sweep_refuses_a_task_size_no_machine_has_before_the_model_loads(value, message, monkeypatch, capsys):
    _no_model(monkeypatch)
    start = time.monotonic()
    assert main(["sweep", "--cpus-per-run", value]) == 2
    assert one_line(capsys.readouterr().err) == f"error: {message}\n"
    assert time.monotonic() - start < 5


def test_sweep_at_an_address_where_nothing_listens_fails_in_seconds(monkeypatch, capsys):
    _no_model(monkeypatch)
    start = time.monotonic()
    assert main(["sweep", "--address", "127.0.0.1:1"]) == 2
    err = one_line(capsys.readouterr().err)
    assert "--address 127.0.0.1:1: no Ray cluster answers there (Connection refused" in err
    assert "ray start --head" in err and time.monotonic() - start < 5


_SWEEP_ON_ONE_CPU = """
import sys
import mmprompts as mp
from mmprompts.experiments import RunSpec
from mmprompts.profiles import settings
from mmprompts.sweep import run_sweep
config = settings("mini", datasets=["badges"], seeds=[1], epochs=2, cache=sys.argv[1], data_root=sys.argv[2], device="cpu")
try:
    run_sweep([RunSpec("badges", mp.PromptConfig.prompts(1, 1), 1)], config, cpus_per_run=1.5, progress=False,
              ray_init={"num_cpus": 1})
except ValueError as err:
    print(f"refused: {err}")
"""


def test_sweep_refuses_more_cpus_per_task_than_the_ray_cluster_has(tmp_path):
    pytest.importorskip("ray")
    # in a session of its own, so that a sweep that waits forever (as it did) fails the test instead of hanging
    # it, and its Ray processes go with it
    child = subprocess.Popen([sys.executable, "-c", _SWEEP_ON_ONE_CPU, str(tmp_path / "cache"), str(tmp_path / "data")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                             env={**os.environ, "PYTHONPATH": LIB})
    try:
        out, err = child.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, 9)
        child.communicate()
        pytest.fail("the sweep still waited after 240 s for a task the cluster can never schedule")
    assert "refused: --cpus-per-run 1.5: the Ray cluster has 1 CPUs, so no task could ever start; give at most " \
           "--cpus-per-run 1" in out, out + err[-2000:]


# ----------------------------------------------------------------------------- POOR: runs list / show / prune
def test_runs_with_a_file_as_cache_or_an_unknown_dataset_says_so(cache_with_run, tmp_path, capsys):
    cache, _ = cache_with_run
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    assert main(["runs", "list", "--cache", str(a_file)]) == 2
    err = one_line(capsys.readouterr().err)
    assert f"--cache '{a_file}' is a file, not a run cache folder; give the folder" in err
    assert main(["runs", "--dataset", "eurostat", "--cache", str(cache)]) == 2
    err = one_line(capsys.readouterr().err)
    assert "--dataset 'eurostat': no such dataset; give one of " in err and "eurosat" in err and "land" in err


def test_runs_show_into_a_reader_that_stops_ends_quietly(cache_with_run):
    cache, key = cache_with_run
    child = subprocess.Popen([sys.executable, "-m", "mmprompts", "runs", "show", key, "--cache", str(cache)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": LIB})
    child.stdout.close()  # the reader is gone before the command writes (what `| head` does to a long output)
    _, err = child.communicate(timeout=120)
    assert err.decode() == "" and child.returncode == 141


def test_prune_on_a_read_only_cache_names_the_folder(cache_with_run, monkeypatch, capsys):
    cache, key = cache_with_run
    config = json.loads((cache / "runs" / key / "config.json").read_text())
    (cache / "runs" / key / "config.json").write_text(json.dumps({**config, "trainer": "0"}))

    def read_only(path, *args, **kwargs):  # what a read-only mount does (chmod cannot stop root, who runs CI);
        raise OSError(errno.EROFS, "Read-only file system", "metrics.json")  # rmtree names the file in its folder only

    monkeypatch.setattr(inventory.shutil, "rmtree", read_only)
    assert main(["runs", "prune", "--older-trainer", "--delete", "--cache", str(cache)]) == 2
    err = one_line(capsys.readouterr().err)
    assert f"cannot delete the run folder '{cache / 'runs' / key}': Read-only file system" in err
    assert "make the cache writable" in err


def _interrupt(epoch, stats):
    raise KeyboardInterrupt  # what Ctrl-C does after the epoch's checkpoint


def _held_by_another_process(folder: Path) -> int:
    """The run folder's lock taken through a descriptor of its own: to flock, that is another process."""
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder / "train.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return descriptor


def test_prune_never_removes_a_run_that_is_training(cache_with_run, tiny_clip, world, capsys):
    cache, _ = cache_with_run
    data = load_dataset("eurosat", world["data"])
    with pytest.raises(KeyboardInterrupt):  # a run stopped after its first epoch: a checkpoint, no metrics
        runs.train_run(tiny_clip, data, METHOD, shots=2, seed=1, recipe=SHORT, cache=cache, progress=False,
                       on_epoch_end=_interrupt)
    folder = next(f for f in (cache / "runs").iterdir() if (f / "checkpoint.pt").exists())
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "trainer": "0"}))  # prunable by --older-trainer
    descriptor = _held_by_another_process(folder)  # ... but being trained again right now
    try:
        assert main(["runs", "--cache", str(cache), "--status", "training"]) == 0
        assert folder.name in capsys.readouterr().out
        assert main(["runs", "prune", "--older-trainer", "--delete", "--cache", str(cache)]) == 0
        out = capsys.readouterr().out
        assert f"kept 1 runs that another process is training now ({folder.name})" in out
        assert out.splitlines()[-1].startswith("deleted 0 runs") and (folder / "checkpoint.pt").is_file()
    finally:
        os.close(descriptor)
    assert main(["runs", "prune", "--older-trainer", "--delete", "--cache", str(cache)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("deleted 1 runs") and not folder.exists()


# ----------------------------------------------------------------------------- POOR: two processes, one run
_SECOND_TRAINER = """
import json, sys
import mmprompts as mp
from mmprompts import runs
from mmprompts.data import load_dataset
from mmprompts.train import Recipe
clip = mp.load_clip(sys.argv[1], init_seed=0)
result = runs.train_run(clip, load_dataset("eurosat", sys.argv[2]), mp.PromptConfig.prompts(1, 2), shots=2, seed=1,
                        recipe=Recipe(epochs=3, batch_size=4, lr=0.05), cache=sys.argv[3], progress=False)
print(json.dumps({"cached": result.cached, "accuracy": result.accuracy}), flush=True)
"""


def _line_starting(child: subprocess.Popen, prefix: str, seconds: float) -> str:
    """The first line of the child's output that starts with `prefix` ("" when it ends or `seconds` pass first)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if select.select([child.stdout], [], [], deadline - time.monotonic())[0]:
            line = child.stdout.readline()
            if not line or line.startswith(prefix):
                return line
    return ""


def test_a_second_process_waits_for_the_run_and_reuses_it(world, tmp_path):
    model = tmp_path / "tiny.json"
    model.write_text(json.dumps(TINY_CONFIG))
    clip = mp.load_clip(str(model), init_seed=0)
    data = load_dataset("eurosat", world["data"])
    cache = tmp_path / "cache"
    recipe = Recipe(epochs=3, batch_size=4, lr=0.05)
    second = []

    def start_the_second(epoch, stats):
        """After this process's first epoch: start the same run in another process and go on once it waits."""
        if epoch != 0:
            return
        child = subprocess.Popen([sys.executable, "-c", _SECOND_TRAINER, str(model), str(world["data"]), str(cache)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 env={**os.environ, "PYTHONPATH": LIB})
        second.append(child)
        line = _line_starting(child, "waiting: ", 120)
        assert "is being trained by another process now" in line, f"the second process did not wait: {line!r}"

    try:
        first = runs.train_run(clip, data, METHOD, shots=2, seed=1, recipe=recipe, cache=cache, progress=False,
                               on_epoch_end=start_the_second)
        reused = json.loads(_line_starting(second[0], "{", 120))
    finally:
        for child in second:
            child.kill()
            child.wait()
    assert reused == {"cached": True, "accuracy": first.accuracy} and not first.cached
    log = runs.read_log(cache / "runs" / first.key)
    assert [r["epoch"] for r in log if r["kind"] == "epoch"] == [1, 2, 3]  # every record once
    assert [r["kind"] for r in log].count("test") == 1
    assert not (cache / "runs" / first.key / "train.lock").exists()  # a finished run keeps no lock file


# ----------------------------------------------------------------------------- POOR: --log-every
@pytest.mark.parametrize("value", ["0", "-1"])
def test_log_every_below_one_is_refused_before_the_model_loads(value, world, tmp_path, monkeypatch, capsys):
    from mmprompts import cli

    monkeypatch.setattr(cli, "load_clip", lambda *a, **k: pytest.fail("loaded the model first"))
    assert main(["train", "--model", "mini-clip", "--dataset", "eurosat", "--data-root", str(world["data"]),
                 "--cache", str(tmp_path), "--log-every", value]) == 2
    err = one_line(capsys.readouterr().err)
    assert err.startswith(f"error: --log-every {value}: must be a positive number of steps, e.g. --log-every 10")
    with pytest.raises(ValueError, match=f"log_every {value}: must be a positive number of steps"):
        runs.train_runs(None, [], log_every=int(value))


# ----------------------------------------------------------------------------- POOR: a full disk
def test_a_mini_world_task_written_onto_a_full_disk_names_the_file_and_the_fix(tmp_path, monkeypatch, capsys):
    from PIL import Image

    def full(self, path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full)
    with pytest.raises(OSError, match=rf"cannot write '{tmp_path}/land/images/[^']+\.png': No space left on device; "
                                      r"free space there, or write elsewhere \(the run cache: --cache or \$MMPROMPTS_CACHE\)"):
        load_dataset("land", tmp_path)
    # the fix it names works: --cache moves the mini world too (it was written under $MMPROMPTS_CACHE whatever --cache said)
    monkeypatch.setenv("MMPROMPTS_CACHE", str(tmp_path / "elsewhere"))
    assert main(["zeroshot", "--model", "mini-clip", "--dataset", "land", "--cache", str(tmp_path / "given")]) == 2
    assert f"cannot write '{tmp_path / 'given' / 'mini-world' / 'land'}/images/" in capsys.readouterr().err
    assert not (tmp_path / "elsewhere").exists()


# ----------------------------------------------------------------------------- one reading of a run folder
def _damaged(kind: str, folder: Path) -> None:
    if kind == "truncated metrics":
        path = folder / "metrics.json"
        path.write_text(path.read_text()[:40])
    elif kind == "missing learned.pt":
        (folder / "learned.pt").unlink()
    elif kind == "diverged marker":
        for name in ("metrics.json", "learned.pt"):
            (folder / name).unlink()
        (folder / "diverged.json").write_text(json.dumps({"epoch": 2, "step": 3, "lr": 9.0, "message": "lr too high"}))


@pytest.mark.parametrize("kind, status, eval_error", [
    ("truncated metrics", "unreadable", "run file '{folder}/metrics.json' is unreadable"),
    ("missing learned.pt", "unreadable", "run file '{folder}/learned.pt' is unreadable"),
    ("diverged marker", "diverged", r"lr too high \(recorded in '{folder}/diverged.json'"),
])
def test_runs_list_show_and_eval_agree_on_a_damaged_run(kind, status, eval_error, world, tmp_path, capsys):
    model = tmp_path / "tiny.json"
    model.write_text(json.dumps(TINY_CONFIG))
    cache = tmp_path / "cache"
    args = ["--model", str(model), "--dataset", "eurosat", "--data-root", str(world["data"]), "--cache", str(cache),
            "--quiet", "--depth", "2", "--n-ctx", "1", "--epochs", "2", "--batch-size", "4", "--shots", "2",
            "--seeds", "1"]
    assert main(["train", *args]) == 0
    folder = next((cache / "runs").iterdir())
    _damaged(kind, folder)
    capsys.readouterr()

    assert main(["runs", "--cache", str(cache)]) == 0
    listed = capsys.readouterr().out.splitlines()[2]
    assert listed.startswith(folder.name) and f" {status}" in listed
    assert main(["runs", "show", folder.name, "--cache", str(cache)]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown[0].endswith(f": {status}" if status == "unreadable" else f": {status} at epoch 2")
    assert main(["eval", *args]) == 2
    err = capsys.readouterr().err
    assert re.search(eval_error.format(folder=folder), err), err
    if status == "unreadable":  # what the list names is the file eval names
        assert shown[2].startswith(f"unreadable: run file '{folder}/{'metrics.json' if 'metrics' in kind else 'learned.pt'}'")


def test_read_run_state_of_a_run_opened_by_train(tiny_clip, world, tmp_path):
    """The one reading: train's open_run and the inventory see the same state after each step of a run's life."""
    data = load_dataset("eurosat", world["data"])

    def train(**kwargs):
        return runs.train_run(tiny_clip, data, METHOD, shots=2, seed=1, recipe=SHORT, cache=tmp_path, progress=False,
                              **kwargs)

    with pytest.raises(KeyboardInterrupt):
        train(on_epoch_end=_interrupt)
    folder = next((tmp_path / "runs").iterdir())
    state = runs.read_run_state(folder)
    assert (state.status, state.epochs_done) == ("interrupted", 1)
    assert [r.status for r in inventory.list_runs(tmp_path)] == ["interrupted"]
    finished = train()
    state = runs.read_run_state(folder)
    assert state.status == "finished" and state.metrics["accuracy"] == finished.accuracy
    assert set(state.learned) == set(finished.model.learned_state())
    with pytest.raises(RunDiverged):
        runs.train_run(tiny_clip, data, METHOD, shots=2, seed=1, recipe=Recipe(epochs=2, batch_size=4, lr=1e38),
                       cache=tmp_path, progress=False)
    diverged = [r for r in inventory.list_runs(tmp_path) if r.status == "diverged"]
    assert len(diverged) == 1 and runs.read_run_state(diverged[0].folder).diverged["lr"] == 1e38
    shutil.rmtree(tmp_path / "runs")


# ----------------------------------------------------------------------------- POOR: the book's kernels at shutdown
def test_kernels_are_interrupted_at_shutdown_only_while_a_cell_runs(tmp_path, monkeypatch):
    """jupyter_client interrupts a kernel before every shutdown; after a good run that SIGINT met the kernel in its
    last request's handler ("[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel.")."""
    import asyncio

    from jupyter_client.manager import AsyncKernelManager

    from mmprompts.book import execute_notebook

    sent = []
    interrupt = AsyncKernelManager._async_interrupt_kernel

    async def recorded(self):
        sent.append(getattr(self, "shutting_down", False))
        await interrupt(self)

    monkeypatch.setattr(AsyncKernelManager, "_async_interrupt_kernel", recorded)
    source = tmp_path / "01_tiny.py"
    source.write_text("# %%\nanswer = 6 * 7\nanswer\n")
    executed = execute_notebook(source, tmp_path / "01_tiny.ipynb", progress=False)
    assert json.loads(executed.read_text())["cells"][0]["outputs"][0]["data"]["text/plain"] in ("42", ["42"])
    assert sent == []  # the kernel was idle: shut down with no interrupt

    from mmprompts.book import interrupt_only_running_cells

    options = interrupt_only_running_cells()  # while a cell runs (Ctrl-C, a timeout) the interrupt still goes
    manager = options["kernel_manager_class"]()
    manager.shutting_down = True
    options["on_cell_execute"](cell=None, cell_index=0)
    with pytest.raises(RuntimeError, match="No kernel is running"):  # it was sent (to no kernel here)
        asyncio.run(manager._async_interrupt_kernel())
    options["on_cell_executed"](cell=None, cell_index=0, execute_reply={})
    asyncio.run(manager._async_interrupt_kernel())
    assert sent == [True]
