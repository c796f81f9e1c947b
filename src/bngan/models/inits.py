"""Weight initialisations: the DCGAN paper's N(0, 0.02), Keras' Glorot-uniform default, or
PyTorch's own (the init is part of what the seed paper's Keras code did)."""

from __future__ import annotations

import torch
from torch import nn

from ..choices import INITS  # noqa: F401  (inits.INITS)
from . import norms
from .layers import choice


@torch.no_grad()
def init_weights_(model: nn.Module, init: str) -> nn.Module:
    """Initialise in place: ``dcgan`` (N(0, 0.02)), ``glorot`` (Keras' default: Glorot-uniform
    weights, zero biases, what the blind-spot source's Keras models start from) or
    ``default`` (PyTorch's own, left as built). Returns the model."""
    choice(init, INITS, "init")
    if init == "dcgan":
        dcgan_init_(model)
    elif init == "glorot":
        for module, weight in _weighted_layers(model):
            nn.init.xavier_uniform_(weight)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)
    return model


def _weighted_layers(model: nn.Module):
    """(layer, weight tensor to initialise) for every conv/linear layer, weight-normalized
    ones included (their underlying direction parameter)."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)) or norms.is_weight_normalized(module):
            parametrized = getattr(module, "parametrizations", None)
            yield module, (parametrized.weight.original if parametrized is not None else module.weight)


@torch.no_grad()
def dcgan_init_(model: nn.Module, std: float = 0.02) -> nn.Module:
    """DCGAN initialisation in place: conv and linear weights ~ N(0, std), biases 0;
    normalization scales ~ N(1, std) and shifts 0. Returns the model."""
    for module, weight in _weighted_layers(model):
        weight.normal_(0.0, std)
        if getattr(module, "bias", None) is not None:
            module.bias.zero_()
    for module in model.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d)):
            if getattr(module, "weight", None) is not None:
                module.weight.normal_(1.0, std)
                module.bias.zero_()
    return model
