"""The training loop of one (config, seed): monitoring, snapshots, evaluations, checkpoints
that resume exactly, divergence and Ctrl-C handling, and the final metrics and record.

The hot loop makes no host-device sync per step: logged values stay on the device and are
read back at most about once a second (for the progress bar) and at checkpoints.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any, Protocol

import torch
from tqdm.auto import tqdm

from .. import data
from ..config import ExperimentConfig
from ..devices import device_name, versions
from ..files import atomic_torch_save, atomic_write_json, first_line
from ..models.networks import build_networks, make_optimizers
from ..models.toy_models import MomentMatch
from ..measure import metrics, quality
from ..engine.step import GANStep, StepOutput, rng_state, set_rng_state
from .folders import DamagedRunFileError, Run, RunDir, file_entries
from .locks import RunLock, check_seconds
from .run_data import load_run_data

# A run in progress is checkpointed every ``train.checkpoint_every`` steps and also whenever
# this many seconds have passed since its last checkpoint, so a Ctrl-C or a lost session
# costs at most about a minute of training. It is not a config field (it does not change
# what a run computes, so it must not change the config hash); train_run takes it as an
# argument, and math.inf turns it off.
CHECKPOINT_SECONDS = 60.0
# Divergence: a loss that is not finite, or whose size passes LOSS_LIMIT (no sane GAN loss on
# logits comes near it; a least-squares loss that grows without bound does), marks the seed's
# step on the device without a host sync; the flag is read every DIVERGENCE_CHECK_EVERY steps
# (and at every logged step), so a run stops within that many steps of its first bad one.
LOSS_LIMIT = 1e6
DIVERGENCE_CHECK_EVERY = 8


def check_checkpoint_seconds(value: Any) -> float:
    """``checkpoint_seconds`` as a float (``None``: :data:`CHECKPOINT_SECONDS`), or a one-line
    ValueError naming it unless it is a number >= 0 (0: every step, inf: never by time)."""
    if value is None:
        return CHECKPOINT_SECONDS
    return check_seconds("checkpoint_seconds", value, infinite=True,
                         note=f"0: every step, inf: never by time, None: {CHECKPOINT_SECONDS:.0f}")


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run, with where it stopped: ``step`` (reached), ``resume_step`` (what
    the checkpoint on disk resumes from, 0 when there is none) and ``seed``. A
    KeyboardInterrupt, so code that catches that still does."""

    def __init__(self, name: str, seed: int, step: int, resume_step: int) -> None:
        self.name, self.seed, self.step, self.resume_step = name, seed, step, resume_step
        again = f"resume from step {resume_step}" if resume_step else "start it again from step 0"
        super().__init__(f"interrupted at step {step} of seed {seed} of {name}; run the same command to {again}")


