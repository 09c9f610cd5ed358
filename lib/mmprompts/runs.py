"""The run cache: one folder per training configuration, keyed by a hash of all of it.

    <cache>/runs/<key>/config.json    the full configuration (what the key hashes)
                       checkpoint.pt  while training: learned tensors + optimizer after the last epoch
                       learned.pt     when done: prompts/biases only (kilobytes)
                       metrics.json   when done: test accuracy, per-epoch history
                       diverged.json  instead, when the run diverged: epoch, step, lr, message
    <cache>/fewshot/   few-shot lists of datasets whose folder is read-only

Re-running a finished configuration loads it; an interrupted one resumes after its last
completed epoch. A run file that cannot be read is named in a warning and the run heals:
a bad checkpoint.pt restarts training from epoch 1, a bad metrics.json or learned.pt retrains
(`only_cached=True` raises `RunFileCorrupt` instead). A diverged run is recorded, not retried:
training is deterministic, so the same configuration would diverge at the same step again;
deleting its diverged.json trains it again (e.g. on other hardware). The default cache is
$MMPROMPTS_CACHE or ~/.cache/mmprompts.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

import torch

from .data import fewshot_splits
from .data.coop import DatasetSplits
from .models import LoadedCLIP
from .prompted import PromptConfig, PromptedCLIP
from .storage import atomic_torch_save, atomic_write_text, cache_root
from .train import Recipe, RunDiverged, evaluate, train_epochs

__all__ = ["TRAINER_VERSION", "OpenRun", "RunFileCorrupt", "RunResult", "cache_root", "method_from_key", "method_key",
           "open_run", "run_config", "run_key", "train_run", "zero_shot_run"]

# Bump when a change to training or evaluation changes results: old runs stop matching.
TRAINER_VERSION = "1"


class RunFileCorrupt(ValueError):
    """A file of a run folder that cannot be read (truncated, edited, from another version); names it."""


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


@dataclass
class OpenRun:
    """A run to train: its cache folder and its model, initialised from its seed or resumed from its checkpoint.

    `train_run` trains one; `multirun.train_group` trains several in lock-step. Both checkpoint
    and finish through these methods, so a run's folder looks the same whichever trained it."""

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

    def save_checkpoint(self, epoch: int, stats: dict, optimizer_state: dict, session_s: float) -> None:
        """After every epoch: learned tensors, optimizer and history, enough to resume after it."""
        self.history.append(stats)
        atomic_torch_save(self.folder / "checkpoint.pt", {
            "epoch": epoch, "history": self.history, "learned": self.model.learned_state(),
            "optimizer": optimizer_state, "elapsed_s": self.elapsed_s + session_s,
        })

    def diverged(self, err: RunDiverged) -> None:
        """Record a divergence: training is deterministic, so the same configuration would diverge at
        the same step again; re-running it raises at once instead of retraining (see `open_run`)."""
        atomic_write_text(self.folder / "diverged.json", json.dumps(
            {"epoch": err.epoch, "step": err.step, "lr": err.lr, "message": str(err)}, indent=1))

    def finish(self, accuracy: float, session_s: float, group_size: int = 1) -> RunResult:
        """Store the finished run (learned.pt, metrics.json) and drop its checkpoint."""
        metrics = {
            "key": self.key, "config": self.config, "accuracy": accuracy, "history": self.history,
            "train_time_s": self.elapsed_s + session_s, "group_size": group_size,
            "learned_params": sum(p.numel() for p in self.model.parameters() if p.requires_grad),
            "train_items": len(self.fewshot.train), "test_items": len(self.fewshot.test),
        }
        atomic_torch_save(self.folder / "learned.pt", self.model.learned_state())
        atomic_write_text(self.folder / "metrics.json", json.dumps(metrics, indent=1))
        (self.folder / "checkpoint.pt").unlink(missing_ok=True)
        return RunResult(self.key, metrics, self.model, cached=False)


