"""`bngan verdicts` trains nothing unless asked (`--train`): it says how many runs are missing
and about how long they would take, decides the claims whose runs exist (in the run cache or
the committed results) and marks the others unfinished; `--seeds` reaches the plan and the
verdicts; `bngan results export` writes a results file."""

from __future__ import annotations

import json

import pytest

from bngan import cli, ledger, results, trainer, workers
from bngan.profiles import get_profile

from test_results import row

SMOKE = get_profile("smoke")
CHAPTER7 = [c for c in ledger.CLAIMS if c.chapter == 7]


@pytest.fixture
def no_training(monkeypatch):
    """Any training, here or in a worker process, fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("something was trained")

    monkeypatch.setattr(trainer.Trainer, "__init__", refuse)
    monkeypatch.setattr(workers, "ProcessPoolExecutor", refuse)


@pytest.fixture
def folder(tmp_path, monkeypatch):
    where = tmp_path / "results"
    monkeypatch.setenv(results.RESULTS_ENV, str(where))
    monkeypatch.setattr(results, "_READ", {})
    return where


def distinct_runs(seeds=None) -> int:
    plan = ledger._plan(CHAPTER7, SMOKE, seeds)
    return len({(config.hash(), s) for config, chosen in plan.values() for s in chosen})


def test_verdicts_without_train_says_what_is_missing_decides_what_exists_and_trains_nothing(
        tmp_path, folder, no_training, capsys):
    recorded = [row(name, s, {"shift_x": v + s, "mmd": 0.1})
                for name, v in (("blindspot:no-bn-shift", 1.0), ("blindspot:bn-shift", 5.0)) for s in (0, 1)]
    results.write(recorded, folder / "smoke.jsonl")
    root = tmp_path / "runs"
    assert cli.main(["verdicts", "--chapter", "7", "--profile", "smoke", "--root", str(root), "--workers", "2"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    missing = distinct_runs() - 4
    assert lines[0] == (f"{missing} run(s) at smoke are in neither the run cache nor the committed results; training "
                        f"them would take about {missing * results.GUESS_SECONDS['smoke'] / 2:.0f} s on 2 worker(s) "
                        f"(a guess of 3 s per run at smoke); `bngan verdicts --train` trains them")
    rows = {line.split()[0]: line for line in lines if line[:1].isdigit() and "." in line.split()[0]}
    assert list(rows) == [c.key for c in CHAPTER7]
    assert "unfinished" not in rows["7.3"] and "shift along x" in rows["7.3"]  # decided from the committed results
    assert "unfinished (0 of 4 runs)" in rows["7.5"]
    assert "unfinished" not in rows["7.4"] and "reproduced" in rows["7.4"]  # an identity: no runs to wait for
    assert f", {len(CHAPTER7) - 2} unfinished" in out and "directional comparisons" in out
    assert not any(root.iterdir())


def test_verdicts_reads_the_seeds_it_is_given(tmp_path, folder, no_training, monkeypatch, capsys):
    recorded = [row(name, 3, {"shift_x": v, "mmd": 0.1})
                for name, v in (("blindspot:no-bn-shift", 1.0), ("blindspot:bn-shift", 5.0))]
    results.write(recorded, folder / "smoke.jsonl")
    asked = []
    real = ledger.evaluate
    monkeypatch.setattr(ledger, "evaluate", lambda claims, **options: asked.append(options["seeds"]) or
                        real(claims, **options))
    assert cli.main(["verdicts", "--chapter", "7", "--profile", "smoke", "--root", str(tmp_path / "runs"),
                     "--seeds", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{distinct_runs([3]) - 2} run(s) at smoke are in neither")  # one seed per experiment
    rows = {line.split()[0]: line for line in out.splitlines() if line[:1].isdigit() and "." in line.split()[0]}
    assert "unfinished (0 of 2 runs)" in rows["7.5"] and "not enough seeds" in rows["7.3"]
    assert asked == [[3]]  # the verdicts read seed 3, the one the results hold


def test_results_export_writes_the_file_it_is_given(tmp_path, capsys):
    target = tmp_path / "q.jsonl"
    assert cli.main(["results", "export", "--profile", "quick", "--root", str(tmp_path / "runs"),
                     "--path", str(target)]) == 0
    assert target.read_text() == "" and f"{target}: 0 runs at quick" in capsys.readouterr().out
    assert cli.main(["results", "export", "--profile", "larger", "--root", str(tmp_path / "runs"),
                     "--path", str(target)]) == 0
    assert "0 runs at quick x4 steps x2 width" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["results", "export", "--profile", "huge"])


def test_the_committed_results_are_valid_sorted_and_small():
    """The repository's results files, read on purpose: every row usable in this checkout."""
    import os
    from pathlib import Path

    import bngan
    from bngan.plan import budget_profile

    folder = Path(bngan.__file__).resolve().parents[2] / "results"
    files = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    if not files:
        pytest.skip("no committed results in this checkout")
    for path in files:
        assert path.stat().st_size < 5e6, path
        found, problems = results.read(path, budget_profile(path.stem))
        assert problems == [] and os.environ[results.RESULTS_ENV] != str(folder)
        lines = path.read_text().splitlines()
        rows = [json.loads(line) for line in lines]
        assert rows == sorted(rows, key=lambda r: (r["experiment"], r["seed"], r["hash"])) and len(found) == len(rows)
