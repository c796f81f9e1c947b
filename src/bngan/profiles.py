"""Settings profiles: how much data and how many steps an experiment gets.

``quick`` trains on 16 px digits because a 2-core CPU manages about 1.7 iterations per
second of the seed paper's 128-filter, batch-128 DCGAN at 16 px and 0.3 at 32 px
(`benchmarks/step_speed.py`), and the reconstruction search costs about as much per image
as a training step, so ``quick`` scores 100 held-out digits once, at the end. ``full`` uses
the paper's 32 px CIFAR-10 on a GPU.

A profile scales an experiment (steps, data, evaluation budget), never the set-up being
compared, so a finding at ``quick`` is a finding about the same models as at ``full``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import torch

PROFILE_ENV = "BNGAN_PROFILE"
DATASET_ENV = "BNGAN_DATASET"


@dataclass(frozen=True)
class Profile:
    """One scale of experiment.

    Attributes:
        name: ``smoke``, ``quick`` or ``full``.
        dataset: default image dataset (``BNGAN_DATASET`` overrides, see :func:`dataset_name`).
        image_size: side of the square training images.
        n_train: training images kept (``None``: the whole training split).
        n_test: held-out images used by the reconstruction metric.
        steps: generator steps per image-GAN run.
        toy_steps: steps per toy 2D run.
        toy_samples: size of the toy 2D data set (the toy study feeds it whole as one batch).
        log_every: steps between two recorded points of the history.
        sample_every: steps between two sample grids.
        eval_every: steps between two reconstruction-error evaluations (0: only at the end).
        recon_steps: optimizer steps per reconstruction evaluation during training.
        recon_final_steps: optimizer steps for the final reconstruction error.
        seeds: default seeds for multi-seed image experiments.
        toy_seeds: default seeds for toy 2D experiments (cheap, so more of them).
    """

    name: str
    dataset: str
    image_size: int
    n_train: int | None
    n_test: int
    steps: int
    toy_steps: int
    toy_samples: int
    log_every: int
    sample_every: int
    eval_every: int
    recon_steps: int
    recon_final_steps: int
    seeds: tuple[int, ...]
    toy_seeds: tuple[int, ...]

    def with_overrides(self, **changes) -> "Profile":
        """A copy with some fields changed, for one-off experiments."""
        return replace(self, **changes)


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke", dataset="digits", image_size=16, n_train=256, n_test=32,
        steps=12, toy_steps=40, toy_samples=256, log_every=2, sample_every=6, eval_every=6,
        recon_steps=5, recon_final_steps=10, seeds=(0, 1), toy_seeds=(0, 1),
    ),
    "quick": Profile(
        name="quick", dataset="digits", image_size=16, n_train=None, n_test=100,
        steps=400, toy_steps=2000, toy_samples=1024, log_every=5, sample_every=50,
        eval_every=0, recon_steps=50, recon_final_steps=100, seeds=(0, 1, 2),
        toy_seeds=(0, 1, 2, 3, 4),
    ),
    "full": Profile(
        name="full", dataset="cifar10", image_size=32, n_train=None, n_test=1000,
        steps=5000, toy_steps=2000, toy_samples=2048, log_every=25, sample_every=500,
        eval_every=1000, recon_steps=50, recon_final_steps=500, seeds=(0, 1, 2),
        toy_seeds=tuple(range(10)),
    ),
}


def default_profile_name() -> str:
    """``BNGAN_PROFILE`` if set, else ``full`` on a CUDA machine and ``quick`` elsewhere."""
    name = os.environ.get(PROFILE_ENV, "").strip()
    if name:
        return _check_name(name, source=f"environment variable {PROFILE_ENV}")
    return "full" if torch.cuda.is_available() else "quick"


def get_profile(profile: str | Profile | None = None) -> Profile:
    """Resolve a profile name (or ``None`` for the default) to its :class:`Profile`."""
    if isinstance(profile, Profile):
        return profile
    name = default_profile_name() if profile is None else _check_name(profile, source="profile")
    return PROFILES[name]


def dataset_name(profile: Profile) -> str:
    """The image dataset to use: ``BNGAN_DATASET`` if set, else the profile's own."""
    return os.environ.get(DATASET_ENV, "").strip().lower() or profile.dataset


def _check_name(name: str, *, source: str) -> str:
    key = str(name).strip().lower()
    if key not in PROFILES:
        allowed = ", ".join(PROFILES)
        raise ValueError(f"{source} must be one of: {allowed}; got {name!r}")
    return key
