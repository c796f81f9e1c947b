"""Training a run: :func:`train_run` trains one (config, seed) or loads it from the cache.

The pieces live one idea per module (``networks``, ``losses``, ``probes``, ``step``,
``run_data``, ``trainer``, ``devices``); the names chapters use are re-exported here so
``bngan.train.build_networks`` and the like keep working.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch

from .config import ExperimentConfig
from .devices import check_device, default_device
from .losses import d_loss_fn, d_score, g_loss_fn, make_targets
from .networks import build_networks, layer_weights, make_optimizers
from .probes import BNProbe, GBNProbe
from .run_data import load_run_data
from .runs import DamagedRunFileError, Run, RunDir, RunLock, check_writable, run_dir, cached_run_matches
from .seed_group import SeedGroupUnsupported, train_group
from .step import DUpdate, GANStep, StepOutput
from .trainer import CHECKPOINT_SECONDS, Trainer, TrainingInterrupted, interactive, set_rng_state

__all__ = ["BNProbe", "CHECKPOINT_SECONDS", "DUpdate", "GANStep", "GBNProbe", "StepOutput", "Trainer",
           "TrainingInterrupted", "build_networks", "check_device", "d_loss_fn", "d_score", "default_device",
           "g_loss_fn", "interactive", "layer_weights", "load_run_data", "make_optimizers", "make_targets",
           "train_run", "train_runs"]


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
    :class:`~bngan.runs.RunLockedError`. Ctrl-C raises :class:`TrainingInterrupted`.
    ``callback(trainer)`` is called after every step (tests use it to interrupt). The
    returned run's ``origin`` is ``cached``, ``trained`` or ``resumed`` (at ``resumed_at``).
    """
    rd = run_dir(config, seed, root)  # checks the seed before anything touches the disk
    seed = int(seed)
    if not force and (cached := _cached(rd, config, seed)) is not None:
        return cached
    device = check_device(device) if device is not None else default_device()
    check_writable(rd.path.parent)  # before any data is loaded or network built
    check_writable(rd.path, "run folder")
    with RunLock(rd, wait=lock_wait) as lock:
        if not force and (cached := _cached(rd, config, seed)) is not None:  # finished by the holder we waited for
            return cached
        if force or rd.finished or rd.status == "damaged":  # finished here: not this run, or unreadable
            _clear(rd)
        trainer = Trainer(config, seed, rd, device=device, progress=progress, checkpoint_seconds=checkpoint_seconds,
                          lock=lock)
        run = trainer.run(callback)
    run.origin, run.resumed_at = ("trained", None) if trainer.resumed_at is None else ("resumed", trainer.resumed_at)
    return run


def train_runs(config: ExperimentConfig, seeds: list[int], *, root=None, device: str | torch.device | None = None,
               progress: bool = True, force: bool = False, group: bool | None = None,
               checkpoint_seconds: float | None = None, lock_wait: float = 0.0) -> list[Run]:
    """Train (or load) ``config`` for every seed, as :func:`train_run` does for one.

    With ``group`` the seeds left to train are trained together as one
    :class:`~bngan.seed_group.SeedGroup` (one batched forward and backward for all, each
    seed drawing from its own random stream, so each run is its one-seed run up to float
    rounding); the default, ``None``, groups on a GPU only (on a CPU grouping measured
    slower; see ``benchmarks/``). Seeds resuming from different steps, or a setting the
    group cannot batch, run one by one, and each record's ``engine`` says which way ran.
    """
    device = check_device(device) if device is not None else default_device()
    wanted = [int(s) for s in seeds]
    if group is None:
        group = device.type == "cuda"
    if not group or len(wanted) < 2:
        return [train_run(config, s, root=root, device=device, progress=progress, force=force,
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
                if not force and (cached := _cached(dirs[s], config, s)) is not None:
                    found[s] = cached
                    continue
                if force or dirs[s].finished or dirs[s].status == "damaged":
                    _clear(dirs[s])
                trainer = Trainer(config, s, dirs[s], device=device, progress=progress,
                                  checkpoint_seconds=checkpoint_seconds, lock=lock)
                trainer.start()  # its stream is then the one its one-seed run would draw from
                trainers.append(trainer)
            for run, trainer in zip(_train_together(trainers, progress), trainers):
                run.origin, run.resumed_at = (("trained", None) if trainer.resumed_at is None
                                              else ("resumed", trainer.resumed_at))
                found[trainer.seed] = run
    return [found[s] for s in wanted]


def _train_together(trainers: list[Trainer], progress: bool) -> list[Run]:
    """Seeds at the same step as one group; a seed alone at its step, or a setting the
    group cannot batch, one by one (from its own random stream)."""
    by_step: dict[int, list[Trainer]] = {}
    for trainer in trainers:
        by_step.setdefault(trainer.step, []).append(trainer)
    runs: dict[int, Run] = {}
    for same_step in by_step.values():
        reason = None
        if len(same_step) > 1:
            try:
                for run in train_group(same_step, progress=progress):
                    runs[run.seed] = run
                continue
            except SeedGroupUnsupported as err:
                reason = str(err)
        for trainer in same_step:
            if reason:
                trainer.engine = f"one seed, eager ({reason})"
            set_rng_state(trainer.rng_stream, trainer.device)
            runs[trainer.seed] = trainer.run()
    return [runs[trainer.seed] for trainer in trainers]


def _cached(rd: RunDir, config: ExperimentConfig, seed: int) -> Run | None:
    """The finished run stored in ``rd`` if it is this config and seed and can be read back;
    ``None`` (train it) otherwise. A damaged file is reported on one line, never a traceback."""
    if not (rd.finished and cached_run_matches(rd, config, seed)):
        return None
    try:
        run = Run.load(rd.path)
    except DamagedRunFileError as err:
        print(f"{err.file} is damaged ({err.reason}); training {config.name} seed {seed} again")
        return None
    run.origin = "cached"
    return run


def _clear(rd: RunDir) -> None:
    """Delete the run's files to train it from scratch (the lock, held by us, stays)."""
    for file in rd.path.iterdir():
        if file.is_file() and file != rd.lock_file:
            file.unlink()
