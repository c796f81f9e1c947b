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
that cannot be read back (truncated, empty) raises :class:`DamagedRunFileError`, naming it.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import ExperimentConfig
from .data import default_data_root
from .locks import (LOCK_FILL_SECONDS, LOCK_NAME, LOCK_POLL_SECONDS, LOCK_STALE_SECONDS,  # noqa: F401
                    RunLock, RunLockedError, default_file_mode, lock_is_stale)
from .networks import build_networks

RUNS_ENV = "BNGAN_RUNS"
FINISHED = ("complete", "diverged")
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


# Errors a damaged torch file raises on load: a truncated zip, an empty file, bad pickle data.
_LOAD_ERRORS = (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, KeyError, IndexError,
                TypeError, AttributeError)


def default_runs_root() -> Path:
    """The runs root when neither ``root`` nor ``$BNGAN_RUNS`` is given: ``runs/`` inside the
    dataset cache (:func:`bngan.data.default_data_root`, so ``$BNGAN_DATA/runs``, else
    ``~/.cache/bngan/runs``), one per-user place whatever the working folder. Nothing is made."""
    try:
        return default_data_root() / "runs"
    except RuntimeError as err:  # Path.home() without a home folder
        raise RunsFolderError(f"no default runs folder ({err}); pass --root or set {RUNS_ENV}") from err


def runs_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding run directories: ``root``, else ``$BNGAN_RUNS``, else
    :func:`default_runs_root` (made if missing; a :class:`RunsFolderError` naming it when it
    is a file or cannot be made)."""
    chosen = root if root not in (None, "") else os.environ.get(RUNS_ENV) or None  # '' means unset, as for the variable
    path = Path(chosen).expanduser() if chosen is not None else default_runs_root()
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


def torch_load(path: Path) -> Any:
    """Load a file this module wrote; ``weights_only=True`` refuses anything but tensors
    and plain containers, so a tampered file cannot run code."""
    return torch.load(path, map_location="cpu", weights_only=True)


def load_dict(path: Path, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """``torch_load(path)`` checked to be a dict with ``keys``, or a
    :class:`DamagedRunFileError` naming the file (truncated, empty, or something else)."""
    path = Path(path)
    try:
        found = torch_load(path)
    except (PermissionError, FileNotFoundError, IsADirectoryError):
        raise  # the file cannot be reached: not damage
    except (OSError, *_LOAD_ERRORS) as err:  # torch reports a truncated zip as OSError EINVAL
        why = first_line(err)
        if "weights_only" in str(err):  # never pass on torch's hint to load it unsafely
            why = "it holds something other than the tensors and plain values this library writes"
        raise DamagedRunFileError(path, f"truncated or empty? {why}") from err
    if not isinstance(found, dict) or not all(key in found for key in keys):
        raise DamagedRunFileError(path, f"not the {', '.join(keys) or 'values'} this library writes")
    return found


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (its type when the message is empty)."""
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


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
        if not self.record_file.exists():
            return {}
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
        """Rename a damaged ``file`` to ``<name>.corrupt`` (replacing an older one), so it no
        longer blocks the run but stays there to be looked at."""
        target = file.with_name(file.name + ".corrupt")
        os.replace(file, target)
        return target


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
    def load(cls, path: str | os.PathLike[str]) -> "Run":
        """Load a run folder; a :class:`DamagedRunFileError` names a file that cannot be read."""
        rd = RunDir(Path(path))
        if not rd.record_file.exists():
            raise FileNotFoundError(f"no run record in {rd.path} (expected {rd.record_file.name})")
        record = rd.read_record()
        if "seed" not in record or "status" not in record:
            raise DamagedRunFileError(rd.record_file, "it has no seed or status")
        history = (load_dict(rd.history_file, ("columns", "values")) if rd.history_file.exists()
                   else {"columns": [], "values": None})
        values = history["values"]
        columns = {name: values[:, i].numpy() for i, name in enumerate(history["columns"])} if values is not None else {}
        evals = {k: np.asarray(v) for k, v in history.get("evals", {}).items()}
        snaps = (load_dict(rd.samples_file, ("steps", "samples")) if rd.samples_file.exists()
                 else {"steps": [], "samples": torch.empty(0)})
        try:
            config = rd.read_config()
        except (OSError, ValueError, TypeError, KeyError) as err:  # missing, a folder, not JSON, not a config
            raise DamagedRunFileError(rd.config_file, first_line(err)) from err
        return cls(path=rd.path, config=config, seed=int(record["seed"]), status=record["status"],
                   steps_done=int(record.get("steps_done", 0)), diverged_at=record.get("diverged_at"),
                   history=columns, evals=evals, sample_steps=np.asarray(snaps["steps"]),
                   samples=snaps["samples"], metrics=record.get("metrics", {}), record=record)

    def weights(self) -> dict[str, dict[str, torch.Tensor]]:
        """The final ``{"g": state_dict, "d": state_dict}``."""
        return load_dict(RunDir(self.path).weights_file, ("g", "d"))

    def networks(self, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, torch.nn.Module]:
        """Rebuild (G, D) from the config and load the final weights, in eval mode."""
        g, d = build_networks(self.config)
        state = self.weights()
        g.load_state_dict(state["g"])
        d.load_state_dict(state["d"])
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
