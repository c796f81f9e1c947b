"""Running the catalog: an experiment's seeds trained (or loaded from the cache) into a
:class:`RunSet`, and a series of them. Each public entry resolves the profile once and checks
the seeds once, into one :class:`~bngan.runs.cluster.Sweep` per experiment that everything
below trusts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..config import ExperimentConfig
from ..devices import check_device, default_device
from ..profiles import Profile, get_profile
from ..catalog.registry import config_at, series_entries
from ..measure import histories
from .cluster import Ray, Sweep, as_backend, missing, train_on_ray
from .folders import Run, check_seeds
from .run_progress import RunProgress, training
from .train import cached_run, train_seed, train_seeds, trains_together
from .workers import (all_finished, check_workers, resolve_workers, run_threads, threads_per_run, train_in_processes,
                      untrained)


@dataclass
class RunSet:
    """The runs of one experiment over several seeds."""

    label: str
    config: ExperimentConfig
    runs: list[Run]

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    @property
    def completed(self) -> list[Run]:
        return [r for r in self.runs if r.status == "complete"]

    def values(self, metric: str) -> np.ndarray:
        """A final metric across the completed runs (NaN where a run lacks it).

        ``final_<column>`` for a history column that the run did not record as a metric (the
        gradient norms, say) is the column's mean over the last 10% of the logged steps, as
        the recorded ``final_loss_d`` and the like are; ``first_<column>`` is its mean over the
        first 10%; a name of :data:`bngan.measure.histories.DERIVED` is computed from the history."""
        return np.array([_final_value(r, metric) for r in self.completed])

    def mean_std(self, metric: str) -> tuple[float, float]:
        """Mean and sample standard deviation (ddof 1) over the completed seeds; the std is
        NaN with a single seed. Diverged seeds are not in either: count them with
        :attr:`n_diverged` (every table shows it)."""
        values = self.values(metric)
        values = values[~np.isnan(values)]
        if values.size == 0:
            return float("nan"), float("nan")
        std = float(np.std(values, ddof=1)) if values.size > 1 else float("nan")
        return float(np.mean(values)), std

    def by_seed(self, metric: str) -> dict[int, float]:
        """``{seed: final metric}`` over the completed runs that have the metric (read as
        :meth:`values` reads it, history tails included)."""
        found = {r.seed: _final_value(r, metric) for r in self.completed}
        return {seed: value for seed, value in found.items() if not np.isnan(value)}

    @property
    def n_diverged(self) -> int:
        return sum(r.status == "diverged" for r in self.runs)


def _final_value(run: Run, metric: str) -> float:
    if metric in run.metrics:
        return float(run.metrics[metric])
    if metric in histories.DERIVED:
        return histories.derived(run, metric) if getattr(run, "history", None) else float("nan")
    history = getattr(run, "history", {})
    for prefix, reduce in (("final_", Run.final), ("first_", Run.first)):
        column = metric.removeprefix(prefix)
        if metric.startswith(prefix) and column in history:
            return reduce(run, column)
    return float("nan")


def run_experiment(experiment: str | ExperimentConfig, *, profile: str | Profile | None = None,
                   seeds: Iterable[int] | None = None, root=None, device=None, progress: bool = True,
                   label: str | None = None, group: bool | None = None, graph: bool | None = None,
                   backend: str | Ray = "local", workers: int | None = None) -> RunSet:
    """Train (or load from the cache) one experiment for each seed.

    ``experiment`` is a registered name (``"table2:10"``), run as :func:`for_profile` gives it
    (at ``smoke``, with narrowed networks), or a config, used as given (scale it with
    :func:`scale_to_profile` first if it should follow a profile).
    ``seeds`` defaults to the profile's seeds (its ``toy_seeds`` for toy 2D data). A
    diverged seed is recorded and the sweep goes on with the next one. With ``progress``,
    each seed prints one line as it is done (:func:`seed_status`) and a step bar shows while
    one trains (in a terminal or notebook only); ``progress=False`` prints nothing per seed,
    and when a seed trains the runs count on one display for the notebook cell
    (:mod:`bngan.runs.run_progress`: ``training: 3/5 runs, about 2 min left``); when all are cached,
    nothing at all.
    ``group`` trains the seeds together and ``graph`` replays each iteration as a CUDA graph
    (:func:`bngan.runs.train.train_runs`; default for both: on a GPU only); each run equals its
    one-seed run up to float rounding. ``backend="ray"`` (or a :class:`bngan.runs.cluster.Ray`)
    trains the seeds the cache lacks as Ray tasks and returns what then is in the cache (a seed
    that failed on the cluster is named there and left out).

    ``workers`` processes train the missing seeds side by side (:mod:`bngan.runs.workers`; default
    ``$BNGAN_WORKERS``, else one per core on a CPU and 1 on a GPU), each run with
    :func:`bngan.runs.workers.threads_per_run` torch threads, here too when this process trains it,
    so a run does not depend on which process trained it. A seed that failed in a worker is
    named on stderr and left out; the others go on.
    """
    if workers is not None:
        check_workers(workers)
    sweep = _sweep(experiment, get_profile(profile), seeds, label)
    return _run_sweep(sweep, root=root, device=device, progress=progress, group=group, graph=graph,
                      cluster=as_backend(backend), workers=workers)


def _sweep(experiment: str | ExperimentConfig, p: Profile, seeds: Iterable[int] | None,
           label: str | None = None) -> Sweep:
    """One experiment at a resolved profile as a checked :class:`Sweep`: a registered name as
    :func:`~bngan.catalog.registry.for_profile` gives it (a config as given), and its seeds
    (the profile's by default, its toy seeds for toy data), checked here once."""
    if not isinstance(experiment, (str, ExperimentConfig)):
        raise ValueError(f"experiment must be a registered name (see `bngan list`) or an ExperimentConfig; "
                         f"got {experiment!r}")
    config = config_at(experiment, p) if isinstance(experiment, str) else experiment
    if seeds is None:
        seeds = p.toy_seeds if config.data.kind == "toy" else p.seeds
    return Sweep(label or config.name, config, tuple(check_seeds(seeds)))


def _run_sweep(sweep: Sweep, *, root, device, progress: bool, group: bool | None, graph: bool | None,
               cluster: Ray | None, workers: int | None) -> RunSet:
    """:func:`run_experiment` for a checked sweep."""
    config, seeds, label = sweep.config, sweep.seeds, sweep.label
    if cluster is not None:
        train_on_ray([sweep], cluster, root=root, device=_cluster_device(device), progress=progress)
        return _cached(sweep, root)
    chosen = check_device(device) if device is not None else default_device()
    n = resolve_workers(workers, chosen)
    together = trains_together(chosen, len(seeds), group=group, graph=graph)
    with training(lambda: untrained([sweep], root), enabled=not progress) as count:
        if n > 1 and chosen.type == "cpu" and not together and not all_finished([sweep], root):
            return _in_workers([sweep], n, root=root, device=chosen, progress=progress)[label]
        with run_threads(threads_per_run(n) if chosen.type == "cpu" and not together else None):
            if together:  # the seeds finish together: lines at the end
                runs = train_seeds(config, seeds, root=root, device=device, progress=progress, group=group,
                                   graph=graph)
                _count_trained(runs, count)
                for run in runs if progress else ():
                    print(f"{label} {seed_status(run)}", flush=True)
                return RunSet(label, config, runs)
            runs = []
            for seed in seeds:
                runs.append(train_seed(config, seed, root=root, device=device, progress=progress))
                _count_trained(runs[-1:], count)
                if progress:
                    print(f"{label} {seed_status(runs[-1])}", flush=True)
    return RunSet(label, config, runs)


def _count_trained(runs: Sequence[Run], count: RunProgress | None) -> None:
    """Count the runs that trained here (not those loaded from the cache) on the cell's display."""
    if count is None:
        return
    trained = sum(getattr(run, "origin", None) not in ("cached", "", None) for run in runs)  # a display never fails
    if trained:
        count.finished(trained)


def _in_workers(sweeps: Sequence[Sweep], workers: int, *, root, device, progress: bool) -> dict[str, RunSet]:
    """The sweeps' missing runs trained in ``workers`` processes
    (:func:`bngan.runs.workers.train_in_processes`), then every seed read from the cache, with a
    ``cached`` line for each seed that was there before (the trained ones had their line)."""
    todo = missing(sweeps, root)
    fresh = {(s.config.hash(), seed) for s in todo for seed in s.seeds}
    if todo:
        train_in_processes(todo, workers, root=root, device=device, progress=progress)
    found = {}
    for sweep in sweeps:
        found[sweep.label] = rs = _cached(sweep, root)
        for run in rs.runs if progress else ():
            if (sweep.config.hash(), run.seed) not in fresh:
                print(f"{sweep.label} {seed_status(run)}", flush=True)
    return found


def _cluster_device(device) -> str | None:
    """A run's device as a Ray task asks for it: ``None`` (a GPU where the cluster has one),
    ``cpu`` or ``cuda``."""
    return None if device is None else str(device)


def cached_experiment(experiment: str | ExperimentConfig, *, profile: str | Profile | None = None,
                      seeds: Iterable[int] | None = None, root=None, label: str | None = None) -> RunSet:
    """The seeds of an experiment already in the cache, trained by nothing here: a page that
    reports a long computation reads what has finished (``len`` of the result says how many
    seeds that is). Arguments as :func:`run_experiment`."""
    return _cached(_sweep(experiment, get_profile(profile), seeds, label), root)


def _cached(sweep: Sweep, root) -> RunSet:
    """The finished runs of a checked sweep in the cache, as one :class:`RunSet`."""
    runs = [run for run in (cached_run(sweep.config, seed, root) for seed in sweep.seeds) if run is not None]
    return RunSet(sweep.label, sweep.config, runs)


def seed_status(run: Run) -> str:
    """One line on how a seed's run was obtained: ``seed 1: cached``, ``seed 1: resumed at
    step 100 (400 steps, 12 s)``, ``seed 1: trained (400 steps, 12 s)``, or ``diverged``."""
    if run.origin == "cached" or not run.origin:
        return f"seed {run.seed}: cached" + ("" if run.status != "diverged" else f" (diverged at step {run.diverged_at})")
    seconds = run.record.get("session_s") or run.record.get("elapsed_s") or 0.0  # this attempt's time
    how = "trained" if run.origin == "trained" else f"resumed at step {run.resumed_at}"
    if run.status == "diverged":
        kept = run.record.get("last_finite_step")
        back = f"; its checkpoint of step {kept} is kept in {run.path}" if kept else ""
        return f"seed {run.seed}: {how}, diverged at step {run.diverged_at} ({seconds:.0f} s{back})"
    return f"seed {run.seed}: {how} ({run.steps_done} steps, {seconds:.0f} s)"


def run_series(series: str | dict[str, str | ExperimentConfig], *, profile: str | Profile | None = None,
               seeds: Sequence[int] | None = None, root=None, device=None,
               progress: bool = True, group: bool | None = None, graph: bool | None = None,
               backend: str | Ray = "local", workers: int | None = None) -> dict[str, RunSet]:
    """Run every experiment of a series (a registered name or a ``{label: experiment}`` dict);
    registered names run as :func:`for_profile` gives them; ``group``, ``graph``, ``backend``
    and ``workers`` as in :func:`run_experiment` (on Ray, and in worker processes, the whole
    series is one sweep)."""
    if workers is not None:
        check_workers(workers)
    cluster = as_backend(backend)
    sweeps = _series_sweeps(series, get_profile(profile), seeds)
    if cluster is not None:
        train_on_ray(sweeps, cluster, root=root, device=_cluster_device(device), progress=progress)
        return {s.label: _cached(s, root) for s in sweeps}
    on = check_device(device) if device is not None else default_device()
    n = resolve_workers(workers, on)
    # one run count for the whole series (its experiments and workers join it)
    with training(lambda: untrained(sweeps, root), enabled=not progress):
        if n > 1 and on.type == "cpu" and not group and not all_finished(sweeps, root):
            return _in_workers(sweeps, n, root=root, device=on, progress=progress)
        return {s.label: _run_sweep(s, root=root, device=device, progress=progress, group=group, graph=graph,
                                    cluster=None, workers=n) for s in sweeps}


def _series_sweeps(series: str | dict[str, str | ExperimentConfig], p: Profile,
                   seeds: Sequence[int] | None) -> list[Sweep]:
    """A series as one checked :class:`Sweep` per experiment (see :func:`_sweep`)."""
    return [_sweep(exp, p, seeds, label) for label, exp in series_entries(series).items()]
