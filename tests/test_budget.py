"""Budgets relative to a profile and the learning curves built on them (smoke-sized runs)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bngan import budget, experiments, profiles
from bngan.budget import Budget


def test_budget_scales_steps_and_widths_only():
    quick = profiles.get_profile("quick")
    config = budget.at_budget("table2:7", Budget(4, 2), "quick")
    base = experiments.for_profile("table2:7", "quick")
    assert config.train.steps == 4 * quick.steps
    assert config.model.g_filters == tuple(2 * f for f in base.model.g_filters)
    assert config.model.d_filters == tuple(2 * f for f in base.model.d_filters)
    # nothing else moves: the comparison is the same at every budget
    assert config.vary(name=base.name, steps=base.train.steps, g_filters=base.model.g_filters,
                       d_filters=base.model.d_filters, width=base.model.width,
                       checkpoint_every=base.train.checkpoint_every).hash() == base.hash()


def test_profile_budget_is_the_chapter_config():
    assert budget.at_budget("wn:vanilla", Budget(), "quick") == experiments.for_profile("wn:vanilla", "quick")
    other = budget.at_budget("wn:vanilla", Budget(2), "quick")
    assert other.hash() != experiments.for_profile("wn:vanilla", "quick").hash()
    assert "2x steps" in other.name


@pytest.mark.parametrize("bad", [0, -1, True, "2"])
def test_budget_refuses_non_positive_factors(bad):
    with pytest.raises(ValueError, match="Budget.steps must be a positive number"):
        Budget(steps=bad)


def test_tags_name_what_changed():
    assert Budget().tag() == "as profiled"
    assert Budget(4, 2).tag() == "4x steps, 2x width"
    assert Budget(width=2).tag() == "2x width"


def test_learning_curves_read_each_cell_with_the_gate(tmp_path):
    plan = {"vanilla": ("wn:vanilla", (Budget(2), Budget(1)))}
    points = budget.learning_curves(plan, profile="smoke", seeds=[0, 1], root=tmp_path, progress=False)
    assert [(p.arm, p.steps) for p in points] == [("vanilla", 24), ("vanilla", 12)]  # the plan's order
    for p in points:
        assert p.fid.shape == (2,) and np.all(np.isfinite(p.fid))
        assert p.learning is not None and p.learning.completed == 2
        assert p.learned == (2 * int(np.sum(p.fid <= p.learning.threshold)) >= 2)
    table = str(budget.curve_table(points))
    assert "as profiled" in table and "2x steps" in table
    # cached: a second call trains nothing and reads the same numbers
    again = budget.learning_curves({"vanilla": ("wn:vanilla", (Budget(1),))}, profile="smoke", seeds=[0, 1],
                                   root=tmp_path, progress=False)
    np.testing.assert_array_equal(again[0].fid, points[1].fid)


def _point(arm, steps, width, learned_seeds):
    from bngan.learning import Learning

    return budget.CurvePoint(arm, Budget(steps / 400, width), steps, 32 * width, np.array([1.0, 2.0]),
                             np.array([3.0, 4.0]), Learning(arm, learned_seeds, 2, 100.0))


def test_smallest_learning_budget_prefers_the_cheapest_learned_cell():
    points = [_point("a", 400, 1, 0), _point("a", 1600, 1, 1), _point("a", 800, 2, 2), _point("a", 3200, 1, 2)]
    best = budget.smallest_learning_budget(points, "a")
    assert (best.steps, best.budget.width) == (1600, 1)  # 1600 x 32^2 < 800 x 64^2
    assert budget.smallest_learning_budget([_point("b", 400, 1, 0)], "b") is None


def test_learning_curves_plot(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from bngan import plots

    points = [_point("a", 400, 1, 0), _point("a", 1600, 1, 1), _point("a", 400, 2, 2)]
    fig = plots.learning_curves(points, threshold=100.0)
    assert len(fig.axes) == 2
    labels = fig.axes[1].get_legend_handles_labels()[1]
    assert "a" in labels and "a, 2x width" in labels


def test_curve_values_name_each_cell_and_the_cheapest_learned_budget():
    points = [_point("no BN", 400, 1, 0), _point("no BN", 1600, 1, 2)]
    values = budget.curve_values(points)  # keyed by the label's slug when no experiment is named
    assert values["no-bn.as-profiled.learned"] == "0 of 2"
    assert values["no-bn.4x-steps.learned"] == "2 of 2"
    assert values["no-bn.4x-steps.fid"] == "1.5 ± 0.71"
    assert values["no-bn.smallest"] == "1600 steps at 32 filters"
    assert budget.curve_values([_point("x", 400, 1, 0)])["x.smallest"] == "none of these budgets"
    named = dataclasses.replace(_point("x", 400, 1, 2), experiment="wn:vanilla")
    assert budget.curve_values([named])["wn-vanilla.as-profiled.learned"] == "2 of 2"


def test_curve_seeds_are_the_profiles_at_smoke_only():
    assert budget.curve_seeds("smoke") == tuple(profiles.get_profile("smoke").seeds)
    assert budget.curve_seeds("quick") == budget.CURVE_SEEDS


def test_the_curve_plan_is_short_at_smoke_only():
    assert budget.curve_plan("quick") == budget.CURVE_PLAN
    smoke = budget.curve_plan("smoke")
    assert all(budgets == budget.CURVE_PLAN[label][1][:2] for label, (_, budgets) in smoke.items())
