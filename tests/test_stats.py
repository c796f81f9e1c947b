"""The comparison a verdict rests on: its false-positive rate is what it claims (calibrated by
simulation), its arithmetic is Welch's, and the equivalence, non-superiority and multiplicity
readings decide the cases they are for."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from bngan import stats

TRIALS = 2000


def null_rate(decides, n: int, draw, *, trials: int = TRIALS, seed: int = 0) -> float:
    """The share of ``trials`` comparisons of two arms of ``n`` seeds drawn from the same
    distribution that ``decides`` (a function of the two arms) calls a difference."""
    rng = np.random.default_rng(seed)
    return float(np.mean([decides(draw(rng, n), draw(rng, n)) for _ in range(trials)]))


def normal(rng, n):
    return rng.normal(240.0, 15.0, n)  # FID-like: chapter 1's baseline mean and spread


def skewed(rng, n):
    return 200.0 + 40.0 * rng.lognormal(0.0, 1.0, n)  # a long right tail, as runs that half-collapse give


def welch_decides(a, b) -> bool:
    low, high = stats.Welch.of(a, b).interval()
    return bool(low > 0 or high < 0)


def bootstrap_decides(a, b) -> bool:
    _, low, high = stats.bootstrap_difference(a, b, n_boot=1000)
    return bool(low > 0 or high < 0)


@pytest.mark.parametrize("n", [3, 5, 8])
def test_welch_calls_identical_normal_settings_different_about_5_percent_of_the_time(n):
    assert 0.03 <= null_rate(welch_decides, n, normal) <= 0.07


@pytest.mark.parametrize("n", [3, 5, 8])
def test_welch_stays_at_or_below_its_level_on_skewed_values(n):
    """Measured with these draws: 1.7% at n = 3, 1.9% at 5, 2.0% at 8 (conservative: the long
    tail inflates the spread more than the difference). The normal case measures 3.2%, 4.5%
    and 4.7%; the percentile bootstrap 21%, 12% and 8.6%."""
    assert null_rate(welch_decides, n, skewed) <= 0.07


def test_the_percentile_bootstrap_fails_the_calibration_at_3_and_5_seeds():
    """Why compare no longer decides with it: the same simulation as Welch's."""
    assert null_rate(bootstrap_decides, 3, normal, trials=1000) > 0.12
    assert null_rate(bootstrap_decides, 5, normal, trials=1000) > 0.07


def test_welch_matches_scipy_and_its_interval_inverts_its_p_value():
    a, b = [10.0, 12.0, 11.0, 15.0], [5.0, 9.0, 6.0]
    w = stats.Welch.of(a, b)
    reference = scipy_stats.ttest_ind(b, a, equal_var=False)
    assert w.p_value == pytest.approx(reference.pvalue, rel=1e-10)
    assert w.difference / w.se == pytest.approx(reference.statistic, rel=1e-10)
    # the (1 - p) interval just touches zero
    low, high = w.interval(1 - w.p_value)
    assert high == pytest.approx(0.0, abs=1e-9)
    (low95, high95), (low80, high80) = w.interval(0.95), w.interval(0.80)
    assert low95 < low80 < high80 < high95  # a higher level is a wider interval


def test_the_interval_is_95_percent_not_another_level():
    w = stats.Welch.of([10.0, 12.0, 11.0], [5.0, 9.0, 6.0])
    c = stats.compare(stats.Measured("a", {"fid": dict(enumerate([10.0, 12.0, 11.0]))}),
                      stats.Measured("b", {"fid": dict(enumerate([5.0, 9.0, 6.0]))}), "fid")
    half = scipy_stats.t.ppf(0.975, w.df) * w.se
    assert (c.low, c.high) == pytest.approx((w.difference - half, w.difference + half))


def test_missable_is_the_difference_found_80_percent_of_the_time():
    """At the difference it reports, the simulated power of Welch's test is about 80%."""
    rng = np.random.default_rng(1)
    sd, n = 1.0, 5
    # missable from the expected standard error (the average over many designs)
    typical = np.median([stats.Welch.of(rng.normal(0, sd, n), rng.normal(0, sd, n)).missable() for _ in range(2000)])
    hits = np.mean([welch_decides(rng.normal(0, sd, n), rng.normal(typical, sd, n)) for _ in range(TRIALS)])
    assert 0.65 <= hits <= 0.9
    assert stats.Welch.of([1.0, 2.0], [1.0, 2.0]).missable() > stats.Welch.of([1, 2, 1, 2, 1, 2], [1, 2, 1, 2, 1, 2]).missable()


