"""The one progress bar of the library: tqdm's, off when a caller says so or when TQDM_DISABLE=1 is set.

tqdm reads TQDM_* environment variables only as *defaults* of its arguments, so a bar made
with an explicit `disable=False` ignores TQDM_DISABLE. The book build sets TQDM_DISABLE=1 so
that no notebook saves a frozen progress widget into its page; passing `disable` only to
silence a bar keeps that switch working.
"""
from __future__ import annotations

from typing import Iterable

__all__ = ["progress_bar"]


def progress_bar(iterable: Iterable | None = None, enabled: bool = True, **kwargs):
    """`tqdm.auto.tqdm(iterable, **kwargs)`, silenced when `enabled` is False."""
    from tqdm.auto import tqdm

    if not enabled:
        kwargs["disable"] = True
    return tqdm(iterable, **kwargs)
