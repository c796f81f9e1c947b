"""Tests for bngan.norms: weight norm maths, TPReLU, momentum and the factories."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bngan.norms import (
    NORM_KINDS,
    TPReLU,
    WNConv2d,
    WNConvTranspose2d,
    WNLinear,
    check_norm,
    conv2d,
    conv_transpose2d,
    is_weight_normalized,
    keras_to_torch_momentum,
    linear,
    norm_layer,
    torch_to_keras_momentum,
)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


# Each case: (build(affine), input, output axis of .weight)
WN_CASES = {
    "linear": (lambda affine: WNLinear(6, 5, affine=affine), lambda: torch.randn(4, 6), 0),
    "conv": (lambda affine: WNConv2d(3, 5, 3, 2, 1, affine=affine), lambda: torch.randn(2, 3, 8, 8), 0),
    "convT": (lambda affine: WNConvTranspose2d(3, 5, 4, 2, 1, affine=affine), lambda: torch.randn(2, 3, 4, 4), 1),
}


def _per_output(w: torch.Tensor, out_dim: int) -> torch.Tensor:
    """Rows = output units, columns = all the weights feeding that unit."""
    return w.transpose(0, out_dim).reshape(w.shape[out_dim], -1)


def _randomize_affine(layer: nn.Module) -> None:
    with torch.no_grad():
        if layer.scale is not None:
            layer.scale.uniform_(0.5, 2.0)
        if layer.bias is not None:
            layer.bias.normal_()


# ------------------------------------------------------------ weight norm


@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("case", list(WN_CASES))
def test_wn_output_invariant_to_per_output_weight_scale(case: str, affine: bool) -> None:
    build, make_x, out_dim = WN_CASES[case]
    layer = build(affine)
    _randomize_affine(layer)
    x = make_x()
    y = layer(x)
    # a different positive factor per output unit: only a per-output norm leaves y unchanged
    shape = [1] * layer.weight.dim()
    shape[out_dim] = -1
    factors = torch.linspace(0.05, 20.0, layer.weight.shape[out_dim]).view(shape)
    with torch.no_grad():
        layer.weight.mul_(factors)
    torch.testing.assert_close(layer(x), y, rtol=1e-4, atol=1e-5)
    # ...while a non-uniform change of the direction does change it
    with torch.no_grad():
        layer.weight.add_(torch.randn_like(layer.weight) * layer.weight.abs().mean())
    assert not torch.allclose(layer(x), y, atol=1e-3)


@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("case", list(WN_CASES))
def test_wn_grad_orthogonal_to_weight(case: str, affine: bool) -> None:
    build, make_x, out_dim = WN_CASES[case]
    layer = build(affine)
    _randomize_affine(layer)
    y = layer(make_x())
    (y * torch.randn_like(y)).sum().backward()
    w = _per_output(layer.weight.detach(), out_dim)
    g = _per_output(layer.weight.grad, out_dim)
    assert (g.norm(dim=1) > 0).all()
    cosine = (w * g).sum(dim=1) / (w.norm(dim=1) * g.norm(dim=1))
    assert cosine.abs().max() < 1e-4


@pytest.mark.parametrize("case", ["linear", "conv"])
def test_strict_wn_effective_weight_has_unit_norm(case: str) -> None:
    build, _, out_dim = WN_CASES[case]
    layer = build(False)
    with torch.no_grad():
        layer.weight.mul_(7.0)
    norms = _per_output(layer.normalized_weight(), out_dim).norm(dim=1)
    torch.testing.assert_close(norms, torch.ones_like(norms))


@pytest.mark.parametrize("stride", [1, 2, (2, 3)])
def test_strict_wn_conv_transpose_norm_includes_stride_factor(stride) -> None:
    layer = WNConvTranspose2d(3, 4, 5, stride, bias=False)
    norms = _per_output(layer.normalized_weight(), 1).norm(dim=1)
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    torch.testing.assert_close(norms, torch.full_like(norms, math.sqrt(sh * sw)))


def test_wn_layers_apply_their_normalized_weight() -> None:
    x2, x4 = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 4, 4)
    lin, xl = WNLinear(6, 5, affine=True), torch.randn(4, 6)
    conv = WNConv2d(3, 5, 3, 2, 1, affine=True)
    convt = WNConvTranspose2d(3, 5, 4, 2, 1, affine=True)
    for layer in (lin, conv, convt):
        _randomize_affine(layer)
    w = lambda m: m.normalized_weight()  # noqa: E731
    torch.testing.assert_close(lin(xl), F.linear(xl, w(lin), lin.bias))
    torch.testing.assert_close(conv(x2), F.conv2d(x2, w(conv), conv.bias, 2, 1))
    torch.testing.assert_close(convt(x4), F.conv_transpose2d(x4, w(convt), convt.bias, 2, 1))


@pytest.mark.parametrize("case", list(WN_CASES))
def test_affine_scale_multiplies_output_and_bias_adds(case: str) -> None:
    build, make_x, _ = WN_CASES[case]
    strict, affine = build(False), build(True)
    with torch.no_grad():
        affine.weight.copy_(strict.weight)
        strict.bias.zero_()
        affine.bias.zero_()
    x = make_x()
    scale = torch.linspace(0.5, 3.0, affine.scale.numel())
    view = [1, -1] + [1] * (x.dim() - 2)
    with torch.no_grad():
        affine.scale.copy_(scale)
    torch.testing.assert_close(affine(x), strict(x) * scale.view(view))
    bias = torch.randn(affine.bias.numel())
    with torch.no_grad():
        affine.bias.copy_(bias)
    torch.testing.assert_close(affine(x), strict(x) * scale.view(view) + bias.view(view))


def test_wn_strict_has_no_scale_and_bias_is_optional() -> None:
    layer = WNConv2d(3, 4, 3, bias=False)
    assert layer.scale is None and layer.bias is None
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    assert {n for n, _ in WNLinear(3, 4, affine=True).named_parameters()} == {"weight", "bias", "scale"}


@pytest.mark.parametrize(
    "k, s, p, op, hw",
    [(4, 2, 1, 0, 4), (3, 1, 1, 0, 5), (5, 2, 2, 1, 7), (4, 1, 0, 0, 1), (3, 3, 0, 2, 3)],
)
def test_wn_conv_transpose_shape_matches_nn(k: int, s: int, p: int, op: int, hw: int) -> None:
    x = torch.randn(2, 3, hw, hw)
    ours = WNConvTranspose2d(3, 4, k, s, p, op)(x)
    ref = nn.ConvTranspose2d(3, 4, k, s, p, op)(x)
    assert ours.shape == ref.shape


@pytest.mark.parametrize("k, s, p, hw", [(4, 2, 1, 8), (3, 1, 1, 5), (5, 2, 0, 9), (4, 1, 0, 4), (3, (2, 1), 1, 7)])
def test_wn_conv_shape_matches_nn(k: int, s, p: int, hw: int) -> None:
    x = torch.randn(2, 3, hw, hw)
    assert WNConv2d(3, 4, k, s, p)(x).shape == nn.Conv2d(3, 4, k, s, p)(x).shape


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("norm", ["none", "weight", "spectral", "batch"])
@pytest.mark.parametrize("k", [3, 4, 5])
def test_conv2d_same_padding_keeps_size(k: int, norm: str) -> None:
    layer = conv2d(3, 4, k, padding="same", norm=norm)
    assert layer(torch.randn(2, 3, 7, 6)).shape == (2, 4, 7, 6)


def test_wn_conv_same_padding_needs_stride_one_and_known_string() -> None:
    with pytest.raises(ValueError, match="padding"):
        WNConv2d(3, 4, 3, 2, "same")
    with pytest.raises(ValueError, match="padding"):
        WNConv2d(3, 4, 3, 1, "full")


def test_wn_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="in_features"):
        WNLinear(0, 3)
    with pytest.raises(ValueError, match="out_channels"):
        WNConvTranspose2d(3, -1, 4)


def test_is_weight_normalized() -> None:
    assert is_weight_normalized(WNLinear(2, 3))
    assert is_weight_normalized(conv2d(2, 3, 3, norm="weight"))
    assert is_weight_normalized(conv_transpose2d(2, 3, 4, 2, 1, norm="weight", affine=True))
    assert not is_weight_normalized(nn.Linear(2, 3))
    assert not is_weight_normalized(conv2d(2, 3, 3, norm="spectral"))


# --------------------------------------------------------------- TPReLU


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4, 4)])
def test_tprelu_zero_shift_zero_slope_is_relu(shape) -> None:
    act = TPReLU(3, init_slope=0.0)
    x = torch.randn(shape)
    torch.testing.assert_close(act(x), torch.relu(x))


def test_tprelu_slope_clamped_in_forward() -> None:
    act = TPReLU(2)
    with torch.no_grad():
        act.slope.copy_(torch.tensor([-0.5, 3.0]))
    x = torch.tensor([[-2.0, -2.0], [1.0, 1.0]])
    # slope -0.5 -> 0 (ReLU), slope 3 -> 1 (identity)
    torch.testing.assert_close(act(x), torch.tensor([[0.0, -2.0], [1.0, 1.0]]))


@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 4, 4)])
def test_tprelu_is_shifted_prelu(shape) -> None:
    act = TPReLU(3, init_slope=0.3)
    b = torch.tensor([0.5, -1.0, 2.0])
    with torch.no_grad():
        act.shift.copy_(b)
    x = torch.randn(shape) * 2
    bv = b.view(1, 3, *([1] * (len(shape) - 2)))
    expected = torch.where(x - bv > 0, x, 0.3 * (x - bv) + bv)
    torch.testing.assert_close(act(x), expected)
    assert {n for n, _ in act.named_parameters()} == {"slope", "shift"}


def test_tprelu_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="init_slope"):
        TPReLU(3, init_slope=1.5)
    with pytest.raises(ValueError, match="3"):
        TPReLU(3)(torch.randn(2, 4))


# ------------------------------------------------------------- momentum


def test_momentum_mapping() -> None:
    assert keras_to_torch_momentum(0.9) == pytest.approx(0.1)
    assert keras_to_torch_momentum(0.5) == pytest.approx(0.5)
    assert torch_to_keras_momentum(0.1) == pytest.approx(0.9)
    for m in (0.0, 0.01, 0.9, 0.99, 1.0):
        assert torch_to_keras_momentum(keras_to_torch_momentum(m)) == pytest.approx(m)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_momentum_mapping_rejects_out_of_range(bad: float) -> None:
    with pytest.raises(ValueError, match=r"keras_momentum must be in \[0, 1\]"):
        keras_to_torch_momentum(bad)
    with pytest.raises(ValueError, match="torch_momentum"):
        torch_to_keras_momentum(bad)


# ----------------------------------------------------------- norm_layer


@pytest.mark.parametrize(
    "kind, spatial, expected",
    [
        ("batch", True, nn.BatchNorm2d),
        ("batch", False, nn.BatchNorm1d),
        ("layer", True, nn.GroupNorm),
        ("layer", False, nn.LayerNorm),
        ("group", True, nn.GroupNorm),
        ("group", False, nn.GroupNorm),
        ("instance", True, nn.InstanceNorm2d),
        ("none", True, nn.Identity),
        ("weight", False, nn.Identity),
        ("spectral", True, nn.Identity),
    ],
)
def test_norm_layer_types(kind: str, spatial: bool, expected: type) -> None:
    layer = norm_layer(kind, 12, spatial=spatial)
    assert type(layer) is expected
    x = torch.randn(4, 12, 5, 5) if spatial else torch.randn(4, 12)
    assert layer(x).shape == x.shape


def test_norm_layer_batch_momentum_and_eps() -> None:
    for spatial in (True, False):
        bn = norm_layer("batch", 8, spatial=spatial, bn_momentum=0.01, eps=1e-3)
        assert bn.momentum == 0.01 and bn.eps == 1e-3


def test_norm_layer_layer_spatial_normalises_each_sample() -> None:
    ln = norm_layer("layer", 6, spatial=True)
    assert ln.num_groups == 1
    y = ln(torch.randn(3, 6, 4, 4) * 5 + 2)
    torch.testing.assert_close(y.mean(dim=(1, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(dim=(1, 2, 3), unbiased=False), torch.ones(3), atol=1e-3, rtol=0)


@pytest.mark.parametrize("channels, groups", [(1, 1), (6, 6), (8, 8), (12, 6), (64, 8), (100, 5), (13, 1)])
def test_norm_layer_group_count(channels: int, groups: int) -> None:
    assert norm_layer("group", channels, spatial=True).num_groups == groups


def test_norm_layer_instance_is_affine_and_rejects_non_spatial() -> None:
    assert norm_layer("instance", 4, spatial=True).affine
    with pytest.raises(ValueError, match="'instance'.*'layer'"):
        norm_layer("instance", 4, spatial=False)


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.1])
def test_norm_layer_rejects_bad_momentum(bad: float) -> None:
    with pytest.raises(ValueError, match=r"bn_momentum must be in \(0, 1\]"):
        norm_layer("batch", 4, spatial=True, bn_momentum=bad)


def test_check_norm() -> None:
    for kind in NORM_KINDS:
        assert check_norm(kind) == kind
    with pytest.raises(ValueError) as err:
        check_norm("Batch")
    msg = str(err.value)
    assert msg.startswith("norm must be one of ") and msg.endswith("got 'Batch'")
    assert all(repr(k) in msg for k in NORM_KINDS)
    with pytest.raises(ValueError, match="^d_norm must be one of"):
        check_norm("bn", param="d_norm")


@pytest.mark.parametrize(
    "factory",
    [
        lambda: linear(3, 4, norm="wn"),
        lambda: conv2d(3, 4, 3, norm="wn"),
        lambda: conv_transpose2d(3, 4, 3, norm="wn"),
        lambda: norm_layer("wn", 4, spatial=True),
    ],
)
def test_factories_reject_unknown_norm(factory) -> None:
    with pytest.raises(ValueError, match="^norm must be one of 'none', 'batch'.*got 'wn'"):
        factory()


# -------------------------------------------------------------- factories


def test_factories_pick_layer_by_norm() -> None:
    assert type(linear(3, 4, norm="batch")) is nn.Linear
    assert type(conv2d(3, 4, 3, norm="group")) is nn.Conv2d
    assert type(conv_transpose2d(3, 4, 4, 2, 1, norm="none")) is nn.ConvTranspose2d
    strict = conv_transpose2d(3, 4, 4, 2, 1, norm="weight", bias=False)
    assert isinstance(strict, WNConvTranspose2d) and strict.scale is None and strict.bias is None
    aff = linear(3, 4, norm="weight", affine=True)
    assert isinstance(aff, WNLinear) and aff.scale is not None and aff.bias is not None
    assert linear(3, 4, norm="none", bias=False).bias is None
    assert conv2d(3, 4, 3, norm="weight", bias=False).bias is None


@pytest.mark.parametrize(
    "build, x",
    [
        (lambda: linear(10, 6, norm="spectral"), torch.randn(4, 10)),
        (lambda: conv2d(3, 8, 3, norm="spectral"), torch.randn(2, 3, 6, 6)),
        (lambda: conv_transpose2d(8, 3, 4, 2, 1, norm="spectral"), torch.randn(2, 8, 3, 3)),
    ],
)
def test_spectral_layer_has_unit_largest_singular_value(build, x) -> None:
    layer = build()
    with torch.no_grad():
        layer.parametrizations.weight.original.mul_(10.0)
    layer.train()
    for _ in range(20):
        layer(x)
    w = layer.weight.detach()
    if isinstance(layer, nn.ConvTranspose2d):
        w = w.transpose(0, 1)  # spectral norm works on the output-channel axis
    sigma = torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), ord=2)
    assert sigma.item() == pytest.approx(1.0, abs=2e-2)
