"""Training: the D and G updates of every routine the book compares, the loop with its
monitoring, and a run that is cached, checkpointed, resumable and stops on divergence.

The hot loop makes no host-device sync per step: logged values stay on the device and are
read back at most about once a second (for the progress bar) and at checkpoints.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import __version__, data, metrics, models, norms, quality
from .config import ExperimentConfig, Label
from .runs import (DamagedRunFileError, Run, RunDir, RunLock, atomic_torch_save, atomic_write_json,
                   cached_run_matches, check_writable, first_line, run_dir)

# A run in progress is checkpointed every ``train.checkpoint_every`` steps and also whenever
# this many seconds have passed since its last checkpoint, so a Ctrl-C or a lost session
# costs at most about a minute of training. It is not a config field (it does not change
# what a run computes, so it must not change the config hash); train_run takes it as an
# argument, and math.inf turns it off.
CHECKPOINT_SECONDS = 60.0


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run, with where it stopped: ``step`` (reached), ``resume_step`` (what
    the checkpoint on disk resumes from, 0 when there is none) and ``seed``. A
    KeyboardInterrupt, so code that catches that still does."""

    def __init__(self, name: str, seed: int, step: int, resume_step: int) -> None:
        self.name, self.seed, self.step, self.resume_step = name, seed, step, resume_step
        again = f"resume from step {resume_step}" if resume_step else "start it again from step 0"
        super().__init__(f"interrupted at step {step} of seed {seed} of {name}; run the same command to {again}")

# --------------------------------------------------------------------------- networks and optimizers


def build_networks(config: ExperimentConfig) -> tuple[nn.Module, nn.Module]:
    """The (generator, discriminator) pair that ``config.model`` describes, on the CPU."""
    m, d = config.model, config.data
    if m.arch == "mlp":
        g_norms, d_norms = m.network_norms()
        g = models.mlp_generator(latent_dim=m.latent_dim, width=m.width, depth=m.depth, leak=m.leak,
                                 norm=list(g_norms), bn_momentum=m.g_bn_momentum, match_moments=m.match_moments,
                                 bn_eps=m.bn_eps)
        disc = models.mlp_discriminator(width=m.width, depth=m.depth, leak=m.leak, norm=list(d_norms),
                                        bn_momentum=m.d_bn_momentum, bn_eps=m.bn_eps)
        models.init_weights_(g, m.init)
        models.init_weights_(disc, m.init)
        return g, disc
    return models.build_dcgan(
        arch=m.arch, norm=m.norm, norm_in=m.norm_in, placement=m.placement, image_size=d.image_size,
        channels=d.image_channels, latent_dim=m.latent_dim, g_kernel=m.g_kernel, d_kernel=m.d_kernel,
        g_filters=m.g_filters, d_filters=m.d_filters, width=m.width, g_bn_momentum=m.g_bn_momentum,
        d_bn_momentum=m.d_bn_momentum, dropout=m.dropout, init=m.init, bn_eps=m.bn_eps,
        g_block_order=m.g_block_order, g_upsample=m.g_upsample, wn_activation=m.wn_activation,
        extra_layers=m.extra_layers,
    )


def make_optimizers(config: ExperimentConfig, g: nn.Module, d: nn.Module) -> tuple[torch.optim.Optimizer, ...]:
    """Adam (DCGAN: lr 2e-4, beta1 0.5) or RMSProp (Xiang & Li: alpha 0.9, eps 1e-6), with
    separate learning rates for G and D (TTUR when they differ)."""
    t = config.train
    if t.optimizer == "adam":
        make = lambda params, lr: torch.optim.Adam(params, lr=lr, betas=(t.beta1, t.beta2))  # noqa: E731
    else:
        make = lambda params, lr: torch.optim.RMSprop(params, lr=lr, alpha=t.rms_alpha, eps=t.rms_eps)  # noqa: E731
    return make(g.parameters(), t.lr_g), make(d.parameters(), t.lr_d)


def layer_weights(model: nn.Module) -> list[torch.Tensor]:
    """Weight tensors of the conv/linear layers, input side first (for gradient monitoring)."""
    found = []
    for module in model.modules():
        if norms.is_weight_normalized(module) or isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            parametrized = getattr(module, "parametrizations", None)
            found.append(parametrized.weight.original if parametrized is not None else module.weight)
    return found


