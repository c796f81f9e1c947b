"""A sweep's runs in worker processes (bngan.workers): two workers give the runs one process
gives, bitwise, at the same recorded thread count; one bar and one line per run; a failed run
is named and the sweep goes on; the thread count is set around each run in this process and
put back; a bad ``workers`` stops before anything trains."""

from __future__ import annotations

import os
import re

import pytest
import torch

from bngan import cli, ledger, workers
from bngan.cluster import Sweep
from bngan.runs import run_dir
from bngan.runsets import run_experiment, run_series
from bngan.train import cached_run

from test_cluster import same_run, tiny


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_workers_must_be_a_positive_integer_before_anything_trains(tmp_path, bad):
    for call in (lambda: run_experiment(tiny(), seeds=[0], root=tmp_path, progress=False, workers=bad),
                 lambda: run_series({"a": tiny()}, seeds=[0], root=tmp_path, progress=False, workers=bad),
                 lambda: ledger.evaluate(profile="smoke", root=tmp_path, workers=bad)):
        with pytest.raises(ValueError, match=r"^workers must be a positive integer .*got "):
            call()
    assert not any(tmp_path.iterdir())


def test_the_command_line_refuses_a_bad_worker_count_on_one_line(tmp_path, capsys):
    assert cli.main(["run", "blindspot:no-bn", "--profile", "smoke", "--root", str(tmp_path), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "workers must be a positive integer" in err
    assert not any(tmp_path.iterdir())


def test_the_default_is_one_worker_per_core_on_a_cpu_and_one_on_a_gpu(monkeypatch):
    monkeypatch.delenv(workers.WORKERS_ENV, raising=False)
    monkeypatch.setattr(workers, "cores", lambda: 4)
    assert workers.resolve_workers(None, torch.device("cpu")) == 4
    assert workers.resolve_workers(None, torch.device("cuda")) == 1
    assert workers.resolve_workers(3, torch.device("cuda")) == 3
    assert [workers.threads_per_run(n) for n in (1, 2, 3, 4, 8)] == [4, 2, 1, 1, 1]
    monkeypatch.setenv(workers.WORKERS_ENV, "2")
    assert workers.resolve_workers(None, torch.device("cpu")) == 2
    monkeypatch.setenv(workers.WORKERS_ENV, "many")
    with pytest.raises(ValueError, match="BNGAN_WORKERS must be a positive integer; got 'many'"):
        workers.resolve_workers(None, torch.device("cpu"))


def test_cores_are_at_most_torchs_threads():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert workers.cores() == 1
    finally:
        torch.set_num_threads(before)


def test_a_run_trained_in_this_process_gets_the_sweeps_thread_count_and_the_count_is_put_back(tmp_path, monkeypatch):
    monkeypatch.setattr(workers, "cores", lambda: 2)
    before = torch.get_num_threads()
    seen = []
    real = workers._train_unit

    def spy(*args):
        seen.append(torch.get_num_threads())
        return real(*args)

    monkeypatch.setattr(workers, "_train_unit", spy)
    runs = run_experiment(tiny(name="tiny-threads"), seeds=[0], root=tmp_path, progress=False, workers=2)
    assert seen == [1]  # one missing run: trained here, with the thread count a worker would use
    assert runs.runs[0].record["threads"] == 1 and torch.get_num_threads() == before
    with workers.run_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


@pytest.mark.slow
def test_a_sweep_trained_by_two_workers_is_the_sweep_trained_in_process_bitwise(tmp_path, capsys):
    series = {"a": tiny(name="tiny-a"), "b": tiny(name="tiny-b", steps=6)}
    local = run_series(series, seeds=[0, 1], root=tmp_path / "local", progress=False, workers=1)
    pooled = run_series(series, seeds=[0, 1], root=tmp_path / "pool", progress=True, workers=2)
    for label in series:
        assert [r.seed for r in pooled[label].runs] == [0, 1]
        for a, b in zip(local[label].runs, pooled[label].runs):
            same_run(a, b)
            assert a.record["threads"] == b.record["threads"] == 1
    printed = capsys.readouterr()
    lines = [line for line in printed.out.splitlines() if ": trained in process " in line]
    assert len(lines) == 4 and all(re.search(r"seed [01]: trained in process \d+ \([68] steps, \d+ s, 1 thread\)$",
                                             line) for line in lines)
    assert {int(re.search(r"process (\d+)", line).group(1)) for line in lines}.isdisjoint({os.getpid()})
    bars = re.findall(r"runs in (\d+) worker\(s\): +\d+%\|[^|]*\| (\d+)/(\d+) ", printed.err)
    assert {(n, total) for n, _, total in bars} == {("2", "4")} and ("2", "4", "4") in bars  # one bar over 4 runs
    again = run_series(series, seeds=[0, 1], root=tmp_path / "pool", progress=True, workers=2)
    assert all(r.origin == "cached" for rs in again.values() for r in rs.runs)
    assert capsys.readouterr().out.count(": cached") == 4


@pytest.mark.slow
def test_a_failed_run_in_a_worker_is_named_with_its_error_and_the_sweep_goes_on(tmp_path, capsys):
    good, bad = tiny(name="tiny-good"), tiny(name="tiny-bad", steps=6)
    run_dir(bad, 0, tmp_path).path.write_text("a file where the run folder goes: the worker cannot train")
    failed = workers.train_in_processes([Sweep("bad", bad, (0,)), Sweep("good", good, (0, 1))], 2, root=tmp_path)
    assert list(failed) == [(bad.hash(), 0)] and "is a file, not a folder" in failed[(bad.hash(), 0)]
    assert cached_run(good, 0, tmp_path) is not None and cached_run(good, 1, tmp_path) is not None
    printed = capsys.readouterr()
    assert re.search(r"bad seed 0: failed: [\w.]*RunsFolderError: run folder .* is a file, not a folder", printed.err)
    assert "good seed 1: trained in process " in printed.out


def test_names_that_share_a_config_train_its_run_once(tmp_path, monkeypatch):
    config = tiny(name="tiny-shared")
    calls = []
    real = workers._train_unit
    monkeypatch.setattr(workers, "_train_unit", lambda *args: calls.append(args[1]) or real(*args))
    failed = workers.train_in_processes([Sweep("x", config, (0,)), Sweep("y", config.vary(name="other"), (0,))], 1,
                                        root=tmp_path, progress=False)
    assert failed == {} and calls == [[0]] and cached_run(config, 0, tmp_path) is not None


def test_a_sweep_whose_runs_are_all_cached_starts_no_worker(tmp_path, monkeypatch, capsys):
    config = tiny(name="tiny-cached")
    run_experiment(config, seeds=[0, 1], root=tmp_path, progress=False, workers=1)

    def refuse(*args, **kwargs):
        raise AssertionError("a worker pool was started")

    monkeypatch.setattr(workers, "ProcessPoolExecutor", refuse)
    again = run_experiment(config, seeds=[0, 1], root=tmp_path, progress=True, workers=2)
    assert [(r.seed, r.origin) for r in again] == [(0, "cached"), (1, "cached")]
    assert capsys.readouterr().out.splitlines() == ["tiny-cached seed 0: cached", "tiny-cached seed 1: cached"]
    assert set(run_series({"a": config}, seeds=[0, 1], root=tmp_path, progress=False, workers=2)) == {"a"}
