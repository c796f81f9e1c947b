"""Generator and discriminator builders: the seed paper's Keras-style DCGAN, the
Radford-style DCGAN (as in the PyTorch example), and ``build_dcgan``, the (G, D) pair a
config describes (toy MLPs from :mod:`bngan.models.toy_models`, inits from :mod:`bngan.models.inits`).

Every discriminator returns one logit per sample (no sigmoid): the losses apply the
sigmoid themselves, which is numerically safer and lets least-squares losses reuse D.

Where the normalization goes is one of four choices per model pair (``norm_in``: none, g,
d, both) and two placements (``placement``): ``dcgan`` skips the generator's output layer and
the discriminator's input layer, as DCGAN recommends; ``all`` normalizes every layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from ..choices import BLOCK_ORDERS, CHANNELS, IMAGE_SIZES, NORM_IN, PLACEMENTS, UPSAMPLINGS  # noqa: F401  (models.IMAGE_SIZES, ...)
from . import norms
from .inits import INITS, dcgan_init_, init_weights_  # noqa: F401  (models.init_weights_ is public)
from .layers import (Reshape, WN_ACTIVATIONS, check_wn_activation, choice, doubling_transposed_conv,  # noqa: F401
                     hidden_activation, hidden_bias, positive_int, same_conv, strided_out)
from .norms import check_norm
from .toy_models import MomentMatch, mlp_discriminator, mlp_generator  # noqa: F401  (models.MomentMatch, ...)

ARCHITECTURES = ("keras", "radford")


# --------------------------------------------------------------------------- Keras-style DCGAN

def keras_generator(
    *,
    latent_dim: int = 100,
    image_size: int = 32,
    channels: int = 3,
    filters: Sequence[int] = (128, 64),
    kernel_size: int = 3,
    norm: str = "batch",
    placement: str = "dcgan",
    bn_momentum: float = 0.1,
    bn_eps: float = 1e-5,
    block_order: str = "conv-norm-act",
    upsample: str = "nearest",
    wn_activation: str = "tprelu",
) -> nn.Sequential:
    """The seed paper's generator (Table I, after Keras-GAN's DCGAN).

    Dense(latent -> filters[0] * (s/4)^2) -> ReLU -> reshape -> [upsample x2 -> conv ->
    norm -> ReLU] per hidden filter count -> conv(channels) -> tanh. Table I lists it as
    ``C128(b)-C64(b)-C3`` (a conv "followed by BN", as in Keras-GAN's code: conv, BN, ReLU);
    ``block_order="conv-act-norm"`` puts the norm after the ReLU instead. Upsampling doubles
    the map twice, so ``len(filters)`` is 2 and ``s`` is one of :data:`IMAGE_SIZES`.
    ``placement="all"`` also normalizes the projection and the output conv. ``norm="weight"``
    is Xiang & Li's model: every layer weight-normalized (strict, with a TPReLU, on the hidden
    layers; affine on the output conv), so it needs ``placement="all"``. ``bn_momentum`` uses
    PyTorch's convention (weight of the new batch); ``bn_eps`` is BN's epsilon.
    """
    norm = check_norm(norm)
    _check_image(image_size, channels)
    positive_int(latent_dim, "latent_dim")
    positive_int(kernel_size, "kernel_size")
    choice(placement, PLACEMENTS, "placement")
    choice(block_order, BLOCK_ORDERS, "block_order")
    choice(upsample, UPSAMPLINGS, "upsample")
    _check_weight_placement(norm, placement)
    check_wn_activation(wn_activation)
    filters = tuple(positive_int(f, "filters") for f in filters)
    if len(filters) != 2:
        raise ValueError(f"filters must list 2 hidden conv widths (one per upsampling); got {filters!r}")
    base = image_size // 4
    if kernel_size > 2 * base:
        raise ValueError(f"kernel_size={kernel_size} is larger than the first {2 * base}x{2 * base} feature map; "
                         f"use a kernel_size of at most {2 * base} for {image_size}px images")
    everywhere = placement == "all"

    def normalize_and_activate(kind: str, width: int) -> list[nn.Module]:
        pair = [norms.norm_layer(kind, width, spatial=True, bn_momentum=bn_momentum, eps=bn_eps),
                hidden_activation(norm, width, leak=0.0, wn_activation=wn_activation)]
        return pair if block_order == "conv-norm-act" else pair[::-1]

    proj_norm = norm if everywhere else "none"
    layers: list[nn.Module] = [
        norms.linear(latent_dim, filters[0] * base * base, norm=proj_norm, bias=hidden_bias(proj_norm)),
        Reshape(filters[0], base, base),
        *normalize_and_activate(proj_norm, filters[0]),
    ]
    in_ch = filters[0]
    for width in filters:
        if upsample == "nearest":
            layers += [nn.Upsample(scale_factor=2, mode="nearest"),
                       same_conv(in_ch, width, kernel_size, norm=norm, bias=hidden_bias(norm))]
        else:
            layers.append(doubling_transposed_conv(in_ch, width, kernel_size, norm=norm, bias=hidden_bias(norm)))
        layers += normalize_and_activate(norm, width)
        in_ch = width
    out_norm = norm if everywhere else "none"
    layers.append(same_conv(in_ch, channels, kernel_size, norm=out_norm, affine=True))
    if everywhere:
        layers.append(norms.norm_layer(norm, channels, spatial=True, bn_momentum=bn_momentum, eps=bn_eps))
    layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def _check_weight_placement(norm: str, placement: str) -> None:
    if norm == "weight" and placement != "all":
        raise ValueError("placement must be 'all' with norm='weight' (Xiang & Li's model weight-normalizes "
                         f"every layer); got {placement!r}")


def keras_discriminator(
    *,
    image_size: int = 32,
    channels: int = 3,
    filters: Sequence[int] = (32, 64, 128, 128),
    kernel_size: int = 4,
    strides: Sequence[int] | None = None,
    norm: str = "batch",
    placement: str = "dcgan",
    bn_momentum: float = 0.1,
    dropout: float = 0.25,
    leak: float = 0.2,
    bn_eps: float = 1e-5,
    wn_activation: str = "tprelu",
) -> nn.Sequential:
    """The seed paper's discriminator (Table I, after Keras-GAN's DCGAN).

    [conv (stride 2, last stride 1) -> norm -> LeakyReLU(0.2) -> Dropout(0.25)] per filter
    count -> flatten -> dense -> one logit. Table I: ``C32-C64(b)-C128(b)-C128(b)``: with the
    ``dcgan`` placement the first conv is not normalized. ``norm="weight"`` (with
    ``placement="all"``) gives Xiang & Li's model: strict weight-normalized convs with TPReLU,
    an affine weight-normalized head.
    """
    norm = check_norm(norm)
    _check_image(image_size, channels)
    positive_int(kernel_size, "kernel_size")
    choice(placement, PLACEMENTS, "placement")
    _check_weight_placement(norm, placement)
    check_wn_activation(wn_activation)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1); got {dropout!r}")
    filters = tuple(positive_int(f, "filters") for f in filters)
    if not filters:
        raise ValueError("filters must list at least one conv width")
    strides = tuple(strides) if strides is not None else (2,) * (len(filters) - 1) + (1,)
    if len(strides) != len(filters) or any(s not in (1, 2) for s in strides):
        raise ValueError(f"strides must give 1 or 2 for each of the {len(filters)} convs; got {strides!r}")
    if kernel_size > image_size:
        raise ValueError(f"kernel_size={kernel_size} is larger than the {image_size}px image; "
                         f"use a kernel_size of at most {image_size}")
    layers: list[nn.Module] = []
    in_ch, size = channels, image_size
    for i, (width, stride) in enumerate(zip(filters, strides)):
        layer_norm = norm if (i > 0 or placement == "all") else "none"
        if stride == 1:
            conv = same_conv(in_ch, width, kernel_size, norm=layer_norm, bias=hidden_bias(layer_norm))
        else:
            pad = (kernel_size - 1) // 2
            conv = norms.conv2d(in_ch, width, kernel_size, stride=stride, padding=pad, norm=layer_norm,
                                bias=hidden_bias(layer_norm))
            size = strided_out(size, kernel_size, stride, pad)
        layers += [conv, norms.norm_layer(layer_norm, width, spatial=True, bn_momentum=bn_momentum, eps=bn_eps)]
        layers.append(hidden_activation(norm, width, leak=leak, wn_activation=wn_activation)
                      if layer_norm == "weight" else nn.LeakyReLU(leak))
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        in_ch = width
    head_norm = norm if (placement == "all" and norm in ("weight", "spectral")) else "none"
    layers += [nn.Flatten(), norms.linear(in_ch * size * size, 1, norm=head_norm, affine=True)]
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------- Radford-style DCGAN

def _extra_blocks(channels: int, n: int, *, norm: str, leak: float, bn_momentum: float, bn_eps: float,
                  wn_activation: str) -> list[nn.Module]:
    """``n`` stride-1 3x3 conv -> norm -> activation blocks at constant width (a deeper plain
    conv stack; bias only where no normalization follows, as in the other hidden layers)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"extra_layers must be a non-negative integer; got {n!r}")
    blocks: list[nn.Module] = []
    for _ in range(n):
        blocks += [
            norms.conv2d(channels, channels, 3, 1, 1, norm=norm, bias=norm in ("none", "spectral")),
            norms.norm_layer(norm, channels, spatial=True, bn_momentum=bn_momentum, eps=bn_eps),
            (hidden_activation(norm, channels, leak=leak, wn_activation=wn_activation) if norm == "weight"
             else (nn.ReLU() if leak == 0 else nn.LeakyReLU(leak))),
        ]
    return blocks


