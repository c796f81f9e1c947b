"""Numbers for a chapter's prose, taken from its outputs: each value is glued
(``myst_nb.glue``) under a key the markdown cites with ``{glue}`key```, so re-executing the
chapter at another profile, or after a library change, rewrites the prose's numbers with the
tables'. Where myst_nb is not installed (a plain Colab session) nothing is glued and the
values are only returned.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np

from ..runs.runsets import RunSet
from .learning import arm_learning
from .stats import Comparison, compare, interaction
from .tables import significant


class Text(str):
    """A string whose ``repr`` is itself, so a glued value reads ``240 ± 15``, not ``'240 ± 15'``."""

    def __repr__(self) -> str:
        return str(self)


def slug(label: str) -> str:
    """A glue-key part from a setting's label: ``"BN, separate"`` -> ``bn-separate``."""
    return re.sub(r"[^a-z0-9.]+", "-", label.lower()).strip("-")


def number(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits, with a true minus sign."""
    if not math.isfinite(x):
        return "n/a"
    return significant(x, digits).replace("-", "−")


def signed(x: float, digits: int = 3) -> str:
    return (f"{x:+.{digits}g}" if math.isfinite(x) else "n/a").replace("-", "−")


def glue_values(values: Mapping[str, str], *, show: bool = False) -> dict[str, str]:
    """Glue each ``key: text`` (no display by default) and return them."""
    texts = {key: Text(value) for key, value in values.items()}
    try:
        from myst_nb import glue
    except ImportError:  # not a book build: the values are still returned
        return dict(texts)
    for key, text in texts.items():
        glue(key, text, display=show)
    return dict(texts)


def glue_summary(prefix: str, results: Mapping[str, RunSet], metrics: Sequence[str]) -> dict[str, str]:
    """Glue ``<prefix>.<setting>.<metric>`` as ``mean ± std`` over seeds (as the tables show
    them) for every setting and metric, and ``<prefix>.<setting>.<metric>.range`` as
    ``min to max``; keys are :func:`slug` s of the labels."""
    values = {}
    for label, rs in results.items():
        for metric in metrics:
            mean, std = rs.mean_std(metric)
            found = rs.values(metric)
            found = found[~np.isnan(found)]
            key = f"{prefix}.{slug(label)}.{metric}"
            values[key] = f"{number(mean)} ± {number(std, 2)}" if math.isfinite(std) else number(mean)
            values[f"{key}.range"] = f"{number(found.min())} to {number(found.max())}" if found.size else "n/a"
    return glue_values(values)


def glue_learning(prefix: str, results: Mapping[str, RunSet], *, show: bool = True) -> dict[str, str]:
    """Glue ``<prefix>.<setting>`` as ``k of n``, how many completed seeds of each setting
    learned (:func:`bngan.evidence.learning.arm_learning`), and print each reading (``show``) so the
    gate a comparison passed is on the page next to the numbers it lets through."""
    values = {}
    for label, runs in results.items():
        reading = arm_learning(runs)
        if reading is None:  # toy runs: nothing to gate
            continue
        if show:
            print(reading)
        values[f"{prefix}.{slug(label)}"] = f"{reading.learned_seeds} of {reading.completed}"
    return glue_values(values)


def relative(comparison: Comparison) -> str:
    """A comparison's change as a percentage of setting ``a``'s mean with its 95% Fieller
    interval (:meth:`bngan.evidence.stats.Comparison.fieller_interval`): it excludes 0% exactly
    when the p-value beside it is below 5%, and counts the baseline's own spread. ``n/a`` for an
    interaction (its means are log factors) or a baseline of 0."""
    c = comparison
    if c.factors or not (math.isfinite(c.mean_a) and c.mean_a != 0):
        return "n/a"
    if not (math.isfinite(c.var_a) and math.isfinite(c.var_b)):  # spreads unknown: the baseline taken as known
        scale = 100.0 / abs(c.mean_a)
        return f"{c.difference * scale:+.0f}% [{c.low * scale:+.0f}%, {c.high * scale:+.0f}%]".replace("-", "−")
    change, low, high = (100 * x for x in c.fieller_interval())
    if not math.isfinite(low):
        return f"{change:+.0f}% [unbounded: the baseline's mean is not distinguishable from 0]".replace("-", "−")
    return f"{change:+.0f}% [{low:+.0f}%, {high:+.0f}%]".replace("-", "−")


def ratio(comparison: Comparison) -> str:
    """``mean_b / mean_a - 1`` as a percentage with the ledger's 95% interval, built on the log of
    the ratio (:meth:`bngan.evidence.stats.Comparison.relative_interval`): the form in which the
    verdict table judges a claimed size, and one that stays above -100% for a positive metric.
    :func:`relative` is Fieller's interval on the same ratio, which agrees with the p-value
    beside it exactly. ``n/a`` for an interaction (its means are log factors)."""
    c = comparison
    if c.factors or not (math.isfinite(c.mean_a) and c.mean_a != 0):
        return "n/a"
    change, low, high = (100 * x for x in c.relative_interval())
    return f"{change:+.0f}% [{low:+.0f}%, {high:+.0f}%]".replace("-", "−")


def glue_comparison(key: str, comparison: Comparison) -> dict[str, str]:
    """Glue a comparison's pieces under ``key``: ``key`` the difference with its 95% interval
    (``−101 [−116, −88]``), ``key.p`` its p-value, ``key.wins`` how many paired seeds moved
    the better way (``5 of 5``), ``key.missable`` the difference these seeds could have missed,
    ``key.relative`` the change and its Fieller interval as percentages of ``a``'s mean
    (``−44% [−61%, −27%]``, :func:`relative`), ``key.ratio`` the same change with the ledger's interval on the
    ratio's log (:func:`ratio`: for a claimed size), and ``key.verdict`` the comparison's one-line
    reading."""
    c = comparison
    return glue_values({
        f"{key}.relative": relative(c),
        f"{key}.ratio": ratio(c),
        key: f"{signed(c.difference)} [{signed(c.low)}, {signed(c.high)}]",
        f"{key}.p": f"p {c.p_value:.2g}".replace("-", "−"),
        f"{key}.wins": f"{c.wins_b} of {c.n_paired}" if not c.factors else "n/a",
        f"{key}.missable": f"±{number(c.missable)}",
        f"{key}.verdict": c.verdict,
    })


def glue_compared(key: str, a: RunSet, b: RunSet, metric: str, *, lower_is_better: bool = True,
                  margin: float | None = None) -> Comparison:
    """Compare ``b`` with ``a`` on ``metric`` (:func:`bngan.evidence.stats.compare`), glue it under ``key``
    (:func:`glue_comparison`) and return it. With ``margin`` (a fraction of ``a``'s mean) also
    glue the equivalence test's reading as ``key.equivalence`` and the margin as ``key.margin``,
    for a claim of "no difference"."""
    comparison = compare(a, b, metric, lower_is_better=lower_is_better)
    glue_comparison(key, comparison)
    if margin is not None:
        bound = margin * abs(comparison.mean_a)
        glue_values({f"{key}.equivalence": comparison.equivalence(bound), f"{key}.margin": f"±{number(bound)}"})
    return comparison


def glue_interaction(key: str, a1: RunSet, b1: RunSet, a2: RunSet, b2: RunSet, metric: str) -> Comparison:
    """Whether the change ``a -> b`` acts more in condition 2 than in condition 1
    (:func:`bngan.evidence.stats.interaction`), glued under ``key`` with the change's factor on ``metric``
    in each condition as ``key.first`` and ``key.second`` (``×0.744``)."""
    comparison = interaction(a1, b1, a2, b2, metric)
    glue_comparison(key, comparison)
    glue_values({f"{key}.first": f"×{math.exp(comparison.mean_a):.3g}",
                 f"{key}.second": f"×{math.exp(comparison.mean_b):.3g}"})
    return comparison

