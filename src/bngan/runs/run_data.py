"""The training data of a run, loaded once per dataset and kept in memory for a sweep."""

from __future__ import annotations

from typing import Any

import torch

from .. import data
from ..config import ExperimentConfig

_DATA_CACHE: dict[tuple, Any] = {}


def load_run_data(config: ExperimentConfig, device: torch.device, *,
                  all_test: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, test) tensors on ``device``; the same for every seed of an experiment, and
    kept in memory so a sweep loads each dataset once. ``test`` holds the first
    ``config.data.n_test`` held-out images, or with ``all_test=True`` (images only) the whole
    held-out split, which the sample-quality metrics compare against."""
    d = config.data
    key = (d.kind, d.dataset, d.image_size, d.channels, d.n_train, d.n_test, d.toy, d.toy_samples, str(device))
    if key not in _DATA_CACHE:
        if d.kind == "toy":
            _DATA_CACHE[key] = (data.toy_2d(d.toy, d.toy_samples, seed=0, device=device),
                                data.toy_2d(d.toy, d.toy_samples, seed=1, device=device))
        else:
            images = data.load_images(d.dataset, image_size=d.image_size, channels=d.channels, n_train=d.n_train,
                                      device=device, seed=0)
            if d.n_test > len(images.test):
                raise ValueError(f"data.n_test must be at most the {len(images.test)} held-out images of "
                                 f"{d.dataset}; got {d.n_test}")
            _DATA_CACHE[key] = (images.train, images.test)
        while len(_DATA_CACHE) > 3:
            _DATA_CACHE.pop(next(iter(_DATA_CACHE)))
    train, test = _DATA_CACHE[key]
    return (train, test) if all_test or d.kind == "toy" else (train, test[: d.n_test])

