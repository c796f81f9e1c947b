"""Reference generators with a known defect, to see which defects a metric notices: one that
always draws the data's mean image, one that blurs a trained generator's output, and (via
:func:`bngan.runs.train.build_networks`) an untrained one. Each maps latent vectors to images like a
trained G, so the reconstruction search and the sample-quality scores treat them alike."""

from __future__ import annotations

import torch
import torchvision.transforms.functional as TF
from torch import nn


class MeanImage(nn.Module):
    """Ignores z and draws the same image, ``image`` (e.g. the training set's mean), every time;
    a tiny z-dependent term keeps the latent search well defined (its gradient is not None)."""

    def __init__(self, image: torch.Tensor, latent_dim: int) -> None:
        super().__init__()
        if image.ndim != 3:
            raise ValueError(f"image must have shape (C, H, W); got {tuple(image.shape)}")
        self.register_buffer("image", image.detach().clone())
        self.latent_dim = latent_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.image.expand(len(z), *self.image.shape) + 0.0 * z.sum(1).view(-1, 1, 1, 1)


class Blurred(nn.Module):
    """A generator followed by a Gaussian blur of standard deviation ``sigma`` pixels: sharp
    detail removed, everything else kept."""

    def __init__(self, generator: nn.Module, sigma: float) -> None:
        super().__init__()
        if not sigma > 0:
            raise ValueError(f"sigma must be > 0; got {sigma!r}")
        self.generator, self.sigma = generator, float(sigma)
        self.kernel = 2 * int(round(3 * sigma)) + 1

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return TF.gaussian_blur(self.generator(z), [self.kernel, self.kernel], [self.sigma, self.sigma])