def _radford_base(image_size: int) -> tuple[int, int]:
    """Smallest map side (4, or 7 for 28px) and the number of doublings to reach the image."""
    base = 7 if image_size == 28 else 4
    return base, int(math.log2(image_size // base))


def radford_generator(
    *,
    latent_dim: int = 100,
    image_size: int = 64,
    channels: int = 3,
    width: int = 64,
    norm: str = "batch",
    placement: str = "dcgan",
    bn_momentum: float = 0.1,
    bn_eps: float = 1e-5,
    wn_activation: str = "tprelu",
    extra_layers: int = 0,
) -> nn.Sequential:
    """DCGAN generator from Radford et al. as in the PyTorch example: transposed convs.

    ConvT(latent -> width*2^(n-1), base) -> norm -> ReLU, then stride-2 ConvT(4, 2, 1)
    halving the width each time, ending in ConvT(width -> channels) -> tanh. Bias is off
    before a normalization (it would be cancelled) and on otherwise.
    """
    norm = check_norm(norm)
    _check_image(image_size, channels)
    positive_int(latent_dim, "latent_dim")
    positive_int(width, "width")
    choice(placement, PLACEMENTS, "placement")
    _check_weight_placement(norm, placement)
    check_wn_activation(wn_activation)
    base, doublings = _radford_base(image_size)
    widths = [width * 2 ** (doublings - 1 - i) for i in range(doublings)]
    layers: list[nn.Module] = [Reshape(latent_dim, 1, 1)]
    in_ch = latent_dim
    for i, out_ch in enumerate(widths):
        kernel, stride, pad = (base, 1, 0) if i == 0 else (4, 2, 1)
        layers += [
            norms.conv_transpose2d(in_ch, out_ch, kernel, stride, pad, norm=norm,
                                    bias=norm in ("none", "spectral")),
            norms.norm_layer(norm, out_ch, spatial=True, bn_momentum=bn_momentum, eps=bn_eps),
            hidden_activation(norm, out_ch, leak=0.0, wn_activation=wn_activation),
        ]
        in_ch = out_ch
    layers += _extra_blocks(in_ch, extra_layers, norm=norm, leak=0.0, bn_momentum=bn_momentum, bn_eps=bn_eps,
                            wn_activation=wn_activation)
    out_norm = norm if placement == "all" else "none"
    layers.append(norms.conv_transpose2d(in_ch, channels, 4, 2, 1, norm=out_norm, affine=True))
    if placement == "all":
        layers.append(norms.norm_layer(norm, channels, spatial=True, bn_momentum=bn_momentum, eps=bn_eps))
    layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def radford_discriminator(
    *,
    image_size: int = 64,
    channels: int = 3,
    width: int = 64,
    norm: str = "batch",
    placement: str = "dcgan",
    bn_momentum: float = 0.1,
    leak: float = 0.2,
    bn_eps: float = 1e-5,
    wn_activation: str = "tprelu",
    extra_layers: int = 0,
) -> nn.Sequential:
    """DCGAN discriminator from Radford et al.: stride-2 Conv(4, 2, 1) doubling the width,
    LeakyReLU(0.2), then a conv over the whole base map to one logit. ``extra_layers`` adds
    that many stride-1 3x3 conv -> norm -> activation blocks after the first conv (at the
    largest feature maps), as the DCGAN code of Arjovsky et al.'s WGAN does."""
    norm = check_norm(norm)
    _check_image(image_size, channels)
    positive_int(width, "width")
    choice(placement, PLACEMENTS, "placement")
    _check_weight_placement(norm, placement)
    check_wn_activation(wn_activation)
    base, doublings = _radford_base(image_size)
    layers: list[nn.Module] = []
    in_ch = channels
    for i in range(doublings):
        out_ch = width * 2**i
        layer_norm = norm if (i > 0 or placement == "all") else "none"
        layers += [
            norms.conv2d(in_ch, out_ch, 4, 2, 1, norm=layer_norm, bias=layer_norm in ("none", "spectral")),
            norms.norm_layer(layer_norm, out_ch, spatial=True, bn_momentum=bn_momentum, eps=bn_eps),
            (hidden_activation(norm, out_ch, leak=leak, wn_activation=wn_activation) if layer_norm == "weight"
             else nn.LeakyReLU(leak)),
        ]
        in_ch = out_ch
        if i == 0:
            layers += _extra_blocks(in_ch, extra_layers, norm=norm, leak=leak, bn_momentum=bn_momentum, bn_eps=bn_eps,
                                    wn_activation=wn_activation)
    head_norm = norm if (placement == "all" and norm in ("weight", "spectral")) else "none"
    layers += [norms.conv2d(in_ch, 1, base, 1, 0, norm=head_norm, affine=True), nn.Flatten()]
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------- pairs and init

def build_dcgan(
    *,
    arch: str = "keras",
    norm: str = "batch",
    norm_in: str = "both",
    placement: str = "dcgan",
    image_size: int = 32,
    channels: int = 3,
    latent_dim: int = 100,
    g_kernel: int = 3,
    d_kernel: int = 4,
    g_filters: Sequence[int] = (128, 64),
    d_filters: Sequence[int] = (32, 64, 128, 128),
    width: int = 64,
    g_bn_momentum: float = 0.1,
    d_bn_momentum: float = 0.1,
    dropout: float = 0.25,
    init: str = "dcgan",
    bn_eps: float = 1e-5,
    g_block_order: str = "conv-norm-act",
    g_upsample: str = "nearest",
    wn_activation: str = "tprelu",
    extra_layers: int = 0,
) -> tuple[nn.Sequential, nn.Sequential]:
    """A (generator, discriminator) pair.

    ``arch``: ``keras`` (seed paper, uses g/d_kernel, g/d_filters, dropout) or ``radford``
    (uses ``width``). ``norm_in`` picks which networks get ``norm`` (the other gets none).
    BN momenta follow PyTorch's convention; map the paper's Keras values with
    :func:`bngan.models.norms.keras_to_torch_momentum`; ``bn_eps`` is BN's epsilon (Keras 1e-3, PyTorch
    1e-5). ``init="dcgan"`` draws weights from N(0, 0.02) and BN scales from N(1, 0.02);
    ``init="glorot"`` is Keras' default (Glorot-uniform kernels, zero biases, BN scale 1).
    ``g_block_order`` is the Keras-style generator's order inside a block (see
    :func:`keras_generator`), and ``g_upsample`` how it doubles its maps (``nearest`` then a
    conv, or a stride-2 transposed conv). ``wn_activation`` is the hidden activation of
    weight-normalized layers: ``tprelu`` (Xiang & Li's TPReLU) or ``relu`` (ReLU in G,
    LeakyReLU in D, as in the unnormalized model: the TReLU ablation). ``extra_layers`` (Radford
    only) adds that many stride-1 3x3 conv blocks to each network at its largest feature maps.
    """
    if arch != "radford" and extra_layers != 0:
        raise ValueError(f"extra_layers must be 0 unless arch is 'radford'; got {extra_layers!r}")
    choice(arch, ARCHITECTURES, "arch")
    choice(norm_in, NORM_IN, "norm_in")
    choice(init, INITS, "init")
    check_norm(norm)
    g_norm = norm if norm_in in ("g", "both") else "none"
    d_norm = norm if norm_in in ("d", "both") else "none"
    if arch == "keras":
        g = keras_generator(latent_dim=latent_dim, image_size=image_size, channels=channels, filters=g_filters,
                            kernel_size=g_kernel, norm=g_norm, placement=placement, bn_momentum=g_bn_momentum,
                            bn_eps=bn_eps, block_order=g_block_order, upsample=g_upsample,
                            wn_activation=wn_activation)
        d = keras_discriminator(image_size=image_size, channels=channels, filters=d_filters, kernel_size=d_kernel,
                                norm=d_norm, placement=placement, bn_momentum=d_bn_momentum, dropout=dropout,
                                bn_eps=bn_eps, wn_activation=wn_activation)
    else:
        g = radford_generator(latent_dim=latent_dim, image_size=image_size, channels=channels, width=width,
                              norm=g_norm, placement=placement, bn_momentum=g_bn_momentum, bn_eps=bn_eps,
                              wn_activation=wn_activation, extra_layers=extra_layers)
        d = radford_discriminator(image_size=image_size, channels=channels, width=width, norm=d_norm,
                                  placement=placement, bn_momentum=d_bn_momentum, bn_eps=bn_eps,
                                  wn_activation=wn_activation, extra_layers=extra_layers)
    init_weights_(g, init)
    init_weights_(d, init)
    return g, d




def _check_image(image_size: int, channels: int) -> None:
    choice(image_size, IMAGE_SIZES, "image_size")
    choice(channels, CHANNELS, "channels")
