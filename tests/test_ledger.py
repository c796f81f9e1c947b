"""The claims ledger: each check reads its comparison the way the chapter standard says (a
calibrated interval for a direction, equivalence for "no effect", non-superiority for
"futile", a size for "about 10%"), the claims name registered experiments and match the
chapters' claim tables, and evaluation uses the runs the chapters would use."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from bngan import claims, experiments, ledger, stats
from bngan.profiles import get_profile

BOOK = Path(__file__).resolve().parents[1] / "book"


def result(a_values, b_values, expect, metric="fid", **check_options):
    """A check's result on made-up per-seed values (treatment b minus baseline a)."""
    if expect in ("same", "no better"):
        check_options.setdefault("margin", 0.1)
    check = ledger.Check("table2:1", "table2:2", metric, expect, **check_options)
    a = stats.Measured("a", {metric: dict(enumerate(a_values))})
    b = stats.Measured("b", {metric: dict(enumerate(b_values))})
    return ledger._read(check, {"table2:1": a, "table2:2": b})


@pytest.mark.parametrize("a, b, expect, outcome", [
    ([10, 11, 12], [1, 2, 3], "lower", "reproduced"),
    ([1, 2, 3], [10, 11, 12], "lower", "reversed"),
    ([1, 2, 3], [10, 11, 12], "higher", "reproduced"),
    ([10, 11, 12], [1, 2, 3], "higher", "reversed"),
    ([1, 5, 9], [2, 6, 8], "lower", "no detectable difference"),
    ([1], [10, 11], "lower", "not enough seeds"),
])
def test_a_directional_check_reads_its_interval_in_the_predicted_direction(a, b, expect, outcome):
    assert result(a, b, expect).outcome == outcome


def test_a_same_claim_needs_equivalence_not_an_interval_that_straddles_zero():
    straddles = result([100, 130, 70], [110, 140, 80], "same")
    assert not straddles.comparison.detectable and straddles.outcome == "inconclusive"
    assert result([100, 101, 99, 100, 100], [100.5, 101, 100, 100.5, 99.5], "same").outcome == "reproduced"
    assert result([100, 101, 99], [120, 121, 119], "same").outcome == "not reproduced"
    # the margin is a fraction of the baseline's mean: 10% of 100 here, so a 5-point gap is inside it ...
    assert result([100, 101, 99, 100], [105, 106, 104, 105], "same", margin=0.1).outcome == "reproduced"
    # ... and outside a 2% margin, where the real difference makes it "not reproduced"
    assert result([100, 101, 99, 100], [105, 106, 104, 105], "same", margin=0.02).outcome == "not reproduced"


def test_a_futile_claim_reads_no_better_and_a_harmful_arm_supports_it():
    assert result([100, 101, 99, 100], [130, 131, 129, 130], "no better").outcome == "reproduced"  # it hurts
    assert result([100, 101, 99, 100], [80, 81, 79, 80], "no better").outcome == "reversed"
    assert result([100, 130, 70], [100, 130, 70], "no better").outcome == "inconclusive"


def test_a_size_claim_is_reproduced_only_when_its_interval_holds_the_claimed_size():
    about_ten = result([100, 101, 99, 100, 100], [90, 91, 89, 90.5, 89.5], "lower", "recon_mse", size=-0.10)
    assert about_ten.outcome == "reproduced" and "relative −10% [−11%, −9%] against the claimed −10%" in about_ten.numbers
    much_more = result([100, 101, 99, 100, 100], [22, 23, 21, 22, 22], "lower", "recon_mse", size=-0.10)
    assert much_more.outcome == "other size"
    assert ledger.OUTCOME_CLASS[much_more.outcome] == "not reproduced"


def conditions_claim(*checks, combine="conditions"):
    return ledger.Claim("0.1", "x", "s", 1, tuple(checks), combine=combine)


def labelled(r, condition):
    return ledger.replace(r, check=ledger.replace(r.check, condition=condition))


def test_a_claim_depends_on_its_conditions_only_when_the_effect_differs_between_them():
    strong = labelled(result([100, 101, 99, 100, 102], [50, 51, 49, 52, 50], "lower"), "batch 16")
    none = labelled(result([100, 101, 99, 100, 102], [100, 102, 98, 101, 99], "lower"), "batch 128")
    claim = conditions_claim(strong.check, none.check)
    differs = ledger.Verdict(claim, (strong, none))
    assert differs.interaction.detectable and differs.verdict_class == "depends"
    assert differs.verdict.startswith("depends: reproduced (batch 16); no detectable difference (batch 128); "
                                      "the effect differs between the conditions (p ")
    # one condition detected, the other not, but the two effects cannot be told apart: undecided
    big = labelled(result([100, 110, 90, 105, 95], [70, 80, 60, 75, 65], "lower"), "batch 16")
    small = labelled(result([100, 130, 70, 115, 85], [80, 110, 50, 95, 65], "lower"), "batch 128")
    alike = ledger.Verdict(conditions_claim(big.check, small.check), (big, small))
    assert big.outcome == "reproduced" and small.outcome == "no detectable difference"
    assert not alike.interaction.detectable and alike.verdict_class == "undecided"
    assert "does not differ detectably between the conditions" in alike.verdict
    assert "difference between the conditions' effects" in alike.numbers
    assert ledger.Verdict(claim, (strong, strong)).verdict == "reproduced"
    assert ledger.Verdict(claim, (none, none)).verdict == "no detectable difference with 5 seeds"
    counts = ledger.tally([differs, alike, ledger.Verdict(claim, (strong,))])
    assert counts == {"reproduced": 1, "not reproduced": 0, "undecided": 1, "depends": 1, "not tested": 0,
                      "not enough seeds": 0, "unfinished": 0}


