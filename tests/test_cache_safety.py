"""The run cache never trusts, deletes or resumes the wrong thing (issue 21's harm cases):
a seed that is a path, a checkpoint of another configuration, an edited ``config.json``, a
damaged file, an unwritable runs folder, a second process on the same run; and run files
get the umask's permissions."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time

import pytest
import torch

from bngan.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from bngan.runs import RunDir, locks, run_dir
from bngan.train import train_run


def toy(**changes) -> ExperimentConfig:
    base = ExperimentConfig(
        name="toy", data=DataConfig(kind="toy", toy="gaussian", toy_samples=64),
        model=ModelConfig(arch="mlp", latent_dim=2, width=8, depth=2, norm="batch", norm_in="both"),
        train=TrainConfig(steps=6, batch_size=8, log_every=1, sample_every=3, checkpoint_every=2),
    )
    return base.vary(**changes) if changes else base


def final_weights(run) -> dict[str, torch.Tensor]:
    return run.weights()["g"]


@pytest.mark.parametrize("seed", ["0/../../victim", "../x", -1, 1.5, True, None])
def test_a_bad_seed_is_refused_before_anything_touches_the_disk(tmp_path, seed):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    root = tmp_path / "runs"
    run_dir(toy(), 0, root).path.mkdir(parents=True)  # "<root>/<hash>-seed0/../../victim" is tmp_path/victim
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        train_run(toy(), seed, root=root, device="cpu", progress=False, force=True)
    assert (victim / "keep.txt").read_text() == "mine"


class Stop(Exception):
    pass


def interrupt_at(step: int):
    def callback(trainer):
        if trainer.step == step:
            raise Stop

    return callback


def test_a_checkpoint_of_another_configuration_is_not_resumed(tmp_path, capsys):
    a, b = toy(lr_d=1e-3), toy(lr_d=5e-4)  # the same architecture, another learning rate
    with pytest.raises(Stop):
        train_run(a, 0, root=tmp_path, device="cpu", progress=False, callback=interrupt_at(4))
    rd_a, rd_b = run_dir(a, 0, tmp_path), run_dir(b, 0, tmp_path)
    assert rd_a.checkpoint_file.exists()
    rd_b.path.mkdir(parents=True)
    rd_b.checkpoint_file.write_bytes(rd_a.checkpoint_file.read_bytes())
    planted = train_run(b, 0, root=tmp_path, device="cpu", progress=False)
    assert "belongs to another run" in capsys.readouterr().out
    fresh = train_run(b, 0, root=tmp_path / "clean", device="cpu", progress=False)
    for key, value in final_weights(fresh).items():
        assert torch.equal(value, final_weights(planted)[key]), key


def test_a_finished_run_whose_config_was_edited_is_not_returned_as_cached(tmp_path):
    cfg = toy()
    run_dir_ = RunDir(train_run(cfg, 0, root=tmp_path, device="cpu", progress=False).path)
    edited = json.loads(run_dir_.config_file.read_text())
    edited["train"]["lr_d"] = 0.123
    run_dir_.config_file.write_text(json.dumps(edited))
    again = train_run(cfg, 0, root=tmp_path, device="cpu", progress=False)
    assert again.config == cfg and again.config.train.lr_d != 0.123
    assert run_dir_.read_config() == cfg  # retrained and rewritten


def test_an_unedited_finished_run_is_loaded_not_retrained(tmp_path, monkeypatch):
    cfg = toy()
    train_run(cfg, 0, root=tmp_path, device="cpu", progress=False)
    from bngan import train

    monkeypatch.setattr(train, "Trainer", lambda *a, **k: pytest.fail("a matching cached run was retrained"))
    assert train_run(cfg, 0, root=tmp_path, device="cpu", progress=False).status == "complete"


@pytest.mark.parametrize("device,message", [("tpu", "device must be cpu, cuda"), ("cuda:7", "CUDA"),
                                            ("bogus", "device must be")])
def test_an_unusable_device_is_one_clear_error_before_training(tmp_path, device, message, monkeypatch):
    from bngan import trainer

    monkeypatch.setattr(trainer, "load_run_data", lambda *a, **k: pytest.fail("data loaded before the device check"))
    with pytest.raises(ValueError, match=message):
        train_run(toy(), 0, root=tmp_path, device=device, progress=False)


def test_duplicate_seeds_and_a_bad_dataset_variable_are_refused(monkeypatch):
    from bngan import experiments

    with pytest.raises(ValueError, match="seeds must not repeat"):
        experiments.run_experiment(toy(), seeds=[0, 1, 0], progress=False)
    monkeypatch.setenv("BNGAN_DATASET", "imagenet")
    with pytest.raises(ValueError, match="BNGAN_DATASET must be one of"):
        experiments.table2(1, "smoke")


def test_n_test_beyond_the_held_out_split_is_an_error(tmp_path):
    from bngan import experiments

    config = experiments.table2(1, "smoke").vary(n_test=100_000)
    with pytest.raises(ValueError, match="data.n_test must be at most"):
        train_run(config, 0, root=tmp_path, device="cpu", progress=False)


def test_stale_temporary_files_of_a_killed_write_are_removed(tmp_path):
    cfg = toy()
    rd = run_dir(cfg, 0, tmp_path)
    rd.path.mkdir(parents=True)
    stale = rd.path / ".history.pt.abc123.tmp"
    stale.write_bytes(b"half a file")
    train_run(cfg, 0, root=tmp_path, device="cpu", progress=False)
    assert not stale.exists() and rd.finished


# --------------------------------------------------------------------------- damaged files (issue 21)


def interrupted_checkpoint(cfg: ExperimentConfig, root, step: int = 4) -> RunDir:
    """Train ``cfg`` seed 0 into ``root`` until ``step`` (a checkpoint step) and stop there."""
    with pytest.raises(Stop):
        train_run(cfg, 0, root=root, device="cpu", progress=False, callback=interrupt_at(step))
    rd = run_dir(cfg, 0, root)
    assert rd.checkpoint_file.exists()
    return rd


def damage(file, how: str) -> None:
    data = file.read_bytes()
    file.write_bytes(b"" if how == "empty" else data[: len(data) // 2])


@pytest.mark.parametrize("how", ["truncated", "empty", "another architecture"])
def test_a_damaged_checkpoint_is_set_aside_and_the_run_starts_over(tmp_path, capsys, how):
    cfg = toy()
    if how == "another architecture":  # a checkpoint of wider networks that claims to be this run
        other = interrupted_checkpoint(toy(width=16), tmp_path / "other")
        state = torch.load(other.checkpoint_file, weights_only=True)
        state["config_hash"], state["seed"] = cfg.hash(), 0
        rd = run_dir(cfg, 0, tmp_path)
        rd.path.mkdir(parents=True)
        torch.save(state, rd.checkpoint_file)
    else:
        rd = interrupted_checkpoint(cfg, tmp_path)
        damage(rd.checkpoint_file, how)
    capsys.readouterr()
    run = train_run(cfg, 0, root=tmp_path, device="cpu", progress=False)
    out = capsys.readouterr().out
    assert "checkpoint.pt is damaged" in out and "moved to checkpoint.pt.corrupt" in out
    assert len([line for line in out.splitlines() if "damaged" in line]) == 1
    assert run.status == "complete" and (rd.path / "checkpoint.pt.corrupt").exists()
    fresh = train_run(cfg, 0, root=tmp_path / "clean", device="cpu", progress=False)
    for key, value in final_weights(fresh).items():  # started over exactly as a fresh run
        assert torch.equal(value, final_weights(run)[key]), key


@pytest.mark.parametrize("name,how", [("record.json", "empty"), ("record.json", "truncated"),
                                      ("history.pt", "empty"), ("history.pt", "truncated"),
                                      ("samples.pt", "truncated")])
def test_a_finished_run_with_a_damaged_file_is_trained_again(tmp_path, capsys, name, how):
    cfg = toy()
    first = train_run(cfg, 0, root=tmp_path, device="cpu", progress=False)
    damage(first.path / name, how)
    again = train_run(cfg, 0, root=tmp_path, device="cpu", progress=False)
    assert again.status == "complete" and again.origin == "trained"
    assert torch.equal(again.samples, first.samples)  # retrained from scratch, the same result
    if name != "record.json":  # a damaged record reads as "not finished"; the others are named
        assert f"{name} is damaged" in capsys.readouterr().out
    assert train_run(cfg, 0, root=tmp_path, device="cpu", progress=False).origin == "cached"


def test_a_failed_checkpoint_write_leaves_a_record_that_says_what_can_be_resumed(tmp_path, monkeypatch):
    from bngan import trainer

    cfg = toy(steps=8)
    original = trainer.atomic_torch_save

    def disk_full_at_step_4(obj, path):
        if path.name == "checkpoint.pt" and obj["step"] == 4:
            raise OSError(28, "No space left on device")
        original(obj, path)

    monkeypatch.setattr(trainer, "atomic_torch_save", disk_full_at_step_4)
    with pytest.raises(OSError, match="No space left"):
        train_run(cfg, 0, root=tmp_path, device="cpu", progress=False)
    rd = run_dir(cfg, 0, tmp_path)
    record = rd.read_record()
    assert record["status"] == "interrupted" and record["steps_run"] == 4
    assert record["steps_done"] == 2 == torch.load(rd.checkpoint_file, weights_only=True)["step"]
    monkeypatch.undo()
    resumed = train_run(cfg, 0, root=tmp_path, device="cpu", progress=False)
    assert resumed.origin == "resumed" and resumed.resumed_at == 2
    straight = train_run(cfg, 0, root=tmp_path / "straight", device="cpu", progress=False)
    for key, value in final_weights(straight).items():
        assert torch.equal(value, final_weights(resumed)[key]), key


# --------------------------------------------------------------------------- the runs folder


def test_a_runs_folder_that_is_a_file_is_one_error_naming_it(tmp_path, monkeypatch):
    from bngan import runs, trainer

    monkeypatch.setattr(trainer, "load_run_data", lambda *a, **k: pytest.fail("data loaded before the folder check"))
    not_a_folder = tmp_path / "runs"
    not_a_folder.write_text("")
    with pytest.raises(runs.RunsFolderError, match=f"runs folder {not_a_folder} is a file"):
        train_run(toy(), 0, root=not_a_folder, device="cpu", progress=False)


def test_an_unwritable_runs_folder_is_one_error_before_data_is_loaded(tmp_path, monkeypatch):
    from bngan import runs, trainer

    monkeypatch.setattr(trainer, "load_run_data", lambda *a, **k: pytest.fail("data loaded before the folder check"))

    def read_only(*args, **kwargs):  # what a read-only folder does (root ignores chmod, so simulate it)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(runs.tempfile, "TemporaryFile", read_only)
    with pytest.raises(runs.RunsFolderError, match=f"runs folder {tmp_path} is not writable \\(Permission denied\\)"):
        train_run(toy(), 0, root=tmp_path, device="cpu", progress=False)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_runs_folder_is_one_error_naming_it(tmp_path):
    from bngan import runs

    tmp_path.chmod(0o500)
    try:
        with pytest.raises(runs.RunsFolderError, match=f"runs folder {tmp_path} is not writable"):
            train_run(toy(), 0, root=tmp_path, device="cpu", progress=False)
    finally:
        tmp_path.chmod(0o700)


# --------------------------------------------------------------------------- file permissions


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_run_files_get_the_permissions_the_umask_gives(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        run = train_run(toy(), 0, root=tmp_path, device="cpu", progress=False)
    finally:
        os.umask(old)
    files = [f for f in run.path.iterdir() if f.is_file()]
    assert {f.name for f in files} >= {"config.json", "record.json", "history.pt", "samples.pt", "weights.pt"}
    assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {f.name: mode for f in files}


# --------------------------------------------------------------------------- threads


def test_training_uses_and_records_the_thread_count_it_is_given():
    """The library never sets torch's thread count (results on the CPU may depend on it, and
    it is the caller's process): a run trains on the count it finds and records it."""
    threads = torch.get_num_threads()  # tests/conftest.py sets 1
    import tempfile

    with tempfile.TemporaryDirectory() as root:
        run = train_run(toy(), 0, root=root, device="cpu", progress=False)
    assert torch.get_num_threads() == threads
    assert run.record["threads"] == threads and f"{threads} threads" in run.record["device"]


