"""Where things live (the run cache, the book's checkout), atomic file writes (a reader never sees half a
file, an interrupted run leaves none), and reading torch files made elsewhere without running code from them."""
from __future__ import annotations

import collections
import errno
import os
import pickle
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["CodeInCheckpoint", "Unloaded", "atomic_write_text", "atomic_torch_save", "cache_root", "load_untrusted",
           "named_os_error", "project_root"]


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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise named_os_error(err, path) from err
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise named_os_error(err, path) from err
        raise


def named_os_error(err: OSError, path: str | os.PathLike) -> OSError:
    """`err` with the file it is about (a full disk says only "[Errno 28]"); the errno stays."""
    hint = ("; free space there, or write elsewhere (the run cache: --cache or $MMPROMPTS_CACHE)"
            if err.errno in (errno.ENOSPC, errno.EDQUOT) else "")
    return OSError(err.errno, f"cannot write {str(path)!r}: {err.strerror or err}{hint}")


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    _atomic(Path(path), lambda f: f.write(text.encode()))


def atomic_torch_save(path: str | os.PathLike, obj) -> None:
    _atomic(Path(path), lambda f: torch.save(obj, f))


# ----------------------------------------------------------------------------- reading files made elsewhere
class CodeInCheckpoint(ValueError):
    """A torch file whose unpickling would call a function this reader does not allow (nothing was called)."""


class Unloaded:
    """Stands for a pickled object of a class outside the allow-list: the class is never imported and
    none of its code runs; its pickled state is kept as data in `state`.

    Objects restore from their state (pickle's NEWOBJ + BUILD), which is what Dassl's pickled
    scheduler and optimizer objects do. A pickle that *calls* such a name (REDUCE: `os.system(...)`)
    is refused with CodeInCheckpoint."""

    qualified_name = "?"

    def __new__(cls, *args):
        self = object.__new__(cls)
        self.args, self.state = args, None
        return self

    def __init__(self, *args, **kwargs):  # only a call runs __init__; restoring an object does not
        raise CodeInCheckpoint(f"it would call {self.qualified_name}{_shown(args)} when unpickled")

    def __setstate__(self, state) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<unloaded {self.qualified_name}>"


def _shown(args: tuple) -> str:
    text = repr(args)
    return text if len(text) <= 60 else text[:57] + "...)"


def _plain_dict(*args) -> dict:
    """A pickled defaultdict (an optimizer's state) read as a plain dict: its factory is never called."""
    return {}


# Plain containers a checkpoint may build by calling them, by pickled name.
_CONTAINERS = {"builtins.dict": dict, "builtins.set": set, "builtins.frozenset": frozenset,
               "collections.Counter": collections.Counter, "collections.defaultdict": _plain_dict}


def load_untrusted(path: str | os.PathLike) -> Any:
    """`torch.load` of a file from elsewhere that never runs code from it.

    Torch's weights-only unpickler reads tensors and plain containers; every other class the file
    pickles is replaced by an `Unloaded` placeholder of the same name (its module is not even
    imported). A file that would call a function when unpickled raises CodeInCheckpoint, one that
    is not a torch file ValueError; both name the file."""
    path = Path(path)
    zipped = zipfile.is_zipfile(path)
    try:
        if not zipped:  # torch < 1.6's format: read with torch's own allow-list only
            return torch.load(path, map_location="cpu", weights_only=True)
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        with torch.serialization.safe_globals([(_CONTAINERS.get(name) or _placeholder(name), name) for name in names]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except CodeInCheckpoint as err:
        raise CodeInCheckpoint(f"{str(path)!r} was not read: {err}; nothing of it was run or imported "
                               "(re-save the tensors as a plain state dict)") from None
    except Exception as err:  # torch raises many kinds of error on a file that is not its own
        inner = str(err.__context__ if isinstance(err, pickle.UnpicklingError) and err.__context__ else err).strip()
        blocked = re.search(r"GLOBAL (\S+) whose module \S+ is blocked", inner)
        if blocked:
            raise CodeInCheckpoint(f"{str(path)!r} was not read: it refers to {blocked[1]}, which runs commands; "
                                   "nothing of it was run or imported (re-save the tensors as a plain state dict)") from None
        unsupported = re.search(r"GLOBAL (\S+) was not an allowed global", inner)
        if unsupported:  # only in the old format, which cannot be scanned for what it pickles
            raise ValueError(f"{str(path)!r} is an old-format torch file (torch < 1.6) that pickles {unsupported[1]}; "
                             "re-save it with a current torch (torch.save) to read it") from None
        if not zipped:
            raise ValueError(f"{str(path)!r} is not a PyTorch checkpoint (neither a torch.save zip archive nor "
                             "an old-format torch file)") from None
        first = inner.splitlines()[0] if inner else type(err).__name__
        raise ValueError(f"{str(path)!r} is not a readable PyTorch checkpoint ({first[:200]})") from None


def _placeholder(name: str) -> type:
    return type(name.rsplit(".", 1)[-1], (Unloaded,), {"qualified_name": name, "__module__": __name__})