def named_result(a_values, b_values, name, condition, expect="lower"):
    """A check's result on made-up values whose arms are named, so that different claims' arms differ."""
    check = ledger.Check(f"{name}:a", f"{name}:b", "fid", expect, condition=condition)
    arms = {f"{name}:{side}": stats.Measured(f"{name}:{side}", {"fid": dict(enumerate(values))})
            for side, values in (("a", a_values), ("b", b_values))}
    return ledger._read(check, arms)


def test_depends_needs_its_interaction_to_survive_the_book_wide_correction():
    """The interaction a claim of two conditions is read with enters the family whatever its checks
    say; a disagreement whose interaction passes alone but fails the correction is undecided."""
    strong = named_result([100, 104, 96, 102, 98], [88, 92, 84, 90, 86], "x1", "batch 16")
    flat = named_result([100, 106, 94, 103, 97], [100, 107, 93, 102, 98], "x2", "batch 128")
    claim = conditions_claim(strong.check, flat.check)
    alone = ledger.correct([claim], [[strong, flat]])[0]
    assert alone.condition.p_value < 0.01 and alone.condition.family == 3
    assert alone.verdict_class == "depends" and "a discovery after correction over 3" in alone.verdict
    nulls = [named_result([100, 104, 96, 102, 98], [101, 103, 97, 101, 99], f"n{i}", "") for i in range(20)]
    crowd = ledger.correct([claim, *(conditions_claim(r.check, combine="all") for r in nulls)],
                           [[strong, flat], *([r] for r in nulls)])
    first = crowd[0]
    assert first.condition.corrected is False and first.verdict_class == "undecided"
    assert "differs between the conditions only before the correction" in first.verdict
    assert "not after correction over 23" in first.numbers
    assert ledger.multiplicity(crowd).checks == 23
    # two checks that agree still put their interaction in the family: which tests count does not
    # depend on what they show
    agree = ledger.correct([conditions_claim(strong.check, strong.check)], [[strong, strong]])[0]
    assert agree.verdict == "reproduced" and agree.condition is not None and agree.condition.family == 2


def test_a_conjunction_needs_every_part_and_one_failed_part_fails_it():
    good = labelled(result([10, 11, 12], [1, 2, 3], "lower"), "against no BN")
    flat = labelled(result([1, 5, 9], [2, 6, 8], "lower"), "against combined batches")
    bad = labelled(result([1, 2, 3], [10, 11, 12], "lower"), "reconstruction error")
    claim = conditions_claim(good.check, flat.check, combine="all")
    mixed = ledger.Verdict(claim, (good, flat))
    assert mixed.verdict_class == "undecided" and mixed.interaction is None
    assert mixed.verdict == ("undecided: reproduced (against no BN); no detectable difference "
                             "(against combined batches)")
    failed = ledger.Verdict(conditions_claim(good.check, bad.check, combine="all"), (good, bad))
    assert failed.verdict_class == "not reproduced" and "reversed (reconstruction error)" in failed.verdict
    with pytest.raises(ValueError, match="combine must be one of all, conditions"):
        ledger.Claim("0.1", "x", "s", 1, (good.check,), combine="any")


@pytest.mark.parametrize("n", [5])
def test_the_same_effect_in_two_conditions_rarely_reads_depends(n):
    """The old rule (one check significant, the other not) said "depends" 34-49% of the time
    at 5 seeds when both conditions share one true effect; with the interaction it stays near 5%."""
    rng = np.random.default_rng(11)
    effect, sd = 18.0, 15.0  # about 80% power per condition at 5 seeds, where mixed outcomes peak
    depends = old_rule = 0
    trials = 600
    for _ in range(trials):
        rs = []
        for condition in ("c1", "c2"):
            a, b = rng.normal(240, sd, n), rng.normal(240 - effect, sd, n)
            rs.append(labelled(result(list(a), list(b), "lower"), condition))
        v = ledger.Verdict(conditions_claim(rs[0].check, rs[1].check), tuple(rs))
        depends += v.verdict_class == "depends"
        old_rule += len({r.outcome for r in rs}) > 1
    assert depends / trials <= 0.06
    assert old_rule / trials >= 0.2  # what the old rule would have called "depends"