@pytest.mark.slow
def test_importing_the_library_leaves_the_default_thread_count_alone():
    code = ("import torch; n = torch.get_num_threads(); import bngan.cli, bngan.train, bngan.experiments; "
            "print(n, torch.get_num_threads())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == out[1]


# --------------------------------------------------------------------------- the lock of a run folder


def write_lock(rd: RunDir, pid: int, host: str | None = None, age: float = 0.0) -> None:
    rd.path.mkdir(parents=True, exist_ok=True)
    rd.lock_file.write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(), "started": time.time()}))
    if age:
        stamp = time.time() - age
        os.utime(rd.lock_file, (stamp, stamp))


def test_a_run_locked_by_a_live_process_is_refused_naming_the_lock(tmp_path, monkeypatch):
    from bngan import runs, trainer

    cfg = toy()
    rd = run_dir(cfg, 0, tmp_path)
    write_lock(rd, os.getpid())  # a live process on this host
    monkeypatch.setattr(trainer, "load_run_data", lambda *a, **k: pytest.fail("data loaded for a locked run"))
    with pytest.raises(locks.RunLockedError, match=f"{rd.lock_file} is held by process {os.getpid()}"):
        train_run(cfg, 0, root=tmp_path, device="cpu", progress=False)
    write_lock(rd, 1, host="another-host", age=60)  # another host, refreshed a minute ago
    with pytest.raises(locks.RunLockedError):
        train_run(cfg, 0, root=tmp_path, device="cpu", progress=False)


