"""The run cache: one folder per training configuration, keyed by a hash of all of it.

    <cache>/runs/<key>/config.json    the full configuration (what the key hashes)
                       checkpoint.pt  while training: learned tensors + optimizer after the last epoch
                       learned.pt     when done: prompts/biases only (kilobytes)
                       metrics.json   when done: test accuracy, per-epoch history

Re-running a finished configuration loads it; an interrupted one resumes after its last
completed epoch. The default cache is $MMPROMPTS_CACHE or ~/.cache/mmprompts.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

from .data import fewshot_splits
from .data.coop import DatasetSplits
from .models import LoadedCLIP
from .prompted import PromptConfig, PromptedCLIP
from .storage import atomic_torch_save, atomic_write_text, cache_root
from .train import Recipe, evaluate, train_epochs

__all__ = [
    "TRAINER_VERSION", "OpenRun", "RunResult", "cache_root", "open_run", "run_config", "run_key", "train_run",
    "zero_shot_run",
]

# Bump when a change to training or evaluation changes results: old runs stop matching.
TRAINER_VERSION = "1"


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
        "method": "zeroshot" if method is None else asdict(method),
        "shots": shots,
        "seed": seed,
        "recipe": None if recipe is None else recipe.as_dict(),
    }))


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
    """The finished run from the cache, or the run to train (resumed from its checkpoint when there is one)."""
    fewshot = fewshot_splits(data, shots, seed)
    config = run_config(clip, data, method, shots, seed, recipe)
    key = run_key(config)
    folder = cache_root(cache) / "runs" / key
    device = clip.model.logit_scale.device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)  # prompt initialisation depends on the seed, as in CoOp
        model = PromptedCLIP(clip, method)
    model.checkpoint_text = checkpoint_text

    if (folder / "metrics.json").exists():
        model.load_learned_state(torch.load(folder / "learned.pt", map_location=device))
        return RunResult(key, json.loads((folder / "metrics.json").read_text()), model, cached=True)
    if only_cached:
        raise LookupError(f"no finished run for {config} in {folder}")

    atomic_write_text(folder / "config.json", json.dumps(config, indent=1, sort_keys=True))
    run = OpenRun(key, config, folder, seed, fewshot, model)
    if (folder / "checkpoint.pt").exists():
        checkpoint = torch.load(folder / "checkpoint.pt", map_location=device)
        model.load_learned_state(checkpoint["learned"])
        run.start_epoch, run.history = checkpoint["epoch"] + 1, checkpoint["history"]
        run.optimizer_state, run.elapsed_s = checkpoint["optimizer"], checkpoint["elapsed_s"]
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

    train_epochs(run.model, clip, run.fewshot, recipe, seed, start_epoch=run.start_epoch,
                 optimizer_state=run.optimizer_state, on_epoch_end=checkpoint_epoch, workers=workers, progress=progress)
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
    if (folder / "metrics.json").exists():
        return RunResult(key, json.loads((folder / "metrics.json").read_text()), model, cached=True)
    if only_cached:
        raise LookupError(f"no finished zero-shot run for {config} in {folder}")
    accuracy = evaluate(model, clip, data, "test", workers=workers, progress=progress)
    metrics = {"key": key, "config": config, "accuracy": accuracy, "test_items": len(data.test)}
    atomic_write_text(folder / "config.json", json.dumps(config, indent=1, sort_keys=True))
    atomic_write_text(folder / "metrics.json", json.dumps(metrics, indent=1))
    return RunResult(key, metrics, model, cached=False)
