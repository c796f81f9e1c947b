"""Run directories: where one training run keeps its config, history, samples, metrics,
checkpoint and final weights, written atomically so an interrupted run never leaves a
half-written file behind.

The runs root is ``--root``, else ``$BNGAN_RUNS``, else ``runs/`` in the dataset cache
(``$BNGAN_DATA/runs``, by default ``~/.cache/bngan/runs``), so the command line and the
chapters share one cache whatever folder they start in. A run folder is named
``<experiment>-<config hash>-seed<seed>`` (the experiment's name made filesystem-safe) and
found again by its hash and seed alone, so names that share one config share its runs, and
legacy folders named ``<config hash>-seed<seed>`` are still used.

Layout of ``<root>/<experiment>-<config hash>-seed<seed>/``::

    config.json      the ExperimentConfig
    record.json      status, steps done, divergence, final metrics, timings, device, versions
    history.pt       logged columns (names + a float tensor) and the evaluation points
    samples.pt       sample snapshots from fixed noise (steps + tensor)
    checkpoint.pt    everything needed to resume exactly (while the run is unfinished)
    weights.pt       final generator and discriminator weights
    lock             while a process trains the run: its PID, host and start time

Files are written with the permissions the umask gives (not tempfile's 0600), and a file
that cannot be read back (truncated, empty, a folder, missing, values of the wrong types)
raises :class:`DamagedRunFileError`, naming it. A finished run's record lists every file the
run wrote with its size and sha256 (``files``), so a file changed since, or copied in from
another run, is damage too; records written before that list existed load as before.

A run folder that cannot be used is never deleted: it is moved beside itself as
``<folder>.damaged-<YYYYmmdd-HHMMSS>[-k]`` (:data:`SET_ASIDE`), skipped by every catalogue and
removed only by ``bngan clean --damaged``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import ExperimentConfig
from ..data import default_data_root
from ..files import LOAD_ERRORS, first_line, load_error_reason, torch_load
from ..models.networks import build_networks
from .locks import LOCK_NAME

RUNS_ENV = "BNGAN_RUNS"
FINISHED = ("complete", "diverged")
# The files a run writes besides its record: the only names a record's file list may hold.
RUN_FILES = ("config.json", "history.pt", "samples.pt", "weights.pt", "checkpoint.pt")
# The digest of each listed file (hashlib's name; sha256 runs at about 0.9 GB/s on one core here).
DIGEST = "sha256"
# A run folder set aside whole: ``<folder>.damaged-<YYYYmmdd-HHMMSS>``, ``-<k>`` when taken.
SET_ASIDE = re.compile(r".+\.damaged-\d{8}-\d{6}(-\d+)?")
# The end of a run folder's name: ``-<config hash>-seed<k>`` (or the whole name, legacy).
_RUN_KEY = re.compile(r"(?:^|-)([0-9a-f]{16})-seed(\d+)$")
# The experiment-name prefix of a run folder: at most this many characters of [A-Za-z0-9._-].
NAME_PREFIX_CHARS = 60
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")


class RunsFolderError(OSError):
    """The runs folder (or a run folder) is a file or cannot be written."""


# What to do about a damaged file, appended to every DamagedRunFileError message.
RETRAIN_HINT = "run the experiment again (`bngan run`, or train_run) to train this run afresh"


class DamagedRunFileError(ValueError):
    """A file of a run cannot be read back (truncated, empty, not what this library wrote).
    ``file`` and ``reason`` are kept apart so a caller that retrains can say so itself."""

    def __init__(self, file: Path, reason: str) -> None:
        self.file, self.reason = Path(file), reason
        super().__init__(f"{file} is damaged ({reason}); {RETRAIN_HINT}")


def default_runs_root() -> Path:
    """The runs root when neither ``root`` nor ``$BNGAN_RUNS`` is given: ``runs/`` inside the
    dataset cache (:func:`bngan.data.default_data_root`, so ``$BNGAN_DATA/runs``, else
    ``~/.cache/bngan/runs``), one per-user place whatever the working folder. Nothing is made."""
    try:
        return default_data_root() / "runs"
    except RuntimeError as err:  # Path.home() without a home folder
        raise RunsFolderError(f"no default runs folder ({err}); pass --root or set {RUNS_ENV}") from err


def runs_root_path(root: str | os.PathLike[str] | None = None) -> Path:
    """Where the runs root is (``root``, else ``$BNGAN_RUNS``, else :func:`default_runs_root`),
    without making it: for commands that only look."""
    chosen = root if root not in (None, "") else os.environ.get(RUNS_ENV) or None  # '' means unset, as for the variable
    return Path(chosen).expanduser() if chosen is not None else default_runs_root()


def runs_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding run directories: ``root``, else ``$BNGAN_RUNS``, else
    :func:`default_runs_root` (made if missing; a :class:`RunsFolderError` naming it when it
    is a file or cannot be made)."""
    path = runs_root_path(root)
    if path.exists() and not path.is_dir():
        raise RunsFolderError(f"runs folder {path} is a file, not a folder; pass another --root or set {RUNS_ENV}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunsFolderError(f"runs folder {path} cannot be made ({err.strerror or err}); "
                              f"pass another --root or set {RUNS_ENV}") from err
    return path