def open_run(clip: LoadedCLIP, data: DatasetSplits, method: PromptConfig, *, shots: int, seed: int, recipe: Recipe,
             cache: str | os.PathLike | None = None, only_cached: bool = False,
             checkpoint_text: bool = False) -> RunResult | OpenRun:
    """The finished run from the cache, or the run to train (resumed from its checkpoint when there is one).

    A finished run whose files cannot be read is named and computed again (with `only_cached`,
    RunFileCorrupt is raised instead); a recorded divergence raises RunDiverged; an unreadable
    checkpoint restarts the run from its first epoch (the one checkpoint is the last good state)."""
    fewshot = fewshot_splits(data, shots, seed, fallback_dir=cache_root(cache) / "fewshot")
    config = run_config(clip, data, method, shots, seed, recipe)
    key = run_key(config)
    folder = cache_root(cache) / "runs" / key
    device = clip.model.logit_scale.device

    def fresh_model() -> PromptedCLIP:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)  # prompt initialisation depends on the seed, as in CoOp
            model = PromptedCLIP(clip, method)
        model.checkpoint_text = checkpoint_text
        return model

    model = fresh_model()
    metrics = _finished(folder, only_cached, lambda: _load_learned(model, folder / "learned.pt", device))
    if metrics is not None:
        return RunResult(key, metrics, model, cached=True)
    _raise_if_diverged(folder / "diverged.json", only_cached)
    if only_cached:
        raise LookupError(f"no finished run of this setting (seed {seed}) in {str(folder)!r}; train it first "
                          "(python -m mmprompts train with the same options)")

    atomic_write_text(folder / "config.json", json.dumps(config, indent=1, sort_keys=True))
    run = OpenRun(key, config, folder, seed, fewshot, fresh_model())  # a learned.pt read in part above is not kept
    checkpoint_path = folder / "checkpoint.pt"
    if checkpoint_path.exists():
        try:
            checkpoint = _read_torch(checkpoint_path, device)
            _load_learned_state(run.model, checkpoint_path, checkpoint["learned"])
            run.start_epoch, run.history = int(checkpoint["epoch"]) + 1, list(checkpoint["history"])
            run.optimizer_state, run.elapsed_s = checkpoint["optimizer"], float(checkpoint["elapsed_s"])
            if not 0 < run.start_epoch <= recipe.epochs or len(run.history) != run.start_epoch:
                raise RunFileCorrupt(f"run file {str(checkpoint_path)!r} is unreadable: it claims epoch "
                                     f"{run.start_epoch} with {len(run.history)} epochs of history")
        except (RunFileCorrupt, KeyError, TypeError, ValueError) as err:
            warnings.warn(f"{_named(err, checkpoint_path)}; training the run again from its first epoch", stacklevel=2)
            checkpoint_path.unlink()
            run = OpenRun(key, config, folder, seed, fewshot, fresh_model())
    return run


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
    checkpoint_text: bool = False,
) -> RunResult:
    """Train `method` on `shots` per class of `data` with `seed`, evaluate on test; cached.

    `only_cached=True` loads a finished run and raises LookupError instead of training.
    `checkpoint_text=True` recomputes the text blocks in the backward pass (less memory with
    many classes, same result; not part of the cache key).
    """
    run = open_run(clip, data, method, shots=shots, seed=seed, recipe=recipe, cache=cache, only_cached=only_cached,
                   checkpoint_text=checkpoint_text)
    if isinstance(run, RunResult):
        return run
    started = time.perf_counter()

    def checkpoint_epoch(epoch: int, stats: dict, optimizer: dict) -> None:
        run.save_checkpoint(epoch, stats, optimizer, time.perf_counter() - started)
        if on_epoch_end is not None:
            on_epoch_end(epoch, stats)

    try:
        train_epochs(run.model, clip, run.fewshot, recipe, seed, start_epoch=run.start_epoch,
                     optimizer_state=run.optimizer_state, on_epoch_end=checkpoint_epoch, workers=workers, progress=progress)
    except RunDiverged as err:
        run.diverged(err)
        raise
    train_time = time.perf_counter() - started
    accuracy = evaluate(run.model, clip, data, "test", workers=workers, progress=progress)
    return run.finish(accuracy, train_time)


