"""The background trainer: what the cache and the committed results lack is trained, one
experiment at a time, and exported after each; a second pass trains nothing."""

from __future__ import annotations

import json

import pytest

from bngan import background, ledger, results
from bngan.profiles import get_profile

CLAIM = ledger.Claim("7.3", "drift", "001", 7,
                     (ledger.Check("blindspot:no-bn-shift", "blindspot:bn-shift", "shift_x", "higher"),))


@pytest.mark.slow
def test_the_background_trains_what_is_missing_exports_it_and_resumes_with_nothing(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "results"
    monkeypatch.setenv("BNGAN_RESULTS", str(folder))
    smoke = get_profile("smoke")
    assert background.train_and_export([CLAIM], smoke, workers=1, root=tmp_path / "runs", budget="smoke") == 4
    rows = [json.loads(line) for line in (folder / "smoke.jsonl").read_text().splitlines()]
    assert sorted((r["experiment"], r["seed"]) for r in rows) == [
        ("blindspot:bn-shift", 0), ("blindspot:bn-shift", 1), ("blindspot:no-bn-shift", 0), ("blindspot:no-bn-shift", 1)]
    assert background.train_and_export([CLAIM], smoke, workers=1, root=tmp_path / "runs", budget="smoke") == 0
    out = capsys.readouterr().out
    assert "smoke: 4 run(s) to train in 2 experiment(s)" in out and "smoke: 0 run(s) to train" in out
    (folder / "smoke.jsonl").unlink()  # a trainer stopped before its export: the runs are in the cache only
    assert background.train_and_export([CLAIM], smoke, workers=1, root=tmp_path / "runs", budget="smoke",
                                       train=False) == 0
    again = [json.loads(line) for line in (folder / "smoke.jsonl").read_text().splitlines()]
    assert sorted((r["experiment"], r["seed"]) for r in again) == sorted((r["experiment"], r["seed"]) for r in rows)


def test_the_background_refuses_an_unknown_stage():
    with pytest.raises(ValueError, match="stage must be one of pilot, larger, confirmation"):
        background.run_stage("all", get_profile("smoke"), workers=1)


def test_a_stage_trains_the_claims_lacking_fewest_runs_first(tmp_path, monkeypatch):
    """A claim decides nothing until all its runs are in: of a 2-seed and a 5-seed claim, the
    smaller goes first whatever the ledger's order; equal needs keep that order."""
    monkeypatch.setenv("BNGAN_RESULTS", str(tmp_path / "results"))
    smoke = get_profile("smoke")
    big = ledger.Claim("7.1", "wide", "001", 7, (ledger.Check("blindspot:no-bn", "blindspot:bn", "mmd", "lower"),))
    seeds = {"7.1": range(5), "7.3": range(2)}
    order = background.smallest_first([big, CLAIM], smoke, lambda c: seeds[c.key], root=tmp_path / "runs")
    assert [c.key for c in order] == ["7.3", "7.1"]
    seeds["7.1"] = range(2)
    assert [c.key for c in background.smallest_first([big, CLAIM], smoke, lambda c: seeds[c.key],
                                                     root=tmp_path / "runs")] == ["7.1", "7.3"]
