"""Normalization choices for bngan's networks.

Two families of normalization appear here:

* normalizations that *follow* a layer (batch, layer, group, instance norm),
  built by :func:`norm_layer`;
* normalizations that act on a layer's *weights* (weight norm, spectral norm),
  built by the layer factories :func:`linear`, :func:`conv2d` and
  :func:`conv_transpose2d`.

Weight normalization here is the version of Xiang & Li, "On the Effects of
Batch and Weight Normalization in Generative Adversarial Networks" (2017):
``y = (w / ||w||) . x`` with the norm taken per output unit and *no* learned
gain in the strict form. It is not ``torch.nn.utils.weight_norm``, which
learns a gain ``g`` and therefore is not scale invariant.

Batch-norm momentum always follows PyTorch's convention (weight of the new
batch); :func:`keras_to_torch_momentum` converts from Keras' convention.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..choices import NORM_KINDS, keras_to_torch_momentum  # noqa: F401  (torch-free, for configs; public here too)

__all__ = [
    "NORM_KINDS",
    "check_norm",
    "keras_to_torch_momentum",
    "torch_to_keras_momentum",
    "norm_layer",
    "linear",
    "conv2d",
    "conv_transpose2d",
    "WNLinear",
    "WNConv2d",
    "WNConvTranspose2d",
    "TPReLU",
    "is_weight_normalized",
]


_Size2 = int | tuple[int, int]


# ---------------------------------------------------------------- validation


def check_norm(kind: str, *, param: str = "norm") -> str:
    """Return ``kind`` if it is one of :data:`NORM_KINDS`, else raise ValueError.

    ``param`` is the name used in the error message, so callers can report
    e.g. ``g_norm`` instead of ``norm``.
    """
    if not isinstance(kind, str) or kind not in NORM_KINDS:
        allowed = ", ".join(repr(k) for k in NORM_KINDS)
        raise ValueError(f"{param} must be one of {allowed}; got {kind!r}")
    return kind


def _pair(value: _Size2) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def _check_positive_int(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")


# ------------------------------------------------------------------ momentum


def torch_to_keras_momentum(torch_momentum: float) -> float:
    """Convert a PyTorch BN momentum (weight of the new batch) to Keras' convention."""
    if not 0.0 <= torch_momentum <= 1.0:
        raise ValueError(f"torch_momentum must be in [0, 1]; got {torch_momentum!r}")
    return 1.0 - torch_momentum


# ------------------------------------------------------ normalization layers


def _num_groups(num_channels: int) -> int:
    """Largest divisor of ``num_channels`` that is at most 8."""
    return max(g for g in range(1, min(8, num_channels) + 1) if num_channels % g == 0)


def norm_layer(
    kind: str,
    num_features: int,
    *,
    spatial: bool,
    bn_momentum: float = 0.1,
    eps: float = 1e-5,
) -> nn.Module:
    """Build the normalization that follows a layer with ``num_features`` outputs.

    ``spatial`` says whether the input is ``(N, C, H, W)`` (True) or ``(N, C)``.

    * ``"batch"``: ``BatchNorm2d`` / ``BatchNorm1d`` with momentum ``bn_momentum``
      (PyTorch convention: weight of the new batch; Keras 0.9 == PyTorch 0.1).
    * ``"layer"``: ``GroupNorm(1, C)`` when spatial (normalises C, H, W of each
      sample), else ``LayerNorm(C)``.
    * ``"group"``: ``GroupNorm(g, C)`` where ``g`` is the largest divisor of C
      that is <= 8 (so any C works; g == 1, i.e. layer norm, only when C has no
      divisor in 2..8, e.g. C = 1 or a prime above 8).
    * ``"instance"``: ``InstanceNorm2d(C, affine=True)``; spatial only, since
      with one value per channel it would map everything to 0 (use "layer").
    * ``"none"``, ``"weight"``, ``"spectral"``: ``nn.Identity()``; the latter two
      act on the layer's weights (see :func:`linear` etc.).
    """
    check_norm(kind)
    _check_positive_int("num_features", num_features)
    if not 0.0 < bn_momentum <= 1.0:
        raise ValueError(
            f"bn_momentum must be in (0, 1] (PyTorch convention: weight of the new batch); "
            f"got {bn_momentum!r}"
        )
    if not eps > 0.0:
        raise ValueError(f"eps must be > 0; got {eps!r}")

    if kind == "batch":
        bn = nn.BatchNorm2d if spatial else nn.BatchNorm1d
        return bn(num_features, eps=eps, momentum=bn_momentum)
    if kind == "layer":
        return nn.GroupNorm(1, num_features, eps=eps) if spatial else nn.LayerNorm(num_features, eps=eps)
    if kind == "group":
        return nn.GroupNorm(_num_groups(num_features), num_features, eps=eps)
    if kind == "instance":
        if not spatial:
            raise ValueError(
                "norm 'instance' needs spatial inputs (one value per channel would be "
                "normalised to 0); use 'layer' for non-spatial layers"
            )
        return nn.InstanceNorm2d(num_features, eps=eps, affine=True)
    return nn.Identity()  # none / weight / spectral


