"""Metrics: reconstruction error recovers known latents and leaves G untouched; sample scores."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bngan import metrics
from bngan.metrics import reconstruction_error

LATENT = 4


def _linear_g(out_dim: int = 12, seed: int = 0) -> nn.Module:
    """Injective generator: Linear with full column rank, no saturation."""
    torch.manual_seed(seed)
    return nn.Linear(LATENT, out_dim)


def _conv_g(seed: int = 0) -> nn.Sequential:
    """Tiny image generator with BatchNorm: (B, LATENT) -> (B, 1, 8, 8)."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(LATENT, 8 * 4 * 4), nn.Unflatten(1, (8, 4, 4)), nn.BatchNorm2d(8), nn.ReLU(),
        nn.ConvTranspose2d(8, 1, 4, stride=2, padding=1), nn.Tanh(),
    )


def _warm_bn(g: nn.Module) -> None:
    """Give BN non-trivial running statistics."""
    g.train()
    with torch.no_grad():
        for _ in range(5):
            g(torch.randn(32, LATENT) * 2 + 0.5)


# --------------------------------------------------------------------------- reconstruction

def test_recovers_known_latents_for_an_injective_generator():
    g = _linear_g()
    z_true = torch.randn(10, LATENT, generator=torch.Generator().manual_seed(1)) * 0.5
    with torch.no_grad():
        x = g(z_true)
        mse_at_zero = (g(torch.zeros(10, LATENT)) - x).square().mean().item()
    # RMSProp's normalised steps jitter at the scale of lr near the optimum: lr bounds precision
    rec = metrics.reconstruction_error(g, x, latent_dim=LATENT, steps=300, lr=0.01)
    assert rec.mse < 1e-3 * mse_at_zero
    assert torch.allclose(rec.latents, z_true, atol=0.02)
    assert rec.per_image.shape == (10,) and rec.latents.shape == (10, LATENT) and rec.steps == 300
    assert rec.mse == pytest.approx(rec.per_image.mean().item())
    with torch.no_grad():  # per_image: the per-pixel MSE at the returned latents, on the [0, 1] scale
        expected = (g(rec.latents) - x).square().mean(1) / 4
    assert torch.allclose(rec.per_image, expected, rtol=1e-4, atol=1e-9)
    # pixels already in [0, 1]: no rescaling
    unit = metrics.reconstruction_error(g, x, latent_dim=LATENT, steps=300, lr=0.01, pixel_range=(0.0, 1.0))
    torch.testing.assert_close(unit.per_image, 4 * rec.per_image)
    with pytest.raises(ValueError, match="pixel_range"):
        metrics.reconstruction_error(g, x, latent_dim=LATENT, steps=1, pixel_range=(1.0, 1.0))


def test_image_generator_reconstruction_improves_with_steps():
    g = _conv_g()
    _warm_bn(g)
    g.eval()
    with torch.no_grad():
        x = g(torch.randn(6, LATENT, generator=torch.Generator().manual_seed(2)))
    few = metrics.reconstruction_error(g, x, latent_dim=LATENT, steps=5)
    many = metrics.reconstruction_error(g, x, latent_dim=LATENT, steps=200, lr=0.05)
    assert many.mse < 0.5 * few.mse
    assert (many.per_image <= few.per_image + 1e-6).float().mean() >= 0.8


def test_generator_is_left_untouched():
    g = _conv_g()
    _warm_bn(g)
    g.train()
    g[0].bias.requires_grad_(False)  # a mixed pattern must come back exactly
    g[2].eval()  # and so must a per-module mode
    before = {k: v.clone() for k, v in g.state_dict().items()}
    flags = [p.requires_grad for p in g.parameters()]
    modes = [m.training for m in g.modules()]
    x = torch.rand(5, 1, 8, 8) * 2 - 1
    metrics.reconstruction_error(g, x, latent_dim=LATENT, steps=10)
    after = g.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and BN running stats
    assert all(p.grad is None for p in g.parameters())
    assert [p.requires_grad for p in g.parameters()] == flags
    assert [m.training for m in g.modules()] == modes


