"""Checks of values, not shapes: what a BN layer's output, a weight-normalized layer's weight,
the toy networks' momenta and the seeds' batch orders actually are (each pins a one-line bug a
shape check lets through)."""

from __future__ import annotations

import pytest
import torch

from bngan import data, norms
from bngan.config import ExperimentConfig
from bngan.train import build_networks


def test_a_bn_layer_in_train_mode_outputs_zero_mean_unit_variance_per_channel():
    layer = norms.norm_layer("batch", 6, spatial=True, eps=1e-5)
    layer.train()
    x = torch.randn(64, 6, 5, 5) * torch.linspace(0.5, 4, 6).view(1, 6, 1, 1) + 3.0
    y = layer(x)
    assert torch.allclose(y.mean((0, 2, 3)), torch.zeros(6), atol=1e-5)
    assert torch.allclose(y.var((0, 2, 3), unbiased=False), torch.ones(6), atol=1e-3)


@pytest.mark.parametrize("make", [
    lambda: norms.WNLinear(7, 5, affine=True),
    lambda: norms.WNConv2d(3, 4, 3, affine=True),
])
def test_a_weight_normalized_layers_per_output_norm_is_its_gain(make):
    layer = make()
    with torch.no_grad():
        layer.weight.mul_(17.0)  # the raw weight's scale does not matter
        layer.scale.copy_(torch.linspace(0.5, 2.0, len(layer.scale)))
    w = layer.normalized_weight()
    dims = [d for d in range(w.dim()) if d != layer._out_dim]
    per_output = (w.pow(2).sum(dims) / layer._norm_factor).sqrt()
    assert torch.allclose(per_output, layer.scale.detach(), rtol=1e-5)


def test_the_toy_g_and_d_get_their_own_bn_momenta():
    config = ExperimentConfig().vary(kind="toy", arch="mlp", norm="batch", norm_in="both", g_bn_momentum=0.3,
                                     d_bn_momentum=0.7)
    g, d = build_networks(config)
    g_momenta = {m.momentum for m in g.modules() if isinstance(m, torch.nn.BatchNorm1d)}
    d_momenta = {m.momentum for m in d.modules() if isinstance(m, torch.nn.BatchNorm1d)}
    assert g_momenta == {0.3} and d_momenta == {0.7}


def test_different_seeds_draw_different_batch_orders_and_a_seed_repeats_its_own():
    images = torch.arange(1000.0).view(-1, 1)
    first = [data.BatchSampler(images, 16, seed=s)() for s in (0, 1, 0)]
    assert not torch.equal(first[0], first[1])
    assert torch.equal(first[0], first[2])
