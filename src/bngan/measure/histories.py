"""Numbers computed from a run's logged history: how much D's and G's loss curves overlap.

The seed paper argues about batch size from its loss plots: "the overlapping area between
the discriminator and generator is reducing as the batch size increases". A loss curve logged
one step at a time is a noisy band, not a line, so "overlapping area" is read here as the
area that the two bands share:

* :func:`loss_bands`: each curve's band, the running minimum and maximum over ``window``
  consecutive logged points (centred; shorter at the ends);
* :func:`loss_overlap`: the shared area of the two bands over the union of their areas
  (a Jaccard index summed over the logged points): 1 when the curves are the same, 0 when
  the bands never meet, in between when they interleave part of the time;
* :func:`loss_gap`: the mean absolute distance between the two curves' running means over the
  same window, which does not depend on how noisy the curves are, only on how far apart they
  are;
* :func:`add_loss_overlap`: both numbers for every run of a set of results, as run metrics
  (``loss_overlap``, ``loss_gap``), so that :func:`bngan.experiments.summary_table` and
  :func:`bngan.compare` show them like any other metric.

Narrow bands that sit apart give a small overlap; wide (noisy) bands around the same two
means overlap more. So the overlap mixes two things that :func:`loss_gap` separates: how far
apart the curves are, and how noisy each one is (a loss averaged over a smaller batch is
noisier for that reason alone).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

DEFAULT_WINDOW = 5  # logged points per band: 25 steps at ``quick`` (log_every 5)


def _check(loss_d, loss_g, window) -> tuple[np.ndarray, np.ndarray, int]:
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 2:
        raise ValueError(f"window must be an integer >= 2 (logged points per band); got {window!r}")
    d = np.asarray(loss_d, dtype=float).ravel()
    g = np.asarray(loss_g, dtype=float).ravel()
    if d.shape != g.shape:
        raise ValueError(f"loss_d and loss_g must have the same length; got {d.size} and {g.size}")
    if d.size == 0:
        raise ValueError("loss_d and loss_g must not be empty")
    if not (np.isfinite(d).all() and np.isfinite(g).all()):
        raise ValueError("loss_d and loss_g must be finite (a diverged run has no loss overlap)")
    return d, g, int(window)


def _windows(values: np.ndarray, window: int) -> list[np.ndarray]:
    half_low, half_high = (window - 1) // 2, window // 2
    n = values.size
    return [values[max(0, i - half_low): min(n, i + half_high + 1)] for i in range(n)]


def loss_bands(values: Sequence[float], window: int = DEFAULT_WINDOW) -> tuple[np.ndarray, np.ndarray]:
    """(low, high): the running minimum and maximum of ``values`` over ``window`` consecutive
    points centred on each point (fewer at the two ends)."""
    v, _, window = _check(values, values, window)
    parts = _windows(v, window)
    return np.array([p.min() for p in parts]), np.array([p.max() for p in parts])


def loss_overlap(loss_d: Sequence[float], loss_g: Sequence[float], window: int = DEFAULT_WINDOW) -> float:
    """Shared area of the two curves' bands (:func:`loss_bands`) over the area of their union,
    summed over the logged points: ``sum_t |B_d(t) & B_g(t)| / sum_t |B_d(t) | B_g(t)|``.

    1.0 for identical curves, 0.0 when the bands never meet. When both bands have zero width
    everywhere (constant curves) the result is 1.0 if the curves are equal and 0.0 otherwise."""
    d, g, window = _check(loss_d, loss_g, window)
    d_low, d_high = loss_bands(d, window)
    g_low, g_high = loss_bands(g, window)
    shared = np.clip(np.minimum(d_high, g_high) - np.maximum(d_low, g_low), 0.0, None)
    union = (d_high - d_low) + (g_high - g_low) - shared
    if union.sum() == 0:
        return float(np.array_equal(d, g))
    return float(shared.sum() / union.sum())


def loss_gap(loss_d: Sequence[float], loss_g: Sequence[float], window: int = DEFAULT_WINDOW) -> float:
    """Mean over the logged points of ``|running mean of loss_d - running mean of loss_g|``,
    both over the same centred ``window`` as :func:`loss_overlap`."""
    d, g, window = _check(loss_d, loss_g, window)
    mean_d = np.array([p.mean() for p in _windows(d, window)])
    mean_g = np.array([p.mean() for p in _windows(g, window)])
    return float(np.abs(mean_d - mean_g).mean())


def add_loss_overlap(results, window: int = DEFAULT_WINDOW):
    """Record :func:`loss_overlap` and :func:`loss_gap` of every completed run's whole history
    as its metrics ``loss_overlap`` and ``loss_gap`` (in memory, not on disk). ``results`` is a
    RunSet, a sequence of them, or a ``{label: RunSet}`` dict (returned unchanged, for
    chaining). Diverged runs get nothing."""
    if isinstance(results, Mapping):
        sets = list(results.values())
    elif isinstance(results, Sequence):
        sets = list(results)
    else:
        sets = [results]
    for rs in sets:
        for run in rs.completed:
            run.metrics["loss_overlap"] = loss_overlap(run.history["loss_d"], run.history["loss_g"], window)
            run.metrics["loss_gap"] = loss_gap(run.history["loss_d"], run.history["loss_g"], window)
    return results


# --------------------------------------------------------------------------- per-run numbers the ledger reads


def _bands_of(run) -> float:
    return loss_overlap(run.history["loss_d"], run.history["loss_g"])


def _bn_gap(run) -> float:
    """D's BN gap at the end of training: the mean over D's BN layers, on the real and on the
    fake batch, of each ``bn<i>_gap_<real|fake>`` column's mean over the last 10% of the logged
    steps (|batch mean − running mean| / running std, averaged over channels; :mod:`bngan.probes`)."""
    import re

    columns = [c for c in run.history if re.fullmatch(r"bn\d+_gap_(real|fake)", c) and len(run.history[c])]
    if not columns:
        return float("nan")
    return float(np.mean([run.final(c) for c in columns]))


def _evals(run) -> np.ndarray:
    values = np.asarray(getattr(run, "evals", {}).get("recon_mse", ()), dtype=float)
    return values[np.isfinite(values)]


def _early_recon(run) -> float:
    values = _evals(run)
    return float(values[0]) if values.size else float("nan")


def _recon_rise(run) -> float:
    values = _evals(run)
    return float(values[-1] - values.min()) if values.size else float("nan")


#: Numbers a claim may read that a run computes from its logged history rather than records as a
#: metric (:meth:`bngan.runsets.RunSet.values` reads them; :mod:`bngan.results` exports them with
#: each row, so the committed results can decide them without the run's files). Each maps a
#: completed run to a float, NaN where the run logged nothing to compute it from:
#:
#: - ``loss_overlap``: :func:`loss_overlap` of the whole run's D and G losses (window 5);
#: - ``final_bn_gap``: D's BN batch-vs-running gap at the end (:func:`_bn_gap`);
#: - ``early_recon_mse``: the reconstruction error at the first evaluation during training
#:   (``train.eval_every``);
#: - ``recon_rise``: the last evaluation's error minus the lowest of the run's evaluations (0 when
#:   the error only fell): how much a run lost late in training.
DERIVED = {"loss_overlap": _bands_of, "final_bn_gap": _bn_gap, "early_recon_mse": _early_recon,
           "recon_rise": _recon_rise}


def derived(run, name: str) -> float:
    """``run``'s :data:`DERIVED` number ``name`` (NaN where its history lacks the columns, or
    the run, a recorded one, has no history)."""
    try:
        value = DERIVED[name](run)
    except (KeyError, ValueError):  # a column that is missing, or not finite (a diverged stretch)
        return float("nan")
    return float(value)