def test_state_is_restored_when_the_search_fails():
    g = _linear_g(out_dim=12)
    g.train()
    with pytest.raises(ValueError, match="shape"):
        metrics.reconstruction_error(g, torch.randn(3, 7), latent_dim=LATENT, steps=3)
    assert g.training and all(p.requires_grad for p in g.parameters())
    assert all(p.grad is None for p in g.parameters())


def test_bn_generator_reconstructs_each_image_independently_of_its_chunk():
    g = _conv_g()
    _warm_bn(g)
    g.train()
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    together = metrics.reconstruction_error(g, x, latent_dim=LATENT, steps=20, batch_size=4)
    alone = metrics.reconstruction_error(g, x[:1], latent_dim=LATENT, steps=20, batch_size=4)
    assert torch.allclose(alone.per_image, together.per_image[:1], rtol=1e-4, atol=1e-7)
    assert torch.allclose(alone.latents, together.latents[:1], atol=1e-5)


def test_chunk_size_does_not_change_the_result():
    g = _conv_g()
    _warm_bn(g)
    x = torch.rand(7, 1, 8, 8) * 2 - 1
    small = metrics.reconstruction_error(g, x, latent_dim=LATENT, steps=15, batch_size=3)
    large = metrics.reconstruction_error(g, x, latent_dim=LATENT, steps=15, batch_size=64)
    assert torch.allclose(small.per_image, large.per_image, rtol=1e-4, atol=1e-7)
    assert torch.allclose(small.latents, large.latents, atol=1e-5)
    assert small.mse == pytest.approx(large.mse, rel=1e-4)


def test_works_inside_no_grad_and_on_toy_data():
    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    x = torch.randn(8, 2)
    with torch.no_grad():
        rec = metrics.reconstruction_error(g, x, latent_dim=2, steps=20)
    assert rec.per_image.shape == (8,) and rec.latents.abs().sum() > 0


def test_xiang_and_lis_mean_loss_stalls_when_its_gradient_falls_below_rmsprops_eps():
    """RMSProp is blind to the loss's scale except through eps: with eps out of the way the
    mean-reduced search takes the summed one's path; with their eps 1e-6 and a small gradient
    (a weak generator, many values averaged) z barely leaves zero."""
    g = _linear_g(out_dim=256)
    with torch.no_grad():
        g.weight.mul_(1e-3)  # a generator whose output hardly depends on z: gradients ~1e-6 per value
        x = g(torch.randn(32, LATENT, generator=torch.Generator().manual_seed(3)) * 2)
    common = dict(latent_dim=LATENT, steps=50, batch_size=32)
    summed = metrics.reconstruction_error(g, x, eps=1e-30, **common)
    averaged = metrics.reconstruction_error(g, x, eps=1e-30, reduction="mean", **common)
    torch.testing.assert_close(averaged.latents, summed.latents, rtol=1e-3, atol=1e-4)
    stalled = metrics.reconstruction_error(g, x, eps=1e-6, reduction="mean", **common)
    moving = metrics.reconstruction_error(g, x, eps=1e-6, **common)
    assert stalled.latents.norm() < 0.1 * moving.latents.norm()
    assert stalled.mse > moving.mse
    with pytest.raises(ValueError, match="reduction must be one of sum, mean"):
        metrics.reconstruction_error(g, x, reduction="none", **common)


@pytest.mark.parametrize("kwargs, param", [
    ({"steps": 0}, "steps"),
    ({"lr": 0.0}, "lr"),
    ({"lr": -1.0}, "lr"),
    ({"batch_size": 0}, "batch_size"),
    ({"latent_dim": 0}, "latent_dim"),
])
def test_reconstruction_rejects_bad_settings(kwargs, param):
    args = {"latent_dim": LATENT, **kwargs}
    with pytest.raises(ValueError, match=param):
        metrics.reconstruction_error(_linear_g(), torch.randn(3, 12), **args)


