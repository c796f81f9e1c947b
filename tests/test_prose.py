"""Numbers glued into a chapter's prose are the ones its tables and comparisons print."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from bngan import experiments, prose, stats


def runset(label, values):
    runs = [NS(seed=s, metrics={"fid": v}, status="complete") for s, v in enumerate(values)]
    return experiments.RunSet(label, experiments.get_experiment("table2:1", "smoke"), runs)


@pytest.fixture
def glued(monkeypatch):
    """What the helpers hand to myst_nb's glue, and whether they asked it to display."""
    import myst_nb

    found = {}
    monkeypatch.setattr(myst_nb, "glue", lambda key, value, display=True: found.__setitem__(key, (value, display)))
    return found


def test_summary_glues_the_tables_mean_and_sample_std_and_the_range(glued):
    results = {"BN, separate": runset("BN, separate", [240.0, 225.0, 255.0]), "no BN": runset("no BN", [100.0])}
    values = prose.glue_summary("ch1", results, ["fid"])
    assert values["ch1.bn-separate.fid"] == "240 ± 15"
    assert values["ch1.bn-separate.fid.range"] == "225 to 255"
    assert values["ch1.no-bn.fid"] == "100"  # one seed: no spread to show
    assert glued["ch1.bn-separate.fid"] == ("240 ± 15", False)
    assert repr(glued["ch1.bn-separate.fid"][0]) == "240 ± 15"  # glue shows the repr: no quotes


def test_comparison_glues_the_difference_interval_wins_and_what_could_be_missed(glued):
    a, b = runset("a", [10.0, 11.0, 12.0]), runset("b", [1.0, 2.0, 4.0])
    c = stats.compare(a, b, "fid")
    values = prose.glue_comparison("ch1.bn", c)
    assert values["ch1.bn"] == f"{prose.signed(c.difference)} [{prose.signed(c.low)}, {prose.signed(c.high)}]"
    assert values["ch1.bn"].startswith("−8.67 [−")
    assert values["ch1.bn.wins"] == "3 of 3" and values["ch1.bn.verdict"] == "b is better"
    assert values["ch1.bn.missable"] == f"±{prose.number(c.missable)}"
    # b's mean 2.33 is 79% below a's 11, with Fieller's interval on the ratio
    _, low, high = c.fieller_interval()
    assert values["ch1.bn.relative"] == (f"−79% [{100 * low:+.0f}%, {100 * high:+.0f}%]").replace("-", "−")
    # the size a claim is judged on: the ledger's interval, on the ratio's log, never below -100%
    change, low, high = c.relative_interval()
    assert values["ch1.bn.ratio"] == f"−79% [{100 * low:+.0f}%, {100 * high:+.0f}%]".replace("-", "−")
    assert 100 * c.low / 11 < -100 < 100 * low
    assert set(glued) == set(values)


def test_learning_glues_how_many_seeds_passed_the_gate(glued, capsys, monkeypatch):
    from bngan import learning

    monkeypatch.setattr(learning, "threshold_for", lambda config: 300.0)
    results = {"BN": runset("BN", [100.0, 500.0, 120.0]), "no BN": runset("no BN", [500.0, 480.0])}
    values = prose.glue_learning("gate", results)
    assert values == {"gate.bn": "2 of 3", "gate.no-bn": "0 of 2"}
    assert set(glued) == set(values)
    printed = capsys.readouterr().out
    assert "BN learned at this profile (2 of 3" in printed and "no BN did not learn" in printed


def test_compared_glues_the_comparison_and_with_a_margin_its_equivalence_reading(glued):
    a, b = runset("a", [100.0, 101.0, 99.0, 100.0, 100.0]), runset("b", [100.5, 100.0, 99.5, 101.0, 99.5])
    c = prose.glue_compared("ch.x", a, b, "fid", margin=0.10)
    assert c.difference == pytest.approx(0.1) and glued["ch.x"][0] == prose.glue_comparison("y", c)["y"]
    assert glued["ch.x.equivalence"][0] == "equivalent" and glued["ch.x.margin"][0] == "±10"
    far = prose.glue_compared("ch.far", a, runset("c", [150.0, 151.0, 149.0, 150.0, 150.0]), "fid", margin=0.10)
    assert far.detectable and glued["ch.far.equivalence"][0] == "different"
    prose.glue_compared("ch.none", a, b, "fid")  # no margin: a direction only
    assert "ch.none" in glued and "ch.none.equivalence" not in glued


def test_interaction_glues_the_two_factors(glued):
    a1, b1 = runset("a1", [100.0, 102.0, 98.0]), runset("b1", [50.0, 51.0, 49.0])
    a2, b2 = runset("a2", [200.0, 204.0, 196.0]), runset("b2", [50.0, 51.0, 49.0])
    prose.glue_interaction("ch.i", a1, b1, a2, b2, "fid")
    assert glued["ch.i.first"][0] == "×0.5" and glued["ch.i.second"][0] == "×0.25"
    assert glued["ch.i"][0].startswith("−0.69")  # log 0.25 − log 0.5


def test_without_myst_nb_the_values_are_still_returned(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_myst(name, *args, **kwargs):
        if name == "myst_nb":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_myst)
    assert prose.glue_values({"k": "1 ± 2"}) == {"k": "1 ± 2"}


def test_slug_and_number_formats():
    assert prose.slug("DCGAN init (N(0, 0.02), eps 1e-5)") == "dcgan-init-n-0-0.02-eps-1e-5"
    assert prose.number(-0.0123456) == "−0.0123" and prose.signed(5.0) == "+5"
    assert prose.number(float("nan")) == "n/a"
    assert prose.number(101.7, 2) == "102" and prose.number(0.000123, 2) == "0.00012"


def test_an_interaction_glues_no_share_of_a_baseline(glued):
    """Its means are a change's log factors in two conditions: a percentage of one means nothing."""
    arms = [runset(label, values) for label, values in
            (("a1", [100.0, 110.0, 90.0]), ("b1", [90.0, 99.0, 81.0]), ("a2", [400.0, 440.0, 360.0]), ("b2", [200.0, 220.0, 180.0]))]
    c = stats.interaction(*arms, "fid")
    values = prose.glue_comparison("x", c)
    assert values["x.relative"] == values["x.ratio"] == values["x.wins"] == "n/a"
