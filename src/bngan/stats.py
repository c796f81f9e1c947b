"""Comparing two settings over seeds: the difference of their means with a bootstrap 95%
interval, and how many seeds each one wins.

A chapter prints :func:`compare` for every claim it decides, so that a difference inside
the seed-to-seed spread reads as "no detectable difference", never as a win. The bootstrap
is written here (a dozen lines of numpy) because the library's only need is this one
interval; scipy's ``bootstrap`` would add a dependency for the same percentile interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


class SeedResults(Protocol):
    """What :func:`compare` needs of a set of runs (a :class:`bngan.experiments.RunSet`)."""

    label: str

    def by_seed(self, metric: str) -> dict[int, float]: ...

    @property
    def n_diverged(self) -> int: ...


@dataclass(frozen=True)
class Measured:
    """Per-seed values of measurements made after the runs (a score of their samples, say),
    in the form :func:`compare` takes: ``Measured("transposed", {"score": {0: 35.9, 1: 25.2}})``
    maps each metric to ``{seed: value}``."""

    label: str
    metrics: Mapping[str, Mapping[int, float]]
    n_diverged: int = 0

    def by_seed(self, metric: str) -> dict[int, float]:
        if metric not in self.metrics:
            raise ValueError(f"metric must be one of {', '.join(self.metrics)}; got {metric!r}")
        return {int(seed): float(value) for seed, value in self.metrics[metric].items() if not np.isnan(value)}


@dataclass(frozen=True)
class Comparison:
    """``b - a`` on one metric: the difference of the means over seeds, its bootstrap 95%
    interval, and the seed-wise wins of ``b`` (seeds both sets completed)."""

    metric: str
    a: str
    b: str
    mean_a: float
    mean_b: float
    difference: float
    low: float
    high: float
    n_a: int
    n_b: int
    diverged_a: int
    diverged_b: int
    wins_b: int
    n_paired: int
    lower_is_better: bool

    @property
    def detectable(self) -> bool:
        """True when the 95% interval excludes 0."""
        return bool(self.low > 0 or self.high < 0)

    @property
    def verdict(self) -> str:
        """A short reading: which setting is better, or no detectable difference."""
        if not np.isfinite(self.difference):
            return "not enough completed seeds to compare"
        if not self.detectable:
            return f"no detectable difference with {min(self.n_a, self.n_b)} seeds"
        b_better = (self.difference < 0) == self.lower_is_better
        return f"{self.b if b_better else self.a} is better"

    def __str__(self) -> str:
        better = "lower" if self.lower_is_better else "higher"
        diverged = ""
        if self.diverged_a or self.diverged_b:
            diverged = f"; diverged: {self.a} {self.diverged_a}, {self.b} {self.diverged_b}"
        return (f"{self.metric} ({better} is better): {self.b} - {self.a} = {self.difference:+.4g} "
                f"[95% CI {self.low:+.4g}, {self.high:+.4g}], {self.b} wins {self.wins_b}/{self.n_paired} "
                f"paired seeds{diverged}: {self.verdict}")


def bootstrap_difference(a: np.ndarray, b: np.ndarray, *, n_boot: int = 10_000,
                         seed: int = 0) -> tuple[float, float, float]:
    """``mean(b) - mean(a)`` and its percentile 95% interval, resampling each set's seeds
    independently with replacement. NaN everywhere when either set is empty."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means_a = a[rng.integers(0, a.size, size=(n_boot, a.size))].mean(1)
    means_b = b[rng.integers(0, b.size, size=(n_boot, b.size))].mean(1)
    low, high = np.percentile(means_b - means_a, [2.5, 97.5])
    return float(b.mean() - a.mean()), float(low), float(high)


def compare(a: SeedResults, b: SeedResults, metric: str, *, lower_is_better: bool = True,
            n_boot: int = 10_000, seed: int = 0) -> Comparison:
    """Compare setting ``b`` with setting ``a`` on ``metric`` (see :class:`Comparison`).

    Only completed runs enter the means; diverged runs are counted in the result and in its
    printed line. ``lower_is_better`` says which way ``b`` wins a seed.
    """
    found_a, found_b = a.by_seed(metric), b.by_seed(metric)
    values_a, values_b = np.array(list(found_a.values())), np.array(list(found_b.values()))
    difference, low, high = bootstrap_difference(values_a, values_b, n_boot=n_boot, seed=seed)
    paired = sorted(set(found_a) & set(found_b))
    wins = sum((found_b[s] < found_a[s]) if lower_is_better else (found_b[s] > found_a[s]) for s in paired)
    return Comparison(metric=metric, a=a.label, b=b.label,
                      mean_a=float(values_a.mean()) if values_a.size else float("nan"),
                      mean_b=float(values_b.mean()) if values_b.size else float("nan"),
                      difference=difference, low=low, high=high, n_a=values_a.size, n_b=values_b.size,
                      diverged_a=a.n_diverged, diverged_b=b.n_diverged, wins_b=wins, n_paired=len(paired),
                      lower_is_better=lower_is_better)


def rank_correlation(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Spearman's rank correlation of two paired measurements and its two-sided p-value
    (scipy's), NaN pairs dropped: do two metrics order the same runs the same way?"""
    from scipy.stats import spearmanr

    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"x and y must be 1-D and of equal length; got shapes {a.shape} and {b.shape}")
    keep = ~(np.isnan(a) | np.isnan(b))
    if keep.sum() < 3:
        raise ValueError(f"rank_correlation needs at least 3 pairs without NaN; got {int(keep.sum())}")
    result = spearmanr(a[keep], b[keep])
    return float(result.statistic), float(result.pvalue)


def seeds_needed(std: float, difference: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Seeds per setting for a two-sided test at level ``alpha`` to detect a difference of the
    means ``difference`` with probability ``power``, when each setting's seed-to-seed standard
    deviation is ``std`` (normal approximation: n = 2 (z_(1-alpha/2) + z_power)^2 std^2 / d^2,
    rounded up, at least 2)."""
    if not (std >= 0 and difference != 0 and 0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"need std >= 0, difference != 0, alpha and power in (0, 1); got {std!r}, {difference!r}, "
                         f"{alpha!r}, {power!r}")
    from statistics import NormalDist

    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    return max(2, math.ceil(2 * (z * std / difference) ** 2 - 1e-9))  # the tolerance absorbs rounding


def detectable_difference(std: float, n: int, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest difference of means that ``n`` seeds per setting detect with probability
    ``power`` at level ``alpha`` (the inverse of :func:`seeds_needed`)."""
    if not (std >= 0 and n >= 2 and 0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"need std >= 0, n >= 2, alpha and power in (0, 1); got {std!r}, {n!r}, {alpha!r}, {power!r}")
    from statistics import NormalDist

    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    return z * std * math.sqrt(2 / n)
