"""Comparing two settings over seeds: Welch's t interval on the difference of their means,
the difference the design could have missed, equivalence and non-superiority tests against a
stated margin, a multiplicity correction, and seed-wise wins.

Why Welch: with 3 to 8 seeds per arm a percentile bootstrap of the means is too narrow (it
ignores the uncertainty of the spread itself; at 3 seeds an arm has only ten distinct
resamples) and called a difference between identical settings about one time in five.
Welch's interval, with Satterthwaite's degrees of freedom, keeps its stated 5% at these
sizes without assuming equal spreads (``tests/test_stats.py`` calibrates both by
simulation). The arithmetic is written out from scipy's t distribution because the ledger
needs the same standard error and degrees of freedom for three different tests (two-sided,
equivalence, non-superiority); ``tests/test_stats.py`` checks it against
``scipy.stats.ttest_ind(equal_var=False)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .tables import TextTable

#: Two-sided level of every interval and test the book reports.
ALPHA = 0.05
#: Power at which :attr:`Comparison.missable` states the difference the design could have missed.
POWER = 0.8


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
class Welch:
    """``mean(b) - mean(a)`` with Welch's standard error and Satterthwaite's degrees of freedom:
    everything the two-sided, equivalence and non-superiority tests need. NaN where either arm
    has fewer than 2 values."""

    difference: float
    se: float
    df: float

    @classmethod
    def of(cls, a: Sequence[float], b: Sequence[float]) -> "Welch":
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        if a.size < 2 or b.size < 2:
            return cls(float(b.mean() - a.mean()) if a.size and b.size else math.nan, math.nan, math.nan)
        va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
        se = math.sqrt(va + vb)
        if se == 0:  # both arms constant: the difference is known exactly
            return cls(float(b.mean() - a.mean()), 0.0, math.inf)
        df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
        return cls(float(b.mean() - a.mean()), se, float(df))

    @classmethod
    def combination(cls, groups: Sequence[Sequence[float]], weights: Sequence[float]) -> "Welch":
        """``sum(w_i * mean(group_i))`` over independent groups, with the Welch-Satterthwaite
        standard error and degrees of freedom (``of(a, b)`` is the weights ``-1, 1``). NaN where
        a group has fewer than 2 values."""
        arrays = [np.asarray(g, dtype=float) for g in groups]
        if len(arrays) != len(weights):
            raise ValueError(f"weights must give one weight per group; got {len(weights)} for {len(arrays)}")
        estimate = float(sum(w * a.mean() for w, a in zip(weights, arrays))) if all(a.size for a in arrays) else math.nan
        if any(a.size < 2 for a in arrays):
            return cls(estimate, math.nan, math.nan)
        parts = [w * w * a.var(ddof=1) / a.size for w, a in zip(weights, arrays)]
        se = math.sqrt(sum(parts))
        if se == 0:
            return cls(estimate, 0.0, math.inf)
        df = sum(parts) ** 2 / sum(v * v / (a.size - 1) for v, a in zip(parts, arrays))
        return cls(estimate, se, float(df))

    def quantile(self, q: float) -> float:
        """The t quantile at ``q`` for these degrees of freedom."""
        from scipy.stats import t

        return float(t.ppf(q, self.df)) if np.isfinite(self.df) else float(t.ppf(q, 1e9))

    def interval(self, level: float = 1 - ALPHA) -> tuple[float, float]:
        """The two-sided ``level`` confidence interval of the difference."""
        if not np.isfinite(self.se):
            return math.nan, math.nan
        half = self.quantile(0.5 + level / 2) * self.se
        return self.difference - half, self.difference + half

    @property
    def p_value(self) -> float:
        """Two-sided p-value of ``difference == 0``."""
        from scipy.stats import t

        if not np.isfinite(self.se):
            return math.nan
        if self.se == 0:
            return 0.0 if self.difference != 0 else 1.0
        return float(2 * t.sf(abs(self.difference) / self.se, self.df))

    def missable(self, alpha: float = ALPHA, power: float = POWER) -> float:
        """The smallest true difference this design (these seeds, this spread) detects with
        probability ``power`` at two-sided level ``alpha``: anything smaller could be missed."""
        if not np.isfinite(self.se):
            return math.nan
        return (self.quantile(1 - alpha / 2) + self.quantile(power)) * self.se


@dataclass(frozen=True)
class Comparison:
    """``b - a`` on one metric: the difference of the means over seeds, its Welch 95% interval
    and two-sided p-value, the smallest difference the design could have detected (80% power),
    and the seed-wise wins of ``b`` (seeds both sets completed; a tie is no win)."""

    metric: str
    a: str
    b: str
    mean_a: float
    mean_b: float
    difference: float
    low: float
    high: float
    p_value: float
    se: float
    df: float
    n_a: int
    n_b: int
    diverged_a: int
    diverged_b: int
    wins_b: int
    ties: int
    n_paired: int
    lower_is_better: bool

    @property
    def welch(self) -> Welch:
        return Welch(self.difference, self.se, self.df)

    @property
    def detectable(self) -> bool:
        """True when the 95% interval excludes 0."""
        return bool(self.low > 0 or self.high < 0)

    @property
    def missable(self) -> float:
        """The smallest difference these seeds detect 80% of the time (see :meth:`Welch.missable`)."""
        return self.welch.missable()

    def interval(self, level: float) -> tuple[float, float]:
        return self.welch.interval(level)

    def equivalence(self, margin: float) -> str:
        """Two one-sided tests at 5% against ``±margin`` (the 90% interval inside the margin):
        ``equivalent``; else ``different`` when the 95% interval excludes 0; else ``inconclusive``.
        A difference that is real but smaller than the margin reads ``equivalent``."""
        if not margin > 0:
            raise ValueError(f"margin must be a positive number; got {margin!r}")
        low, high = self.interval(1 - 2 * ALPHA)
        if -margin < low and high < margin:
            return "equivalent"
        return "different" if self.detectable else "inconclusive"

    def no_better(self, margin: float) -> str:
        """Non-superiority at 5%: ``no better`` when ``b`` is shown not to beat ``a`` by ``margin``
        or more (the one-sided 95% bound on b's improvement is below the margin); ``better`` when
        the 95% interval shows ``b`` better; else ``inconclusive``."""
        if not margin > 0:
            raise ValueError(f"margin must be a positive number; got {margin!r}")
        low, high = self.interval(1 - 2 * ALPHA)
        gain_bound = -low if self.lower_is_better else high  # the most b could gain, one-sided 95%
        b_better = (self.high < 0) if self.lower_is_better else (self.low > 0)
        if b_better:
            return "better"
        return "no better" if gain_bound < margin else "inconclusive"

    @property
    def verdict(self) -> str:
        """A short reading: which setting is better, or no detectable difference (and how large
        a difference these seeds could have missed)."""
        if not np.isfinite(self.low):
            return "not enough completed seeds to compare"
        if not self.detectable:
            return (f"no detectable difference with {min(self.n_a, self.n_b)} seeds "
                    f"(could have missed up to {self.missable:.3g})")
        b_better = (self.difference < 0) == self.lower_is_better
        return f"{self.b if b_better else self.a} is better"

    def __str__(self) -> str:
        better = "lower" if self.lower_is_better else "higher"
        diverged = ""
        if self.diverged_a or self.diverged_b:
            diverged = f"; diverged: {self.a} {self.diverged_a}, {self.b} {self.diverged_b}"
        return (f"{self.metric} ({better} is better): {self.b} - {self.a} = {self.difference:+.4g} "
                f"[95% CI {self.low:+.4g}, {self.high:+.4g}, Welch, p {self.p_value:.2g}], {self.b} wins "
                f"{self.wins_b}/{self.n_paired} paired seeds{diverged}: {self.verdict}")


def compare(a: SeedResults, b: SeedResults, metric: str, *, lower_is_better: bool = True) -> Comparison:
    """Compare setting ``b`` with setting ``a`` on ``metric`` (see :class:`Comparison`).

    Only completed runs enter the means; diverged runs are counted in the result and in its
    printed line. ``lower_is_better`` says which way ``b`` wins a seed.
    """
    found_a, found_b = a.by_seed(metric), b.by_seed(metric)
    values_a, values_b = np.array(list(found_a.values())), np.array(list(found_b.values()))
    welch = Welch.of(values_a, values_b)
    low, high = welch.interval()
    paired = sorted(set(found_a) & set(found_b))
    ties = sum(found_b[s] == found_a[s] for s in paired)
    wins = sum((found_b[s] < found_a[s]) if lower_is_better else (found_b[s] > found_a[s]) for s in paired)
    return Comparison(metric=metric, a=a.label, b=b.label,
                      mean_a=float(values_a.mean()) if values_a.size else math.nan,
                      mean_b=float(values_b.mean()) if values_b.size else math.nan,
                      difference=welch.difference, low=low, high=high, p_value=welch.p_value, se=welch.se,
                      df=welch.df, n_a=values_a.size, n_b=values_b.size, diverged_a=a.n_diverged,
                      diverged_b=b.n_diverged, wins_b=wins, ties=ties, n_paired=len(paired),
                      lower_is_better=lower_is_better)


def interaction(a1: SeedResults, b1: SeedResults, a2: SeedResults, b2: SeedResults, metric: str, *,
                lower_is_better: bool = True) -> Comparison:
    """Whether a change (``a`` -> ``b``) acts more in a second condition than in a first: the
    difference of its log ratios, (mean log b2 - mean log a2) - (mean log b1 - mean log a1),
    with a Welch-Satterthwaite interval over the four independent arms. On the log scale the
    change is a factor, so two conditions whose metric has its own scale (FID at two image
    sizes, each scored by its own classifier) can be compared; the raw differences could not.
    Negative: ``b`` lowers the metric by a larger factor in the second condition.

    Returned as a :class:`Comparison` of the change's log ratio in condition 1 (``a``,
    ``mean_a``) and in condition 2 (``b``, ``mean_b``); seed-wise wins do not apply (0 of 0).
    Its false-positive rate at 3, 5 and 8 seeds per arm is calibrated in ``tests/test_stats.py``."""
    logs = []
    for arm in (a1, b1, a2, b2):
        values = np.array(list(arm.by_seed(metric).values()), dtype=float)
        if np.any(values <= 0):
            raise ValueError(f"metric must be positive for a log-ratio interaction; {arm.label} has "
                             f"{metric} values <= 0")
        logs.append(np.log(values))
    welch = Welch.combination(logs, (1.0, -1.0, -1.0, 1.0))
    low, high = welch.interval()
    ratio = [float(b.mean() - a.mean()) if a.size and b.size else math.nan for a, b in ((logs[0], logs[1]),
                                                                                          (logs[2], logs[3]))]
    return Comparison(metric=f"log {metric} ratio", a=f"{b1.label} / {a1.label}", b=f"{b2.label} / {a2.label}",
                      mean_a=ratio[0], mean_b=ratio[1], difference=welch.difference, low=low, high=high,
                      p_value=welch.p_value, se=welch.se, df=welch.df,
                      n_a=min(logs[0].size, logs[1].size), n_b=min(logs[2].size, logs[3].size),
                      diverged_a=a1.n_diverged + b1.n_diverged, diverged_b=a2.n_diverged + b2.n_diverged,
                      wins_b=0, ties=0, n_paired=0, lower_is_better=lower_is_better)


def comparison_table(comparisons: Sequence[Comparison]) -> TextTable:
    """Comparisons as one narrow table that fits a book page (long cells wrap): which setting
    against which on what metric, the difference with its Welch 95% interval, p, the seeds
    ``b`` did better in, and the reading."""
    rows = []
    for c in comparisons:
        better = "lower" if c.lower_is_better else "higher"
        rows.append((f"{c.b} vs {c.a}: {c.metric} ({better} is better)",
                     f"{c.difference:+.3g} [{c.low:+.3g}, {c.high:+.3g}]", f"{c.p_value:.2g}",
                     f"{c.wins_b}/{c.n_paired}", c.verdict))
    return TextTable(("comparison", "b − a [95% interval]", "p", "b better in", "reading"), rows, wrap=(0, 1, 4))


def bootstrap_difference(a: Sequence[float], b: Sequence[float], *, n_boot: int = 10_000,
                         seed: int = 0) -> tuple[float, float, float]:
    """``mean(b) - mean(a)`` and its percentile 95% bootstrap interval (each arm resampled on
    its own). Descriptive only, and kept to show why the book does not decide with it: at 3
    seeds per arm it excludes 0 for identical settings about 20% of the time (the tests
    measure it). NaN everywhere when either set is empty."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    means_a = a[rng.integers(0, a.size, size=(n_boot, a.size))].mean(1)
    means_b = b[rng.integers(0, b.size, size=(n_boot, b.size))].mean(1)
    low, high = np.percentile(means_b - means_a, [2.5, 97.5])
    return float(b.mean() - a.mean()), float(low), float(high)


