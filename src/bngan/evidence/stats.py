"""Comparing two settings over seeds: Welch's t interval on the difference of their means,
the difference the design could have missed, equivalence and non-superiority tests against a
stated margin (each read both ways: shown inside the margin, or shown beyond it), the false
discovery rate correction the ledger applies book-wide, and seed-wise wins.

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

    def one_sided_p(self, threshold: float, side: str) -> float:
        """p-value of the one-sided test that the true difference lies ``above`` (or
        ``below``) ``threshold``: small when the data show it does."""
        from scipy.stats import t

        if side not in ("above", "below"):
            raise ValueError(f"side must be 'above' or 'below'; got {side!r}")
        if not np.isfinite(self.se):
            return math.nan
        gap = (self.difference - threshold) if side == "above" else (threshold - self.difference)
        if self.se == 0:
            return 0.0 if gap > 0 else 1.0
        return float(t.sf(gap / self.se, self.df))

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
    var_a: float = math.nan  # each arm's squared standard error of its mean (for the ratio interval)
    var_b: float = math.nan
    #: an interaction (:func:`interaction`): ``mean_a`` and ``mean_b`` are a change's log factor
    #: in two conditions, ``a`` and ``b`` name the conditions' ratios, and no seed is paired
    factors: bool = False

    @property
    def welch(self) -> Welch:
        return Welch(self.difference, self.se, self.df)

    @property
    def detectable(self) -> bool:
        """True when the two-sided test rejects "no difference" at 5%: Welch's 95% interval
        excludes 0, or, for two constant arms (no spread to build an interval from), the exact
        permutation test's p-value is below 5%."""
        if self.se == 0:
            return bool(self.p_value < ALPHA)
        return bool(self.low > 0 or self.high < 0)

    @property
    def missable(self) -> float:
        """The smallest difference these seeds detect 80% of the time (see :meth:`Welch.missable`)."""
        return self.welch.missable()

    def interval(self, level: float) -> tuple[float, float]:
        return self.welch.interval(level)

    def equivalence(self, margin: float) -> str:
        """Read "no difference" against ``±margin``, each way at 5%:

        - ``equivalent``: two one-sided tests, the 90% interval inside ``(-margin, margin)``;
        - ``different``: the difference is shown to exceed the margin, the 95% interval wholly
          outside ``[-margin, margin]``;
        - ``inconclusive`` otherwise. A difference that is real (the 95% interval excludes 0)
          but may be smaller than the margin is inconclusive too: :attr:`detectable` tells it
          apart from an interval that merely straddles zero.

        A difference that is real but smaller than the margin reads ``equivalent``."""
        if not margin > 0:
            raise ValueError(f"margin must be a positive number; got {margin!r}")
        low, high = self.interval(1 - 2 * ALPHA)
        if -margin < low and high < margin:
            return "equivalent"
        if self.low > margin or self.high < -margin:
            return "different"
        return "inconclusive"

    def no_better(self, margin: float) -> str:
        """Read "b does not improve on a by ``margin`` or more", each way at 5%: ``no better``
        when the one-sided 95% bound on b's gain is below the margin (non-superiority);
        ``better`` when b's gain is shown to exceed the margin (the 95% interval of the gain
        wholly above it); else ``inconclusive``. A gain shown real but smaller than the margin
        reads ``no better``: the claim is about gains a reader would care about."""
        if not margin > 0:
            raise ValueError(f"margin must be a positive number; got {margin!r}")
        low, high = self.interval(1 - 2 * ALPHA)
        gain_bound = -low if self.lower_is_better else high  # the most b could gain, one-sided 95%
        if gain_bound < margin:
            return "no better"
        gain_low = -self.high if self.lower_is_better else self.low  # the least b gains, two-sided 95%
        return "better" if gain_low > margin else "inconclusive"

    def equivalence_p(self, margin: float) -> float:
        """The p-value of the two one-sided tests against ``±margin`` (the larger of the two):
        below 5% exactly when :meth:`equivalence` says ``equivalent``."""
        return max(self.welch.one_sided_p(-margin, "above"), self.welch.one_sided_p(margin, "below"))

    def relative_interval(self, level: float = 1 - ALPHA) -> tuple[float, float, float]:
        """``mean_b / mean_a - 1`` and its ``level`` interval, built on the log of the ratio of
        the means (delta method, Welch-Satterthwaite degrees of freedom), so it stays above
        -100% for a positive metric: a change of size can be stated as a share of the baseline.
        Falls back to the difference over ``|mean_a|`` (the baseline taken as known) where a
        mean is not positive or the arms' spreads are unknown."""
        ratio_parts = (self.var_a / self.mean_a ** 2, self.var_b / self.mean_b ** 2) \
            if self.mean_a > 0 and self.mean_b > 0 else (math.nan, math.nan)
        if not all(np.isfinite(ratio_parts)):
            low, high = self.interval(level)
            scale = abs(self.mean_a)
            return self.difference / scale, low / scale, high / scale
        log_ratio = math.log(self.mean_b / self.mean_a)
        se = math.sqrt(sum(ratio_parts))
        if se == 0:
            return math.expm1(log_ratio), math.expm1(log_ratio), math.expm1(log_ratio)
        df = sum(ratio_parts) ** 2 / (ratio_parts[0] ** 2 / max(self.n_a - 1, 1)
                                      + ratio_parts[1] ** 2 / max(self.n_b - 1, 1))
        half = Welch(log_ratio, se, df).quantile(0.5 + level / 2) * se
        return math.expm1(log_ratio), math.expm1(log_ratio - half), math.expm1(log_ratio + half)

    def fieller_interval(self, level: float = 1 - ALPHA) -> tuple[float, float, float]:
        """``mean_b / mean_a - 1`` and its ``level`` interval by Fieller's theorem: every ratio
        ``r`` with ``(mean_b - r mean_a)^2 <= t^2 (var_b + r^2 var_a)``, with Welch's degrees of
        freedom. At ``r = 1`` that is Welch's own test, so the interval excludes 0% exactly when
        the difference is detectable, and unlike the difference over ``|mean_a|`` it accounts for
        the baseline's own spread. Unbounded (``-inf, inf``) where ``a``'s mean is not itself
        distinguishable from 0: no share of it can be bounded. Written here because scipy and
        statsmodels offer no Fieller interval for two independent means."""
        ma, mb, va, vb = self.mean_a, self.mean_b, self.var_a, self.var_b
        if not (np.isfinite(va) and np.isfinite(vb) and ma != 0):
            return math.nan, math.nan, math.nan
        t2 = self.welch.quantile(0.5 + level / 2) ** 2
        a = ma ** 2 - t2 * va  # the quadratic in r: a r^2 - 2 b r + c <= 0
        b = ma * mb
        c = mb ** 2 - t2 * vb
        ratio = mb / ma
        if a <= 0:
            return ratio - 1, -math.inf, math.inf
        root = math.sqrt(max(b * b - a * c, 0.0))
        return ratio - 1, (b - root) / a - 1, (b + root) / a - 1

    @property
    def verdict(self) -> str:
        """A short reading: which setting is better, or no detectable difference (and how large
        a difference these seeds could have missed)."""
        if not np.isfinite(self.low):
            return "not enough completed seeds to compare"
        if not self.detectable:
            return (f"no detectable difference with {min(self.n_a, self.n_b)} seeds "
                    f"(could have missed up to {self.missable:.3g})")
        if self.factors:
            return (f"the change's factor is {'smaller' if self.difference < 0 else 'larger'} in {self.b} "
                    f"(×{math.exp(self.mean_b):.3g} against ×{math.exp(self.mean_a):.3g})")
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
    p_value = welch.p_value if welch.se != 0 else constant_arms_p(values_a, values_b)
    paired = sorted(set(found_a) & set(found_b))
    ties = sum(found_b[s] == found_a[s] for s in paired)
    wins = sum((found_b[s] < found_a[s]) if lower_is_better else (found_b[s] > found_a[s]) for s in paired)
    return Comparison(metric=metric, a=a.label, b=b.label,
                      mean_a=float(values_a.mean()) if values_a.size else math.nan,
                      mean_b=float(values_b.mean()) if values_b.size else math.nan,
                      difference=welch.difference, low=low, high=high, p_value=p_value, se=welch.se,
                      df=welch.df, n_a=values_a.size, n_b=values_b.size, diverged_a=a.n_diverged,
                      diverged_b=b.n_diverged, wins_b=wins, ties=ties, n_paired=len(paired),
                      lower_is_better=lower_is_better, var_a=_var_of_mean(values_a), var_b=_var_of_mean(values_b))


