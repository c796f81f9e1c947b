"""Monitoring probes: how far the batch statistics each BatchNorm layer normalizes with are
from its running statistics, for D (reals and fakes) and for G (its train-mode step)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

def mean_gap(module: nn.modules.batchnorm._BatchNorm, x: torch.Tensor) -> torch.Tensor:
    """Mean over channels of ``|batch mean - running mean| / sqrt(running var + eps)``."""
    x = x.detach()
    dims = [0] + list(range(2, x.dim()))
    scale = (module.running_var + module.eps).sqrt()
    return ((x.mean(dims) - module.running_mean).abs() / scale).mean()


def tagged_gaps(module: nn.modules.batchnorm._BatchNorm, x: torch.Tensor, index: int, tag: str,
                split: int | None) -> dict[str, torch.Tensor]:
    """D's BN layer ``index`` on input ``x``: the gap of reals and/or fakes by column name
    (``tag`` real, fake, or joint: the first ``split`` samples real, the rest fake)."""
    parts = {"real": x[:split], "fake": x[split:]} if tag == "joint" else {tag: x}
    return {f"bn{index}_gap_{part}": mean_gap(module, values) for part, values in parts.items()}


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
            self.values.update(tagged_gaps(module, inputs[0], index, self._tag, self._split))

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
        var = x.var(dims, unbiased=False)
        gap_var = torch.log((var + module.eps) / (module.running_var + module.eps)).abs().mean()
        return mean_gap(module, x), gap_var

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

