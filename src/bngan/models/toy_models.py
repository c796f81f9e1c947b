"""Toy MLPs for 2D data (source 001's blind-spot study): G and D as Dense-LeakyReLU stacks
with a normalization per hidden layer, and G's optional moment-matching output."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from . import norms
from .layers import hidden_activation, hidden_bias, positive_int
from .norms import check_norm

def _per_layer_norms(norm: str | Sequence[str], depth: int) -> list[str]:
    if isinstance(norm, str):
        return [check_norm(norm)] * depth
    kinds = [check_norm(k) for k in norm]
    if len(kinds) != depth:
        raise ValueError(f"norm must be one kind or a list of {depth} kinds (one per hidden layer); got {list(norm)!r}")
    return kinds


def _mlp(in_dim: int, out_dim: int, *, width: int, depth: int, leak: float,
         norm: str | Sequence[str], bn_momentum: float, bn_eps: float = 1e-5) -> nn.Sequential:
    positive_int(width, "width")
    positive_int(depth, "depth")
    positive_int(in_dim, "in_dim")
    kinds = _per_layer_norms(norm, depth)
    layers: list[nn.Module] = []
    for kind in kinds:
        layers += [
            norms.linear(in_dim, width, norm=kind, bias=hidden_bias(kind)),
            norms.norm_layer(kind, width, spatial=False, bn_momentum=bn_momentum, eps=bn_eps),
            hidden_activation(kind, width, leak=leak),
        ]
        in_dim = width
    out_norm = "weight" if kinds and kinds[-1] == "weight" else "none"
    layers.append(norms.linear(in_dim, out_dim, norm=out_norm, affine=True))
    return nn.Sequential(*layers)


class MomentMatch(nn.Module):
    """Standardizes each batch per feature, then gives it the target mean and std: a BN
    layer whose shift and scale are frozen to the data's statistics (source 001's bonus
    experiment, which forces the fakes' first two moments to equal the data's).

    The targets are buffers (saved with the weights); set them with :meth:`set_target`.
    Like BN in train mode, the output of one sample depends on the rest of its batch.
    """

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("target_mean", torch.zeros(num_features))
        self.register_buffer("target_std", torch.ones(num_features))

    @torch.no_grad()
    def set_target(self, data: torch.Tensor) -> None:
        """Use the per-feature mean and (population) std of ``data`` as the targets."""
        self.target_mean.copy_(data.mean(0))
        self.target_std.copy_(data.std(0, unbiased=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(x) < 2:
            raise ValueError(f"MomentMatch needs a batch of at least 2 samples; got {len(x)}")
        mean = x.mean(0, keepdim=True)
        var = x.var(0, unbiased=False, keepdim=True)
        return (x - mean) * torch.rsqrt(var + self.eps) * self.target_std + self.target_mean


def mlp_generator(
    *, latent_dim: int = 2, data_dim: int = 2, width: int = 64, depth: int = 2, leak: float = 0.01,
    norm: str | Sequence[str] = "none", bn_momentum: float = 0.1, match_moments: bool = False,
    bn_eps: float = 1e-5,
) -> nn.Sequential:
    """Toy generator for 2D data: ``depth`` x [Linear -> norm -> LeakyReLU] -> Linear.

    ``norm`` is one kind for every hidden layer or a list with one kind per hidden layer.
    ``match_moments`` appends a :class:`MomentMatch` output layer. The defaults match the
    blind-spot study (two hidden layers of 64, LeakyReLU(0.01)).
    """
    g = _mlp(latent_dim, data_dim, width=width, depth=depth, leak=leak, norm=norm, bn_momentum=bn_momentum,
             bn_eps=bn_eps)
    if match_moments:
        g.append(MomentMatch(data_dim))
    return g


def mlp_discriminator(
    *, data_dim: int = 2, width: int = 64, depth: int = 2, leak: float = 0.01,
    norm: str | Sequence[str] = "none", bn_momentum: float = 0.1, bn_eps: float = 1e-5,
) -> nn.Sequential:
    """Toy discriminator for 2D data, one logit per sample; ``norm`` as in :func:`mlp_generator`.

    ``norm=["batch", "none"]`` puts BN right after the first layer only.
    """
    return _mlp(data_dim, 1, width=width, depth=depth, leak=leak, norm=norm, bn_momentum=bn_momentum, bn_eps=bn_eps)
