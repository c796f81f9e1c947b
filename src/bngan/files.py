"""Files written whole or not at all, and read back without running code: the atomic writes
and checked loads that the run folders (:mod:`bngan.runs.folders`) and the quality
classifier's cache (:mod:`bngan.measure.quality`) share. Stdlib and torch only, so any wing
may import it."""

from __future__ import annotations

import io
import json
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

# Errors a damaged torch file raises on load: a truncated zip, an empty file, bad pickle data.
LOAD_ERRORS = (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, KeyError, IndexError,
                TypeError, AttributeError)


def default_file_mode() -> int:
    """The mode ``open()`` would give a new file under the current umask (0o666 & ~umask).
    The umask can only be read by setting it, so it is set and restored at once."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask




def first_line(err: BaseException) -> str:
    """The first line of an exception's message (its type when the message is empty)."""
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _atomic(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename over ``path``. The
    temporary file (0600 from ``mkstemp``) gets the umask's default mode first, so run files
    are readable by whoever could read files written with ``open()``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, default_file_mode())
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except RuntimeError as err:  # torch.save reports a failed write (a full disk) as a RuntimeError
        Path(tmp).unlink(missing_ok=True)
        raise OSError(f"{path} could not be written ({first_line(err)}); disk full? the files already "
                      f"written are intact") from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, payload: Any) -> None:
    _atomic(Path(path), lambda h: h.write(json.dumps(payload, indent=2, sort_keys=True).encode()))


def atomic_torch_save(obj: Any, path: Path) -> None:
    _atomic(Path(path), lambda h: torch.save(obj, h))


def torch_load(path: Path, data: bytes | None = None) -> Any:
    """Load a file this module wrote (from ``data``, its contents, when they were read
    already); ``weights_only=True`` refuses anything but tensors and plain containers, so a
    tampered file cannot run code."""
    return torch.load(io.BytesIO(data) if data is not None else path, map_location="cpu", weights_only=True)


def load_error_reason(err: BaseException) -> str:
    """Why a torch file did not load, on one line, without torch's hint to load it with
    ``weights_only=False`` (which would let a tampered file run code)."""
    if "weights_only" in str(err):
        return "it holds something other than the tensors and plain values this library writes"
    return first_line(err)
