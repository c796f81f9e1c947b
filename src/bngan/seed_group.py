"""Seed groups: every seed of one config trained at once, one forward and backward for all.

The seeds' parameters, BN buffers and optimizer states are stacked along a leading axis and
each network runs once per pass under ``torch.func.vmap`` (PyTorch's model-ensembling
recipe, with per-seed buffers so BN keeps per-seed running statistics). Each seed keeps its
own random stream: before the batched compute, the step's latents, noise labels, instance
noise and D's dropout masks are drawn seed by seed from that seed's saved global random
state, with the calls and in the order :class:`~bngan.step.GANStep` makes them, so seed k's
run is the one-seed run of seed k up to float rounding (tests/test_seed_group.py checks it).

The per-seed :class:`~bngan.trainer.Trainer` objects keep what is per run (folder, history,
snapshots, checkpoints, record); the group writes its state back into their networks,
optimizers and random states whenever they need it (snapshots, evaluations, checkpoints,
a diverged seed, the end).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from .losses import d_loss_fn, d_score, g_loss_fn, make_targets
from .networks import build_networks, layer_weights, make_optimizer
from .probes import GBNProbe, tagged_gaps
from .step import StepOutput, instance_noise_scale, step_numerics
from .trainer import Trainer, rng_state, set_rng_state

Draws = dict[str, "torch.Tensor | list[torch.Tensor]"]  # one iteration's random draws, seeds first
GroupOutput = dict[str, torch.Tensor]  # what one iteration measured: a [seeds] tensor per column
_SCORES = ("loss_d", "loss_g", "d_real", "d_fake", "d_fake_g")  # StepOutput's leading fields, in order


class SeedGroupUnsupported(ValueError):
    """A setting the seed group cannot batch (its seeds then run one by one)."""


class _GivenMask(nn.Module):
    """Dropout whose scaled mask is drawn outside ``vmap`` (per seed, from its own stream)."""

    def __init__(self) -> None:
        super().__init__()
        self.mask: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mask if self.training else x


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


class SeedGroup:
    """The trainers of one config's seeds (all at the same step), stepped together.

    One call of the group is one iteration of every seed; it returns one
    :class:`~bngan.step.StepOutput` per seed (with the BN gaps in ``gaps``).
    """

    def __init__(self, trainers: list[Trainer], *, capturable: bool = False) -> None:
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
        self.d_masks = self._swap_dropout(self.d_t)
        if any(isinstance(m, nn.Dropout) for m in self.g_t.modules()):
            raise SeedGroupUnsupported("a seed group needs a generator without dropout")
        self.mask_shapes = self._dropout_shapes(first.d, first.train_data)
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

    def without(self, gone: list[Trainer]) -> SeedGroup:
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

    @staticmethod
    def _swap_dropout(model: nn.Module) -> list[_GivenMask]:
        swapped = []
        for parent in list(model.modules()):
            for name, child in list(parent.named_children()):
                if isinstance(child, nn.Dropout):
                    given = _GivenMask()
                    setattr(parent, name, given)
                    swapped.append(given)
        return swapped

    @staticmethod
    @torch.no_grad()
    def _dropout_shapes(d: nn.Module, data: torch.Tensor) -> list[tuple[tuple[int, ...], float]]:
        """(shape per sample, p) of each dropout layer of D, in the order a forward meets them,
        which must be the order of its modules (the order the masks are handed out)."""
        found: list[tuple[tuple[int, ...], float]] = []
        met: list[nn.Module] = []
        layers = [m for m in d.modules() if isinstance(m, nn.Dropout)]
        handles = [m.register_forward_pre_hook(lambda m, inp: found.append((tuple(inp[0].shape[1:]), m.p))
                                               or met.append(m)) for m in layers]
        was_training = d.training
        d.eval()
        try:
            d(data[:2])
        finally:
            d.train(was_training)
            for h in handles:
                h.remove()
        if met != layers:
            raise SeedGroupUnsupported("D's dropout layers run in another order than they are registered")
        return found

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
            for layer, mask in zip(self.d_masks, masks):
                layer.mask = mask
            self._probe, self._gaps = {"d": tag, "split": split}, {}
            try:
                return functional_call(self.d_t, (p, b), (x,)), self._gaps
            finally:
                self._probe, self._gaps = {}, {}
                for layer in self.d_masks:
                    layer.mask = None

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

    # ----------------------------------------------------------------- random draws, per seed

    def _masks(self, batch: int) -> list[torch.Tensor]:
        """D's dropout factors for one train-mode forward of ``batch`` samples, drawn with the
        call nn.Dropout makes (a mask of ones through F.dropout), so the stream moves alike."""
        return [F.dropout(torch.ones((batch, *shape), device=self.device), p, True) for shape, p in self.mask_shapes]

    def _draw(self, k: int, step: int, monitor: bool) -> dict[str, object]:
        """Everything random in one iteration of seed ``k``, in the order GANStep draws it."""
        t, n, tr = self.t, self.n, self.trainers[k]
        latent = self.config.model.latent_dim
        scale = instance_noise_scale(t, step)  # the noise is drawn scaled (as GANStep computes scale * eps)
        targets = dict(real_label=t.real_label, fake_label=t.fake_label, flip_prob=t.flip_prob, device=self.device)
        out: dict[str, object] = {}

        def z() -> torch.Tensor:
            return torch.randn(n, latent, device=self.device)

        if t.d_fakes == "reuse":
            out["z_shared"] = z()
        for i in range(t.d_steps):
            key, watched = f"d{i}_", monitor and i == t.d_steps - 1
            out[key + "real"] = real = tr.sampler()
            if scale > 0:
                out[key + "eps_real"] = scale * torch.randn_like(real)
            if t.d_fakes != "reuse":
                out[key + "z"] = z()
            if scale > 0:
                out[key + "eps_fake"] = scale * torch.randn_like(real)
            out[key + "y_real"] = make_targets(True, n, **targets)
            out[key + "y_fake"] = make_targets(False, n, **targets)
            if t.routine == "combined":
                out[key + "m_joint"] = self._masks(2 * n)
            elif t.routine == "split":
                out[key + "m_real"], out[key + "m_fake"] = self._masks(n), self._masks(n)
            else:
                if watched:  # GANStep draws these inside fork_rng: the stream does not move
                    with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
                        out[key + "m_fake0"] = self._masks(n)
                out[key + "m_real"], out[key + "m_fake"] = self._masks(n), self._masks(n)
        for j in range(t.g_steps):
            key = f"g{j}_"
            if t.d_fakes != "reuse":
                out[key + "z"] = z()
            if scale > 0:
                out[key + "eps_seen"] = scale * torch.randn_like(tr.train_data[:n])
            if t.g_bn_mode == "joint":
                out[key + "real"] = real = tr.sampler()
                if scale > 0:
                    out[key + "eps_real"] = scale * torch.randn_like(real)
                out[key + "m"] = self._masks(2 * n)
            elif t.g_bn_mode == "train":
                out[key + "m"] = self._masks(n)
        return out

    def draws(self, step: int, monitor: bool) -> Draws:
        """Every seed's random draws for ``step``, stacked seeds first (drawn from the seeds'
        own streams, which move on)."""
        per_seed = []
        for k in range(len(self.trainers)):
            with self.stream(k):
                per_seed.append(self._draw(k, step, monitor))
        stacked: dict[str, object] = {}
        for key, first in per_seed[0].items():
            if isinstance(first, list):
                stacked[key] = [torch.stack([seed[key][i] for seed in per_seed]) for i in range(len(first))]
            else:
                stacked[key] = torch.stack([seed[key] for seed in per_seed])
        return stacked

    # ----------------------------------------------------------------- the step

    def _grads(self, loss: torch.Tensor, params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Each seed's gradient (the seeds' losses are independent, so one backward of their sum)."""
        return dict(zip(params, torch.autograd.grad(loss.sum(), list(params.values()))))

    @staticmethod
    def _norms(grads: dict[str, torch.Tensor], watch: dict[str, str], prefix: str) -> dict[str, torch.Tensor]:
        return {f"{prefix}_{where}": torch.linalg.vector_norm(grads[name].flatten(1), dim=1)
                for where, name in watch.items()}

    @staticmethod
    def _apply(optimizer: torch.optim.Optimizer, params: dict[str, torch.Tensor], grads: dict[str, torch.Tensor]):
        for name, param in params.items():
            param.grad = grads[name]
        optimizer.step()

    def _d_update(self, r: dict, i: int, monitor: bool, shared: torch.Tensor | None):
        t, n, kind = self.t, self.n, self.t.loss
        key = f"d{i}_"

        def noisy(x: torch.Tensor, eps: str) -> torch.Tensor:  # the instance noise comes scaled
            return x + r[key + eps] if key + eps in r else x

        real = noisy(r[key + "real"], "eps_real")
        if shared is not None:
            fake = shared.detach()
        else:
            with torch.no_grad():
                fake = self._g(r[key + "z"], train=t.d_fakes != "keras")[0]
        fake = noisy(fake.detach(), "eps_fake")
        y_real, y_fake = r[key + "y_real"], r[key + "y_fake"]
        loss_of = lambda logits, y: vmap(lambda l, yy: d_loss_fn(kind, l, yy))(logits, y)  # noqa: E731
        grads, gaps = {}, {}
        if t.routine in ("combined", "split"):
            if t.routine == "combined":
                logits, gaps = self._d(torch.cat([real, fake], 1), r[key + "m_joint"], "joint" if monitor else None, n)
                loss = loss_of(logits, torch.cat([y_real, y_fake], 1))
                logits_real, logits_fake = logits[:, :n], logits[:, n:]
            else:
                logits_real, gaps_real = self._d(real, r[key + "m_real"], "real" if monitor else None)
                logits_fake, gaps_fake = self._d(fake, r[key + "m_fake"], "fake" if monitor else None)
                gaps = {**gaps_real, **gaps_fake}
                loss = 0.5 * (loss_of(logits_real, y_real) + loss_of(logits_fake, y_fake))
            d_grads = self._grads(loss, self.pd)
            if monitor:
                grads = self._norms(d_grads, self.watch_d, "grad_d")
            self._apply(self.opt_d, self.pd, d_grads)
        else:  # separate: a real-only step, then a fake-only step
            watched = list(self.watch_d.values())
            if monitor:  # the fake half's gradient at the starting weights, buffers left alone
                saved = {name: b.clone() for name, b in self.bd.items()}
                logits0 = self._d(fake, r[key + "m_fake0"])[0]
                fake0 = dict(zip(watched, torch.autograd.grad(loss_of(logits0, y_fake).sum(),
                                                              [self.pd[w] for w in watched])))
                with torch.no_grad():
                    for name, b in self.bd.items():
                        b.copy_(saved[name])
            halves = {}
            for tag, x, y in (("real", real, y_real), ("fake", fake, y_fake)):
                logits, part_gaps = self._d(x, r[key + f"m_{tag}"], tag if monitor else None)
                half_loss = loss_of(logits, y)
                half_grads = self._grads(half_loss, self.pd)
                halves[tag] = (logits, half_loss, half_grads)
                gaps.update(part_gaps)
                self._apply(self.opt_d, self.pd, half_grads)
            logits_real, logits_fake = halves["real"][0], halves["fake"][0]
            loss = 0.5 * (halves["real"][1] + halves["fake"][1])
            if monitor:
                for where, name in self.watch_d.items():
                    g_real, g_fake = halves["real"][2][name], halves["fake"][2][name]
                    norm = lambda g: torch.linalg.vector_norm(g.flatten(1), dim=1)  # noqa: E731
                    grads[f"grad_d_{where}"] = norm(0.5 * (g_real + fake0[name]))
                    grads[f"grad_d_{where}_real"] = norm(g_real)
                    grads[f"grad_d_{where}_fake"] = norm(g_fake)
        score = lambda logits: vmap(lambda l: d_score(kind, l))(logits.detach())  # noqa: E731
        return loss.detach(), score(logits_real), score(logits_fake), grads, gaps

    def _g_update(self, r: dict, j: int, monitor: bool, shared: torch.Tensor | None, shared_gaps: dict):
        t, n, kind = self.t, self.n, self.t.loss
        key = f"g{j}_"

        def noisy(x: torch.Tensor, eps: str) -> torch.Tensor:
            return x + r[key + eps] if key + eps in r else x

        if shared is None:
            fake, gaps = self._g(r[key + "z"], probe=monitor)
        else:
            fake, gaps = shared, shared_gaps
        seen = noisy(fake, "eps_seen")
        if t.g_bn_mode == "eval":
            self.d_t.eval()
            try:
                logits = self._d(seen, [])[0]
            finally:
                self.d_t.train()
        elif t.g_bn_mode == "joint":
            real = noisy(r[key + "real"], "eps_real")
            logits = self._d(torch.cat([real, seen], 1), r[key + "m"])[0][:, n:]
        else:
            logits = self._d(seen, r[key + "m"])[0]
        loss = vmap(lambda l: g_loss_fn(kind, l))(logits)
        if t.g_shift_weight:
            loss = loss - t.g_shift_weight * fake.flatten(2)[:, :, 0].mean(1)
        g_grads = self._grads(loss, self.pg)
        self._apply(self.opt_g, self.pg, g_grads)
        return loss.detach(), vmap(lambda l: d_score(kind, l))(logits.detach()), g_grads, gaps

    def __call__(self, step: int, monitor: bool = False) -> list[StepOutput]:
        with step_numerics(self.t, self.device):
            return self.split(self.compute(self.draws(step, monitor), monitor))

    def compute(self, r: Draws, monitor: bool) -> GroupOutput:
        """One iteration of every seed from its draws ``r``: the updates, then what they
        measured as one ``[seeds]`` tensor per column. Nothing here draws a random number,
        reads the step or syncs with the host, so a CUDA graph can replay it
        (:mod:`bngan.step_graph`)."""
        t = self.t
        shared, shared_gaps = (self._g(r["z_shared"], probe=monitor) if t.d_fakes == "reuse" else (None, {}))
        for i in range(t.d_steps):
            last = i == t.d_steps - 1
            loss_d, d_real, d_fake, grads, gaps = self._d_update(r, i, monitor and last, shared)
        gaps = dict(gaps)
        for j in range(t.g_steps):
            last = j == t.g_steps - 1
            loss_g, d_fake_g, g_grads, g_gaps = self._g_update(r, j, monitor and last, shared, shared_gaps)
        if monitor:
            grads.update(self._norms(g_grads, self.watch_g, "grad_g"))
            gaps.update(g_gaps)
        return {"loss_d": loss_d, "loss_g": loss_g, "d_real": d_real, "d_fake": d_fake, "d_fake_g": d_fake_g,
                **grads, **gaps}

    def split(self, out: GroupOutput) -> list[StepOutput]:
        """The seeds' own :class:`~bngan.step.StepOutput` from the group's columns."""
        grads = [name for name in out if name.startswith("grad_")]
        gaps = [name for name in out if name not in grads and name not in _SCORES]
        return [StepOutput(*(out[name][k] for name in _SCORES), {name: out[name][k] for name in grads},
                           {name: out[name][k] for name in gaps})
                for k in range(len(self.trainers))]
