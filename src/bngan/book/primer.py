"""What batch normalization computes, on numbers small enough to check by hand: the primer
page's arithmetic, kept here so the page stays thin and the arithmetic is tested.

- :func:`by_hand`: BN of one feature in train mode, written out (batch mean, biased variance,
  epsilon), beside :class:`torch.nn.BatchNorm1d`'s own output;
- :func:`running_means`: a running average following a drifting batch mean, under Keras' and
  PyTorch's momentum conventions;
- :func:`train_and_eval`: one BN layer's output for the same batch in train mode (its own
  statistics) and in eval mode (the running averages);
- :func:`batch_views`: the statistics a BN discriminator's first layer computes for a real-only,
  a fake-only and a mixed batch, and the real images' normalized values in each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..models.norms import keras_to_torch_momentum


@dataclass(frozen=True)
class ByHand:
    """BN of one feature over a batch, step by step: the values, their mean and (biased)
    variance, the normalized values, and what ``nn.BatchNorm1d`` gives for the same batch."""

    values: tuple[float, ...]
    mean: float
    variance: float
    eps: float
    normalized: tuple[float, ...]
    torch_output: tuple[float, ...]


def by_hand(values: Sequence[float], eps: float = 1e-5) -> ByHand:
    """BN in train mode on one feature: ``(x - mean) / sqrt(var + eps)`` with the batch's own
    mean and its variance divided by n (not n - 1), then the same batch through a fresh
    ``nn.BatchNorm1d`` (scale 1, shift 0), to show they agree."""
    x = torch.as_tensor(values, dtype=torch.float64).reshape(-1)
    if x.numel() < 2:
        raise ValueError(f"values must hold at least 2 numbers (BN needs a batch); got {list(values)!r}")
    mean, var = x.mean(), x.var(unbiased=False)
    normalized = (x - mean) / torch.sqrt(var + eps)
    layer = nn.BatchNorm1d(1, eps=eps).double().train()
    with torch.no_grad():
        out = layer(x.reshape(-1, 1)).reshape(-1)
    return ByHand(tuple(x.tolist()), float(mean), float(var), eps, tuple(normalized.tolist()), tuple(out.tolist()))


def running_means(batch_means: Sequence[float], *, keras_momentum: float) -> dict[str, np.ndarray]:
    """The running mean a BN layer keeps while the batch mean moves through ``batch_means``,
    starting from 0 as both frameworks do, under Keras' convention (``running = m * running +
    (1 - m) * batch``, momentum ``m`` the weight of the old value) and PyTorch's (``running =
    (1 - p) * running + p * batch``, momentum ``p`` the weight of the new batch), with ``p = 1 -
    m``: the same average, so the two traces agree. Returns ``{"keras": ..., "pytorch": ...}``."""
    p = keras_to_torch_momentum(keras_momentum)
    means = np.asarray(batch_means, dtype=float)
    keras, torch_ = np.zeros(means.size), np.zeros(means.size)
    k = t = 0.0
    for i, m in enumerate(means):
        k = keras_momentum * k + (1 - keras_momentum) * m
        t = (1 - p) * t + p * m
        keras[i], torch_[i] = k, t
    return {"keras": keras, "pytorch": torch_}


def train_and_eval(batch: Sequence[float], running_mean: float, running_var: float,
                   eps: float = 1e-5) -> dict[str, np.ndarray]:
    """One BN layer's output for ``batch`` in train mode (the batch's own statistics) and in
    eval mode (the stored running mean and variance), as PyTorch computes them."""
    layer = nn.BatchNorm1d(1, eps=eps).double()
    layer.running_mean.fill_(running_mean)
    layer.running_var.fill_(running_var)
    x = torch.as_tensor(batch, dtype=torch.float64).reshape(-1, 1)
    with torch.no_grad():  # eval first: a train-mode pass would move the running averages
        evaluated = layer.eval()(x).reshape(-1).numpy().copy()
        train = layer.train()(x).reshape(-1).numpy().copy()
    return {"train": train, "eval": evaluated}


@dataclass(frozen=True)
class BatchView:
    """What a BN layer sees of one batch: its per-feature mean and standard deviation
    (averaged over features), and the real images' normalized values (their mean over images
    and features), which is what the next layer of D receives for them."""

    batch: str
    mean: float
    std: float
    real_after_bn: float


def batch_views(real: torch.Tensor, fake: torch.Tensor, features: nn.Module) -> list[BatchView]:
    """Pass a real-only, a fake-only and a mixed batch through ``features`` (a discriminator's
    first layer, say) and a BN without learned scale in train mode: the statistics each batch
    gets, and where the real images land after normalization. In the mixed batch they are
    normalized by statistics that include the fakes, so they land elsewhere than in the
    real-only batch: the same images, a different input to the rest of D."""
    with torch.no_grad():
        f_real, f_fake = features(real), features(fake)
        views = []
        for name, batch, n_real in (("real only", f_real, len(f_real)), ("fake only", f_fake, 0),
                                    ("mixed", torch.cat([f_real, f_fake]), len(f_real))):
            flat = batch.transpose(0, 1).reshape(batch.shape[1], -1) if batch.ndim > 2 else batch.T
            mean, std = flat.mean(1), flat.std(1, unbiased=False)
            dims = [0] + list(range(2, batch.ndim))
            normalized = (batch - batch.mean(dims, keepdim=True)) / torch.sqrt(batch.var(dims, keepdim=True,
                                                                                      unbiased=False) + 1e-5)
            real_part = normalized[:n_real] if n_real else None
            views.append(BatchView(name, float(mean.mean()), float(std.mean()),
                                   float(real_part.mean()) if real_part is not None else float("nan")))
    return views
