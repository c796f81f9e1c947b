"""Did an arm learn? The gate a comparison must pass before it decides anything.

A verdict such as "BN helps" read against a generator that has not started to learn at the
profile's budget says nothing about the claim. The rule, stated here once:

- a run *learned* when its FID is at most :data:`LEARNED_FRACTION` (0.8) of the FID of the
  data's mean image drawn every time (:class:`bngan.baselines.MeanImage`), on the same
  classifier features and held-out images. That constant generator knows the data's average
  and nothing else; at ``quick`` it scores about 579, an untrained generator about 520, and the
  arms the book saw fail (one class, grey samples) 485 to 637, while every arm that produced
  recognisable samples scored 420 or less;
- an arm (a set-up's runs) learned when at least half of its completed seeds did.

Toy 2-D runs are not gated: chapter 7 checks directly that its reference (no BN) fits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

#: A learned run's FID is at most this fraction of the mean image's FID.
LEARNED_FRACTION = 0.8


@dataclass(frozen=True)
class Learning:
    """An arm's reading of the gate: how many of its completed seeds learned, and the FID a
    seed had to reach."""

    arm: str
    learned_seeds: int
    completed: int
    threshold: float

    @property
    def learned(self) -> bool:
        return self.completed > 0 and 2 * self.learned_seeds >= self.completed

    def __str__(self) -> str:
        return (f"{self.arm} {'learned' if self.learned else 'did not learn'} at this profile "
                f"({self.learned_seeds} of {self.completed} seeds reached FID ≤ {self.threshold:.4g})")


_MEAN_IMAGE_FID: dict[tuple, float] = {}


def mean_image_fid(config, n: int = 2000) -> float:
    """FID of the training set's mean image, drawn ``n`` times, against the held-out split: the
    score of a generator that knows only the data's average. The data are the run's own
    (:func:`bngan.run_data.load_run_data`, loaded once per dataset); the score is kept per
    dataset, size and training subset."""
    from . import quality
    from .baselines import MeanImage
    from .run_data import load_run_data

    d = config.data
    key = (d.dataset, d.image_size, d.image_channels, d.n_train, n)
    if key not in _MEAN_IMAGE_FID:
        train, test = load_run_data(config, torch.device("cpu"), all_test=True)
        with torch.no_grad():
            fakes = MeanImage(train.mean(0), latent_dim=1)(torch.zeros(n, 1))
        _MEAN_IMAGE_FID[key] = float(quality.sample_quality(fakes, test, dataset=d.dataset)["fid"])
    return _MEAN_IMAGE_FID[key]


def threshold_for(config) -> float:
    """The FID a run of ``config`` must reach to count as learned."""
    return LEARNED_FRACTION * mean_image_fid(config)


def arm_learning(results, *, threshold: float | None = None) -> Learning | None:
    """The gate's reading of one arm (a :class:`bngan.experiments.RunSet`): ``None`` for toy runs
    or runs without an FID (nothing to gate on)."""
    config = results.config
    if config.data.kind != "image":
        return None
    fids = np.asarray([v for v in results.by_seed("fid").values()], dtype=float)
    if fids.size == 0 and not results.completed:
        return Learning(results.label, 0, 0, float("nan") if threshold is None else threshold)
    if fids.size == 0:
        return None
    limit = threshold_for(config) if threshold is None else threshold
    return Learning(results.label, int(np.sum(fids <= limit)), int(fids.size), float(limit))
