"""One run cache with readable folder names (issue 22, item 3): the default runs root is
``runs/`` in the dataset cache whatever the working folder, ``BNGAN_RUNS`` and ``--root``
override it; a run folder is ``<experiment>-<hash>-seed<k>`` with the name made safe, and
an existing folder of the same hash and seed (another name's, or a legacy ``<hash>-seed<k>``)
is found and loaded instead of retrained, never one of another seed."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from bngan import cli, data
from bngan.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from bngan.experiments import get_experiment
from bngan.runs import NAME_PREFIX_CHARS, RunDir, run_dir, runs_root, safe_run_name
from bngan.train import train_run

SAFE = re.compile(r"[A-Za-z0-9._-]+")


def toy(name: str = "toy:a") -> ExperimentConfig:
    return ExperimentConfig(
        name=name, data=DataConfig(kind="toy", toy="gaussian", toy_samples=64),
        model=ModelConfig(arch="mlp", latent_dim=2, width=8, depth=2, norm="batch", norm_in="both"),
        train=TrainConfig(steps=4, batch_size=8, log_every=1, sample_every=2, checkpoint_every=2),
    )


def folders(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir())


@pytest.fixture
def no_env(monkeypatch, tmp_path):
    """No BNGAN_RUNS / BNGAN_DATA / XDG_CACHE_HOME, HOME a temporary folder, and the working
    folder another one, so nothing can reach the real home or the repository."""
    for variable in ("BNGAN_RUNS", "BNGAN_DATA", "XDG_CACHE_HOME"):
        monkeypatch.delenv(variable, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return home


# ---------------------------------------------------------------- the default runs root


def test_without_env_the_runs_root_is_runs_in_the_user_data_cache(no_env):
    expected = no_env / ".cache" / "bngan" / "runs"
    assert Path.home() == no_env
    assert runs_root() == expected == data.default_data_root() / "runs" and expected.is_dir()
    assert not (Path.cwd() / "runs").exists()


def test_the_default_follows_xdg_cache_home_and_bngan_data_like_the_data_cache(no_env, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert runs_root() == tmp_path / "xdg" / "bngan" / "runs" == data.data_root() / "runs"
    monkeypatch.setenv("BNGAN_DATA", str(tmp_path / "shared"))
    assert runs_root() == tmp_path / "shared" / "runs" == data.data_root() / "runs"
    assert not (no_env / ".cache").exists()  # the real-home default was never made


def test_bngan_runs_and_an_explicit_root_override_the_default(no_env, monkeypatch, tmp_path):
    monkeypatch.setenv("BNGAN_RUNS", str(tmp_path / "env-runs"))
    assert runs_root() == tmp_path / "env-runs"
    assert runs_root(tmp_path / "explicit") == tmp_path / "explicit"
    assert not (no_env / ".cache").exists()


def test_cli_runs_into_the_default_cache_from_any_folder_and_root_overrides_it(no_env, monkeypatch, tmp_path,
                                                                               capsys):
    monkeypatch.setenv("BNGAN_DATA", str(tmp_path / "cache"))
    argv = ["run", "blindspot:no-bn", "--profile", "smoke", "--seeds", "0"]
    assert cli.main(argv) == 0
    key = get_experiment("blindspot:no-bn", "smoke").hash()
    assert folders(tmp_path / "cache" / "runs") == [f"blindspot_no-bn-{key}-seed0"]
    assert not (Path.cwd() / "runs").exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # another working folder: the same cache, so nothing is trained
    capsys.readouterr()
    assert cli.main(argv) == 0 and capsys.readouterr().out.startswith("blindspot:no-bn seed 0: cached")
    monkeypatch.setenv("BNGAN_RUNS", str(tmp_path / "env-runs"))
    assert cli.main([*argv, "--root", str(tmp_path / "flag-runs")]) == 0
    assert folders(tmp_path / "flag-runs") == [f"blindspot_no-bn-{key}-seed0"]
    assert not (tmp_path / "env-runs").exists() or not folders(tmp_path / "env-runs")


def test_cli_help_states_the_default(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "$BNGAN_DATA/runs" in help_text and "~/.cache/bngan/runs" in help_text and "./runs" not in help_text


# ---------------------------------------------------------------- readable, safe names


@pytest.mark.parametrize("name,prefix", [("table2:10", "table2_10"),
                                         ("onesided:combined-both", "onesided_combined-both"),
                                         ("kernel:k3-table1", "kernel_k3-table1")])
def test_a_new_run_folder_is_the_safe_name_then_hash_then_seed(tmp_path, name, prefix):
    config = toy(name)
    rd = run_dir(config, 3, tmp_path)
    assert rd.path == tmp_path.resolve() / f"{prefix}-{config.hash()}-seed3"
    assert not rd.path.exists()  # run_dir names the folder; training makes it


@pytest.mark.parametrize("name", ["../../victim", "a/b/../c", "..", ".", "/etc/passwd", "with space:and colon",
                                  "c:\\evil\\..", "", "ünïcode:名前", "x" * 500, "-leading-dash", "\0nul"])
def test_no_name_escapes_the_runs_root(tmp_path, name):
    root = tmp_path / "runs"
    rd = run_dir(toy(name), 0, root)
    prefix = rd.path.name[: -len(f"-{toy().hash()}-seed0")]
    assert rd.path.parent == root.resolve() and SAFE.fullmatch(rd.path.name)
    assert 0 < len(prefix) <= NAME_PREFIX_CHARS and not prefix.startswith((".", "-"))
    assert safe_run_name(name) == prefix


# ---------------------------------------------------------------- lookup by hash and seed


def test_a_legacy_hash_seed_folder_is_found_and_loaded_without_training(tmp_path):
    config = toy()
    first = train_run(config, 0, root=tmp_path, device="cpu", progress=False)
    assert first.origin == "trained" and first.path.name == f"toy_a-{config.hash()}-seed0"
    legacy = tmp_path.resolve() / f"{config.hash()}-seed0"
    first.path.rename(legacy)
    before = (legacy / "weights.pt").stat().st_mtime_ns
    again = train_run(config, 0, root=tmp_path, device="cpu", progress=False)
    assert again.origin == "cached" and again.path == legacy
    assert folders(tmp_path) == [legacy.name] and (legacy / "weights.pt").stat().st_mtime_ns == before


def test_two_names_with_one_hash_share_one_folder(tmp_path):
    alpha, beta = toy("alpha:x"), toy("beta:y")
    assert alpha.hash() == beta.hash()
    trained = train_run(alpha, 0, root=tmp_path, device="cpu", progress=False)
    shared = train_run(beta, 0, root=tmp_path, device="cpu", progress=False)
    assert shared.origin == "cached" and shared.path == trained.path
    assert folders(tmp_path) == [f"alpha_x-{alpha.hash()}-seed0"]


def test_registered_names_sharing_a_config_share_its_folder(tmp_path):
    kernel, table = get_experiment("kernel:k3-table1", "smoke"), get_experiment("table2:2", "smoke")
    assert kernel.hash() == table.hash()
    run_dir(kernel, 0, tmp_path).path.mkdir()
    assert run_dir(table, 0, tmp_path) == run_dir(kernel, 0, tmp_path)
    assert run_dir(table, 0, tmp_path).path.name.startswith("kernel_k3-table1-")


def test_seed1_and_seed11_are_never_confused(tmp_path):
    config = toy()
    key = config.hash()
    base = tmp_path.resolve()
    for name in (f"{key}-seed11", f"toy_a-{key}-seed11", f"other-{key}-seed10", f"x{key}-seed1"):
        (base / name).mkdir()
    assert run_dir(config, 1, tmp_path).path == base / f"toy_a-{key}-seed1"
    (base / f"{key}-seed1").mkdir()
    assert run_dir(config, 1, tmp_path).path == base / f"{key}-seed1"
    assert run_dir(config, 11, tmp_path).path in {base / f"{key}-seed11", base / f"toy_a-{key}-seed11"}
    assert run_dir(config, 10, tmp_path).path == base / f"other-{key}-seed10"


def test_a_trained_seed11_is_not_returned_for_seed1(tmp_path):
    config = toy()
    eleven = train_run(config, 11, root=tmp_path, device="cpu", progress=False)
    one = train_run(config, 1, root=tmp_path, device="cpu", progress=False)
    assert one.origin == "trained" and one.seed == 1 and one.path != eleven.path
    assert one.path.name.endswith("-seed1") and eleven.path.name.endswith("-seed11")


def test_a_file_or_a_symlink_with_the_run_name_is_not_taken_for_the_run(tmp_path):
    config = toy()
    key = config.hash()
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "runs"
    root.mkdir()
    (root / f"{key}-seed0").symlink_to(outside, target_is_directory=True)
    (root / f"file-{key}-seed0").write_text("not a run")
    rd = run_dir(config, 0, root)
    assert rd.path == root.resolve() / f"toy_a-{key}-seed0"


def test_of_several_folders_of_one_run_the_finished_one_is_used(tmp_path):
    config = toy()
    trained = train_run(config, 0, root=tmp_path, device="cpu", progress=False)
    (tmp_path / f"aaa-{config.hash()}-seed0").mkdir()  # an empty folder that sorts first
    assert run_dir(config, 0, tmp_path) == RunDir(trained.path)
    assert train_run(config, 0, root=tmp_path, device="cpu", progress=False).origin == "cached"


def test_a_bad_seed_is_refused_before_the_runs_folder_is_scanned(tmp_path):
    root = tmp_path / "never-made"
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        run_dir(toy(), "1/../../x", root)
    assert not root.exists() and os.listdir(tmp_path) == []


def test_finished_runs_lists_complete_runs_and_skips_the_rest(tmp_path):
    import shutil

    from bngan import experiments
    from bngan.runs import finished_runs
    from bngan.train import train_run

    tiny = experiments.get_experiment("heuristics:dcgan-bn", "smoke").vary(
        g_filters=(8, 8), d_filters=(8,) * 4, steps=2, n_test=8, recon_final_steps=2, sample_every=2, log_every=1)
    done = train_run(tiny, 0, root=tmp_path, progress=False)
    toy = train_run(experiments.get_experiment("blindspot:no-bn", "smoke").vary(steps=2), 0, root=tmp_path,
                    progress=False)
    broken = tmp_path / "copy-of-a-run"
    shutil.copytree(done.path, broken)
    (broken / "record.json").write_text("{")  # damaged: skipped, left as it is
    (tmp_path / "not-a-run").mkdir()
    (tmp_path / "stray.txt").write_text("x")
    assert [r.path for r in finished_runs(tmp_path)] == sorted([done.path, toy.path])
    assert [r.path for r in finished_runs(tmp_path, kind="image")] == [done.path]
    assert (broken / "record.json").read_text() == "{"
    assert finished_runs(tmp_path / "missing") == []
    with pytest.raises(ValueError, match="kind"):
        finished_runs(tmp_path, kind="images")
