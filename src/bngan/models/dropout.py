"""D's dropout with masks drawn before the step: the step's random draws are made up front
(:func:`bngan.engine.routine.draw`), so a dropout layer takes the mask it is given.

A mask is drawn with the call ``nn.Dropout`` makes (``F.dropout`` of a tensor of ones: the
same Bernoulli draw, scaled by 1 / (1 - p)), so the random stream moves as it would and
``x * mask`` is what ``F.dropout(x)`` computes, bit for bit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

MaskShapes = list[tuple[tuple[int, ...], float]]  # (shape per sample, p) of each dropout layer


class GivenMask(nn.Module):
    """Dropout that multiplies by the mask it was given, or draws its own when given none
    (a forward outside the training step)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p
        self.mask: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        return F.dropout(x, self.p, True) if self.mask is None else x * self.mask

    def extra_repr(self) -> str:
        return f"p={self.p}"


def swap_dropout(model: nn.Module) -> list[GivenMask]:
    """Replace every ``nn.Dropout`` of ``model`` by a :class:`GivenMask` (in module order);
    a model swapped before keeps its layers. Returns them."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Dropout):
                setattr(parent, name, GivenMask(child.p))
    return [m for m in model.modules() if isinstance(m, GivenMask)]


@torch.no_grad()
def dropout_shapes(model: nn.Module, sample_shape: tuple[int, ...]) -> MaskShapes:
    """(shape per sample, p) of each dropout layer, found by a forward of two zero samples;
    the layers must run in the order they are registered (the order masks are handed out)."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Dropout, GivenMask))]
    found: MaskShapes = []
    met: list[nn.Module] = []
    handles = [m.register_forward_pre_hook(lambda m, inp: found.append((tuple(inp[0].shape[1:]), m.p))
                                           or met.append(m)) for m in layers]
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        model(torch.zeros((2, *sample_shape), device=device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    if met != layers:
        raise ValueError("D's dropout layers run in another order than they are registered")
    return found


def draw_masks(shapes: MaskShapes, batch: int, device: torch.device) -> list[torch.Tensor]:
    """One train-mode forward's dropout factors for ``batch`` samples."""
    return [F.dropout(torch.ones((batch, *shape), device=device), p, True) for shape, p in shapes]


@contextlib.contextmanager
def given(layers: list[GivenMask], masks: list[torch.Tensor] | None) -> Iterator[None]:
    """Hand ``masks`` to ``layers`` for the forward inside the block (``None``: they draw
    their own)."""
    if masks is not None:
        for layer, mask in zip(layers, masks):
            layer.mask = mask
    try:
        yield
    finally:
        for layer in layers:
            layer.mask = None
