"""The run cache: one folder per training configuration, keyed by a hash of all of it; and the trainer of runs.

    <cache>/runs/<key>/config.json    the full configuration (what the key hashes)
                       log.jsonl      the training log: one JSON record per step and per epoch (`read_log`)
                       checkpoint.pt  while training: learned tensors + optimizer after the last epoch
                       learned.pt     when done: prompts/biases only (kilobytes)
                       metrics.json   when done: test accuracy, per-epoch history
                       diverged.json  instead, when the run diverged: epoch, step, lr, message
                       train.lock     the lock of the process training the run (gone once it is finished)
                       tensorboard/   the log as TensorBoard events, when `tensorboard` is installed
                       <name>.pt      what analyses derive from the finished run, e.g. page 2's per-image
                                      results (`cached_artefact`)
    <cache>/fewshot/   few-shot lists of datasets whose folder is read-only

`read_run_state` is the one reading of a run folder: `open_run` (train, eval, the pages) and the
inventory (`python -m mmprompts runs`) both go through it, so they always agree on whether a run is
finished, diverged, interrupted, being trained by another process, or unreadable (and which file).
Only this module knows the layout: other modules name a run's folder by `run_folder` and keep what they
derive from a run through `cached_artefact`.

A process trains a run only while it holds the run folder's lock (`train.lock`, an flock that
the system drops when the process ends, however it ends): a second process that asks for the run
meanwhile trains its other runs, then waits for the lock and reuses the finished run, so no run
trains twice at once and no log holds a record twice.

Re-running a finished configuration loads it; an interrupted one resumes after its last
completed epoch. A run file that cannot be read is named in a warning and the run heals: a bad
checkpoint.pt restarts training from epoch 1, a bad metrics.json or learned.pt retrains, a bad
config.json is written again (`only_cached=True` raises `RunFileCorrupt` instead). A diverged run is recorded, not retried:
training is deterministic, so the same configuration would diverge at the same step again;
deleting its diverged.json trains it again (e.g. on other hardware). A run is finished only
when its final test logits are finite. The default cache is $MMPROMPTS_CACHE or ~/.cache/mmprompts.

Runs train in groups (`train.train_epochs`): `train_runs` loads the finished runs and trains the
others in the groups `plan_groups` makes; `train_run` is the case of one run.
"""
from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import math
import os
import sys
import time
import warnings
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable, Sequence

import torch

from .data import fewshot_splits
from .data.coop import DatasetSplits
from .models import LoadedCLIP
from .progress import print_line
from .prompted import PromptConfig, PromptedCLIP
from .storage import atomic_torch_save, atomic_write_text, cache_root, named_os_error
from .train import Recipe, RunDiverged, batch_rows, evaluate, evaluate_models, train_epochs

__all__ = ["CPU_GROUP_RUNS", "TRAINER_VERSION", "OpenRun", "RunBusy", "RunFileCorrupt", "RunResult",
           "RunState", "cache_root", "cached_artefact", "check_log_every", "claim_run_folder", "group_limit", "method_from_key", "method_key",
           "open_run", "open_runs", "plan_groups", "read_log", "read_run_state", "release_run_folder", "run_config",
           "run_folder", "run_key", "runs_root", "train_group", "train_run", "train_runs", "zero_shot_run"]

# Bump when a change to training or evaluation changes results: old runs stop matching.
# 2: one loop for one run or many (groups across datasets), shared text positions computed once,
#    SGD on the stacked rows: the same recipe, results changed at float-rounding level.
TRAINER_VERSION = "2"

# At most this many runs per group on a CPU: beyond about 9 runs a CPU step's cost per run stops
# falling (benchmarks/bench_multirun.py), and more, smaller groups keep the training processes of
# `experiments.run_all` evenly busy. On CUDA only memory limits a group (`group_limit`).
CPU_GROUP_RUNS = 16


class RunFileCorrupt(ValueError):
    """A file of a run folder that cannot be read (truncated, edited, from another version); names it (`path`)."""

    def __init__(self, message: str, path: Path | None = None):
        super().__init__(message)
        self.path = path

    def __reduce__(self):  # to and from worker processes with its path
        return type(self), (str(self), self.path)


class RunBusy(RuntimeError):
    """A run that another process is training now (it holds the run folder's lock)."""

    def __init__(self, message: str, folder: Path):
        super().__init__(message)
        self.folder = folder

    def __reduce__(self):
        return type(self), (str(self), self.folder)


@dataclass
class RunResult:
    key: str
    metrics: dict
    model: PromptedCLIP
    cached: bool  # True when loaded instead of trained

    @property
    def accuracy(self) -> float:
        return self.metrics["accuracy"]


def run_config(clip: LoadedCLIP, data: DatasetSplits, method: PromptConfig | None, shots: int, seed: int,
               recipe: Recipe | None) -> dict:
    """Everything that determines a run's result (device and batch size of evaluation do not).

    Returned as plain JSON types, so that a stored config compares equal to a fresh one."""
    return json.loads(json.dumps({
        "trainer": TRAINER_VERSION,
        "model": clip.identity,
        "dataset": data.name,
        "data": data.fingerprint,
        "method": method_key(method),
        "shots": shots,
        "seed": seed,
        "recipe": None if recipe is None else recipe.as_dict(),
    }))


