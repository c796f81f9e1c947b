"""Building blocks shared by the image DCGANs and the toy MLPs: argument checks that name
the parameter, the hidden activation and bias a normalization calls for, and the convs that
keep or double a map's size."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..choices import WN_ACTIVATIONS  # noqa: F401  (layers.WN_ACTIVATIONS)
from . import norms

def choice(value, allowed: Sequence, param: str):
    if value not in allowed:
        raise ValueError(f"{param} must be one of {', '.join(map(str, allowed))}; got {value!r}")
    return value


def positive_int(value, param: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{param} must be a positive integer; got {value!r}")
    return value


def hidden_activation(norm: str, channels: int, *, leak: float, wn_activation: str = "tprelu") -> nn.Module:
    """ReLU (leak 0) or LeakyReLU, or TPReLU for weight-normalized nets (Xiang & Li).
    ``wn_activation="relu"`` gives weight-normalized layers the plain ReLU / LeakyReLU instead
    (the TReLU ablation: strict layers with no bias and no learned shift)."""
    if norm == "weight" and wn_activation == "tprelu":
        return norms.TPReLU(channels)
    return nn.ReLU() if leak == 0 else nn.LeakyReLU(leak)


def check_wn_activation(wn_activation: str) -> None:
    choice(wn_activation, WN_ACTIVATIONS, "wn_activation")


def hidden_bias(norm: str) -> bool:
    """Strict weight-normalized hidden layers carry no bias (Xiang & Li: TPReLU's learned
    shift takes its place); every other hidden layer keeps Keras' default bias."""
    return norm != "weight"


class Reshape(nn.Module):
    """View a flat feature vector as (C, H, W) maps."""

    def __init__(self, *shape: int) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


def doubling_transposed_conv(in_ch: int, out_ch: int, kernel: int, *, norm: str, bias: bool) -> nn.Module:
    """Stride-2 transposed conv that exactly doubles the map for any kernel: padding
    ``(k - 1) // 2`` and an output padding of ``2 + 2 * padding - k`` (0 or 1) for the rest.
    A kernel not divisible by 2 makes the taps overlap unevenly (Odena et al.'s checkerboard)."""
    padding = (kernel - 1) // 2
    return norms.conv_transpose2d(in_ch, out_ch, kernel, 2, padding, output_padding=2 + 2 * padding - kernel,
                                  norm=norm, bias=bias)


def strided_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def same_conv(in_ch: int, out_ch: int, kernel: int, *, norm: str, affine: bool = False, bias: bool = True) -> nn.Module:
    """Stride-1 conv that keeps the map size, padding like Keras' ``"same"`` (an even kernel
    gets the extra row and column at the bottom right, done by an explicit pad layer)."""
    if kernel % 2:
        return norms.conv2d(in_ch, out_ch, kernel, padding=kernel // 2, norm=norm, affine=affine, bias=bias)
    before = (kernel - 1) // 2
    after = kernel - 1 - before
    return nn.Sequential(nn.ZeroPad2d((before, after, before, after)),
                         norms.conv2d(in_ch, out_ch, kernel, norm=norm, affine=affine, bias=bias))
