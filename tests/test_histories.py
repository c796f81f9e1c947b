"""The loss-curve overlap of chapter 5 (bngan.histories) on constructed histories."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from bngan.histories import add_loss_overlap, loss_bands, loss_gap, loss_overlap


def noisy(mean: float, width: float, n: int = 200, seed: int = 0) -> np.ndarray:
    return mean + width * np.random.default_rng(seed).uniform(-1, 1, n)


def test_bands_are_running_min_and_max():
    low, high = loss_bands([0, 5, 1, 3, 2], window=3)
    np.testing.assert_array_equal(low, [0, 0, 1, 1, 2])
    np.testing.assert_array_equal(high, [5, 5, 5, 3, 3])
    low, high = loss_bands([0, 5, 1, 3], window=2)  # even window: the point and the next one
    np.testing.assert_array_equal(low, [0, 1, 1, 3])
    np.testing.assert_array_equal(high, [5, 5, 3, 3])


def test_identical_curves_overlap_fully():
    d = noisy(0.7, 0.2)
    assert loss_overlap(d, d) == pytest.approx(1.0)
    assert loss_gap(d, d) == 0.0
    assert loss_overlap(np.ones(10), np.ones(10)) == 1.0  # zero-width bands, equal curves


def test_separated_curves_do_not_overlap():
    d, g = noisy(0.5, 0.1, seed=1), noisy(2.0, 0.1, seed=2)
    assert loss_overlap(d, g) == 0.0
    assert loss_gap(d, g) == pytest.approx(1.5, abs=0.05)
    assert loss_overlap(np.zeros(10), np.ones(10)) == 0.0  # zero-width bands, different curves


def test_overlap_is_symmetric_and_between_zero_and_one():
    d, g = noisy(0.7, 0.3, seed=3), noisy(0.9, 0.3, seed=4)
    value = loss_overlap(d, g)
    assert 0.0 < value < 1.0
    assert loss_overlap(g, d) == pytest.approx(value)
    assert loss_gap(g, d) == pytest.approx(loss_gap(d, g))


def test_overlap_falls_as_curves_part_and_rises_with_noise():
    d = noisy(0.7, 0.2, seed=5)
    overlaps = [loss_overlap(d, noisy(0.7 + shift, 0.2, seed=6)) for shift in (0.0, 0.1, 0.2, 0.3, 0.5)]
    assert all(a > b for a, b in zip(overlaps, overlaps[1:]))
    # same distance between the means: noisier curves overlap more, and their gap stays the same
    quiet = loss_overlap(noisy(0.7, 0.05, seed=7), noisy(0.9, 0.05, seed=8))
    loud = loss_overlap(noisy(0.7, 0.3, seed=7), noisy(0.9, 0.3, seed=8))
    assert quiet < loud
    assert loss_gap(noisy(0.7, 0.05, seed=7), noisy(0.9, 0.05, seed=8)) == pytest.approx(0.2, abs=0.02)


def test_overlap_counts_the_part_of_the_run_where_curves_meet():
    # the curves share their band in the first half and are far apart in the second: the shared area is
    # about half of one curve's area, the union about one and a half (1/3), less at the jump between halves
    d = np.concatenate([noisy(0.7, 0.1, 100, seed=9), noisy(0.5, 0.1, 100, seed=10)])
    g = np.concatenate([d[:100], noisy(3.0, 0.1, 100, seed=11)])
    value = loss_overlap(d, g)
    assert 0.2 < value < 0.4


@pytest.mark.parametrize("window", [0, 1, 2.5, True, "5"])
def test_bad_window_is_refused(window):
    with pytest.raises(ValueError, match="^window must be an integer >= 2"):
        loss_overlap([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], window=window)


def test_bad_curves_are_refused():
    with pytest.raises(ValueError, match="same length"):
        loss_overlap([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="empty"):
        loss_gap([], [])
    with pytest.raises(ValueError, match="finite"):
        loss_overlap([1.0, float("nan")], [1.0, 2.0])


def test_add_loss_overlap_records_metrics_of_completed_runs():
    d, g = noisy(0.7, 0.2, seed=12), noisy(0.9, 0.2, seed=13)
    done = SimpleNamespace(history={"loss_d": d, "loss_g": g}, metrics={})
    gone = SimpleNamespace(history={"loss_d": np.array([np.nan]), "loss_g": np.array([np.nan])}, metrics={})
    rs = SimpleNamespace(completed=[done], runs=[done, gone])
    assert add_loss_overlap({"a": rs}, window=4) == {"a": rs}
    assert done.metrics["loss_overlap"] == pytest.approx(loss_overlap(d, g, 4))
    assert done.metrics["loss_gap"] == pytest.approx(loss_gap(d, g, 4))
    assert gone.metrics == {}
    add_loss_overlap(rs)  # a single RunSet
    assert done.metrics["loss_overlap"] == pytest.approx(loss_overlap(d, g))
