"""Checkerboard artifacts, measured in the frequency domain.

A stride-2 transposed convolution whose kernel is not divisible by 2 covers the output pixels
unevenly (Odena et al., 2016, "Deconvolution and Checkerboard Artifacts"), which leaves a
pattern that repeats every 2 pixels: excess power at the frequencies of period 2 of the image's
discrete Fourier transform, (N/2, 0), (0, N/2) and (N/2, N/2) for an N x N image. Two stride-2
layers in a row add the period-4 frequencies as well.

The score divides the share of a sample's power at those frequencies by the same share in the
data, so the texture the data itself has there does not count: 1 is data-like, 10 is ten times
the data's periodic power. Written by hand because no library we know of measures power at a
stride's period (image-quality packages score whole spectra or features).
"""

from __future__ import annotations

import numpy as np
import torch


def _grey(images: torch.Tensor) -> torch.Tensor:
    """(n, H, W) float images from (n, C, H, W) or (n, H, W), uint8 or float: channels averaged."""
    if images.dim() == 4:
        images = images.float().mean(1)
    elif images.dim() != 3:
        raise ValueError(f"images must have shape (n, C, H, W) or (n, H, W); got {tuple(images.shape)}")
    if images.shape[-1] != images.shape[-2] or len(images) == 0:
        raise ValueError(f"images must be a non-empty batch of square images; got {tuple(images.shape)}")
    return images.float()


def power_spectrum(images: torch.Tensor) -> torch.Tensor:
    """Mean 2D power spectrum over a batch: each image's mean is removed first (so the DC term
    is 0), then ``|FFT|^2`` is averaged over images. Shape (N, N), zero frequency at [0, 0]."""
    x = _grey(images)
    x = x - x.mean((-2, -1), keepdim=True)
    return torch.fft.fft2(x).abs().pow(2).mean(0)


def periodic_mask(size: int, period: int = 2) -> torch.Tensor:
    """Boolean (size, size) mask of the non-zero frequencies whose pattern repeats every
    ``period`` pixels in both directions: indices that are multiples of ``size // period``."""
    if not isinstance(period, int) or period < 2 or size % period:
        raise ValueError(f"period must be an integer >= 2 that divides the image size {size}; got {period!r}")
    on_grid = torch.arange(size) % (size // period) == 0
    mask = on_grid[:, None] & on_grid[None, :]
    mask[0, 0] = False
    return mask


def periodic_power(images: torch.Tensor, period: int = 2) -> float:
    """Share of the images' (mean-removed) power at the frequencies of period ``period``;
    NaN for a batch of constant images, which have no power to share."""
    spectrum = power_spectrum(images)
    total = float(spectrum.sum())
    if total <= 0:
        return float("nan")
    return float(spectrum[periodic_mask(spectrum.shape[-1], period)].sum()) / total


def checkerboard_score(fakes: torch.Tensor, reals: torch.Tensor, period: int = 2) -> float:
    """:func:`periodic_power` of ``fakes`` divided by that of ``reals`` (same image size):
    1 is as much periodic power as the data, above 1 a checkerboard the data does not have."""
    if fakes.shape[-1] != reals.shape[-1]:
        raise ValueError(f"fakes and reals must have the same image size; got {fakes.shape[-1]} and {reals.shape[-1]}")
    return periodic_power(fakes, period) / periodic_power(reals, period)


def checkerboard_over_training(run, reals: torch.Tensor, period: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(steps, scores): :func:`checkerboard_score` of each sample snapshot a finished image run
    stored (its fixed-noise samples from G in eval mode; the first is at initialization)."""
    if run.config.data.kind != "image" or len(run.sample_steps) == 0:
        raise ValueError(f"checkerboard_over_training needs an image run with sample snapshots; {run.config.name} "
                         f"has {len(run.sample_steps)} snapshots of {run.config.data.kind} data")
    reference = periodic_power(reals, period)
    scores = [periodic_power(snapshot, period) / reference for snapshot in run.samples]
    return np.asarray(run.sample_steps), np.asarray(scores)