def measured(a, b, metric="fid"):
    return (stats.Measured("a", {metric: dict(enumerate(a))}), stats.Measured("b", {metric: dict(enumerate(b))}))


def test_equivalence_needs_the_90_percent_interval_inside_the_margin():
    tight = stats.compare(*measured([100, 101, 99, 100, 100], [100.5, 101, 100, 100.5, 99.5]), "fid")
    assert tight.equivalence(5.0) == "equivalent"
    assert tight.equivalence(0.1) == "inconclusive"
    wide = stats.compare(*measured([100, 130, 70], [110, 140, 80]), "fid")
    assert not wide.detectable and wide.equivalence(5.0) == "inconclusive"  # straddling zero is not "the same"
    apart = stats.compare(*measured([100, 101, 99], [120, 121, 119]), "fid")
    assert apart.equivalence(5.0) == "different"
    # real, but the interval reaches inside the margin: its size is unresolved, not "different"
    near = stats.compare(*measured([100, 102, 98, 101, 99], [106, 109, 104, 107, 105]), "fid")
    assert near.detectable and near.low < 5.0 and near.equivalence(5.0) == "inconclusive"
    # the lower bound counts too: an interval below -margin is as different as one above
    below = stats.compare(*measured([120, 121, 119], [100, 101, 99]), "fid")
    assert below.equivalence(5.0) == "different"
    assert stats.compare(*measured([100, 101, 99, 100], [96, 97, 95, 96]), "fid").equivalence(5.0) == "inconclusive"
    with pytest.raises(ValueError, match="margin must be a positive number"):
        tight.equivalence(0)


def test_equivalence_at_the_margin_is_claimed_about_5_percent_of_the_time():
    """TOST's own error rate: true difference exactly at the margin, n = 5."""
    rng = np.random.default_rng(2)
    margin = 10.0

    def says_equivalent(a, b):
        c = stats.compare(*measured(a, b + margin), "fid")
        return c.equivalence(margin) == "equivalent"

    rate = np.mean([says_equivalent(rng.normal(0, 5, 5), rng.normal(0, 5, 5)) for _ in range(1000)])
    assert rate <= 0.07


def test_no_better_reads_the_gain_in_the_metric_direction():
    worse = stats.compare(*measured([100, 101, 99, 100], [110, 111, 109, 110]), "fid")
    assert worse.no_better(5.0) == "no better"
    better = stats.compare(*measured([100, 101, 99, 100], [90, 91, 89, 90]), "fid")
    assert better.no_better(5.0) == "better"
    # a real gain shown smaller than the margin is "no better": the claim is about gains that matter
    small_gain = stats.compare(*measured([100, 101, 99, 100, 100], [98, 99, 97, 98, 98]), "fid")
    assert small_gain.detectable and small_gain.no_better(5.0) == "no better"
    # a real gain that may or may not reach the margin is not resolved
    unresolved = stats.compare(*measured([100, 102, 98, 101, 99], [94, 97, 92, 96, 95]), "fid")
    assert unresolved.detectable and unresolved.no_better(5.0) == "inconclusive"
    noisy = stats.compare(*measured([100, 130, 70], [100, 130, 70]), "fid")
    assert noisy.no_better(5.0) == "inconclusive"
    higher = stats.compare(*measured([1, 2, 1, 2], [8, 9, 8, 9], "classes_covered"), "classes_covered",
                           lower_is_better=False)
    assert higher.no_better(1.0) == "better"


@pytest.mark.parametrize("p, expected", [
    ([0.01, 0.04, 0.03, 0.005], [True, False, False, True]),  # 0.005 < .0125, 0.01 < .0167, 0.03 > .025 stops
    ([0.001, 0.2, float("nan")], [True, False, False]),
    ([0.03, 0.03], [False, False]),  # 0.03 > 0.025 at the first step
    ([0.01, 0.02], [True, True]),  # 0.01 < 0.025, then 0.02 < 0.05
])
def test_holm_steps_down_and_stops_at_the_first_failure(p, expected):
    assert stats.holm(p) == expected


def test_wins_count_strict_improvements_and_ties_separately():
    c = stats.compare(*measured([10, 11, 12], [9, 11, 13]), "fid")
    assert (c.wins_b, c.ties, c.n_paired) == (1, 1, 3)


def test_one_seed_is_not_enough_to_compare():
    c = stats.compare(*measured([10.0], [1.0, 2.0]), "fid")
    assert np.isnan(c.low) and c.verdict == "not enough completed seeds to compare"
    two = stats.compare(*measured([10.0, 11.0], [1.0, 2.0]), "fid")
    assert np.isfinite(two.low)