def holm(p_values: Sequence[float], alpha: float = ALPHA) -> list[bool]:
    """Holm's step-down correction: which of ``p_values`` stay significant when all of them are
    tested together at family-wise level ``alpha``. NaN p-values are never significant and do
    not count as tests. (scipy offers only Benjamini-Hochberg; Holm is a few lines.)"""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1); got {alpha!r}")
    p = np.asarray(p_values, dtype=float)
    valid = np.flatnonzero(~np.isnan(p))
    keep = [False] * len(p)
    m = valid.size
    for rank, index in enumerate(valid[np.argsort(p[valid], kind="stable")]):
        if p[index] > alpha / (m - rank):
            break  # every larger p-value fails too
        keep[index] = True
    return keep


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


def seeds_needed(std: float, difference: float, *, alpha: float = ALPHA, power: float = POWER) -> int:
    """Seeds per setting for a two-sided test at level ``alpha`` to detect a difference of the
    means ``difference`` with probability ``power``, when each setting's seed-to-seed standard
    deviation is ``std`` (normal approximation: n = 2 (z_(1-alpha/2) + z_power)^2 std^2 / d^2,
    rounded up, at least 2; Welch's t needs a seed or two more at small n)."""
    if not (std >= 0 and difference != 0 and 0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"need std >= 0, difference != 0, alpha and power in (0, 1); got {std!r}, {difference!r}, "
                         f"{alpha!r}, {power!r}")
    from statistics import NormalDist

    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    return max(2, math.ceil(2 * (z * std / difference) ** 2 - 1e-9))  # the tolerance absorbs rounding


def detectable_difference(std: float, n: int, *, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest difference of means that ``n`` seeds per setting detect with probability
    ``power`` at level ``alpha`` (the inverse of :func:`seeds_needed`, normal approximation)."""
    if not (std >= 0 and n >= 2 and 0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"need std >= 0, n >= 2, alpha and power in (0, 1); got {std!r}, {n!r}, {alpha!r}, {power!r}")
    from statistics import NormalDist

    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    return z * std * math.sqrt(2 / n)
