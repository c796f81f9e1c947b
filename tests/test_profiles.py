"""Tests for bngan.profiles: default selection, env overrides, name checking, ordering."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from bngan import data, profiles
from bngan.config import DataConfig, ExperimentConfig, TrainConfig
from bngan.profiles import DATASET_ENV, PROFILE_ENV, PROFILES, Profile, dataset_name, get_profile


@pytest.fixture
def no_profile_env(monkeypatch):
    monkeypatch.delenv(PROFILE_ENV, raising=False)
    return monkeypatch


def test_env_var_names():
    assert PROFILE_ENV == "BNGAN_PROFILE"
    assert DATASET_ENV == "BNGAN_DATASET"


def test_default_is_full_with_cuda(no_profile_env):
    no_profile_env.setattr(torch.cuda, "is_available", lambda: True)
    assert profiles.default_profile_name() == "full"
    assert get_profile(None) is PROFILES["full"]
    assert get_profile() is PROFILES["full"]


def test_default_is_quick_without_cuda(no_profile_env):
    no_profile_env.setattr(torch.cuda, "is_available", lambda: False)
    assert profiles.default_profile_name() == "quick"
    assert get_profile(None) is PROFILES["quick"]


def test_empty_env_falls_back_to_cuda_check(monkeypatch):
    monkeypatch.setenv(PROFILE_ENV, "   ")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_profile(None).name == "quick"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_profile(None).name == "full"


@pytest.mark.parametrize("cuda", [True, False])
def test_env_overrides_cuda_check(monkeypatch, cuda):
    monkeypatch.setenv(PROFILE_ENV, "smoke")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert get_profile(None) is PROFILES["smoke"]


@pytest.mark.parametrize("raw, expected", [(" SMOKE ", "smoke"), ("Quick", "quick"), ("full\n", "full")])
def test_env_is_case_and_whitespace_tolerant(monkeypatch, raw, expected):
    monkeypatch.setenv(PROFILE_ENV, raw)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_profile(None) is PROFILES[expected]


@pytest.mark.parametrize("raw, expected", [(" Smoke", "smoke"), ("QUICK", "quick"), (" full ", "full")])
def test_argument_is_case_and_whitespace_tolerant(raw, expected):
    assert get_profile(raw) is PROFILES[expected]


def test_argument_beats_env(monkeypatch):
    monkeypatch.setenv(PROFILE_ENV, "smoke")
    assert get_profile("full").name == "full"


def test_profile_instance_passes_through():
    custom = PROFILES["smoke"].with_overrides(steps=3)
    assert get_profile(custom) is custom


def test_unknown_env_value_raises(monkeypatch):
    monkeypatch.setenv(PROFILE_ENV, "huge")
    with pytest.raises(ValueError) as info:
        get_profile(None)
    message = str(info.value)
    assert PROFILE_ENV in message
    for name in ("smoke", "quick", "full"):
        assert name in message
    assert "huge" in message


def test_unknown_argument_raises(monkeypatch):
    monkeypatch.setenv(PROFILE_ENV, "smoke")
    with pytest.raises(ValueError) as info:
        get_profile("medium")
    message = str(info.value)
    assert "profile" in message
    assert PROFILE_ENV not in message
    for name in ("smoke", "quick", "full"):
        assert name in message
    assert "medium" in message


def test_dataset_name_uses_profile_without_env(monkeypatch):
    monkeypatch.delenv(DATASET_ENV, raising=False)
    for profile in PROFILES.values():
        assert dataset_name(profile) == profile.dataset


def test_dataset_name_honours_env(monkeypatch):
    monkeypatch.setenv(DATASET_ENV, " MNIST ")
    assert dataset_name(PROFILES["smoke"]) == "mnist"
    assert dataset_name(PROFILES["full"]) == "mnist"


def test_dataset_name_ignores_blank_env(monkeypatch):
    monkeypatch.setenv(DATASET_ENV, "  ")
    assert dataset_name(PROFILES["full"]) == PROFILES["full"].dataset


def test_profiles_keyed_by_own_name():
    assert list(PROFILES) == ["smoke", "quick", "full"]
    for key, profile in PROFILES.items():
        assert profile.name == key


def test_profile_scale_ordering():
    smoke, quick, full = PROFILES["smoke"], PROFILES["quick"], PROFILES["full"]
    assert smoke.steps < quick.steps < full.steps
    assert smoke.toy_steps <= quick.toy_steps <= full.toy_steps
    assert smoke.toy_samples <= quick.toy_samples <= full.toy_samples
    assert smoke.n_test <= quick.n_test <= full.n_test
    assert smoke.recon_final_steps <= quick.recon_final_steps <= full.recon_final_steps
    assert len(smoke.seeds) <= len(quick.seeds) <= len(full.seeds)
    assert len(smoke.toy_seeds) <= len(quick.toy_seeds) <= len(full.toy_seeds)
    assert len(quick.toy_seeds) >= 5  # the toy chapters promise at least 5 seeds per setting


def test_quick_is_fashion_mnist_and_narrow():
    quick = PROFILES["quick"]
    assert quick.dataset == "fashion-mnist" and quick.image_size == 16
    assert 0 < quick.width_scale < 1
    assert PROFILES["full"].dataset == "cifar10" and PROFILES["full"].width_scale == 1


def test_smoke_is_offline_and_small():
    smoke = PROFILES["smoke"]
    assert smoke.dataset in data.OFFLINE_DATASETS
    assert smoke.n_train is not None
    assert smoke.image_size <= min(p.image_size for p in PROFILES.values())


@pytest.mark.parametrize("name", list(PROFILES))
def test_profile_fields_are_consistent(name):
    p = PROFILES[name]
    assert p.dataset in data.IMAGE_DATASETS
    assert p.image_size in data.IMAGE_SIZES
    assert p.log_every <= p.steps
    assert p.sample_every <= p.steps
    assert 0 <= p.eval_every <= p.steps
    assert p.recon_steps <= p.recon_final_steps
    assert len(set(p.seeds)) == len(p.seeds) >= 1
    assert len(set(p.toy_seeds)) == len(p.toy_seeds) >= 1


@pytest.mark.parametrize("name", list(PROFILES))
def test_profile_builds_valid_config(name):
    """Each profile's numbers fit an ExperimentConfig with the default batch size."""
    p = PROFILES[name]
    cfg = ExperimentConfig(
        data=DataConfig(dataset=p.dataset, image_size=p.image_size, n_train=p.n_train, n_test=p.n_test),
        train=TrainConfig(steps=p.steps, log_every=p.log_every, sample_every=p.sample_every,
                          eval_every=p.eval_every, recon_steps=p.recon_steps,
                          recon_final_steps=p.recon_final_steps),
    )
    assert cfg.train.steps == p.steps


