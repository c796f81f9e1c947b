"""Matplotlib figures for runs and run sets: curves with their spread over seeds, sample
grids, toy scatter plots and metric comparisons."""

from __future__ import annotations

import textwrap

from collections.abc import Mapping, Sequence
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torchvision.utils import make_grid

from ..measure.spectra import power_spectrum
from ..runs.folders import Run
from ..runs.runsets import RunSet



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


def eval_curves(results, column: str = "recon_mse", *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """A metric evaluated during training (``train.eval_every``; the reconstruction error by
    default) per set-up: mean over the completed seeds with markers at the evaluations, shaded
    between min and max; runs are cut to the shortest."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    for k, rs in enumerate(_as_sets(results)):
        runs = [r for r in rs.completed if len(r.evals.get(column, []))]
        if not runs:
            continue
        n = min(len(r.evals[column]) for r in runs)
        steps, values = runs[0].evals["step"][:n], np.stack([r.evals[column][:n] for r in runs])
        ax.plot(steps, values.mean(0), "-o", color=f"C{k}", label=rs.label, lw=1.4, ms=3)
        if len(values) > 1:
            ax.fill_between(steps, values.min(0), values.max(0), color=f"C{k}", alpha=0.12, lw=0)
    ax.set_xlabel("step")
    ax.set_title(title or f"{column} during training")
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


def quality_over_training(results, real: torch.Tensor, *, metric: str = "kid", ax: Axes | None = None,
                          title: str | None = None) -> Axes:
    """``metric`` (KID by default) of each stored sample snapshot against held-out ``real``
    images, mean over seeds with a min-max band, per set-up (see
    :func:`bngan.measure.quality.over_training`)."""
    from ..measure import quality

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    for k, rs in enumerate(_as_sets(results)):
        found = [quality.over_training(r, real, metric=metric) for r in rs.completed]
        if not found:
            continue
        n = min(len(steps) for steps, _ in found)
        steps, values = found[0][0][:n], np.stack([v[:n] for _, v in found])
        ax.plot(steps, values.mean(0), color=f"C{k}", label=rs.label, lw=1.4)
        if len(values) > 1:
            ax.fill_between(steps, values.min(0), values.max(0), color=f"C{k}", alpha=0.15, lw=0)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title(title or f"{metric.upper()} of the sample snapshots (lower is better)")
    ax.legend(fontsize=8)
    return ax


def image_grid(images: torch.Tensor, *, nrow: int = 8, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Show a batch of uint8 (or [-1, 1] float) images as one grid, each pixel a sharp square
    (nearest-neighbour: 16 px images smoothed on the way up hide their pixels and swell the
    notebook's PNGs about tenfold)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    if images.dtype != torch.uint8:
        images = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    grid = make_grid(images, nrow=nrow, padding=1, pad_value=255).permute(1, 2, 0).numpy()
    ax.imshow(grid.squeeze(-1) if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=255,
              interpolation="nearest")
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


def samples_side_by_side(results, *, seed_index: int = 0, n: int = 36, columns: int | None = None) -> Figure:
    """The final sample grid of one seed of each set-up, side by side (``columns`` per row,
    default all in one row). Every run draws its grids from the same fixed latents, so
    panels of one figure compare like with like."""
    sets = _as_sets(results)
    columns = len(sets) if columns is None else max(1, min(columns, len(sets)))
    rows = -(-len(sets) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.4 * rows), squeeze=False)
    for ax in axes.flat[len(sets):]:
        ax.set_axis_off()
    for ax, rs in zip(axes.flat, sets):
        run = rs.runs[min(seed_index, len(rs.runs) - 1)]
        sample_grid(run, n=n, ax=ax, title=f"{rs.label}\nseed {run.seed} ({run.status})")
    fig.tight_layout()
    return fig


def mode_samples(samples: Mapping[str, Mapping[str, torch.Tensor]], *, n: int = 36,
                 numbers: Mapping[str, Mapping[str, str]] | None = None) -> Figure:
    """One row per setting, G's samples in eval mode and in train mode side by side:
    ``samples`` maps a label to :meth:`Run.mode_samples`' ``{"eval": ..., "train": ...}``;
    ``numbers[label][mode]``, when given, is added to the panel's title (an FID, say)."""
    fig, axes = plt.subplots(len(samples), 2, figsize=(5.4, 2.8 * len(samples)), squeeze=False)
    for row, (label, modes) in zip(axes, samples.items()):
        for ax, mode in zip(row, ("eval", "train")):
            images = modes[mode][:n]
            extra = f", {numbers[label][mode]}" if numbers and label in numbers and mode in numbers[label] else ""
            image_grid(images, nrow=int(np.ceil(np.sqrt(len(images)))), ax=ax, title=f"{label}\n{mode} mode{extra}")
    fig.tight_layout()
    return fig


def zoomed_crops(images: Mapping[str, torch.Tensor], *, n: int = 4, crop: int = 8) -> Figure:
    """One row per label: the top-left ``crop`` x ``crop`` pixels of its first ``n`` images,
    drawn with square pixels, so a pattern of period 2 (a checkerboard) is visible."""
    fig, axes = plt.subplots(len(images), n, figsize=(1.5 * n, 1.6 * len(images)), squeeze=False)
    for row, (label, batch) in zip(axes, images.items()):
        if batch.dtype != torch.uint8:
            batch = ((batch.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        for k, ax in enumerate(row):
            if k < len(batch):
                patch = batch[k, :, :crop, :crop].permute(1, 2, 0).numpy()
                ax.imshow(patch.squeeze(-1) if patch.shape[-1] == 1 else patch, cmap="gray", vmin=0, vmax=255,
                          interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    fig.suptitle(f"top-left {crop} x {crop} pixels of {n} samples", fontsize=9)
    fig.tight_layout()
    return fig


def mean_spectra(images: Mapping[str, torch.Tensor], *, size: float = 2.2) -> Figure:
    """The mean power spectrum of each labelled batch (log10, zero frequency in the centre and
    drawn dark, since each image's mean is removed; one colour scale for all panels): a
    checkerboard shows as bright corners and edge midpoints, the frequencies of period 2."""
    spectra = {label: torch.fft.fftshift(power_spectrum(batch)).log10().numpy() for label, batch in images.items()}
    finite = np.concatenate([v[np.isfinite(v)] for v in spectra.values()])
    low, high = np.percentile(finite, [1, 100])
    for values in spectra.values():  # the zero frequency holds no power once each image's mean is removed:
        values[~np.isfinite(values)] = low  # draw it dark, not as a blank (white) pixel
    fig, axes = plt.subplots(1, len(spectra), figsize=(size * len(spectra), size + 0.5), squeeze=False)
    for ax, (label, values) in zip(axes[0], spectra.items()):
        shown = ax.imshow(values, cmap="magma", vmin=low, vmax=high, interpolation="nearest")
        ax.set_title(label, fontsize=8)
        ax.set_axis_off()
    fig.colorbar(shown, ax=axes[0].tolist(), shrink=0.8, label="log10 power")
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
    """Mean ± std over seeds of a final metric per set-up, every seed shown as a dot; the
    std is the sample std (ddof 1) the tables print (:meth:`RunSet.mean_std`), none for one seed."""
    sets = _as_sets(results)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 + 1.3 * len(sets), 3.2))
    for k, rs in enumerate(sets):
        values = rs.values(metric)
        if values.size:
            mean, std = rs.mean_std(metric)
            ax.bar(k, mean, yerr=0.0 if np.isnan(std) else std, color=f"C{k}", alpha=0.6, capsize=4)
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
    fig.suptitle(textwrap.fill(run.summary(), 160), fontsize=8)
    fig.tight_layout()
    return fig


def training_progress(results, *, seed_index: int = 0, columns: int = 5, n: int = 16) -> Figure:
    """One row per set-up, one column per point of training: how the samples of one seed
    evolve (the static counterpart of :func:`bngan.book.widgets.sample_browser`)."""
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


def toy_runs(results, real: torch.Tensor, *, max_seeds: int = 5, limit: int = 600, size: float = 2.1) -> Figure:
    """Real vs fake points of the final snapshot: one row per set-up, one column per seed,
    each titled with the fakes' mean shift along x (the shift test's direction)."""
    sets = _as_sets(results)
    cols = min(max_seeds, max(len(rs.runs) for rs in sets))
    fig, axes = plt.subplots(len(sets), cols, figsize=(size * cols, size * len(sets) + 0.2), squeeze=False)
    for row, rs in zip(axes, sets):
        for k, ax in enumerate(row):
            if k >= len(rs.runs) or not len(rs.runs[k].sample_steps):
                ax.set_axis_off()
                continue
            run = rs.runs[k]
            shift = run.metrics.get("shift_x")
            note = f", Δx {shift:+.2f}" if shift is not None else f" ({run.status})"
            toy_scatter(run, real, ax=ax, limit=limit, title=f"seed {run.seed}{note}")
            ax.tick_params(labelsize=6)
            if (row is not axes[0]) or k:
                ax.get_legend().remove()
        row[0].text(-0.25, 0.5, rs.label, transform=row[0].transAxes, rotation=90, ha="right", va="center",
                    fontsize=9)
    fig.tight_layout()
    return fig


def normalization_demo(real, fake, *, axes: Sequence[Axes] | None = None) -> Figure:
    """One feature of a real and a fake batch on three number lines: as they are, normalized
    split (each batch by its own statistics) and normalized jointly (by both together)."""
    from .blindspot import split_and_joint

    real, fake = torch.as_tensor(real, dtype=torch.float64).reshape(-1), torch.as_tensor(fake, dtype=torch.float64).reshape(-1)
    normed = split_and_joint(real, fake)
    if axes is None:
        fig, axes = plt.subplots(3, 1, figsize=(6.4, 3.4), sharey=True)
    fig = axes[0].figure
    panels = [("as generated", real, fake), ("normalized split (own batch statistics)", normed.real_split,
                                             normed.fake_split),
              ("normalized jointly (statistics of both)", normed.real_joint, normed.fake_joint)]
    for ax, (title, r, f) in zip(axes, panels):
        ax.axhline(0, color="0.8", lw=0.8, zorder=0)
        ax.plot(r.numpy(), np.full(len(r), 0.1), "o", color="C0", ms=7, label="real", alpha=0.8)
        ax.plot(f.numpy(), np.full(len(f), -0.1), "s", color="C3", ms=7, label="fake", alpha=0.8)
        ax.set_ylim(-0.5, 0.5)
        ax.set_yticks([])
        ax.set_title(title, fontsize=9, loc="left")
    axes[0].legend(fontsize=7, loc="upper right", ncol=2)
    fig.tight_layout()
    return fig


def discriminator_views(views: Mapping[str, Mapping[str, tuple[float, float]]], *,
                        ax: Axes | None = None) -> Axes:
    """Mean D output on the same fakes (bars) and reals (dots) under each normalization
    (:func:`bngan.book.blindspot.discriminator_views`), for each set-up; one seed each."""
    from .blindspot import VIEWS

    labels = list(views)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.8 + 1.9 * len(labels), 3.2))
    width = 0.8 / len(VIEWS)
    for j, view in enumerate(VIEWS):
        x = np.arange(len(labels)) + (j - (len(VIEWS) - 1) / 2) * width
        fakes = [views[label][view][1] for label in labels]
        reals = [views[label][view][0] for label in labels]
        ax.bar(x, fakes, width * 0.9, color=f"C{j}", alpha=0.7, label=f"{view}: D(fake)")
        ax.plot(x, reals, "k^", ms=5, label="D(real)" if j == 0 else None)
    ax.axhline(0.5, color="0.5", lw=0.8, ls="--")
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("mean D output")
    ax.set_title("what D says about the same fakes, by how it normalizes them", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


def metric_lines(arms: Mapping[str, Mapping[str, RunSet]], metric: str, *, x: str = "train.batch_size",
                 ax: Axes | None = None, title: str | None = None, logx: bool = True) -> Axes:
    """One line per arm of a final ``metric`` (mean ± std over seeds, every seed a dot)
    against a config field ``x`` (``section.field``, by default the batch size): ``arms`` maps
    an arm's label to its ``{label: RunSet}`` results, as :func:`bngan.run_series` returns
    them. With ``logx`` the x axis is in powers of 2."""
    section, _, name = x.partition(".")
    if not name or section not in ("data", "model", "train"):
        raise ValueError(f"x must be 'data.<field>', 'model.<field>' or 'train.<field>'; got {x!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    for k, (arm, results) in enumerate(arms.items()):
        xs, means, stds = [], [], []
        for rs in _as_sets(results):
            at = getattr(getattr(rs.config, section), name)
            values = rs.values(metric)
            values = values[~np.isnan(values)]
            if not values.size:
                continue
            xs.append(at)
            means.append(values.mean())
            stds.append(values.std(ddof=1) if values.size > 1 else 0.0)
            ax.plot(np.full(values.size, at), values, ".", color=f"C{k}", ms=4, alpha=0.6)
        order = np.argsort(xs)
        ax.errorbar(np.array(xs)[order], np.array(means)[order], yerr=np.array(stds)[order], color=f"C{k}",
                    marker="o", ms=4, lw=1.4, capsize=3, label=arm)
    if logx:
        ax.set_xscale("log", base=2)
    ax.set_xlabel(name.replace("_", " "))
    ax.set_title(title or f"{metric} (mean ± std over seeds)")
    ax.legend(fontsize=8)
    return ax


def loss_bands(run: Run, *, window: int | None = None, ax: Axes | None = None, title: str | None = None) -> Axes:
    """One run's D and G losses as logged, each with its band (running min and max over
    ``window`` logged points, :func:`bngan.measure.histories.loss_bands`); the title gives the
    overlap and the gap of :mod:`bngan.measure.histories`."""
    from ..measure import histories

    window = histories.DEFAULT_WINDOW if window is None else window
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    steps = run.history["step"]
    for k, column in enumerate(("loss_d", "loss_g")):
        values = run.history[column]
        low, high = histories.loss_bands(values, window)
        ax.plot(steps, values, color=f"C{k}", lw=0.8, label=column)
        ax.fill_between(steps, low, high, color=f"C{k}", alpha=0.25, lw=0)
    overlap = histories.loss_overlap(run.history["loss_d"], run.history["loss_g"], window)
    gap = histories.loss_gap(run.history["loss_d"], run.history["loss_g"], window)
    ax.set_xlabel("step")
    ax.set_title(f"{title or run.config.name}: overlap {overlap:.2f}, gap {gap:.2f}", fontsize=9)
    ax.legend(fontsize=8)
    return ax


VERDICT_COLOURS = {"reproduced": "#2e7d32", "not reproduced": "#c62828", "undecided": "#5c6bc0",
                   "depends": "#f9a825", "not tested": "#6d4c41", "not enough seeds": "#9e9e9e",
                   "unfinished": "#b0bec5"}


def verdict_map(verdicts) -> Figure:
    """Every claim of the ledger as one labelled square, a row per chapter, coloured by its
    verdict (:data:`bngan.evidence.ledger.VERDICT_CLASSES`): the whole book's answers at a glance."""
    chapters = sorted({v.claim.chapter for v in verdicts})
    per_row = {c: [v for v in verdicts if v.claim.chapter == c] for c in chapters}
    width = max(len(row) for row in per_row.values())
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 + 0.6 * width), 0.8 + 0.42 * len(chapters)))
    for y, chapter in enumerate(chapters):
        for x, v in enumerate(per_row[chapter]):
            ax.add_patch(plt.Rectangle((x + 0.05, -y - 0.45), 0.9, 0.9, color=VERDICT_COLOURS[v.verdict_class]))
            ax.text(x + 0.5, -y, v.claim.key, ha="center", va="center", fontsize=9, color="white")
    ax.set_xlim(0, width)
    ax.set_ylim(-len(chapters) + 0.5, 0.5)
    ax.set_yticks([-y for y in range(len(chapters))], [f"chapter {c}" for c in chapters])
    ax.set_xticks([])
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colour) for colour in VERDICT_COLOURS.values()]
    ax.legend(handles, list(VERDICT_COLOURS), ncol=3, fontsize=8, loc="lower left", bbox_to_anchor=(0, 1.0),
              frameon=False)
    fig.tight_layout()
    return fig


