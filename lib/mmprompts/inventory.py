"""What the run cache holds (`python -m mmprompts runs`): one row per run folder, and the runs that can go.

A run folder (see `runs`) is finished (metrics.json), diverged (diverged.json) or interrupted
(checkpoint.pt after its last completed epoch, or only config.json when it stopped in its first
epoch). Every file is read defensively: a folder whose files cannot be read is listed as
"unreadable", naming the file, and never stops the listing. Other files (a training log) count
in the size only.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .data import DATASETS, load_dataset
from .data.miniworld import MINI_TASKS
from .methods import method_label
from .runs import TRAINER_VERSION, method_from_key
from .storage import cache_root

__all__ = ["STATUSES", "CachedRun", "find_run", "list_runs", "prune_reasons", "remove_runs", "run_details",
           "runs_table", "size_text"]

STATUSES = ("finished", "diverged", "interrupted", "unreadable")


@dataclass(frozen=True)
class CachedRun:
    key: str
    folder: Path
    config: dict  # {} when config.json cannot be read
    status: str  # one of STATUSES
    epochs_done: int | None  # None: zero-shot, or unknown
    accuracy: float | None
    size: int  # bytes of every file in the folder
    detail: str = ""  # diverged: where and why; unreadable: which file
    metrics: dict = field(default_factory=dict)  # finished: metrics.json (accuracy, history, train_time_s)

    @property
    def dataset(self) -> str:
        return str(self.config.get("dataset", "?"))

    @property
    def seed(self) -> int | None:
        return self.config.get("seed")

    @property
    def epochs(self) -> int | None:
        recipe = self.config.get("recipe")
        return recipe.get("epochs") if isinstance(recipe, dict) else None

    @property
    def batch_lr(self) -> tuple[int | None, float | None]:
        """The recipe's batch size and lr: what tells apart runs of one setting trained under page 6's recipe grid."""
        recipe = self.config.get("recipe")
        return (recipe.get("batch_size"), recipe.get("lr")) if isinstance(recipe, dict) else (None, None)

    @property
    def method(self) -> str:
        """The method's label ("4+4 prompts, depth 12"); the stored value itself when it is not one of today's."""
        try:
            return method_label(method_from_key(self.config["method"]))
        except (KeyError, TypeError, ValueError):
            return str(self.config.get("method", "?"))

    @property
    def state(self) -> str:
        """The status in words: "finished", "diverged at epoch 3", "interrupted at epoch 2"."""
        if self.status in ("diverged", "interrupted") and self.epochs_done is not None:
            return f"{self.status} at epoch {self.epochs_done + 1}"
        return self.status


def list_runs(cache: str | os.PathLike | None = None) -> list[CachedRun]:
    """Every run folder of the cache, sorted by dataset, method and seed."""
    root = cache_root(cache) / "runs"
    found = [_read(folder) for folder in root.iterdir() if folder.is_dir()] if root.is_dir() else []
    return sorted(found, key=lambda r: (r.dataset, r.method, r.seed if isinstance(r.seed, int) else -1,
                                        *(value or 0 for value in r.batch_lr), r.key))


def find_run(runs: list[CachedRun], key: str) -> CachedRun:
    """The run whose key is `key` or starts with it (a unique prefix is enough)."""
    matches = [run for run in runs if run.key.startswith(key)]
    if len(matches) != 1:
        what = "no run" if not matches else f"{len(matches)} runs ({', '.join(r.key for r in matches[:4])})"
        raise LookupError(f"run key {key!r}: {what} in the cache start with it; `python -m mmprompts runs` lists the keys")
    return matches[0]


def _read(folder: Path) -> CachedRun:
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())

    def run(config: dict, status: str, done: int | None = None, accuracy: float | None = None, detail: str = "",
            metrics: dict | None = None) -> CachedRun:
        return CachedRun(folder.name, folder, config, status, done, accuracy, size, detail, metrics or {})

    config = _json(folder / "config.json")
    if not isinstance(config, dict):
        return run({}, "unreadable", detail=f"config.json: {config or 'missing'}")
    metrics = _json(folder / "metrics.json")
    if metrics is not None:
        if isinstance(metrics, dict) and isinstance(metrics.get("accuracy"), (int, float)):
            history = metrics.get("history")
            done = len(history) if isinstance(history, list) and config.get("recipe") else None
            return run(config, "finished", done, float(metrics["accuracy"]), metrics=metrics)
        return run(config, "unreadable", detail=f"metrics.json: {metrics if isinstance(metrics, str) else 'no accuracy'}")
    diverged = _json(folder / "diverged.json")
    if isinstance(diverged, dict):
        epoch = diverged.get("epoch")
        where = f"step {diverged.get('step')}, lr {diverged.get('lr')}: {diverged.get('message', '')}"
        return run(config, "diverged", epoch - 1 if isinstance(epoch, int) else None, detail=where)
    if diverged is not None:
        return run(config, "unreadable", detail=f"diverged.json: {diverged}")
    checkpoint = folder / "checkpoint.pt"
    if not checkpoint.exists():  # stopped in its first epoch
        return run(config, "interrupted", 0)
    try:
        epoch = int(torch.load(checkpoint, map_location="cpu", weights_only=True)["epoch"])
    except Exception as err:  # a truncated or foreign file: any error means "cannot tell"
        return run(config, "unreadable", detail=f"checkpoint.pt: unreadable ({type(err).__name__})")
    return run(config, "interrupted", epoch + 1)


def _json(path: Path) -> dict | str | None:
    """The JSON object in `path`; None when there is no such file; a short reason when it cannot be read."""
    if not path.exists():
        return None
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        return f"unreadable ({type(err).__name__})"
    return value if isinstance(value, dict) else "not a JSON object"


def prune_reasons(runs: list[CachedRun], *, older_trainer: bool, missing_data: bool,
                  data_root: str | os.PathLike | None = None, cache: str | os.PathLike | None = None) -> dict[str, str]:
    """The runs to remove, by key, with the reason.

    `older_trainer`: runs of another trainer version than this one (`runs.TRAINER_VERSION`): they
    never match again. `missing_data`: runs whose data is gone or has changed: their dataset, read
    now (CoOp datasets from `data_root` or $MMPROMPTS_DATA; mini-world tasks from the cache's
    `mini-world` folder, written on first use), has another fingerprint than the one they were
    trained on, or cannot be read."""
    reasons = {}
    if older_trainer:
        reasons.update({r.key: f"trainer {r.config.get('trainer')!r}, this one is {TRAINER_VERSION!r}"
                        for r in runs if r.config and r.config.get("trainer") != TRAINER_VERSION})
    if missing_data:
        names = sorted({r.dataset for r in runs if r.config and r.key not in reasons})
        if any(name in DATASETS for name in names) and not (data_root or os.environ.get("MMPROMPTS_DATA")):
            raise ValueError("--missing-data compares runs with the data they were trained on: give the data root of "
                             "the CoOp datasets (--data-root or $MMPROMPTS_DATA)")
        current = {name: _fingerprint(name, data_root, cache) for name in names}
        for run in runs:
            if run.config and run.key not in reasons and current[run.dataset] != run.config.get("data"):
                found = current[run.dataset]
                reasons[run.key] = "its data changed" if len(found) == 16 else found
    return reasons


def _fingerprint(name: str, data_root, cache) -> str:
    """The dataset's fingerprint now, or why it cannot be read (a sentence, never 16 hex digits)."""
    root = cache_root(cache) / "mini-world" if name in MINI_TASKS else data_root
    try:
        return load_dataset(name, root).fingerprint
    except (OSError, ValueError) as err:
        return f"its data cannot be read: {err}"


