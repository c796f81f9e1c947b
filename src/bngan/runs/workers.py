"""A sweep's runs trained side by side in worker processes on one machine.

On a CPU a small model does not keep all cores busy: two one-thread runs side by side finished
Table II's #1-#4 in 0.63 of the time one two-thread run after the other took (the Ray figures in
``benchmarks/README.md``). So a sweep's missing runs go to a :class:`ProcessPoolExecutor` of
``workers`` processes (started by ``forkserver`` where there is one, else ``spawn``: torch and
its threads do not survive ``fork``). The units are the Ray backend's (:func:`bngan.runs.cluster.missing`,
:func:`bngan.runs.cluster.units`: one (config, seed) per task on a CPU) and each task calls the same
function a Ray task does (:func:`bngan.runs.cluster._train_unit`, the local training path), so a run is
the same whether a worker, Ray or this process trained it.

A run's numbers depend on its torch thread count (a reduction split over other threads rounds
differently), so the count is fixed by the sweep, not by whoever trains a run: every run of a
sweep with ``workers`` workers gets :func:`threads_per_run` threads, in a worker and in this
process alike, and its record says how many (``threads`` in ``record.json``).

How many workers: ``workers`` where given, else ``$BNGAN_WORKERS``, else one per core on a CPU
(:func:`cores`) and 1 on a GPU, where a setting's seeds already train together as a seed group.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import traceback
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import torch

from .cluster import Sweep, _last_line, _train_unit, checked, distinct, missing, units
from .folders import cached_run_matches, run_dir, runs_root
from .run_progress import RunProgress, training

WORKERS_ENV = "BNGAN_WORKERS"
# What a worker must see as this process sees it: a forkserver's children inherit the server's
# environment, which may be older than this process's.
_INHERITED = ("BNGAN_", "OMP_", "MKL_", "XDG_CACHE_HOME", "TORCH_HOME")


def cores() -> int:
    """The cores a sweep may use: the CPUs this process may run on, and no more than torch's
    thread count (which defaults to the machine's cores, and which ``torch.set_num_threads`` or
    ``OMP_NUM_THREADS`` lowers to leave cores to other work)."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(available, torch.get_num_threads()))


def check_workers(workers: Any) -> int:
    """``workers`` as an int, or a one-line ValueError naming it unless it is a positive integer."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer (the number of worker processes); got {workers!r}")
    return workers


def resolve_workers(workers: int | None, device: torch.device) -> int:
    """``workers`` checked, or the default: ``$BNGAN_WORKERS``, else :func:`cores` on a CPU and
    1 on a GPU."""
    if workers is not None:
        return check_workers(workers)
    given = os.environ.get(WORKERS_ENV, "").strip()
    if given:
        if not given.isdigit() or int(given) < 1:
            raise ValueError(f"environment variable {WORKERS_ENV} must be a positive integer; got {given!r}")
        return int(given)
    return cores() if device.type == "cpu" else 1


def threads_per_run(workers: int) -> int:
    """The torch threads each run of a sweep with ``workers`` workers gets on a CPU: the cores
    shared out, at least one."""
    return max(1, cores() // check_workers(workers))


@contextlib.contextmanager
def run_threads(threads: int | None) -> Iterator[None]:
    """Train with ``threads`` torch threads (``None``: leave them, as on a GPU) and restore the
    count afterwards."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def all_finished(sweeps: Iterable[Sweep], root=None) -> bool:
    """Whether the runs folder holds a finished run of every (config, seed) of ``sweeps``, by
    their records alone (no weights or history read): when it does, a sweep starts no worker
    and reads its runs once. A run whose other files turn out damaged is then trained again in
    this process, at the sweep's thread count."""
    return all(_finished(sweep.config, seed, root) for sweep in sweeps for seed in sweep.seeds)


def untrained(sweeps: Iterable[Sweep], root=None) -> int:
    """How many runs ``sweeps`` will train: their distinct (config, seed) without a finished run
    in the runs folder, read as :func:`all_finished` reads them (what the run count of
    :mod:`bngan.runs.run_progress` counts)."""
    return sum(not _finished(sweep.config, seed, root) for sweep in distinct(sweeps) for seed in sweep.seeds)


def _finished(config, seed: int, root) -> bool:
    rd = run_dir(config, seed, root)
    return rd.finished and cached_run_matches(rd, config, seed)


