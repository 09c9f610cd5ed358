"""Few-shot sampling identical to Dassl's `generate_fewshot_dataset`, cached per (K, seed).

Identical means: the same items for the same split file and seed as CoOp / MaPLe /
PromptSRC, so that our 16-shot results can be compared with the literature.
"""
from __future__ import annotations

import errno
import json
import os
import random
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from .coop import Datum, DatasetSplits
from ..storage import atomic_write_text, cache_root

__all__ = ["MAX_SEED", "check_seeds", "sample_fewshot", "fewshot_splits"]

# numpy's seed range; Python's random, torch and the per-epoch seeds (seed * 100_003 + epoch) take all of it
MAX_SEED = 2**32 - 1


def check_seeds(seeds: Sequence[int]) -> None:
    """Refuse a seed outside 0..MAX_SEED, or one given twice (it would count one run as several)."""
    for seed in seeds:
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
            raise ValueError(f"seed={seed!r}: must be an integer in 0..{MAX_SEED} (the paper uses 1, 2, 3)")
    twice = next((seed for i, seed in enumerate(seeds) if seed in seeds[:i]), None)
    if twice is not None:
        raise ValueError(f"seeds={list(seeds)!r}: seed {twice} is given {list(seeds).count(twice)} times, which would "
                         "count one run as several; give each seed once, e.g. --seeds 1 2 3 (seeds=[1, 2, 3])")


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


def fewshot_splits(data: DatasetSplits, shots: int, seed: int, cache_dir: str | os.PathLike | None = None, *,
                   fallback_dir: str | os.PathLike | None = None) -> DatasetSplits:
    """`data` with train reduced to `shots` per class and val to min(shots, 4), for `seed`.

    The generator is seeded with `seed` right before sampling train, then val, as CoOp
    does after `set_random_seed(seed)` (Python's `random` is a Mersenne Twister either
    way; a private instance leaves the global state alone). Seed 0 is a valid seed: CoOp's
    `train.py` reads `if args.seed:` and so silently runs seed 0 unseeded — we do not.

    The lists are cached as `<dataset>/split_fewshot/shot_{K}-seed_{S}.json` (or under
    `cache_dir` when given), written atomically. When that folder cannot be written (a read-only
    data folder) they go to `<fallback_dir>/<dataset>-<fingerprint>/` instead, by default
    `<cache>/fewshot/` (the run cache passes its own), and are looked up there first afterwards.
    """
    if not isinstance(shots, int) or shots < 1:
        raise ValueError(f"shots={shots!r}: must be a positive integer (the paper uses 16)")
    check_seeds([seed])
    name = f"shot_{shots}-seed_{seed}.json"
    path = (Path(cache_dir) / data.name if cache_dir else data.folder / "split_fewshot") / name
    fallback = Path(fallback_dir or cache_root() / "fewshot") / f"{data.name}-{data.fingerprint}" / name
    root = data.folder
    for candidate in (path, fallback):
        cached = _read_cached(candidate, data.fingerprint, root)
        if cached is not None:
            return replace(data, train=cached[0], val=cached[1])
    rng = random.Random(seed)
    train = sample_fewshot(data.train, shots, rng)
    val = sample_fewshot(data.val, min(shots, 4), rng) if data.sample_val else data.val
    text = json.dumps({"fingerprint": data.fingerprint, "train": _to_rows(train, root), "val": _to_rows(val, root)})
    try:
        atomic_write_text(path, text)
    except OSError as err:
        if err.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        atomic_write_text(fallback, text)
    return replace(data, train=train, val=val)


def _read_cached(path: Path, fingerprint: str, root: Path) -> tuple[list[Datum], list[Datum]] | None:
    """The cached (train, val) when `path` holds them for this data; None when absent, stale or
    unreadable (a truncated file is simply drawn again: sampling is deterministic)."""
    try:
        cached = json.loads(path.read_text())
        if cached["fingerprint"] != fingerprint:
            return None
        return _from_rows(cached["train"], root), _from_rows(cached["val"], root)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _to_rows(items: Sequence[Datum], root: Path) -> list[list]:
    """CoOp's [relative path, label, class name] rows."""
    return [[os.path.relpath(d.path, root), d.label, d.classname] for d in items]


def _from_rows(rows: list[list], root: Path) -> list[Datum]:
    return [Datum(str(root / rel), label, cname) for rel, label, cname in rows]