def test_an_untested_part_leaves_a_conjunction_untested():
    """Row 3.6 read "reproduced; not tested" where the untested check was the claim's first half."""
    from bngan.learning import Learning

    values = {"x:good": [100, 101, 99, 100, 102], "x:flat": [553, 553, 553, 553, 553],
              "x:worse": [300, 310, 305, 290, 300]}
    sets = {name: runset(name, {s: {"fid": v} for s, v in enumerate(vals)}) for name, vals in values.items()}

    def gate(results):
        return Learning(results.label, 0 if results.label == "x:flat" else 5, 5, 400.0)

    tested = ledger._read(ledger.Check("x:worse", "x:good", "fid", "lower", "against worse"), sets, gate)
    untested = ledger._read(ledger.Check("x:flat", "x:good", "fid", "lower", "against flat"), sets, gate)
    both = ledger.Verdict(conditions_claim(tested.check, untested.check, combine="all"), (tested, untested))
    assert both.verdict_class == "not tested"
    assert both.verdict.startswith("not tested: x:flat did not learn") and "reproduced (against worse)" in both.verdict
    # one effect under two conditions, one of them untested: the tested condition decides, the other is named
    cond = ledger.Verdict(conditions_claim(tested.check, untested.check), (tested, untested))
    assert cond.verdict == "reproduced; not tested (against flat)" and cond.verdict_class == "reproduced"


def test_an_arm_the_claim_says_learns_counts_against_it_when_it_does_not():
    from bngan.learning import Learning

    values = {"x:bn": [100, 101, 99, 100, 102], "x:nobn": [553, 553, 552, 553, 554]}
    sets = {name: runset(name, {s: {"fid": v} for s, v in enumerate(vals)}) for name, vals in values.items()}

    def gate(results):
        return Learning(results.label, 0 if results.label == "x:nobn" else 5, 5, 400.0)

    converges = ledger.Check("x:bn", "x:nobn", "fid", "same", margin=0.1, must_learn="treatment")
    read = ledger._read(converges, sets, gate)
    assert read.outcome == "did not learn" and ledger.OUTCOME_CLASS[read.outcome] == "not reproduced"
    v = ledger.Verdict(ledger.Claim("6.3", "x", "s", 6, (converges,)), (read,))
    assert v.verdict.startswith("not reproduced: x:nobn did not learn") and v.verdict_class == "not reproduced"
    # without must_learn the same arm withholds the verdict
    plain = ledger._read(ledger.Check("x:bn", "x:nobn", "fid", "same", margin=0.1), sets, gate)
    assert plain.outcome == "not tested"
    with pytest.raises(ValueError, match="must_learn must be one of"):
        ledger.Check("x:bn", "x:nobn", must_learn="neither")


def test_an_undetected_difference_says_how_large_a_difference_could_have_been_missed():
    flat = result([1, 5, 9], [2, 6, 8], "lower")
    missed = re.search(r"could have missed ±([\d.]+)", flat.numbers)
    assert missed and float(missed.group(1)) == pytest.approx(flat.comparison.missable, rel=1e-2)


def test_checks_refuse_what_they_cannot_decide():
    with pytest.raises(ValueError, match="expect must be one of lower, higher, same, no better"):
        ledger.Check("table2:1", "table2:2", "fid", "better")
    with pytest.raises(ValueError, match="metric must be one of"):
        ledger.Check("table2:1", "table2:2", "sharpness")
    with pytest.raises(ValueError, match="margin must be a positive fraction"):
        ledger.Check("table2:1", "table2:2", "fid", "same")
    with pytest.raises(ValueError, match="margin is for expect"):
        ledger.Check("table2:1", "table2:2", "fid", "lower", margin=0.1)
    with pytest.raises(ValueError, match="size must be a non-zero relative change"):
        ledger.Check("table2:1", "table2:2", "fid", "lower", size=0.1)
    with pytest.raises(ValueError, match="seeds must be an integer of at least 2"):
        ledger.Check("table2:1", "table2:2", "fid", seeds=1)


def test_every_claim_names_registered_experiments_and_a_chapter():
    keys = [c.key for c in ledger.CLAIMS]
    assert len(set(keys)) == len(keys)
    assert not set(keys) & {e.key for e in ledger.ELSEWHERE}
    for claim in ledger.CLAIMS:
        assert claim.key.split(".")[0] == str(claim.chapter) and claim.checks
    for name in ledger.experiments_needed():
        experiments.get_experiment(name, "quick")  # raises for an unregistered name


def test_no_same_claim_can_pass_on_a_straddling_interval_alone():
    for claim in ledger.CLAIMS:
        for check in claim.checks:
            if isinstance(check, ledger.Check) and check.expect in ("same", "no better"):
                assert check.margin and check.margin > 0, claim.key


def chapter_claim_keys(path: Path) -> list[str]:
    """The claim numbers of a chapter's opening claims table, as ledger keys (chapter 2's
    claim 3 is 2.3)."""
    chapter = int(path.name.split("_")[0])
    first = json.loads(path.read_text())["cells"][0]
    rows = [line for line in "".join(first["source"]).splitlines() if line.startswith("|")]
    numbers = [row.split("|")[1].strip() for row in rows[2:]]
    return [f"{chapter}.{n}" for n in numbers if n.isdigit()]


@pytest.mark.parametrize("path", sorted(BOOK.glob("0[1-9]_*.ipynb")), ids=lambda p: p.stem)
def test_each_chapters_claims_table_lists_the_ledgers_claims_of_that_chapter(path):
    chapter = int(path.name.split("_")[0])
    assert chapter_claim_keys(path) == claims.chapter_keys(chapter)


