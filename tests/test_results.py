"""Committed run results (bngan.results): rows checked on load (a bad row named by file and
line, then skipped), the ledger reading the cache first and the committed results for what the
cache lacks (nothing trained, the gate's threshold taken from the rows, a disagreement named
once), recorded runs counted as finished, and the export of a run cache (slow: it trains)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

import bngan
from bngan import learning, ledger, results, stats
from bngan.experiments import run_experiment
from bngan.plan import budget_name, larger
from bngan.profiles import get_profile
from bngan.registry import for_profile
from bngan.runs import RunDir
from bngan.runsets import RunSet
from bngan.train import cached_run

SMOKE = get_profile("smoke")
SHIFT = ledger.Claim("7.3", "drift", "001", 7,
                     (ledger.Check("blindspot:no-bn-shift", "blindspot:bn-shift", "shift_x", "higher"),))
FID = ledger.Claim("1.9", "fid", "000", 1, (ledger.Check("table2:1", "table2:2", "fid", "lower"),))


def row(name: str, seed: int, metrics: dict, **changes) -> dict:
    """A valid row of ``name`` at smoke, recorded elsewhere."""
    config = for_profile(name, SMOKE)
    made = {"experiment": name, "hash": config.hash(), "seed": seed, "profile": SMOKE.name, "status": "complete",
            "steps_done": config.train.steps, "diverged_at": None, "metrics": metrics, "derived": {},
            "gate_threshold": None, "gate_reference": learning.LEARNED_REFERENCE, "bngan": bngan.__version__, "torch": "2.0", "threads": 4,
            "processor": "another machine", "device": "cpu (x86_64, 4 threads)", "elapsed_s": 2.5,
            "trained_at": "2026-12-07T10:00:00Z"}
    made.update(changes)
    return made


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A results folder of this test's own, read afresh."""
    where = tmp_path / "results"
    monkeypatch.setenv(results.RESULTS_ENV, str(where))
    monkeypatch.setattr(results, "_READ", {})
    monkeypatch.setattr(results, "_SAID", set())
    return where


def test_the_results_folder_is_the_repositorys_unless_bngan_results_names_another(monkeypatch, tmp_path):
    session = Path(__import__("os").environ[results.RESULTS_ENV])
    repository = Path(bngan.__file__).resolve().parents[2] / "results"
    assert session != repository and results.results_dir() == session  # the test session's own, temporary
    monkeypatch.delenv(results.RESULTS_ENV)
    assert results.results_dir() == repository
    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path))
    assert results.results_file("quick") == tmp_path / "quick.jsonl"
    assert results.results_file("larger") == tmp_path / "larger.jsonl"
    assert budget_name(larger("quick")) == "larger" and results.results_file(SMOKE).name == "smoke.jsonl"
    with pytest.raises(ValueError, match="budget must be one of quick, larger"):
        results.results_file("huge")


def test_the_ledger_reads_recorded_runs_on_an_empty_cache_and_trains_nothing(folder, tmp_path):
    a, b = [1.0, 1.2], [5.0, 5.5]
    results.write([row("blindspot:no-bn-shift", s, {"shift_x": v}) for s, v in enumerate(a)]
                  + [row("blindspot:bn-shift", s, {"shift_x": v}) for s, v in enumerate(b)], folder / "smoke.jsonl")
    empty = tmp_path / "runs"
    verdict, = ledger.evaluate([SHIFT], profile="smoke", root=empty)  # train=True: nothing is missing
    assert not any(empty.iterdir())
    direct = stats.compare(stats.Measured("blindspot:no-bn-shift", {"shift_x": dict(enumerate(a))}),
                           stats.Measured("blindspot:bn-shift", {"shift_x": dict(enumerate(b))}), "shift_x",
                           lower_is_better=False)
    assert verdict.results[0].comparison == direct
    runs = ledger._runs([SHIFT], SMOKE, root=empty, train=False)
    assert [(r.seed, r.origin) for r in runs["blindspot:bn-shift"]] == [(0, "recorded"), (1, "recorded")]
    assert ledger._unfinished([SHIFT], SMOKE, {"root": empty}) == {}