# The PromptConfig fields of the first run keys: always hashed. A field added later enters the key
# only when it differs from its default, so adding one leaves every existing run's key unchanged.
_KEYED_FIELDS = ("n_ctx_vision", "n_ctx_text", "depth_vision", "depth_text", "bias_vision", "bias_text", "ctx_init",
                 "init_std")


def method_key(method: PromptConfig | None) -> str | dict:
    """The method's part of a run key: "zeroshot", or the config's fields (see _KEYED_FIELDS)."""
    if method is None:
        return "zeroshot"
    defaults = {f.name: f.default_factory() if f.default is MISSING else f.default for f in fields(method)}
    return {name: value for name, value in asdict(method).items() if name in _KEYED_FIELDS or value != defaults[name]}


def method_from_key(method: str | dict) -> PromptConfig | None:
    """The method a stored config names (the inverse of `method_key`; None for zero-shot)."""
    if method == "zeroshot":
        return None
    if not isinstance(method, dict):
        raise ValueError(f"method {method!r} is neither 'zeroshot' nor a dict of PromptConfig fields")
    return PromptConfig(**{name: tuple(value) if isinstance(value, list) else value for name, value in method.items()})


def run_key(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:20]


def runs_root(cache: str | os.PathLike | None = None) -> Path:
    """The folder that holds every run folder of the cache `cache` (default: `cache_root`)."""
    return cache_root(cache) / "runs"


def run_folder(key: str, cache: str | os.PathLike | None = None) -> Path:
    """The folder of the run whose key is `key` in the cache `cache`."""
    return runs_root(cache) / key


def cached_artefact(key: str, name: str, compute: Callable[[], object], cache: str | os.PathLike | None = None):
    """What an analysis derives from a finished run (tensors, lists of them), kept in the run's folder as
    `<name>.pt`: read when it is there, else computed by `compute()` and stored. `name` carries the version of
    the computation, so that a changed one is computed anew."""
    path = run_folder(key, cache) / f"{name}.pt"
    if path.is_file():
        return torch.load(path, weights_only=True)
    value = compute()
    atomic_torch_save(path, value)
    return value


@dataclass
class OpenRun:
    """A run to train: its cache folder and its model, initialised from its seed or resumed from its checkpoint.

    The group trainer (`train_group`) checkpoints, logs and finishes each of its runs through these
    methods, so a run's folder looks the same whichever group trained it."""

    key: str
    config: dict
    folder: Path
    seed: int
    fewshot: DatasetSplits
    model: PromptedCLIP
    start_epoch: int = 0
    history: list[dict] = field(default_factory=list)
    optimizer_state: dict | None = None
    elapsed_s: float = 0.0  # training time of the sessions before this one
    steps: list[dict] = field(default_factory=list)  # the log's step records of the epoch under way

    @property
    def label(self) -> str:
        return f"{self.fewshot.name} seed {self.seed}"

    def log_step(self, record: dict) -> None:
        self.steps.append({"kind": "step", **record})

    def save_checkpoint(self, epoch: int, stats: dict, optimizer_state: dict, session_s: float) -> None:
        """After every epoch: learned tensors, optimizer and history, enough to resume after it; then the epoch's log."""
        self.history.append(stats)
        atomic_torch_save(self.folder / "checkpoint.pt", {
            "epoch": epoch, "history": self.history, "learned": self.model.learned_state(),
            "optimizer": optimizer_state, "elapsed_s": self.elapsed_s + session_s,
        })
        epoch_record = {"kind": "epoch", "epoch": epoch + 1, **{k: v for k, v in stats.items() if k != "epoch"}}
        self._append_log([*self.steps, epoch_record])

    def diverged(self, err: RunDiverged) -> None:
        """Record a divergence: training is deterministic, so the same configuration would diverge at
        the same step again; re-running it raises at once instead of retraining (see `open_run`)."""
        record = {"epoch": err.epoch, "step": err.step, "lr": err.lr, "message": str(err)}
        atomic_write_text(self.folder / "diverged.json", json.dumps(record, indent=1))
        self._append_log([*self.steps, {"kind": "diverged", **record}])

    def finish(self, accuracy: float, session_s: float, group_size: int = 1) -> RunResult:
        """Store the finished run (learned.pt, metrics.json) and drop its checkpoint."""
        metrics = {
            "key": self.key, "config": self.config, "accuracy": accuracy, "history": self.history,
            "train_time_s": self.elapsed_s + session_s, "group_size": group_size,
            "learned_params": sum(p.numel() for p in self.model.parameters() if p.requires_grad),
            "train_items": len(self.fewshot.train), "test_items": len(self.fewshot.test),
        }
        self._append_log([{"kind": "test", "accuracy": accuracy}])
        atomic_torch_save(self.folder / "learned.pt", self.model.learned_state())
        atomic_write_text(self.folder / "metrics.json", json.dumps(metrics, indent=1))
        (self.folder / "checkpoint.pt").unlink(missing_ok=True)
        return RunResult(self.key, metrics, self.model, cached=False)

    def _append_log(self, records: list[dict]) -> None:
        with open(self.folder / "log.jsonl", "a") as log:
            log.writelines(json.dumps(record) + "\n" for record in records)
        _tensorboard(self.folder, records)
        self.steps = []


