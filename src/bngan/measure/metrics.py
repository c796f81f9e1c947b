"""Evaluation metrics for trained generators.

* :func:`reconstruction_error`: Xiang & Li's metric ("On the Effects of Batch and Weight
  Normalization in GANs"): how well a frozen generator can reproduce held-out images when
  the latent code is optimised for each of them. Unlike sample-quality scores it punishes
  mode dropping, because an image the generator cannot produce cannot be reconstructed.
* :func:`sample_diversity`, :func:`sliced_wasserstein`, :func:`mmd_rbf`: cheap
  sample-based scores for collapse and distribution match (toy data and small images).
* :func:`mean_shift`: the fakes' location drift, the batch-norm blind spot.

Everything runs batched on the tensors' device; scalar metrics sync once, at the end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class Reconstruction:
    """Result of :func:`reconstruction_error`."""

    mse: float  # mean over test images of the per-pixel MSE, pixels on the [0, 1] scale (Xiang & Li's)
    per_image: torch.Tensor  # (N,) per-image per-pixel MSE on the [0, 1] scale, on CPU
    latents: torch.Tensor  # (N, latent_dim) the optimised z, on CPU
    steps: int


# --------------------------------------------------------------------------- helpers

def _check_int(value, param: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{param} must be an integer >= {minimum}; got {value!r}")
    return value


def _flat(x: torch.Tensor, param: str, min_rows: int = 1) -> torch.Tensor:
    """(N, ...) -> (N, D) float view; the first dimension indexes samples."""
    if not isinstance(x, torch.Tensor) or x.ndim < 1:
        raise ValueError(f"{param} must be a tensor of shape (N, ...); got {type(x).__name__}")
    if x.shape[0] < min_rows:
        raise ValueError(f"{param} must hold at least {min_rows} sample(s); got {x.shape[0]}")
    x = x.detach().reshape(x.shape[0], -1)
    return x if x.is_floating_point() else x.float()


def _pair(x: torch.Tensor, y: torch.Tensor, min_rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Flatten two clouds, check equal feature dims, and put y on x's device and dtype."""
    fx, fy = _flat(x, "x", min_rows), _flat(y, "y", min_rows)
    if fx.shape[1] != fy.shape[1]:
        raise ValueError(f"x and y must have the same number of features per sample; "
                         f"got {tuple(x.shape[1:])} and {tuple(y.shape[1:])}")
    return fx, fy.to(device=fx.device, dtype=fx.dtype)


# --------------------------------------------------------------------------- reconstruction