def learning_curves(points, *, threshold: float | None = None) -> Figure:
    """FID and classes covered against steps, one colour per arm, solid at the profile's
    widths and dashed for wider networks (:func:`bngan.evidence.budget.learning_curves`'s points; mean ±
    std over seeds, every seed a dot); ``threshold`` draws the learning gate's FID."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    arms = list(dict.fromkeys(p.arm for p in points))
    widths = sorted({p.budget.width for p in points})
    for k, arm in enumerate(arms):
        for w, style in zip(widths, ("-", "--", ":", "-.")):
            cell = sorted((p for p in points if p.arm == arm and p.budget.width == w), key=lambda p: p.steps)
            if not cell:
                continue
            label = arm if w == widths[0] else f"{arm}, {w:g}x width"
            for ax, field in zip(axes, ("fid", "classes")):
                steps = np.array([p.steps for p in cell], dtype=float)
                values = [getattr(p, field)[~np.isnan(getattr(p, field))] for p in cell]
                means = np.array([v.mean() if v.size else np.nan for v in values])
                stds = np.array([v.std(ddof=1) if v.size > 1 else 0.0 for v in values])
                for s, v in zip(steps, values):
                    ax.plot(np.full(v.size, s), v, ".", color=f"C{k}", ms=3, alpha=0.5)
                ax.errorbar(steps, means, yerr=stds, color=f"C{k}", ls=style, marker="o", ms=4, lw=1.3, capsize=3,
                            label=label)
    if threshold is not None:
        axes[0].axhline(threshold, color="0.3", lw=0.8, ls=":", label="learned below this FID")
    fid_title = "FID (lower is better)" + ("; dotted: the learning gate" if threshold is not None else "")
    for ax, what in zip(axes, (fid_title, "classes covered (of 10)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("steps")
        ax.set_title(what, fontsize=10)
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def gate_references(references: Mapping[str, float], threshold: float, *, ax: Axes | None = None,
                    title: str | None = None) -> Axes:
    """The learning gate's reference generators as horizontal bars of their FID, lowest first,
    coloured by what the gate says of a run that scored it, with the threshold as a line."""
    ax = ax if ax is not None else plt.subplots(figsize=(7, 0.32 * len(references) + 0.8))[1]
    ordered = sorted(references.items(), key=lambda kv: kv[1])
    names, fids = [k for k, _ in ordered], [v for _, v in ordered]
    colours = ["#2e7d32" if fid <= threshold else "#c62828" for fid in fids]
    ax.barh(range(len(fids)), fids, color=colours)
    ax.set_yticks(range(len(fids)), names)
    ax.invert_yaxis()
    ax.axvline(threshold, color="black", linestyle="--", linewidth=1)
    ax.text(threshold, len(fids) - 0.4, f" threshold {threshold:.4g}", va="bottom", fontsize=8)
    ax.set_xlabel("FID on the classifier's features (green: passes the gate, red: fails)")
    ax.set_title(title or "")
    return ax


def running_averages(batch_means, traces: Mapping[str, np.ndarray], *, ax: Axes | None = None) -> Axes:
    """A batch mean drifting over steps (dots) and the running averages that follow it, one line
    per momentum (``traces``: label -> running mean at each step)."""
    ax = ax if ax is not None else plt.subplots(figsize=(7, 3))[1]
    steps = np.arange(1, len(batch_means) + 1)
    ax.plot(steps, batch_means, ".", color="0.55", ms=4, label="batch mean at each step")
    for label, trace in traces.items():
        ax.plot(steps, trace, lw=1.8, label=label)
    ax.set_xlabel("training step")
    ax.set_ylabel("mean of one feature")
    ax.legend(fontsize=8)
    return ax


def mode_outputs(batch, outputs: Mapping[str, np.ndarray], *, ax: Axes | None = None) -> Axes:
    """One BN layer's output for the same batch in each mode (``outputs``: mode -> values), as
    points on one number line per mode, with the inputs on top."""
    ax = ax if ax is not None else plt.subplots(figsize=(6.4, 1.9))[1]
    rows = [("input", np.asarray(batch, dtype=float)), *((f"{m} mode", np.asarray(v)) for m, v in outputs.items())]
    for y, (label, values) in enumerate(rows):
        ax.plot(values, np.full(values.size, -y), "o", ms=7, color=f"C{y}")
        for v in values:
            ax.annotate(f"{v:+.2f}".replace("-", "−"), (v, -y), textcoords="offset points", xytext=(0, 6),
                        ha="center", fontsize=7)
    ax.set_yticks([-y for y in range(len(rows))], [label for label, _ in rows])
    ax.set_ylim(-len(rows) + 0.5, 0.7)
    ax.axvline(0, color="0.85", lw=0.8, zorder=0)
    return ax


def batch_views(views, *, ax: Axes | None = None) -> Axes:
    """Where the real images land after BN (their mean normalized value) in each batch D is
    given (:func:`bngan.book.primer.batch_views`), one bar per batch that holds them."""
    ax = ax if ax is not None else plt.subplots(figsize=(5, 2.2))[1]
    shown = [v for v in views if np.isfinite(v.real_after_bn)]
    ax.barh([v.batch for v in shown], [v.real_after_bn for v in shown], color=["C0", "C3"][: len(shown)])
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("mean of the real images' values after BN (first layer of D)")
    ax.invert_yaxis()
    return ax