def test_identical_constant_arms_are_not_different_and_constant_different_arms_are():
    same = stats.compare(*measured([5.0, 5.0, 5.0], [5.0, 5.0, 5.0]), "fid")
    assert not same.detectable and same.p_value == 1.0 and same.equivalence(0.1) == "equivalent"
    # class counts at their ceiling: no spread, so Welch would say p = 0 for any gap; the exact
    # permutation test gives 2 / C(10, 5) at 5 and 5 seeds and 2 / C(6, 3) at 3 and 3
    apart = stats.compare(*measured([10.0] * 5, [9.0] * 5, "classes_covered"), "classes_covered",
                          lower_is_better=False)
    assert apart.detectable and apart.p_value == pytest.approx(2 / 252)
    few = stats.compare(*measured([5.0, 5.0, 5.0], [6.0, 6.0, 6.0]), "fid")
    assert not few.detectable and few.p_value == pytest.approx(0.1)
    perm = scipy_stats.permutation_test(([10.0] * 5, [9.0] * 5), lambda x, y: np.mean(x) - np.mean(y),
                                        permutation_type="independent", n_resamples=np.inf)
    assert apart.p_value == pytest.approx(perm.pvalue)


def test_comparison_table_has_a_row_per_comparison_with_its_interval_and_reading():
    c = stats.compare(*measured([10, 11, 12], [1, 2, 3]), "fid")
    table = stats.comparison_table([c, c])
    assert len(table.rows) == 2
    row = table.rows[0]
    assert row[0] == "b vs a: fid (lower is better)"
    assert row[1] == f"{c.difference:+.3g} [{c.low:+.3g}, {c.high:+.3g}]" and row[2] == f"{c.p_value:.2g}"
    assert row[3] == "3/3" and row[4] == "b is better"
    assert "white-space: normal" in table._repr_html_()  # the reading wraps on the page


# --------------------------------------------------------------------------- interactions


def interaction_null_rate(n: int, spreads=(0.15, 0.15, 0.15, 0.15), trials: int = TRIALS) -> float:
    """How often an interaction is called when the change has the same factor (0.8) in two
    conditions whose metric has different scales (100 and 400), with log-normal spread per arm."""
    rng = np.random.default_rng(1)
    found = 0
    for _ in range(trials):
        arms = [stats.Measured(f"arm{k}", {"fid": dict(enumerate(scale * np.exp(rng.normal(0.0, sd, n))))})
                for k, (scale, sd) in enumerate(zip((100.0, 80.0, 400.0, 320.0), spreads))]
        found += stats.interaction(*arms, "fid").detectable
    return found / trials


@pytest.mark.parametrize("n", [3, 5, 8])
def test_an_interaction_is_called_at_most_about_5_percent_of_the_time_when_there_is_none(n):
    """Measured with these draws: 3.6%, 4.4%, 4.4% at 3, 5, 8 seeds with equal spreads (Welch-
    Satterthwaite over four arms is a little conservative at 3), and 4.0%, 4.6%, 5.2% with
    unequal spreads."""
    assert 0.02 <= interaction_null_rate(n) <= 0.07
    assert interaction_null_rate(n, spreads=(0.05, 0.3, 0.1, 0.2), trials=1000) <= 0.07


def test_an_interaction_is_the_difference_of_log_ratios_and_finds_a_real_one():
    def arm(label, values):
        return stats.Measured(label, {"fid": dict(enumerate(values))})

    a1, b1 = arm("k3, 16 px", [100.0, 110.0, 90.0]), arm("k5, 16 px", [90.0, 99.0, 81.0])  # x 0.9
    a2, b2 = arm("k3, 32 px", [400.0, 440.0, 360.0]), arm("k5, 32 px", [200.0, 220.0, 180.0])  # x 0.5
    c = stats.interaction(a1, b1, a2, b2, "fid")
    assert c.mean_a == pytest.approx(np.log(0.9)) and c.mean_b == pytest.approx(np.log(0.5))
    assert c.difference == pytest.approx(np.log(0.5) - np.log(0.9))
    assert c.detectable and c.high < 0 and c.n_paired == 0
    assert c.a == "k5, 16 px / k3, 16 px" and c.metric == "log fid ratio"
    assert c.verdict == "the change's factor is smaller in k5, 32 px / k3, 32 px (×0.5 against ×0.9)"
    row, = stats.comparison_table([c]).rows
    assert row[3] == "—"  # no seed is paired, so no "0/0"
    with pytest.raises(ValueError, match="metric must be positive"):
        stats.interaction(a1, b1, a2, arm("zero", [0.0, 1.0, 2.0]), "fid")