def remove_runs(runs: list[CachedRun]) -> int:
    """Delete the runs' folders; returns the bytes freed."""
    for run in runs:
        shutil.rmtree(run.folder)
    return sum(run.size for run in runs)


# ----------------------------------------------------------------------------- as text
def runs_table(found: list[CachedRun], reasons: dict[str, str] | None = None) -> str:
    """One line per run; with `reasons` (prune), why each goes."""
    header = (f"{'key':<20}  {'dataset':<14} {'method':<32} {'seed':>4} {'batch':>5} {'lr':>7} {'epochs':>6}  {'status':<24} "
              f"{'accuracy':>8} {'size':>9}  trainer" + ("  why" if reasons else ""))
    lines = [header, "-" * len(header)]
    for run in found:
        epochs = "" if run.epochs_done is None else f"{run.epochs_done}/{run.epochs}"
        accuracy = "" if run.accuracy is None else f"{run.accuracy:.2f}"
        trained = run.config.get("method") != "zeroshot"
        seed = "" if run.seed is None or not trained else run.seed
        batch, lr = (f"{v:g}" if v is not None and trained else "" for v in run.batch_lr)
        lines.append(f"{run.key:<20}  {run.dataset:<14} {run.method:<32} {seed:>4} {batch:>5} {lr:>7} {epochs:>6}  "
                     f"{run.state:<24} "
                     f"{accuracy:>8} {size_text(run.size):>9}  {run.config.get('trainer', '?')}"
                     + (f"  {reasons[run.key]}" if reasons else ""))
    return "\n".join(lines)


def run_details(run: CachedRun) -> str:
    """One run: what it is, its files, its per-epoch history and its whole configuration."""
    lines = [f"run {run.key}: {run.dataset}, {run.method}, seed {run.seed}: {run.state}"
             + ("" if run.accuracy is None else f", test accuracy {run.accuracy:.2f}"),
             f"folder: {run.folder}"]
    if run.detail:
        lines.append(f"{run.status}: {run.detail}")
    lines.append("files: " + ", ".join(f"{f.name} ({size_text(f.stat().st_size)})" for f in sorted(run.folder.iterdir())
                                       if f.is_file()))
    if isinstance(run.metrics.get("train_time_s"), (int, float)):
        lines.append(f"trained in {run.metrics['train_time_s']:.0f} s")
    history = run.metrics.get("history")
    for stats in history if isinstance(history, list) else []:
        if isinstance(stats, dict):  # the history counts epochs from 0; shown from 1, as log.jsonl and the bars do
            shown = {**stats, "epoch": stats["epoch"] + 1} if isinstance(stats.get("epoch"), int) else stats
            lines.append("  " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items()))
    lines.append("config: " + json.dumps(run.config, indent=1, sort_keys=True))
    return "\n".join(lines)


def size_text(count: float) -> str:
    """Bytes in words: "467 B", "15.2 kB", "3.7 MB"."""
    if count < 1000:
        return f"{count:.0f} B"
    for unit in ("kB", "MB"):
        count /= 1000
        if count < 999.95:  # what rounds to 1000.0 is the next unit's 1.0
            return f"{count:.1f} {unit}"
    return f"{count / 1000:.1f} GB"