def test_a_stale_lock_is_taken_over_with_a_message(tmp_path, capsys):
    cfg = toy()
    rd = run_dir(cfg, 0, tmp_path)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    write_lock(rd, int(gone.stdout))  # its process has exited
    assert train_run(cfg, 0, root=tmp_path, device="cpu", progress=False).status == "complete"
    assert f"taking over the stale lock {rd.lock_file} (process {int(gone.stdout)} is gone)" in capsys.readouterr().out
    assert not rd.lock_file.exists()

    from bngan import runs

    write_lock(rd, 1, host="another-host", age=locks.LOCK_STALE_SECONDS + 60)
    train_run(cfg, 0, root=tmp_path, device="cpu", progress=False, force=True)
    assert "not refreshed for" in capsys.readouterr().out and not rd.lock_file.exists()


def test_the_lock_is_released_when_a_run_is_interrupted(tmp_path):
    cfg = toy()
    rd = interrupted_checkpoint(cfg, tmp_path)
    assert not rd.lock_file.exists()
    assert train_run(cfg, 0, root=tmp_path, device="cpu", progress=False).origin == "resumed"


TRAIN_SLOWLY = """
import sys, time
from bngan.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from bngan.train import train_run
cfg = ExperimentConfig(
    name="toy", data=DataConfig(kind="toy", toy="gaussian", toy_samples=64),
    model=ModelConfig(arch="mlp", latent_dim=2, width=8, depth=2, norm="batch", norm_in="both"),
    train=TrainConfig(steps=6, batch_size=8, log_every=1, sample_every=3, checkpoint_every=2))
def slow(trainer):
    if trainer.step == 1:
        print("training", flush=True)
    time.sleep(0.5)
train_run(cfg, 0, root=sys.argv[1], device="cpu", progress=False, callback=slow)
"""