def test_a_combination_of_two_groups_is_welch():
    a, b = [1.0, 2.0, 4.0], [3.0, 5.0, 9.0, 10.0]
    assert stats.Welch.combination([a, b], [-1.0, 1.0]) == stats.Welch.of(a, b)
    with pytest.raises(ValueError, match="one weight per group"):
        stats.Welch.combination([a, b], [1.0])


@pytest.mark.parametrize("share", [0.5, 0.7, 0.9])
def test_a_difference_inside_the_margin_is_rarely_called_different(share):
    """At 5 seeds, margin one seed spread, true difference 0.5-0.9 of the margin: "different"
    (a "same" claim's *not reproduced*) at most 5% of the time. The old rule (95% interval
    excludes zero) said it 20-60% of the time here."""
    rng = np.random.default_rng(7)
    sd = margin = 15.0

    def different(a, b):
        return stats.compare(*measured(a, b + share * margin), "fid").equivalence(margin) == "different"

    assert np.mean([different(rng.normal(240, sd, 5), rng.normal(240, sd, 5)) for _ in range(TRIALS)]) <= 0.05


@pytest.mark.parametrize("share", [0.5, 0.7, 0.9])
def test_a_gain_inside_the_margin_is_rarely_called_better(share):
    """Non-superiority read both ways: a true gain of 0.5-0.9 of the margin reads "better" (a
    "futile" claim's *reversed*) at most 5% of the time at 5 seeds."""
    rng = np.random.default_rng(8)
    sd = margin = 15.0

    def better(a, b):
        return stats.compare(*measured(a, b - share * margin), "fid").no_better(margin) == "better"

    assert np.mean([better(rng.normal(240, sd, 5), rng.normal(240, sd, 5)) for _ in range(TRIALS)]) <= 0.05


def test_the_equivalence_p_value_is_below_5_percent_exactly_when_equivalent():
    rng = np.random.default_rng(3)
    for _ in range(200):
        c = stats.compare(*measured(rng.normal(0, 1, 5), rng.normal(0.3, 1, 6)), "fid")
        assert (c.equivalence_p(1.5) < 0.05) == (c.equivalence(1.5) == "equivalent")


def test_seeds_for_equivalence_give_about_80_percent_power():
    """At the seeds it asks for, TOST shows equivalence of identical settings about 80% of the
    time; at 5 seeds with a margin of one spread, about 5% (why the pilot cannot succeed)."""
    rng = np.random.default_rng(4)
    sd = margin = 1.0
    n = stats.seeds_for_equivalence(sd, margin)
    assert 12 <= n <= 20

    def success(k):
        return np.mean([stats.compare(*measured(rng.normal(0, sd, k), rng.normal(0, sd, k)), "fid")
                        .equivalence(margin) == "equivalent" for _ in range(1000)])

    assert 0.72 <= success(n) <= 0.9
    assert success(5) <= 0.12
    assert stats.seeds_for_equivalence(sd, margin, difference=0.5) > n
    with pytest.raises(ValueError, match="margin"):
        stats.seeds_for_equivalence(1.0, 0.5, difference=0.6)


def test_the_relative_interval_stays_above_minus_100_percent_and_covers_the_ratio():
    """Row 8.1 once showed -132%: a difference over the baseline's mean has no floor. On the log
    of the ratio it does, and it covers the true ratio about 95% of the time at 8 seeds."""
    wide = stats.compare(*measured([0.02, 0.05, 0.01, 0.04, 0.03], [0.004, 0.02, 0.001, 0.012, 0.008]), "fid")
    rel, low, high = wide.relative_interval()
    assert -1.0 < low < rel < high and wide.low / wide.mean_a < -1.0  # the old reading: an impossible share
    rng = np.random.default_rng(5)
    truth = 0.9 - 1.0
    hits = []
    for _ in range(1000):
        a, b = rng.normal(100, 8, 8), rng.normal(90, 8, 8)
        _, lo, hi = stats.compare(*measured(a, b), "fid").relative_interval()
        hits.append(lo <= truth <= hi)
    assert 0.92 <= np.mean(hits) <= 0.975


