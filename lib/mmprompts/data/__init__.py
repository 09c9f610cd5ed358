"""Datasets (the CoOp layout and the mini world's tasks), Dassl-identical few-shot sampling and CLIP transforms."""
from __future__ import annotations

import os
from pathlib import Path

from ..storage import cache_root
from .coop import DATASETS, Datum, DatasetSplits, ImageDataset, load_coop_dataset
from .fewshot import fewshot_splits, sample_fewshot
from .miniworld import MINI_TASKS, load_mini_task
from .transforms import eval_transform, train_transform

__all__ = [
    "DATASETS", "Datum", "DatasetSplits", "ImageDataset", "fewshot_splits", "load_dataset",
    "sample_fewshot", "eval_transform", "train_transform",
]


def load_dataset(name: str, root: str | os.PathLike | None = None) -> DatasetSplits:
    """Read one of the 11 datasets from `<root>/<folder>` in the CoOp layout, or a mini-world task.

    Mini-world tasks (`objects`, `badges`, `textures`, `places`, `land`, `relations`, `land-novel`) are written on first use to
    `<root>/<task>`, by default under the cache folder (`$MMPROMPTS_CACHE/mini-world`).
    """
    if name in MINI_TASKS:
        return load_mini_task(name, Path(root).expanduser() if root else cache_root() / "mini-world")
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {sorted(DATASETS)} and the mini-world tasks {sorted(MINI_TASKS)}")
    return load_coop_dataset(name, root)
