"""D's targets (noise labels: smoothing and flips) and the D and G losses on logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import Label

def _draw(label: Label, n: int, device: torch.device) -> torch.Tensor:
    if isinstance(label, tuple):
        return torch.empty(n, 1, device=device).uniform_(label[0], label[1])
    return torch.full((n, 1), float(label), device=device)


def make_targets(real: bool, n: int, *, real_label: Label, fake_label: Label, flip_prob: float,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """D's targets for ``n`` real (or fake) samples: the label (constant, or uniform in a
    range: label smoothing), each swapped for the other class's label with ``flip_prob``."""
    device = torch.device(device)
    own, other = (real_label, fake_label) if real else (fake_label, real_label)
    targets = _draw(own, n, device)
    if flip_prob > 0:
        flip = torch.rand(n, 1, device=device) < flip_prob
        targets = torch.where(flip, _draw(other, n, device), targets)
    return targets


def d_loss_fn(kind: str, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """D's loss: binary cross-entropy on logits (``bce``, ``minimax``) or least squares."""
    if kind == "lsgan":
        return 0.5 * (logits - targets).pow(2).mean()
    return F.binary_cross_entropy_with_logits(logits, targets)


def g_loss_fn(kind: str, logits: torch.Tensor) -> torch.Tensor:
    """G's loss on D's logits for fakes: non-saturating ``bce`` (-log D(G(z))), saturating
    ``minimax`` (log(1 - D(G(z))), the negated D loss on fakes) or ``lsgan``."""
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
    if kind == "minimax":
        return -F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))
    return 0.5 * (logits - 1).pow(2).mean()


def d_score(kind: str, logits: torch.Tensor) -> torch.Tensor:
    """Mean D output on a batch: probability for the BCE losses, raw score for least squares."""
    return logits.mean() if kind == "lsgan" else torch.sigmoid(logits).mean()

