"""Training on a Ray cluster: the runs a sweep lacks, handed to Ray as tasks, so a reader who
outgrows one machine does not need a scheduler of ours (Ray runs on SLURM, Kubernetes and the
clouds). Ray is an optional extra (``pip install "bngan[ray]"``) and is imported only here, and
only when a sweep asks for it (``backend="ray"`` or a :class:`Ray`).

The unit of work is what trains together on one device locally: one (config, seed) on CPUs, or
on a GPU all the missing seeds of one setting as a seed group (with its CUDA graphs). Each unit is
one Ray task that calls :func:`bngan.runs.train.train_runs`, the local path, so a run trained on the
cluster is the run trained locally (same config hash, same seed streams, bitwise on the same
kind of device and thread count).

Where results land: the driver's runs folder stays the one source. With ``results="shared"``
the workers write into it directly (it must be the same path on every node, a shared
filesystem; the run locks keep two writers apart, and a retried task resumes from the
checkpoint its killed predecessor left). With ``results="ship"`` a worker trains into a scratch
folder of its node and sends the finished run's files back, and the driver writes them into
its cache under the run's lock. ``"auto"`` (the default) is ``shared`` on the local cluster
started for the call, whose workers share the driver's disk, and ``ship`` on any other.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import sys
import tempfile
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ExperimentConfig
from ..files import first_line
from .folders import check_seeds, run_dir, runs_root
from .locks import LOCK_NAME, RunLock
from .train import _check_config, _set_aside, cached_run

RESULTS = ("auto", "shared", "ship")
INSTALL_HINT = 'pip install "bngan[ray]"'
# Files a finished run keeps (the checkpoint is not needed once it finished); record.json is
# written last, since it is what marks the run finished.
SHIPPED = ("config.json", "history.pt", "samples.pt", "weights.pt", "record.json")


class ClusterError(RuntimeError):
    """Ray is missing, the cluster cannot be reached, or it lacks what a task asks for."""


@dataclass(frozen=True)
class Ray:
    """Where and how a sweep runs on Ray: ``address`` ``None`` starts a local Ray for the call
    (and stops it after), ``"auto"`` or ``"ray://host:port"`` joins a running cluster;
    ``results`` as in the module docstring; ``cpus_per_task`` CPUs (and torch threads) per
    CPU task; ``max_retries`` how often Ray reruns a task whose worker died."""

    address: str | None = None
    results: str = "auto"
    cpus_per_task: int = 1
    max_retries: int = 2

    def __post_init__(self) -> None:
        if self.results not in RESULTS:
            raise ValueError(f"results must be one of {', '.join(RESULTS)}; got {self.results!r}")
        if not (isinstance(self.cpus_per_task, int) and not isinstance(self.cpus_per_task, bool)
                and self.cpus_per_task >= 1):
            raise ValueError(f"cpus_per_task must be a positive integer; got {self.cpus_per_task!r}")
        if not (isinstance(self.max_retries, int) and self.max_retries >= 0):
            raise ValueError(f"max_retries must be a non-negative integer; got {self.max_retries!r}")
        if self.address is not None and not (isinstance(self.address, str) and self.address):
            raise ValueError(f"address must be None (a local Ray), 'auto' or 'ray://host:port'; got {self.address!r}")


def as_backend(backend: str | Ray) -> Ray | None:
    """``"local"`` -> ``None`` (train in this process), ``"ray"`` -> a local :class:`Ray`, a
    :class:`Ray` as given; anything else is a ValueError naming ``backend``."""
    if isinstance(backend, Ray):
        return backend
    if backend == "local":
        return None
    if backend == "ray":
        return Ray()
    raise ValueError(f"backend must be 'local', 'ray' or a bngan.runs.cluster.Ray(...); got {backend!r}")


@dataclass(frozen=True)
class Sweep:
    """One setting of a sweep: its label (for the progress lines), config and seeds."""

    label: str
    config: ExperimentConfig
    seeds: tuple[int, ...]


def checked(sweeps: Iterable[Sweep]) -> list[Sweep]:
    """The sweeps with their configs and seeds checked (:func:`~bngan.runs.folders.check_seeds`),
    before anything trains: what :func:`train_on_ray` and
    :func:`~bngan.runs.workers.train_in_processes` do first."""
    found = []
    for sweep in sweeps:
        _check_config(sweep.config)
        found.append(Sweep(sweep.label, sweep.config, tuple(check_seeds(sweep.seeds))))
    return found


def _import_ray():
    try:
        import ray
    except ImportError as err:
        raise ClusterError(f"backend 'ray' needs Ray, which is not installed: {INSTALL_HINT}") from err
    return ray


# How long the port of a Ray address is tried before the address is called unreachable:
# ``ray.init`` itself waits without end where nothing listens (issue 46).
CONNECT_SECONDS = 10.0
RAY_CLIENT_PORT = 10001  # what ``ray://host`` without a port means


def _host_port(address: str, default_port: int | None) -> tuple[str, int] | None:
    """``host:port`` (``[v6]:port``) split, ``default_port`` when there is none; ``None`` when
    it does not read as one (``auto``)."""
    host, sep, port = address.rpartition(":") if not address.endswith("]") else ("", "", "")
    if not sep or not port.isdigit():
        host, port = address, str(default_port) if default_port is not None else ""
    host = host.strip("[]")
    if not host or not port.isdigit() or "/" in host:
        return None
    return host, int(port)


def _endpoint(ray, address: str) -> tuple[str, int] | None:
    """The host and port ``ray.init(address=...)`` would connect to, ``None`` when that cannot
    be told beforehand (Ray then finds out, and says so, itself). A GCS address goes through
    Ray's own resolution (``RAY_ADDRESS``, ``auto``, localhost as the node's address) where
    this Ray version has it."""
    if address.startswith("ray://"):
        return _host_port(address[len("ray://"):], RAY_CLIENT_PORT)
    try:
        resolved = ray._private.services.canonicalize_bootstrap_address(address)
    except AttributeError:  # not this Ray's internals: take the address as given
        resolved = address
    except Exception:  # noqa: BLE001 - 'auto' without a running Ray, say: ray.init reports it at once
        return None
    return _host_port(resolved, None) if isinstance(resolved, str) else None


def _check_reachable(ray, address: str) -> None:
    """A one-line ClusterError naming ``address`` unless something accepts a connection at its
    host and port within :data:`CONNECT_SECONDS`."""
    where = _endpoint(ray, address)
    if where is None:
        return
    try:
        socket.create_connection(where, timeout=CONNECT_SECONDS).close()
    except OSError as err:
        why = (f"no answer in {CONNECT_SECONDS:.0f} s" if isinstance(err, TimeoutError)
               else (err.strerror or first_line(err)).lower())
        raise ClusterError(f"cannot reach the Ray cluster at {address!r}: nothing answers at {where[0]}:{where[1]} "
                           f"({why}); check the address, or start Ray there (`ray start --head`)") from err


def _connect(ray, backend: Ray) -> bool:
    """Join or start Ray; True when this call started it (and so stops it). A cluster address
    where nothing answers is a ClusterError within :data:`CONNECT_SECONDS` (its port is tried
    before ``ray.init``, which would wait without end)."""
    if ray.is_initialized():
        return False
    if backend.address is not None:
        _check_reachable(ray, backend.address)
    try:
        if backend.address is None:
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
        else:
            ray.init(address=backend.address, log_to_driver=False, configure_logging=False)
    except Exception as err:  # Ray raises ConnectionError, RuntimeError or its own types here
        where = "a local Ray" if backend.address is None else f"the Ray cluster at {backend.address!r}"
        raise ClusterError(f"cannot start or reach {where}: {first_line(err)}") from err
    return True


def missing(sweeps: Iterable[Sweep], root=None) -> list[Sweep]:
    """Each setting with only the seeds its cache lacks (settings lacking none left out): what
    a sweep submits, so a finished run is never sent again and an interrupted sweep resumes."""
    found = []
    for sweep in sweeps:
        seeds = tuple(s for s in sweep.seeds if cached_run(sweep.config, s, root) is None)
        if seeds:
            found.append(Sweep(sweep.label, sweep.config, seeds))
    return found


def distinct(sweeps: Iterable[Sweep]) -> list[Sweep]:
    """The sweeps with each (config hash, seed) once: experiment names that share a config share
    its runs, so a seed a later setting of the same config repeats is left out (two tasks
    would otherwise train one run, and the second find it locked)."""
    seen: set[tuple[str, int]] = set()
    found = []
    for sweep in sweeps:
        seeds = tuple(s for s in sweep.seeds if (sweep.config.hash(), s) not in seen)
        seen.update((sweep.config.hash(), s) for s in seeds)
        if seeds:
            found.append(Sweep(sweep.label, sweep.config, seeds))
    return found


def units(sweeps: Sequence[Sweep], *, on_gpu: bool) -> list[Sweep]:
    """The tasks: on a GPU one per setting (its missing seeds as one group), else one per seed."""
    if on_gpu:
        return list(sweeps)
    return [Sweep(s.label, s.config, (seed,)) for s in sweeps for seed in s.seeds]


def train_on_ray(sweeps: Sequence[Sweep], backend: Ray, *, root=None, device: str | None = None,
                 progress: bool = True) -> dict[tuple[str, int], str]:
    """Train every (config, seed) of ``sweeps`` that the runs folder lacks on Ray and land the
    results in the runs folder; return ``{(config hash, seed): error line}`` for the runs that
    failed (a failed or diverged run does not stop the sweep). Read the runs afterwards from
    the cache (:func:`bngan.runs.runsets.cached_experiment`). With ``progress`` a bar counts the
    runs and each finished run prints a line (``table2:10 seed 3: trained on node n1 (5000
    steps, 41 s)``); a failed run's line, with the remote error's last line, always prints.

    Everything is checked before anything trains: the configs and seeds, Ray's import, the
    cluster, and a GPU for tasks that ask for one (``device="cuda"``; ``None`` means a GPU
    when the cluster has one)."""
    if device not in (None, "cpu", "cuda"):
        raise ValueError(f"device must be None, 'cpu' or 'cuda' on a Ray cluster; got {device!r}")
    sweeps = checked(sweeps)
    ray = _import_ray()
    root = str(runs_root(root).resolve())
    todo = missing(distinct(sweeps), root)
    if not todo:
        return {}
    started = _connect(ray, backend)
    try:
        gpus = float(ray.cluster_resources().get("GPU", 0))
        if device == "cuda" and gpus < 1:
            raise ClusterError("device 'cuda' asks for a GPU per task, and the Ray cluster has none "
                               f"(its resources: {_resources(ray)})")
        on_gpu = device == "cuda" or (device is None and gpus >= 1)
        ship = backend.results == "ship" or (backend.results == "auto" and backend.address is not None)
        return _submit(ray, units(todo, on_gpu=on_gpu), backend, root=root, on_gpu=on_gpu, ship=ship,
                       progress=progress)
    finally:
        if started:
            ray.shutdown()


def _resources(ray) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in sorted(ray.cluster_resources().items())
                     if k in ("CPU", "GPU", "memory")) or "none"


def _submit(ray, tasks: list[Sweep], backend: Ray, *, root: str, on_gpu: bool, ship: bool,
            progress: bool) -> dict[tuple[str, int], str]:
    from tqdm.auto import tqdm

    remote = ray.remote(_train_unit).options(
        num_cpus=backend.cpus_per_task if not on_gpu else 1, num_gpus=1 if on_gpu else 0,
        max_retries=backend.max_retries, retry_exceptions=False)
    pending = {remote.remote(t.config.to_json(), list(t.seeds), root, "cuda" if on_gpu else "cpu",
                             backend.cpus_per_task, ship): t for t in tasks}
    failed: dict[tuple[str, int], str] = {}
    bar = tqdm(total=sum(len(t.seeds) for t in tasks), desc="runs on Ray", unit="run", disable=not progress)
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            task = pending.pop(done[0])
            try:
                results = ray.get(done[0])
            except Exception as err:  # the remote error (or the worker's death after its retries)
                line = _last_line(err)
                for seed in task.seeds:
                    failed[(task.config.hash(), seed)] = line
                    bar.write(f"{task.label} seed {seed}: failed on the cluster: {line}", file=sys.stderr)
                bar.update(len(task.seeds))
                continue
            for result in results:
                if ship:
                    receive(task.config, result, root)
                if progress:
                    bar.write(f"{task.label} {describe(result)}")
                bar.update(1)
    finally:
        bar.close()
    return failed


def _last_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(err).__name__


def describe(result: dict[str, Any]) -> str:
    """A finished task's line: ``seed 3: trained on node n1 (5000 steps, 41 s)``."""
    how = {"trained": "trained", "resumed": f"resumed at step {result.get('resumed_at')}",
           "cached": "found finished"}.get(result["origin"], result["origin"])
    status = "" if result["status"] == "complete" else f", {result['status']}"
    return (f"seed {result['seed']}: {how} on node {result['node']} ({result['steps']} steps, "
            f"{result['seconds']:.0f} s{status})")


