"""What the run cache holds (`python -m mmprompts runs`): one row per run folder, and the runs that can go.

A run folder is read by `runs.read_run_state`, the reading that training and eval use, so the
list and `eval` always agree: finished, training (another process holds its lock), diverged,
interrupted (after its last completed epoch, or in its first), or unreadable, naming the file
(it never stops the listing). Other files (a training log) count in the size only.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path


from .data import DATASETS, load_dataset
from .data.miniworld import MINI_TASKS
from .methods import method_label
from .runs import (TRAINER_VERSION, claim_run_folder, method_from_key, read_run_state, release_run_folder,
                   runs_root)
from .storage import cache_root

__all__ = ["STATUSES", "CachedRun", "find_run", "list_runs", "prune_reasons", "remove_runs", "run_details",
           "runs_table", "size_text"]

STATUSES = ("finished", "training", "diverged", "interrupted", "unreadable")


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
    root = runs_root(cache)
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
    """The folder as `runs.read_run_state` reads it (the reading training and eval use), with its size."""
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    state = read_run_state(folder)
    status, detail = state.status, ""
    if status == "new":  # no run file at all (a run stopped before it wrote its configuration)
        status, detail = "unreadable", "config.json: missing"
    elif status == "unreadable":
        detail = str(state.problem)
    elif status == "diverged":
        record = state.diverged
        detail = f"step {record.get('step')}, lr {record.get('lr')}: {record.get('message', '')}"
    accuracy = float(state.metrics["accuracy"]) if status == "finished" else None
    return CachedRun(folder.name, folder, state.config, status, state.epochs_done, accuracy, size, detail,
                     state.metrics if status == "finished" else {})


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
        given = data_root or (os.environ.get("MMPROMPTS_DATA") if any(name in DATASETS for name in names) else None)
        if any(name in DATASETS for name in names) and not given:
            raise ValueError("--missing-data compares runs with the data they were trained on: give the data root "
                             "of the CoOp datasets (--data-root or $MMPROMPTS_DATA)")
        if given and not Path(given).expanduser().is_dir():  # a typo must not read as "the data of every run is gone"
            named = f"--data-root {str(data_root)!r}" if data_root else f"$MMPROMPTS_DATA={given!r}"
            raise ValueError(f"{named} is not a folder: --missing-data needs the existing folder that holds the "
                             "CoOp datasets; check the path (nothing was deleted)")
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


def remove_runs(runs: list[CachedRun]) -> list[CachedRun]:
    """Delete the runs' folders, each under its lock (`runs.claim_run_folder`): a run that another process
    started training since it was listed is kept. Returns the runs deleted."""
    removed = []
    for run in runs:
        try:
            if not claim_run_folder(run.folder):
                continue
            try:
                shutil.rmtree(run.folder)
            finally:
                release_run_folder(run.folder)
        except OSError as err:
            why = os.strerror(err.errno) if err.errno else str(err)
            done = f" ({len(removed)} deleted before it)" if removed else ""
            raise OSError(err.errno, f"cannot delete the run folder {str(run.folder)!r}: {why}{done}; make the cache "
                          "writable (or give another with --cache)") from err
        removed.append(run)
    return removed


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