def test_reconstruction_rejects_empty_images_and_shape_mismatch():
    with pytest.raises(ValueError, match="images"):
        metrics.reconstruction_error(_linear_g(), torch.empty(0, 12), latent_dim=LATENT)
    with pytest.raises(ValueError, match="generator output shape"):
        metrics.reconstruction_error(_conv_g(), torch.rand(2, 3, 8, 8), latent_dim=LATENT, steps=2)


# --------------------------------------------------------------------------- sample-based scores

def _cloud(n: int = 300, d: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def test_sample_diversity_is_zero_for_identical_and_grows_with_spread():
    same = torch.ones(20, 3, 4, 4) * 0.3
    assert metrics.sample_diversity(same) == 0.0
    x = _cloud(50, 8)
    narrow, wide = metrics.sample_diversity(0.1 * x), metrics.sample_diversity(x)
    assert 0 < narrow < wide
    assert wide == pytest.approx(10 * narrow, rel=1e-5)
    pair = torch.tensor([[0.0, 0.0, 0.0, 0.0], [2.0, 2.0, 2.0, 2.0]])  # distance 4, 4 features
    assert metrics.sample_diversity(pair) == pytest.approx(4 / 2)


def test_sample_diversity_uses_only_the_first_samples():
    x = torch.cat([torch.zeros(5, 2), torch.randn(5, 2) * 10])
    assert metrics.sample_diversity(x, max_pairs_samples=5) == 0.0
    assert metrics.sample_diversity(x, max_pairs_samples=10) > 0
    with pytest.raises(ValueError, match="max_pairs_samples"):
        metrics.sample_diversity(x, max_pairs_samples=1)
    with pytest.raises(ValueError, match="samples"):
        metrics.sample_diversity(torch.zeros(1, 2))


@pytest.mark.parametrize("metric", [metrics.sliced_wasserstein, metrics.mmd_rbf])
def test_distances_are_small_for_same_cloud_and_grow_with_shift(metric):
    x, x2 = _cloud(seed=0), _cloud(seed=1)
    shift = torch.tensor([1.0, 0.0, 0.0])
    d_same = metric(x, x2)
    d1, d2 = metric(x, x2 + shift), metric(x, x2 + 2 * shift)
    assert abs(d_same) < 0.3 * d1
    assert d1 < d2
    assert metric(x, x2 + shift) == pytest.approx(metric(x2 + shift, x), rel=1e-5, abs=1e-7)
    assert metric(x, x2 + shift) == metric(x, x2 + shift)  # deterministic


def test_sliced_wasserstein_known_values_seed_and_unequal_sizes():
    x = _cloud(400, 5)
    assert metrics.sliced_wasserstein(x, x) == pytest.approx(0.0, abs=1e-6)
    # a translation by t moves every 1-D projection by <theta, t>: SW1 = mean |<theta, t>|
    t = torch.tensor([3.0, 0, 0, 0, 0])
    sw = metrics.sliced_wasserstein(x, x + t, n_projections=256, seed=3)
    gen = torch.Generator().manual_seed(3)
    dirs = torch.randn(5, 256, generator=gen, dtype=torch.float64)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    assert sw == pytest.approx((t.double() @ dirs).abs().mean().item(), rel=1e-4)
    assert sw != metrics.sliced_wasserstein(x, x + t, seed=4)  # seed picks the directions
    # unequal sizes: interpolated quantiles, still ~0 for the same distribution
    img_a, img_b = _cloud(200, 12, seed=5).view(200, 3, 2, 2), _cloud(150, 12, seed=6).view(150, 3, 2, 2)
    assert metrics.sliced_wasserstein(img_a, img_b) < 0.3 * metrics.sliced_wasserstein(img_a, img_b + 1)


def test_mmd_rbf_matches_a_direct_unbiased_estimate():
    x, y = _cloud(30, 2, seed=0), _cloud(20, 2, seed=1) + 0.7
    bws = (0.5, 2.0)

    def k(a, b):
        d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return sum(torch.exp(-d2 / (2 * s * s)) for s in bws)

    kxx, kyy = k(x, x), k(y, y)
    want = ((kxx.sum() - kxx.trace()) / (30 * 29) + (kyy.sum() - kyy.trace()) / (20 * 19)
            - 2 * k(x, y).mean())
    assert metrics.mmd_rbf(x, y, bandwidths=bws) == pytest.approx(want.item(), rel=1e-4)
    with pytest.raises(ValueError, match="bandwidths"):
        metrics.mmd_rbf(x, y, bandwidths=())
    with pytest.raises(ValueError, match="bandwidths"):
        metrics.mmd_rbf(x, y, bandwidths=(1.0, -1.0))


@pytest.mark.parametrize("metric", [metrics.sliced_wasserstein, metrics.mmd_rbf])
def test_distances_reject_mismatched_dims(metric):
    with pytest.raises(ValueError, match="features"):
        metric(torch.randn(10, 3), torch.randn(10, 4))


def test_mean_shift_is_the_difference_of_means():
    fake, real = _cloud(40, 6, seed=0) + 2.0, _cloud(30, 6, seed=1)
    shift = metrics.mean_shift(fake, real)
    assert shift.device.type == "cpu" and shift.shape == (6,)
    assert torch.allclose(shift, fake.mean(0) - real.mean(0))
    imgs = metrics.mean_shift(fake.view(40, 6, 1, 1), real.view(30, 6, 1, 1))
    assert imgs.shape == (6, 1, 1)
    with pytest.raises(ValueError, match="fake and real"):
        metrics.mean_shift(torch.randn(4, 2), torch.randn(4, 3))


def test_restarts_keep_each_images_best_search_and_never_do_worse():
    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(3, 32), nn.Tanh(), nn.Linear(32, 8), nn.Tanh())
    target = g(torch.randn(20, 3)).detach()
    one = reconstruction_error(g, target, latent_dim=3, steps=10, lr=0.05)
    many = reconstruction_error(g, target, latent_dim=3, steps=10, lr=0.05, restarts=4, seed=1)
    assert (many.per_image <= one.per_image + 1e-7).all() and many.mse < one.mse
    # the kept z reproduces the kept error
    again = ((g(many.latents) - target).square().mean(1) / 4).detach()
    torch.testing.assert_close(again, many.per_image, rtol=1e-4, atol=1e-7)


