"""The mechanism behind the BN blind spot (source 001), as small functions the chapter shows
and the tests pin: how a batch is normalized alone or together with another, and what a
trained D says about the same fakes under each normalization it meets during training.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..profiles import Profile
from ..measure.split_norm import Normalized, split_and_joint, standardize  # noqa: F401 - blindspot.<name> stays
from ..runs.folders import Run


def training_points(profile: str | Profile | None = None) -> torch.Tensor:
    """The toy population every run of the study trains on at ``profile`` (on the CPU)."""
    from ..catalog.designs import blind_spot
    from ..runs.train import load_run_data

    return load_run_data(blind_spot("no-bn", profile), torch.device("cpu"))[0]


# --------------------------------------------------------------------------- what D sees

VIEWS = ("fakes alone", "joint batch", "running stats")
"""How a BN discriminator can normalize a batch of fakes: with the fakes' own statistics
(train mode, split batches and the default G step), with a real+fake batch's statistics
(train mode, joint batches) or with its running averages (eval mode)."""


@torch.no_grad()
def discriminator_views(d: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> dict[str, tuple[float, float]]:
    """Mean D output (probability) on ``real`` and on ``fake`` under each of :data:`VIEWS`.

    For ``fakes alone`` the reals are likewise normalized alone. Each view is taken from its
    own fresh copy of D, so no view's train-mode forward passes move the running statistics
    another view reads, and ``d`` itself is not touched. When the numbers differ between
    views, D's update and G's update can see two different discriminators.
    """
    if len(real) < 2 or len(fake) < 2:
        raise ValueError("real and fake must each hold at least 2 samples (BN needs a batch)")

    def mean_p(logits: torch.Tensor) -> float:
        return float(torch.sigmoid(logits).mean())

    def fresh(training: bool) -> nn.Module:
        return copy.deepcopy(d).train(training)

    alone = (mean_p(fresh(True)(real)), mean_p(fresh(True)(fake)))
    logits = fresh(True)(torch.cat([real, fake]))
    joint = (mean_p(logits[: len(real)]), mean_p(logits[len(real):]))
    running = (mean_p(fresh(False)(real)), mean_p(fresh(False)(fake)))
    return dict(zip(VIEWS, (alone, joint, running)))


def run_views(run: Run, n: int | None = None) -> dict[str, tuple[float, float]]:
    """:func:`discriminator_views` for a finished toy run: its final D on ``n`` training
    points (default: a whole training batch) and as many fakes from its final G."""
    from ..runs.train import load_run_data

    if run.config.data.kind != "toy":
        raise ValueError(f"run_views needs a toy 2D run; {run.config.name} trains on {run.config.data.kind} data")
    g, d = run.networks()
    real, _ = load_run_data(run.config, torch.device("cpu"))
    n = n or run.config.train.batch_size
    noise = torch.randn(n, run.config.model.latent_dim, generator=torch.Generator().manual_seed(30_000 + run.seed))
    with torch.no_grad():
        fake = g(noise)
    return discriminator_views(d, real[:n], fake)


def views_table(views: dict[str, dict[str, tuple[float, float]]]) -> str:
    """The numbers behind :func:`bngan.book.plots.discriminator_views` as plain text: one row per
    set-up, D's mean output on reals / fakes under each view."""
    width = max(len(label) for label in views)
    lines = [" " * width + "".join(f"  {view:>21s}" for view in VIEWS),
             " " * width + "".join(f"  {'D(real)  D(fake)':>21s}" for _ in VIEWS)]
    for label, found in views.items():
        cells = "".join(f"  {found[v][0]:>12.3f} {found[v][1]:>8.3f}" for v in VIEWS)
        lines.append(f"{label:<{width}s}{cells}")
    return "\n".join(lines)