def check_writable(folder: Path, what: str = "runs folder") -> None:
    """Make ``folder`` if needed and prove it is writable by creating and removing a file in
    it, so a read-only runs folder is one clear error (naming ``what`` and the folder) before
    any data is loaded or network built, not a traceback at the first checkpoint."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise RunsFolderError(f"{what} {folder} is a file, not a folder; remove it, or pass another --root or set "
                              f"{RUNS_ENV}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".write-test."):
            pass
    except OSError as err:
        raise RunsFolderError(f"{what} {folder} is not writable ({err.strerror or err}); fix its permissions, "
                              f"or pass another --root or set {RUNS_ENV}") from err


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a run file (``missing``, ``a folder, not a file``, ...), or ``None``
    when it is a regular file (or a link to one)."""
    if not os.path.lexists(path):
        return "missing"
    if path.is_dir():
        return "a folder, not a file"
    if not path.is_file():
        return "not a regular file" if not path.is_symlink() else "a link to nothing"
    return None


def load_dict(path: Path, keys: tuple[str, ...] = (), data: bytes | None = None) -> dict[str, Any]:
    """``torch_load(path)`` (of ``data``, its contents, when given) checked to be a dict with
    ``keys``, or a :class:`DamagedRunFileError` naming the file (truncated, empty, a folder, or
    something else)."""
    path = Path(path)
    if data is None and path.is_dir():
        raise DamagedRunFileError(path, "a folder, not a file")
    try:
        found = torch_load(path, data)
    except (PermissionError, FileNotFoundError):
        raise  # the file cannot be reached: not damage
    except (OSError, *LOAD_ERRORS) as err:  # torch reports a truncated zip as OSError EINVAL
        raise DamagedRunFileError(path, f"truncated or empty? {load_error_reason(err)}") from err
    if not isinstance(found, dict) or not all(key in found for key in keys):
        raise DamagedRunFileError(path, f"not the {', '.join(keys) or 'values'} this library writes")
    return found


# --------------------------------------------------------------------------- what the files hold


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_number(value: Any) -> bool:
    return _is_int(value) or isinstance(value, (float, np.floating))


def check_history(found: dict[str, Any], path: Path) -> None:
    """A DamagedRunFileError naming ``path`` unless ``found`` is a history as the trainer writes
    it: ``columns`` (names), ``values`` (a 2-D float tensor, one column per name) and ``evals``
    (optional: lists of numbers by name)."""
    columns, values, evals = found["columns"], found["values"], found.get("evals", {})
    ok = isinstance(columns, (list, tuple)) and all(isinstance(c, str) for c in columns)
    ok = ok and isinstance(values, torch.Tensor) and values.is_floating_point() and values.ndim == 2 \
        and values.shape[1] == len(columns)
    ok = ok and isinstance(evals, dict) and all(
        isinstance(k, str) and isinstance(v, (list, tuple)) and all(map(_is_number, v)) for k, v in evals.items())
    if not ok:
        raise DamagedRunFileError(path, "not the column names, float values and evaluations this library writes")


def check_samples(found: dict[str, Any], path: Path) -> None:
    """A DamagedRunFileError naming ``path`` unless ``found`` holds ``steps`` (integers) and
    ``samples`` (a tensor of one snapshot per step; empty without steps)."""
    steps, samples = found["steps"], found["samples"]
    ok = isinstance(steps, (list, tuple)) and all(map(_is_int, steps)) and isinstance(samples, torch.Tensor)
    ok = ok and (samples.shape[:1] == (len(steps),) if steps else samples.numel() == 0)
    if not ok:
        raise DamagedRunFileError(path, "not the snapshot steps and sample tensor this library writes")