def test_chapter_table_renders_the_ledger_rows_in_the_chapters_order():
    r = result([10, 11, 12], [1, 2, 3], "lower")
    chapter4 = [c for c in ledger.CLAIMS if c.chapter == 4]
    verdicts = [ledger.Verdict(c, tuple(r for _ in c.checks)) for c in chapter4]
    table = ledger.chapter_table(4, verdicts)
    assert [row[0] for row in table.rows] == claims.chapter_keys(4)
    rows = {row[0]: row for row in table.rows}
    assert rows[chapter4[0].key][2] == verdicts[0].verdict
    assert "checkerboard score" in rows["4.4"][3]  # 4.4's note: a ledger row like the others
    with pytest.raises(ValueError, match=f"missing {chapter4[1].key}"):
        ledger.chapter_table(4, verdicts[:1])


def test_experiments_needed_keeps_the_most_seeds_any_check_asks_for():
    claims_ = (ledger.Claim("8.1", "x", "s", 8, (ledger.Check("wn:vanilla", "wn:wn", "recon_mse", seeds=8),
                                                  ledger.Check("wn:wn-relu", "wn:wn", "recon_mse", seeds=5))),)
    assert ledger.experiments_needed(claims_) == {"wn:vanilla": 8, "wn:wn": 8, "wn:wn-relu": 5}
    quick = get_profile("quick")
    assert ledger._seeds(quick, False, 8) == tuple(range(8))
    assert ledger._seeds(quick, False, None) == quick.seeds
    assert ledger._seeds(get_profile("smoke"), False, 8) == get_profile("smoke").seeds


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_the_profiles_that_decide_verdicts_give_5_image_and_10_toy_seeds(profile):
    p = get_profile(profile)
    assert len(p.seeds) >= 5 and len(p.toy_seeds) >= 10
    for name, wanted in ledger.experiments_needed().items():
        toy = experiments.get_experiment(name, profile).data.kind == "toy"
        assert len(ledger._seeds(p, toy, wanted)) >= (10 if toy else 5), name


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
    assert verdict.results[0].corrected is not None and verdict.results[0].family == 1
    row, = ledger.ledger_table([verdict]).rows
    assert row[0] == "7.3" and row[4] == verdict.verdict and row[5] == verdict.numbers
    assert "white-space: normal" in ledger.ledger_table([verdict])._repr_html_()


def test_evaluate_takes_explicit_seeds(tmp_path):
    claims = (ledger.Claim("7.5", "joint", "001", 7, (ledger.Check("blindspot:no-bn", "blindspot:bn-joint", "mmd",
                                                                    "higher"),)),)
    verdict, = ledger.evaluate(claims, profile="smoke", seeds=[3], root=tmp_path)
    assert verdict.verdict == "not enough seeds" and verdict.n_seeds == 1
    assert sorted(p.name.rsplit("seed", 1)[1] for p in tmp_path.iterdir()) == ["3", "3"]


def runset(label, metrics_by_seed):
    from types import SimpleNamespace as NS

    runs = [NS(seed=seed, metrics=metrics, status="complete") for seed, metrics in metrics_by_seed.items()]
    # each label its own config (its own hash), as different set-ups have
    steps = 1 + sum(map(ord, label)) % 997
    return experiments.RunSet(label, experiments.get_experiment("table2:1", "smoke").vary(**{"train.steps": steps}), runs)


def test_agreement_ranks_set_up_means_not_single_runs():
    def setup(label, recon, fid, classes):
        return runset(label, {s: {"recon_mse": recon + d, "fid": fid + 10 * d, "classes_covered": classes}
                              for s, d in enumerate((-0.1, 0.0, 0.1))})

    setups = [setup("a", 1, 10, 9), setup("b", 2, 20, 9), setup("c", 3, 30, 9), setup("d", 4, 40, 2),
              setup("e", 5, 35, 2)]
    check = ledger.Agreement("recon_mse", "fid", ("a", "b", "c", "d", "e"))
    rho, p, n = ledger.agreement(check, setups)
    assert n == 5 and rho == pytest.approx(0.9)  # five set-ups, not fifteen runs
    covered = ledger.Agreement("recon_mse", "fid", ("a", "b", "c", "d", "e"), min_classes=5)
    rho, p, n = ledger.agreement(covered, setups)
    assert n == 3 and rho == pytest.approx(1.0)
    assert ledger.agreement(covered, setups[3:]) [2] == 0
    result = ledger.CheckResult(check, correlation=(0.9, 0.037, 5))
    assert result.outcome == "reproduced"
    assert ledger.CheckResult(check, correlation=(0.9, 0.2, 5)).outcome == "no detectable agreement"
    assert ledger.CheckResult(check, correlation=(-0.9, 0.01, 5)).outcome == "reversed"
    assert re.search(r"rho \+0\.90 \(p 0\.037\).* over 5 set-ups", result.numbers)
    claim = ledger.Claim("9.9", "ranks", "s", 9, (check,))
    undecided = ledger.Verdict(claim, (ledger.CheckResult(check, correlation=(0.3, 0.4, 14)),))
    assert undecided.verdict == "no detectable agreement with 14 set-ups"  # a ranking counts set-ups, not seeds
    assert undecided.verdict_class == "undecided"  # a ranking tests agreement, not a difference: own word, same class
    narrower = ledger.Agreement("recon_mse", "fid", ("a", "b", "c", "d", "e"), min_classes=6)
    two = ledger.Verdict(ledger.Claim("9.9", "ranks", "s", 9, (check, narrower)),
                         (ledger.CheckResult(check, correlation=(0.3, 0.4, 14)),
                          ledger.CheckResult(narrower, correlation=(0.1, 0.8, 8))))
    assert two.verdict == "no detectable agreement with 14 and 8 set-ups"  # not the smaller count alone