def zero_shot_run(clip: LoadedCLIP, data: DatasetSplits, *, cache: str | os.PathLike | None = None,
                  only_cached: bool = False, workers: int | None = None, progress: bool = True) -> RunResult:
    """Zero-shot CLIP test accuracy with the dataset's template; cached like a run."""
    config = run_config(clip, data, None, 0, 0, None)
    key = run_key(config)
    folder = cache_root(cache) / "runs" / key
    model = PromptedCLIP(clip, PromptConfig())
    metrics = _finished(folder, only_cached)
    if metrics is not None:
        return RunResult(key, metrics, model, cached=True)
    if only_cached:
        raise LookupError(f"no finished zero-shot run for {config} in {folder}")
    accuracy = evaluate(model, clip, data, "test", workers=workers, progress=progress)
    metrics = {"key": key, "config": config, "accuracy": accuracy, "test_items": len(data.test)}
    atomic_write_text(folder / "config.json", json.dumps(config, indent=1, sort_keys=True))
    atomic_write_text(folder / "metrics.json", json.dumps(metrics, indent=1))
    return RunResult(key, metrics, model, cached=False)


# ----------------------------------------------------------------------------- reading run files
def _finished(folder: Path, only_cached: bool, load_learned: Callable[[], None] = lambda: None) -> dict | None:
    """The metrics of a finished run (after `load_learned()`), None when it is not finished.

    A finished run whose files cannot be read is named and discarded, so that it is computed again,
    unless `only_cached` (eval, tables), which must not train: then RunFileCorrupt is raised."""
    path = folder / "metrics.json"
    if not path.exists():
        return None
    try:
        metrics = _read_json(path)
        if not isinstance(metrics.get("accuracy"), (int, float)):
            raise RunFileCorrupt(f"run file {str(path)!r} is unreadable: it holds no accuracy")
        load_learned()
        return metrics
    except RunFileCorrupt as err:
        if only_cached:
            raise
        warnings.warn(f"{err}; computing the run again", stacklevel=3)
        for name in ("metrics.json", "learned.pt"):
            (folder / name).unlink(missing_ok=True)
        return None


def _raise_if_diverged(path: Path, only_cached: bool) -> None:
    if not path.exists():
        return
    try:
        record = _read_json(path)
        message = str(record["message"])
    except (RunFileCorrupt, KeyError) as err:
        if only_cached:
            raise _named(err, path)
        warnings.warn(f"{_named(err, path)}; training the run again", stacklevel=3)
        path.unlink()
        return
    raise RunDiverged(f"{message} (recorded in {str(path)!r}; delete it to train this run again)",
                      epoch=record.get("epoch"), step=record.get("step"), lr=record.get("lr"))


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise RunFileCorrupt(f"run file {str(path)!r} is unreadable ({err})") from err
    if not isinstance(value, dict):
        raise RunFileCorrupt(f"run file {str(path)!r} is unreadable: not a JSON object")
    return value


def _read_torch(path: Path, device: torch.device) -> dict:
    try:
        value = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # truncated zip, foreign pickle, missing file: all mean "not usable"
        raise RunFileCorrupt(f"run file {str(path)!r} is unreadable ({type(err).__name__}: {err})") from err
    if not isinstance(value, dict):
        raise RunFileCorrupt(f"run file {str(path)!r} is unreadable: not a dict")
    return value


def _load_learned(model: PromptedCLIP, path: Path, device: torch.device) -> None:
    _load_learned_state(model, path, _read_torch(path, device))


def _load_learned_state(model: PromptedCLIP, path: Path, state: dict) -> None:
    """Load learned tensors read from `path`; a state that does not fit or is not finite is corrupt."""
    try:
        if not all(isinstance(v, torch.Tensor) and bool(torch.isfinite(v).all()) for v in state.values()):
            raise ValueError("it holds non-tensors or non-finite values")
        model.load_learned_state(state)
    except (ValueError, RuntimeError, AttributeError) as err:
        raise RunFileCorrupt(f"run file {str(path)!r} is unreadable: {err}") from err


def _named(err: Exception, path: Path) -> RunFileCorrupt:
    """`err` as a RunFileCorrupt that names `path` (a KeyError alone says only which key)."""
    if isinstance(err, RunFileCorrupt):
        return err
    return RunFileCorrupt(f"run file {str(path)!r} is unreadable ({type(err).__name__}: {err})")