def _var_of_mean(values: np.ndarray) -> float:
    return float(values.var(ddof=1) / values.size) if values.size > 1 else math.nan


def constant_arms_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of "no difference" for two arms that each repeat one value (class counts
    at their ceiling, say): Welch's standard error is zero there and would give p = 0 for any gap,
    so the exact permutation test decides instead. With every value of one arm on one side of
    every value of the other, p is 2 / C(n_a + n_b, n_a): 0.0079 at 5 and 5 seeds, 0.33 at 2 and
    2; identical arms give 1."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0 or a.mean() == b.mean():
        return 1.0
    return min(1.0, 2.0 / math.comb(a.size + b.size, a.size))


def interaction(a1: SeedResults, b1: SeedResults, a2: SeedResults, b2: SeedResults, metric: str, *,
                lower_is_better: bool = True) -> Comparison:
    """Whether a change (``a`` -> ``b``) acts more in a second condition than in a first: the
    difference of its log ratios, (mean log b2 - mean log a2) - (mean log b1 - mean log a1),
    with a Welch-Satterthwaite interval over the four independent arms. On the log scale the
    change is a factor, so two conditions whose metric has its own scale (FID at two image
    sizes, each scored by its own classifier) can be compared; the raw differences could not.
    Negative: ``b`` lowers the metric by a larger factor in the second condition.

    Returned as a :class:`Comparison` of the change's log ratio in condition 1 (``a``,
    ``mean_a``) and in condition 2 (``b``, ``mean_b``), marked ``factors``; no seed is paired.
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
                      wins_b=0, ties=0, n_paired=0, lower_is_better=lower_is_better, factors=True)


def comparison_table(comparisons: Sequence[Comparison]) -> TextTable:
    """Comparisons as one narrow table that fits a book page (long cells wrap): which setting
    against which on what metric, the difference with its Welch 95% interval, p, the seeds
    ``b`` did better in (a dash where no seed is paired: an interaction), and the reading."""
    rows = []
    for c in comparisons:
        better = "lower" if c.lower_is_better else "higher"
        rows.append((f"{c.b} vs {c.a}: {c.metric} ({better} is better)",
                     f"{c.difference:+.3g} [{c.low:+.3g}, {c.high:+.3g}]", f"{c.p_value:.2g}",
                     f"{c.wins_b}/{c.n_paired}" if c.n_paired else "—", c.verdict))  # an interaction pairs no seed
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


def benjamini_hochberg(p_values: Sequence[float], alpha: float = ALPHA) -> list[bool]:
    """Which of ``p_values`` are discoveries at false discovery rate ``alpha`` (Benjamini and
    Hochberg's step-up, computed by :func:`scipy.stats.false_discovery_control`): of the
    effects declared, at most a share ``alpha`` is expected to be chance. NaN p-values are never
    discoveries and do not count as tests."""
    from scipy.stats import false_discovery_control

    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1); got {alpha!r}")
    p = np.asarray(p_values, dtype=float)
    keep = [False] * len(p)
    valid = np.flatnonzero(~np.isnan(p))
    if valid.size:
        adjusted = false_discovery_control(p[valid], method="bh")
        for index, q in zip(valid, adjusted):
            keep[index] = bool(q <= alpha)
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


def seeds_for_equivalence(std: float, margin: float, *, difference: float = 0.0, alpha: float = ALPHA,
                          power: float = POWER) -> int:
    """Seeds per setting for the two one-sided tests at level ``alpha`` to show equivalence
    within ``±margin`` with probability ``power``, when the true difference is ``difference``
    (inside the margin) and each setting's seed-to-seed standard deviation is ``std`` (normal
    approximation: n = 2 (z_(1-alpha) + z)^2 std^2 / (margin - |difference|)^2, where z is
    z_(1-(1-power)/2) at a zero difference and z_power otherwise; at least 2)."""
    if not (std >= 0 and margin > 0 and abs(difference) < margin and 0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"need std >= 0, margin > 0, |difference| < margin, alpha and power in (0, 1); got "
                         f"{std!r}, {margin!r}, {difference!r}, {alpha!r}, {power!r}")
    from statistics import NormalDist

    z_power = NormalDist().inv_cdf(1 - (1 - power) / 2) if difference == 0 else NormalDist().inv_cdf(power)
    z = NormalDist().inv_cdf(1 - alpha) + z_power
    return max(2, math.ceil(2 * (z * std / (margin - abs(difference))) ** 2 - 1e-9))
