"""Datasets as on-device tensors: image sets, a seeded batch sampler and 2-D toy distributions.

Everything is loaded once into a float32 tensor in [-1, 1] (the range of a tanh
generator) and kept on the training device, so training draws batches by
indexing instead of going through a DataLoader.

A torchvision dataset is looked for in the ``BNGAN_DATA`` cache, then in a system copy
(Debian's ``dataset-fashion-mnist`` package), then downloaded; scikit-learn's digits are
bundled and always work offline.
"""

from __future__ import annotations

import functools
import gzip
import math
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .choices import IMAGE_DATASETS, IMAGE_SIZES, TOY_DISTRIBUTIONS  # noqa: F401  (data.IMAGE_DATASETS, ...)
from .install import ensure_torch_pair

ensure_torch_pair()  # every run loads data: a mismatched torch/torchvision pair fails here, in one line, not mid-run

OFFLINE_DATASETS: tuple[str, ...] = ("digits",)

_ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "fmnist": "fashion-mnist"}
_TORCHVISION_CLASSES = {"cifar10": "CIFAR10", "mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
_DIGITS_TEST_FRACTION = 0.2
# The digits train/test split is fixed so the held-out set is the same for every run seed,
# like the official splits of the torchvision datasets.
_DIGITS_SPLIT_SEED = 0
# Errors torchvision's download and integrity code raises (URLError and SSL errors are OSErrors).
_DOWNLOAD_ERRORS = (RuntimeError, OSError, EOFError, tarfile.TarError)
# Datasets stored as the four original idx files (LeCun's format), which torchvision reads too.
_IDX_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# System copies installed by a package manager, searched after the BNGAN_DATA cache.
# Debian/Ubuntu: `apt-get install dataset-fashion-mnist`.
SYSTEM_DIRS: dict[str, tuple[Path, ...]] = {
    "fashion-mnist": (Path("/usr/share/datasets/fashion-mnist"),),
}


class DatasetUnavailableError(RuntimeError):
    """A dataset could neither be found on disk nor downloaded."""


DATA_ENV = "BNGAN_DATA"


def default_data_root() -> Path:
    """The dataset cache when no folder is passed: ``$BNGAN_DATA``, else ``bngan`` in the
    user's cache (``$XDG_CACHE_HOME``, else ``~/.cache``). Nothing is created, so the run
    cache (:func:`bngan.runs.folders.runs_root`) can derive its default from the same place."""
    root = os.environ.get(DATA_ENV) or None
    if root is None:
        cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        root = Path(cache) / "bngan"
    return Path(root).expanduser()


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Return (and create) the dataset folder: `root`, else :func:`default_data_root`."""
    path = Path(root).expanduser() if root is not None else default_data_root()
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class ImageData:
    """Train and held-out images of one dataset, float32 (N, C, H, W) in [-1, 1], with class labels."""

    name: str
    train: torch.Tensor
    test: torch.Tensor
    train_labels: torch.Tensor | None = None  # (N,) int64 class ids on the images' device
    test_labels: torch.Tensor | None = None

    @property
    def channels(self) -> int:
        """Number of colour channels (1 or 3)."""
        return int(self.train.shape[1])

    @property
    def image_size(self) -> int:
        """Side length of the square images."""
        return int(self.train.shape[-1])


def _canonical_name(name: str) -> str:
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in IMAGE_DATASETS:
        raise ValueError(f"name must be one of {IMAGE_DATASETS} (got {name!r})")
    return key


def _to_unit_range(raw: torch.Tensor, max_value: float) -> torch.Tensor:
    """Map raw pixels (N, H, W) or channels-last (N, H, W, C) to float32 (N, C, H, W), 0 -> -1, max -> 1."""
    x = raw.to(torch.float32) * (2.0 / max_value) - 1.0
    if x.dim() == 3:
        return x.unsqueeze(1)
    if x.dim() == 4:
        return x.permute(0, 3, 1, 2).contiguous()
    raise ValueError(f"raw images must have 3 or 4 dimensions, got shape {tuple(raw.shape)}")


Split = tuple[torch.Tensor, torch.Tensor]  # raw images and int64 labels


def _subset(split: Split, n: int | None, seed: int, param: str) -> Split:
    """A seeded random subset of `n` images and their labels (all of them when `n` is None)."""
    raw, labels = split
    available = len(raw)
    if n is None:
        return raw, labels
    if not 1 <= n <= available:
        raise ValueError(f"{param} must be between 1 and the {available} images available (got {n})")
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(available, generator=gen)[:n]
    return raw[idx], labels[idx]


def _prepare(raw: torch.Tensor, max_value: float, image_size: int, channels: int) -> torch.Tensor:
    """Scale to [-1, 1], set the channel count and resize; runs on the raw tensor's device."""
    x = _to_unit_range(raw, max_value)
    if channels == 1 and x.shape[1] == 3:
        x = x.mean(dim=1, keepdim=True)
    if x.shape[-1] != image_size or x.shape[-2] != image_size:
        shrink = image_size < x.shape[-1]
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=shrink)
        x = x.clamp_(-1.0, 1.0)
    if channels == 3 and x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    return x