def test_row_9_2_ranks_a_fixed_registered_set_of_set_ups():
    claim, = [c for c in ledger.CLAIMS if c.key == "9.2"]
    for check in claim.checks:
        assert check.setups == claims.TABLE2_SETUPS
    assert set(claims.TABLE2_SETUPS) <= set(ledger.experiments_needed())


def test_evaluate_corrects_book_wide_over_distinct_comparisons(monkeypatch):
    values = {"x:a": [10, 11, 12, 10, 11], "x:b": [1, 2, 3, 2, 1], "x:c": [10.5, 11, 11.5, 10, 12],
              "x:d": [9, 10, 11, 12, 8], "x:e": [10, 10.4, 10.9, 10.2, 10.6]}
    sets = {name: runset(name, {s: {"fid": v} for s, v in enumerate(vals)}) for name, vals in values.items()}
    monkeypatch.setattr(ledger, "config_at", lambda name, p: experiments.get_experiment("table2:1", "smoke"))
    monkeypatch.setattr(ledger, "run_experiment", lambda config, label, **kw: sets[label])
    claims_ = (ledger.Claim("1.1", "big", "s", 1, (ledger.Check("x:a", "x:b"),)),
               ledger.Claim("1.2", "small", "s", 1, (ledger.Check("x:a", "x:c", "fid", "lower"),
                                                    ledger.Check("x:a", "x:d", "fid", "same", margin=0.1))),
               # the same comparison mirrored, and made again: one member of the family, not three
               ledger.Claim("1.3", "mirror", "s", 1, (ledger.Check("x:b", "x:a", "fid", "higher"),
                                                     ledger.Check("x:a", "x:b", "fid", "lower", "again"))))
    verdicts = ledger.evaluate(claims_, profile="smoke")
    big, small, same = verdicts[0].results[0], *verdicts[1].results
    assert big.family == small.family == 2 and same.corrected is None  # equivalence checks are not in the family
    assert big.corrected is True and small.corrected is False
    assert all(r.corrected is True and r.key == big.key for r in verdicts[2].results)
    m = ledger.multiplicity(verdicts)
    assert (m.checks, m.significant, m.discoveries, m.reproduced) == (2, 1, 1, 1)
    assert m.expected_by_chance == pytest.approx(0.05)
    assert "a discovery after correction over 2" in big.numbers and "2 distinct directional comparisons" in str(m)


def test_a_check_significant_alone_but_not_after_correction_is_suggestive_and_decides_nothing():
    r = result([10, 11, 12, 10, 11], [9, 10, 10.5, 9, 9.5], "lower")
    assert r.outcome == "reproduced" and 0.0 < r.p_value < 0.05  # alone, at 5%
    failing = ledger.replace(r, corrected=False, family=54)
    assert failing.outcome == "suggestive" and ledger.OUTCOME_CLASS["suggestive"] == "undecided"
    assert "not after correction over 54" in failing.numbers
    v = ledger.Verdict(ledger.Claim("3.8", "x", "s", 3, (failing.check,)), (failing,))
    assert v.verdict == "suggestive, not after correction" and v.verdict_class == "undecided"
    reversed_alone = ledger.replace(result([1, 2, 3, 2, 1.5], [3, 4, 5, 4, 3.5], "lower"), corrected=False)
    assert reversed_alone.outcome == "suggestive"
    assert ledger.replace(reversed_alone, corrected=True).outcome == "reversed"


def test_a_not_learned_check_leaves_the_family_and_a_computed_one_stays(monkeypatch):
    from bngan.learning import Learning

    values = {"x:a": [10, 11, 12, 10, 11], "x:b": [1, 2, 3, 2, 1], "x:flat": [50, 50, 50, 50, 51]}
    sets = {name: runset(name, {s: {"fid": v} for s, v in enumerate(vals)}) for name, vals in values.items()}
    monkeypatch.setattr(ledger, "config_at", lambda name, p: experiments.get_experiment("table2:1", "smoke"))
    monkeypatch.setattr(ledger, "run_experiment", lambda config, label, **kw: sets[label])
    monkeypatch.setattr(ledger, "arm_learning",
                        lambda rs, threshold=None: Learning(rs.label, 0 if rs.label == "x:flat" else 5, 5, 40.0))
    claims_ = (ledger.Claim("1.1", "a", "s", 1, (ledger.Check("x:a", "x:b"),)),
               ledger.Claim("1.2", "b", "s", 1, (ledger.Check("x:flat", "x:b"),)))
    verdicts = ledger.evaluate(claims_, profile="smoke")
    assert verdicts[0].results[0].family == 1 and verdicts[1].results[0].corrected is None
    assert ledger.multiplicity(verdicts).checks == 1


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
    assert rows[ledger.S000] == ("1", "1", "0", "0", "0", "0", "0", "0")
    assert rows[ledger.S003] == ("2", "1", "0", "1", "0", "0", "0", "0")
    assert rows[ledger.S001] == ("0", "0", "0", "0", "0", "0", "0", "0")
    assert rows["all claims"] == ("2", "1", "0", "1", "0", "0", "0", "0")


