"""Did an arm learn? The gate a comparison must pass before it decides anything.

A verdict such as "BN helps" read against a generator that has not started to learn at the
profile's budget says nothing about the claim. The rule, stated here once, before any arm is
read, and calibrated on generators that need no training (:func:`reference_fids`, per dataset
and image size, on the same classifier features and held-out images the runs are scored on):

- a run *learned* when its FID is at most that of a generator that repeats **three real
  training images** (:data:`LEARNED_REFERENCE`, the median over five random draws of three): a
  generator that does no better than three fixed pictures has not learned the data. The
  degenerate references score above it (the data's mean image, one real image repeated, real
  images of one class), and everything that shows the data's variety scores below it (ten or
  more real images repeated, real images of two or more classes, blurred real images, the
  held-out images themselves); the appendix on the gate shows the table at each profile;
- an arm (a set-up's runs) learned when at least half of its completed seeds did.

"Learned" asks for no variety beyond that: a generator collapsed onto a handful of real-looking
images can pass (ten repeated real images do). Collapse is what several claims measure (class
coverage), and a gate on variety would withhold exactly those verdicts.

Toy 2-D runs are not gated: chapter 7 checks directly that its reference (no BN) fits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

#: The reference generator a learned run must match or beat (a key of :func:`reference_fids`).
LEARNED_REFERENCE = "3 real images repeated"
#: Random draws (of images or of classes) per reference; the reference scores their median.
REFERENCE_DRAWS = 5


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


_REFERENCES: dict[tuple, dict[str, float]] = {}


def _scored(fakes: torch.Tensor, test: torch.Tensor, dataset: str) -> float:
    from ..measure import quality

    return float(quality.sample_quality(fakes, test, dataset=dataset)["fid"])


def reference_fids(config, n: int | None = None) -> dict[str, float]:
    """FIDs of generators that need no training, scored like a run of ``config`` (``n`` fakes,
    default the runs' :data:`bngan.measure.quality.N_SAMPLES`, against the held-out split): the data's
    mean image drawn every time; ``k`` real training images repeated (k = 1, 3, 10, 30); real
    training images of ``c`` classes (c = 1, 2, 3, 5); real training images blurred (Gaussian,
    sigma 1 pixel); real training images of every class; and a held-out sample against the whole
    held-out split. Random choices are seeded; each reference is the median of
    :data:`REFERENCE_DRAWS` draws. Kept per dataset, size and subset."""
    from torchvision.transforms import functional as TF

    from .. import data
    from ..measure import quality

    d = config.data
    n = quality.N_SAMPLES if n is None else n
    key = (d.dataset, d.image_size, d.image_channels, d.n_train, n)
    if key in _REFERENCES:
        return _REFERENCES[key]
    images = data.load_images(d.dataset, image_size=d.image_size, channels=d.channels, n_train=d.n_train, seed=0)
    train, labels, test = images.train, images.train_labels, images.test
    n = min(n, len(train), len(test))
    gen = torch.Generator().manual_seed(0)

    def draw(pool: torch.Tensor) -> torch.Tensor:
        return pool[torch.randint(len(pool), (n,), generator=gen)]

    def median(make) -> float:
        return float(np.median([_scored(make(), test, d.dataset) for _ in range(REFERENCE_DRAWS)]))

    classes = sorted(set(labels.tolist())) if labels is not None else []
    found = {"mean image": _scored(train.mean(0, keepdim=True).expand(n, -1, -1, -1), test, d.dataset)}
    for k in (1, 3, 10, 30):
        found[f"{k} real image{'s' if k > 1 else ''} repeated"] = median(
            lambda k=k: train[torch.randperm(len(train), generator=gen)[:k]].repeat((n + k - 1) // k, 1, 1, 1)[:n])
    for c in (1, 2, 3, 5):
        if c <= len(classes):
            def of_classes(c=c):
                chosen = torch.tensor(classes)[torch.randperm(len(classes), generator=gen)[:c]]
                return draw(train[torch.isin(labels, chosen)])
            found[f"real images of {c} class{'es' if c > 1 else ''}"] = median(of_classes)
    found["blurred real images (sigma 1 px)"] = median(lambda: TF.gaussian_blur(draw(train), [7, 7], [1.0, 1.0]))
    found["real images of every class"] = median(lambda: draw(train))
    found["held-out images"] = median(lambda: draw(test))
    _REFERENCES[key] = found
    return found


def mean_image_fid(config, n: int | None = None) -> float:
    """FID of the training set's mean image drawn every time: the score of a generator that
    knows only the data's average (one of :func:`reference_fids`)."""
    return reference_fids(config, n)["mean image"]


def threshold_for(config) -> float:
    """The FID a run of ``config`` must reach to count as learned: :data:`LEARNED_REFERENCE`'s."""
    return reference_fids(config)[LEARNED_REFERENCE]


def reference_table(config):
    """The references of :func:`reference_fids` as a table, lowest FID first, each marked
    with what the gate would say of a run that scored it."""
    from .tables import TextTable

    limit = threshold_for(config)
    rows = [(name, f"{fid:.4g}", "passes" if fid <= limit else "fails")
            for name, fid in sorted(reference_fids(config).items(), key=lambda kv: kv[1])]
    return TextTable(("reference generator", "FID", "the gate"), rows)


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