@pytest.mark.slow
def test_a_second_process_waits_for_the_first_and_loads_its_result(tmp_path, monkeypatch):
    """Two processes asked for the same run: the second does not train it a second time."""
    from bngan import runs, train

    cfg = toy()
    assert cfg.hash() in str(run_dir(cfg, 0, tmp_path).path)
    first = subprocess.Popen([sys.executable, "-c", TRAIN_SLOWLY, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline().strip() == "training"  # it holds the lock now
        with pytest.raises(locks.RunLockedError):
            train_run(cfg, 0, root=tmp_path, device="cpu", progress=False)
        monkeypatch.setattr(train, "Trainer", lambda *a, **k: pytest.fail("the run was trained twice"))
        run = train_run(cfg, 0, root=tmp_path, device="cpu", progress=False, lock_wait=60)
    finally:
        first.wait(60)
    assert first.returncode == 0
    assert run.status == "complete" and run.origin == "cached"


# --------------------------------------------------------------------------- fields added later


def test_a_field_at_its_neutral_value_hashes_as_before_it_existed():
    import hashlib
    import json

    from bngan import config as config_module
    from bngan.experiments import table2

    cfg = table2(2, "quick")
    payload = {k: v for k, v in cfg.to_dict().items() if k not in ("name", "description")}
    for key in config_module.NEUTRAL_SINCE_V2:  # the config as written before these fields were added
        section, name = key.split(".")
        del payload[section][name]
    payload["engine_version"] = config_module.ENGINE_VERSION
    before = hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]
    assert cfg.hash() == before
    assert cfg.hash() == "71fec0e3b45c17fd"  # Table II #2 at quick, as cached before chapter 8's fields existed
    assert cfg.vary(g_upsample="transposed").hash() != before


def test_every_field_added_since_v2_is_listed_with_its_neutral_value():
    """A field missing from NEUTRAL_SINCE_V2 would re-hash every config and orphan every cached
    run; its neutral value must also be its default, or old configs would change meaning."""
    from dataclasses import fields

    from bngan.config import NEUTRAL_SINCE_V2, ExperimentConfig

    at_v2 = {
        "data": {"channels", "dataset", "image_size", "kind", "n_test", "n_train", "toy", "toy_samples"},
        "train": {"batch_size", "beta1", "beta2", "checkpoint_every", "d_fakes", "d_steps", "eval_every", "fake_label",
                  "flip_prob", "g_bn_mode", "g_shift_weight", "g_steps", "instance_noise", "instance_noise_decay",
                  "log_every", "loss", "lr_d", "lr_g", "n_samples", "optimizer", "real_label", "recon_final_steps",
                  "recon_steps", "rms_alpha", "rms_eps", "routine", "sample_every", "steps"},
        "model": {"arch", "norm", "norm_in", "placement", "latent_dim", "g_kernel", "d_kernel", "g_filters",
                  "d_filters", "width", "depth", "leak", "g_bn_momentum", "d_bn_momentum", "dropout", "init",
                  "bn_eps", "g_block_order", "g_norms", "d_norms", "match_moments"},
    }
    base = ExperimentConfig()
    for section, names in at_v2.items():
        section_cls = type(getattr(base, section))
        added = {f"{section}.{f.name}" for f in fields(section_cls)} - {f"{section}.{n}" for n in names}
        assert added <= set(NEUTRAL_SINCE_V2), f"fields added since version 2 and not neutral: {added - set(NEUTRAL_SINCE_V2)}"
    for key, neutral in NEUTRAL_SINCE_V2.items():
        section, name = key.split(".")
        assert getattr(getattr(base, section), name) == neutral


# --------------------------------------------------------------------------- nothing computed is deleted


def moved_aside(root) -> list:
    return sorted(p for p in root.iterdir() if ".damaged-" in p.name)


def test_a_finished_run_whose_config_is_a_folder_is_moved_aside_not_emptied(tmp_path, capsys):
    config = toy()
    first = train_run(config, 0, root=tmp_path, progress=False)
    rd = RunDir(first.path)
    history = rd.history_file.read_bytes()
    rd.config_file.unlink()
    rd.config_file.mkdir()  # a folder where config.json should be
    again = train_run(config, 0, root=tmp_path, progress=False)
    assert again.origin == "trained" and again.status == "complete"
    aside, = moved_aside(tmp_path)
    assert (aside / "history.pt").read_bytes() == history and (aside / "config.json").is_dir()
    assert (aside / "weights.pt").is_file() and "its files were moved to" in capsys.readouterr().out


def test_a_damaged_record_does_not_cost_a_resumable_checkpoint(tmp_path):
    config = toy(steps=40, checkpoint_every=10)

    def stop_at_25(trainer):
        if trainer.step == 25:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_run(config, 0, root=tmp_path, progress=False, callback=stop_at_25)
    rd = run_dir(config, 0, tmp_path)
    rd.record_file.write_text("{ trunc")  # damaged mid-write
    run = train_run(config, 0, root=tmp_path, progress=False)
    assert run.origin == "resumed" and run.resumed_at == 20 and run.steps_done == 40
    assert moved_aside(tmp_path) == []


@pytest.mark.parametrize("damage", ["truncated record", "empty config", "list record", "missing weights",
                                    "garbage weights"])
def test_damaged_files_of_a_finished_run_are_named_and_the_intact_ones_kept(tmp_path, capsys, damage):
    config = toy()
    first = train_run(config, 0, root=tmp_path, progress=False)
    rd = RunDir(first.path)
    history = rd.history_file.read_bytes()
    if damage == "truncated record":
        rd.record_file.write_text(rd.record_file.read_text()[:20])
    elif damage == "empty config":
        rd.config_file.write_text("")
    elif damage == "list record":
        rd.record_file.write_text("[1, 2]")
    elif damage == "missing weights":
        rd.weights_file.unlink()
    else:
        rd.weights_file.write_bytes(b"not a torch file")
    again = train_run(config, 0, root=tmp_path, progress=False)
    assert again.origin == "trained"
    out = capsys.readouterr().out
    aside, = moved_aside(tmp_path)
    assert (aside / "history.pt").read_bytes() == history  # the intact history survives
    if "weights" in damage:
        assert f"{rd.weights_file} is damaged" in out  # the file is named
    assert "its files were moved to" in out


def test_force_keeps_the_earlier_run_aside(tmp_path):
    config = toy()
    first = train_run(config, 0, root=tmp_path, progress=False)
    weights = RunDir(first.path).weights_file.read_bytes()
    train_run(config, 0, root=tmp_path, progress=False, force=True)
    aside, = moved_aside(tmp_path)
    assert (aside / "weights.pt").read_bytes() == weights


@pytest.mark.parametrize("seeds", [[1.5], [True], ["1/../x"], [0, 0], [2**63], []])
def test_train_runs_checks_seeds_before_converting_them(tmp_path, seeds):
    from bngan.train import train_runs

    with pytest.raises(ValueError, match="seeds must"):
        train_runs(toy(), seeds, root=tmp_path, progress=False)
    assert not any(tmp_path.iterdir())


def test_a_seed_beyond_torchs_range_is_refused_before_a_folder_is_made(tmp_path):
    with pytest.raises(ValueError, match="seed must be a non-negative integer below 2\\*\\*63"):
        train_run(toy(), 2**63, root=tmp_path, progress=False)
    assert not any(tmp_path.iterdir())


# --------------------------------------------------------------------------- locks without races


def lock_for(tmp_path):
    from bngan.runs.locks import RunLock

    rd = run_dir(toy(), 0, tmp_path)
    rd.path.mkdir(parents=True, exist_ok=True)
    return rd, RunLock


def test_a_stale_takeover_never_removes_a_lock_another_process_just_took(tmp_path):
    rd, RunLock = lock_for(tmp_path)
    stale = {"pid": 999_999_999, "host": socket.gethostname(), "started": 0.0, "token": "old"}
    fresh = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "token": "new"}
    rd.lock_file.write_text(json.dumps(fresh))  # taken over by someone else after we judged `stale`
    late = RunLock(rd)
    assert late._take(stale) is False
    assert json.loads(rd.lock_file.read_text()) == fresh  # put back, untouched
    assert [p.name for p in rd.path.iterdir()] == ["lock"]  # no stray claimed copy left