# ------------------------------------------------------ weight normalization


class _WeightNormBase(nn.Module):
    """Shared parts of the weight-normalised layers.

    Subclasses set ``self.weight`` and call :meth:`_init_wn`. The effective
    weight is ``weight / sqrt(sum(weight**2) / norm_factor)`` with the sum over
    every axis except the output axis, times ``scale`` when affine.
    """

    # Lower bound on the norm, only to avoid 0/0 for an all-zero weight. The
    # reference adds 1e-6 to the squared norm instead, which visibly breaks the
    # scale invariance for small weights; clamping keeps it exact.
    eps: float = 1e-12

    def _init_wn(self, out_dim: int, num_out: int, bias: bool, affine: bool, norm_factor: float) -> None:
        self.affine = affine
        self._out_dim = out_dim
        self._norm_factor = norm_factor
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # nn's default init
        self.bias = nn.Parameter(torch.zeros(num_out)) if bias else None
        self.scale = nn.Parameter(torch.ones(num_out)) if affine else None

    def _per_output_shape(self) -> list[int]:
        shape = [1] * self.weight.dim()
        shape[self._out_dim] = -1
        return shape

    def normalized_weight(self) -> torch.Tensor:
        """The weight the layer actually applies (normalised, times ``scale`` if affine)."""
        w = self.weight
        dims = [d for d in range(w.dim()) if d != self._out_dim]
        norm = (w.pow(2).sum(dim=dims, keepdim=True) / self._norm_factor).sqrt()
        w = w / norm.clamp_min(self.eps)
        if self.scale is not None:
            w = w * self.scale.view(self._per_output_shape())
        return w


class WNLinear(_WeightNormBase):
    """Linear layer with Xiang & Li weight normalization.

    Each output unit uses ``w_i / ||w_i||``, so the output does not depend on
    the scale of ``.weight`` (shape ``(out, in)``), and the gradient with
    respect to ``.weight`` is orthogonal to it. ``affine=True`` adds a learned
    per-output ``scale`` (init 1). ``bias`` (init 0) is the caller's choice:
    the reference uses no bias in strict layers (the following TPReLU has a
    learned shift) and a bias in affine ones.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, affine: bool = False) -> None:
        super().__init__()
        _check_positive_int("in_features", in_features)
        _check_positive_int("out_features", out_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self._init_wn(0, out_features, bias, affine, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.normalized_weight(), self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}, affine={self.affine}"


class WNConv2d(_WeightNormBase):
    """Conv2d with Xiang & Li weight normalization (see :class:`WNLinear`).

    ``.weight`` has shape ``(out, in, kh, kw)``; the norm is taken per output
    channel over ``(in, kh, kw)``. ``padding`` may be an int, a pair, or
    ``"same"`` / ``"valid"`` (as for ``nn.Conv2d``; "same" needs stride 1).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: _Size2,
        stride: _Size2 = 1,
        padding: _Size2 | str = 0,
        dilation: _Size2 = 1,
        *,
        bias: bool = True,
        affine: bool = False,
    ) -> None:
        super().__init__()
        _check_positive_int("in_channels", in_channels)
        _check_positive_int("out_channels", out_channels)
        kh, kw = _pair(kernel_size)
        self.stride = _pair(stride)
        self.dilation = _pair(dilation)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"padding must be an int, a pair, 'same' or 'valid'; got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"padding='same' needs stride 1; got stride={stride!r}")
            self.padding: tuple[int, int] | str = padding
        else:
            self.padding = _pair(padding)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kh, kw))
        self._init_wn(0, out_channels, bias, affine, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.normalized_weight(), self.bias, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={tuple(self.weight.shape[2:])}, "
            f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}, affine={self.affine}"
        )