def check_weights(found: dict[str, Any], path: Path, config: ExperimentConfig | None = None) -> None:
    """A DamagedRunFileError naming ``path`` unless ``g`` and ``d`` are state dicts (names to
    tensors) and, given ``config``, hold exactly the entries and shapes its networks have
    (built on the meta device: no memory, no random numbers drawn)."""
    ok = all(isinstance(found[net], dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                  for k, v in found[net].items()) for net in ("g", "d"))
    if not ok:
        raise DamagedRunFileError(path, "not the two state dicts (g, d) this library writes")
    if config is None:
        return
    with torch.device("meta"):
        nets = dict(zip(("g", "d"), build_networks(config)))
    for net, module in nets.items():
        expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
        found_shapes = {k: tuple(v.shape) for k, v in found[net].items()}
        if found_shapes != expected:
            wrong = sorted(set(expected) ^ set(found_shapes)) or \
                sorted(k for k in expected if expected[k] != found_shapes[k])
            raise DamagedRunFileError(path, f"its {net} weights do not fit the networks of its config "
                                            f"(first mismatch: {wrong[0]})")


# --------------------------------------------------------------------------- the record's file list


def file_entry(path: Path) -> dict[str, Any]:
    """What a record lists of one file: its size in bytes and its :data:`DIGEST`."""
    return _entry_of(Path(path).read_bytes())


def _entry_of(data: bytes) -> dict[str, Any]:
    return {"bytes": len(data), DIGEST: hashlib.new(DIGEST, data).hexdigest()}