def test_verdict_map_draws_each_claim_in_its_chapters_row_in_its_verdicts_colour():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.colors import to_hex

    from bngan import plots

    good = result([10, 11, 12], [1, 2, 3], "lower")
    flat = result([1, 5, 9], [2, 6, 8], "lower")
    verdicts = [ledger.Verdict(ledger.Claim("1.1", "a", "s", 1, (good.check,)), (good,)),
                ledger.Verdict(ledger.Claim("1.2", "b", "s", 1, (flat.check,)), (flat,)),
                ledger.Verdict(ledger.Claim("3.1", "c", "s", 3, (good.check, flat.check), combine="conditions"),
                               (good, labelled(result([100, 101, 99], [100, 102, 98], "lower"), "second")))]
    fig = plots.verdict_map(verdicts)
    ax = fig.axes[0]
    squares = {t.get_text(): (p.get_xy(), to_hex(p.get_facecolor())) for t, p in zip(ax.texts, ax.patches)}
    assert squares["1.1"][1] == plots.VERDICT_COLOURS["reproduced"]
    assert squares["1.2"][1] == plots.VERDICT_COLOURS["undecided"]
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
    check = ledger.Check("table2:1", "table2:2", "classes_covered", "higher")
    a = stats.Measured("a", {"classes_covered": {0: 5, 1: 6, 2: 7}})
    b = stats.Measured("b", {"classes_covered": {0: 6, 1: 7, 2: 6}})
    comparison = stats.compare(a, b, "classes_covered", lower_is_better=False)
    r = ledger.CheckResult(check, comparison)
    assert r.outcome == "no detectable difference" and f"higher in {comparison.wins_b}/3 seeds" in r.numbers


def test_agreements_refuse_what_they_cannot_read():
    setups = ("table2:1", "table2:2", "table2:3")
    with pytest.raises(ValueError, match="expect must be one of lower, higher"):
        ledger.Agreement("recon_mse", "fid", setups, "same")
    with pytest.raises(ValueError, match="reference must be one of"):
        ledger.Agreement("recon_mse", "sharpness", setups)
    with pytest.raises(ValueError, match="min_classes"):
        ledger.Agreement("recon_mse", "fid", setups, min_classes=-1)
    with pytest.raises(ValueError, match="setups must name at least 3"):
        ledger.Agreement("recon_mse", "fid", ("table2:1", "table2:1", "table2:2"))


def test_chapter_verdicts_refuses_a_chapter_without_claims_before_any_training(tmp_path):
    from bngan import confirmation

    with pytest.raises(ValueError, match="chapter must be one of 1, 2, .*got 11"):
        confirmation.chapter_verdicts(11, profile="smoke", root=tmp_path)
    assert not any(tmp_path.iterdir())


def test_a_check_whose_arm_did_not_learn_decides_nothing_and_leaves_the_holm_family():
    from bngan.learning import Learning

    def gate(results):
        return Learning(results.label, 0 if results.label == "x:flat" else 5, 5, 400.0)

    values = {"x:good": [100, 101, 99, 100, 102], "x:flat": [553, 553, 553, 553, 553], "x:worse": [300, 310, 305, 290, 300]}
    sets = {name: runset(name, {s: {"fid": v} for s, v in enumerate(vals)}) for name, vals in values.items()}
    helps = ledger.Check("x:flat", "x:good")  # "good helps" against an arm that never learned
    untested = ledger._read(helps, sets, gate)
    assert untested.outcome == "not tested" and untested.comparison.detectable
    assert "x:flat did not learn at this profile (0 of 5 seeds reached FID ≤ 400)" in untested.numbers
    claim = ledger.Claim("9.9", "x", "s", 9, (helps,))
    verdict = ledger.Verdict(claim, (untested,))
    assert verdict.verdict == "not tested: x:flat did not learn at this profile (0 of 5 seeds reached FID ≤ 400)"
    assert verdict.verdict_class == "not tested"
    # a claim that predicts the arm's failure is decided by it
    fails = ledger.Check("x:good", "x:flat", "fid", "higher", may_fail="treatment")
    assert ledger._read(fails, sets, gate).outcome == "reproduced"
    # both arms learned: the gate changes nothing
    assert ledger._read(ledger.Check("x:worse", "x:good"), sets, gate).outcome == "reproduced"
    assert not untested.in_family


def test_checks_refuse_an_unknown_arm_to_exempt_from_the_gate():
    with pytest.raises(ValueError, match="may_fail must be one of"):
        ledger.Check("table2:1", "table2:2", may_fail="both")


