"""Settings profiles: how much data, how many steps and how wide the networks an experiment gets.

=========  =========================  =====  ======  =====  ==========================================
profile    data                       px     width   steps  measured cost
=========  =========================  =====  ======  =====  ==========================================
``smoke``  bundled digits, 256        16     8 (*)   12     seconds per run: proves the code runs
``quick``  Fashion-MNIST, 60k / 10k   16     x1/4    400    4-73 s per Table II run, ~300 s for all 14
``full``   CIFAR-10, 50k / 10k        32     x1      5000   a GPU (Colab)
=========  =========================  =====  ======  =====  ==========================================

(*) ``width_scale`` is 1 at ``smoke``, but registered experiments run there with 8 filters per
layer (:func:`bngan.experiments.for_profile`).
``quick`` is sized for a 2-core CPU, where the seed paper's 128-filter, batch-128 DCGAN runs
at under 1 iteration per second at 16 px (400 steps: about 10 minutes per seed). It multiplies
every conv width by ``width_scale`` = 1/4, alike for every experiment (the kernel-5 networks
get 32 filters per layer, the kernel-3 ones G 32-16 and D 8-16-32-32), and keeps the steps,
batch sizes and everything else the book compares. Chapter 8's series (the Radford DCGAN with
RMSprop) trains 4 times ``quick``'s steps (``wn_steps_factor``): its vanilla model does not learn
in 400 steps and does from 1600 (the learning curves of the book's appendix), and its runs
cost a tenth of a batch-128 Table II run. More steps did not make the no-BN batch-128 arm of
chapters 3 and 5 learn (it fails in two seeds of three at 400 to 1600 steps and at twice the
width), so the other chapters keep 400 and report that arm as not learned. The times above are
``benchmarks/quick_runs.py`` (one seed, training plus end-of-run metrics, two threads) on a
2-core machine shared with another job: 4-24 s for experiments 1-10 while it was idle, 11-41 s
each and 304 s in all while it was busy (one thread: 7-43 s, 327 s). The
reconstruction search costs about as much per image as a training step, so ``quick`` scores
100 held-out images once, at the end; FID/KID use up to 2000 samples against the whole test
split (:mod:`bngan.measure.quality`).

A profile scales an experiment (steps, data, network width, evaluation budget), never the
set-up being compared, so a finding at ``quick`` is about the same comparison as at ``full``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from .choices import IMAGE_DATASETS

PROFILE_ENV = "BNGAN_PROFILE"
DATASET_ENV = "BNGAN_DATASET"


@dataclass(frozen=True)
class Profile:
    """One scale of experiment.

    Attributes:
        name: ``smoke``, ``quick`` or ``full``.
        dataset: default image dataset (``BNGAN_DATASET`` overrides, see :func:`dataset_name`).
        image_size: side of the square training images.
        width_scale: multiplier on every image network's conv widths (``g_filters``,
            ``d_filters`` and the Radford ``width``), applied alike to every experiment by
            :func:`bngan.experiments.scale_to_profile`; 1 keeps the paper's widths.
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
        wn_steps_factor: chapter 8's weight-norm series (the Radford DCGAN) trains this many
            times ``steps``: at ``quick`` its vanilla model learns only from 4x (the learning
            curves of the appendix, :mod:`bngan.evidence.budget`), and its runs are cheap.
    """

    name: str
    dataset: str
    image_size: int
    width_scale: float
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
    wn_steps_factor: float = 1.0

    def with_overrides(self, **changes) -> "Profile":
        """A copy with some fields changed, for one-off experiments."""
        return replace(self, **changes)


#: The fewest seeds per arm of a comparison that decides a verdict (at ``quick`` and ``full``):
#: with Welch's interval, 5 image seeds resolve a difference of about 2 seed-to-seed standard
#: deviations at 80% power (3 seeds: about 3), and the cheap toy runs take 10. A check that
#: needs more asks for them (:class:`bngan.evidence.claims.Check`'s ``seeds``).
MIN_IMAGE_SEEDS = (0, 1, 2, 3, 4)
MIN_TOY_SEEDS = tuple(range(10))

PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke", dataset="digits", image_size=16, width_scale=1.0, n_train=256, n_test=32,
        steps=12, toy_steps=40, toy_samples=256, log_every=2, sample_every=6, eval_every=6,
        recon_steps=5, recon_final_steps=10, seeds=(0, 1), toy_seeds=(0, 1),
    ),
    "quick": Profile(
        name="quick", dataset="fashion-mnist", image_size=16, width_scale=0.25, n_train=None, n_test=100,
        steps=400, toy_steps=2000, toy_samples=1024, log_every=5, sample_every=50,
        eval_every=0, recon_steps=50, recon_final_steps=100, seeds=MIN_IMAGE_SEEDS,
        toy_seeds=MIN_TOY_SEEDS, wn_steps_factor=4.0,
    ),
    "full": Profile(
        name="full", dataset="cifar10", image_size=32, width_scale=1.0, n_train=None, n_test=1000,
        steps=5000, toy_steps=2000, toy_samples=2048, log_every=25, sample_every=500,
        eval_every=1000, recon_steps=50, recon_final_steps=500, seeds=MIN_IMAGE_SEEDS,
        toy_seeds=MIN_TOY_SEEDS,
    ),
}


def default_profile_name() -> str:
    """``BNGAN_PROFILE`` if set, else ``full`` on a CUDA machine and ``quick`` elsewhere."""
    name = os.environ.get(PROFILE_ENV, "").strip()
    if name:
        return _check_name(name, source=f"environment variable {PROFILE_ENV}")
    return "full" if cuda_available() else "quick"


# Device files a GPU that torch could use as ``cuda`` leaves on Linux: NVIDIA's driver, AMD's
# ROCm (torch's HIP build answers to ``cuda`` too) and WSL's GPU paravirtualization.
GPU_DEVICE_FILES = (Path("/dev/nvidiactl"), Path("/dev/nvidia0"), Path("/dev/kfd"), Path("/dev/dxg"))


def cuda_available() -> bool:
    """``torch.cuda.is_available()``, without loading torch (seconds of CPU) on a Linux machine
    that has none of the GPU device files (:data:`GPU_DEVICE_FILES`), where the answer can only
    be no: so ``bngan list`` and the command line's checks start fast on a CPU machine."""
    if "torch" not in sys.modules and sys.platform.startswith("linux") and \
            not any(path.exists() for path in GPU_DEVICE_FILES):
        return False
    import torch

    return torch.cuda.is_available()


def get_profile(profile: str | Profile | None = None) -> Profile:
    """Resolve a profile name (or ``None`` for the default) to its :class:`Profile`."""
    if isinstance(profile, Profile):
        return profile
    name = default_profile_name() if profile is None else _check_name(profile, source="profile")
    return PROFILES[name]


def dataset_name(profile: Profile) -> str:
    """The image dataset to use: ``BNGAN_DATASET`` if set, else the profile's own."""
    name = os.environ.get(DATASET_ENV, "").strip().lower()
    if name and name not in IMAGE_DATASETS:
        raise ValueError(f"environment variable {DATASET_ENV} must be one of {', '.join(IMAGE_DATASETS)}; got {name!r}")
    return name or profile.dataset


def _check_name(name: str, *, source: str) -> str:
    key = str(name).strip().lower()
    if key not in PROFILES:
        allowed = ", ".join(PROFILES)
        raise ValueError(f"{source} must be one of: {allowed}; got {name!r}")
    return key
