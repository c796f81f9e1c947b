"""The claims ledger: each check reads its comparison the way the chapter standard says, the
claims name registered experiments, and evaluation uses the runs the chapters would use."""

from __future__ import annotations

import re

import pytest

from bngan import experiments, ledger, stats
from bngan.profiles import get_profile


def result(a_values, b_values, expect, metric="fid"):
    """A check's result on made-up per-seed values (treatment b minus baseline a)."""
    check = ledger.Check("table2:1", "table2:2", metric, expect)
    a = stats.Measured("a", {metric: dict(enumerate(a_values))})
    b = stats.Measured("b", {metric: dict(enumerate(b_values))})
    return ledger.CheckResult(check, stats.compare(a, b, metric, lower_is_better=expect != "higher"))


@pytest.mark.parametrize("a, b, expect, outcome", [
    ([10, 11, 12], [1, 2, 3], "lower", "reproduced"),
    ([1, 2, 3], [10, 11, 12], "lower", "reversed"),
    ([1, 2, 3], [10, 11, 12], "higher", "reproduced"),
    ([10, 11, 12], [1, 2, 3], "higher", "reversed"),
    ([1, 5, 9], [2, 6, 8], "lower", "no detectable difference"),
    ([1, 5, 9], [2, 6, 8], "same", "reproduced"),
    ([1, 2, 3], [10, 11, 12], "same", "not reproduced"),
    ([1], [10, 11], "lower", "not enough seeds"),
])
def test_a_check_reads_its_interval_in_the_predicted_direction(a, b, expect, outcome):
    assert result(a, b, expect).outcome == outcome


def test_the_numbers_are_the_comparisons():
    r = result([10, 11, 12], [1, 2, 3], "lower")
    c = r.comparison
    assert "FID 11 → 2, −9 [" in r.numbers
    assert f"lower in {c.wins_b}/{c.n_paired} seeds" in r.numbers and c.wins_b == 3


def test_a_claim_with_mixed_checks_depends_on_the_conditions():
    good = result([10, 11, 12], [1, 2, 3], "lower")
    flat = result([1, 5, 9], [2, 6, 8], "lower")
    good = ledger.CheckResult(ledger.Check("a", "b", "fid", "lower", "combined routine"), good.comparison)
    flat = ledger.CheckResult(ledger.Check("a", "b", "fid", "lower", "separate routine"), flat.comparison)
    claim = ledger.Claim("0.1", "x", "s", 1, (good.check, flat.check))
    assert ledger.Verdict(claim, (good, flat)).verdict == (
        "depends: reproduced (combined routine); no detectable difference (separate routine)")
    assert ledger.Verdict(claim, (good, good)).verdict == "reproduced"
    assert ledger.Verdict(claim, (flat, flat)).verdict == "not reproduced (no detectable difference)"
    counts = ledger.tally([ledger.Verdict(claim, (good, flat)), ledger.Verdict(claim, (good,)),
                           ledger.Verdict(claim, (flat,))])
    assert counts == {"reproduced": 1, "not reproduced": 1, "depends": 1, "not enough seeds": 0}


def test_checks_refuse_unknown_expectations_and_metrics():
    with pytest.raises(ValueError, match="expect must be one of lower, higher, same"):
        ledger.Check("table2:1", "table2:2", "fid", "better")
    with pytest.raises(ValueError, match="metric must be one of"):
        ledger.Check("table2:1", "table2:2", "sharpness")


def test_every_claim_names_registered_experiments_and_a_chapter():
    keys = [c.key for c in ledger.CLAIMS]
    assert len(set(keys)) == len(keys)
    assert not set(keys) & {key for key, _, _ in ledger.ELSEWHERE}
    for claim in ledger.CLAIMS:
        assert claim.key.split(".")[0] == str(claim.chapter) and claim.checks
    for name in ledger.experiments_needed():
        experiments.get_experiment(name, "quick")  # raises for an unregistered name


def test_experiments_needed_keeps_the_most_seeds_any_check_asks_for():
    claims = (ledger.Claim("8.1", "x", "s", 8, (ledger.Check("wn:vanilla", "wn:wn", "recon_mse", seeds=8),
                                                 ledger.Check("wn:wn-relu", "wn:wn", "recon_mse", seeds=5))),)
    assert ledger.experiments_needed(claims) == {"wn:vanilla": 8, "wn:wn": 8, "wn:wn-relu": 5}
    quick = get_profile("quick")
    assert ledger._seeds(quick, False, 8) == tuple(range(8))
    assert ledger._seeds(quick, False, None) == quick.seeds
    assert ledger._seeds(get_profile("smoke"), False, 8) == get_profile("smoke").seeds