@pytest.mark.parametrize("n, outcome", [(1, "not enough seeds"), (2, "reproduced"), (3, "reproduced")])
def test_two_seeds_per_arm_are_the_fewest_that_decide(n, outcome):
    a, b = [100.0, 101.0, 99.5][:n], [10.0, 11.0, 9.5][:n]
    assert result(a, b, "lower").outcome == outcome


def test_a_scale_check_decides_each_claim_at_two_budgets(tmp_path):
    smoke = get_profile("smoke")
    big = ledger.larger(smoke, steps=2, width=2)
    assert (big.steps, big.toy_steps, big.width_scale) == (2 * smoke.steps, 2 * smoke.toy_steps, 1.0)
    assert big.name == "smoke x2 steps x2 width"
    claims_ = (ledger.Claim("7.3", "drift", "001", 7,
                            (ledger.Check("blindspot:no-bn-shift", "blindspot:bn-shift", "shift_x", "higher"),)),)
    table = ledger.scale_check(claims_, small=smoke, large=big, root=tmp_path)
    row, = table.rows
    assert row[0] == "7.3" and row[4] in ("same", "changed") and table.header[3] == f"verdict at {big.name}"
    steps = {json.loads((p / "config.json").read_text())["train"]["steps"] for p in tmp_path.iterdir()}
    assert steps == {smoke.toy_steps, 2 * smoke.toy_steps}  # both budgets trained, apart in the cache
    assert set(ledger.ADVICE_KEYS) <= {c.key for c in ledger.CLAIMS}


def test_a_scale_check_that_only_reads_the_cache_says_what_has_not_finished(tmp_path):
    smoke = get_profile("smoke")
    big = ledger.larger(smoke, steps=2, width=2)
    claims_ = (ledger.Claim("7.3", "drift", "001", 7,
                            (ledger.Check("blindspot:no-bn-shift", "blindspot:bn-shift", "shift_x", "higher"),)),)
    # only one arm's seeds at the larger budget are in the cache
    experiments.run_experiment(experiments.for_profile("blindspot:no-bn-shift", big), seeds=smoke.toy_seeds,
                               root=tmp_path, progress=False)
    before = set(tmp_path.iterdir())
    table = ledger.scale_check(claims_, small=smoke, large=big, root=tmp_path, train=False)
    row, = table.rows
    n = len(smoke.toy_seeds)
    assert row[3] == f"unfinished ({n} of {2 * n} runs)" and row[4] == "unfinished"
    trained_small = {p for p in tmp_path.iterdir()} - before
    steps = {json.loads((p / "config.json").read_text())["train"]["steps"] for p in trained_small}
    assert steps == {smoke.toy_steps}  # the small budget trains, the larger one is only read
    # once both arms are cached it is decided
    experiments.run_experiment(experiments.for_profile("blindspot:bn-shift", big), seeds=smoke.toy_seeds,
                               root=tmp_path, progress=False)
    row, = ledger.scale_check(claims_, small=smoke, large=big, root=tmp_path, train=False).rows
    assert row[4] in ("same", "changed")


def test_cached_experiment_reads_finished_seeds_and_trains_nothing(tmp_path):
    experiments.run_experiment("blindspot:bn", profile="smoke", seeds=[0], root=tmp_path, progress=False)
    found = experiments.cached_experiment("blindspot:bn", profile="smoke", seeds=[0, 1], root=tmp_path)
    assert [r.seed for r in found] == [0] and all(r.origin == "cached" for r in found)
    assert len(list(tmp_path.iterdir())) == 1


def test_an_interaction_check_compares_the_change_as_a_factor_in_two_conditions(monkeypatch):
    values = {"k3:16": [100, 110, 90, 105, 95], "k5:16": [90, 99, 81, 95, 85],  # about x 0.9
              "k3:32": [400, 440, 360, 420, 380], "k5:32": [200, 220, 180, 210, 190]}  # about x 0.5
    sets = {name: runset(name, {s: {"fid": v} for s, v in enumerate(vals)}) for name, vals in values.items()}
    monkeypatch.setattr(ledger, "config_at", lambda name, p: experiments.get_experiment("table2:1", "smoke"))
    monkeypatch.setattr(ledger, "run_experiment", lambda config, label, **kw: sets[label])
    check = claims.Interaction(("k3:16", "k5:16"), ("k3:32", "k5:32"), "fid", "lower", "FID, 16 → 32 px")
    assert ledger.experiments_needed([ledger.Claim("4.3", "c", "s", 4, (check,))]) == dict.fromkeys(values)
    verdict, = ledger.evaluate([ledger.Claim("4.3", "c", "s", 4, (check,))], profile="smoke", gate=False)
    found = verdict.results[0]
    assert found.outcome == "reproduced" and found.family == 1
    assert re.search(r"FID changed ×0\.9 in the first condition, ×0\.5 in the second; log-ratio "
                     r"difference −0\.588 \[", found.numbers)
    flipped = claims.Interaction(("k3:32", "k5:32"), ("k3:16", "k5:16"), "fid", "lower")
    verdict, = ledger.evaluate([ledger.Claim("4.3", "c", "s", 4, (flipped,))], profile="smoke", gate=False)
    assert verdict.results[0].outcome == "reversed"
    with pytest.raises(ValueError, match="first must be a"):
        claims.Interaction(("k3:16",), ("k3:32", "k5:32"))


