"""Model builders: shapes for every configuration, Table I parameter counts, BN blind spot."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from bngan import models, norms


def _bn_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]


@pytest.mark.parametrize("arch", models.ARCHITECTURES)
@pytest.mark.parametrize("image_size", models.IMAGE_SIZES)
@pytest.mark.parametrize("channels", models.CHANNELS)
def test_every_size_and_channel_count_gives_images_and_logits(arch, image_size, channels):
    torch.manual_seed(0)
    g, d = models.build_dcgan(arch=arch, image_size=image_size, channels=channels, latent_dim=16,
                              g_filters=(16, 8), d_filters=(8, 8, 16, 16), width=8)
    z = torch.randn(3, 16)
    x = g(z)
    assert x.shape == (3, channels, image_size, image_size)
    assert x.abs().max() <= 1.0  # tanh output
    assert d(x).shape == (3, 1)


NORM_CASES = list(itertools.product(norms.NORM_KINDS, models.NORM_IN, models.PLACEMENTS))


@pytest.mark.parametrize("arch", models.ARCHITECTURES)
@pytest.mark.parametrize("norm,norm_in,placement", NORM_CASES)
def test_every_normalization_option_builds_and_runs(arch, norm, norm_in, placement):
    torch.manual_seed(0)
    if norm == "weight" and placement == "dcgan" and norm_in != "none":
        with pytest.raises(ValueError, match="placement must be 'all' with norm='weight'"):
            models.build_dcgan(arch=arch, norm=norm, norm_in=norm_in, placement=placement, image_size=16,
                               channels=1, latent_dim=8, g_filters=(8, 8), d_filters=(8, 8, 8, 8), width=8)
        return
    g, d = models.build_dcgan(arch=arch, norm=norm, norm_in=norm_in, placement=placement, image_size=16,
                              channels=1, latent_dim=8, g_filters=(8, 8), d_filters=(8, 8, 8, 8), width=8)
    out = d(g(torch.randn(4, 8)))
    assert out.shape == (4, 1) and torch.isfinite(out).all()
    g_has_bn, d_has_bn = bool(_bn_layers(g)), bool(_bn_layers(d))
    expect_bn = norm == "batch"
    assert g_has_bn == (expect_bn and norm_in in ("g", "both"))
    assert d_has_bn == (expect_bn and norm_in in ("d", "both"))


def test_dcgan_placement_skips_g_output_and_d_input_but_all_does_not():
    g, d = models.build_dcgan(norm="batch", placement="dcgan", image_size=32)
    # Table I: G C128(b)-C64(b)-C3, D C32-C64(b)-C128(b)-C128(b)
    assert [m.num_features for m in _bn_layers(g)] == [128, 64]
    assert [m.num_features for m in _bn_layers(d)] == [64, 128, 128]
    assert isinstance(g[-2], nn.Conv2d) and isinstance(d[1], nn.Identity)
    g_all, d_all = models.build_dcgan(norm="batch", placement="all", image_size=32)
    assert [m.num_features for m in _bn_layers(g_all)] == [128, 128, 64, 3]
    assert [m.num_features for m in _bn_layers(d_all)] == [32, 64, 128, 128]


def _conv(k, cin, cout):
    return k * k * cin * cout + cout


def test_table1_parameter_counts_match_a_count_by_hand():
    latent, s, c = 100, 32, 3
    # Generator: Dense(100 -> 128*8*8) -> [up, C128(k3), BN] -> [up, C64(k3), BN] -> C3(k3)
    g_no_bn = (latent * 128 * 8 * 8 + 128 * 8 * 8) + _conv(3, 128, 128) + _conv(3, 128, 64) + _conv(3, 64, 3)
    g_bn = g_no_bn + 2 * 128 + 2 * 64  # gamma and beta per BN channel
    # Discriminator: C32 (s2) C64 (s2) C128 (s2) C128 (s1), kernel 4: 32 -> 16 -> 8 -> 4 -> 4, then Dense(128*4*4 -> 1)
    d_no_bn = _conv(4, c, 32) + _conv(4, 32, 64) + _conv(4, 64, 128) + _conv(4, 128, 128) + (128 * 4 * 4 + 1)
    d_bn = d_no_bn + 2 * (64 + 128 + 128)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    g, d = models.build_dcgan(norm="none", image_size=s, channels=c)
    assert (count(g), count(d)) == (g_no_bn, d_no_bn)
    g, d = models.build_dcgan(norm="batch", image_size=s, channels=c)
    assert (count(g), count(d)) == (g_bn, d_bn)


def test_kernel5_variant_with_128_filters_everywhere():
    g, d = models.build_dcgan(image_size=32, g_kernel=5, g_filters=(128, 128), d_filters=(128,) * 4)
    convs = [m for m in g.modules() if isinstance(m, nn.Conv2d)]
    assert all(m.kernel_size == (5, 5) for m in convs)
    assert g(torch.randn(2, 100)).shape == (2, 3, 32, 32)
    assert d(torch.randn(2, 3, 32, 32)).shape == (2, 1)


def test_bn_momentum_reaches_each_network_in_pytorch_convention():
    g, d = models.build_dcgan(g_bn_momentum=norms.keras_to_torch_momentum(0.5),
                              d_bn_momentum=norms.keras_to_torch_momentum(0.9))
    assert {m.momentum for m in _bn_layers(g)} == {0.5}
    assert [m.momentum for m in _bn_layers(d)] == pytest.approx([0.1] * 3)


def test_dcgan_init_draws_from_n0_002():
    torch.manual_seed(0)
    g, _ = models.build_dcgan(init="dcgan")
    w = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, (nn.Conv2d, nn.Linear))])
    assert abs(w.mean().item()) < 1e-3 and w.std().item() == pytest.approx(0.02, rel=0.05)
    bn = _bn_layers(g)[0]
    assert bn.weight.mean().item() == pytest.approx(1.0, abs=0.01) and bn.bias.abs().max() == 0
    torch.manual_seed(0)
    g_default, _ = models.build_dcgan(init="default")
    assert g_default[0].weight.std().item() != pytest.approx(0.02, rel=0.05)


def test_weight_norm_models_use_tprelu_and_wn_layers():
    g, d = models.build_dcgan(norm="weight", placement="all", image_size=16, channels=1)
    assert any(isinstance(m, norms.TPReLU) for m in g.modules())
    assert any(norms.is_weight_normalized(m) for m in d.modules())
    assert not _bn_layers(g) and not _bn_layers(d)


# --------------------------------------------------------------------------- toy MLPs and the blind spot

def _toy_d_with_first_layer_bn() -> nn.Module:
    torch.manual_seed(0)
    return models.mlp_discriminator(norm=["batch", "none"]).train()


def test_train_mode_bn_after_first_layer_cannot_see_a_shift_and_positive_scale():
    d = _toy_d_with_first_layer_bn()
    fake = torch.randn(256, 2)
    moved = 3.0 * fake + torch.tensor([5.0, -2.0])
    with torch.no_grad():
        assert torch.allclose(d(fake), d(moved), atol=1e-4)


def test_joint_batch_normalization_restores_the_difference():
    d = _toy_d_with_first_layer_bn()
    real = torch.randn(256, 2)
    fake = 3.0 * real + torch.tensor([5.0, -2.0])
    with torch.no_grad():
        split = torch.cat([d(real), d(fake)])
        joint = d(torch.cat([real, fake]))
        assert not torch.allclose(joint[:256], joint[256:], atol=1e-2)
        assert torch.allclose(split[:256], split[256:], atol=1e-4)


def test_without_bn_the_shift_is_visible():
    torch.manual_seed(0)
    d = models.mlp_discriminator(norm="none")
    fake = torch.randn(64, 2)
    with torch.no_grad():
        assert not torch.allclose(d(fake), d(fake + 5.0), atol=1e-2)


def test_mlp_per_layer_norms_and_shapes():
    g = models.mlp_generator(latent_dim=3, width=16, depth=3, norm=["layer", "group", "spectral"])
    assert g(torch.randn(5, 3)).shape == (5, 2)
    assert isinstance(g[1], nn.LayerNorm) and isinstance(g[4], nn.GroupNorm)
    with pytest.raises(ValueError, match="norm"):
        models.mlp_discriminator(depth=2, norm=["batch"])


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize(
    "kwargs,param",
    [
        ({"image_size": 30}, "image_size"),
        ({"channels": 2}, "channels"),
        ({"arch": "resnet"}, "arch"),
        ({"norm_in": "left"}, "norm_in"),
        ({"placement": "some"}, "placement"),
        ({"norm": "batchnorm"}, "norm"),
        ({"g_kernel": 0}, "kernel_size"),
        ({"dropout": 1.5}, "dropout"),
        ({"init": "xavier"}, "init"),
        ({"g_filters": (64,)}, "filters"),
        ({"d_kernel": 40, "image_size": 16}, "kernel_size"),
        ({"g_upsample": "bilinear"}, "upsample"),
    ],
)
def test_bad_parameters_name_themselves(kwargs, param):
    with pytest.raises(ValueError, match=param):
        models.build_dcgan(**kwargs)


def test_error_lists_allowed_values():
    with pytest.raises(ValueError, match="16, 28, 32, 64"):
        models.keras_generator(image_size=48)


def test_glorot_init_is_keras_default_uniform_weights_and_zero_biases():
    torch.manual_seed(0)
    g = models.mlp_generator(width=64)
    models.init_weights_(g, "glorot")
    for layer in (m for m in g.modules() if isinstance(m, nn.Linear)):
        fan_out, fan_in = layer.weight.shape
        bound = (6.0 / (fan_in + fan_out)) ** 0.5
        assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.9 * bound
        assert torch.count_nonzero(layer.bias) == 0
    with pytest.raises(ValueError, match="init"):
        models.init_weights_(g, "he")


@pytest.mark.parametrize("kernel", [2, 3, 4, 5, 6, 7])
@pytest.mark.parametrize("image_size", [16, 32])
def test_transposed_generator_doubles_its_maps_for_any_kernel(kernel, image_size):
    g = models.keras_generator(image_size=image_size, channels=1, filters=(8, 4), kernel_size=kernel,
                               upsample="transposed")
    convs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [c.kernel_size for c in convs] == [(kernel, kernel)] * 2 and all(c.stride == (2, 2) for c in convs)
    sizes = []
    for conv in convs:
        conv.register_forward_hook(lambda m, i, o: sizes.append((i[0].shape[-1], o.shape[-1])))
    assert g(torch.randn(3, 100)).shape == (3, 1, image_size, image_size)
    assert sizes == [(image_size // 4, image_size // 2), (image_size // 2, image_size)]


def test_transposed_generator_keeps_the_rest_of_the_keras_generator():
    torch.manual_seed(0)
    nearest = models.keras_generator(image_size=16, channels=1, filters=(8, 4), kernel_size=3)
    transposed = models.keras_generator(image_size=16, channels=1, filters=(8, 4), kernel_size=3, upsample="transposed")
    kinds = lambda g: [type(m).__name__ for m in g if not isinstance(m, (nn.Upsample, nn.Conv2d, nn.ConvTranspose2d))]  # noqa: E731
    assert kinds(nearest) == kinds(transposed)
    # same parameter count: a transposed conv has the weights of the conv it replaces
    count = lambda g: sum(p.numel() for p in g.parameters())  # noqa: E731
    assert count(nearest) == count(transposed)
    wn = models.keras_generator(image_size=16, channels=1, filters=(8, 4), kernel_size=5, upsample="transposed",
                                norm="weight", placement="all")
    assert wn(torch.randn(2, 100)).shape == (2, 1, 16, 16)