def test_for_profile_narrows_image_networks_at_smoke_only():
    assert experiments.for_profile("table2:7", "quick") == experiments.get_experiment("table2:7", "quick")
    smoke = experiments.for_profile("table2:7", "smoke")
    assert smoke.model.g_filters == (8, 8) and smoke.model.d_filters == (8, 8, 8, 8)
    assert experiments.for_profile("wn:wn", "smoke").model.width == experiments.SMOKE_WIDTH
    toy = experiments.get_experiment("blindspot:bn", "smoke")
    assert experiments.for_profile("blindspot:bn", "smoke") == toy


def test_evaluate_compares_the_runs_the_chapters_cache(tmp_path):
    claims = (ledger.Claim("7.3", "drift", "001", 7,
                           (ledger.Check("blindspot:no-bn-shift", "blindspot:bn-shift", "shift_x", "higher"),)),)
    verdict, = ledger.evaluate(claims, profile="smoke", root=tmp_path)
    # the same runs, loaded independently, compared directly
    a = experiments.run_experiment("blindspot:no-bn-shift", profile="smoke", root=tmp_path, progress=False)
    b = experiments.run_experiment("blindspot:bn-shift", profile="smoke", root=tmp_path, progress=False)
    assert all(r.origin == "cached" for r in a.runs + b.runs)
    direct = stats.compare(a, b, "shift_x", lower_is_better=False)
    assert verdict.results[0].comparison == direct
    row, = ledger.ledger_table([verdict]).rows
    assert row[0] == "7.3" and row[4] == verdict.verdict and row[5] == verdict.numbers
    assert "white-space: normal" in ledger.ledger_table([verdict])._repr_html_()


def test_evaluate_takes_explicit_seeds(tmp_path):
    claims = (ledger.Claim("7.5", "joint", "001", 7, (ledger.Check("blindspot:no-bn", "blindspot:bn-joint", "mmd",
                                                                    "higher"),)),)
    verdict, = ledger.evaluate(claims, profile="smoke", seeds=[3], root=tmp_path)
    assert verdict.verdict == "not enough seeds" and verdict.n_seeds == 1
    assert sorted(p.name.rsplit("seed", 1)[1] for p in tmp_path.iterdir()) == ["3", "3"]


class FakeRun:
    def __init__(self, recon, fid, classes, dataset="digits", size=16, steps=12):
        from types import SimpleNamespace as NS

        self.metrics = {"recon_mse": recon, "fid": fid, "classes_covered": classes}
        self.config = NS(data=NS(dataset=dataset, image_size=size, kind="image"), train=NS(steps=steps))


def test_agreement_ranks_the_profiles_finished_runs(monkeypatch):
    import bngan.runs

    runs = [FakeRun(r, f, c) for r, f, c in [(1, 10, 9), (2, 20, 9), (3, 30, 9), (4, 40, 2), (5, 35, 2)]]
    runs += [FakeRun(9, 0, 9, dataset="fashion-mnist"), FakeRun(9, 0, 9, steps=400)]  # other profiles: left out
    monkeypatch.setattr(bngan.runs, "finished_runs", lambda root, kind=None: runs)
    monkeypatch.setenv("BNGAN_DATASET", "digits")
    smoke = get_profile("smoke")
    rho, p, n = ledger._agreement(ledger.Agreement("recon_mse", "fid"), smoke, None)
    assert n == 5 and rho == pytest.approx(0.9)
    rho, p, n = ledger._agreement(ledger.Agreement("recon_mse", "fid", min_classes=5), smoke, None)
    assert n == 3 and rho == pytest.approx(1.0)
    check = ledger.CheckResult(ledger.Agreement("recon_mse", "fid"), correlation=(0.9, 0.037, 5))
    assert check.outcome == "reproduced"
    assert ledger.CheckResult(ledger.Agreement("recon_mse", "fid"), correlation=(0.9, 0.2, 5)).outcome == (
        "no detectable difference")
    assert ledger.CheckResult(ledger.Agreement("recon_mse", "fid"), correlation=(-0.9, 0.01, 5)).outcome == "reversed"
    assert re.search(r"rho \+0\.90 \(p 0\.037\).* over 5 runs", check.numbers)