# --------------------------------------------------------------------------- labels and losses


def _draw(label: Label, n: int, device: torch.device) -> torch.Tensor:
    if isinstance(label, tuple):
        return torch.empty(n, 1, device=device).uniform_(label[0], label[1])
    return torch.full((n, 1), float(label), device=device)


def make_targets(real: bool, n: int, *, real_label: Label, fake_label: Label, flip_prob: float,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """D's targets for ``n`` real (or fake) samples: the label (constant, or uniform in a
    range: label smoothing), each swapped for the other class's label with ``flip_prob``."""
    device = torch.device(device)
    own, other = (real_label, fake_label) if real else (fake_label, real_label)
    targets = _draw(own, n, device)
    if flip_prob > 0:
        flip = torch.rand(n, 1, device=device) < flip_prob
        targets = torch.where(flip, _draw(other, n, device), targets)
    return targets


def d_loss_fn(kind: str, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """D's loss: binary cross-entropy on logits (``bce``, ``minimax``) or least squares."""
    if kind == "lsgan":
        return 0.5 * (logits - targets).pow(2).mean()
    return F.binary_cross_entropy_with_logits(logits, targets)


def g_loss_fn(kind: str, logits: torch.Tensor) -> torch.Tensor:
    """G's loss on D's logits for fakes: non-saturating ``bce`` (-log D(G(z))), saturating
    ``minimax`` (log(1 - D(G(z))), the negated D loss on fakes) or ``lsgan``."""
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
    if kind == "minimax":
        return -F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))
    return 0.5 * (logits - 1).pow(2).mean()


def d_score(kind: str, logits: torch.Tensor) -> torch.Tensor:
    """Mean D output on a batch: probability for the BCE losses, raw score for least squares."""
    return logits.mean() if kind == "lsgan" else torch.sigmoid(logits).mean()


# --------------------------------------------------------------------------- BN statistics probe


class BNProbe:
    """Measures, for each BatchNorm layer of D, how far the current batch statistics of real
    and of fake samples are from the layer's running statistics.

    Gap = mean over channels of ``|batch mean - running mean| / sqrt(running var + eps)``.
    Only active inside :meth:`capture`, so the normal forward passes cost nothing extra.
    """

    def __init__(self, model: nn.Module) -> None:
        self.layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        self.columns = [f"bn{i}_gap_{part}" for i in range(len(self.layers)) for part in ("real", "fake")]
        self._tag: str | None = None
        self._split: int | None = None
        self.values: dict[str, torch.Tensor] = {}
        for i, layer in enumerate(self.layers):
            layer.register_forward_pre_hook(self._hook(i))

    def _hook(self, index: int):
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            if self._tag is None or not module.training or module.running_mean is None:
                return
            x = inputs[0].detach()
            parts = {"real": x[: self._split], "fake": x[self._split:]} if self._tag == "joint" else {self._tag: x}
            dims = [0] + list(range(2, x.dim()))
            scale = (module.running_var + module.eps).sqrt()
            for part, values in parts.items():
                gap = ((values.mean(dims) - module.running_mean).abs() / scale).mean()
                self.values[f"bn{index}_gap_{part}"] = gap

        return hook

    @contextlib.contextmanager
    def capture(self, tag: str | None, split: int | None = None) -> Iterator[None]:
        """Record the statistics of D's forward passes inside the block: ``tag`` is
        ``real``, ``fake``, or ``joint`` (first ``split`` samples real, the rest fake)."""
        self._tag, self._split = tag, split
        try:
            yield
        finally:
            self._tag = self._split = None

    def row(self, device: torch.device) -> list[torch.Tensor]:
        nan = torch.tensor(float("nan"), device=device)
        return [self.values.get(name, nan) for name in self.columns]