def _load_digits() -> tuple[Split, Split, float]:
    """sklearn's bundled 8x8 digits (values 0..16) with a fixed 80/20 train/test split."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(bunch.images).to(torch.float32)  # exact for 0..16; MPS lacks float64
    labels = torch.from_numpy(bunch.target).to(torch.int64)
    n_test = round(_DIGITS_TEST_FRACTION * len(images))
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(_DIGITS_SPLIT_SEED))
    train, test = order[n_test:], order[:n_test]
    return (images[train], labels[train]), (images[test], labels[test]), 16.0


# --------------------------------------------------------------------------- idx files (MNIST family)

_IDX_DTYPES = {0x08: np.uint8}


def read_idx(path: str | os.PathLike[str]) -> torch.Tensor:
    """Read one idx file (LeCun's MNIST format, optionally gzipped) as a uint8 tensor."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an unsigned-byte idx file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != math.prod(shape):
        raise ValueError(f"{path} holds {body.size} values, its header says {shape}")
    return torch.from_numpy(body.reshape(shape).copy())


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


@functools.lru_cache(maxsize=2)
def _load_idx_folder(folder: Path) -> tuple[Split, Split, float] | None:
    """The four idx files in `folder` (gzipped or not), or None when any is missing.

    Kept in memory (two folders), so a process decompresses a dataset once.
    """
    paths = {train: [_find_idx(folder, stem) for stem in stems] for train, stems in _IDX_FILES.items()}
    if any(p is None for ps in paths.values() for p in ps):
        return None
    splits = []
    for train in (True, False):
        images, labels = (read_idx(p) for p in paths[train])
        if images.dim() != 3 or labels.dim() != 1 or len(images) != len(labels):
            raise ValueError(f"idx files in {folder} do not hold matching (N, H, W) images and (N,) labels")
        splits.append((images, labels.to(torch.int64)))
    return splits[0], splits[1], 255.0


def system_dirs(name: str) -> tuple[Path, ...]:
    """Folders where a package manager installs dataset `name` (see :data:`SYSTEM_DIRS`)."""
    return SYSTEM_DIRS.get(_canonical_name(name), ())


# --------------------------------------------------------------------------- torchvision datasets

def _torchvision_splits(name: str, root: Path, download: bool) -> tuple[Split, Split, float]:
    import torchvision.datasets

    cls = getattr(torchvision.datasets, _TORCHVISION_CLASSES[name])
    splits = []
    for train in (True, False):
        ds = cls(root=str(root), train=train, download=download)
        images = torch.as_tensor(ds.data)
        targets = getattr(ds, "targets", None)
        labels = torch.as_tensor(targets, dtype=torch.int64) if targets is not None else \
            torch.full((len(images),), -1, dtype=torch.int64)
        splits.append((images, labels))
    return splits[0], splits[1], 255.0


def _load_torchvision(name: str, root: Path, download: bool) -> tuple[Split, Split, float]:
    """Official train/test splits as raw uint8 tensors with labels, looked for in this order:

    1. the cache `root` (torchvision's own layout; for the MNIST family also the four idx
       files, gzipped or not, in ``root/<Class>/raw``),
    2. a system copy (:data:`SYSTEM_DIRS`, e.g. Debian's ``dataset-fashion-mnist``),
    3. torchvision's download into `root` (only when `download`).
    """
    errors: list[BaseException] = []
    try:
        return _torchvision_splits(name, root, download=False)
    except _DOWNLOAD_ERRORS as err:
        errors.append(err)
    idx = name != "cifar10"
    folders = ((root / _TORCHVISION_CLASSES[name] / "raw",) if idx else ()) + system_dirs(name)
    for folder in folders:
        found = _load_idx_folder(folder)
        if found is not None:
            return found
    if download:
        try:
            return _torchvision_splits(name, root, download=True)
        except _DOWNLOAD_ERRORS as err:
            errors.append(err)
    system = ", ".join(str(p) for p in system_dirs(name)) or "none known for this dataset"
    debian = " (Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist)" if name == "fashion-mnist" else ""
    raise DatasetUnavailableError(
        f"Could not load dataset {name!r}. Looked in, in order: "
        f"(1) the BNGAN_DATA cache {root} (torchvision's layout"
        + (f", or the four idx files in {root / _TORCHVISION_CLASSES[name] / 'raw'}" if idx else "") + "); "
        f"(2) a system copy: {system}{debian}; "
        f"(3) torchvision's download: {'failed: ' + repr(errors[-1]) if download else 'not tried (download=False)'}. "
        "Without the data or a network, BNGAN_DATASET=digits selects scikit-learn's bundled digits, "
        "which work offline (load_images('digits'))."
    ) from errors[-1]


def load_images(
    name: str,
    *,
    image_size: int = 32,
    channels: int | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
    device: str | torch.device = "cpu",
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    seed: int = 0,
) -> ImageData:
    """Load an image dataset as float32 (N, C, H, W) tensors in [-1, 1] on `device`, with labels.

    `n_train` / `n_test` take seeded random subsets; `channels` None keeps the dataset's own.
    A torchvision dataset is looked for in the BNGAN_DATA cache, then in a system copy
    (:data:`SYSTEM_DIRS`), then downloaded; DatasetUnavailableError names all three when
    none works.
    """
    key = _canonical_name(name)
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size must be one of {IMAGE_SIZES} (got {image_size!r})")
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be None, 1 or 3 (got {channels!r})")
    if key == "digits":
        train, test, max_value = _load_digits()
    else:
        train, test, max_value = _load_torchvision(key, data_root(root), download)
    raw_train, y_train = _subset(train, n_train, seed, "n_train")
    raw_test, y_test = _subset(test, n_test, seed, "n_test")
    if channels is None:
        channels = 3 if raw_train.dim() == 4 else 1
    device = torch.device(device)
    # Move the compact raw arrays once, then convert and resize on the target device.
    return ImageData(
        name=key,
        train=_prepare(raw_train.to(device), max_value, int(image_size), channels),
        test=_prepare(raw_test.to(device), max_value, int(image_size), channels),
        train_labels=y_train.to(device),
        test_labels=y_test.to(device),
    )


class BatchSampler:
    """Seeded batches drawn on the data's device, without replacement within an epoch, no DataLoader.

    Each epoch is a fresh permutation; the last partial batch of an epoch is dropped so
    every batch is full-size. `state_dict` captures enough to resume the exact sequence.
    """

    def __init__(self, data: torch.Tensor, batch_size: int, *, seed: int = 0) -> None:
        n = len(data)
        if not 1 <= batch_size <= n:
            raise ValueError(f"batch_size must be between 1 and len(data)={n} (got {batch_size})")
        self.data = data
        self.batch_size = int(batch_size)
        self.epoch = 0
        self._generator = torch.Generator(device=data.device)
        self._generator.manual_seed(seed)
        self._perm = self._shuffle()
        self._pos = 0

    def _shuffle(self) -> torch.Tensor:
        return torch.randperm(len(self.data), generator=self._generator, device=self.data.device)

    @property
    def batches_per_epoch(self) -> int:
        """Full batches drawn before the data is reshuffled."""
        return len(self.data) // self.batch_size

    def __call__(self) -> torch.Tensor:
        """Return the next (batch_size, ...) batch, reshuffling when the epoch runs out."""
        if self._pos + self.batch_size > len(self.data):
            self._perm = self._shuffle()
            self._pos = 0
            self.epoch += 1
        idx = self._perm[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        return self.data[idx]

    def state_dict(self) -> dict[str, Any]:
        """Generator state, current permutation and position (all on CPU, torch.save-able)."""
        return {
            "generator": self._generator.get_state(),
            "perm": self._perm.cpu(),
            "pos": self._pos,
            "epoch": self.epoch,
            "batch_size": self.batch_size,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a `state_dict` so the following batches match the saved run."""
        if state["batch_size"] != self.batch_size or len(state["perm"]) != len(self.data):
            raise ValueError(
                f"state must come from a sampler with batch_size={self.batch_size} over {len(self.data)} items "
                f"(got batch_size={state['batch_size']} over {len(state['perm'])})"
            )
        self._generator.set_state(state["generator"])
        self._perm = state["perm"].to(self.data.device)
        self._pos = int(state["pos"])
        self.epoch = int(state["epoch"])


_TOY_DEFAULTS: dict[str, dict[str, Any]] = {
    "ring": {"k": 8, "radius": 2.0, "std": 0.05},
    "grid": {"k": 5, "spacing": 1.0, "std": 0.05},
    "moons": {"noise": 0.05},
    "gaussian": {"mean": (1.0, 0.5), "std": (0.5, 0.2)},
}


def toy_2d(
    name: str, n_samples: int, *, seed: int = 0, device: str | torch.device = "cpu", **params: Any
) -> torch.Tensor:
    """Sample (n_samples, 2) float32 points from a 2-D toy distribution, deterministic under `seed`.

    ring: k Gaussians on a circle (k, radius, std); grid: k x k Gaussians centred at 0
    (k, spacing, std); moons: sklearn's standardised two moons (noise); gaussian: one
    Gaussian with per-axis mean and std, so location and scale errors are visible.
    """
    key = str(name).strip().lower()
    if key not in TOY_DISTRIBUTIONS:
        raise ValueError(f"name must be one of {TOY_DISTRIBUTIONS} (got {name!r})")
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1 (got {n_samples})")
    allowed = _TOY_DEFAULTS[key]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"unknown parameters {unknown} for {key!r}; allowed: {sorted(allowed)}")
    p = {**allowed, **params}
    if "k" in p and (int(p["k"]) != p["k"] or p["k"] < 1):
        raise ValueError(f"k must be a positive integer (got {p['k']!r})")
    gen = torch.Generator().manual_seed(seed)

    if key == "moons":
        from sklearn.datasets import make_moons

        points, _ = make_moons(n_samples=n_samples, noise=p["noise"], random_state=seed)
        x = torch.from_numpy(points).to(torch.float32)
        x = (x - x.mean(0)) / x.std(0).clamp_min(1e-12)
    elif key == "gaussian":
        mean = torch.as_tensor(p["mean"], dtype=torch.float32).expand(2)
        std = torch.as_tensor(p["std"], dtype=torch.float32).expand(2)
        x = mean + std * torch.randn(n_samples, 2, generator=gen)
    else:
        k = int(p["k"])
        if key == "ring":
            angles = torch.arange(k, dtype=torch.float32) * (2 * math.pi / k)
            centres = p["radius"] * torch.stack([angles.cos(), angles.sin()], dim=1)
        else:
            coords = (torch.arange(k, dtype=torch.float32) - (k - 1) / 2) * p["spacing"]
            centres = torch.cartesian_prod(coords, coords).reshape(-1, 2)
        which = torch.randint(len(centres), (n_samples,), generator=gen)
        x = centres[which] + p["std"] * torch.randn(n_samples, 2, generator=gen)
    return x.to(device)
