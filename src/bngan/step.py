"""One training iteration for one seed: D's update by the configured routine, then G's, with
the monitoring values (losses, D outputs, gradient norms, BN gaps) left on the device."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from .config import ExperimentConfig, TrainConfig
from .losses import d_loss_fn, d_score, g_loss_fn, make_targets
from .networks import layer_weights
from .probes import BNProbe, GBNProbe

@dataclass
class StepOutput:
    """What one iteration measured (device tensors; nothing is synced)."""

    loss_d: torch.Tensor
    loss_g: torch.Tensor
    d_real: torch.Tensor
    d_fake: torch.Tensor
    d_fake_g: torch.Tensor
    grads: dict[str, torch.Tensor] = field(default_factory=dict)
    gaps: dict[str, torch.Tensor] | None = None  # BN gaps by column (a seed group); None: read the probes


@dataclass
class DUpdate:
    """What one D update returns: its loss, mean D(real) and D(fake), and (when monitored)
    the gradient norms of the watched layers."""

    loss: torch.Tensor
    d_real: torch.Tensor
    d_fake: torch.Tensor
    grads: dict[str, torch.Tensor] = field(default_factory=dict)


@contextlib.contextmanager
def step_numerics(t: TrainConfig, device: torch.device, *, autocast_cache: bool = True) -> Iterator[None]:
    """The training step's numerics as ``t`` asks: bfloat16 autocast for ``precision='bf16'``
    (its cache of cast weights off with ``autocast_cache=False``, as CUDA-graph capture
    needs), deterministic kernels for ``deterministic`` (the global switches are restored after)."""
    with contextlib.ExitStack() as stack:
        if t.precision == "bf16":
            stack.enter_context(torch.autocast(device_type=device.type, dtype=torch.bfloat16,
                                               cache_enabled=autocast_cache))
        if t.deterministic:
            saved = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
                     torch.backends.cudnn.benchmark)
            if device.type == "cuda":  # cuBLAS needs a fixed workspace to repeat (PyTorch's reproducibility notes)
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False

            def restore() -> None:
                torch.use_deterministic_algorithms(saved[0])
                torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[1], saved[2]

            stack.callback(restore)
        yield


def instance_noise_scale(t: TrainConfig, step: int) -> float:
    """The std of the Gaussian noise added to D's inputs at ``step`` (0: none is drawn):
    ``instance_noise``, decayed linearly to 0 over ``instance_noise_decay`` steps if set."""
    if t.instance_noise <= 0:
        return 0.0
    decay = 1.0 if t.instance_noise_decay == 0 else max(0.0, 1.0 - step / t.instance_noise_decay)
    return t.instance_noise * decay if decay > 0 else 0.0


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
        scale = instance_noise_scale(self.t, step)
        return x + scale * torch.randn_like(x) if scale > 0 else x

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
        with step_numerics(self.t, self.device):
            return self._iteration(step, monitor)

    def _iteration(self, step: int, monitor: bool) -> StepOutput:
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