def reconstruction_error(
    generator: nn.Module,
    images: torch.Tensor,
    *,
    latent_dim: int,
    steps: int = 50,
    lr: float = 0.01,
    alpha: float = 0.9,
    eps: float = 1e-6,
    batch_size: int = 256,
    pixel_range: tuple[float, float] = (-1.0, 1.0),
    init: str = "zeros",
    restarts: int = 1,
    seed: int = 0,
    reduction: str = "sum",
) -> Reconstruction:
    """Per-image latent search with RMSProp against a frozen generator (Xiang & Li).

    The error is reported on Xiang & Li's scale, pixels in [0, 1]: the tensors' range
    ``pixel_range`` (the library's [-1, 1]) is mapped onto it, so the reported MSE is a
    quarter of the MSE between the [-1, 1] tensors. The search itself runs on the tensors.

    Each image's z starts at zero (``init="zeros"``, Xiang & Li's choice) or at a draw from
    N(0, I) (``init="random"``, seeded by ``seed``) and takes ``steps`` RMSProp steps on
    ||G(z) - x||^2; with ``restarts`` > 1 the search runs that many times (the first from
    ``init``, the rest from random draws) and keeps each image's best z. Images
    are processed in chunks of ``batch_size``. With ``reduction="sum"`` (the default) the loss
    is summed over a chunk, so every z gets the gradient of its own image's error whatever the
    chunk. ``reduction="mean"`` is Xiang & Li's own loss (Torch's ``MSECriterion`` in their
    code): the squared error on the [0, 1] scale averaged over the chunk's images and pixels
    (their chunks are 32 images: pass ``batch_size=32``). Averaging divides each z's gradient by
    the chunk's number of values, which can bring it below RMSProp's ``eps``; the search then
    barely moves, so the default sums (chapter 9 shows both). G runs in eval mode (BN uses running statistics, so images in a chunk do
    not influence each other) with its parameters' ``requires_grad`` off; both are restored
    afterwards, and the parameters' ``.grad`` is never touched.
    """
    _check_int(latent_dim, "latent_dim", 1)
    _check_int(steps, "steps", 1)
    _check_int(batch_size, "batch_size", 1)
    _check_int(restarts, "restarts", 1)
    if init not in ("zeros", "random"):
        raise ValueError(f"init must be one of zeros, random; got {init!r}")
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be one of sum, mean; got {reduction!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0; got {lr!r}")
    if not 0 <= alpha < 1:
        raise ValueError(f"alpha must be in [0, 1); got {alpha!r}")
    if not eps > 0:
        raise ValueError(f"eps must be > 0; got {eps!r}")
    low, high = pixel_range
    if not high > low:
        raise ValueError(f"pixel_range must be (low, high) with high > low; got {pixel_range!r}")
    if not isinstance(images, torch.Tensor) or images.ndim < 2 or images.shape[0] == 0:
        raise ValueError("images must be a non-empty tensor of shape (N, ...); "
                         f"got {tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}")
    if not images.is_floating_point():
        raise ValueError(f"images must be a floating-point tensor; got dtype {images.dtype}")

    images = images.detach()
    modes = [(m, m.training) for m in generator.modules()]
    params = list(generator.parameters())
    flags = [p.requires_grad for p in params]
    errors, latents = [], []
    try:
        generator.eval()
        for p in params:
            p.requires_grad_(False)
        draws = torch.Generator().manual_seed(seed)
        with torch.enable_grad():
            for x in images.split(batch_size):
                best_error, best_z = None, None
                for restart in range(restarts):
                    if restart == 0 and init == "zeros":
                        start = torch.zeros(x.shape[0], latent_dim)
                    else:
                        start = torch.randn(x.shape[0], latent_dim, generator=draws)
                    z = start.to(device=x.device, dtype=x.dtype).requires_grad_(True)
                    opt = torch.optim.RMSprop([z], lr=lr, alpha=alpha, eps=eps)
                    for _ in range(steps):
                        out = generator(z)
                        if out.shape != x.shape:
                            raise ValueError(f"generator output shape {tuple(out.shape[1:])} does not match the "
                                             f"images' shape {tuple(x.shape[1:])} (per sample)")
                        opt.zero_grad(set_to_none=True)
                        if reduction == "sum":
                            (out - x).square().sum().backward()
                        else:  # Xiang & Li's MSECriterion: [0, 1] scale, mean over the chunk's values
                            ((out - x) / (high - low)).square().mean().backward()
                        opt.step()
                    with torch.no_grad():
                        error = (generator(z) - x).square().flatten(1).mean(1)
                        if best_error is None:
                            best_error, best_z = error, z.detach().clone()
                        else:
                            better = error < best_error
                            best_error = torch.where(better, error, best_error)
                            best_z = torch.where(better[:, None], z.detach(), best_z)
                errors.append(best_error)
                latents.append(best_z)
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)
        for m, training in modes:
            m.training = training

    per_image = torch.cat(errors).cpu() / (high - low) ** 2
    return Reconstruction(mse=per_image.mean().item(), per_image=per_image,
                          latents=torch.cat(latents).cpu(), steps=steps)


# --------------------------------------------------------------------------- sample-based scores