def context() -> multiprocessing.context.BaseContext:
    """``forkserver`` where the platform has it (workers forked from a server that imported the
    library once, so a pool starts in well under a second after the first), else ``spawn``."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["bngan.runs.cluster"])
        return ctx
    return multiprocessing.get_context("spawn")


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(_INHERITED)}


def _start_worker(environment: dict[str, str]) -> None:
    """A worker's start: this process's library settings (data cache, profile, dataset, ...)."""
    for key in [k for k in os.environ if k.startswith(_INHERITED) and k not in environment]:
        del os.environ[key]
    os.environ.update(environment)


def _task(config_json: str, seeds: list[int], root: str, device: str, threads: int) -> list[dict[str, Any]]:
    """One task in a worker: :func:`bngan.runs.cluster._train_unit`, the function a Ray task runs. An
    error comes back as its last line only (a library error may not survive pickling)."""
    try:
        return _train_unit(config_json, seeds, root, device, threads, False)
    except BaseException as err:  # noqa: BLE001 - reported by the driver (Ctrl-C too), the sweep goes on
        raise RuntimeError(error_line(err)) from None


def error_line(err: BaseException) -> str:
    """The last line of an error as Python prints it (``RunsFolderError: run folder ... is a file``)."""
    return _last_line(RuntimeError("".join(traceback.format_exception_only(err))))


def train_in_processes(sweeps: Sequence[Sweep], workers: int, *, root=None, device: str | torch.device = "cpu",
                       progress: bool = True) -> dict[tuple[str, int], str]:
    """Train every (config, seed) of ``sweeps`` that the runs folder lacks in ``workers``
    processes, each run with :func:`threads_per_run` threads, into the runs folder; return
    ``{(config hash, seed): error line}`` for the runs that failed (a failed run is named on
    stderr with its error's last line, and the sweep goes on). Read the runs afterwards from
    the cache (:func:`bngan.runs.runsets.cached_experiment`). With ``progress`` one bar counts the
    sweep's runs and each finished run prints one line (``table2:10 seed 3: trained in process
    4711 (400 steps, 12 s, 1 thread)``); without, the runs count on the display of
    :func:`bngan.runs.run_progress.training` (nothing per run). A single missing unit trains in this
    process, at the same thread count."""
    workers = check_workers(workers)
    sweeps = checked(sweeps)
    device = torch.device(device)
    root = str(runs_root(root).resolve())
    on_gpu = device.type != "cpu"
    todo = units(missing(distinct(sweeps), root), on_gpu=on_gpu)
    if not todo:
        return {}
    threads = threads_per_run(workers)
    with training(sum(len(t.seeds) for t in todo), enabled=not progress) as count:
        return _train_units(todo, workers, root=root, device=device, threads=threads, progress=progress, count=count)


def _train_units(todo: list[Sweep], workers: int, *, root: str, device: torch.device, threads: int, progress: bool,
                 count: RunProgress | None) -> dict[tuple[str, int], str]:
    """:func:`train_in_processes`'s units trained, here or in a pool; each finished one on the bar
    (``progress``) or on ``count``."""
    from tqdm.auto import tqdm

    on_gpu = device.type != "cpu"
    failed: dict[tuple[str, int], str] = {}
    bar = tqdm(total=sum(len(t.seeds) for t in todo), desc=f"runs in {min(workers, len(todo))} worker(s)",
               unit="run", disable=not progress)

    def done(task: Sweep, outcome: list[dict[str, Any]] | BaseException) -> None:
        if isinstance(outcome, BaseException):
            line = _last_line(outcome)
            for seed in task.seeds:
                failed[(task.config.hash(), seed)] = line
                bar.write(f"{task.label} seed {seed}: failed: {line}", file=sys.stderr)
            bar.update(len(task.seeds))
            if count is not None:
                count.finished(len(task.seeds))
            return
        for result in outcome:
            if progress:
                bar.write(f"{task.label} {describe(result, threads if not on_gpu else None)}")
            bar.update(1)
            if count is not None:
                count.finished()

    try:
        if len(todo) == 1 or workers == 1:  # nothing to share out: this process, the same thread count
            for task in todo:
                try:
                    with run_threads(None if on_gpu else threads):
                        outcome = _train_unit(task.config.to_json(), list(task.seeds), root, str(device), threads,
                                              False)
                except Exception as err:  # noqa: BLE001 - named, and the sweep goes on
                    outcome = RuntimeError(error_line(err))
                done(task, outcome)
            return failed
        _in_pool(todo, min(workers, len(todo)), root=root, device=str(device), threads=threads, done=done)
    finally:
        bar.close()
    return failed


def _in_pool(todo: list[Sweep], workers: int, *, root: str, device: str, threads: int, done) -> None:
    """The tasks through one process pool, each result handed to ``done`` as it comes."""
    with contextlib.ExitStack() as stack:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context(), initializer=_start_worker,
                                   initargs=(_environment(),))
        stack.callback(pool.shutdown, wait=True, cancel_futures=True)
        pending: dict[Future, Sweep] = {pool.submit(_task, t.config.to_json(), list(t.seeds), root, device, threads): t
                                        for t in todo}
        try:
            while pending:
                finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for future in finished:
                    task = pending.pop(future)
                    try:
                        outcome = future.result()
                    except BrokenProcessPool as err:
                        outcome = RuntimeError(f"its worker process died ({err})")
                    except Exception as err:  # noqa: BLE001 - the task's error line
                        outcome = err
                    done(task, outcome)
        except KeyboardInterrupt:  # the workers got Ctrl-C too and record where their runs stopped
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def describe(result: dict[str, Any], threads: int | None) -> str:
    """A finished task's line: ``seed 3: trained in process 4711 (400 steps, 12 s, 1 thread)``."""
    how = {"trained": "trained", "resumed": f"resumed at step {result.get('resumed_at')}",
           "cached": "found finished"}.get(result["origin"], result["origin"])
    status = "" if result["status"] == "complete" else f", {result['status']}"
    where = f" in process {result['pid']}" if result.get("pid") not in (None, os.getpid()) else ""
    per = "" if threads is None else f", {threads} thread{'s' if threads != 1 else ''}"
    return f"seed {result['seed']}: {how}{where} ({result['steps']} steps, {result['seconds']:.0f} s{per}{status})"