def test_a_chapters_table_shows_the_book_wide_decision(monkeypatch):
    """A check that passes a correction over its own chapter can fail the book's: the chapter's
    table must show the book's word (rows 3.8, 5.4 and 7.8 once read differently on two pages)."""
    borderline = {"x:a": [10, 11, 12, 10, 11], "x:c": [9, 10, 10.5, 9, 9.5]}
    nulls = {f"x:n{i}": list(np.random.default_rng(i).normal(100, 5, 5)) for i in range(18)}
    sets = {name: runset(name, {s: {"fid": v} for s, v in enumerate(vals)})
            for name, vals in {**borderline, **nulls}.items()}
    claims_ = (ledger.Claim("1.1", "borderline", "s", 1, (ledger.Check("x:a", "x:c"),)),
               *(ledger.Claim(f"2.{i + 1}", "null", "s", 2, (ledger.Check(f"x:n{2 * i}", f"x:n{2 * i + 1}"),))
                 for i in range(9)))
    for module in (ledger, claims):
        monkeypatch.setattr(module, "CLAIMS", claims_)
        monkeypatch.setattr(module, "ELSEWHERE", ())
    monkeypatch.setattr(ledger, "config_at", lambda name, p: experiments.get_experiment("table2:1", "smoke"))
    monkeypatch.setattr(ledger, "run_experiment", lambda config, label, **kw: sets[label])
    monkeypatch.setattr(ledger, "cached_experiment", lambda config, label, **kw: sets[label])
    monkeypatch.setattr(ledger, "_unfinished", lambda *args, **kwargs: {})  # the stand-in runs are all there
    alone = ledger.evaluate(claims_[:1], profile="smoke")[0]
    assert alone.verdict == "reproduced"  # its own family of one
    row, = ledger.chapter_table(1, ledger.chapter_pilot(1, profile="smoke")).rows
    book = ledger.book_wide(ledger.evaluate(claims_, profile="smoke"))
    assert row[2] == book[0].verdict == "suggestive, not after correction"
    assert "not after correction over 10" in row[3]


def test_the_ledger_counts_each_comparison_once():
    """3.6's second check, 6.1's second and 6.2 compare the same runs; 3.4 and 3.5 mirror one
    comparison, as 3.1 and 3.3's first do, and 8.3's, 8.4's and 8.6's late rises (one comparison
    read three times): 79 directional checks are 73 distinct comparisons. The 14 claims of two
    conditions add the interaction each is read with: 87 in the family."""
    directional = sum(check.directional for claim in ledger.CLAIMS for check in claim.checks)
    conditions = sum(claim.combine == "conditions" for claim in ledger.CLAIMS)
    assert (len(ledger.CLAIMS), directional, conditions) == (60, 79, 14)
    assert ledger.distinct_comparisons(profile="quick") == 73 + 14


def test_the_verdict_map_has_a_colour_for_every_verdict_class():
    from bngan import plots

    assert set(plots.VERDICT_COLOURS) == set(ledger.VERDICT_CLASSES)


def test_a_scale_checks_small_column_shows_the_book_wide_verdict_it_is_given(tmp_path):
    """Chapter 10's scale check shows the ledger's own words at the small budget (decided over the
    whole book's family), not a re-evaluation of the advice claims as a family of their own."""
    smoke = get_profile("smoke")
    big = ledger.larger(smoke, steps=2, width=2)
    claim = ledger.Claim("7.3", "drift", "001", 7,
                         (ledger.Check("blindspot:no-bn-shift", "blindspot:bn-shift", "shift_x", "higher"),))
    strong = named_result([100, 104, 96, 102, 98], [88, 92, 84, 90, 86], "y1", "")
    book_wide = ledger.replace(ledger.correct([claim], [[strong]])[0], results=(
        ledger.replace(strong, corrected=False, family=87),))
    assert book_wide.verdict == "suggestive, not after correction"
    row, = ledger.scale_check((claim,), small=smoke, large=big, root=tmp_path, train=False,
                              decided=[book_wide]).rows
    assert row[2] == "suggestive, not after correction" and row[4] == "unfinished"
    assert not any(tmp_path.iterdir())  # nothing trained, nothing evaluated at the small budget
    with pytest.raises(ValueError, match="decided must hold a verdict for every claim.*7.3"):
        ledger.scale_check((claim,), small=smoke, large=big, root=tmp_path, train=False, decided=[])


def test_a_tiny_p_value_uses_the_rows_typographic_minus():
    check = ledger.Check("x:a", "x:b", "fid", "lower")
    sets = {"x:a": runset("x:a", {s: {"fid": 300.0 + s} for s in range(5)}),
            "x:b": runset("x:b", {s: {"fid": 100.0 + s} for s in range(5)})}
    result = ledger._read(check, sets)
    assert result.p_value < 1e-4
    assert "e−" in result.numbers and "e-" not in result.numbers
