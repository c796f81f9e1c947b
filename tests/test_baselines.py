"""Reference generators with known defects."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bngan.baselines import Blurred, MeanImage
from bngan.metrics import reconstruction_error


def test_mean_image_draws_one_image_and_reconstructs_to_the_datas_variance():
    data = torch.rand(50, 1, 8, 8) * 2 - 1
    g = MeanImage(data.mean(0), latent_dim=4)
    out = g(torch.randn(7, 4))
    assert out.shape == (7, 1, 8, 8) and torch.equal(out[0], out[6]) and torch.allclose(out[0], data.mean(0))
    found = reconstruction_error(g, data, latent_dim=4, steps=3)
    # nothing to optimise: the error is the per-pixel variance around the mean, on the [0, 1] scale
    expected = ((data - data.mean(0)) ** 2).mean().item() / 4
    assert found.mse == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="image"):
        MeanImage(torch.zeros(8, 8), latent_dim=4)


def test_blur_keeps_the_mean_and_removes_high_frequencies():
    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(4, 64), nn.Unflatten(1, (1, 8, 8)), nn.Tanh())
    blurred = Blurred(g, sigma=1.0)
    z = torch.randn(16, 4)
    sharp, soft = g(z), blurred(z)
    assert soft.shape == sharp.shape
    assert soft.mean().item() == pytest.approx(sharp.mean().item(), abs=0.05)
    grad = lambda x: (x[..., 1:] - x[..., :-1]).abs().mean()  # noqa: E731
    assert grad(soft) < 0.6 * grad(sharp)
    with pytest.raises(ValueError, match="sigma"):
        Blurred(g, sigma=0)
