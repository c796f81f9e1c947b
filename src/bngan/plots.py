"""Matplotlib figures for runs and run sets: curves with their spread over seeds, sample
grids, toy scatter plots and metric comparisons."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torchvision.utils import make_grid

from .experiments import RunSet
from .runs import Run



def _as_sets(results) -> list[RunSet]:
    if isinstance(results, Run):
        return [RunSet(results.config.name, results.config, [results])]
    if isinstance(results, RunSet):
        return [results]
    if isinstance(results, Mapping):  # the keys are the labels to show
        return [replace(rs, label=str(key)) for key, rs in results.items()]
    return list(results)


def _curves(rs: RunSet, column: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Steps and a (runs, points) array of one history column, cut to the shortest run."""
    runs = [r for r in rs.runs if column in r.history and len(r.history[column])]
    if not runs:
        return None
    n = min(len(r.history[column]) for r in runs)
    return runs[0].history["step"][:n], np.stack([r.history[column][:n] for r in runs])


def curves(results, columns: Sequence[str], *, ax: Axes | None = None, title: str | None = None,
           log: bool = False, smooth: int = 1) -> Axes:
    """Mean over seeds of history ``columns`` for each set-up, shaded between min and max."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    styles = ["-", "--", ":", "-."]
    for k, rs in enumerate(_as_sets(results)):
        color = f"C{k}"
        for j, column in enumerate(columns):
            found = _curves(rs, column)
            if found is None:
                continue
            steps, values = found
            if smooth > 1 and values.shape[1] >= smooth:
                kernel = np.ones(smooth) / smooth
                values = np.stack([np.convolve(v, kernel, mode="valid") for v in values])
                steps = steps[smooth - 1:]
            label = rs.label if len(columns) == 1 else f"{rs.label}: {column}"
            ax.plot(steps, values.mean(0), styles[j % len(styles)], color=color, label=label, lw=1.4)
            if len(values) > 1:
                ax.fill_between(steps, values.min(0), values.max(0), color=color, alpha=0.15, lw=0)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title(title or ", ".join(columns))
    ax.legend(fontsize=8)
    return ax


def losses(results, *, ax: Axes | None = None, smooth: int = 1) -> Axes:
    """D and G losses over training (mean over seeds, min-max band)."""
    return curves(results, ("loss_d", "loss_g"), ax=ax, title="losses", smooth=smooth)


def gradients(results, *, smooth: int = 1) -> Figure:
    """Gradient norms of the top and bottom layers of D and G, as the seed paper tracks them."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
    curves(results, ("grad_d_bottom", "grad_d_top"), ax=axes[0], title="D gradient norm", log=True, smooth=smooth)
    curves(results, ("grad_g_bottom", "grad_g_top"), ax=axes[1], title="G gradient norm", log=True, smooth=smooth)
    fig.tight_layout()
    return fig


