"""Sweeps on Ray (bngan.cluster): a run trained by a Ray task is the run trained locally,
bitwise; only the runs the cache lacks are submitted; a worker killed mid-run is retried and
still gives the local run; both ways results come back (a shared runs folder, runs shipped to
the driver); bad input stops before anything trains. The Ray tests run on a local 2-CPU Ray
(`pip install "bngan[ray]"`; skipped where Ray is not installed)."""

from __future__ import annotations

import builtins
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import torch

from bngan import cluster
from bngan.cluster import ClusterError, Ray, Sweep, as_backend, train_on_ray
from bngan.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from bngan.runs import finished_runs, run_dir
from bngan.runsets import run_experiment, run_series
from bngan.train import cached_run, train_run


def tiny(name: str = "tiny-ray", steps: int = 8, **changes) -> ExperimentConfig:
    """A tiny DCGAN on the digits sklearn ships (BN, dropout and noisy labels: all draw random numbers)."""
    config = ExperimentConfig(
        name=name,
        data=DataConfig(kind="image", dataset="digits", image_size=16, n_train=64, n_test=8),
        model=ModelConfig(arch="keras", latent_dim=8, g_filters=(8, 8), d_filters=(8, 8, 8, 8), dropout=0.25),
        train=TrainConfig(steps=steps, batch_size=8, real_label=(0.7, 1.0), fake_label=(0.0, 0.3), flip_prob=0.05,
                          log_every=1, sample_every=4, n_samples=4, eval_every=0, recon_steps=2,
                          recon_final_steps=2, checkpoint_every=20),
    )
    return config.vary(**changes) if changes else config


def same_run(a, b) -> None:
    """Two runs of one config and seed hold identical weights, history and samples."""
    assert a.config.hash() == b.config.hash() and a.seed == b.seed
    for net in ("g", "d"):
        wa, wb = a.weights()[net], b.weights()[net]
        assert wa.keys() == wb.keys()
        for key in wa:
            assert torch.equal(wa[key], wb[key]), f"{net}.{key} differs"
    for column, values in a.history.items():
        assert torch.equal(torch.as_tensor(values), torch.as_tensor(b.history[column])), column
    assert torch.equal(a.samples, b.samples)
    assert a.metrics == b.metrics


# --------------------------------------------------------------------------- no Ray needed


def test_backend_names_are_checked():
    assert as_backend("local") is None
    assert as_backend("ray") == Ray()
    given = Ray(address="auto", results="ship")
    assert as_backend(given) is given
    with pytest.raises(ValueError, match="backend must be 'local', 'ray'"):
        as_backend("slurm")
    with pytest.raises(ValueError, match="results must be one of auto, shared, ship"):
        Ray(results="nfs")
    with pytest.raises(ValueError, match="cpus_per_task"):
        Ray(cpus_per_task=0)
    with pytest.raises(ValueError, match="address must be"):
        Ray(address="")


def test_without_ray_the_error_says_how_to_install_it_and_nothing_trains(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ClusterError, match=r'pip install "bngan\[ray\]"'):
        run_experiment(tiny(), seeds=[0], root=tmp_path, backend="ray", progress=False)
    assert not any(tmp_path.iterdir())


def test_an_unreachable_cluster_is_one_line_naming_its_address(monkeypatch):
    monkeypatch.setattr(cluster, "_check_reachable", lambda ray, address: None)  # a port that answers: init decides

    class Unreachable:
        @staticmethod
        def is_initialized():
            return False

        @staticmethod
        def init(**options):
            raise ConnectionError(f"Could not connect to {options['address']}\nretried 5 times")

    with pytest.raises(ClusterError, match=r"cannot start or reach the Ray cluster at 'ray://nowhere:1': "
                                           r"Could not connect to ray://nowhere:1$"):
        cluster._connect(Unreachable, Ray(address="ray://nowhere:1"))


