"""Training a run: :func:`train_run` trains one (config, seed) or loads it from the cache.

The pieces live one idea per module (``networks``, ``losses``, ``probes``, ``step``,
``run_data``, ``trainer``, ``devices``); the names chapters use are re-exported here so
``bngan.train.build_networks`` (the flat layout's name for this module) and the like keep
working.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from ..config import ExperimentConfig
from ..devices import check_device, default_device
from ..files import first_line
from ..models.networks import build_networks, layer_weights, make_optimizers
from ..engine.losses import d_loss_fn, d_score, g_loss_fn, make_targets
from ..engine.probes import BNProbe, GBNProbe
from ..engine.seed_group import SeedGroup, SeedGroupUnsupported
from ..engine.step import DUpdate, GANStep, StepOutput, set_rng_state
from ..engine.step_graph import Capture, GraphedGroup, capture_for
from .folders import (DamagedRunFileError, Run, RunDir, cached_run_matches, check_seed, check_seeds, check_weights,
                      check_writable, file_problem, load_dict, run_dir, set_aside_summary)
from .locks import RunLock, check_seconds
from .run_data import load_run_data
from .trainer import (CHECKPOINT_SECONDS, Stepper, Trainer, TrainingInterrupted, check_checkpoint_seconds, interactive,
                      run_loop)

__all__ = ["BNProbe", "CHECKPOINT_SECONDS", "DUpdate", "GANStep", "GBNProbe", "StepOutput", "Trainer",
           "TrainingInterrupted", "build_networks", "check_device", "d_loss_fn", "d_score", "default_device",
           "g_loss_fn", "interactive", "layer_weights", "load_run_data", "make_optimizers", "make_targets",
           "train_group", "train_run", "train_runs", "train_seed", "train_seeds", "trains_together"]


def train_run(config: ExperimentConfig, seed: int = 0, *, root=None, device: str | torch.device | None = None,
              progress: bool = True, force: bool = False, callback: Callable[[Trainer], None] | None = None,
              checkpoint_seconds: float | None = None, lock_wait: float = 0.0) -> Run:
    """Train ``config`` with ``seed``, or load the cached result if this run finished before.

    An unfinished run resumes from its last checkpoint (written every
    ``train.checkpoint_every`` steps and every ``checkpoint_seconds``, default
    :data:`CHECKPOINT_SECONDS`). ``force=True`` retrains from scratch. A run whose losses
    become NaN or inf stops and is recorded as ``diverged`` (its history kept). A cached
    run that cannot be read back is trained again, with a message. While training, the
    run folder's lock keeps a second process off it: that one waits up to ``lock_wait``
    seconds (then loads the result if the holder finished it), else raises
    :class:`~bngan.runs.locks.RunLockedError`. Ctrl-C raises :class:`TrainingInterrupted`.
    ``callback(trainer)`` is called after every step (tests use it to interrupt). The
    returned run's ``origin`` is ``cached``, ``trained`` or ``resumed`` (at ``resumed_at``).
    """
    _check_arguments(config, checkpoint_seconds, lock_wait)
    return train_seed(config, check_seed(seed), root=root, device=device, progress=progress, force=force,
                      callback=callback, checkpoint_seconds=checkpoint_seconds, lock_wait=lock_wait)


def train_seed(config: ExperimentConfig, seed: int, *, root=None, device: str | torch.device | None = None,
               progress: bool = True, force: bool = False, callback: Callable[[Trainer], None] | None = None,
               checkpoint_seconds: float | None = None, lock_wait: float = 0.0) -> Run:
    """:func:`train_run` for arguments its caller checked already (a seed from
    :func:`~bngan.runs.folders.check_seeds`, a config of a :class:`~bngan.runs.cluster.Sweep`):
    a sweep checks its seeds once, not once per layer it passes through."""
    rd = run_dir(config, seed, root)
    if not force and isinstance(found := _lookup(rd, config, seed), Run):
        return found
    device = check_device(device) if device is not None else default_device()
    check_writable(rd.path.parent)  # before any data is loaded or network built
    check_writable(rd.path, "run folder")
    with RunLock(rd, wait=lock_wait) as lock:
        found = None if force else _lookup(rd, config, seed)  # finished by the holder we waited for?
        if isinstance(found, Run):
            return found
        _prepare(rd, config, seed, force, found)
        trainer = Trainer(config, seed, rd, device=device, progress=progress, checkpoint_seconds=checkpoint_seconds,
                          lock=lock)
        run = trainer.run(callback)
    run.origin, run.resumed_at = ("trained", None) if trainer.resumed_at is None else ("resumed", trainer.resumed_at)
    return run


def trains_together(device: torch.device, n_seeds: int, *, group: bool | None, graph: bool | None) -> bool:
    """Whether :func:`train_runs` takes the seed-group path: a group of several seeds asked
    for (``group``; None: on a GPU), or CUDA graphs asked for on a GPU (``graph``; None: yes)."""
    on_gpu = device.type == "cuda"
    return ((on_gpu if group is None else group) and n_seeds > 1) or (graph is not False and on_gpu)


def train_runs(config: ExperimentConfig, seeds: list[int], *, root=None, device: str | torch.device | None = None,
               progress: bool = True, force: bool = False, group: bool | None = None, graph: bool | None = None,
               checkpoint_seconds: float | None = None, lock_wait: float = 0.0) -> list[Run]:
    """Train (or load) ``config`` for every seed, as :func:`train_run` does for one.

    With ``group`` the seeds left to train are trained together as one
    :class:`~bngan.engine.seed_group.SeedGroup` (one batched forward and backward for all, each
    seed drawing from its own random stream, so each run is its one-seed run up to float
    rounding). With ``graph`` each iteration is replayed as a CUDA graph
    (:mod:`bngan.engine.step_graph`; a lone seed then runs as a group of one). The defaults,
    ``None``, do both on a GPU and neither on a CPU (where grouping measured slower and
    CUDA graphs do not exist; see ``benchmarks/``). Seeds resuming from different steps, or a
    setting the group cannot batch, run one by one eagerly, and each record's ``engine``
    says which way ran and why.
    """
    _check_arguments(config, checkpoint_seconds, lock_wait)
    wanted = check_seeds(seeds)  # before any conversion: 1.5 or True is refused, not trained as seed 1
    return train_seeds(config, wanted, root=root, device=device, progress=progress, force=force, group=group,
                       graph=graph, checkpoint_seconds=checkpoint_seconds, lock_wait=lock_wait)


def train_seeds(config: ExperimentConfig, wanted: Sequence[int], *, root=None,
                device: str | torch.device | None = None, progress: bool = True, force: bool = False,
                group: bool | None = None, graph: bool | None = None, checkpoint_seconds: float | None = None,
                lock_wait: float = 0.0) -> list[Run]:
    """:func:`train_runs` for seeds and arguments its caller checked already (see
    :func:`train_seed`)."""
    device = check_device(device) if device is not None else default_device()
    if not trains_together(device, len(wanted), group=group, graph=graph):
        return [train_seed(config, s, root=root, device=device, progress=progress, force=force,
                           checkpoint_seconds=checkpoint_seconds, lock_wait=lock_wait) for s in wanted]
    found: dict[int, Run] = {}
    dirs = {s: run_dir(config, s, root) for s in wanted}
    for s, rd in dirs.items():
        if not force and (cached := _cached(rd, config, s)) is not None:
            found[s] = cached
    todo = [s for s in wanted if s not in found]
    if todo:
        check_writable(dirs[todo[0]].path.parent)
        for s in todo:
            check_writable(dirs[s].path, "run folder")
        with contextlib.ExitStack() as held:
            trainers = []
            for s in todo:
                lock = held.enter_context(RunLock(dirs[s], wait=lock_wait))
                now = None if force else _lookup(dirs[s], config, s)
                if isinstance(now, Run):
                    found[s] = now
                    continue
                _prepare(dirs[s], config, s, force, now)
                trainer = Trainer(config, s, dirs[s], device=device, progress=progress,
                                  checkpoint_seconds=checkpoint_seconds, lock=lock)
                trainer.start()  # its stream is then the one its one-seed run would draw from
                trainers.append(trainer)
            group = device.type == "cuda" if group is None else group
            for run, trainer in zip(_train_together(trainers, progress, group=group, graph=graph), trainers):
                run.origin, run.resumed_at = (("trained", None) if trainer.resumed_at is None
                                              else ("resumed", trainer.resumed_at))
                found[trainer.seed] = run
    return [found[s] for s in wanted]


def _train_together(trainers: list[Trainer], progress: bool, *, group: bool, graph: bool | None) -> list[Run]:
    """Seeds at the same step as one group (each alone without ``group``), its iterations
    replayed as CUDA graphs where ``graph`` (None: on a GPU) and a GPU allow; a seed alone at
    its step without graphs, or a setting the group cannot batch, eagerly one by one (from
    its own random stream)."""
    graphed = graph is not False and trainers[0].device.type == "cuda"
    by_step: dict[int, list[Trainer]] = {}
    for trainer in trainers:
        by_step.setdefault(trainer.step, []).append(trainer)
    batches = [batch for same in by_step.values() for batch in ([same] if group else [[tr] for tr in same])]
    runs: dict[int, Run] = {}
    for batch in batches:
        reason = None
        if len(batch) > 1 or graphed:
            try:
                for run in train_group(batch, progress=progress, graph=graph):
                    runs[run.seed] = run
                continue
            except SeedGroupUnsupported as err:
                reason = str(err)
        for trainer in batch:
            if reason:
                trainer.engine = f"one seed, eager ({reason})"
            set_rng_state(trainer.rng_stream, trainer.device)
            runs[trainer.seed] = trainer.run()
    return [runs[trainer.seed] for trainer in trainers]


def train_group(trainers: list[Trainer], *, progress: bool = True, callback: Callable[[Trainer], None] | None = None,
                graph: bool | None = None, capture: Capture | None = None) -> list[Run]:
    """Train the (started, same-step) ``trainers`` of one config together to the end as a
    :class:`~bngan.engine.seed_group.SeedGroup`, its iterations replayed as CUDA graphs where
    ``graph`` (None: on a GPU) and a GPU allow (``capture`` replaces the CUDA capture; tests
    pass :func:`~bngan.engine.step_graph.rerun`). A seed that diverges is recorded at its step and
    the others go on. Returns their runs, in order. Raises :class:`SeedGroupUnsupported`,
    nothing trained, if the group cannot be built or its first step fails."""
    device = trainers[0].device
    if capture is None and graph is not False:
        capture = capture_for(device)
    base = f"seed group of {len(trainers)} (torch.func.vmap)"
    why = "CUDA graphs turned off" if graph is False else "CUDA graphs need a GPU"

    def build(batch: list[Trainer]) -> Stepper:
        seeds = SeedGroup(batch, capturable=capture is not None and device.type == "cuda")
        return seeds if capture is None else GraphedGroup(seeds, capture, engine=base)

    stepper, first = _first_step_or_refuse(trainers, build)
    if capture is None:
        for tr in trainers:
            tr.engine = f"{base}; eager ({why})"
    runs = run_loop(stepper, progress=progress, callback=callback, first=first)
    return [runs[tr.seed] for tr in trainers]


def _first_step_or_refuse(trainers: list[Trainer], build: Callable[[list[Trainer]], Stepper]
                          ) -> tuple[Stepper, list[StepOutput] | None]:
    """The stepper ``build`` makes of ``trainers`` and the outputs of its first step. If
    building it or that step fails (a layer vmap cannot batch, say), raise
    :class:`SeedGroupUnsupported` with the reason, the seeds' samplers put back, so they can
    run one by one unchanged."""
    samplers = [tr.sampler.state_dict() for tr in trainers]
    try:
        stepper = build(trainers)
        step, t = trainers[0].step + 1, trainers[0].config.train
        return stepper, (stepper(step, step % t.log_every == 0 or step == t.steps) if step <= t.steps else None)
    except SeedGroupUnsupported:
        raise
    except KeyboardInterrupt as err:  # Ctrl-C in the first step: recorded as the loop records it
        for tr in trainers:
            tr._record_interruption()
        lead = trainers[0]
        raise TrainingInterrupted(lead.config.name, lead.seed, lead.step + 1, lead.checkpointed_step) from err
    except Exception as err:  # noqa: BLE001 - any failure of the batched path falls back to eager
        for tr, state in zip(trainers, samplers):
            tr.sampler.load_state_dict(state)
        raise SeedGroupUnsupported(f"its first batched step failed: {first_line(err)}") from err


def _check_config(config) -> None:
    if not isinstance(config, ExperimentConfig):
        raise ValueError(f"config must be an ExperimentConfig (bngan.experiments.get_experiment(name) gives a "
                         f"registered one); got {config!r}")


def _check_arguments(config, checkpoint_seconds, lock_wait) -> None:
    """Everything :func:`train_run` and :func:`train_runs` can check before they touch the disk:
    the config, ``checkpoint_seconds`` and ``lock_wait`` (a NaN wait never ends)."""
    _check_config(config)
    check_checkpoint_seconds(checkpoint_seconds)
    check_seconds("lock_wait", lock_wait)


def cached_run(config: ExperimentConfig, seed: int, root=None) -> Run | None:
    """The finished run of ``config`` and ``seed`` in the runs folder, or ``None``: nothing
    is trained, moved, locked or printed (what a page that only reads the cache needs); a
    damaged run is ``None`` here and named when it is trained again."""
    found = _lookup(run_dir(config, seed, root), config, seed)
    return found if isinstance(found, Run) else None


def _cached(rd: RunDir, config: ExperimentConfig, seed: int) -> Run | None:
    """The finished run stored in ``rd`` if it is this config and seed and can be read back;
    ``None`` otherwise (see :func:`_lookup`)."""
    found = _lookup(rd, config, seed)
    return found if isinstance(found, Run) else None


def _lookup(rd: RunDir, config: ExperimentConfig, seed: int) -> Run | DamagedRunFileError | None:
    """The finished run stored in ``rd`` if it is this config and seed and every file reads
    back as the run wrote it (the record's sizes and digests; for a record written before
    those, the weights' entries and shapes against the config); the damage that stops it
    (for :func:`_prepare` to name, once); ``None`` when there is no finished run of this
    config and seed. Prints nothing."""
    if not (rd.finished and cached_run_matches(rd, config, seed)):
        return None
    try:
        run = Run.load(rd.path)  # the record's digests checked, where it lists them
        if run.status == "complete" and "files" not in run.record:  # an older record (a diverged run has no weights)
            if (problem := file_problem(rd.weights_file)) is not None:
                raise DamagedRunFileError(rd.weights_file, problem)
            check_weights(load_dict(rd.weights_file, ("g", "d")), rd.weights_file, config)
    except DamagedRunFileError as err:
        return err
    run.origin = "cached"
    return run


def _prepare(rd: RunDir, config: ExperimentConfig, seed: int, force: bool,
             damage: DamagedRunFileError | None = None) -> None:
    """Make ``rd`` ready for the trainer without deleting anything computed: files that cannot
    be used (``force``, a finished run that is not this one or cannot be read back, named by
    ``damage``, a damaged record without a checkpoint of this run to resume from) are moved into
    a sibling folder ``<name>.damaged-<time>`` with one line; a resumable checkpoint is kept
    whatever the record says; a folder where a run file goes (nothing can be written over it)
    is renamed ``<name>.corrupt`` with a line."""
    if force:
        _set_aside(rd, "retraining it from scratch (force)")
        return
    if damage is not None:
        _set_aside(rd, f"{damage.file} is damaged ({damage.reason})", then=f"training {config.name} seed {seed} again")
        return
    status = rd.status
    if status == "damaged":
        why = _record_damage(rd)
        if _resumable(rd, config, seed):
            print(f"{rd.record_file} is damaged ({why}); resuming {config.name} seed {seed} from its checkpoint")
        else:
            _set_aside(rd, f"{rd.record_file} is damaged ({why}) and there is no checkpoint of this run to resume")
            return
    elif status not in ("new", "running", "interrupted"):
        _set_aside(rd, "the finished run stored there is not this config and seed, or cannot be read back")
        return
    for blocking in rd.blocking():
        moved = rd.set_aside(blocking)
        print(f"{blocking} is {file_problem(moved) or 'not a file'}; moved to {moved.name}")


def _record_damage(rd: RunDir) -> str:
    """Why the record of ``rd`` cannot be read (for a message)."""
    try:
        rd.read_record()
    except DamagedRunFileError as err:
        return err.reason
    return "unreadable"


def _resumable(rd: RunDir, config: ExperimentConfig, seed: int) -> bool:
    try:
        checkpoint = rd.read_checkpoint()
    except DamagedRunFileError:
        return False
    return checkpoint is not None and (checkpoint.get("config_hash"), checkpoint.get("seed")) == (config.hash(), seed)


def _set_aside(rd: RunDir, reason: str, then: str = "") -> Path | None:
    """Move every entry of the run folder but our lock into ``<name>.damaged-<time>`` next to
    it (inside the runs root); say on one line where and why (``then``: what happens next), and
    how many folders are set aside and their size. ``None`` when there was nothing to move."""
    entries = [p for p in rd.path.iterdir() if p != rd.lock_file]
    if not entries:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = rd.path.with_name(f"{rd.path.name}.damaged-{stamp}")
    for k in itertools.count(1):
        if not target.exists():
            break
        target = rd.path.with_name(f"{rd.path.name}.damaged-{stamp}-{k}")
    target.mkdir()
    for entry in entries:
        os.replace(entry, target / entry.name)
    print(f"{rd.path.name}: {reason}; its files were moved to {target}{f'; {then}' if then else ''} "
          f"({set_aside_summary(rd.path.parent)})")
    return target
