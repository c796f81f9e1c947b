"""Seed groups: every seed of one config trained at once, one forward and backward for all.

The seeds' parameters, BN buffers and optimizer states are stacked along a leading axis and
each network runs once per pass under ``torch.func.vmap`` (PyTorch's model-ensembling
recipe, with per-seed buffers so BN keeps per-seed running statistics). Each seed keeps its
own random stream: before the batched compute, the step's latents, noise labels, instance
noise and D's dropout masks are drawn seed by seed from that seed's saved global random
state, with the calls and in the order :class:`~bngan.engine.step.GANStep` makes them, so seed k's
run is the one-seed run of seed k up to float rounding (tests/test_seed_group.py checks it).

The per-seed trainers (each a :class:`Seed`; in training a :class:`~bngan.runs.trainer.Trainer`)
keep what is per run (folder, history, snapshots, checkpoints, record); the group writes its
state back into their networks, optimizers and random states whenever they need it
(snapshots, evaluations, checkpoints, a diverged seed, the end).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import torch
from torch import nn
from torch.func import functional_call, vmap

from ..config import ExperimentConfig
from ..models.dropout import dropout_shapes, given, swap_dropout
from ..models.networks import build_networks, layer_weights, make_optimizer
from . import routine
from .probes import GBNProbe, tagged_gaps
from .routine import Draws
from .step import StepOutput, rng_state, set_rng_state, step_numerics

GroupOutput = dict[str, torch.Tensor]  # what one iteration measured: a [seeds] tensor per column
_SCORES = ("loss_d", "loss_g", "d_real", "d_fake", "d_fake_g")  # StepOutput's leading fields, in order


class SeedGroupUnsupported(ValueError):
    """A setting the seed group cannot batch (its seeds then run one by one)."""


def _stack_optimizer_state(optimizers: list[torch.optim.Optimizer], stacked: list[torch.Tensor],
                           target: torch.optim.Optimizer) -> None:
    """Give ``target`` (over the stacked parameters) the seeds' optimizer states, stacked.
    A capturable ``target`` keeps its step count on the device, as CUDA graphs need."""
    per_seed = [list(opt.state[p] for p in opt.param_groups[0]["params"]) for opt in optimizers]
    capturable = target.defaults.get("capturable", False)
    for i, param in enumerate(stacked):
        states = [seed_states[i] for seed_states in per_seed]
        if not states[0]:
            continue
        # "step" (a count) is the same for every seed; the rest (moments) is per element
        target.state[param] = {
            key: (value.to(param.device, torch.float32, copy=True) if capturable else value.clone()) if key == "step"
            else torch.stack([s[key] for s in states])
            for key, value in states[0].items()}


def _unstack_optimizer_state(source: torch.optim.Optimizer, stacked: list[torch.Tensor],
                             optimizer: torch.optim.Optimizer, k: int) -> None:
    """Write seed ``k``'s slice of ``source``'s state into its own ``optimizer`` (a step
    count kept on the device by a capturable ``source`` goes back to the CPU, where the
    seed's own optimizer keeps it)."""
    capturable = optimizer.defaults.get("capturable", False)
    for param, stacked_param in zip(optimizer.param_groups[0]["params"], stacked):
        state = source.state.get(stacked_param)
        if state:
            optimizer.state[param] = {
                key: (value.clone() if capturable else value.detach().to("cpu", copy=True)) if key == "step"
                else value[k].clone()
                for key, value in state.items()}


class Seed(Protocol):
    """What the group needs of each seed: its networks, optimizers, batches and random stream
    (a :class:`bngan.runs.trainer.Trainer` is one; the engine knows no run folders)."""

    config: ExperimentConfig
    device: torch.device
    step: int
    g: nn.Module
    d: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    sampler: Any  # a bngan.data.BatchSampler
    rng_stream: dict[str, torch.Tensor] | None
    engine: str  # how its steps ran, for its record


class SeedGroup:
    """The trainers of one config's seeds (all at the same step), stepped together.

    One call of the group is one iteration of every seed; it returns one
    :class:`~bngan.engine.step.StepOutput` per seed (with the BN gaps in ``gaps``).
    """

    def __init__(self, trainers: list[Seed], *, capturable: bool = False) -> None:
        steps = {tr.step for tr in trainers}
        if len(steps) != 1:
            raise ValueError(f"a seed group steps its seeds together; these are at steps {sorted(steps)}")
        self.trainers, self.capturable = trainers, capturable
        first = trainers[0]
        self.config, self.t, self.device = first.config, first.config.train, first.device
        self.n = self.t.batch_size
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            g_template, d_template = (net.to(self.device) for net in build_networks(self.config))
        self.g_t, self.d_t = g_template.train(), d_template.train()
        self.d_masks = swap_dropout(self.d_t)
        if any(isinstance(m, nn.Dropout) for m in self.g_t.modules()):
            raise SeedGroupUnsupported("a seed group needs a generator without dropout")
        try:
            shapes = dropout_shapes(self.d_t, self.config.data.sample_shape) if self.d_masks else []
        except ValueError as error:
            raise SeedGroupUnsupported(str(error)) from None
        self.sources = [routine.Source(tr.sampler, self.config.model.latent_dim, self.config.data.sample_shape, shapes,
                                       self.device) for tr in trainers]
        self._hook_probes()
        self.streams = [tr.rng_stream for tr in trainers]
        self._stack()

    # ----------------------------------------------------------------- stacking

    def _stack(self) -> None:
        """Stack the seeds' parameters, buffers and optimizer states (leaf tensors on the device)."""
        trs = self.trainers

        def stacked(get) -> dict[str, torch.Tensor]:
            named = [dict(get(tr)) for tr in trs]
            return {name: torch.stack([n[name].detach() for n in named]).clone() for name in named[0]}

        self.pg = {k: v.requires_grad_() for k, v in stacked(lambda tr: tr.g.named_parameters()).items()}
        self.pd = {k: v.requires_grad_() for k, v in stacked(lambda tr: tr.d.named_parameters()).items()}
        self.bg = stacked(lambda tr: tr.g.named_buffers())
        self.bd = stacked(lambda tr: tr.d.named_buffers())
        self.opt_g = make_optimizer(self.config, list(self.pg.values()), self.t.lr_g, capturable=self.capturable)
        self.opt_d = make_optimizer(self.config, list(self.pd.values()), self.t.lr_d, capturable=self.capturable)
        _stack_optimizer_state([tr.opt_g for tr in trs], list(self.pg.values()), self.opt_g)
        _stack_optimizer_state([tr.opt_d for tr in trs], list(self.pd.values()), self.opt_d)
        self.watch_g = self._watched(trs[0].g)
        self.watch_d = self._watched(trs[0].d)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Every tensor the group's iteration updates in place (parameters, BN buffers,
        optimizer states), by a readable name: what a CUDA graph of it must leave in place."""
        found = {}
        for net, params, buffers, opt in (("g", self.pg, self.bg, self.opt_g), ("d", self.pd, self.bd, self.opt_d)):
            found.update({f"{net}.{name}": p for name, p in params.items()})
            found.update({f"{net}.{name}": b for name, b in buffers.items()})
            for name, p in params.items():
                found.update({f"{net}.{name}:{key}": v for key, v in opt.state.get(p, {}).items()
                              if isinstance(v, torch.Tensor)})
        return found

    @staticmethod
    def _watched(model: nn.Module) -> dict[str, str]:
        """Bottom and top watched weights of ``model`` by parameter name (as GANStep watches)."""
        names = {id(p): name for name, p in model.named_parameters()}
        layers = layer_weights(model)
        return {"bottom": names[id(layers[0])], "top": names[id(layers[-1])]}

    @torch.no_grad()
    def write_back(self, networks_only: bool = False) -> None:
        """Copy every seed's slice of the stacked state into its own trainer (and, unless
        ``networks_only``, its optimizers)."""
        for k, tr in enumerate(self.trainers):
            for model, params, buffers in ((tr.g, self.pg, self.bg), (tr.d, self.pd, self.bd)):
                own = dict(model.named_parameters())
                for name, value in params.items():
                    own[name].copy_(value[k])
                own_buffers = dict(model.named_buffers())
                for name, value in buffers.items():
                    own_buffers[name].copy_(value[k])
            if not networks_only:
                _unstack_optimizer_state(self.opt_g, list(self.pg.values()), tr.opt_g, k)
                _unstack_optimizer_state(self.opt_d, list(self.pd.values()), tr.opt_d, k)

    def without(self, gone: list[Seed]) -> SeedGroup:
        """The group of the other seeds (after :meth:`write_back`), each with its stream."""
        for k, tr in enumerate(self.trainers):
            tr.rng_stream = self.streams[k]
        return SeedGroup([tr for tr in self.trainers if tr not in gone], capturable=self.capturable)

    @contextlib.contextmanager
    def stream(self, k: int) -> Iterator[None]:
        """Draw from seed ``k``'s random stream inside the block (the global state is swapped)."""
        set_rng_state(self.streams[k], self.device)
        try:
            yield
        finally:
            self.streams[k] = rng_state(self.device)

    # ----------------------------------------------------------------- networks under vmap

    def _hook_probes(self) -> None:
        self._probe: dict[str, object] = {}
        self._gaps: dict[str, torch.Tensor] = {}
        d_bns = [m for m in self.d_t.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        g_bns = [m for m in self.g_t.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]

        def d_hook(index: int):
            def hook(module, inputs):
                tag = self._probe.get("d")
                if tag is not None and module.training and module.running_mean is not None:
                    self._gaps.update(tagged_gaps(module, inputs[0], index, tag, self._probe.get("split")))
            return hook

        def g_hook(index: int):
            def hook(module, inputs):
                if self._probe.get("g") and module.training and module.running_mean is not None:
                    mean, var = GBNProbe.gaps(module, inputs[0])
                    self._gaps[f"g_bn{index}_gap_mean"], self._gaps[f"g_bn{index}_gap_var"] = mean, var
            return hook

        for i, layer in enumerate(d_bns):
            layer.register_forward_pre_hook(d_hook(i))
        for i, layer in enumerate(g_bns):
            layer.register_forward_pre_hook(g_hook(i))

    def _d(self, x: torch.Tensor, masks: list[torch.Tensor], tag: str | None = None,
           split: int | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """D's logits for every seed (``x``: seeds first), and BN gaps by column when ``tag``."""
        def one(p, b, x, masks):
            self._probe, self._gaps = {"d": tag, "split": split}, {}
            try:
                with given(self.d_masks, masks):
                    return functional_call(self.d_t, (p, b), (x,)), self._gaps
            finally:
                self._probe, self._gaps = {}, {}

        return vmap(one, randomness="error")(self.pd, self.bd, x, masks)

    def _g(self, z: torch.Tensor, *, train: bool = True, probe: bool = False) -> tuple[torch.Tensor, dict]:
        """G's samples for every seed (``z``: seeds first): train or eval mode, gaps when ``probe``."""
        def one(p, b, z):
            self._probe, self._gaps = {"g": probe}, {}
            try:
                return functional_call(self.g_t, (p, b), (z,)), self._gaps
            finally:
                self._probe, self._gaps = {}, {}

        self.g_t.train(train)
        try:
            return vmap(one, randomness="error")(self.pg, self.bg, z)
        finally:
            self.g_t.train()

    # ----------------------------------------------------------------- the draws, per seed

    def draws(self, step: int, monitor: bool) -> Draws:
        """Every seed's random draws for ``step`` (:func:`bngan.engine.routine.draw`), stacked seeds
        first (drawn from the seeds' own streams, which move on)."""
        per_seed = []
        for k, source in enumerate(self.sources):
            with self.stream(k):
                per_seed.append(routine.draw(self.t, step, monitor, source))
        stacked: Draws = {}
        for key, first in per_seed[0].items():
            if isinstance(first, list):
                stacked[key] = [torch.stack([seed[key][i] for seed in per_seed]) for i in range(len(first))]
            else:
                stacked[key] = torch.stack([seed[key] for seed in per_seed])
        return stacked

    # ----------------------------------------------------------------- routine.Nets, for the group

    def generate(self, z: torch.Tensor, *, train: bool = True, probe: bool = False) -> tuple[torch.Tensor, dict]:
        return self._g(z, train=train, probe=probe)

    def discriminate(self, x: torch.Tensor, masks: list[torch.Tensor] | None, tag: str | None = None,
                     split: int | None = None, *, eval_mode: bool = False) -> tuple[torch.Tensor, dict]:
        if not eval_mode:
            return self._d(x, masks, tag, split)
        self.d_t.eval()
        try:
            return self._d(x, [], tag, split)
        finally:
            self.d_t.train()

    def each(self, fn: Callable, *args):
        return vmap(fn, randomness="error")(*args)

    def grads(self, loss: torch.Tensor, net: str, *, watched: bool = False) -> dict[str, torch.Tensor | None]:
        """Each seed's gradient (the seeds' losses are independent, so one backward of their sum)."""
        params = self.pd if net == "d" else self.pg
        names = list(self.watched(net).values()) if watched else list(params)
        return dict(zip(names, torch.autograd.grad(loss.sum(), [params[n] for n in names], allow_unused=True)))

    def step(self, net: str, grads: dict[str, torch.Tensor | None]) -> None:
        params, optimizer = (self.pd, self.opt_d) if net == "d" else (self.pg, self.opt_g)
        for name, param in params.items():
            param.grad = grads[name]
        optimizer.step()

    def watched(self, net: str) -> dict[str, str]:
        return self.watch_d if net == "d" else self.watch_g

    def parameter(self, net: str, name: str) -> torch.Tensor:
        return (self.pd if net == "d" else self.pg)[name]

    def norm(self, grad: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(grad.flatten(1), dim=1)

    @contextlib.contextmanager
    def buffers_kept(self, net: str) -> Iterator[None]:
        buffers = self.bd if net == "d" else self.bg
        saved = {name: b.clone() for name, b in buffers.items()}
        try:
            yield
        finally:
            with torch.no_grad():
                for name, b in buffers.items():
                    b.copy_(saved[name])

    def g_step(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    # ----------------------------------------------------------------- the step

    def __call__(self, step: int, monitor: bool = False) -> list[StepOutput]:
        with step_numerics(self.t, self.device):
            return self.split(self.compute(self.draws(step, monitor), monitor))

    def compute(self, r: Draws, monitor: bool) -> GroupOutput:
        """One iteration of every seed from its draws ``r`` (:func:`bngan.engine.routine.iteration`):
        the updates, then what they measured as one ``[seeds]`` tensor per column. Nothing here
        draws a random number, reads the step or syncs with the host, so a CUDA graph can
        replay it (:mod:`bngan.engine.step_graph`)."""
        return routine.iteration(self, self.t, r, monitor)

    def split(self, out: GroupOutput) -> list[StepOutput]:
        """The seeds' own :class:`~bngan.engine.step.StepOutput` from the group's columns."""
        grads = [name for name in out if name.startswith("grad_")]
        gaps = [name for name in out if name not in grads and name not in _SCORES]
        return [StepOutput(*(out[name][k] for name in _SCORES), {name: out[name][k] for name in grads},
                           {name: out[name][k] for name in gaps})
                for k in range(len(self.trainers))]
