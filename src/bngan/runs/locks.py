"""The lock of a run folder: one process trains a run at a time. The lock file records its
holder's PID, host, start time and a token of its own; a stale lock (its holder gone) is taken
over atomically, and a process releases only the lock it holds."""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any, Protocol

from ..files import default_file_mode

LOCK_NAME = "lock"
# A lock of another host is taken over once its holder has not refreshed it for this long
# (the trainer refreshes it at least at every time-triggered checkpoint).
LOCK_STALE_SECONDS = 3600.0
LOCK_POLL_SECONDS = 0.5
# A lock file is written in one call right after it is made; one still empty or unreadable after
# this long was left by a writer killed in between, and is stale whatever its host.
LOCK_FILL_SECONDS = 10.0


class HasLockFile(Protocol):
    """What a lock needs of a run folder (a :class:`bngan.runs.folders.RunDir`): where its lock file is."""

    @property
    def lock_file(self) -> Path: ...


class RunLockedError(OSError):
    """Another live process holds the run's lock."""


def check_seconds(name: str, value: Any, *, infinite: bool = False, note: str = "") -> float:
    """``value`` as a float of seconds, or a one-line ValueError naming ``name`` (and ``note``:
    what special values mean) unless it is a number (not a bool) >= 0 that is finite
    (``infinite``: or inf). Waits and checkpoint intervals are checked with it before anything
    touches the disk: a NaN deadline is never reached, so ``lock_wait=nan`` would wait forever."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (number and value >= 0 and (math.isfinite(value) or (infinite and value == math.inf))):
        kind = "a number of seconds >= 0" if infinite else "a finite number of seconds >= 0"
        raise ValueError(f"{name} must be {kind}{f' ({note})' if note else ''}; got {value!r}")
    return float(value)


def _pid(value: Any) -> int | None:
    """A lock's PID as an int: an int, or a string of digits (as a hand-written or foreign lock
    may hold); ``None`` for anything else."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and value.strip().isdigit() and int(value) > 0:
        return int(value)
    return None


def holder(info: dict[str, Any]) -> str:
    """Who holds a lock, for messages: ``process 4711 on host-a``, or what is known of it."""
    if not info:
        return "an unknown process (the lock file is empty or unreadable)"
    return f"process {info.get('pid', '?')} on {info.get('host', 'an unknown host')}"


def _lock_info(lock: Path) -> dict[str, Any] | None:
    """What a lock file says (pid, host, started, token), ``{}`` if unreadable (empty, not
    JSON, a dangling symlink), ``None`` if gone."""
    if lock.is_symlink() and not lock.exists():
        return {}
    try:
        info = json.loads(lock.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (signal 0 checks without signalling;
    never called on Windows, where ``os.kill`` would end the process: there only the lock's
    age makes it stale)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def lock_is_stale(lock: Path, info: dict[str, Any]) -> str | None:
    """Why the lock is stale (its holder is gone), or ``None`` while it is held. On this
    host a lock is stale when its PID is dead; a lock of another host (a shared folder), or
    one that cannot be read, when it has not been refreshed for ``LOCK_STALE_SECONDS``."""
    pid, host = _pid(info.get("pid")), info.get("host")
    if host == socket.gethostname() and pid is not None and os.name != "nt":
        return None if _pid_alive(pid) else f"process {pid} is gone"
    try:
        age = time.time() - lock.lstat().st_mtime
    except FileNotFoundError:
        return "it was removed"
    if not info:
        return f"empty or unreadable for {age:.0f} s" if age > LOCK_FILL_SECONDS else None
    return f"not refreshed for {age:.0f} s" if age > LOCK_STALE_SECONDS else None


class RunLock:
    """An exclusive lock on one run folder, held while a process trains the run, so two
    processes asked for the same run do not train it twice side by side. The file records
    the holder's PID, host and start time; a stale lock (see :func:`lock_is_stale`) is
    taken over with a message. Use as a context manager."""

    def __init__(self, rd: HasLockFile, *, wait: float = 0.0) -> None:
        self.rd, self.wait = rd, check_seconds("lock_wait", wait)
        self.held = False
        self.token = uuid.uuid4().hex  # what makes the lock file ours: release removes only that one

    def _try_create(self) -> bool:
        try:
            fd = os.open(self.rd.lock_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, default_file_mode())
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as handle:
            json.dump({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                       "token": self.token}, handle)
        return True

    def _take(self, judged: dict[str, Any]) -> bool:
        """Remove the lock file only if it is still the one judged (stale, or ours): rename it
        to a name of our own first (atomic), compare, and put back one that changed meanwhile.
        Two processes taking over the same stale lock cannot both remove a fresh one."""
        claimed = self.rd.lock_file.with_name(f"{LOCK_NAME}.{self.token}.{uuid.uuid4().hex[:8]}")
        try:
            os.replace(self.rd.lock_file, claimed)
        except FileNotFoundError:
            return False
        if (_lock_info(claimed) or {}) == judged:
            claimed.unlink(missing_ok=True)
            return True
        try:  # another process's fresh lock: put it back unless a newer one is there already
            os.link(claimed, self.rd.lock_file)
        except OSError:
            pass
        claimed.unlink(missing_ok=True)
        return False

    def _set_aside_folder(self) -> None:
        """A folder where the lock file goes was made by no lock (a lock is a file): move it to
        ``lock.corrupt`` (``lock.corrupt-<k>`` if taken), never deleted, with a message."""
        lock = self.rd.lock_file
        target = lock.with_name(f"{LOCK_NAME}.corrupt")
        k = 0
        while os.path.lexists(target):
            k += 1
            target = lock.with_name(f"{LOCK_NAME}.corrupt-{k}")
        os.rename(lock, target)
        print(f"{lock} is a folder, not a lock file; moved to {target.name}")

    def acquire(self) -> "RunLock":
        """Take the lock, waiting up to ``wait`` seconds for a live holder, else raise a
        :class:`RunLockedError` naming the lock file and its holder."""
        deadline, said = time.monotonic() + self.wait, False
        while not self._try_create():
            if self.rd.lock_file.is_dir() and not self.rd.lock_file.is_symlink():
                self._set_aside_folder()
                continue
            info = _lock_info(self.rd.lock_file)
            if info is None:  # released between our try and our look: try again
                time.sleep(0.01)
                continue
            why = lock_is_stale(self.rd.lock_file, info)
            if why is not None:
                if self._take(info):
                    print(f"taking over the stale lock {self.rd.lock_file} ({why})")
                continue
            if time.monotonic() >= deadline and not info:
                raise RunLockedError(f"{self.rd.lock_file} is empty or unreadable: another process may be writing "
                                     f"it; it counts as stale after {LOCK_FILL_SECONDS:.0f} s, so try again then")
            if time.monotonic() >= deadline:
                raise RunLockedError(f"{self.rd.lock_file} is held by {holder(info)}, which is training this run; "
                                     f"wait for it to finish, or delete the lock file if that process is gone")
            if not said:
                print(f"waiting up to {self.wait:.0f} s for {holder(info)}, which holds {self.rd.lock_file}")
                said = True
            time.sleep(LOCK_POLL_SECONDS)
        self.held = True
        return self

    def refresh(self) -> None:
        """Touch the lock, so another host sees its holder is alive."""
        if self.held:
            with contextlib.suppress(OSError):
                os.utime(self.rd.lock_file)

    def release(self) -> None:
        """Remove the lock file if it is still ours (one a stale-lock takeover replaced is left)."""
        if self.held:
            mine = _lock_info(self.rd.lock_file)
            if mine and mine.get("token") == self.token:
                self._take(mine)
            self.held = False

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