_TENSORBOARD = importlib.util.find_spec("tensorboard") is not None


def _tensorboard(folder: Path, records: list[dict]) -> None:
    """The records as TensorBoard scalars in `folder/tensorboard`, when `tensorboard` is installed (never required)."""
    if not _TENSORBOARD:
        return
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(folder / "tensorboard")) as writer:
        for record in records:
            if record["kind"] == "step":
                for name in ("loss", "lr", "norm"):
                    writer.add_scalar(f"step/{name}", record[name], record["global_step"])
            elif record["kind"] == "epoch":
                writer.add_scalar("epoch/train_acc", record["train_acc"], record["epoch"])
            elif record["kind"] == "test":
                writer.add_scalar("test/accuracy", record["accuracy"])


def read_log(folder: str | os.PathLike) -> list[dict]:
    """A run folder's training log: step records (epoch, step, global_step, loss, lr, norm of the learned
    tensors), epoch records (loss, train_acc, seconds, ...), then a test or diverged record."""
    path = Path(folder) / "log.jsonl"
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (OSError, ValueError) as err:
        raise RunFileCorrupt(f"run file {str(path)!r} is unreadable ({err})", path) from err


def open_run(clip: LoadedCLIP, data: DatasetSplits, method: PromptConfig, *, shots: int, seed: int, recipe: Recipe,
             cache: str | os.PathLike | None = None, only_cached: bool = False,
             recompute_text: bool = False) -> RunResult | OpenRun:
    """The finished run from the cache, or the run to train (resumed from its checkpoint when there is one).

    The folder is read by `read_run_state`. A run file that cannot be read is named in a warning and
    healed (with `only_cached`, RunFileCorrupt is raised instead): a bad metrics.json or learned.pt
    retrains, a bad checkpoint restarts the run from its first epoch (the one checkpoint is the last
    good state), a bad config.json is written again. A recorded divergence raises RunDiverged; a run
    another process is training raises RunBusy (`train_runs` waits for it). The run to train holds
    its folder's lock (`claim_run_folder`) until `train_group` releases it. The log keeps the records
    of the epochs the run resumes after."""
    fewshot = fewshot_splits(data, shots, seed, fallback_dir=cache_root(cache) / "fewshot")
    config = run_config(clip, data, method, shots, seed, recipe)
    key = run_key(config)
    folder = run_folder(key, cache)
    device = clip.model.logit_scale.device

    def fresh_model() -> PromptedCLIP:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)  # prompt initialisation depends on the seed, as in CoOp
            model = PromptedCLIP(clip, method)
        model.recompute_text = recompute_text
        return model

    state = read_run_state(folder, device)
    if only_cached:
        return _stored(state, key, fresh_model(), seed)
    if state.status == "finished":
        try:
            return _stored(state, key, fresh_model(), seed)
        except RunFileCorrupt:
            pass  # learned.pt does not fit this model: healed below, under the lock
    if not claim_run_folder(folder):
        raise RunBusy(f"run {key} ({fewshot.name} seed {seed}) is being trained by another process now "
                      f"({str(folder)!r})", folder)
    try:
        state = _healed(read_run_state(folder, device), config, device)  # read again: the other process may have finished it
        if state.status == "finished":
            try:
                result = _stored(state, key, fresh_model(), seed)
                release_run_folder(folder)
                return result
            except RunFileCorrupt as err:
                _unreadable(err, "computing the run again")
                for name in ("metrics.json", "learned.pt"):
                    (folder / name).unlink(missing_ok=True)
                state = read_run_state(folder, device)
        if state.status == "diverged":
            raise _diverged_error(state)
        atomic_write_text(folder / "config.json", json.dumps(config, indent=1, sort_keys=True))
        run = OpenRun(key, config, folder, seed, fewshot, fresh_model())
        if state.checkpoint is not None:
            checkpoint_path = folder / "checkpoint.pt"
            try:
                if len(state.checkpoint["history"]) > recipe.epochs:
                    raise RunFileCorrupt(f"run file {str(checkpoint_path)!r} is unreadable: it claims epoch "
                                         f"{state.epochs_done} of {recipe.epochs}", checkpoint_path)
                _load_learned_state(run.model, checkpoint_path, state.checkpoint["learned"])
                run.start_epoch, run.history = state.epochs_done, list(state.checkpoint["history"])
                run.optimizer_state, run.elapsed_s = state.checkpoint["optimizer"], float(state.checkpoint["elapsed_s"])
            except RunFileCorrupt as err:
                _unreadable(err, "training the run again from its first epoch")
                checkpoint_path.unlink()
                run = OpenRun(key, config, folder, seed, fewshot, fresh_model())
        _keep_log_before(folder, run.start_epoch)
        return run
    except BaseException:
        release_run_folder(folder)
        raise