def test_bad_seeds_and_devices_are_refused_before_ray_is_touched(tmp_path):
    with pytest.raises(ValueError, match="seed"):
        train_on_ray([Sweep("x", tiny(), (0, 0))], Ray(), root=tmp_path)
    with pytest.raises(ValueError, match="device must be None, 'cpu' or 'cuda'"):
        train_on_ray([Sweep("x", tiny(), (0,))], Ray(), root=tmp_path, device="cuda:7")


def test_a_shipped_run_lands_whole_and_an_earlier_partial_attempt_is_kept_aside(tmp_path):
    config = tiny(name="tiny-ship")
    made = train_run(config, 0, root=tmp_path / "worker", progress=False)
    files = {name: (Path(made.path) / name).read_bytes() for name in cluster.SHIPPED}
    target = run_dir(config, 0, tmp_path / "driver")
    target.path.mkdir(parents=True)
    (target.path / "checkpoint.pt").write_bytes(b"an interrupted attempt")
    landed = cluster.receive(config, {"seed": 0, "files": files}, str(tmp_path / "driver"))
    same_run(cached_run(config, 0, tmp_path / "driver"), made)
    assert not (landed / "checkpoint.pt").exists()
    aside = [p for p in (tmp_path / "driver").iterdir() if ".damaged-" in p.name]
    assert len(aside) == 1 and (aside[0] / "checkpoint.pt").read_bytes() == b"an interrupted attempt"
    assert not [p for p in (tmp_path / "driver").iterdir() if p.name.startswith(".incoming-")]
    with pytest.raises(ValueError, match="must bring record.json"):
        cluster.receive(config, {"seed": 1, "files": {"weights.pt": b""}}, str(tmp_path / "driver"))


def test_the_command_line_asks_for_ray_with_an_optional_address(capsys):
    from bngan import cli

    parse = cli.build_parser().parse_args
    assert cli._backend(parse(["run", "table2:1"])) == "local"
    assert cli._backend(parse(["run", "table2:1", "--ray"])) == Ray()
    assert cli._backend(parse(["verdicts", "--ray", "auto", "--ray-results", "ship"])) == Ray(address="auto",
                                                                                             results="ship")
    assert cli.main(["run", "table2:1", "--ray-results", "ship"]) == 2
    assert "--ray-results needs --ray" in capsys.readouterr().err


# --------------------------------------------------------------------------- on a local Ray


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.mark.parametrize("results", ["shared", "ship"])
def test_a_series_trained_on_ray_is_the_local_series_bitwise(local_ray, tmp_path, results):
    series = {"a": tiny(name="tiny-a"), "b": tiny(name="tiny-b", routine="separate")}
    remote = run_series(series, seeds=[0, 1], root=tmp_path / "ray", progress=False,
                        backend=Ray(results=results))
    local = run_series(series, seeds=[0, 1], root=tmp_path / "local", progress=False)
    for label in series:
        assert [r.seed for r in remote[label].runs] == [0, 1]
        for a, b in zip(remote[label].runs, local[label].runs):
            same_run(a, b)
    if results == "ship":
        scratch = cluster.scratch_root(str((tmp_path / "ray").resolve()))
        assert not any(scratch.iterdir())  # shipped runs leave nothing behind on the worker


def test_only_the_runs_the_cache_lacks_are_submitted(local_ray, tmp_path, monkeypatch):
    config = tiny(name="tiny-missing")
    first = train_run(config, 0, root=tmp_path, progress=False)
    before = (Path(first.path) / "record.json").stat().st_mtime_ns
    submitted = []
    real_units = cluster.units

    def spy(sweeps, **options):
        found = real_units(sweeps, **options)
        submitted.extend((s.label, s.seeds) for s in found)
        return found

    monkeypatch.setattr(cluster, "units", spy)
    runs = run_experiment(config, seeds=[0, 1, 2], root=tmp_path, progress=False, backend="ray")
    assert submitted == [("tiny-missing", (1,)), ("tiny-missing", (2,))]
    assert [r.seed for r in runs.runs] == [0, 1, 2]
    assert (Path(first.path) / "record.json").stat().st_mtime_ns == before
    submitted.clear()
    run_experiment(config, seeds=[0, 1, 2], root=tmp_path, progress=False, backend="ray")
    assert submitted == []  # a finished sweep sends nothing again


