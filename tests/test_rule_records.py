"""Recorded rule values: a checkout without the run files decides the claims whose rules read
them from a committed record, and only from a record of exactly the runs it plans."""

from __future__ import annotations

import json
import math

import pytest

from bngan import rules
from bngan.evidence import rule_records
from bngan.profiles import get_profile
from bngan.stats import Measured

from test_rules import CLAIM, toy_runs

SMOKE = get_profile("smoke")


@pytest.fixture
def results_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("BNGAN_RESULTS", str(tmp_path))
    monkeypatch.setattr(rules, "_DONE", {})
    return tmp_path


def recorded_runs(seeds=(0, 1, 2)):
    """Heuristics:dcgan-bn's runs as the committed results give them: numbers, no weights."""
    return {"heuristics:dcgan-bn": toy_runs("x", {s: {"recon_mse": 0.1} for s in seeds}, name="heuristics:dcgan-bn")}


def test_a_rules_values_survive_the_record_nan_and_identities_included():
    values = {"rule:a": Measured("a", {"recon_mse": {0: 0.5, 1: math.nan}}, n_diverged=1),
              "rule:b": rules.Identity(True, "largest difference 1e-7")}
    back = rules.from_record(json.loads(json.dumps(rules.to_record(values))))
    assert back["rule:a"].by_seed("recon_mse") == {0: 0.5}  # a NaN reads as missing, as before
    assert back["rule:a"].n_diverged == 1 and back["rule:a"].label == "a"
    assert back["rule:b"] == values["rule:b"]


def test_a_record_stands_in_for_missing_files_only_for_the_same_runs(results_folder):
    claim, runs = CLAIM["9.5"], recorded_runs()
    with pytest.raises(rules.Waiting):  # no files, no record
        rules.computed(claim, runs, SMOKE)
    values = {"rule:first half": Measured("unit", {"recon_mse": {0: 1.0, 1: 1.0, 2: 1.0}}),
              "rule:second half": Measured("ratio", {"recon_mse": {0: 1.02, 1: 0.97, 2: 1.01}})}
    record = {"rule": claim.rule, "code": "an older rule", "runs": rules.read_from(claim, runs),
              "values": rules.to_record(values)}
    rule_records.write({claim.key: record}, SMOKE)
    with pytest.raises(rules.Waiting):  # made by another version of the rule: not read
        rules.computed(claim, runs, SMOKE)
    rule_records.write({claim.key: {**record, "code": rules.code_of(claim.rule)}}, SMOKE)
    assert (results_folder / "rules-smoke.json").is_file()
    found = rules.computed(claim, runs, SMOKE)
    assert found["rule:second half"].by_seed("recon_mse") == {0: 1.02, 1: 0.97, 2: 1.01}
    # another set of seeds (or another config hash: the signature names both) is not these runs
    rules._DONE.clear()
    with pytest.raises(rules.Waiting):
        rules.computed(claim, recorded_runs((0, 1, 3)), SMOKE)
    moved = [(name, "0" * 16, seed) for name, _, seed in rules.read_from(claim, runs)]
    assert rule_records.lookup(claim.key, rule_records.signature(moved), SMOKE) is None


def test_a_broken_records_file_is_named_in_one_line(results_folder):
    (results_folder / "rules-smoke.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"rules-smoke\.json: not valid JSON.*export --rules"):
        rule_records.read(SMOKE)
    (results_folder / "rules-smoke.json").write_text(json.dumps({"9.5": {"values": {}}}))
    with pytest.raises(ValueError, match="'runs' and 'values'"):
        rule_records.read(SMOKE)
