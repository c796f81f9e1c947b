"""The networks and optimizers a config describes, and the weights whose gradients the
monitoring watches."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from ..config import ExperimentConfig
from . import dcgan, inits, norms, toy_models

def build_networks(config: ExperimentConfig) -> tuple[nn.Module, nn.Module]:
    """The (generator, discriminator) pair that ``config.model`` describes, on the CPU."""
    m, d = config.model, config.data
    if m.arch == "mlp":
        g_norms, d_norms = m.network_norms()
        g = toy_models.mlp_generator(latent_dim=m.latent_dim, width=m.width, depth=m.depth, leak=m.leak,
                                 norm=list(g_norms), bn_momentum=m.g_bn_momentum, match_moments=m.match_moments,
                                 bn_eps=m.bn_eps)
        disc = toy_models.mlp_discriminator(width=m.width, depth=m.depth, leak=m.leak, norm=list(d_norms),
                                        bn_momentum=m.d_bn_momentum, bn_eps=m.bn_eps)
        inits.init_weights_(g, m.init)
        inits.init_weights_(disc, m.init)
        return g, disc
    return dcgan.build_dcgan(
        arch=m.arch, norm=m.norm, norm_in=m.norm_in, placement=m.placement, image_size=d.image_size,
        channels=d.image_channels, latent_dim=m.latent_dim, g_kernel=m.g_kernel, d_kernel=m.d_kernel,
        g_filters=m.g_filters, d_filters=m.d_filters, width=m.width, g_bn_momentum=m.g_bn_momentum,
        d_bn_momentum=m.d_bn_momentum, dropout=m.dropout, init=m.init, bn_eps=m.bn_eps,
        g_block_order=m.g_block_order, g_upsample=m.g_upsample, wn_activation=m.wn_activation,
        extra_layers=m.extra_layers,
    )


def make_optimizer(config: ExperimentConfig, params: Iterable[torch.Tensor], lr: float, *,
                   capturable: bool = False) -> torch.optim.Optimizer:
    """Adam (DCGAN: lr 2e-4, beta1 0.5) or RMSProp (Xiang & Li: alpha 0.9, eps 1e-6) over ``params``;
    ``capturable`` keeps their step counts on the device so a CUDA graph can replay the update."""
    t = config.train
    if t.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(t.beta1, t.beta2), capturable=capturable)
    return torch.optim.RMSprop(params, lr=lr, alpha=t.rms_alpha, eps=t.rms_eps, capturable=capturable)


def make_optimizers(config: ExperimentConfig, g: nn.Module, d: nn.Module) -> tuple[torch.optim.Optimizer, ...]:
    """G's and D's optimizers, with separate learning rates (TTUR when they differ)."""
    return make_optimizer(config, g.parameters(), config.train.lr_g), make_optimizer(config, d.parameters(), config.train.lr_d)


def layer_weights(model: nn.Module) -> list[torch.Tensor]:
    """Weight tensors of the conv/linear layers, input side first (for gradient monitoring)."""
    found = []
    for module in model.modules():
        if norms.is_weight_normalized(module) or isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            parametrized = getattr(module, "parametrizations", None)
            found.append(parametrized.weight.original if parametrized is not None else module.weight)
    return found