def test_release_removes_only_its_own_lock(tmp_path):
    rd, RunLock = lock_for(tmp_path)
    lock = RunLock(rd).acquire()
    other = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "token": "someone-else"}
    rd.lock_file.write_text(json.dumps(other))  # ours was taken over meanwhile
    lock.release()
    assert json.loads(rd.lock_file.read_text()) == other
    mine = RunLock(rd)
    rd.lock_file.unlink()
    mine.acquire()
    mine.release()
    assert not rd.lock_file.exists()


def test_a_dangling_symlink_lock_is_taken_over_not_spun_on(tmp_path, capsys):
    rd, RunLock = lock_for(tmp_path)
    rd.lock_file.symlink_to(tmp_path / "nowhere")
    old = time.time() - 60
    os.utime(rd.lock_file, (old, old), follow_symlinks=False)
    started = time.monotonic()
    with RunLock(rd):
        assert json.loads(rd.lock_file.read_text())["pid"] == os.getpid()
    assert time.monotonic() - started < 5 and "taking over the stale lock" in capsys.readouterr().out


def test_an_empty_lock_left_by_a_killed_writer_blocks_only_briefly(tmp_path, capsys):
    from bngan.runs.locks import LOCK_FILL_SECONDS, RunLockedError

    rd, RunLock = lock_for(tmp_path)
    rd.lock_file.write_text("")
    with pytest.raises(RunLockedError, match="empty or unreadable: another process may be writing it"):
        RunLock(rd).acquire()  # a writer may still be filling it
    old = time.time() - LOCK_FILL_SECONDS - 1
    os.utime(rd.lock_file, (old, old))
    with RunLock(rd):
        pass
    assert "empty or unreadable for" in capsys.readouterr().out


