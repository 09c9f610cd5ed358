"""Where things live (the run cache, the book's checkout), and atomic file writes: a reader never sees half a
file, an interrupted run leaves none."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

__all__ = ["atomic_write_text", "atomic_torch_save", "cache_root", "project_root"]


def project_root() -> Path:
    """The checkout holding `_config.yml` (the current folder or the one this package was installed from)."""
    for candidate in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if (candidate / "_config.yml").is_file() and (candidate / "notebooks").is_dir():
            return candidate
    raise FileNotFoundError("no book here: run from the mmprompts checkout (the folder with _config.yml)")


def cache_root(root: str | os.PathLike | None = None) -> Path:
    """The cache folder: the argument, else $MMPROMPTS_CACHE, else ~/.cache/mmprompts."""
    return Path(root or os.environ.get("MMPROMPTS_CACHE") or Path.home() / ".cache" / "mmprompts").expanduser()


def _atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    _atomic(Path(path), lambda f: f.write(text.encode()))


def atomic_torch_save(path: str | os.PathLike, obj) -> None:
    _atomic(Path(path), lambda f: torch.save(obj, f))
