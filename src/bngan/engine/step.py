"""One seed's training iteration: :func:`bngan.engine.routine.iteration` run on the seed's own
modules and optimizers (:class:`GANStep`), with the monitoring values (losses, D outputs,
gradient norms, BN gaps) left on the device; and the step's numerics (bf16, deterministic
kernels)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from ..config import ExperimentConfig, TrainConfig
from ..models.dropout import dropout_shapes, given, swap_dropout
from ..models.networks import layer_weights
from . import routine
from .probes import BNProbe, GBNProbe
from .routine import D_HALF_COLUMNS, DUpdate, instance_noise_scale  # noqa: F401  (public here too)

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


def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """The global random state a run draws from (CPU, and the GPU's when on one)."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


class GANStep:
    """One seed's D and G updates for one config (:func:`bngan.engine.routine.iteration` on its own
    modules and optimizers): one call is one iteration of the loop. It draws the iteration's
    random numbers first (:func:`bngan.engine.routine.draw`, from the global random state, which is
    the seed's), D's dropout layers then take their drawn masks (:mod:`bngan.models.dropout`)."""

    D_HALF_COLUMNS = D_HALF_COLUMNS

    def __init__(self, config: ExperimentConfig, g: nn.Module, d: nn.Module, opt_g: torch.optim.Optimizer,
                 opt_d: torch.optim.Optimizer, sample_real: Callable[[], torch.Tensor], device: torch.device) -> None:
        self.cfg, self.t = config, config.train
        self.g, self.d, self.opt_g, self.opt_d = g, d, opt_g, opt_d
        self.device = device
        self.d_masks = swap_dropout(d)
        shapes = dropout_shapes(d, config.data.sample_shape) if self.d_masks else []
        self.source = routine.Source(sample_real, config.model.latent_dim, config.data.sample_shape, shapes, device)
        self.probe = BNProbe(d)
        self.g_probe = GBNProbe(g)
        self._nets = {"g": g, "d": d}
        self._optimizers = {"g": opt_g, "d": opt_d}
        self._params = {net: dict(model.named_parameters()) for net, model in self._nets.items()}
        self._watched = {}
        for net, model in self._nets.items():
            names = {id(p): name for name, p in model.named_parameters()}
            layers = layer_weights(model)
            self._watched[net] = {"bottom": names[id(layers[0])], "top": names[id(layers[-1])]}

    @property
    def sample_real(self) -> Callable[[], torch.Tensor]:
        """Where the real batches come from (settable)."""
        return self.source.sample_real

    @sample_real.setter
    def sample_real(self, sample: Callable[[], torch.Tensor]) -> None:
        self.source.sample_real = sample

    # ----------------------------------------------------------------- routine.Nets, for one seed

    def generate(self, z: torch.Tensor, *, train: bool = True, probe: bool = False) -> tuple[torch.Tensor, dict]:
        g = self.g
        with self.g_probe.capture(probe):
            if train:
                return g(z), {}
            was_training = g.training
            g.eval()
            try:
                return g(z), {}
            finally:
                g.train(was_training)

    def discriminate(self, x: torch.Tensor, masks: list[torch.Tensor] | None, tag: str | None = None,
          split: int | None = None, *, eval_mode: bool = False) -> tuple[torch.Tensor, dict]:
        d = self.d
        capture = self.probe.capture(tag, split) if tag is not None else contextlib.nullcontext()
        if not eval_mode:
            with capture, given(self.d_masks, masks):
                return d(x), {}
        d.eval()
        try:
            with capture:
                return d(x), {}
        finally:
            d.train()

    def each(self, fn: Callable, *args):
        return fn(*args)

    def grads(self, loss: torch.Tensor, net: str, *, watched: bool = False) -> dict[str, torch.Tensor | None]:
        params = self._params[net]
        names = list(self._watched[net].values()) if watched else list(params)
        return dict(zip(names, torch.autograd.grad(loss, [params[n] for n in names], allow_unused=True)))

    def step(self, net: str, grads: dict[str, torch.Tensor | None]) -> None:
        for name, param in self._params[net].items():
            param.grad = grads[name]
        self._optimizers[net].step()

    def watched(self, net: str) -> dict[str, str]:
        return self._watched[net]

    def parameter(self, net: str, name: str) -> torch.Tensor:
        return self._params[net][name]

    def norm(self, grad: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(grad)

    @contextlib.contextmanager
    def buffers_kept(self, net: str) -> Iterator[None]:
        model = self._nets[net]
        saved = [b.clone() for b in model.buffers()]
        try:
            yield
        finally:
            with torch.no_grad():
                for value, buffer in zip(saved, model.buffers()):
                    buffer.copy_(value)

    @contextlib.contextmanager
    def g_step(self) -> Iterator[None]:
        d = self._nets["d"]
        d.requires_grad_(False)
        try:
            yield
        finally:
            d.requires_grad_(True)

    # ----------------------------------------------------------------- the iteration

    def d_update(self, step: int, monitor: bool, fake: torch.Tensor | None = None) -> DUpdate:
        """One D update on its own (its draws made now); ``fake`` (G's, detached) is used when
        given."""
        r: routine.Draws = {}
        t = self.t if fake is None else dataclasses.replace(self.t, d_fakes="reuse")
        routine.draw_d_update(t, step, monitor, self.source, "d_", r)
        return routine.d_update(self, t, r, "d_", monitor, shared=fake)

    def g_update(self, step: int = 0, fake: torch.Tensor | None = None,
                 monitor: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """One G update on its own (its draws made now): (G's loss, mean D output on the
        fakes as G's step sees them). ``fake`` (G's, with its graph) is used when given."""
        r: routine.Draws = {}
        t = self.t if fake is None else dataclasses.replace(self.t, d_fakes="reuse")
        routine.draw_g_update(t, step, self.source, "g_", r)
        out = routine.g_update(self, t, r, "g_", monitor, shared=fake)
        return out.loss, out.d_fake_g

    def __call__(self, step: int, monitor: bool = False) -> StepOutput:
        with step_numerics(self.t, self.device):
            return self._iteration(step, monitor)

    def _iteration(self, step: int, monitor: bool) -> StepOutput:
        columns = routine.iteration(self, self.t, routine.draw(self.t, step, monitor, self.source), monitor)
        scores = [columns.pop(name) for name in ("loss_d", "loss_g", "d_real", "d_fake", "d_fake_g")]
        return StepOutput(*scores, columns)