# --------------------------------------------------------------------------- messages


def test_a_disk_full_checkpoint_is_one_line_and_loses_nothing(tmp_path, monkeypatch, capsys):
    from bngan import cli, runs

    real_save = torch.save

    def full_disk(obj, handle, *args, **kwargs):
        if isinstance(obj, dict) and "g" in obj and "step" in obj:  # a checkpoint
            raise RuntimeError("[enforce fail at inline_container.cc:595] . PytorchStreamWriter failed writing file "
                               "data/0: file write failed")
        return real_save(obj, handle, *args, **kwargs)

    monkeypatch.setattr(runs.torch, "save", full_disk)
    argv = ["run", "blindspot:no-bn", "--profile", "smoke", "--seeds", "0", "--root", str(tmp_path)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "could not be written" in err and "disk full?" in err
    assert not list(tmp_path.rglob("*.tmp"))  # no half-written file left


@pytest.mark.parametrize("changes, field", [
    ({"deterministic": 1}, "train.deterministic"), ({"g_filters": (True, 8)}, "model.g_filters"),
    ({"g_filters": 5}, "model.g_filters"), ({"match_moments": 0}, "model.match_moments"),
])
def test_bools_and_ints_are_not_confused_in_a_config(changes, field):
    from bngan.config import ConfigError
    from bngan.experiments import get_experiment

    with pytest.raises(ConfigError, match=field.replace(".", "\\.")):
        get_experiment("table2:1", "smoke").vary(**changes)


@pytest.mark.parametrize("raw", [{"train": [1, 2]}, [1, 2], {"model": "x"}])
def test_a_config_of_the_wrong_shape_is_a_config_error(raw):
    from bngan.config import ConfigError

    with pytest.raises(ConfigError):
        ExperimentConfig.from_dict(raw)


def test_entry_points_say_what_type_they_expect(tmp_path):
    from bngan.experiments import run_experiment

    with pytest.raises(ValueError, match="config must be an ExperimentConfig"):
        train_run("table2:1", 0, root=tmp_path)
    with pytest.raises(ValueError, match="experiment must be a registered name"):
        run_experiment(123, root=tmp_path)
    with pytest.raises(ValueError, match="checkpoint_seconds must be a number of seconds >= 0"):
        train_run(toy(), 0, root=tmp_path, progress=False, checkpoint_seconds=float("nan"))


def test_an_empty_root_means_unset_like_an_empty_variable(tmp_path, monkeypatch):
    from bngan.runs import runs_root

    monkeypatch.setenv("BNGAN_RUNS", str(tmp_path / "from-env"))
    assert runs_root("") == tmp_path / "from-env"


def test_show_names_a_damaged_config(tmp_path, capsys):
    from bngan import cli

    run = train_run(toy(), 0, root=tmp_path, progress=False)
    RunDir(run.path).config_file.write_text("{ not json")
    assert cli.main(["show", str(run.path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "config.json is damaged" in err


def test_a_damage_message_never_suggests_loading_unsafely(tmp_path):
    import datetime

    from bngan.runs import DamagedRunFileError, load_dict

    path = tmp_path / "weights.pt"
    torch.save({"g": datetime.date(2020, 1, 1), "d": 1}, path)  # a class weights_only refuses
    with pytest.raises(DamagedRunFileError) as caught:
        load_dict(path, ("g", "d"))
    assert "weights_only" not in str(caught.value)