class WNConvTranspose2d(_WeightNormBase):
    """ConvTranspose2d with Xiang & Li weight normalization (see :class:`WNLinear`).

    ``.weight`` has shape ``(in, out, kh, kw)`` as in ``nn.ConvTranspose2d``;
    the norm is taken per output channel over ``(in, kh, kw)``.

    Stride factor (as in the reference code): the squared norm is divided by
    ``stride_h * stride_w``, so each output channel's effective kernel has norm
    ``sqrt(stride_h * stride_w)`` rather than 1. With stride s, each output
    pixel only meets about 1/(s_h*s_w) of the kernel taps (the kernel is split
    into s_h*s_w interleaved sub-kernels, one per output phase), so this keeps
    every sub-kernel at roughly unit norm, like a strict conv layer.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: _Size2,
        stride: _Size2 = 1,
        padding: _Size2 = 0,
        output_padding: _Size2 = 0,
        *,
        bias: bool = True,
        dilation: _Size2 = 1,
        affine: bool = False,
    ) -> None:
        super().__init__()
        _check_positive_int("in_channels", in_channels)
        _check_positive_int("out_channels", out_channels)
        kh, kw = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self.output_padding = _pair(output_padding)
        self.dilation = _pair(dilation)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.weight = nn.Parameter(torch.empty(in_channels, out_channels, kh, kw))
        self._init_wn(1, out_channels, bias, affine, float(self.stride[0] * self.stride[1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose2d(
            x, self.normalized_weight(), self.bias, self.stride, self.padding,
            self.output_padding, 1, self.dilation,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={tuple(self.weight.shape[2:])}, "
            f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}, affine={self.affine}"
        )


def is_weight_normalized(module: nn.Module) -> bool:
    """True for bngan's weight-normalised layers (init code should leave their scale alone)."""
    return isinstance(module, _WeightNormBase)


def gradient_weight_cosines(model: nn.Module) -> dict[str, np.ndarray]:
    """Per output unit, the cosine between each conv/linear layer's weight and the gradient
    in ``.grad`` (call after a backward pass), keyed by module name.

    For bngan's weight-normalized layers the parameter is the direction ``v`` and the layer
    applies ``v / ||v||``, so the gradient with respect to ``v`` is orthogonal to ``v``
    (cosine 0 up to rounding): a gradient step cannot shrink ``||v||``, which grows by
    ``lr^2 ||g||^2`` per plain-SGD step, and a larger ``||v||`` makes the next steps smaller
    (Salimans & Kingma; Xiang & Li). Plain layers have no such constraint. Layers without a
    gradient are left out."""
    out: dict[str, np.ndarray] = {}
    for name, module in model.named_modules():
        if is_weight_normalized(module):
            w, dim = module.weight, module._out_dim
        elif isinstance(module, (nn.Conv2d, nn.Linear)):
            w, dim = module.weight, 0
        elif isinstance(module, nn.ConvTranspose2d):
            w, dim = module.weight, 1
        else:
            continue
        if w.grad is None:
            continue
        v = w.detach().movedim(dim, 0).flatten(1).double()
        g = w.grad.detach().movedim(dim, 0).flatten(1).double()
        denom = (v.norm(dim=1) * g.norm(dim=1)).clamp_min(1e-300)
        out[name] = ((v * g).sum(dim=1) / denom).numpy()
    return out