class Trainer:
    """Trains one (config, seed) into its run directory, resuming from a checkpoint if one
    is there. Use :func:`train_run` unless you need the pieces."""

    BASE_COLUMNS = ("step", "loss_d", "loss_g", "d_real", "d_fake", "d_fake_g",
                    "grad_d_bottom", "grad_d_top", "grad_g_bottom", "grad_g_top", *GANStep.D_HALF_COLUMNS)

    def __init__(self, config: ExperimentConfig, seed: int, rd: RunDir, *, device: torch.device,
                 progress: bool = True, checkpoint_seconds: float | None = None, lock: RunLock | None = None) -> None:
        self.config, self.seed, self.rd, self.device, self.progress = config, seed, rd, device, progress
        self.checkpoint_seconds = check_checkpoint_seconds(checkpoint_seconds)
        self.lock = lock
        self.engine = "one seed, eager"  # a seed group says so here (the record keeps it)
        self.started = False
        # the seed's global random state as start() leaves it; a seed group swaps it in and out
        self.rng_stream: dict[str, torch.Tensor] | None = None
        # Data first: a cache miss must not change the RNG stream the run sees.
        self.train_data, self.test_data = load_run_data(config, device)
        self._fresh()

    def _fresh(self) -> None:
        """Seed and build everything a run starts from (networks, optimizers, sampler, fixed
        noise, empty logs): called once, and again when a checkpoint turns out not to fit, so
        the run then starts exactly as a fresh one would."""
        config, seed, device, t = self.config, self.seed, self.device, self.config.train
        torch.manual_seed(seed)
        self.g, self.d = (net.to(device) for net in build_networks(config))
        for layer in self.g.modules():
            if isinstance(layer, MomentMatch):
                layer.set_target(self.train_data)
        self.opt_g, self.opt_d = make_optimizers(config, self.g, self.d)
        self.sampler = data.BatchSampler(self.train_data, t.batch_size, seed=seed)
        self.step_fn = GANStep(config, self.g, self.d, self.opt_g, self.opt_d, self.sampler, device)
        self.columns = list(self.BASE_COLUMNS) + self.step_fn.probe.columns + self.step_fn.g_probe.columns
        fixed = torch.Generator().manual_seed(10_000 + seed)
        n_fixed = config.data.toy_samples if config.data.kind == "toy" else t.n_samples
        self.fixed_noise = torch.randn(n_fixed, config.model.latent_dim, generator=fixed).to(device)
        self.rows: list[torch.Tensor] = []
        self.sample_steps: list[int] = []
        self.snapshots: list[torch.Tensor] = []
        self.evals: dict[str, list[float]] = {"step": [], "recon_mse": []}
        self.bad_step = torch.full((), -1, dtype=torch.long, device=device)
        self.step = 0
        self.elapsed = 0.0
        self.session_s = 0.0  # time trained in this attempt (a resumed run's earlier attempts left out)
        self.checkpointed_step = 0  # what the checkpoint on disk resumes from (0: none)
        self.resumed_at: int | None = None
        self._last_checkpoint = time.perf_counter()

    # ----------------------------------------------------------------- state

    def _history_payload(self) -> dict[str, Any]:
        values = torch.stack(self.rows).float().cpu() if self.rows else torch.empty(0, len(self.columns))
        return {"columns": self.columns, "values": values, "evals": dict(self.evals)}

    def _samples_payload(self) -> dict[str, Any]:
        samples = torch.stack(self.snapshots) if self.snapshots else torch.empty(0)
        return {"steps": list(self.sample_steps), "samples": samples}

    def state(self) -> dict[str, Any]:
        return {
            "step": self.step, "elapsed": self.elapsed, "g": self.g.state_dict(), "d": self.d.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(), "sampler": self.sampler.state_dict(),
            "rng": rng_state(self.device), "history": self._history_payload(), "samples": self._samples_payload(),
            "bad_step": int(self.bad_step), "config_hash": self.config.hash(), "seed": self.seed,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.step, self.elapsed = state["step"], state["elapsed"]
        self.g.load_state_dict(state["g"])
        self.d.load_state_dict(state["d"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.sampler.load_state_dict(state["sampler"])
        set_rng_state(state["rng"], self.device)
        values = state["history"]["values"]
        saved = list(state["history"].get("columns", self.columns))
        if saved != self.columns and len(values):  # a checkpoint written before columns were added
            remapped = torch.full((len(values), len(self.columns)), float("nan"))
            for j, name in enumerate(self.columns):
                if name in saved:
                    remapped[:, j] = values[:, saved.index(name)]
            values = remapped
        self.rows = [row.to(self.device) for row in values]
        self.evals = {k: list(v) for k, v in state["history"]["evals"].items()}
        self.sample_steps = list(state["samples"]["steps"])
        self.snapshots = list(state["samples"]["samples"]) if self.sample_steps else []
        self.bad_step.fill_(state["bad_step"])

    def checkpoint(self) -> None:
        """Write everything needed to resume exactly from this step. Only once the write has
        succeeded does ``checkpointed_step`` (what an interrupted record reports) move on."""
        atomic_torch_save(self.state(), self.rd.checkpoint_file)
        self.checkpointed_step = self.step
        self._last_checkpoint = time.perf_counter()
        if self.lock is not None:
            self.lock.refresh()

    def _checkpoint_due(self, now: float) -> bool:
        """Every ``train.checkpoint_every`` steps, or ``checkpoint_seconds`` after the last one."""
        every = self.config.train.checkpoint_every
        by_steps = bool(every) and self.step % every == 0
        return by_steps or now - self._last_checkpoint >= self.checkpoint_seconds

    def _resume_point(self) -> dict[str, Any] | None:
        """The checkpoint to resume from, or ``None`` to start at step 0: a checkpoint of
        another config or seed, or a damaged one, is moved aside (renamed .corrupt), each with a message."""
        cfg, rd = self.config, self.rd
        try:
            checkpoint = rd.read_checkpoint()
        except DamagedRunFileError as err:
            self._set_aside(err.reason)
            return None
        if checkpoint is not None and (checkpoint.get("config_hash"), checkpoint.get("seed")) != (cfg.hash(), self.seed):
            moved = rd.set_aside(rd.checkpoint_file)
            print(f"{rd.checkpoint_file} belongs to another run (config hash {checkpoint.get('config_hash')}, "
                  f"seed {checkpoint.get('seed')}); moved to {moved.name}, starting {cfg.name} seed {self.seed} "
                  f"from step 0")
            return None
        return checkpoint

    def _set_aside(self, reason: str) -> None:
        moved = self.rd.set_aside(self.rd.checkpoint_file)
        print(f"{self.rd.checkpoint_file} is damaged ({reason}); moved to {moved.name}, "
              f"starting {self.config.name} seed {self.seed} from step 0")

    def _resume(self, checkpoint: dict[str, Any]) -> bool:
        """Load ``checkpoint``; if it does not fit these networks (another architecture, a
        missing entry), move it aside, rebuild the fresh state and return False."""
        try:
            self.load_state(checkpoint)
        except (RuntimeError, KeyError, ValueError, TypeError, IndexError, AttributeError) as err:
            self._set_aside(f"it does not fit this run: {first_line(err)}")
            self._fresh()
            return False
        self.checkpointed_step = self.resumed_at = self.step
        return True

    # ----------------------------------------------------------------- measurements

    @torch.no_grad()
    def snapshot(self) -> None:
        was_training = self.g.training
        self.g.eval()
        try:
            out = self.g(self.fixed_noise)
        finally:
            self.g.train(was_training)
        if self.config.data.kind == "image":
            out = ((out.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        self.sample_steps.append(self.step)
        self.snapshots.append(out.cpu())

    def evaluate(self, steps: int) -> metrics.Reconstruction:
        return metrics.reconstruction_error(self.g, self.test_data, latent_dim=self.config.model.latent_dim,
                                            steps=steps)

    @torch.no_grad()
    def final_metrics(self) -> dict[str, Any]:
        t, found = self.config.train, {}
        image = self.config.data.kind == "image"
        held_out = load_run_data(self.config, self.device, all_test=True)[1] if image else self.test_data
        n = min(512, len(self.test_data))
        n_fakes = max(n, min(quality.N_SAMPLES, len(held_out))) if image else n
        g_mode = self.g.training
        self.g.eval()
        try:  # image G in eval mode treats samples independently, so it may go in chunks; toy G
            # may not (MomentMatch normalizes over its batch), so it gets one batch as before
            chunks = self.noise_for_metrics(n_fakes).split(500 if image else n_fakes)
            fakes = torch.cat([self.g(z) for z in chunks])
        finally:
            self.g.train(g_mode)
        found["swd"] = metrics.sliced_wasserstein(fakes[:n], self.test_data[:n])
        found["diversity"] = metrics.sample_diversity(fakes[:n])
        if not image:
            fakes = fakes[:n]
            shift = metrics.mean_shift(fakes, self.train_data)
            found["mean_shift"] = shift.tolist()
            found["shift_x"] = float(shift[0])
            found["shift_norm"] = float(torch.linalg.vector_norm(shift))
            found["mmd"] = metrics.mmd_rbf(fakes, self.test_data[:n])
        else:
            recon = self.evaluate(t.recon_final_steps)
            found["recon_mse"] = recon.mse
            found["recon_mse_std"] = float(recon.per_image.std())
            # FID, KID and class coverage on a classifier's features, fakes against the held-out split.
            found.update(quality.sample_quality(fakes, held_out, dataset=self.config.data.dataset))
            if os.environ.get(quality.INCEPTION_ENV, "").strip() in ("1", "true", "yes"):
                try:
                    found.update(quality.inception_quality(fakes, held_out))
                except quality.QualityUnavailableError as err:
                    warnings.warn(str(err), stacklevel=2)
        history = self._history_payload()
        tail = max(1, len(self.rows) // 10)
        for name in ("loss_d", "loss_g", "d_real", "d_fake", "d_fake_g"):
            column = history["values"][-tail:, self.columns.index(name)]
            found[f"final_{name}"] = float(column.mean()) if len(column) else float("nan")
        return found

    def noise_for_metrics(self, n: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(20_000 + self.seed)
        return torch.randn(n, self.config.model.latent_dim, generator=gen).to(self.device)

    # ----------------------------------------------------------------- loop

    def _log(self, out: StepOutput) -> None:
        """Append the step's row; BN gaps come with ``out`` (a seed group) or from the probes."""
        nan = torch.full((), float("nan"), device=self.device)
        row = [torch.tensor(float(self.step), device=self.device), out.loss_d, out.loss_g, out.d_real, out.d_fake,
               out.d_fake_g]
        row += [out.grads.get(name, nan) for name in self.BASE_COLUMNS[6:]]
        if out.gaps is None:
            row += self.step_fn.probe.row(self.device)
            row += self.step_fn.g_probe.row(self.device)
        else:
            row += [out.gaps.get(name, nan) for name in self.columns[len(self.BASE_COLUMNS):]]
        self.rows.append(torch.stack([v.float() for v in row]))

    def _write_record(self, status: str, extra: dict[str, Any] | None = None,
                      also: tuple[str, ...] | None = None) -> None:
        """Write the history, the samples and then the record (last: it is what says how far the
        run got). With ``also`` (a finished run: the other files it wrote and keeps, by name)
        the record lists every file of the run with its size and digest (``files``), so a file
        changed or swapped in later is known as damage when the run is loaded."""
        cfg = self.config
        record = {
            "name": cfg.name, "hash": cfg.hash(), "seed": self.seed, "status": status, "steps_done": self.step,
            "steps": cfg.train.steps, "diverged_at": None, "elapsed_s": round(self.elapsed, 3),
            "steps_per_s": round(self.step / self.elapsed, 3) if self.elapsed > 0 else None,
            "session_s": round(self.session_s, 3),
            "device": device_name(self.device), "threads": torch.get_num_threads(), "versions": versions(),
            "engine": self.engine, "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        record.update(extra or {})
        atomic_torch_save(self._history_payload(), self.rd.history_file)
        atomic_torch_save(self._samples_payload(), self.rd.samples_file)
        if also is not None:
            names = (self.rd.config_file.name, self.rd.history_file.name, self.rd.samples_file.name, *also)
            record["files"] = file_entries(self.rd.path, names)
        atomic_write_json(self.rd.record_file, record)

    def _record_interruption(self) -> None:
        """Record an interrupted run: ``steps_done`` is the step its checkpoint resumes from
        (a later checkpoint may have failed to write), ``steps_run`` how far it got. A failed
        write here (a full disk) is reported on one line and does not hide the interruption."""
        try:
            self._write_record("interrupted", {"steps_done": self.checkpointed_step, "steps_run": self.step})
        except OSError as err:
            print(f"could not record the interruption in {self.rd.record_file}: {err}")

    def start(self) -> None:
        """Prepare the run folder and resume from its checkpoint, or take the step-0 snapshot
        (once: :meth:`run` skips it when a seed group started the trainer already)."""
        if self.started:
            return
        self.started = True
        self.rd.path.mkdir(parents=True, exist_ok=True)
        for stale in self.rd.path.glob(".*.tmp"):  # left by a write that was killed
            stale.unlink(missing_ok=True)
        atomic_write_json(self.rd.config_file, self.config.to_dict())
        checkpoint = self._resume_point()
        resumed = checkpoint is not None and self._resume(checkpoint)
        if not resumed and self.config.train.sample_every:
            self.snapshot()
        self.g.train()
        self.d.train()
        self.rng_stream = rng_state(self.device)

    def finish(self, diverged_at: int | None) -> Run:
        """Record the run as diverged (its history and its last checkpoint kept, which was
        taken before the bad step) or complete (last snapshot, final metrics, weights; the
        checkpoint dropped) and load the run back."""
        t = self.config.train
        if diverged_at is not None:  # the last checkpoint (taken before the bad step) is kept to go back to
            kept = {"last_finite_checkpoint": self.rd.checkpoint_file.name, "last_finite_step": self.checkpointed_step} \
                if self.rd.checkpoint_file.exists() and self.checkpointed_step else {}
            self._write_record("diverged", {"diverged_at": diverged_at, "metrics": {}, **kept},
                               also=(self.rd.checkpoint_file.name,) if kept else ())
            return Run.load(self.rd.path, verify=False)
        if t.sample_every and self.sample_steps[-1:] != [self.step]:
            self.snapshot()
        found = self.final_metrics()
        atomic_torch_save({"g": self.g.state_dict(), "d": self.d.state_dict()}, self.rd.weights_file)
        self._write_record("complete", {"metrics": found}, also=(self.rd.weights_file.name,))
        self.rd.checkpoint_file.unlink(missing_ok=True)
        return Run.load(self.rd.path, verify=False)

    def run(self, callback: Callable[["Trainer"], None] | None = None) -> Run:
        """Train from where :meth:`start` left off to the end (or divergence) and finish."""
        self.start()
        return run_loop(OneSeed(self), progress=self.progress, callback=callback)[self.seed]


class Stepper(Protocol):
    """What the loop drives: the trainers of the seeds it steps, one iteration of all of them
    per call, and how their state and random streams reach each trainer when it needs them."""

    trainers: list[Trainer]

    def __call__(self, step: int, monitor: bool) -> list[StepOutput]: ...

    def write_back(self, networks_only: bool = False) -> None: ...

    def stream(self, k: int) -> contextlib.AbstractContextManager[None]: ...

    def without(self, gone: list[Trainer]) -> Stepper: ...


class OneSeed:
    """One seed stepped eagerly by its own :class:`~bngan.engine.step.GANStep`; the trainer's
    networks are the trained ones and the global random stream is the seed's own."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainers = [trainer]

    def __call__(self, step: int, monitor: bool) -> list[StepOutput]:
        return [self.trainers[0].step_fn(step, monitor)]

    def write_back(self, networks_only: bool = False) -> None:
        """Nothing to copy: the trainer's own networks are trained."""

    def stream(self, k: int) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def without(self, gone: list[Trainer]) -> Stepper:
        raise ValueError("a one-seed run ends when its seed diverges")


def run_loop(stepper: Stepper, *, progress: bool = True, callback: Callable[[Trainer], None] | None = None,
             first: list[StepOutput] | None = None) -> dict[int, Run]:
    """Drive ``stepper``'s seeds from their (common) step to the end: log, sample, evaluate
    and checkpoint when due, record a seed that diverges at its step (the others go on),
    record an interruption, and finish every seed. ``first``: outputs of the next step,
    already taken. ``callback(trainer)`` runs after every step for each seed (tests use it
    to interrupt). Returns ``{seed: run}``."""
    lead = stepper.trainers[0]
    t = lead.config.train
    runs: dict[int, Run] = {}
    seeds = ",".join(str(tr.seed) for tr in stepper.trainers)
    watched = interactive()
    for tr in stepper.trainers if progress and lead.step > 0 else ():
        print(f"resuming {lead.config.name} seed {tr.seed} at step {tr.step}", flush=True)
    bar = tqdm(total=t.steps, initial=lead.step, desc=f"{lead.config.name} s{seeds}",
               disable=not (progress and watched), leave=False, dynamic_ncols=True)
    heartbeat = Heartbeat(f"{lead.config.name} seed {seeds}", lead.step, t.steps) if progress and not watched else None
    last_refresh, started = 0.0, time.perf_counter() - lead.elapsed
    session_start = time.perf_counter()
    for tr in stepper.trainers:
        tr._last_checkpoint = time.perf_counter()
    alive: Stepper | None = stepper

    def settle(diverged: list[Trainer]) -> None:
        """Record the diverged seeds (history kept) and go on with the others, if any."""
        nonlocal alive
        alive.write_back()
        for k, tr in enumerate(alive.trainers):
            if tr in diverged:
                tr.elapsed, tr.session_s = time.perf_counter() - started, time.perf_counter() - session_start
                with alive.stream(k):
                    runs[tr.seed] = tr.finish(int(tr.bad_step))
        rest = [tr for tr in alive.trainers if tr not in diverged]
        alive = alive.without(diverged) if rest else None

    try:
        while alive is not None and alive.trainers[0].step < t.steps:
            step = alive.trainers[0].step + 1
            monitor = step % t.log_every == 0 or step == t.steps
            for tr in alive.trainers:
                tr.step = step
            outs, first = (first if first is not None else alive(step, monitor)), None
            for tr, out in zip(alive.trainers, outs):
                bad = ~(torch.isfinite(out.loss_d) & torch.isfinite(out.loss_g)) | \
                    (out.loss_d.abs() > LOSS_LIMIT) | (out.loss_g.abs() > LOSS_LIMIT)
                tr.bad_step = torch.where((tr.bad_step < 0) & bad, step, tr.bad_step)
                if monitor:
                    tr._log(out)
            if monitor and (diverged := [tr for tr in alive.trainers if int(tr.bad_step) >= 0]):
                settle(diverged)  # one sync per logged row
                if alive is None:
                    break
                outs = None
            sample = t.sample_every and step % t.sample_every == 0
            evaluate = t.eval_every and step % t.eval_every == 0
            if sample or evaluate:
                alive.write_back(networks_only=True)
                for k, tr in enumerate(alive.trainers):
                    with alive.stream(k):
                        if sample:
                            tr.snapshot()
                        if evaluate:
                            tr.evals["step"].append(step)
                            tr.evals["recon_mse"].append(tr.evaluate(t.recon_steps).mse)
            now = time.perf_counter()
            bar.update(1)
            if heartbeat is not None:
                heartbeat(step, now)
            refresh = now - last_refresh > 1.0 or step == t.steps
            checkpoint_due = step < t.steps and alive.trainers[0]._checkpoint_due(now)
            if (refresh or checkpoint_due or step % DIVERGENCE_CHECK_EVERY == 0) and outs is not None and \
                    (diverged := [tr for tr in alive.trainers if int(tr.bad_step) >= 0]):
                for tr, out in zip(alive.trainers, outs):
                    if tr in diverged:
                        tr._log(out)  # keep the step that showed it
                settle(diverged)  # never checkpoint a seed whose weights may have gone bad
                if alive is None:
                    break
            if refresh:
                last_refresh = now
                if alive.trainers[0].rows:
                    last = alive.trainers[0].rows[-1].tolist()
                    bar.set_postfix(loss_d=f"{last[1]:.3f}", loss_g=f"{last[2]:.3f}", refresh=False)
            for tr in alive.trainers:
                tr.elapsed, tr.session_s = now - started, now - session_start
            if checkpoint_due:
                alive.write_back()
                for k, tr in enumerate(alive.trainers):
                    with alive.stream(k):
                        tr.checkpoint()
            for tr in alive.trainers if callback is not None else ():
                callback(tr)
    except BaseException as err:
        bar.close()
        stopped = alive.trainers if alive is not None else []
        for tr in stopped:
            tr.elapsed = time.perf_counter() - started
            tr._record_interruption()
        if isinstance(err, KeyboardInterrupt) and not isinstance(err, TrainingInterrupted) and stopped:
            tr = stopped[0]
            raise TrainingInterrupted(tr.config.name, tr.seed, tr.step, tr.checkpointed_step) from err
        raise
    bar.close()
    if alive is not None:
        alive.write_back()
        for k, tr in enumerate(alive.trainers):
            tr.elapsed, tr.session_s = time.perf_counter() - started, time.perf_counter() - session_start
            with alive.stream(k):
                runs[tr.seed] = tr.finish(int(tr.bad_step) if int(tr.bad_step) >= 0 else None)
    return runs


class Heartbeat:
    """Where no progress bar is watched (a pipe, a log file), one line every
    :attr:`every` seconds: ``table2:10 seed 0: step 140/400, 3.4 steps/s, ~1 min left``."""

    every = 30.0

    def __init__(self, what: str, start_step: int, steps: int) -> None:
        self.what, self.start_step, self.steps = what, start_step, steps
        self.started = self.last = time.perf_counter()

    def __call__(self, step: int, now: float) -> None:
        if now - self.last < self.every or step >= self.steps:
            return
        self.last = now
        rate = (step - self.start_step) / max(now - self.started, 1e-9)
        left = (self.steps - step) / rate if rate > 0 else float("inf")
        eta = f"~{left / 60:.0f} min left" if left >= 90 else f"~{left:.0f} s left"
        print(f"{self.what}: step {step}/{self.steps}, {rate:.1f} steps/s, {eta}", flush=True)


def interactive() -> bool:
    """True where a progress bar is watched rather than logged: a terminal, or a Jupyter
    kernel. Elsewhere (a pipe, a CI log) bars only add noise, so they are off."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    if shell is not None and hasattr(shell, "kernel"):
        return True
    return sys.stderr.isatty()