def test_a_recorded_arm_is_gated_by_its_recorded_threshold_without_the_dataset(folder, tmp_path, monkeypatch):
    def no_data(*args, **kwargs):
        raise AssertionError("the gate loaded the dataset")

    monkeypatch.setattr(learning, "reference_fids", no_data)
    rows = [row("table2:1", s, {"fid": v}, gate_threshold=300.0) for s, v in enumerate([400.0, 410.0])]
    rows += [row("table2:2", s, {"fid": v}, gate_threshold=300.0) for s, v in enumerate([200.0, 210.0])]
    results.write(rows, folder / "smoke.jsonl")
    verdict, = ledger.evaluate([FID], profile="smoke", root=tmp_path / "runs", train=False)
    assert verdict.results[0].outcome == "not tested"
    assert "table2:1 did not learn at this profile (0 of 2 seeds reached FID ≤ 300)" in verdict.verdict


def test_a_threshold_recorded_under_another_gate_rule_is_not_used(folder, tmp_path, monkeypatch):
    """A rule change must not leave old thresholds deciding: the row says which rule made it."""
    monkeypatch.setattr(learning, "reference_fids", lambda config, n=None: {learning.LEARNED_REFERENCE: 1000.0})
    rows = [row("table2:1", s, {"fid": v}, gate_threshold=300.0, gate_reference="0.8 of the mean image")
            for s, v in enumerate([400.0, 410.0])]
    rows += [row("table2:2", s, {"fid": v}, gate_threshold=300.0, gate_reference="0.8 of the mean image")
             for s, v in enumerate([200.0, 210.0])]
    results.write(rows, folder / "smoke.jsonl")
    verdict, = ledger.evaluate([FID], profile="smoke", root=tmp_path / "runs", train=False)
    assert verdict.results[0].outcome != "not tested"  # gated against today's rule (1000), where both learned


def test_a_row_that_fails_its_checks_is_named_by_file_and_line_and_skipped(folder, capsys):
    good = row("blindspot:bn-shift", 0, {"shift_x": 0.5, "mmd": None})
    lines = [json.dumps(good),
             json.dumps({k: v for k, v in good.items() if k != "status"}),
             json.dumps(row("blindspot:bn-shift", 1, {"shift_x": 0.5}, threads="four")),
             json.dumps(row("blindspot:bn-shift", 1, {"shift_x": 0.5}, hash="0123456789abcdef")),
             "{not json",
             json.dumps(row("blindspot:bn-shift", 1, {"shift_x": 0.5}, profile="quick")),
             json.dumps(row("blindspot:bn-shift", 1, {"shift_x": "high"})),
             json.dumps(dict(row("blindspot:bn-shift", 1, {"shift_x": 0.5}), experiment="blindspot:nothing"))]
    path = folder / "smoke.jsonl"
    path.parent.mkdir()
    path.write_text("\n".join(lines) + "\n")
    found = results.recorded(SMOKE)
    config = for_profile("blindspot:bn-shift", SMOKE)
    assert list(found) == [(config.hash(), 0)] and math.isnan(found[(config.hash(), 0)].metrics["mmd"])
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"{path}:2: no 'status'; skipped"
    assert err[1] == f"{path}:3: 'threads' must be int or null; got 'four'; skipped"
    assert err[2].startswith(f"{path}:4: config hash 0123456789abcdef is not blindspot:bn-shift's at smoke")
    assert err[3].startswith(f"{path}:5: not JSON")
    assert err[4] == f"{path}:6: profile 'quick' is not this file's 'smoke'; skipped"
    assert err[5] == f"{path}: 2 more rows skipped" and len(err) == 6
    results.recorded(SMOKE)
    assert capsys.readouterr().err == ""  # said once per version of the file