def file_entries(folder: Path, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The record's ``files``: :func:`file_entry` of each of ``names`` in ``folder``."""
    return {name: file_entry(Path(folder) / name) for name in names}


def _listed(rd: "RunDir", record: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    """The record's file list, ``None`` for a record written before it existed, or a
    DamagedRunFileError naming the record when the list is not what the trainer writes."""
    listed = record.get("files")
    if listed is None:
        return None
    ok = isinstance(listed, dict) and all(
        name in RUN_FILES and isinstance(entry, dict) and _is_int(entry.get("bytes"))
        and isinstance(entry.get(DIGEST), str) for name, entry in listed.items())
    if not ok:
        raise DamagedRunFileError(rd.record_file, f"its list of the run's files is not what this library writes "
                                                  f"(names among {', '.join(RUN_FILES)}, each with bytes and {DIGEST})")
    return listed


def verify_files(rd: "RunDir", record: dict[str, Any]) -> dict[str, bytes] | None:
    """Check every file ``record`` lists against the folder: each must be there, a file, of
    the listed size and digest; the first that is not is a DamagedRunFileError naming it (a
    file changed since the run finished, or copied in from another run). Returns the contents
    read, by name (so a caller loads them without reading them again), or ``None`` for a
    record written before the list existed (nothing checked)."""
    listed = _listed(rd, record)
    if listed is None:
        return None
    for name, entry in listed.items():  # cheap checks for all first: a missing file is named as missing
        path = rd.path / name
        if (problem := file_problem(path)) is not None:
            raise DamagedRunFileError(path, problem)
        if (size := path.stat().st_size) != entry["bytes"]:
            raise DamagedRunFileError(path, f"{size} bytes, its record lists {entry['bytes']}: changed since, or "
                                            f"another run's")
    contents = {}
    for name, entry in listed.items():
        contents[name] = (rd.path / name).read_bytes()
        if _entry_of(contents[name]) != {"bytes": entry["bytes"], DIGEST: entry[DIGEST]}:
            raise DamagedRunFileError(rd.path / name, f"not the {DIGEST} its record lists: changed since, or "
                                                      f"another run's")
    return contents


def check_record_is_this_folders(rd: "RunDir", record: dict[str, Any]) -> None:
    """A DamagedRunFileError naming the record when the folder's name (``...-<hash>-seed<k>``)
    says it holds another run than the record describes (a record copied in from another
    run). Folders named otherwise are not judged by their name."""
    found = _RUN_KEY.search(rd.path.name)
    if found is None or ("hash" not in record and "seed" not in record):
        return
    named = (found.group(1), int(found.group(2)))
    if (record.get("hash"), record.get("seed")) != named:
        raise DamagedRunFileError(rd.record_file, f"it is the record of config hash {record.get('hash')} seed "
                                                  f"{record.get('seed')}, and the folder is that of {named[0]} seed "
                                                  f"{named[1]} (copied from another run?)")


# --------------------------------------------------------------------------- set-aside folders


def set_aside_folders(root: str | os.PathLike[str] | None = None) -> list[tuple[Path, int]]:
    """Every run folder set aside as damaged in the runs root (real folders named as
    :data:`SET_ASIDE` says, directly inside it; links and files are not), with its size in
    bytes, sorted by name. Nothing is made or changed."""
    base = runs_root_path(root)
    if not base.is_dir():
        return []
    with os.scandir(base) as entries:
        found = [Path(e.path) for e in entries if SET_ASIDE.fullmatch(e.name) and e.is_dir(follow_symlinks=False)]
    return [(folder, folder_bytes(folder)) for folder in sorted(found)]


def remove_set_aside_folder(folder: Path, root: str | os.PathLike[str] | None = None) -> None:
    """Delete one folder of :func:`set_aside_folders` (what ``bngan clean --damaged`` does),
    checked again first: a real folder (not a link) named as :data:`SET_ASIDE` says, directly
    inside the runs root; anything else is a ValueError and nothing is removed. Links inside it
    are removed as links, never followed."""
    folder, base = Path(folder), runs_root_path(root)
    if not (SET_ASIDE.fullmatch(folder.name) and folder.is_dir() and not folder.is_symlink()
            and folder.parent.resolve() == base.resolve()):
        raise ValueError(f"{folder} is not a set-aside run folder in the runs folder {base}; nothing removed")
    shutil.rmtree(folder)


def folder_bytes(folder: Path) -> int:
    """The bytes of the files under ``folder`` (links counted as links, never followed)."""
    total = 0
    for here, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(here, name)).st_size
    return total


def human_bytes(n: int) -> str:
    """``n`` bytes as ``812 B``, ``4.2 kB``, ``13.0 MB``, ``1.1 GB`` (powers of 1000)."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def set_aside_summary(root: str | os.PathLike[str] | None = None) -> str:
    """``3 set-aside folders in the runs folder, 4.2 MB in all; `bngan clean --damaged` removes
    them``: what the line that sets a folder aside adds."""
    found = set_aside_folders(root)
    size = human_bytes(sum(n for _, n in found))
    return (f"{len(found)} set-aside folder{'s' if len(found) != 1 else ''} in the runs folder, {size} in all; "
            f"`bngan clean --damaged` removes them")


@dataclass(frozen=True)
class RunDir:
    """The files of one run (see the module docstring)."""

    path: Path

    config_file = property(lambda self: self.path / "config.json")
    record_file = property(lambda self: self.path / "record.json")
    history_file = property(lambda self: self.path / "history.pt")
    samples_file = property(lambda self: self.path / "samples.pt")
    checkpoint_file = property(lambda self: self.path / "checkpoint.pt")
    weights_file = property(lambda self: self.path / "weights.pt")
    lock_file = property(lambda self: self.path / LOCK_NAME)

    def read_record(self) -> dict[str, Any]:
        """The record (``{}`` when there is none), or a :class:`DamagedRunFileError` naming
        it when it is not a JSON object (truncated, empty)."""
        if not os.path.lexists(self.record_file):
            return {}
        if (problem := file_problem(self.record_file)) is not None:
            raise DamagedRunFileError(self.record_file, problem)
        try:
            record = json.loads(self.record_file.read_text())
        except (ValueError, UnicodeDecodeError) as err:
            raise DamagedRunFileError(self.record_file, f"truncated or empty? {first_line(err)}") from err
        if not isinstance(record, dict):
            raise DamagedRunFileError(self.record_file, "not a JSON object")
        return record

    @property
    def status(self) -> str:
        """``new``, ``running``, ``interrupted``, ``complete``, ``diverged``, or ``damaged``
        when the record cannot be read (such a run is not finished: it is trained again)."""
        try:
            return self.read_record().get("status", "new")
        except DamagedRunFileError:
            return "damaged"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def read_config(self) -> ExperimentConfig:
        return ExperimentConfig.from_json(self.config_file.read_text())

    def read_checkpoint(self) -> dict[str, Any] | None:
        """The checkpoint, ``None`` when there is none, or a :class:`DamagedRunFileError`."""
        if not self.checkpoint_file.exists():
            return None
        return load_dict(self.checkpoint_file, ("step", "g", "d"))

    def set_aside(self, file: Path) -> Path:
        """Rename a damaged ``file`` to ``<name>.corrupt`` (replacing an older file of that name;
        a folder, or a file where a folder is, goes to ``<name>.corrupt-<k>``), so it no longer
        blocks the run but stays there to be looked at."""
        target = file.with_name(file.name + ".corrupt")
        k = 0
        while os.path.lexists(target) and (file.is_dir() or target.is_dir()):
            k += 1
            target = file.with_name(f"{file.name}.corrupt-{k}")
        os.replace(file, target)
        return target

    def blocking(self) -> list[Path]:
        """The run files of this folder that are there but are not files (a folder named
        ``history.pt``, say): nothing can be written over them, so they block the run."""
        return [path for path in (self.path / name for name in ("record.json", *RUN_FILES))
                if os.path.lexists(path) and file_problem(path) is not None]


#: The largest seed: torch's generators take a signed 64-bit seed.
MAX_SEED = 2**63 - 1


def check_seed(seed: Any) -> int:
    """``seed`` as an int, or a ValueError naming it unless it is an integer in [0, 2**63)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be a non-negative integer below 2**63; got {seed!r}")
    return int(seed)


def check_seeds(seeds: Any) -> list[int]:
    """``seeds`` as a list of ints, checked before any conversion (``1.5``, ``True`` or
    ``"1"`` are refused, not turned into seed 1), non-empty and without repeats; every entry
    point that takes seeds uses it."""
    error = ValueError(f"seeds must be a non-empty list of non-negative integers below 2**63; got {seeds!r}")
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise error
    checked = []
    for seed in seeds:
        try:
            checked.append(check_seed(seed))
        except ValueError:
            raise error from None
    if not checked:
        raise error
    if len(set(checked)) != len(checked):
        raise ValueError(f"seeds must not repeat (a repeated seed is the same cached run); got {checked!r}")
    return checked


def safe_run_name(name: str) -> str:
    """``name`` as a folder-name prefix: every run of characters outside ``[A-Za-z0-9._-]``
    becomes one ``_`` (``table2:10`` -> ``table2_10``), leading and trailing ``._-`` go (no
    hidden folder, no ``..``), at most :data:`NAME_PREFIX_CHARS` characters; ``run`` when
    nothing is left. The result is one path component that never leaves the runs root."""
    safe = _UNSAFE_RUN.sub("_", str(name)).strip("._-")
    return safe[:NAME_PREFIX_CHARS].strip("._-") or "run"


def run_key(config: ExperimentConfig, seed: int) -> str:
    """``<config hash>-seed<seed>``: what identifies a run folder (and ends its name). The
    seed is checked first (a ValueError naming it), before any path is built from it."""
    seed = check_seed(seed)
    return f"{config.hash()}-seed{seed}"


def is_run_folder_of(name: str, key: str) -> bool:
    """Whether a folder called ``name`` holds the run ``key`` (see :func:`run_key`): the name
    is the key, or ends in ``-`` plus the key, so ``...-seed1`` never matches ``...-seed11``."""
    return name == key or name.endswith("-" + key)


def _preference(path: Path) -> tuple[int, str]:
    """Sort key among several folders of one run (a copy, or two names created at once): a
    finished run first, then one being trained (lock) or begun (record), then by name."""
    rd = RunDir(path)
    rank = 0 if rd.finished else 1 if rd.lock_file.exists() or rd.record_file.exists() else 2
    return rank, path.name


def find_run_folder(base: Path, key: str) -> Path | None:
    """The existing folder in ``base`` holding the run ``key``, whatever its name prefix
    (legacy ``<hash>-seed<k>`` included), found with one scan of ``base``; ``None`` if none."""
    with os.scandir(base) as entries:
        found = [Path(entry.path) for entry in entries
                 if is_run_folder_of(entry.name, key) and entry.is_dir(follow_symlinks=False)]
    if len(found) < 2:
        return found[0] if found else None
    return min(found, key=_preference)


def run_dir(config: ExperimentConfig, seed: int, root: str | os.PathLike[str] | None = None) -> RunDir:
    """The run directory for ``config`` and ``seed``: the result cache's key is the config
    hash plus the seed, so the same set-up is trained once. An existing folder of that key
    is used whatever its name prefix (names sharing a config share its runs); else the new
    folder is ``<experiment>-<key>`` (not made here). The seed is checked before any path is
    made, and the directory always lies inside the runs root."""
    key = run_key(config, seed)
    base = runs_root(root).resolve()
    existing = find_run_folder(base, key)
    path = (existing or base / f"{safe_run_name(config.name)}-{key}").resolve()
    if path.parent != base:
        raise ValueError(f"run directory {path} would lie outside the runs folder {base}")
    return RunDir(path)


def cached_run_matches(rd: RunDir, config: ExperimentConfig, seed: int) -> bool:
    """True when the run stored in ``rd`` was made from ``config`` and ``seed``: its record's
    hash and seed and its ``config.json`` (re-hashed) all agree with the request. A run
    whose files were edited or belong to something else is never trusted as a cached result."""
    try:
        record = rd.read_record()
    except DamagedRunFileError:
        return False
    if record.get("hash") != config.hash() or record.get("seed") != seed:
        return False
    try:
        return rd.read_config().hash() == config.hash()
    except (OSError, ValueError, TypeError):
        return False


@dataclass
class Run:
    """A finished (or stopped) run loaded from disk.

    ``history`` maps column names (``step``, ``loss_d``, ``loss_g``, ...) to arrays;
    ``evals`` holds the reconstruction error measured during training; ``samples`` is the
    tensor of snapshots taken at ``sample_steps`` (uint8 images or float 2D points);
    ``metrics`` the final metrics.
    """

    path: Path
    config: ExperimentConfig
    seed: int
    status: str
    steps_done: int
    diverged_at: int | None
    history: dict[str, np.ndarray]
    evals: dict[str, np.ndarray]
    sample_steps: np.ndarray
    samples: torch.Tensor
    metrics: dict[str, Any]
    record: dict[str, Any] = field(repr=False)
    # How train_run got it: "cached", "trained" or "resumed" (empty when loaded directly).
    origin: str = field(default="", repr=False, compare=False)
    resumed_at: int | None = field(default=None, repr=False, compare=False)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, verify: bool = True) -> "Run":
        """Load a run folder; a :class:`DamagedRunFileError` names a file that cannot be read,
        is missing, holds values of the wrong types, or (``verify``) is not the file its record
        lists (size and digest; records without a list are not checked) or a record of another
        run than the folder's name says. ``verify=False`` skips the digests (the trainer, which
        has just written the files)."""
        rd = RunDir(Path(path))
        if not os.path.lexists(rd.record_file):
            raise FileNotFoundError(f"no run record in {rd.path} (expected {rd.record_file.name})")
        record = rd.read_record()
        if "seed" not in record or "status" not in record:
            raise DamagedRunFileError(rd.record_file, "it has no seed or status")
        check_record_is_this_folders(rd, record)
        contents = (verify_files(rd, record) if verify else None) or {}  # read once: checked, then loaded
        for needed in (rd.history_file, rd.samples_file):  # every record is written after both
            if (problem := file_problem(needed)) is not None:
                raise DamagedRunFileError(needed, problem)
        history = load_dict(rd.history_file, ("columns", "values"), contents.get(rd.history_file.name))
        check_history(history, rd.history_file)
        values = history["values"]
        columns = {name: values[:, i].numpy() for i, name in enumerate(history["columns"])}
        evals = {k: np.asarray(v) for k, v in history.get("evals", {}).items()}
        snaps = load_dict(rd.samples_file, ("steps", "samples"), contents.get(rd.samples_file.name))
        check_samples(snaps, rd.samples_file)
        try:
            config = (ExperimentConfig.from_json(contents[rd.config_file.name].decode())
                      if rd.config_file.name in contents else rd.read_config())
        except (OSError, ValueError, TypeError, KeyError) as err:  # missing, a folder, not JSON, not a config
            raise DamagedRunFileError(rd.config_file, first_line(err)) from err
        return cls(path=rd.path, config=config, seed=int(record["seed"]), status=record["status"],
                   steps_done=int(record.get("steps_done", 0)), diverged_at=record.get("diverged_at"),
                   history=columns, evals=evals, sample_steps=np.asarray(snaps["steps"]),
                   samples=snaps["samples"], metrics=record.get("metrics", {}), record=record)

    def weights(self) -> dict[str, dict[str, torch.Tensor]]:
        """The final ``{"g": state_dict, "d": state_dict}``; a DamagedRunFileError naming the
        file when it is missing, unreadable or not two state dicts."""
        file = RunDir(self.path).weights_file
        if (problem := file_problem(file)) is not None:
            raise DamagedRunFileError(file, problem)
        found = load_dict(file, ("g", "d"))
        check_weights(found, file)
        return found

    def networks(self, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, torch.nn.Module]:
        """Rebuild (G, D) from the config and load the final weights, in eval mode (weights
        that do not fit the config's networks are a DamagedRunFileError naming the file)."""
        g, d = build_networks(self.config)
        state = self.weights()
        try:
            g.load_state_dict(state["g"])
            d.load_state_dict(state["d"])
        except RuntimeError as err:
            raise DamagedRunFileError(RunDir(self.path).weights_file,
                                      f"it does not fit the networks of its config: {first_line(err)}") from err
        return g.to(device).eval(), d.to(device).eval()

    @torch.no_grad()
    def mode_samples(self, n: int = 64, *, seed: int = 0, batch_size: int | None = None,
                     device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
        """Samples of the final G from the same ``n`` latent vectors (drawn with ``seed``), in
        eval mode (BN uses its running statistics, as the run's snapshots and metrics do) and
        in train mode (BN normalizes each batch of ``batch_size`` latents, default the run's
        batch size, with its own statistics; the running statistics are left as they were).
        Returns ``{"eval": ..., "train": ...}``, float tensors in G's output range."""
        g, _ = self.networks(device)
        z = torch.randn(n, self.config.model.latent_dim, generator=torch.Generator().manual_seed(seed)).to(device)
        size = batch_size or self.config.train.batch_size
        out = {"eval": torch.cat([g(chunk) for chunk in z.split(500)]).cpu()}
        buffers = [b.clone() for b in g.buffers()]
        g.train()
        out["train"] = torch.cat([g(chunk) for chunk in z.split(size)]).cpu()
        for saved, buffer in zip(buffers, g.buffers()):
            buffer.copy_(saved)
        g.eval()
        return out

    def final(self, column: str, fraction: float = 0.1) -> float:
        """Mean of a history column over the last ``fraction`` of the logged points."""
        values = self.history[column]
        tail = max(1, int(round(len(values) * fraction)))
        return float(np.mean(values[-tail:]))

    def first(self, column: str, fraction: float = 0.1) -> float:
        """Mean of a history column over the first ``fraction`` of the logged points (with
        :meth:`final`, how far a quantity fell or rose over training)."""
        values = self.history[column]
        head = max(1, int(round(len(values) * fraction)))
        return float(np.mean(values[:head]))

    def summary(self) -> str:
        metrics = ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(self.metrics.items()))
        return (f"{self.config.name} seed={self.seed} status={self.status} steps={self.steps_done}"
                f"{'' if self.diverged_at is None else f' diverged_at={self.diverged_at}'} | {metrics}")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def finished_runs(root: str | os.PathLike[str] | None = None, *, kind: str | None = None) -> list[Run]:
    """Every complete run stored under the runs root (``root``, else the default), sorted by
    folder name: the catalogue behind questions asked across experiments (does one metric rank
    runs as another does?). ``kind`` keeps only ``"image"`` or ``"toy"`` runs. Folders that are
    unfinished, damaged, set aside (``*.damaged-*``) or not runs at all are skipped, never changed."""
    base = Path(root) if root is not None else default_runs_root()
    if kind not in (None, "image", "toy"):
        raise ValueError(f"kind must be one of image, toy (or None for both); got {kind!r}")
    found = []
    folders = [p for p in base.iterdir() if p.is_dir() and not p.is_symlink() and ".damaged-" not in p.name] \
        if base.is_dir() else []
    for folder in sorted(folders):
        rd = RunDir(folder)
        try:
            if not rd.record_file.exists() or rd.read_record().get("status") != "complete":
                continue
            run = Run.load(folder)
        except (DamagedRunFileError, OSError, ValueError, KeyError, TypeError):
            continue
        if kind is None or run.config.data.kind == kind:
            found.append(run)
    return found