def test_with_overrides_returns_changed_copy():
    before = dict(PROFILES)
    before_smoke = dataclasses.asdict(PROFILES["smoke"])
    changed = PROFILES["smoke"].with_overrides(steps=99, dataset="mnist")
    assert isinstance(changed, Profile)
    assert changed is not PROFILES["smoke"]
    assert changed.steps == 99 and changed.dataset == "mnist"
    assert changed.n_train == PROFILES["smoke"].n_train
    assert PROFILES == before
    assert dataclasses.asdict(PROFILES["smoke"]) == before_smoke
    assert get_profile("smoke").steps == before_smoke["steps"]


def test_with_overrides_rejects_unknown_field():
    with pytest.raises(TypeError):
        PROFILES["quick"].with_overrides(not_a_field=1)


def test_profile_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PROFILES["quick"].steps = 1  # type: ignore[misc]


def test_the_provenance_names_the_seeds_a_verdict_rests_on():
    import bngan

    info = bngan.provenance("quick", show=False)
    assert info["profile"] == "quick" and info["seeds"] == "0, 1, 2, 3, 4"
    assert info["toy seeds"] == ", ".join(map(str, range(10)))
    assert info["omp_wait_policy"]  # what the run's OpenMP threads did while waiting


def test_records_and_provenance_name_what_decides_bitwise_repeatability():
    import torch

    import bngan
    from bngan import devices

    info = bngan.provenance("quick", show=False)
    assert info["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert info["threads"] == str(torch.get_num_threads())
    assert info["torch_build"] and torch.version.git_version.startswith(info["torch_build"])
    assert info["cpu"]
    assert set(devices.repeatability()) <= set(devices.versions())
