"""A cached run is only what its own training wrote (issue 46): the record lists every file the
run wrote with its size and sha256, and a cached run whose files differ (another seed's, a
tensor of the wrong shape, values of the wrong types, a folder or nothing where a file should
be) is named on one line, set aside whole and trained again; records written before the list
existed load as before. Locks and waits that could hang or leave litter are checked too."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
import torch

from bngan.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from bngan.runs import RunDir, run_dir
from bngan.train import train_run, train_runs


def toy(**changes) -> ExperimentConfig:
    base = ExperimentConfig(
        name="toy", data=DataConfig(kind="toy", toy="gaussian", toy_samples=64),
        model=ModelConfig(arch="mlp", latent_dim=2, width=8, depth=2, norm="batch", norm_in="both"),
        train=TrainConfig(steps=6, batch_size=8, log_every=1, sample_every=3, checkpoint_every=2),
    )
    return base.vary(**changes) if changes else base


def moved_aside(root) -> list:
    return sorted(p for p in root.iterdir() if ".damaged-" in p.name)


def weights_equal(a, b) -> bool:
    wa, wb = a.weights(), b.weights()
    return all(torch.equal(wa[n][k], wb[n][k]) for n in ("g", "d") for k in wa[n])


def damage_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if "damaged" in line]


# --------------------------------------------------------------------------- the record lists the files


def test_a_finished_record_lists_every_file_the_run_wrote_with_size_and_digest(tmp_path):
    import hashlib

    run = train_run(toy(), 0, root=tmp_path, progress=False)
    files = run.record["files"]
    assert sorted(files) == ["config.json", "history.pt", "samples.pt", "weights.pt"]
    for name, entry in files.items():
        data = (run.path / name).read_bytes()
        assert entry == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@pytest.mark.parametrize("name", ["weights.pt", "history.pt", "samples.pt"])
def test_a_file_of_another_seed_is_not_returned_as_cached(tmp_path, capsys, name):
    cfg = toy()
    zero = train_run(cfg, 0, root=tmp_path, progress=False)
    one = train_run(cfg, 1, root=tmp_path, progress=False)
    shutil.copyfile(one.path / name, zero.path / name)
    capsys.readouterr()
    again = train_run(cfg, 0, root=tmp_path, progress=False)
    assert again.origin == "trained" and again.seed == 0
    line, = damage_lines(capsys.readouterr().out)  # named once
    assert f"{zero.path / name} is damaged" in line and "its files were moved to" in line
    aside, = moved_aside(tmp_path)
    assert (aside / name).read_bytes() == (one.path / name).read_bytes()  # kept, not deleted
    assert weights_equal(again, train_run(cfg, 0, root=tmp_path / "fresh", progress=False))
    assert torch.equal(again.samples, zero.samples) and not torch.equal(again.samples, one.samples)
    assert train_run(cfg, 0, root=tmp_path, progress=False).origin == "cached"


def plant(rd: RunDir, how: str) -> None:
    """Write a file of the right kind but the wrong content into a finished run."""
    if how == "wrong shape":
        state = torch.load(rd.weights_file, weights_only=True)
        key = next(iter(state["g"]))
        state["g"][key] = torch.zeros(3, 3, 3)
        torch.save(state, rd.weights_file)
    elif how == "wrong types in samples":
        torch.save({"steps": "abc", "samples": [1, 2]}, rd.samples_file)
    elif how == "wrong types in history":
        torch.save({"columns": 5, "values": "x"}, rd.history_file)
    else:
        raise ValueError(how)


def drop_file_list(rd: RunDir) -> None:
    """Make the record what a version without file digests wrote."""
    record = json.loads(rd.record_file.read_text())
    del record["files"]
    rd.record_file.write_text(json.dumps(record))


@pytest.mark.parametrize("legacy", [False, True], ids=["with digests", "older record"])
@pytest.mark.parametrize("how", ["wrong shape", "wrong types in samples", "wrong types in history"])
def test_a_planted_file_is_damage_with_or_without_digests(tmp_path, capsys, how, legacy):
    cfg = toy()
    first = train_run(cfg, 0, root=tmp_path, progress=False)
    rd = RunDir(first.path)
    if legacy:
        drop_file_list(rd)
    plant(rd, how)
    capsys.readouterr()
    again = train_run(cfg, 0, root=tmp_path, progress=False)
    assert again.origin == "trained"
    assert len(damage_lines(capsys.readouterr().out)) == 1
    assert len(moved_aside(tmp_path)) == 1


def test_an_older_record_without_digests_still_loads_as_cached(tmp_path, monkeypatch):
    from bngan import train

    cfg = toy()
    first = train_run(cfg, 0, root=tmp_path, progress=False)
    drop_file_list(RunDir(first.path))
    monkeypatch.setattr(train, "Trainer", lambda *a, **k: pytest.fail("an intact older run was retrained"))
    again = train_run(cfg, 0, root=tmp_path, progress=False)
    assert again.origin == "cached" and weights_equal(again, first)


def test_a_file_list_that_is_not_what_bngan_writes_is_damage(tmp_path, capsys):
    cfg = toy()
    rd = RunDir(train_run(cfg, 0, root=tmp_path, progress=False).path)
    record = json.loads(rd.record_file.read_text())
    record["files"] = {"history.pt": "abc"}
    rd.record_file.write_text(json.dumps(record))
    assert train_run(cfg, 0, root=tmp_path, progress=False).origin == "trained"
    line, = damage_lines(capsys.readouterr().out)
    assert f"{rd.record_file} is damaged" in line


def test_a_diverged_run_lists_its_kept_checkpoint(tmp_path, monkeypatch):
    from bngan import routine as step_module

    original = step_module.d_loss_fn
    calls = {"n": 0}

    def nan_later(kind, logits, targets):
        calls["n"] += 1
        loss = original(kind, logits, targets)
        return loss * float("nan") if calls["n"] > 12 else loss

    monkeypatch.setattr(step_module, "d_loss_fn", nan_later)
    run = train_run(toy(steps=12), 0, root=tmp_path, progress=False)
    assert run.status == "diverged"
    expected = {"config.json", "history.pt", "samples.pt"} | ({"checkpoint.pt"} if run.record.get("last_finite_step")
                                                              else set())
    assert set(run.record["files"]) == expected
    monkeypatch.undo()
    assert train_run(toy(steps=12), 0, root=tmp_path, progress=False).origin == "cached"


# --------------------------------------------------------------------------- a folder or nothing where a file goes


@pytest.mark.parametrize("name", ["record.json", "history.pt", "samples.pt", "checkpoint.pt", "config.json",
                                  "weights.pt"])
def test_a_folder_where_a_file_of_a_finished_run_goes_is_set_aside(tmp_path, capsys, name):
    cfg = toy()
    first = train_run(cfg, 0, root=tmp_path, progress=False)
    path = first.path / name
    if path.exists():
        path.unlink()
    path.mkdir()
    (path / "inside.txt").write_text("kept")
    capsys.readouterr()
    again = train_run(cfg, 0, root=tmp_path, progress=False)
    assert again.status == "complete"
    if name != "checkpoint.pt":  # a finished run has no checkpoint: one there is only in the way
        assert again.origin == "trained"
    out = capsys.readouterr().out
    assert "missing" not in out
    kept = [p for p in tmp_path.rglob("inside.txt")]
    assert [p.read_text() for p in kept] == ["kept"]


@pytest.mark.parametrize("name", ["record.json", "history.pt", "samples.pt", "checkpoint.pt", "config.json"])
def test_a_folder_where_a_file_of_an_unfinished_run_goes_does_not_block_it(tmp_path, capsys, name):
    cfg = toy()

    def stop_at_4(trainer):
        if trainer.step == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_run(cfg, 0, root=tmp_path, progress=False, callback=stop_at_4)
    path = run_dir(cfg, 0, tmp_path).path / name
    if path.exists():
        path.unlink()
    path.mkdir()
    (path / "inside.txt").write_text("kept")
    run = train_run(cfg, 0, root=tmp_path, progress=False)
    assert run.status == "complete"
    assert [p.read_text() for p in tmp_path.rglob("inside.txt")] == ["kept"]
    assert f"{name} is a folder" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["history.pt", "samples.pt"])
def test_a_missing_history_or_samples_file_is_damage(tmp_path, capsys, name):
    cfg = toy()
    first = train_run(cfg, 0, root=tmp_path, progress=False)
    for legacy in (False, True):
        if legacy:
            drop_file_list(RunDir(first.path))
        (first.path / name).unlink()
        capsys.readouterr()
        again = train_run(cfg, 0, root=tmp_path, progress=False)
        assert again.origin == "trained" and len(again.history["step"]) == 6 and again.samples.shape[0] == 3
        line, = damage_lines(capsys.readouterr().out)
        assert f"{first.path / name} is damaged (missing)" in line


def test_a_weights_folder_is_not_called_missing(tmp_path, capsys):
    cfg = toy()
    first = train_run(cfg, 0, root=tmp_path, progress=False)
    drop_file_list(RunDir(first.path))  # the older check, which named it "missing"
    (first.path / "weights.pt").unlink()
    (first.path / "weights.pt").mkdir()
    train_run(cfg, 0, root=tmp_path, progress=False)
    line, = damage_lines(capsys.readouterr().out)
    assert "weights.pt is damaged (a folder, not a file)" in line


def test_setting_a_run_aside_says_how_many_are_aside_and_their_size(tmp_path, capsys):
    cfg = toy()
    train_run(cfg, 0, root=tmp_path, progress=False)
    train_run(cfg, 0, root=tmp_path, progress=False, force=True)
    first = capsys.readouterr().out
    assert "1 set-aside folder in the runs folder" in first and "bngan clean --damaged" in first
    train_run(cfg, 0, root=tmp_path, progress=False, force=True)
    second = capsys.readouterr().out
    assert "2 set-aside folders in the runs folder" in second and " kB" in second


# --------------------------------------------------------------------------- waits and locks


@pytest.mark.parametrize("name,value", [("lock_wait", float("nan")), ("lock_wait", "x"), ("lock_wait", -1.0),
                                        ("lock_wait", float("inf")), ("lock_wait", True),
                                        ("checkpoint_seconds", "x"), ("checkpoint_seconds", float("nan")),
                                        ("checkpoint_seconds", -5)])
@pytest.mark.parametrize("entry", [train_run, train_runs])
def test_a_bad_wait_is_one_error_naming_it_before_anything_touches_the_disk(tmp_path, name, value, entry):
    root = tmp_path / "never-made"
    seeds = 0 if entry is train_run else [0]
    with pytest.raises(ValueError, match=f"^{name} must be") as caught:
        entry(toy(), seeds, root=root, progress=False, **{name: value})
    assert "\n" not in str(caught.value)
    assert not root.exists()


def lock_for(tmp_path):
    from bngan.runs.locks import RunLock

    rd = run_dir(toy(), 0, tmp_path)
    rd.path.mkdir(parents=True, exist_ok=True)
    return rd, RunLock


def test_a_lock_that_is_a_folder_is_set_aside_at_once(tmp_path, capsys):
    rd, RunLock = lock_for(tmp_path)
    rd.lock_file.mkdir()
    (rd.lock_file / "inside.txt").write_text("kept")
    started = time.monotonic()
    with RunLock(rd):
        assert json.loads(rd.lock_file.read_text())["pid"] == os.getpid()
    assert time.monotonic() - started < 5
    assert sorted(p.name for p in rd.path.iterdir()) == ["lock.corrupt"]
    assert (rd.path / "lock.corrupt" / "inside.txt").read_text() == "kept"
    assert "is a folder, not a lock file" in capsys.readouterr().out


def dead_pid() -> int:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(gone.stdout)


def test_a_dead_pid_written_as_a_string_is_taken_over_at_once(tmp_path, capsys):
    rd, RunLock = lock_for(tmp_path)
    pid = dead_pid()
    rd.lock_file.write_text(json.dumps({"pid": str(pid), "host": socket.gethostname(), "started": time.time()}))
    started = time.monotonic()
    with RunLock(rd):
        pass
    assert time.monotonic() - started < 5
    assert f"process {pid} is gone" in capsys.readouterr().out


def test_waiting_on_an_empty_lock_does_not_name_process_none(tmp_path, capsys):
    from bngan.runs.locks import RunLockedError

    rd, RunLock = lock_for(tmp_path)
    rd.lock_file.write_text("")
    with pytest.raises(RunLockedError):
        RunLock(rd, wait=0.6).acquire()
    out = capsys.readouterr().out
    assert "None" not in out and "empty or unreadable" in out
