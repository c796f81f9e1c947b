"""Run directories: where one training run keeps its config, history, samples, metrics,
checkpoint and final weights, written atomically so an interrupted run never leaves a
half-written file behind.

Layout of ``<root>/<config hash>-seed<seed>/``::

    config.json      the ExperimentConfig
    record.json      status, steps done, divergence, final metrics, timings, device, versions
    history.pt       logged columns (names + a float tensor) and the evaluation points
    samples.pt       sample snapshots from fixed noise (steps + tensor)
    checkpoint.pt    everything needed to resume exactly (while the run is unfinished)
    weights.pt       final generator and discriminator weights
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import ExperimentConfig

RUNS_ENV = "BNGAN_RUNS"
FINISHED = ("complete", "diverged")


def runs_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding run directories: ``root``, else ``$BNGAN_RUNS``, else ``./runs``."""
    path = Path(root if root is not None else os.environ.get(RUNS_ENV) or "runs").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _atomic(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
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

    def read_record(self) -> dict[str, Any]:
        if not self.record_file.exists():
            return {}
        return json.loads(self.record_file.read_text())

    @property
    def status(self) -> str:
        """``new``, ``running``, ``interrupted``, ``complete`` or ``diverged``."""
        return self.read_record().get("status", "new")

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def read_config(self) -> ExperimentConfig:
        return ExperimentConfig.from_json(self.config_file.read_text())

    def read_checkpoint(self) -> dict[str, Any] | None:
        return torch_load(self.checkpoint_file) if self.checkpoint_file.exists() else None


def check_seed(seed: Any) -> int:
    """``seed`` as an int, or a ValueError naming it unless it is a non-negative integer."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    return int(seed)


def run_dir(config: ExperimentConfig, seed: int, root: str | os.PathLike[str] | None = None) -> RunDir:
    """The run directory for ``config`` and ``seed``: the result cache's key is the config
    hash plus the seed, so the same set-up is trained once. The seed is checked before any
    path is made, and the directory always lies inside the runs root."""
    seed = check_seed(seed)
    base = runs_root(root).resolve()
    path = (base / f"{config.hash()}-seed{seed}").resolve()
    if path.parent != base:
        raise ValueError(f"run directory {path} would lie outside the runs folder {base}")
    return RunDir(path)


def cached_run_matches(rd: RunDir, config: ExperimentConfig, seed: int) -> bool:
    """True when the run stored in ``rd`` was made from ``config`` and ``seed``: its record's
    hash and seed and its ``config.json`` (re-hashed) all agree with the request. A run
    whose files were edited or belong to something else is never trusted as a cached result."""
    record = rd.read_record()
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

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Run":
        rd = RunDir(Path(path))
        if not rd.record_file.exists():
            raise FileNotFoundError(f"no run record in {rd.path} (expected {rd.record_file.name})")
        record = rd.read_record()
        history = torch_load(rd.history_file) if rd.history_file.exists() else {"columns": [], "values": None}
        values = history["values"]
        columns = {name: values[:, i].numpy() for i, name in enumerate(history["columns"])} if values is not None else {}
        evals = {k: np.asarray(v) for k, v in history.get("evals", {}).items()}
        snaps = torch_load(rd.samples_file) if rd.samples_file.exists() else {"steps": [], "samples": torch.empty(0)}
        return cls(path=rd.path, config=rd.read_config(), seed=int(record["seed"]), status=record["status"],
                   steps_done=int(record.get("steps_done", 0)), diverged_at=record.get("diverged_at"),
                   history=columns, evals=evals, sample_steps=np.asarray(snaps["steps"]),
                   samples=snaps["samples"], metrics=record.get("metrics", {}), record=record)

    def weights(self) -> dict[str, dict[str, torch.Tensor]]:
        """The final ``{"g": state_dict, "d": state_dict}``."""
        return torch_load(RunDir(self.path).weights_file)

    def networks(self, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, torch.nn.Module]:
        """Rebuild (G, D) from the config and load the final weights, in eval mode."""
        from .train import build_networks

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
