"""A batch normalized on its own or together with another, as train-mode BN normalizes split
and joint discriminator batches: the arithmetic of the BN blind spot (source 001), which
:mod:`bngan.book.blindspot` shows and claim 7.4's rule
(:func:`bngan.evidence.rules.split_identity`) checks."""

from __future__ import annotations

from dataclasses import dataclass

import torch


def standardize(x: torch.Tensor) -> torch.Tensor:
    """Per-feature ``(x - mean) / std`` over the batch (dim 0), with the population std that
    BN uses in train mode (no ``eps``, so the source's worked numbers come out exactly)."""
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.ndim == 0 or len(x) < 2:
        raise ValueError(f"x must hold a batch of at least 2 samples along dim 0; got shape {tuple(x.shape)}")
    return (x - x.mean(0)) / x.std(0, unbiased=False)


@dataclass
class Normalized:
    """A real and a fake batch after normalization, split (each by its own statistics, as
    train-mode BN does with split D batches) and joint (by the statistics of both together)."""

    real_split: torch.Tensor
    fake_split: torch.Tensor
    real_joint: torch.Tensor
    fake_joint: torch.Tensor


def split_and_joint(real: torch.Tensor, fake: torch.Tensor) -> Normalized:
    """Normalize ``real`` and ``fake`` both ways. Split normalization maps any shifted and
    scaled copy of a batch to the same values, so a layer after it cannot tell them apart."""
    real, fake = torch.as_tensor(real, dtype=torch.float64), torch.as_tensor(fake, dtype=torch.float64)
    if real.shape[1:] != fake.shape[1:]:
        raise ValueError(f"real and fake must have the same per-sample shape; got {tuple(real.shape[1:])} "
                         f"and {tuple(fake.shape[1:])}")
    joint = standardize(torch.cat([real, fake]))
    return Normalized(standardize(real), standardize(fake), joint[: len(real)], joint[len(real):])