def _keep_log_before(folder: Path, start_epoch: int) -> None:
    """Drop the log records of epochs the run trains again (an interrupted epoch, or all of a restarted run)."""
    path = folder / "log.jsonl"
    if not path.exists():
        return
    try:
        kept = [r for r in read_log(folder) if r.get("kind") in ("step", "epoch") and r["epoch"] <= start_epoch]
    except (RunFileCorrupt, KeyError, TypeError):
        kept = []  # an unreadable log is not worth a warning: it is rewritten from here on
    atomic_write_text(path, "".join(json.dumps(record) + "\n" for record in kept))


def plan_groups(runs: Sequence[OpenRun], recipe: Recipe, max_runs: int | None = None) -> list[list[OpenRun]]:
    """The runs in the groups they train in: one prompt shape, start epoch and batch size per group (what
    `train.train_epochs` needs), datasets mixed, at most `max_runs` runs (default `group_limit`).

    Runs of one kind are sorted by their steps per epoch (then dataset and seed, so the groups do not
    depend on the order the runs were asked for) and cut into groups as even as the limit allows:
    runs of similar length share a group, and few runs sit out the end of an epoch. The groups come
    largest work first (the order in which a pool of processes balances best)."""
    kinds: dict[tuple, list[OpenRun]] = {}
    for run in runs:
        kinds.setdefault((run.model.config, run.start_epoch, batch_rows(run.fewshot, recipe)), []).append(run)
    groups = []
    for kind in kinds.values():
        kind.sort(key=lambda run: (-len(run.fewshot.train), run.fewshot.name, run.seed, run.key))
        limit = max_runs or group_limit(kind, recipe)
        count = math.ceil(len(kind) / limit)
        size, extra = divmod(len(kind), count)
        start = 0
        for index in range(count):
            end = start + size + (index < extra)
            groups.append(kind[start:end])
            start = end
    return sorted(groups, key=lambda group: (-sum(_work(run, recipe) for run in group), repr(group[0].model.config),
                                             group[0].fewshot.name, group[0].seed))