def sample_diversity(samples: torch.Tensor, *, max_pairs_samples: int = 512) -> float:
    """Mean pairwise Euclidean distance between (the first ``max_pairs_samples``) samples.

    Divided by sqrt(number of features) so values compare across data sizes; 0 when all
    samples are identical, so a collapsed generator scores low. Uses exact differences
    (``F.pdist`` over distinct pairs), so identical samples give exactly 0.
    """
    _check_int(max_pairs_samples, "max_pairs_samples", 2)
    flat = _flat(samples, "samples", min_rows=2)[:max_pairs_samples]
    return (F.pdist(flat).mean() / math.sqrt(flat.shape[1])).item()


def sliced_wasserstein(x: torch.Tensor, y: torch.Tensor, *, n_projections: int = 256, seed: int = 0) -> float:
    """Sliced 1-Wasserstein distance between two point clouds (images are flattened).

    Both clouds are projected on ``n_projections`` random unit directions drawn from a CPU
    generator seeded with ``seed`` (same directions on every device); per direction the 1-D
    W1 is the mean absolute gap between matched quantiles: the sorted projections when sizes
    are equal, else ``torch.quantile`` at max(N, M) common levels. Averaged over directions.
    """
    _check_int(n_projections, "n_projections", 1)
    fx, fy = _pair(x, y, min_rows=1)
    gen = torch.Generator().manual_seed(seed)
    dirs = torch.randn(fx.shape[1], n_projections, generator=gen, dtype=torch.float64)
    dirs = (dirs / dirs.norm(dim=0, keepdim=True)).to(device=fx.device, dtype=fx.dtype)
    px, py = fx @ dirs, fy @ dirs
    if px.shape[0] == py.shape[0]:
        qx, qy = px.sort(dim=0).values, py.sort(dim=0).values
    else:
        k = max(px.shape[0], py.shape[0])
        levels = (torch.arange(k, device=px.device, dtype=px.dtype) + 0.5) / k
        qx, qy = torch.quantile(px, levels, dim=0), torch.quantile(py, levels, dim=0)
    return (qx - qy).abs().mean().item()


def mmd_rbf(x: torch.Tensor, y: torch.Tensor, *, bandwidths: Sequence[float] = (0.1, 0.5, 1.0, 2.0, 5.0)) -> float:
    """Unbiased squared MMD with k(a, b) = sum_s exp(-||a - b||^2 / (2 s^2)).

    Distances are on the raw flattened features, so pick bandwidths on the data's scale.
    The unbiased estimate drops the self-similarity terms; it can be slightly negative when
    both clouds come from the same distribution.
    """
    bws = tuple(bandwidths)
    if not bws or not all(isinstance(s, (int, float)) and s > 0 for s in bws):
        raise ValueError(f"bandwidths must be a non-empty sequence of positive numbers; got {bandwidths!r}")
    fx, fy = _pair(x, y, min_rows=2)
    scales = torch.tensor([1.0 / (2.0 * s * s) for s in bws], device=fx.device, dtype=fx.dtype)

    def kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        d2 = torch.cdist(a, b).square()
        return torch.exp(-d2.unsqueeze(-1) * scales).sum(-1)

    n, m = fx.shape[0], fy.shape[0]
    kxx, kyy = kernel(fx, fx), kernel(fy, fy)
    xx = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    yy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return (xx + yy - 2 * kernel(fx, fy).mean()).item()


def mean_shift(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """``fake.mean(0) - real.mean(0)`` on CPU: the fakes' location drift (BN blind spot)."""
    for param, t in (("fake", fake), ("real", real)):
        if not isinstance(t, torch.Tensor) or t.ndim < 1 or t.shape[0] == 0:
            raise ValueError(f"{param} must be a non-empty tensor of shape (N, ...)")
    if fake.shape[1:] != real.shape[1:]:
        raise ValueError(f"fake and real must have the same per-sample shape; "
                         f"got {tuple(fake.shape[1:])} and {tuple(real.shape[1:])}")
    f = fake.detach() if fake.is_floating_point() else fake.detach().float()
    r = real.detach() if real.is_floating_point() else real.detach().float()
    return (f.mean(0) - r.to(f.device, f.dtype).mean(0)).cpu()