def image_grid(images: torch.Tensor, *, nrow: int = 8, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Show a batch of uint8 (or [-1, 1] float) images as one grid."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    if images.dtype != torch.uint8:
        images = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    grid = make_grid(images, nrow=nrow, padding=1, pad_value=255).permute(1, 2, 0).numpy()
    ax.imshow(grid.squeeze(-1) if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=255)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def sample_grid(run: Run, *, index: int = -1, n: int = 64, ax: Axes | None = None, title: str | None = None) -> Axes:
    """The samples a run drew from its fixed noise at snapshot ``index`` (default: the last)."""
    if not len(run.sample_steps):
        raise ValueError(f"run {run.path} has no sample snapshots")
    step = int(run.sample_steps[index])
    images = run.samples[index][:n]
    return image_grid(images, nrow=int(np.ceil(np.sqrt(len(images)))), ax=ax,
                      title=title or f"{run.config.name} seed {run.seed}, step {step}")


def samples_side_by_side(results, *, seed_index: int = 0, n: int = 36) -> Figure:
    """The final sample grid of one seed of each set-up, side by side."""
    sets = _as_sets(results)
    fig, axes = plt.subplots(1, len(sets), figsize=(3.2 * len(sets), 3.4), squeeze=False)
    for ax, rs in zip(axes[0], sets):
        run = rs.runs[min(seed_index, len(rs.runs) - 1)]
        sample_grid(run, n=n, ax=ax, title=f"{rs.label}\nseed {run.seed} ({run.status})")
    fig.tight_layout()
    return fig


def samples_over_training(run: Run, *, columns: int = 6, n: int = 16) -> Figure:
    """Snapshots of one run's samples at evenly spaced points of training."""
    picks = np.unique(np.linspace(0, len(run.sample_steps) - 1, min(columns, len(run.sample_steps))).astype(int))
    fig, axes = plt.subplots(1, len(picks), figsize=(2.2 * len(picks), 2.4), squeeze=False)
    for ax, index in zip(axes[0], picks):
        sample_grid(run, index=int(index), n=n, ax=ax, title=f"step {int(run.sample_steps[index])}")
    fig.tight_layout()
    return fig


def toy_scatter(run: Run, real: torch.Tensor, *, index: int = -1, ax: Axes | None = None,
                title: str | None = None, limit: int = 1000) -> Axes:
    """Real points against the generator's points at snapshot ``index`` (toy 2D runs)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(3.6, 3.6))
    fake = run.samples[index][:limit].float().numpy()
    real = real[:limit].detach().cpu().numpy()
    ax.scatter(real[:, 0], real[:, 1], s=4, alpha=0.5, label="real", color="C0")
    ax.scatter(fake[:, 0], fake[:, 1], s=4, alpha=0.5, label="fake", color="C3")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(title or f"{run.config.name} seed {run.seed}", fontsize=9)
    ax.legend(fontsize=7, markerscale=3)
    return ax


def metric_bars(results, metric: str, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Mean ± std over seeds of a final metric per set-up, every seed shown as a dot."""
    sets = _as_sets(results)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 + 1.3 * len(sets), 3.2))
    for k, rs in enumerate(sets):
        values = rs.values(metric)
        if values.size:
            ax.bar(k, np.nanmean(values), yerr=np.nanstd(values), color=f"C{k}", alpha=0.6, capsize=4)
            ax.plot(np.full(values.size, k), values, "k.", ms=5)
        if rs.n_diverged:
            ax.annotate(f"{rs.n_diverged} diverged", (k, 0), ha="center", va="bottom", fontsize=7, color="red")
    ax.set_xticks(range(len(sets)), [rs.label for rs in sets], rotation=20, ha="right", fontsize=8)
    ax.set_title(title or f"{metric} (mean ± std over seeds)")
    return ax


def run_summary(run: Run) -> Figure:
    """One figure for one run: losses, D outputs, gradients and the last samples."""
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.6))
    losses(run, ax=axes[0])
    curves(run, ("d_real", "d_fake"), ax=axes[1], title="mean D output")
    curves(run, ("grad_d_top", "grad_g_top"), ax=axes[2], title="top-layer gradient norm", log=True)
    if run.config.data.kind == "image" and len(run.sample_steps):
        sample_grid(run, ax=axes[3], n=36)
    elif len(run.sample_steps):
        fake = run.samples[-1].float().numpy()
        axes[3].scatter(fake[:, 0], fake[:, 1], s=3, color="C3")
        axes[3].set_title(f"fakes at step {int(run.sample_steps[-1])}")
    fig.suptitle(run.summary(), fontsize=8)
    fig.tight_layout()
    return fig


def training_progress(results, *, seed_index: int = 0, columns: int = 5, n: int = 16) -> Figure:
    """One row per set-up, one column per point of training: how the samples of one seed
    evolve (the static counterpart of :func:`bngan.widgets.sample_browser`)."""
    sets = _as_sets(results)
    fig, axes = plt.subplots(len(sets), columns, figsize=(2.0 * columns, 2.15 * len(sets)), squeeze=False)
    for row, rs in zip(axes, sets):
        run = rs.runs[min(seed_index, len(rs.runs) - 1)]
        picks = np.linspace(0, len(run.sample_steps) - 1, columns).round().astype(int)
        for ax, index in zip(row, picks):
            sample_grid(run, index=int(index), n=n, ax=ax, title=f"step {int(run.sample_steps[index])}")
        row[0].text(-0.08, 0.5, rs.label, transform=row[0].transAxes, rotation=90, ha="right", va="center",
                    fontsize=9)
    fig.tight_layout()
    return fig