class GBNProbe:
    """Measures, for each BatchNorm layer of G, how far the statistics of the batch G
    normalizes in its train-mode forward are from the layer's running statistics (the ones
    G uses in eval mode: D's fakes under ``d_fakes="keras"``, snapshots, final metrics).

    For layer ``i``, with batch mean ``mu_b`` and biased batch variance ``var_b`` (what the
    layer normalizes with in train mode) and running ``mu_r``, ``var_r`` (read before the
    forward updates them), averaged over channels:

    * ``g_bn{i}_gap_mean`` = mean ``|mu_b - mu_r| / sqrt(var_r + eps)``, the shift of the batch
      mean in running standard deviations (as :class:`BNProbe` measures D's);
    * ``g_bn{i}_gap_var`` = mean ``|log((var_b + eps) / (var_r + eps))|``, the log-ratio of the
      two normalizing variances (0 when they agree; log 2 = 0.69 when one is twice the other).

    The hooks exist only inside :meth:`capture` (monitored steps), so other steps pay
    nothing, and they only read: nothing a run trains changes.
    """

    def __init__(self, model: nn.Module) -> None:
        self.layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        self.columns = [f"g_bn{i}_gap_{part}" for i in range(len(self.layers)) for part in ("mean", "var")]
        self.values: dict[str, torch.Tensor] = {}

    @staticmethod
    def gaps(module: nn.modules.batchnorm._BatchNorm, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean gap, variance gap) of input ``x`` against ``module``'s running statistics."""
        x = x.detach()
        dims = [0] + list(range(2, x.dim()))
        mean, var = x.mean(dims), x.var(dims, unbiased=False)
        running_var = module.running_var + module.eps
        gap_mean = ((mean - module.running_mean).abs() / running_var.sqrt()).mean()
        gap_var = torch.log((var + module.eps) / running_var).abs().mean()
        return gap_mean, gap_var

    def _hook(self, index: int):
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            if not module.training or module.running_mean is None:
                return
            gap_mean, gap_var = self.gaps(module, inputs[0])
            self.values[f"g_bn{index}_gap_mean"] = gap_mean
            self.values[f"g_bn{index}_gap_var"] = gap_var

        return hook

    @contextlib.contextmanager
    def capture(self, active: bool = True) -> Iterator[None]:
        """Record the gaps of G's train-mode forward passes inside the block (the last one
        wins); with ``active=False`` this is a no-op."""
        handles = [layer.register_forward_pre_hook(self._hook(i)) for i, layer in enumerate(self.layers)] if active else []
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    def row(self, device: torch.device) -> list[torch.Tensor]:
        nan = torch.tensor(float("nan"), device=device)
        return [self.values.get(name, nan) for name in self.columns]


# --------------------------------------------------------------------------- one iteration


@dataclass
class StepOutput:
    """What one iteration measured (device tensors; nothing is synced)."""

    loss_d: torch.Tensor
    loss_g: torch.Tensor
    d_real: torch.Tensor
    d_fake: torch.Tensor
    d_fake_g: torch.Tensor
    grads: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class DUpdate:
    """What one D update returns: its loss, mean D(real) and D(fake), and (when monitored)
    the gradient norms of the watched layers."""

    loss: torch.Tensor
    d_real: torch.Tensor
    d_fake: torch.Tensor
    grads: dict[str, torch.Tensor] = field(default_factory=dict)