def test_fiellers_interval_agrees_with_welchs_test_and_covers_the_ratio():
    """The share a change makes of its baseline: its interval excludes 0% exactly when Welch's
    test rejects (the two are one inequality at a ratio of 1), covers the true ratio about 95% of
    the time at 5 seeds, and is unbounded when the baseline's mean is not distinguishable from 0."""
    rng = np.random.default_rng(11)
    hits, agree = [], []
    for _ in range(1000):
        a, b = rng.normal(100, 15, 5), rng.normal(85, 15, 5)
        c = stats.compare(*measured(a, b), "fid")
        _, lo, hi = c.fieller_interval()
        hits.append(lo <= -0.15 <= hi)
        agree.append((hi < 0 or lo > 0) == c.detectable)
    assert all(agree) and 0.93 <= np.mean(hits) <= 0.97
    wide = stats.compare(*measured([0.02, 0.05, 0.01, 0.04, 0.03], [0.004, 0.02, 0.001, 0.012, 0.008]), "fid")
    change, lo, hi = wide.fieller_interval()
    assert change == pytest.approx(wide.mean_b / wide.mean_a - 1) and -1.0 < lo < change < hi < 0
    assert wide.low / wide.mean_a < -1.0  # the difference over a's mean passed -100%; Fieller does not here
    near_zero = stats.compare(*measured([-1.0, 2.0, 0.5, -0.5, 1.0], [3.0, 4.0, 5.0, 3.5, 4.5]), "fid")
    assert near_zero.fieller_interval()[1:] == (-np.inf, np.inf)


def shared_baseline_family(rng, n, effects):
    """A ledger-like family: checks share baselines (three treatments against one baseline, as
    chapter 1's arms do), each check's treatment shifted by its effect in spreads."""
    p_values = []
    for start in range(0, len(effects), 3):
        base = rng.normal(0, 1, n)
        for effect in effects[start:start + 3]:
            p_values.append(stats.Welch.of(base, rng.normal(effect, 1, n)).p_value)
    return p_values


def test_benjamini_hochberg_keeps_the_false_discovery_rate_with_shared_baselines():
    """The book's correction at the seeds used: 54 checks of 5 seeds, baselines shared by three
    checks. Under the global null it declares anything at most ~5% of the time; with 20 real
    effects among 54, at most 5% of its discoveries are false on average."""
    rng = np.random.default_rng(6)
    null = np.zeros(54)
    any_false = np.mean([any(stats.benjamini_hochberg(shared_baseline_family(rng, 5, null)))
                         for _ in range(1000)])
    assert any_false <= 0.065
    effects = np.array([2.5] * 20 + [0.0] * 34)
    shares = []
    for _ in range(500):
        found = np.array(stats.benjamini_hochberg(shared_baseline_family(rng, 5, effects)))
        shares.append(found[20:].sum() / max(found.sum(), 1))
    assert np.mean(shares) <= 0.05
    assert stats.benjamini_hochberg([0.001, 0.2, float("nan")]) == [True, False, False]
    assert stats.benjamini_hochberg([0.03, 0.04]) == [True, True]  # BH, where Holm would keep neither
    assert stats.holm([0.03, 0.04]) == [False, False]


def test_equivalence_uses_the_90_percent_interval_and_both_bounds():
    """Deliberate bugs the readings must catch: TOST read on the 95% interval (too strict), and an
    equivalence that checks only the upper bound."""
    c = stats.compare(*measured([100, 103, 97, 101, 99], [101, 104, 98, 102, 100]), "fid")
    (low90, high90), (low95, high95) = c.interval(0.90), c.interval(0.95)
    margin = (max(abs(low90), abs(high90)) + max(abs(low95), abs(high95))) / 2  # inside at 90%, not at 95%
    assert max(abs(low95), abs(high95)) > margin > max(abs(low90), abs(high90))
    assert c.equivalence(margin) == "equivalent"
    lopsided = stats.compare(*measured([100, 103, 97, 101, 99], [90, 93, 87, 91, 89]), "fid")
    assert lopsided.interval(0.90)[1] < 5.0 and lopsided.equivalence(5.0) != "equivalent"


def test_non_superiority_uses_the_one_sided_95_percent_bound():
    """The most b could gain is the one-sided 95% bound (the 90% two-sided interval's end); read
    on the two-sided 95% interval it would be too strict."""
    c = stats.compare(*measured([100, 103, 97, 101, 99], [101, 104, 98, 102, 100]), "fid")
    one_sided, two_sided = -c.interval(0.90)[0], -c.interval(0.95)[0]
    margin = (one_sided + two_sided) / 2
    assert c.no_better(margin) == "no better"