def test_recorded_runs_count_as_finished(folder, tmp_path):
    results.write([row("blindspot:no-bn-shift", s, {"shift_x": 1.0}) for s in (0, 1)], folder / "smoke.jsonl")
    assert ledger._unfinished([SHIFT], SMOKE, {"root": tmp_path / "runs"}) == {"7.3": (2, 4)}
    missing = results.lacking(ledger._plan([SHIFT], SMOKE), SMOKE, tmp_path / "runs")
    assert list(missing) == ["blindspot:bn-shift"] and missing["blindspot:bn-shift"].seeds == (0, 1)


def test_the_estimate_uses_finished_runs_of_the_same_experiment_else_a_stated_guess():
    config = for_profile("blindspot:bn-shift", SMOKE)
    timed = results.Lacking(config, (1,), (100.0, 120.0))
    untimed = results.Lacking(for_profile("blindspot:no-bn-shift", SMOKE), (0, 1), ())
    assert results.estimate({"a": timed}, SMOKE, 1) == (1, 110.0, "from the times of finished runs of the same "
                                                                 "experiments")
    runs, seconds, how = results.estimate({"a": timed, "b": untimed}, SMOKE, 2)
    assert runs == 3 and seconds == pytest.approx((110 + 2 * results.GUESS_SECONDS["smoke"]) / 2)
    assert how == "a guess of 3 s per run at smoke where no run of the experiment has finished"
    assert results.estimate({"a": timed, "b": results.Lacking(config, (1,), ())}, SMOKE)[0] == 1  # one run, two names
    big = larger("quick")
    assert results.guess_seconds(big) == pytest.approx(results.GUESS_SECONDS["quick"] * 4 * 2 ** 2)


def test_a_run_in_the_cache_and_the_results_is_read_from_the_cache_and_a_disagreement_named_once(folder, tmp_path,
                                                                                                  capsys):
    root = tmp_path / "runs"
    cached = {name: run_experiment(name, profile="smoke", root=root, progress=False)
              for name in ("blindspot:no-bn-shift", "blindspot:bn-shift")}
    rows = [results.row_for(run, name, SMOKE) for name, rs in cached.items() for run in rs]
    rows[0]["metrics"]["mmd"] += 1.0  # the recorded copy of no-bn-shift seed 0 says otherwise
    rows[0]["metrics"]["shift_x"] += 100.0
    results.write(rows, folder / "smoke.jsonl")
    capsys.readouterr()
    verdict, = ledger.evaluate([SHIFT], profile="smoke", root=root)
    ledger.evaluate([SHIFT], profile="smoke", root=root)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.match(r"blindspot:no-bn-shift seed 0: the cached run \(.*, 1 threads\) and the "
                                      r"recorded one \(smoke\.jsonl:\d+: .*, 1 threads\) differ \(mmd .*\); the "
                                      r"cached run is used$", err[0])
    direct = stats.compare(cached["blindspot:no-bn-shift"], cached["blindspot:bn-shift"], "shift_x",
                           lower_is_better=False)
    assert verdict.results[0].comparison == direct  # the cache's numbers, not the altered row's


def test_an_old_record_without_threads_or_trained_at_still_loads_and_exports(tmp_path):
    config = for_profile("blindspot:bn-shift", SMOKE)
    run = run_experiment(config, seeds=[0], root=tmp_path, progress=False).runs[0]
    assert run.record["threads"] >= 1 and re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", run.record["trained_at"])
    rd = RunDir(Path(run.path))
    record = rd.read_record()
    del record["threads"], record["trained_at"]
    rd.record_file.write_text(json.dumps(record))
    again = cached_run(config, 0, tmp_path)
    assert again is not None and again.config.hash() == config.hash()
    made = results.row_for(again, "blindspot:bn-shift", SMOKE)
    assert made["threads"] == int(record["versions"]["threads"]) and made["trained_at"].endswith("Z")