def scratch_root(driver_root: str) -> Path:
    """A worker's node-local folder for runs it ships back, the same for every task of one
    driver folder, so a retried task on the same node resumes from its checkpoint there."""
    tag = hashlib.sha256(f"{socket.gethostname()}:{driver_root}".encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / "bngan-ray" / tag


def _train_unit(config_json: str, seeds: list[int], root: str, device: str, threads: int,
                ship: bool) -> list[dict[str, Any]]:
    """One Ray task (runs on a worker): the local training path for ``seeds`` of one config,
    each finished run described, and with ``ship`` its files attached (then removed from the
    worker's scratch folder)."""
    import torch

    from .train import train_runs

    if device == "cpu":
        torch.set_num_threads(threads)
    config = ExperimentConfig.from_json(config_json)
    where = scratch_root(root) if ship else Path(root)
    where.mkdir(parents=True, exist_ok=True)
    results = []
    for run in train_runs(config, seeds, root=where, device=device, progress=False):
        seconds = run.record.get("session_s") or run.record.get("elapsed_s") or 0.0
        result = {"seed": run.seed, "status": run.status, "origin": run.origin or "cached",
                  "resumed_at": run.resumed_at, "steps": run.steps_done, "seconds": float(seconds),
                  "node": socket.gethostname(), "pid": os.getpid()}
        if ship:
            folder = Path(run.path)
            result["files"] = {name: (folder / name).read_bytes() for name in SHIPPED if (folder / name).exists()}
            shutil.rmtree(folder, ignore_errors=True)
        results.append(result)
    return results


def receive(config: ExperimentConfig, result: dict[str, Any], root: str) -> Path:
    """Write a shipped run into the driver's runs folder: its files staged in a hidden folder
    there, then moved into the run's folder under the run's lock, ``record.json`` last (a
    reader never sees a finished record without its weights). Whatever an unfinished earlier
    attempt left in that folder is moved aside (``<folder>.damaged-<time>``), never deleted;
    a run finished meanwhile (by another process) is kept and the shipped copy dropped."""
    seed = int(result["seed"])
    files = result.get("files") or {}
    unknown = sorted(set(files) - set(SHIPPED))
    if unknown or "record.json" not in files:
        raise ValueError(f"a shipped run of {config.name} seed {seed} must bring record.json and only "
                         f"{', '.join(SHIPPED)}; got {', '.join(sorted(files)) or 'no files'}")
    rd = run_dir(config, seed, root)
    staging = rd.path.parent / f".incoming-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        rd.path.mkdir(exist_ok=True)
        with RunLock(rd, wait=60.0):
            if cached_run(config, seed, root) is not None:
                return rd.path
            if any(p.name != LOCK_NAME for p in rd.path.iterdir()):
                _set_aside(rd, "replaced by the finished run a Ray worker sent back")
            for name in sorted(files, key=lambda n: n == "record.json"):
                os.replace(staging / name, rd.path / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return rd.path