def test_random_start_is_seeded_and_differs_from_the_zero_start():
    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(3, 8), nn.Tanh())
    target = torch.rand(6, 8) * 2 - 1
    a = reconstruction_error(g, target, latent_dim=3, steps=3, init="random", seed=5)
    b = reconstruction_error(g, target, latent_dim=3, steps=3, init="random", seed=5)
    c = reconstruction_error(g, target, latent_dim=3, steps=3, init="random", seed=6)
    zero = reconstruction_error(g, target, latent_dim=3, steps=3)
    assert torch.equal(a.latents, b.latents) and not torch.equal(a.latents, c.latents)
    assert not torch.equal(a.latents, zero.latents)
    for kwargs, param in (({"init": "ones"}, "init"), ({"restarts": 0}, "restarts")):
        with pytest.raises(ValueError, match=param):
            reconstruction_error(g, target, latent_dim=3, **kwargs)


def test_search_recovers_images_the_generator_made():
    """Xiang & Li's metric presumes the search finds a z when one exists: on images made by a
    smooth G from known z, enough steps drive the error near zero."""
    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(4, 64), nn.Tanh(), nn.Linear(64, 16), nn.Tanh())
    made = g(torch.randn(32, 4) * 0.5).detach()
    short = reconstruction_error(g, made, latent_dim=4, steps=5, lr=0.01).mse
    long = reconstruction_error(g, made, latent_dim=4, steps=500, lr=0.01).mse
    assert long < 0.05 * short and long < 1e-4