def _norm(grad: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(grad) if grad is not None else torch.zeros((), device=like.device)


def _grad_norm(weight: torch.Tensor) -> torch.Tensor:
    return _norm(weight.grad, weight)


class GANStep:
    """The D and G updates for one config: one call is one iteration of the loop.

    Monitored D gradients are the same quantity for every routine: ``grad_d_bottom`` and
    ``grad_d_top`` are the norms of the gradient of D's whole objective (the mean of the real
    and the fake loss, each normalized as the routine normalizes it) at the weights D had
    before the update. ``separate`` also logs each half-step's gradient as it was taken
    (``..._real`` at the starting weights, ``..._fake`` after the real step).
    """

    D_HALF_COLUMNS = ("grad_d_bottom_real", "grad_d_top_real", "grad_d_bottom_fake", "grad_d_top_fake")

    def __init__(self, config: ExperimentConfig, g: nn.Module, d: nn.Module, opt_g: torch.optim.Optimizer,
                 opt_d: torch.optim.Optimizer, sample_real: Callable[[], torch.Tensor], device: torch.device) -> None:
        self.cfg, self.t = config, config.train
        self.g, self.d, self.opt_g, self.opt_d = g, d, opt_g, opt_d
        self.sample_real = sample_real
        self.device = device
        self.probe = BNProbe(d)
        self.g_probe = GBNProbe(g)
        g_layers, d_layers = layer_weights(g), layer_weights(d)
        self.watch = {"grad_g_bottom": g_layers[0], "grad_g_top": g_layers[-1],
                      "grad_d_bottom": d_layers[0], "grad_d_top": d_layers[-1]}
        self._d_watch = {k: w for k, w in self.watch.items() if k.startswith("grad_d")}

    def noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.cfg.model.latent_dim, device=self.device)

    def _instance_noise(self, x: torch.Tensor, step: int) -> torch.Tensor:
        t = self.t
        if t.instance_noise <= 0:
            return x
        decay = 1.0 if t.instance_noise_decay == 0 else max(0.0, 1.0 - step / t.instance_noise_decay)
        return x + (t.instance_noise * decay) * torch.randn_like(x) if decay > 0 else x

    def _targets(self, real: bool, n: int) -> torch.Tensor:
        t = self.t
        return make_targets(real, n, real_label=t.real_label, fake_label=t.fake_label, flip_prob=t.flip_prob,
                            device=self.device)

    @torch.no_grad()
    def fakes_for_d(self, n: int) -> torch.Tensor:
        """Fakes for D's update as ``train.d_fakes`` says (``keras``: G in eval mode, its
        running statistics used and left alone; ``train-mode``: G in train mode)."""
        if self.t.d_fakes != "keras":
            return self.g(self.noise(n))
        was_training = self.g.training
        self.g.eval()
        try:
            return self.g(self.noise(n))
        finally:
            self.g.train(was_training)

    def _side_effect_free_grads(self, loss_of: Callable[[], torch.Tensor]) -> list[torch.Tensor]:
        """Gradients of ``loss_of()`` for D's watched weights, leaving D's buffers (BN running
        statistics), the parameters' ``.grad`` and the random streams as they were."""
        buffers = [b.clone() for b in self.d.buffers()]
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            grads = torch.autograd.grad(loss_of(), list(self._d_watch.values()), allow_unused=True)
        with torch.no_grad():
            for saved, buffer in zip(buffers, self.d.buffers()):
                buffer.copy_(saved)
        return [g if g is not None else torch.zeros_like(w) for g, w in zip(grads, self._d_watch.values())]

    def d_update(self, step: int, monitor: bool, fake: torch.Tensor | None = None) -> DUpdate:
        """One D update by the configured routine. ``fake`` (detached) is used when given,
        else fakes are made as ``train.d_fakes`` says."""
        t, d, opt = self.t, self.d, self.opt_d
        n = t.batch_size
        real = self._instance_noise(self.sample_real(), step)
        fake = self._instance_noise((self.fakes_for_d(n) if fake is None else fake).detach(), step)
        y_real, y_fake = self._targets(True, n), self._targets(False, n)
        probe = self.probe.capture if monitor else (lambda *a, **k: contextlib.nullcontext())
        grads: dict[str, torch.Tensor] = {}

        def record_whole() -> None:  # the update's own gradient is the whole objective's
            if monitor:
                grads.update({k: _grad_norm(w) for k, w in self._d_watch.items()})

        if t.routine == "combined":
            opt.zero_grad(set_to_none=True)
            with probe("joint", n):
                logits = d(torch.cat([real, fake]))
            loss = d_loss_fn(t.loss, logits, torch.cat([y_real, y_fake]))
            loss.backward()
            record_whole()
            opt.step()
            logits_real, logits_fake = logits[:n], logits[n:]
        elif t.routine == "split":
            opt.zero_grad(set_to_none=True)
            with probe("real"):
                logits_real = d(real)
            with probe("fake"):
                logits_fake = d(fake)
            loss = 0.5 * (d_loss_fn(t.loss, logits_real, y_real) + d_loss_fn(t.loss, logits_fake, y_fake))
            loss.backward()
            record_whole()
            opt.step()
        else:  # separate: two optimizer steps, real-only then fake-only
            if monitor:  # the fake half's gradient at the starting weights, for the whole objective
                fake_at_start = self._side_effect_free_grads(lambda: d_loss_fn(t.loss, d(fake), y_fake))
            halves: dict[str, list[torch.Tensor]] = {}

            def half_step(tag: str, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                opt.zero_grad(set_to_none=True)
                with probe(tag):
                    logits = d(x)
                half_loss = d_loss_fn(t.loss, logits, y)
                half_loss.backward()
                if monitor:
                    halves[tag] = [w.grad.detach().clone() if w.grad is not None else torch.zeros_like(w)
                                   for w in self._d_watch.values()]
                opt.step()
                return logits, half_loss

            logits_real, loss_real = half_step("real", real, y_real)
            logits_fake, loss_fake = half_step("fake", fake, y_fake)
            loss = 0.5 * (loss_real + loss_fake)
            if monitor:
                for (name, w), g_real, g_fake, g_fake0 in zip(self._d_watch.items(), halves["real"],
                                                              halves["fake"], fake_at_start):
                    grads[name] = _norm(0.5 * (g_real + g_fake0), w)
                    grads[f"{name}_real"] = _norm(g_real, w)
                    grads[f"{name}_fake"] = _norm(g_fake, w)
        return DUpdate(loss.detach(), d_score(t.loss, logits_real.detach()), d_score(t.loss, logits_fake.detach()),
                       grads)

    def g_update(self, step: int = 0, fake: torch.Tensor | None = None,
                 monitor: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """One G update; D normalizes as ``train.g_bn_mode`` says and is not updated. ``fake``
        (made by G in train mode, with its graph) is used when given, else G makes a batch.
        D sees the fakes (and in ``joint`` mode the reals) with the same instance noise as in
        its own step. Returns (G's loss, mean D output on the fakes as G's step sees them)."""
        t, d = self.t, self.d
        n = t.batch_size
        self.opt_g.zero_grad(set_to_none=True)
        d.requires_grad_(False)
        try:
            if fake is None:
                with self.g_probe.capture(monitor):
                    fake = self.g(self.noise(n))
            seen = self._instance_noise(fake, step)
            if t.g_bn_mode == "eval":
                d.eval()
                logits = d(seen)
            elif t.g_bn_mode == "joint":
                real = self._instance_noise(self.sample_real(), step)
                logits = d(torch.cat([real, seen]))[n:]
            else:
                logits = d(seen)
            loss = g_loss_fn(t.loss, logits)
            if t.g_shift_weight:
                loss = loss - t.g_shift_weight * fake.flatten(1)[:, 0].mean()
            loss.backward()
            self.opt_g.step()
        finally:
            d.train()
            d.requires_grad_(True)
        return loss.detach(), d_score(t.loss, logits.detach())

    def __call__(self, step: int, monitor: bool = False) -> StepOutput:
        t = self.t
        shared = None
        if t.d_fakes == "reuse":
            with self.g_probe.capture(monitor):
                shared = self.g(self.noise(t.batch_size))
        for i in range(t.d_steps):
            last = i == t.d_steps - 1
            out_d = self.d_update(step, monitor and last, fake=None if shared is None else shared.detach())
        grads = dict(out_d.grads)
        for i in range(t.g_steps):
            loss_g, d_fake_g = self.g_update(step, fake=shared, monitor=monitor and i == t.g_steps - 1)
        if monitor:
            grads.update({k: _grad_norm(w) for k, w in self.watch.items() if k.startswith("grad_g")})
        return StepOutput(out_d.loss, loss_g, out_d.d_real, out_d.d_fake, d_fake_g, grads)


# --------------------------------------------------------------------------- data for a run

_DATA_CACHE: dict[tuple, Any] = {}


def load_run_data(config: ExperimentConfig, device: torch.device, *,
                  all_test: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, test) tensors on ``device``; the same for every seed of an experiment, and
    kept in memory so a sweep loads each dataset once. ``test`` holds the first
    ``config.data.n_test`` held-out images, or with ``all_test=True`` (images only) the whole
    held-out split, which the sample-quality metrics compare against."""
    d = config.data
    key = (d.kind, d.dataset, d.image_size, d.channels, d.n_train, d.n_test, d.toy, d.toy_samples, str(device))
    if key not in _DATA_CACHE:
        if d.kind == "toy":
            _DATA_CACHE[key] = (data.toy_2d(d.toy, d.toy_samples, seed=0, device=device),
                                data.toy_2d(d.toy, d.toy_samples, seed=1, device=device))
        else:
            images = data.load_images(d.dataset, image_size=d.image_size, channels=d.channels, n_train=d.n_train,
                                      device=device, seed=0)
            if d.n_test > len(images.test):
                raise ValueError(f"data.n_test must be at most the {len(images.test)} held-out images of "
                                 f"{d.dataset}; got {d.n_test}")
            _DATA_CACHE[key] = (images.train, images.test)
        while len(_DATA_CACHE) > 3:
            _DATA_CACHE.pop(next(iter(_DATA_CACHE)))
    train, test = _DATA_CACHE[key]
    return (train, test) if all_test or d.kind == "toy" else (train, test[: d.n_test])


# --------------------------------------------------------------------------- the run


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


class Trainer:
    """Trains one (config, seed) into its run directory, resuming from a checkpoint if one
    is there. Use :func:`train_run` unless you need the pieces."""

    BASE_COLUMNS = ("step", "loss_d", "loss_g", "d_real", "d_fake", "d_fake_g",
                    "grad_d_bottom", "grad_d_top", "grad_g_bottom", "grad_g_top", *GANStep.D_HALF_COLUMNS)

    def __init__(self, config: ExperimentConfig, seed: int, rd: RunDir, *, device: torch.device,
                 progress: bool = True, checkpoint_seconds: float | None = None, lock: RunLock | None = None) -> None:
        self.config, self.seed, self.rd, self.device, self.progress = config, seed, rd, device, progress
        self.checkpoint_seconds = CHECKPOINT_SECONDS if checkpoint_seconds is None else checkpoint_seconds
        self.lock = lock
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
            if isinstance(layer, models.MomentMatch):
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
            "rng": _rng_state(self.device), "history": self._history_payload(), "samples": self._samples_payload(),
            "bad_step": int(self.bad_step), "config_hash": self.config.hash(), "seed": self.seed,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.step, self.elapsed = state["step"], state["elapsed"]
        self.g.load_state_dict(state["g"])
        self.d.load_state_dict(state["d"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.sampler.load_state_dict(state["sampler"])
        _set_rng_state(state["rng"], self.device)
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
        another config or seed is deleted, a damaged one moved aside, each with a message."""
        cfg, rd = self.config, self.rd
        try:
            checkpoint = rd.read_checkpoint()
        except DamagedRunFileError as err:
            self._set_aside(err.reason)
            return None
        if checkpoint is not None and (checkpoint.get("config_hash"), checkpoint.get("seed")) != (cfg.hash(), self.seed):
            print(f"{rd.checkpoint_file} belongs to another run (config hash {checkpoint.get('config_hash')}, "
                  f"seed {checkpoint.get('seed')}); starting {cfg.name} seed {self.seed} from step 0")
            rd.checkpoint_file.unlink()
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
        nan = torch.full((), float("nan"), device=self.device)
        row = [torch.tensor(float(self.step), device=self.device), out.loss_d, out.loss_g, out.d_real, out.d_fake,
               out.d_fake_g]
        row += [out.grads.get(name, nan) for name in self.BASE_COLUMNS[6:]]
        row += self.step_fn.probe.row(self.device)
        row += self.step_fn.g_probe.row(self.device)
        self.rows.append(torch.stack([v.float() for v in row]))

    def _write_record(self, status: str, extra: dict[str, Any] | None = None) -> None:
        cfg = self.config
        record = {
            "name": cfg.name, "hash": cfg.hash(), "seed": self.seed, "status": status, "steps_done": self.step,
            "steps": cfg.train.steps, "diverged_at": None, "elapsed_s": round(self.elapsed, 3),
            "steps_per_s": round(self.step / self.elapsed, 3) if self.elapsed > 0 else None,
            "device": _device_name(self.device), "threads": torch.get_num_threads(), "versions": _versions(),
        }
        record.update(extra or {})
        atomic_torch_save(self._history_payload(), self.rd.history_file)
        atomic_torch_save(self._samples_payload(), self.rd.samples_file)
        atomic_write_json(self.rd.record_file, record)

    def _record_interruption(self) -> None:
        """Record an interrupted run: ``steps_done`` is the step its checkpoint resumes from
        (a later checkpoint may have failed to write), ``steps_run`` how far it got. A failed
        write here (a full disk) is reported on one line and does not hide the interruption."""
        try:
            self._write_record("interrupted", {"steps_done": self.checkpointed_step, "steps_run": self.step})
        except OSError as err:
            print(f"could not record the interruption in {self.rd.record_file}: {err}")

    def run(self, callback: Callable[["Trainer"], None] | None = None) -> Run:
        cfg, t = self.config, self.config.train
        self.rd.path.mkdir(parents=True, exist_ok=True)
        for stale in self.rd.path.glob(".*.tmp"):  # left by a write that was killed
            stale.unlink(missing_ok=True)
        atomic_write_json(self.rd.config_file, cfg.to_dict())
        checkpoint = self._resume_point()
        resumed = checkpoint is not None and self._resume(checkpoint)
        if not resumed and t.sample_every:
            self.snapshot()
        self.g.train()
        self.d.train()
        bar = tqdm(total=t.steps, initial=self.step, desc=f"{cfg.name} s{self.seed}",
                   disable=not (self.progress and interactive()), leave=False, dynamic_ncols=True)
        last_refresh, started = 0.0, time.perf_counter() - self.elapsed
        self._last_checkpoint = time.perf_counter()
        diverged_at = None
        try:
            while self.step < t.steps:
                self.step += 1
                monitor = self.step % t.log_every == 0 or self.step == t.steps
                out = self.step_fn(self.step, monitor)
                bad = ~(torch.isfinite(out.loss_d) & torch.isfinite(out.loss_g))
                self.bad_step = torch.where((self.bad_step < 0) & bad, self.step, self.bad_step)
                if monitor:
                    self._log(out)
                    if int(self.bad_step) >= 0:  # one sync per logged row
                        diverged_at = int(self.bad_step)
                        break
                if t.sample_every and self.step % t.sample_every == 0:
                    self.snapshot()
                if t.eval_every and self.step % t.eval_every == 0:
                    self.evals["step"].append(self.step)
                    self.evals["recon_mse"].append(self.evaluate(t.recon_steps).mse)
                now = time.perf_counter()
                bar.update(1)
                if now - last_refresh > 1.0 or self.step == t.steps:
                    last_refresh = now
                    if int(self.bad_step) >= 0:
                        diverged_at = int(self.bad_step)
                        self._log(out)  # keep the step that showed it
                        break
                    if self.rows:
                        last = self.rows[-1].tolist()
                        bar.set_postfix(loss_d=f"{last[1]:.3f}", loss_g=f"{last[2]:.3f}", refresh=False)
                self.elapsed = now - started
                if self.step < t.steps and self._checkpoint_due(now):
                    self.checkpoint()
                if callback is not None:
                    callback(self)
        except BaseException as err:
            self.elapsed = time.perf_counter() - started
            bar.close()
            self._record_interruption()
            if isinstance(err, KeyboardInterrupt) and not isinstance(err, TrainingInterrupted):
                raise TrainingInterrupted(cfg.name, self.seed, self.step, self.checkpointed_step) from err
            raise
        bar.close()
        self.elapsed = time.perf_counter() - started
        if diverged_at is None and int(self.bad_step) >= 0:
            diverged_at = int(self.bad_step)
        if diverged_at is not None:
            self._write_record("diverged", {"diverged_at": diverged_at, "metrics": {}})
        else:
            if t.sample_every and self.sample_steps[-1:] != [self.step]:
                self.snapshot()
            found = self.final_metrics()
            atomic_torch_save({"g": self.g.state_dict(), "d": self.d.state_dict()}, self.rd.weights_file)
            self._write_record("complete", {"metrics": found})
        self.rd.checkpoint_file.unlink(missing_ok=True)
        return Run.load(self.rd.path)


def interactive() -> bool:
    """True where a progress bar is watched rather than logged: a terminal, or a Jupyter
    kernel. Elsewhere (a pipe, a CI log) bars only add noise, so they are off."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    if shell is not None and hasattr(shell, "kernel"):
        return True
    return sys.stderr.isatty()


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def _versions() -> dict[str, str]:
    import torchvision

    return {"bngan": __version__, "torch": torch.__version__, "torchvision": torchvision.__version__,
            "python": platform.python_version()}


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch.device that this machine can use, or a one-line ValueError
    (before any data is loaded or any network built)."""
    try:
        found = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be cpu, cuda, cuda:N or mps; got {device!r}") from err
    if found.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} needs a CUDA GPU and none is available here; use --device cpu")
    if found.type == "cuda" and found.index is not None and found.index >= torch.cuda.device_count():
        raise ValueError(f"device {device!r} does not exist: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    if found.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r} needs Apple's MPS and it is not available here; use --device cpu")
    if found.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be cpu, cuda, cuda:N or mps; got {device!r}")
    return found


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
