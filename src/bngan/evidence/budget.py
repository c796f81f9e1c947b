"""Budgets relative to a profile: the same registered experiment with more steps or wider
networks, and the learning curves that size ``quick``.

A :class:`Budget` multiplies a profile's steps and conv widths, nothing else, so the
comparison a chapter makes is the same at every budget (``Budget(4, 2)`` at ``quick`` is
1600 steps at widths x 1/2). :func:`learning_curves` trains a few arms over a grid of budgets
and reads each cell with the learning gate (:mod:`bngan.evidence.learning`); :mod:`bngan.evidence.ledger`'s
scale check reruns the advice's comparisons at one larger budget.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..config import ExperimentConfig
from ..profiles import Profile, get_profile
from ..catalog.registry import config_at
from ..runs.runsets import RunSet, run_experiment
from .learning import Learning, arm_learning
from .prose import slug
from .tables import TextTable, significant


@dataclass(frozen=True)
class Budget:
    """A profile's steps times ``steps``, its conv widths times ``width``."""

    steps: float = 1.0
    width: float = 1.0

    def __post_init__(self) -> None:
        for name in ("steps", "width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"Budget.{name} must be a positive number (a factor on the profile's {name}); "
                                 f"got {value!r}")

    @property
    def is_profile(self) -> bool:
        return self.steps == 1 and self.width == 1

    def apply(self, profile: str | Profile | None = None) -> Profile:
        """The profile with this budget's steps (image and toy) and width scale."""
        p = get_profile(profile)
        return p.with_overrides(steps=max(1, round(p.steps * self.steps)),
                                toy_steps=max(1, round(p.toy_steps * self.steps)), width_scale=p.width_scale * self.width)

    def tag(self) -> str:
        """A short name: ``4x steps, 2x width``; the profile itself is ``as profiled``."""
        if self.is_profile:
            return "as profiled"
        parts = [f"{significant(v)}x {what}" for v, what in ((self.steps, "steps"), (self.width, "width")) if v != 1]
        return ", ".join(parts)


def at_budget(name: str, budget: Budget, profile: str | Profile | None = None) -> ExperimentConfig:
    """The registered experiment ``name`` at ``budget`` on ``profile``, as the chapters run it
    (:func:`bngan.experiments.for_profile`; at ``smoke`` the networks stay narrow). At the
    profile's own budget it is the chapter's config, same hash and same cached runs; any
    other budget gets the tag in its name, so the run folders say which budget they hold."""
    config = config_at(name, budget.apply(profile))
    if budget.is_profile:
        return config
    return config.vary(name=f"{name} @ {budget.tag()}")


#: The budgets of the curves: steps x1 to x8 of ``quick``'s first 400 at its width, and x1 at
#: twice the width. Chapter 8's series trains ``wn_steps_factor`` (4) times the profile's steps,
#: so its arms reach the same step counts with budgets a quarter of these.
CURVE_BUDGETS: tuple[Budget, ...] = (Budget(1, 1), Budget(2, 1), Budget(4, 1), Budget(8, 1), Budget(1, 2))
WN_CURVE_BUDGETS: tuple[Budget, ...] = tuple(Budget(b.steps / 4, b.width) for b in CURVE_BUDGETS)
#: The arms the curves follow, each with its budgets: the two that did not learn at the first
#: ``quick`` (no BN at Table II's batch 128, chapters 3 and 5; the vanilla Radford DCGAN,
#: chapter 8), each beside an arm of the same set-up with BN, which learned. A batch-128 run
#: costs about ten of the Radford's, so those arms stop at 4x steps.
CURVE_PLAN: dict[str, tuple[str, tuple[Budget, ...]]] = {
    "no BN, batch 128 (ch. 3, 5)": ("onesided:separate-none", CURVE_BUDGETS[:3] + CURVE_BUDGETS[4:]),
    "BN in both, batch 128 (ch. 3, 5)": ("onesided:separate-both", CURVE_BUDGETS[:3] + CURVE_BUDGETS[4:]),
    "vanilla Radford (ch. 8)": ("wn:vanilla", WN_CURVE_BUDGETS),
    "BN Radford (ch. 8)": ("wn:bn", WN_CURVE_BUDGETS),
}
CURVE_SEEDS: tuple[int, ...] = (0, 1, 2)


@dataclass(frozen=True)
class CurvePoint:
    """One arm at one budget: its seeds' FID and classes covered, and the gate's reading."""

    arm: str
    budget: Budget
    steps: int
    width_scale: float
    fid: np.ndarray
    classes: np.ndarray
    learning: Learning | None
    experiment: str = ""

    @property
    def learned(self) -> bool:
        return bool(self.learning and self.learning.learned)


def learning_curves(plan: Mapping[str, tuple[str, Sequence[Budget]]] | None = None, *,
                    profile: str | Profile | None = None, seeds: Iterable[int] = CURVE_SEEDS, root=None,
                    device=None, progress: bool = True) -> list[CurvePoint]:
    """Train (or load) every arm of ``plan`` (label -> (registered experiment, budgets);
    default :data:`CURVE_PLAN`) at each of its budgets, the cheapest cells first (steps x
    width squared), and read each with the gate at the profile's own threshold. Points come
    back in the plan's order."""
    plan = dict(CURVE_PLAN if plan is None else plan)
    seeds = list(seeds)
    cells = [(label, name, budget) for label, (name, budgets) in plan.items() for budget in budgets]
    found = {}
    for label, name, budget in sorted(cells, key=lambda c: c[2].steps * c[2].width ** 2):
        config = at_budget(name, budget, profile)
        results = run_experiment(config, seeds=seeds, root=root, device=device, progress=progress,
                                 label=f"{label} @ {budget.tag()}")
        found[(label, budget)] = _point(label, budget, results, name)
    return [found[(label, budget)] for label, _, budget in cells]


def _point(label: str, budget: Budget, results: RunSet, experiment: str = "") -> CurvePoint:
    c = results.config
    return CurvePoint(arm=label, budget=budget, steps=c.train.steps, width_scale=_width_of(c),
                      fid=results.values("fid"), classes=results.values("classes_covered"),
                      learning=arm_learning(results), experiment=experiment)


def _width_of(config: ExperimentConfig) -> float:
    """The config's widest conv layer, the number of filters the curves plot against."""
    m = config.model
    return float(m.width if m.arch == "radford" else max(m.g_filters + m.d_filters))


def curve_table(points: Sequence[CurvePoint]) -> TextTable:
    """One row per arm and budget: steps, widest layer, FID and classes covered (mean ± std
    over seeds) and the gate's reading."""
    header = ["arm", "budget", "steps", "filters", "FID", "classes", "learned"]
    rows = []
    for p in points:
        rows.append([p.arm, p.budget.tag(), str(p.steps), f"{p.width_scale:.0f}", _mean_std(p.fid),
                     _mean_std(p.classes),
                     f"{p.learning.learned_seeds}/{p.learning.completed}" if p.learning else "n/a"])
    return TextTable(header, rows)


def _mean_std(values: np.ndarray) -> str:
    values = values[~np.isnan(values)]
    if not values.size:
        return "n/a"
    spread = float(np.std(values, ddof=1)) if values.size > 1 else 0.0
    return f"{significant(float(values.mean()), 4)} ± {significant(spread, 2)}"


def smallest_learning_budget(points: Sequence[CurvePoint], arm: str) -> CurvePoint | None:
    """The cheapest budget (fewest steps x filters) at which ``arm`` learned, or ``None``."""
    learned = [p for p in points if p.arm == arm and p.learned]
    return min(learned, key=lambda p: (p.steps * p.width_scale ** 2, p.steps), default=None)


def curve_plan(profile: str | Profile | None = None) -> dict[str, tuple[str, tuple[Budget, ...]]]:
    """:data:`CURVE_PLAN`, or at ``smoke`` (CI: it only proves the page runs) each arm's two
    cheapest budgets."""
    if get_profile(profile).name != "smoke":
        return dict(CURVE_PLAN)
    return {label: (name, budgets[:2]) for label, (name, budgets) in CURVE_PLAN.items()}


def curve_seeds(profile: str | Profile | None = None) -> tuple[int, ...]:
    """The curves' seeds: :data:`CURVE_SEEDS`, or the profile's own at ``smoke`` (CI)."""
    p = get_profile(profile)
    return tuple(p.seeds) if p.name == "smoke" else CURVE_SEEDS


def curve_values(points: Sequence[CurvePoint]) -> dict[str, str]:
    """Text for a page's prose, by key ``<experiment>.<budget>.<what>`` (slugs of the registered
    name, or of the arm's label, and of the budget's tag): ``fid`` and ``classes`` (mean ± std),
    ``learned`` (``2 of 3``), and per arm ``<experiment>.smallest``, the cheapest budget at which
    it learned (``none of these budgets`` if none)."""
    values = {}
    for p in points:
        key = f"{slug(p.experiment or p.arm)}.{slug(p.budget.tag())}"
        values[f"{key}.fid"] = _mean_std(p.fid)
        values[f"{key}.classes"] = _mean_std(p.classes)
        values[f"{key}.learned"] = (f"{p.learning.learned_seeds} of {p.learning.completed}" if p.learning
                                    else "n/a")
    for arm, experiment in dict.fromkeys((p.arm, p.experiment) for p in points):
        best = smallest_learning_budget(points, arm)
        values[f"{slug(experiment or arm)}.smallest"] = (f"{best.steps} steps at {best.width_scale:.0f} filters"
                                                         if best else "none of these budgets")
    return values
