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
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Callable

import torch

from .data import fewshot_splits
from .data.coop import DatasetSplits
from .models import LoadedCLIP
from .prompted import PromptConfig, PromptedCLIP
from .storage import atomic_torch_save, atomic_write_text, cache_root
from .train import Recipe, evaluate, train_epochs

__all__ = ["TRAINER_VERSION", "RunResult", "cache_root", "method_key", "run_config", "run_key", "train_run", "zero_shot_run"]

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


def run_key(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:20]


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
    start_epoch, history, optimizer_state, elapsed = 0, [], None, 0.0
    checkpoint_path = folder / "checkpoint.pt"
    if checkpoint_path.exists():
        checkpoint = torch.load(checkpoint_path, map_location=device)
        model.load_learned_state(checkpoint["learned"])
        start_epoch, history = checkpoint["epoch"] + 1, checkpoint["history"]
        optimizer_state, elapsed = checkpoint["optimizer"], checkpoint["elapsed_s"]
    started = time.perf_counter()

    def checkpoint_epoch(epoch: int, stats: dict, optimizer: dict) -> None:
        history.append(stats)
        atomic_torch_save(checkpoint_path, {
            "epoch": epoch, "history": history, "learned": model.learned_state(), "optimizer": optimizer,
            "elapsed_s": elapsed + time.perf_counter() - started,
        })
        if on_epoch_end is not None:
            on_epoch_end(epoch, stats)

    train_epochs(model, clip, fewshot, recipe, seed, start_epoch=start_epoch, optimizer_state=optimizer_state,
                 on_epoch_end=checkpoint_epoch, workers=workers, progress=progress)
    train_time = elapsed + time.perf_counter() - started
    accuracy = evaluate(model, clip, data, "test", workers=workers, progress=progress)
    metrics = {
        "key": key, "config": config, "accuracy": accuracy, "history": history, "train_time_s": train_time,
        "learned_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "train_items": len(fewshot.train), "test_items": len(data.test),
    }
    atomic_torch_save(folder / "learned.pt", model.learned_state())
    atomic_write_text(folder / "metrics.json", json.dumps(metrics, indent=1))
    checkpoint_path.unlink(missing_ok=True)
    return RunResult(key, metrics, model, cached=False)


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
