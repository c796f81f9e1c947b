"""One training iteration, written once: D's update by the configured routine, then G's, and
what they measured.

The iteration is a function of the networks' state and of the step's random draws
(:func:`draw`: latents, real batches, instance noise, noisy labels and D's dropout masks, made
before any network runs, in one fixed order). It reaches the networks only through a
:class:`Nets` backend, which runs them, takes gradients and steps the optimizers:

* one seed (:class:`bngan.engine.step.GANStep`): the seed's own modules and optimizers, eagerly;
* a seed group (:class:`bngan.engine.seed_group.SeedGroup`): every seed's stacked parameters, each
  network call and each per-seed computation under ``torch.func.vmap``; a CUDA graph
  (:mod:`bngan.engine.step_graph`) replays the group's call of :func:`iteration`.

Every tensor the iteration handles is one seed's (eager) or the seeds' stacked along a leading
axis (a group); the per-seed arithmetic between network calls goes through ``nets.each``
(the function itself for one seed, ``vmap`` of it for a group), so the two are the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ContextManager, Protocol

import torch

from ..config import TrainConfig
from ..models.dropout import MaskShapes, draw_masks
from .losses import d_loss_fn, d_score, g_loss_fn, make_targets

Draws = dict[str, Any]  # one iteration's random draws by name: tensors, or lists of dropout masks
Gaps = dict[str, torch.Tensor]  # BN gaps by history column

#: The columns ``separate`` adds: each half-step's own gradient norm (``_real`` at the starting
#: weights, ``_fake`` after the real step).
D_HALF_COLUMNS = ("grad_d_bottom_real", "grad_d_top_real", "grad_d_bottom_fake", "grad_d_top_fake")


def instance_noise_scale(t: TrainConfig, step: int) -> float:
    """The std of the Gaussian noise added to D's inputs at ``step`` (0: none is drawn):
    ``instance_noise``, decayed linearly to 0 over ``instance_noise_decay`` steps if set."""
    if t.instance_noise <= 0:
        return 0.0
    decay = 1.0 if t.instance_noise_decay == 0 else max(0.0, 1.0 - step / t.instance_noise_decay)
    return t.instance_noise * decay if decay > 0 else 0.0


# --------------------------------------------------------------------------- the random draws

@dataclass
class Source:
    """Where one seed's draws come from: its real batches, the latent size, the shape of one
    sample and of D's dropout masks, and the device (the global random state is the seed's)."""

    sample_real: Callable[[], torch.Tensor]
    latent_dim: int
    sample_shape: tuple[int, ...]
    mask_shapes: MaskShapes
    device: torch.device

    def z(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, device=self.device)

    def masks(self, n: int) -> list[torch.Tensor]:
        return draw_masks(self.mask_shapes, n, self.device)


def d_forwards(t: TrainConfig) -> tuple[tuple[str, int], ...]:
    """D's train-mode forwards in one of its updates, (name, batches of ``batch_size``) in
    order: one joint batch (``combined``), or a real and a fake one."""
    return (("joint", 2),) if t.routine == "combined" else (("real", 1), ("fake", 1))


def draw_d_update(t: TrainConfig, step: int, monitor: bool, src: Source, key: str, into: Draws) -> None:
    """The draws of one D update, in order, into ``into`` under names starting with ``key``."""
    n, scale = t.batch_size, instance_noise_scale(t, step)
    into[key + "real"] = real = src.sample_real()
    if scale > 0:
        into[key + "eps_real"] = scale * torch.randn_like(real)
    if t.d_fakes != "reuse":
        into[key + "z"] = src.z(n)
    if scale > 0:
        into[key + "eps_fake"] = scale * torch.randn_like(real)
    labels = dict(real_label=t.real_label, fake_label=t.fake_label, flip_prob=t.flip_prob, device=src.device)
    into[key + "y_real"] = make_targets(True, n, **labels)
    into[key + "y_fake"] = make_targets(False, n, **labels)
    if monitor and t.routine == "separate":  # the fake half at the starting weights: the stream does not move
        with torch.random.fork_rng(devices=[src.device] if src.device.type == "cuda" else []):
            into[key + "m_fake0"] = src.masks(n)
    for name, batches in d_forwards(t):
        into[key + "m_" + name] = src.masks(batches * n)


def draw_g_update(t: TrainConfig, step: int, src: Source, key: str, into: Draws) -> None:
    """The draws of one G update, in order, into ``into`` under names starting with ``key``."""
    n, scale = t.batch_size, instance_noise_scale(t, step)
    if t.d_fakes != "reuse":
        into[key + "z"] = src.z(n)
    if scale > 0:
        into[key + "eps_seen"] = scale * torch.randn((n, *src.sample_shape), device=src.device)
    if t.g_bn_mode == "joint":
        into[key + "real"] = real = src.sample_real()
        if scale > 0:
            into[key + "eps_real"] = scale * torch.randn_like(real)
        into[key + "m"] = src.masks(2 * n)
    elif t.g_bn_mode == "train":
        into[key + "m"] = src.masks(n)


def draw(t: TrainConfig, step: int, monitor: bool, src: Source) -> Draws:
    """Every random draw of one iteration at ``step``, in the order the iteration uses them."""
    out: Draws = {}
    if t.d_fakes == "reuse":
        out["z_shared"] = src.z(t.batch_size)
    for i in range(t.d_steps):
        draw_d_update(t, step, monitor and i == t.d_steps - 1, src, f"d{i}_", out)
    for j in range(t.g_steps):
        draw_g_update(t, step, src, f"g{j}_", out)
    return out


# --------------------------------------------------------------------------- the networks

class Nets(Protocol):
    """What the iteration needs from the networks it trains (one seed's, or a group's)."""

    def generate(self, z: torch.Tensor, *, train: bool = True, probe: bool = False) -> tuple[torch.Tensor, Gaps]:
        """G's samples (train or eval mode), and its BN gaps when ``probe``."""

    def discriminate(self, x: torch.Tensor, masks: list[torch.Tensor] | None, tag: str | None = None,
          split: int | None = None, *, eval_mode: bool = False) -> tuple[torch.Tensor, Gaps]:
        """D's logits with the given dropout masks, and its BN gaps by column when ``tag``."""

    def each(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn`` of one seed's tensors, for every seed."""

    def grads(self, loss: torch.Tensor, net: str, *, watched: bool = False) -> dict[str, torch.Tensor | None]:
        """Gradient of ``loss`` for each parameter of ``net`` (``g`` or ``d``) by name (only the
        watched bottom and top weights with ``watched``); ``None`` where it does not reach."""

    def step(self, net: str, grads: dict[str, torch.Tensor | None]) -> None:
        """One optimizer step of ``net`` with ``grads``."""

    def watched(self, net: str) -> dict[str, str]:
        """The parameter names of ``net``'s monitored bottom and top weights."""

    def parameter(self, net: str, name: str) -> torch.Tensor:
        """``net``'s parameter ``name`` (a group's: stacked)."""

    def norm(self, grad: torch.Tensor) -> torch.Tensor:
        """A gradient's norm (per seed)."""

    def buffers_kept(self, net: str) -> ContextManager[None]:
        """A block after which ``net``'s buffers (BN running statistics) are as before."""

    def g_step(self) -> ContextManager[None]:
        """The block of G's update (one seed freezes D's parameters in it)."""


def grad_norms(nets: Nets, grads: dict[str, torch.Tensor | None], net: str, suffix: str = "") -> dict[str, torch.Tensor]:
    """``grad_<net>_bottom`` and ``grad_<net>_top`` (with ``suffix``) of ``grads``."""
    return {f"grad_{net}_{where}{suffix}": nets.norm(_or_zero(grads[name], nets, net, name))
            for where, name in nets.watched(net).items()}


def _or_zero(grad: torch.Tensor | None, nets: Nets, net: str, name: str) -> torch.Tensor:
    return grad if grad is not None else torch.zeros_like(nets.parameter(net, name))


def _noisy(x: torch.Tensor, eps: torch.Tensor | None) -> torch.Tensor:
    """``x`` with its instance noise (drawn already scaled), if any."""
    return x if eps is None else x + eps


def _cat(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cat([a, b])


# --------------------------------------------------------------------------- the updates

@dataclass
class DUpdate:
    """What one D update returns: its loss, mean D(real) and D(fake), and (when monitored)
    the gradient norms of the watched layers and D's BN gaps (a group's; one seed's stay in
    its probes)."""

    loss: torch.Tensor
    d_real: torch.Tensor
    d_fake: torch.Tensor
    grads: dict[str, torch.Tensor] = field(default_factory=dict)
    gaps: Gaps = field(default_factory=dict)


@dataclass
class GUpdate:
    """What one G update returns: its loss, mean D output on the fakes as G's step sees them,
    G's gradients (for the monitored norms) and G's BN gaps."""

    loss: torch.Tensor
    d_fake_g: torch.Tensor
    grads: dict[str, torch.Tensor | None]
    gaps: Gaps


def d_update(nets: Nets, t: TrainConfig, r: Draws, key: str, monitor: bool,
             shared: torch.Tensor | None = None) -> DUpdate:
    """One D update by ``t.routine`` from the draws under ``key``: ``combined`` (one joint
    batch), ``split`` (a real and a fake forward, one step) or ``separate`` (a real-only step,
    then a fake-only step). ``shared`` fakes (``d_fakes="reuse"``) are used when given, else G
    makes them as ``t.d_fakes`` says (``keras``: in inference mode, as Keras' ``predict``).

    Monitored D gradients are the same quantity for every routine: ``grad_d_bottom`` and
    ``grad_d_top`` are the norms of the gradient of D's whole objective (the mean of the real
    and the fake loss, each normalized as the routine normalizes it) at the weights D had
    before the update; ``separate`` also logs each half-step's own (:data:`D_HALF_COLUMNS`).
    """
    n, kind = t.batch_size, t.loss
    real = _noisy(r[key + "real"], r.get(key + "eps_real"))
    if shared is None:
        with torch.no_grad():
            fake = nets.generate(r[key + "z"], train=t.d_fakes != "keras")[0]
    else:
        fake = shared
    fake = _noisy(fake.detach(), r.get(key + "eps_fake"))
    y_real, y_fake = r[key + "y_real"], r[key + "y_fake"]

    def tag(name: str) -> str | None:
        return name if monitor else None

    def score(logits: torch.Tensor) -> torch.Tensor:
        return d_score(kind, logits.detach())

    report: dict[str, torch.Tensor] = {}
    if t.routine in ("combined", "split"):
        if t.routine == "combined":
            logits, gaps = nets.discriminate(nets.each(_cat, real, fake), r[key + "m_joint"], tag("joint"), n)
            loss, d_real, d_fake = nets.each(
                lambda l, yr, yf: (d_loss_fn(kind, l, torch.cat([yr, yf])), score(l[:n]), score(l[n:])),
                logits, y_real, y_fake)
        else:
            logits_real, gaps = nets.discriminate(real, r[key + "m_real"], tag("real"))
            logits_fake, gaps_fake = nets.discriminate(fake, r[key + "m_fake"], tag("fake"))
            gaps = {**gaps, **gaps_fake}
            loss, d_real, d_fake = nets.each(
                lambda lr, lf, yr, yf: (0.5 * (d_loss_fn(kind, lr, yr) + d_loss_fn(kind, lf, yf)), score(lr), score(lf)),
                logits_real, logits_fake, y_real, y_fake)
        grads = nets.grads(loss, "d")
        if monitor:
            report = grad_norms(nets, grads, "d")
        nets.step("d", grads)
        return DUpdate(loss.detach(), d_real, d_fake, report, gaps)

    # separate: a real-only step, then a fake-only step
    if monitor:  # the fake half's gradient at the starting weights, D's buffers left alone
        with nets.buffers_kept("d"):
            logits0 = nets.discriminate(fake, r[key + "m_fake0"])[0]
            at_start = nets.grads(nets.each(lambda l, y: d_loss_fn(kind, l, y), logits0, y_fake), "d", watched=True)
    halves, gaps = {}, {}
    for name, x, y in (("real", real, y_real), ("fake", fake, y_fake)):
        logits, part = nets.discriminate(x, r[key + "m_" + name], tag(name))
        half_loss, half_score = nets.each(lambda l, yy: (d_loss_fn(kind, l, yy), score(l)), logits, y)
        half_grads = nets.grads(half_loss, "d")
        halves[name] = (half_loss, half_score, half_grads)
        gaps.update(part)
        nets.step("d", half_grads)
    if monitor:
        for where, weight in nets.watched("d").items():
            g_real = _or_zero(halves["real"][2][weight], nets, "d", weight)
            g_fake = _or_zero(halves["fake"][2][weight], nets, "d", weight)
            g_fake0 = _or_zero(at_start[weight], nets, "d", weight)
            report[f"grad_d_{where}"] = nets.norm(0.5 * (g_real + g_fake0))
            report[f"grad_d_{where}_real"] = nets.norm(g_real)
            report[f"grad_d_{where}_fake"] = nets.norm(g_fake)
    loss = 0.5 * (halves["real"][0] + halves["fake"][0])
    return DUpdate(loss.detach(), halves["real"][1], halves["fake"][1], report, gaps)


def g_update(nets: Nets, t: TrainConfig, r: Draws, key: str, monitor: bool, shared: torch.Tensor | None = None,
             shared_gaps: Gaps | None = None) -> GUpdate:
    """One G update from the draws under ``key``; D normalizes as ``t.g_bn_mode`` says
    (``train``: the fakes alone; ``eval``: running statistics; ``joint``: with a fresh real
    batch) and is not updated. ``shared`` fakes (made by G in train mode, with their graph) are
    used when given. D sees the fakes (and in ``joint`` mode the reals) with the same instance
    noise as in its own step; ``g_shift_weight`` adds source 001's push to the right."""
    n, kind, w = t.batch_size, t.loss, t.g_shift_weight
    with nets.g_step():
        if shared is None:
            fake, gaps = nets.generate(r[key + "z"], probe=monitor)
        else:
            fake, gaps = shared, dict(shared_gaps or {})
        seen = _noisy(fake, r.get(key + "eps_seen"))
        if t.g_bn_mode == "eval":
            logits = nets.discriminate(seen, None, eval_mode=True)[0]
        elif t.g_bn_mode == "joint":
            real = _noisy(r[key + "real"], r.get(key + "eps_real"))
            logits = nets.each(lambda l: l[n:], nets.discriminate(nets.each(_cat, real, seen), r[key + "m"])[0])
        else:
            logits = nets.discriminate(seen, r[key + "m"])[0]

        def objective(l: torch.Tensor, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            loss = g_loss_fn(kind, l)
            if w:
                loss = loss - w * f.flatten(1)[:, 0].mean()
            return loss, d_score(kind, l.detach())

        loss, d_fake_g = nets.each(objective, logits, fake)
        grads = nets.grads(loss, "g")
        nets.step("g", grads)
    return GUpdate(loss.detach(), d_fake_g, grads, gaps)


def iteration(nets: Nets, t: TrainConfig, r: Draws, monitor: bool) -> dict[str, torch.Tensor]:
    """One iteration from its draws ``r``: ``t.d_steps`` D updates, then ``t.g_steps`` G
    updates (with ``d_fakes="reuse"`` one batch of fakes from G in train mode feeds both).
    Returns what it measured by history column: losses and mean D outputs, and when
    ``monitor`` the watched gradient norms (of the last D and G update) and BN gaps.
    Nothing here draws a random number or syncs with the host."""
    shared, shared_gaps = nets.generate(r["z_shared"], probe=monitor) if t.d_fakes == "reuse" else (None, {})
    for i in range(t.d_steps):
        out_d = d_update(nets, t, r, f"d{i}_", monitor and i == t.d_steps - 1, shared)
    for j in range(t.g_steps):
        out_g = g_update(nets, t, r, f"g{j}_", monitor and j == t.g_steps - 1, shared, shared_gaps)
    columns = {"loss_d": out_d.loss, "loss_g": out_g.loss, "d_real": out_d.d_real, "d_fake": out_d.d_fake,
               "d_fake_g": out_g.d_fake_g}
    if monitor:
        columns.update(out_d.grads)
        columns.update(grad_norms(nets, out_g.grads, "g"))
        columns.update(out_d.gaps)
        columns.update(out_g.gaps)
    return columns
