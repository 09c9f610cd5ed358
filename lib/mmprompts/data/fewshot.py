"""Few-shot sampling identical to Dassl's `generate_fewshot_dataset`, cached per (K, seed).

Identical means: the same items for the same split file and seed as CoOp / MaPLe /
PromptSRC, so that our 16-shot results can be compared with the literature.
"""
from __future__ import annotations

import json
import os
import random
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from .coop import Datum, DatasetSplits
from ..storage import atomic_write_text

__all__ = ["sample_fewshot", "fewshot_splits"]


def sample_fewshot(items: Sequence[Datum], shots: int, rng: random.Random) -> list[Datum]:
    """Dassl's procedure: group by label in order of first appearance; per group
    `rng.sample(group, shots)`, or the whole group when it holds fewer items."""
    groups: dict[int, list[Datum]] = {}
    for item in items:
        groups.setdefault(item.label, []).append(item)
    picked: list[Datum] = []
    for group in groups.values():
        picked.extend(rng.sample(group, shots) if len(group) >= shots else group)
    return picked


def fewshot_splits(data: DatasetSplits, shots: int, seed: int, cache_dir: str | os.PathLike | None = None) -> DatasetSplits:
    """`data` with train reduced to `shots` per class and val to min(shots, 4), for `seed`.

    The generator is seeded with `seed` right before sampling train, then val, as CoOp
    does after `set_random_seed(seed)` (Python's `random` is a Mersenne Twister either
    way; a private instance leaves the global state alone). Seed 0 is a valid seed: CoOp's
    `train.py` reads `if args.seed:` and so silently runs seed 0 unseeded — we do not.

    The lists are cached as `<dataset>/split_fewshot/shot_{K}-seed_{S}.json` (or under
    `cache_dir` when given, e.g. for a read-only data folder), written atomically.
    """
    if not isinstance(shots, int) or shots < 1:
        raise ValueError(f"shots={shots!r}: must be a positive integer (the paper uses 16)")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r}: must be a non-negative integer (the paper uses 1, 2, 3)")
    folder = Path(cache_dir) / data.name if cache_dir else data.folder / "split_fewshot"
    path = folder / f"shot_{shots}-seed_{seed}.json"
    root = data.folder
    if path.exists():
        cached = json.loads(path.read_text())
        if cached.get("fingerprint") == data.fingerprint:
            return replace(data, train=_from_rows(cached["train"], root), val=_from_rows(cached["val"], root))
    rng = random.Random(seed)
    train = sample_fewshot(data.train, shots, rng)
    val = sample_fewshot(data.val, min(shots, 4), rng) if data.sample_val else data.val
    atomic_write_text(path, json.dumps(
        {"fingerprint": data.fingerprint, "train": _to_rows(train, root), "val": _to_rows(val, root)}))
    return replace(data, train=train, val=val)


def _to_rows(items: Sequence[Datum], root: Path) -> list[list]:
    """CoOp's [relative path, label, class name] rows."""
    return [[os.path.relpath(d.path, root), d.label, d.classname] for d in items]


def _from_rows(rows: list[list], root: Path) -> list[Datum]:
    return [Datum(str(root / rel), label, cname) for rel, label, cname in rows]