def _work(run: OpenRun, recipe: Recipe) -> int:
    """A run's training cost in a group, up to a constant: its steps times the tokens of one step."""
    steps = (recipe.epochs - run.start_epoch) * max(1, len(run.fewshot.train) // recipe.batch_size)
    return steps * _step_bytes(run.model, run.fewshot, recipe)


def group_limit(runs: Sequence[OpenRun], recipe: Recipe) -> int:
    """How many of `runs` (one kind) one group holds: a share of the free memory over the activations one
    run's step keeps for the backward pass. On CUDA half the device's free memory; on a CPU a quarter
    of the machine's (two processes of `experiments.results` train at once), and at most CPU_GROUP_RUNS.
    The memory binds only on a small machine: then the groups, and so the float rounding of the
    results, depend on the free memory."""
    model = runs[0].model
    device = model.logit_scale.device
    per_run = max(_step_bytes(model, run.fewshot, recipe) for run in runs)
    if device.type == "cuda":
        free = torch.cuda.mem_get_info(device)[0]
        return max(1, int(free / 2 // per_run))
    free = _free_memory()
    return max(1, min(CPU_GROUP_RUNS, int(free / 4 // per_run) if free else CPU_GROUP_RUNS))


def _step_bytes(model: PromptedCLIP, data: DatasetSplits, recipe: Recipe) -> int:
    """An upper estimate of the activations one run's training step keeps: per block and token about 16
    widths of 4 bytes (the normalised input, q/k/v, attention output, residual, the 4x MLP twice)."""
    clip, config = model.clip, model.config
    visual = clip.visual
    image_tokens = batch_rows(data, recipe) * (visual.positional_embedding.shape[0] + config.n_ctx_vision)
    names = [name.replace("_", " ") for name in data.classnames]
    text_tokens = len(names) * (config.n_ctx_text + 2 + max(len(name.split()) for name in names) + 4)
    text_blocks = 1 if model.recompute_text else len(clip.transformer.resblocks)
    return 16 * 4 * (image_tokens * visual.transformer.width * len(visual.transformer.resblocks)
                     + text_tokens * clip.transformer.width * text_blocks)


def _free_memory() -> int | None:
    """The memory the system can give this process now (Linux: MemAvailable), None when it does not say."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def train_group(group: Sequence[OpenRun], clip: LoadedCLIP, recipe: Recipe, *, workers: int | None = None,
                progress: bool = True, log_every: int | None = None,
                on_epoch_end: Callable[[OpenRun, int, dict], None] | None = None) -> list[RunResult | RunDiverged]:
    """Train the runs of one group (see `plan_groups`) in lock-step, evaluate them and store them; the result
    or the divergence per run, in order.

    `log_every=N` prints every N-th step record of every run (`read_log` keeps them all);
    `on_epoch_end(run, epoch, stats)` is called after each run's checkpoint."""
    check_log_every(log_every)
    try:
        return _train_group(group, clip, recipe, workers=workers, progress=progress, log_every=log_every,
                            on_epoch_end=on_epoch_end)
    finally:
        for run in group:  # finished, diverged or stopped: another process may take the run now
            release_run_folder(run.folder)


def check_log_every(log_every: int | None, name: str = "log_every") -> None:
    """Refuse a step interval that is not a positive integer (0 would print nothing, -1 every step)."""
    if log_every is not None and (isinstance(log_every, bool) or not isinstance(log_every, int) or log_every < 1):
        raise ValueError(f"{name} {log_every!r}: must be a positive number of steps, e.g. {name} 10 (leave it out to "
                         "print no steps; every step is in the run's log.jsonl anyway)")


def _train_group(group: Sequence[OpenRun], clip: LoadedCLIP, recipe: Recipe, *, workers: int | None, progress: bool,
                 log_every: int | None,
                 on_epoch_end: Callable[[OpenRun, int, dict], None] | None) -> list[RunResult | RunDiverged]:
    started = time.perf_counter()

    def on_step(index: int, record: dict) -> None:
        run = group[index]
        record["global_step"] = sum(h["steps"] for h in run.history) + record["step"]
        run.log_step(record)
        if log_every and record["step"] % log_every == 0:
            print_line(f"{run.label}: epoch {record['epoch']}/{recipe.epochs} step {record['step']} "
                       f"loss {record['loss']:.4f} lr {record['lr']:.3g} norm {record['norm']:.4g}")

    def checkpoint(index: int, epoch: int, stats: dict, optimizer_state: dict) -> None:
        group[index].save_checkpoint(epoch, stats, optimizer_state, time.perf_counter() - started)
        if on_epoch_end is not None:
            on_epoch_end(group[index], epoch, stats)

    diverged = train_epochs(
        [run.model for run in group], clip, [run.fewshot for run in group], recipe, [run.seed for run in group],
        start_epoch=group[0].start_epoch, optimizer_states=[run.optimizer_state for run in group],
        on_step=on_step, on_epoch_end=checkpoint, workers=workers, progress=progress,
    )
    train_time = time.perf_counter() - started
    outcomes: dict[int, RunResult | RunDiverged] = dict(diverged)
    by_data: dict[tuple[str, str], list[int]] = {}
    for index, run in enumerate(group):
        if index not in diverged:
            by_data.setdefault((run.fewshot.name, run.config["data"]), []).append(index)
    for indices in by_data.values():
        accuracies = evaluate_models([group[i].model for i in indices], clip, group[indices[0]].fewshot, "test",
                                     workers=workers, progress=progress)
        for index, accuracy in zip(indices, accuracies):
            if accuracy is None:
                last = group[index].history[-1]
                outcomes[index] = RunDiverged(
                    f"the run diverged (seed {group[index].seed}): its test logits are not finite after its last step "
                    f"(epoch {recipe.epochs}, step {last['steps']}, lr {last['lr']:g}); lower --lr",
                    epoch=recipe.epochs, step=last["steps"], lr=last["lr"])
            else:
                outcomes[index] = group[index].finish(accuracy, train_time, group_size=len(group))
    for index, outcome in outcomes.items():
        if isinstance(outcome, RunDiverged):
            group[index].diverged(outcome)  # recorded: not retrained on the next call
    return [outcomes[index] for index in range(len(group))]


def open_runs(clip: LoadedCLIP, requests: Sequence[tuple[DatasetSplits, PromptConfig, int]], *, shots: int,
              recipe: Recipe, cache: str | os.PathLike | None = None, only_cached: bool = False,
              recompute_text: bool = False) -> list[RunResult | OpenRun | Exception]:
    """`open_run` for every request (dataset, method, seed): the finished run, the run to train (its folder locked
    by this process), or the error that stops this run only (a bad seed, with `only_cached` a run not in the
    cache, a recorded divergence, RunBusy for a run another process is training)."""
    opened: list[RunResult | OpenRun | Exception] = []
    for data, method, seed in requests:
        try:
            opened.append(open_run(clip, data, method, shots=shots, seed=seed, recipe=recipe, cache=cache,
                                   only_cached=only_cached, recompute_text=recompute_text))
        except Exception as err:  # this run only: the others go on
            opened.append(err)
    return opened


def train_runs(clip: LoadedCLIP, requests: Sequence[tuple[DatasetSplits, PromptConfig, int]], *, shots: int = 16,
               recipe: Recipe = Recipe(), cache: str | os.PathLike | None = None, only_cached: bool = False,
               workers: int | None = None, progress: bool = True, recompute_text: bool = False,
               log_every: int | None = None,
               on_epoch_end: Callable[[OpenRun, int, dict], None] | None = None) -> list[RunResult | Exception]:
    """Every run of `requests` (dataset, method, seed) with `shots` and `recipe`: finished ones from the cache,
    the others trained in the groups of `plan_groups`; the result or the error per request, in order.

    A run that cannot start (see `open_runs`) or that diverges (`RunDiverged`) is returned as its
    exception while the others finish. `only_cached=True` never trains. `recompute_text=True`
    recomputes the text blocks in the backward pass (less memory with many classes, same result;
    not part of the cache key)."""
    check_log_every(log_every)
    outcomes = open_runs(clip, requests, shots=shots, recipe=recipe, cache=cache, only_cached=only_cached,
                         recompute_text=recompute_text)
    while True:
        to_train = {run.key: run for run in outcomes if isinstance(run, OpenRun)}  # a run asked for twice trains once
        trained: dict[str, RunResult | RunDiverged] = {}
        try:
            for group in plan_groups(list(to_train.values()), recipe):
                results = train_group(group, clip, recipe, workers=workers, progress=progress, log_every=log_every,
                                      on_epoch_end=on_epoch_end)
                trained.update((run.key, result) for run, result in zip(group, results))
        finally:
            for run in to_train.values():  # a group that never started (an error, Ctrl-C) gives its runs back too
                release_run_folder(run.folder)
        outcomes = [trained[outcome.key] if isinstance(outcome, OpenRun) else outcome for outcome in outcomes]
        busy = [index for index, outcome in enumerate(outcomes) if isinstance(outcome, RunBusy)]
        if not busy:
            return outcomes
        # Other processes train these: wait for each (this process holds no lock now, so nobody waits on it),
        # then read it, or train it when that process stopped before finishing it.
        for index in busy:
            _wait_for(outcomes[index])
        reopened = open_runs(clip, [requests[index] for index in busy], shots=shots, recipe=recipe, cache=cache,
                             recompute_text=recompute_text)
        for index, outcome in zip(busy, reopened):
            outcomes[index] = outcome


def train_run(
    clip: LoadedCLIP,
    data: DatasetSplits,
    method: PromptConfig,
    *,
    shots: int = 16,
    seed: int = 1,
    recipe: Recipe = Recipe(),
    cache: str | os.PathLike | None = None,
    only_cached: bool = False,
    on_epoch_end: Callable[[int, dict], None] | None = None,
    workers: int | None = None,
    progress: bool = True,
    recompute_text: bool = False,
    log_every: int | None = None,
) -> RunResult:
    """Train `method` on `shots` per class of `data` with `seed`, evaluate on test; cached. The one-run case
    of `train_runs` (its error is raised); `on_epoch_end(epoch, stats)` after each epoch's checkpoint."""
    result = train_runs(clip, [(data, method, seed)], shots=shots, recipe=recipe, cache=cache, only_cached=only_cached,
                        workers=workers, progress=progress, recompute_text=recompute_text, log_every=log_every,
                        on_epoch_end=None if on_epoch_end is None else lambda run, epoch, stats: on_epoch_end(epoch, stats))[0]
    if isinstance(result, Exception):
        raise result
    return result


def zero_shot_run(clip: LoadedCLIP, data: DatasetSplits, *, cache: str | os.PathLike | None = None,
                  only_cached: bool = False, workers: int | None = None, progress: bool = True) -> RunResult:
    """Zero-shot CLIP test accuracy with the dataset's template; cached like a run."""
    config = run_config(clip, data, None, 0, 0, None)
    key = run_key(config)
    folder = run_folder(key, cache)
    model = PromptedCLIP(clip, PromptConfig())
    state = read_run_state(folder)
    if only_cached or state.status == "finished":
        return _stored(state, key, model, 0)
    if _healed(state, config, "cpu").status == "finished":  # only config.json was unreadable
        return _stored(read_run_state(folder), key, model, 0)
    accuracy = evaluate(model, clip, data, "test", workers=workers, progress=progress)
    metrics = {"key": key, "config": config, "accuracy": accuracy, "test_items": len(data.test)}
    atomic_write_text(folder / "config.json", json.dumps(config, indent=1, sort_keys=True))
    atomic_write_text(folder / "metrics.json", json.dumps(metrics, indent=1))
    return RunResult(key, metrics, model, cached=False)


# ----------------------------------------------------------------------------- reading run folders
@dataclass(frozen=True)
class RunState:
    """What a run folder holds (`read_run_state`).

    status: "finished" (metrics.json with an accuracy, and learned.pt for a trained run), "training"
    (another process holds the folder's lock), "diverged" (diverged.json), "interrupted" (checkpoint.pt
    after `epochs_done` epochs, or only config.json: stopped in its first epoch), "unreadable"
    (`problem` names the file and why) or "new" (no run file at all)."""

    folder: Path
    status: str
    config: dict = field(default_factory=dict)  # {} when config.json is missing or cannot be read
    metrics: dict = field(default_factory=dict)  # finished: metrics.json
    learned: dict | None = None  # finished trained run: learned.pt's tensors
    checkpoint: dict | None = None  # interrupted after an epoch: checkpoint.pt
    diverged: dict | None = None  # diverged: diverged.json's record
    epochs_done: int | None = None  # finished, interrupted, diverged (the epochs before the diverging one)
    problem: RunFileCorrupt | None = None  # unreadable: which file and why


def read_run_state(folder: str | os.PathLike, device: torch.device | str = "cpu") -> RunState:
    """The state of a run folder: every reader of run folders (training, eval, `runs list|show|prune`) uses this.

    Every file is read in full (tensors onto `device`): a truncated metrics.json, a missing or
    non-finite learned.pt, a checkpoint whose epoch and history disagree, a diverged.json without its
    message or a config.json that is not JSON make the run "unreadable", naming the file. A folder
    whose lock another process holds and that is not finished is "training"."""
    folder = Path(folder)

    def state(status: str, **values) -> RunState:
        return RunState(folder, status, config if isinstance(config, dict) else {}, **values)

    def unreadable(err: RunFileCorrupt) -> RunState:
        return state("unreadable", problem=err)

    config: dict | RunFileCorrupt | None = None
    if (folder / "config.json").exists():
        try:
            config = _read_json(folder / "config.json")
        except RunFileCorrupt as err:
            config = err
    if (folder / "metrics.json").exists():
        try:
            metrics = _read_json(folder / "metrics.json")
            if not isinstance(metrics.get("accuracy"), (int, float)) or isinstance(metrics["accuracy"], bool):
                raise RunFileCorrupt(f"run file {str(folder / 'metrics.json')!r} is unreadable: it holds no accuracy",
                                     folder / "metrics.json")
            learned = None
            told = config if isinstance(config, dict) else metrics.get("config")
            if not isinstance(told, dict) or told.get("method") != "zeroshot":  # a trained run: its tensors too
                learned = _read_torch(folder / "learned.pt", device)
                _check_tensors(learned, folder / "learned.pt")
        except RunFileCorrupt as err:
            return unreadable(err)
        if not isinstance(config, dict):
            return unreadable(config or RunFileCorrupt(f"run file {str(folder / 'config.json')!r} is missing",
                                                       folder / "config.json"))
        history = metrics.get("history")
        return state("finished", metrics=metrics, learned=learned,
                     epochs_done=len(history) if isinstance(history, list) and config.get("recipe") else None)
    if _held_elsewhere(folder):
        return state("training")
    if (folder / "diverged.json").exists():
        path = folder / "diverged.json"
        try:
            record = _read_json(path)
            if not isinstance(record.get("message"), str):
                raise RunFileCorrupt(f"run file {str(path)!r} is unreadable: it holds no message", path)
        except RunFileCorrupt as err:
            return unreadable(err)
        epoch = record.get("epoch")
        return state("diverged", diverged=record, epochs_done=epoch - 1 if isinstance(epoch, int) else None)
    if isinstance(config, RunFileCorrupt):
        return unreadable(config)
    if (folder / "checkpoint.pt").exists():
        path = folder / "checkpoint.pt"
        try:
            checkpoint = _read_torch(path, device)
            try:
                done, history = int(checkpoint["epoch"]) + 1, checkpoint["history"]
                float(checkpoint["elapsed_s"]), checkpoint["optimizer"]
                _check_tensors(checkpoint["learned"], path)
            except (KeyError, TypeError, ValueError) as err:
                raise _named(err, path) from err
            if not isinstance(history, list) or done < 1 or len(history) != done:
                raise RunFileCorrupt(f"run file {str(path)!r} is unreadable: it claims epoch {done} with "
                                     f"{len(history) if isinstance(history, list) else 'no'} epochs of history", path)
        except RunFileCorrupt as err:
            return unreadable(err)
        if config is None:
            return unreadable(RunFileCorrupt(f"run file {str(folder / 'config.json')!r} is missing", folder / "config.json"))
        return state("interrupted", checkpoint=checkpoint, epochs_done=done)
    if config is None:
        return state("new")
    return state("interrupted", epochs_done=0)


def _stored(state: RunState, key: str, model: PromptedCLIP, seed: int) -> RunResult:
    """The finished run of `state` with its learned tensors in `model`; anything else raises its reason."""
    if state.status == "finished":
        if state.learned is not None:
            _load_learned_state(model, state.folder / "learned.pt", state.learned)
        return RunResult(key, state.metrics, model, cached=True)
    if state.status == "unreadable":
        raise state.problem
    if state.status == "diverged":
        raise _diverged_error(state)
    if state.status == "training":
        raise LookupError(f"the run of this setting (seed {seed}) in {str(state.folder)!r} is being trained by another "
                          "process now; run this again when it has finished")
    raise LookupError(f"no finished run of this setting (seed {seed}) in {str(state.folder)!r}; train it first "
                      "(python -m mmprompts train with the same options)")


def _diverged_error(state: RunState) -> RunDiverged:
    record = state.diverged or {}
    return RunDiverged(f"{record.get('message')} (recorded in {str(state.folder / 'diverged.json')!r}; delete it to train "
                       "this run again)", epoch=record.get("epoch"), step=record.get("step"), lr=record.get("lr"))


def _healed(state: RunState, config: dict, device: torch.device | str) -> RunState:
    """`state` after each unreadable file is named in a warning and healed (the caller holds the folder's lock):
    a bad metrics.json or learned.pt is removed (the run is computed again), a bad checkpoint removed (the
    run restarts), a bad diverged.json removed (the run trains again), a bad config.json written again."""
    folder = state.folder
    actions = {"metrics.json": "computing the run again", "learned.pt": "computing the run again",
               "checkpoint.pt": "training the run again from its first epoch",
               "diverged.json": "training the run again", "config.json": "writing it again"}
    for _ in actions:  # each round heals one file
        if state.status != "unreadable":
            break
        name = state.problem.path.name if state.problem.path is not None else "metrics.json"
        _unreadable(state.problem, actions.get(name, "computing the run again"))
        if name == "config.json":
            atomic_write_text(folder / name, json.dumps(config, indent=1, sort_keys=True))
        else:
            for gone in ("metrics.json", "learned.pt") if name in ("metrics.json", "learned.pt") else (name,):
                (folder / gone).unlink(missing_ok=True)
        state = read_run_state(folder, device)
    return state


def _unreadable(err: RunFileCorrupt, action: str) -> None:
    warnings.warn(f"{err}; {action}", stacklevel=4)


def _check_tensors(state: object, path: Path) -> None:
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) and bool(torch.isfinite(v).all())
                                              for v in state.values()):
        raise RunFileCorrupt(f"run file {str(path)!r} is unreadable: it holds non-tensors or non-finite values", path)


# ----------------------------------------------------------------------------- one trainer per run folder
_LOCK_FILE = "train.lock"
_HELD: dict[Path, int] = {}  # the run folders whose lock this process holds: the lock file's descriptor


def claim_run_folder(folder: str | os.PathLike) -> bool:
    """Take the run folder's lock without waiting: True when this process holds it now (or held it already),
    False when another process does. The system drops the lock when the process ends, however it ends."""
    folder = Path(folder)
    if folder in _HELD:
        return True
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(folder / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise named_os_error(err, folder / _LOCK_FILE) from err
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return False
    _HELD[folder] = descriptor
    return True


def release_run_folder(folder: str | os.PathLike) -> None:
    """Give back a run folder's lock taken by `claim_run_folder` (nothing when this process does not hold it).

    A finished run's lock file goes: a process that opened it meanwhile finds the run finished once it
    has the lock, as does every later one before it looks for a lock."""
    folder = Path(folder)
    descriptor = _HELD.pop(folder, None)
    if descriptor is not None:
        if (folder / "metrics.json").exists():
            (folder / _LOCK_FILE).unlink(missing_ok=True)
        os.close(descriptor)


def _held_elsewhere(folder: Path) -> bool:
    """Whether another process holds the run folder's lock now."""
    if folder in _HELD or not (folder / _LOCK_FILE).exists():
        return False
    try:
        descriptor = os.open(folder / _LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)  # closing drops the shared lock taken to test


def _wait_for(busy: RunBusy) -> None:
    """Wait until the process training `busy`'s run lets go of its folder (Ctrl-C ends the wait)."""
    print_line(f"waiting: {busy}")
    sys.stdout.flush()  # said now, also into a pipe: the wait may be long
    try:
        descriptor = os.open(busy.folder / _LOCK_FILE, os.O_RDONLY)
    except FileNotFoundError:
        return  # the run finished meanwhile (its lock file goes then)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH)
    finally:
        os.close(descriptor)


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise RunFileCorrupt(f"run file {str(path)!r} is unreadable ({err})", path) from err
    if not isinstance(value, dict):
        raise RunFileCorrupt(f"run file {str(path)!r} is unreadable: not a JSON object", path)
    return value


def _read_torch(path: Path, device: torch.device) -> dict:
    try:
        value = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # truncated zip, foreign pickle, missing file: all mean "not usable"
        raise RunFileCorrupt(f"run file {str(path)!r} is unreadable ({type(err).__name__}: {err})", path) from err
    if not isinstance(value, dict):
        raise RunFileCorrupt(f"run file {str(path)!r} is unreadable: not a dict", path)
    return value


def _load_learned_state(model: PromptedCLIP, path: Path, state: dict) -> None:
    """Load learned tensors read from `path`; a state that does not fit or is not finite is corrupt."""
    try:
        if not all(isinstance(v, torch.Tensor) and bool(torch.isfinite(v).all()) for v in state.values()):
            raise ValueError("it holds non-tensors or non-finite values")
        model.load_learned_state(state)
    except (ValueError, RuntimeError, AttributeError) as err:
        raise RunFileCorrupt(f"run file {str(path)!r} is unreadable: {err}", path) from err


def _named(err: Exception, path: Path) -> RunFileCorrupt:
    """`err` as a RunFileCorrupt that names `path` (a KeyError alone says only which key)."""
    if isinstance(err, RunFileCorrupt):
        return err
    return RunFileCorrupt(f"run file {str(path)!r} is unreadable ({type(err).__name__}: {err})", path)