def activation_means(model: nn.Module, *inputs: torch.Tensor) -> dict[str, float]:
    """Mean output of each hidden activation (ReLU, LeakyReLU, PReLU, TPReLU) of ``model`` on
    ``inputs`` (eval mode, no gradients), over the batch, the channels and the positions, keyed
    by module name: the mean shift each nonlinearity hands to the next layer."""
    found: dict[str, float] = {}
    hooks = [module.register_forward_hook(lambda m, i, o, name=name: found.__setitem__(name, float(o.mean())))
             for name, module in model.named_modules()
             if isinstance(module, (nn.ReLU, nn.LeakyReLU, nn.PReLU, TPReLU))]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(*inputs)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return found


class TPReLU(nn.Module):
    """Translated PReLU of Xiang & Li: ``PReLU(x - b) + b`` per channel.

    ``shift`` (b, init 0) is a learned per-channel offset; it gives strict
    weight-normalised layers, which have no learned bias in the reference, a
    learned threshold. ``slope`` is clamped to [0, 1] in forward, so the
    activation stays monotone and no steeper than the identity. Works on
    ``(N, C)`` and ``(N, C, H, W)`` inputs.
    """

    def __init__(self, num_channels: int, init_slope: float = 0.25) -> None:
        super().__init__()
        _check_positive_int("num_channels", num_channels)
        if not 0.0 <= init_slope <= 1.0:
            raise ValueError(f"init_slope must be in [0, 1]; got {init_slope!r}")
        self.num_channels = num_channels
        self.slope = nn.Parameter(torch.full((num_channels,), float(init_slope)))
        self.shift = nn.Parameter(torch.zeros(num_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"input must have shape (N, {self.num_channels}, ...); got {tuple(x.shape)}")
        b = self.shift.view(1, -1, *([1] * (x.dim() - 2)))
        return F.prelu(x - b, self.slope.clamp(0.0, 1.0)) + b

    def extra_repr(self) -> str:
        return f"{self.num_channels}"


# ------------------------------------------------------------- layer factory


def linear(
    in_features: int,
    out_features: int,
    *,
    norm: str = "none",
    bias: bool = True,
    affine: bool = False,
) -> nn.Module:
    """A linear layer for normalization ``norm``.

    "weight" -> :class:`WNLinear` (strict, or with learned per-output scale if
    ``affine``); "spectral" -> spectral-normalised ``nn.Linear``; any other kind
    -> plain ``nn.Linear`` (its normalization comes from :func:`norm_layer`).
    ``affine`` only matters for "weight".
    """
    check_norm(norm)
    if norm == "weight":
        return WNLinear(in_features, out_features, bias, affine=affine)
    layer = nn.Linear(in_features, out_features, bias=bias)
    return spectral_norm(layer) if norm == "spectral" else layer


def conv2d(
    in_channels: int,
    out_channels: int,
    kernel_size: _Size2,
    stride: _Size2 = 1,
    padding: _Size2 | str = 0,
    *,
    norm: str = "none",
    bias: bool = True,
    affine: bool = False,
) -> nn.Module:
    """A Conv2d for normalization ``norm`` (same rules as :func:`linear`).

    ``padding`` may be ``"same"`` (stride 1 only) for plain and WN layers.
    """
    check_norm(norm)
    if norm == "weight":
        return WNConv2d(in_channels, out_channels, kernel_size, stride, padding, bias=bias, affine=affine)
    layer = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=bias)
    return spectral_norm(layer) if norm == "spectral" else layer


def conv_transpose2d(
    in_channels: int,
    out_channels: int,
    kernel_size: _Size2,
    stride: _Size2 = 1,
    padding: _Size2 = 0,
    *,
    output_padding: _Size2 = 0,
    norm: str = "none",
    bias: bool = True,
    affine: bool = False,
) -> nn.Module:
    """A ConvTranspose2d for normalization ``norm`` (same rules as :func:`linear`).

    Spectral norm uses the output-channel axis (dim 1) of the weight, which
    torch's ``spectral_norm`` picks by itself for transposed convolutions.
    """
    check_norm(norm)
    if norm == "weight":
        return WNConvTranspose2d(in_channels, out_channels, kernel_size, stride, padding, output_padding,
                                 bias=bias, affine=affine)
    layer = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride, padding, output_padding, bias=bias)
    return spectral_norm(layer) if norm == "spectral" else layer
