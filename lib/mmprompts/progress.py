"""The one progress bar of the library: tqdm's, off when a caller says so or when TQDM_DISABLE is set.

The book build sets TQDM_DISABLE=1 so that no notebook saves a frozen progress widget into its
page. tqdm alone does not honour it there: it reads TQDM_* variables only as *defaults* of its
arguments (an explicit `disable=False` wins), and its notebook bar, the one `tqdm.auto` picks in
a Jupyter kernel, always passes `disable` explicitly. So the variable is read here.
"""
from __future__ import annotations

import os
from typing import Iterable

__all__ = ["print_line", "progress_bar"]


def progress_bar(iterable: Iterable | None = None, enabled: bool = True, **kwargs):
    """`tqdm.auto.tqdm(iterable, **kwargs)`, silenced when `enabled` is False or TQDM_DISABLE is set (not "" or "0")."""
    from tqdm.auto import tqdm

    if not enabled or os.environ.get("TQDM_DISABLE", "") not in ("", "0"):
        kwargs["disable"] = True
    return tqdm(iterable, **kwargs)


def print_line(text: str) -> None:
    """Print a line to stdout without breaking a progress bar that is showing (`tqdm.write`)."""
    from tqdm.auto import tqdm

    tqdm.write(text)