@pytest.mark.slow
def test_export_writes_every_finished_run_of_the_plan_and_merges_with_the_rows_there(folder, tmp_path, capsys):
    claims = [ledger.Claim("6.9", "grad", "003", 6, (ledger.Check("table2:1", "table2:2", "final_grad_d_bottom",
                                                                  "lower"),
                                                     ledger.Check("table2:1", "table2:2", "fid", "lower")))]
    root = tmp_path / "runs"
    sets = {name: run_experiment(name, profile="smoke", root=root, progress=False) for name in ("table2:1", "table2:2")}
    path = results.export(claims, profile="smoke", root=root)
    assert path == folder / "smoke.jsonl" and "4 runs at smoke (4 from the run cache, 0 kept)" in capsys.readouterr().out
    lines = path.read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [(r["experiment"], r["seed"]) for r in rows] == [("table2:1", 0), ("table2:1", 1), ("table2:2", 0),
                                                            ("table2:2", 1)]
    assert lines == [json.dumps(r, sort_keys=True, separators=(",", ":")) for r in rows]  # compact, sorted keys
    for r in rows:
        rs = sets[r["experiment"]]
        run = next(x for x in rs if x.seed == r["seed"])
        assert r["metrics"] == {k: (v if math.isfinite(v) else None) for k, v in run.metrics.items()}
        assert r["derived"]["final_grad_d_bottom"] == RunSet("x", rs.config, [run]).values("final_grad_d_bottom")[0]
        assert r["gate_threshold"] == learning.threshold_for(rs.config)
        assert (r["threads"], r["hash"], r["status"]) == (run.record["threads"], rs.config.hash(), "complete")
        assert r["bngan"] == bngan.__version__ and r["processor"] and r["trained_at"]
    # on an empty cache, the results give the verdicts the cache gives
    from_cache = ledger.evaluate(claims, profile="smoke", root=root, train=False)
    recorded = ledger.evaluate(claims, profile="smoke", root=tmp_path / "empty", train=False)
    assert [r.comparison for r in recorded[0].results] == [r.comparison for r in from_cache[0].results]
    assert not any((tmp_path / "empty").iterdir())
    # merging: a row the cache holds is replaced, a row it lacks is kept, a row of another config dropped
    kept = row("table2:1", 7, {"fid": 1.0})
    stale = row("table2:1", 8, {"fid": 1.0}, hash="0123456789abcdef")
    changed = dict(rows[0], metrics={**rows[0]["metrics"], "fid": -1.0})
    results.write([changed, kept, stale, *rows[1:]], path)
    capsys.readouterr()
    results.export(claims, profile="smoke", root=root)
    assert "5 runs at smoke (4 from the run cache, 1 kept, 1 unusable rows dropped)" in capsys.readouterr().out
    merged = [json.loads(line) for line in path.read_text().splitlines()]
    assert merged == sorted([*rows, kept], key=lambda r: (r["experiment"], r["seed"], r["hash"]))


def test_recorded_first_reads_the_rows_without_opening_the_cache(folder, tmp_path, monkeypatch):
    """What chapter tables use for the other chapters' claims: the committed row is read as it
    is (here it differs from the cache, so the numbers show which one was read) and no run
    folder is opened."""
    root = tmp_path / "runs"
    cached = {name: run_experiment(name, profile="smoke", root=root, progress=False)
              for name in ("blindspot:no-bn-shift", "blindspot:bn-shift")}
    rows = [results.row_for(run, name, SMOKE) for name, rs in cached.items() for run in rs]
    rows[0]["metrics"]["shift_x"] += 100.0
    results.write(rows, folder / "smoke.jsonl")

    def no_cache(*args, **kwargs):
        raise AssertionError("the cache was opened")

    monkeypatch.setattr(ledger, "cached_run", no_cache)
    verdict, = ledger.evaluate([SHIFT], profile="smoke", root=root, train=False, recorded_first=True)
    baseline = verdict.results[0].comparison.mean_a
    recorded = [r["metrics"]["shift_x"] for r in rows if r["experiment"] == "blindspot:no-bn-shift"]
    assert baseline == pytest.approx(sum(recorded) / len(recorded))