def test_a_gpu_task_on_a_cluster_without_gpus_is_refused_before_training(local_ray, tmp_path):
    with pytest.raises(ClusterError, match="the Ray cluster has none"):
        run_experiment(tiny(name="tiny-gpu"), seeds=[0], root=tmp_path, device="cuda", backend="ray",
                       progress=False)
    assert finished_runs(tmp_path) == []


def test_a_worker_killed_mid_run_is_retried_and_gives_the_local_run(local_ray, tmp_path):
    config = tiny(name="tiny-killed", steps=400, checkpoint_every=100)
    lock = run_dir(config, 0, tmp_path).lock_file
    sweep = threading.Thread(target=run_experiment, args=(config,),
                             kwargs=dict(seeds=[0], root=tmp_path, progress=False, backend="ray"))
    sweep.start()
    deadline = time.monotonic() + 120
    while not lock.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    holder = json.loads(lock.read_text())["pid"]
    assert holder != os.getpid()  # the lock is the Ray worker's
    os.kill(holder, signal.SIGKILL)
    sweep.join(timeout=300)
    assert not sweep.is_alive()
    remote = cached_run(config, 0, tmp_path)
    assert remote is not None and remote.record["status"] == "complete"
    local = train_run(config, 0, root=tmp_path / "local", progress=False)
    same_run(remote, local)


def test_a_failed_run_is_named_with_the_remote_error_and_the_sweep_goes_on(local_ray, tmp_path, capsys):
    good, bad = tiny(name="tiny-good"), tiny(name="tiny-bad", steps=6)  # two configs: names sharing one share its run
    run_dir(bad, 0, tmp_path).path.write_text("a file where the run folder goes: the worker cannot train")
    failed = train_on_ray([Sweep("bad", bad, (0,)), Sweep("good", good, (0,))], Ray(), root=tmp_path)
    assert list(failed) == [(bad.hash(), 0)] and "is a file, not a folder" in failed[(bad.hash(), 0)]
    assert cached_run(good, 0, tmp_path) is not None
    printed = capsys.readouterr()
    assert "bad seed 0: failed on the cluster:" in printed.err and "is a file, not a folder" in printed.err
    assert "good seed 0: trained on node " in printed.out


def test_an_address_where_nothing_answers_is_one_line_before_ray_init_is_called():
    """``ray.init`` waits without end on an address where nothing listens (issue 46): the port is
    tried first, and a refused or silent one is named at once."""
    import socket

    class NeverCalled:
        @staticmethod
        def is_initialized():
            return False

        @staticmethod
        def init(**options):
            raise AssertionError("ray.init was called for an address where nothing answers")

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        started = time.monotonic()
        with pytest.raises(ClusterError, match=rf"cannot reach the Ray cluster at '{address}': nothing answers") as err:
            cluster._connect(NeverCalled, Ray(address=address))
        assert time.monotonic() - started < 30 and "\n" not in str(err.value)


@pytest.mark.slow
def test_the_command_line_names_an_unreachable_ray_address_within_30_s(tmp_path):
    pytest.importorskip("ray")
    import subprocess
    import sys

    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "bngan.cli", "run", "blindspot:no-bn", "--profile", "smoke",
                             "--seeds", "0", "--root", str(tmp_path), "--ray", "127.0.0.1:1"],
                            capture_output=True, text=True, timeout=120)
    assert time.monotonic() - started < 30
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "'127.0.0.1:1'" in result.stderr
