"""The run cache never trusts, deletes or resumes the wrong thing (issue 21's harm cases):
a seed that is a path, a checkpoint of another configuration, an edited ``config.json``."""

from __future__ import annotations

import json

import pytest
import torch

from bngan.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from bngan.runs import RunDir, run_dir
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
    from bngan import train

    monkeypatch.setattr(train, "load_run_data", lambda *a, **k: pytest.fail("data loaded before the device check"))
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