def test_table2_table_puts_the_papers_report_next_to_the_numbers():
    config = experiments.get_experiment("table2:10", "smoke")
    rs = experiments.RunSet("#10", config, [])
    table = ledger.table2_table({10: rs}, ("fid",))
    row, = table.rows
    assert row[:7] == ("#10", "yes", "both", "5", "128", "combined", experiments.TABLE2_REPORTED[10])
    rs12 = experiments.RunSet("#12", experiments.get_experiment("table2:12", "smoke"), [])
    assert ledger.table2_table({12: rs12}, ("fid",)).rows[0][2] == "G (0.5)"
    with pytest.raises(ValueError, match="Table II ids"):
        ledger.table2_table({15: rs}, ("fid",))


def test_tally_table_counts_each_source_of_a_claim():
    good = result([10, 11, 12], [1, 2, 3], "lower")
    flat = result([1, 5, 9], [2, 6, 8], "lower")
    both = ledger.Claim("6.1", "x", f"{ledger.S000}; {ledger.S003}", 6, (good.check,))
    one = ledger.Claim("2.3", "y", ledger.S003, 2, (flat.check,))
    table = ledger.tally_table([ledger.Verdict(both, (good,)), ledger.Verdict(one, (flat,))])
    rows = {row[0]: row[1:] for row in table.rows}
    assert rows[ledger.S000] == ("1", "1", "0", "0", "0")
    assert rows[ledger.S003] == ("2", "1", "1", "0", "0")
    assert rows[ledger.S001] == ("0", "0", "0", "0", "0")
    assert rows["all claims"] == ("2", "1", "1", "0", "0")


def test_verdict_map_draws_each_claim_in_its_chapters_row_in_its_verdicts_colour():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.colors import to_hex

    from bngan import plots

    good = result([10, 11, 12], [1, 2, 3], "lower")
    flat = result([1, 5, 9], [2, 6, 8], "lower")
    verdicts = [ledger.Verdict(ledger.Claim("1.1", "a", "s", 1, (good.check,)), (good,)),
                ledger.Verdict(ledger.Claim("1.2", "b", "s", 1, (flat.check,)), (flat,)),
                ledger.Verdict(ledger.Claim("3.1", "c", "s", 3, (good.check, flat.check)), (good, flat))]
    fig = plots.verdict_map(verdicts)
    ax = fig.axes[0]
    squares = {t.get_text(): (p.get_xy(), to_hex(p.get_facecolor())) for t, p in zip(ax.texts, ax.patches)}
    assert squares["1.1"][1] == plots.VERDICT_COLOURS["reproduced"]
    assert squares["1.2"][1] == plots.VERDICT_COLOURS["not reproduced"]
    assert squares["3.1"][1] == plots.VERDICT_COLOURS["depends"]
    assert squares["1.1"][0][1] == squares["1.2"][0][1] != squares["3.1"][0][1]  # one row per chapter
    assert [t.get_text() for t in ax.get_yticklabels()] == ["chapter 1", "chapter 3"]
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_series_configs_are_the_registered_configs_as_the_profile_runs_them():
    smoke = experiments.series_configs("batch:images", "smoke")
    assert set(smoke) == set(experiments.SERIES["batch:images"])
    assert all(c.train.steps <= get_profile("smoke").steps and c.model.g_filters == (8, 8) for c in smoke.values())
    quick = experiments.series_configs({"a": "batch:images-16"}, "quick")
    assert quick == {"a": experiments.get_experiment("batch:images-16", "quick")}
    assert quick["a"].train.steps == 4 * get_profile("quick").steps  # quick keeps the arm's own steps
    with pytest.raises(ValueError, match="unknown series 'nope'"):
        experiments.series_configs("nope")


def test_the_numbers_name_the_direction_the_seed_wins_were_counted_in():
    check = ledger.Check("table2:1", "table2:2", "classes_covered", "same")
    a = stats.Measured("a", {"classes_covered": {0: 5, 1: 6, 2: 7}})
    b = stats.Measured("b", {"classes_covered": {0: 6, 1: 7, 2: 6}})
    comparison = stats.compare(a, b, "classes_covered", lower_is_better=False)  # as evaluate counts a "same" check
    r = ledger.CheckResult(check, comparison)
    assert r.outcome == "reproduced" and f"higher in {comparison.wins_b}/3 seeds" in r.numbers


def test_agreements_refuse_what_they_cannot_read():
    with pytest.raises(ValueError, match="expect must be one of lower, higher"):
        ledger.Agreement("recon_mse", "fid", "same")
    with pytest.raises(ValueError, match="reference must be one of"):
        ledger.Agreement("recon_mse", "sharpness")
    with pytest.raises(ValueError, match="min_classes"):
        ledger.Agreement("recon_mse", "fid", min_classes=-1)
