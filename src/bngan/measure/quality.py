"""Sample quality on a trained classifier's features: FID, KID and mode coverage.

FID and KID are usually computed on Inception-v3 features, whose weights are downloaded at
run time. For the small datasets the book trains on offline (digits, Fashion-MNIST) the
accepted substitute is the same statistics on the penultimate features of a small classifier
trained on that dataset. :func:`classifier` trains one per (dataset, image size, channels):
once, deterministically (its own seed, without touching the caller's random streams), cached
under the data root with its held-out accuracy, and kept in memory. The Frechet and kernel
statistics are torchmetrics' (FID's matrix square root via the eigenvalues of a product of
covariances, in float64); this module only supplies the features.

* :func:`sample_quality`: ``fid``, ``kid``, ``classes_covered`` and ``class_kl`` of samples
  against held-out images; the trainer records them at the end of every image run.
* :func:`inception_quality`: ``fid_inception`` and ``kid_inception`` on Inception-v3 features,
  for CIFAR-10 on a machine that can download the weights (torch-fidelity); runs record them
  too when ``BNGAN_INCEPTION=1``.

All of it runs batched on the tensors' device; samples and images are in [-1, 1].
"""

from __future__ import annotations

import time
import warnings
import weakref
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .. import data
from ..files import atomic_torch_save, load_error_reason, torch_load

INCEPTION_ENV = "BNGAN_INCEPTION"  # set to 1: runs also record Inception FID/KID (needs the weights)
CLASSIFIER_VERSION = 1  # bump when the classifier or its training changes: old caches are ignored
CLASSIFIER_SEED = 1234
FEATURES = 128  # width of the penultimate layer, the feature space of FID and KID
N_SAMPLES = 2000  # fakes a run scores at the end (fewer when the held-out split is smaller)
KID_SUBSETS = 50
KID_SUBSET_SIZE = 1000
COVERED_SHARE = 0.25  # a class is covered when it gets at least this fraction of its data share
_BATCH = 1000  # images per forward pass when embedding
# Epochs per dataset: enough for a plateau at 16 px (Fashion-MNIST ~88-90%) in about a minute
# on a 2-core CPU; at least _MIN_STEPS optimizer steps so a small set (digits) trains too.
_EPOCHS = {"cifar10": 10}
_DEFAULT_EPOCHS = 2
_MIN_STEPS = 150
_TRAIN_BATCH = 128


class QualityUnavailableError(RuntimeError):
    """A quality measure cannot be computed here (missing package or weights)."""


class SmallCNN(nn.Module):
    """Two conv-BN-ReLU-maxpool blocks, a 4x4 average pool, a ``features``-wide ReLU layer
    (the embedding) and a linear head; works at every image size of :data:`bngan.data.IMAGE_SIZES`."""

    def __init__(self, channels: int, n_classes: int, *, width: int = 32, features: int = FEATURES) -> None:
        super().__init__()
        self.num_features = features
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(2 * width * 16, features), nn.ReLU(),
        )
        self.head = nn.Linear(features, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@dataclass
class Classifier:
    """A trained :class:`SmallCNN` for one (dataset, image size, channels), in eval mode."""

    dataset: str
    image_size: int
    channels: int
    net: SmallCNN
    test_accuracy: float  # on the dataset's held-out split
    class_freq: torch.Tensor  # (n_classes,) class frequencies of the training split, on CPU
    train_seconds: float

    @property
    def n_classes(self) -> int:
        return len(self.class_freq)

    def __str__(self) -> str:
        return (f"{self.dataset} {self.image_size}px classifier: {self.test_accuracy:.1%} held-out accuracy, "
                f"trained in {self.train_seconds:.0f} s")

    @torch.no_grad()
    def embed(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (N, FEATURES), predicted class (N,)) for images in [-1, 1], batched."""
        self._check(images, "images")
        device = next(self.net.parameters()).device
        feats, preds = [], []
        for x in images.detach().split(_BATCH):
            f = self.net.body(x.to(device=device, dtype=torch.float32).clamp(-1, 1))
            feats.append(f)
            preds.append(self.net.head(f).argmax(1))
        return torch.cat(feats), torch.cat(preds)

    def _check(self, images: torch.Tensor, param: str) -> None:
        shape = (self.channels, self.image_size, self.image_size)
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or tuple(images.shape[1:]) != shape:
            got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise ValueError(f"{param} must be a tensor of shape (N, {shape[0]}, {shape[1]}, {shape[2]}) for the "
                             f"{self.dataset} classifier; got {got}")


_CLASSIFIERS: dict[tuple[str, int, int, str], Classifier] = {}


def _cache_file(dataset: str, image_size: int, channels: int):
    return data.data_root() / "classifiers" / f"{dataset}-{image_size}px-{channels}ch-v{CLASSIFIER_VERSION}.pt"


def _train(dataset: str, image_size: int, channels: int, device: torch.device) -> dict:
    """Train a SmallCNN on the training split (seeded, its own RNG) and score it on the test split."""
    images = data.load_images(dataset, image_size=image_size, channels=channels, device=device)
    y_train = images.train_labels
    if y_train is None or int(y_train.min()) < 0:
        raise QualityUnavailableError(f"dataset {dataset!r} has no class labels to train a classifier on")
    n_classes = int(y_train.max()) + 1
    n = len(images.train)
    batches = max(1, n // _TRAIN_BATCH)
    steps = max(_EPOCHS.get(dataset, _DEFAULT_EPOCHS) * batches, _MIN_STEPS)
    started = time.perf_counter()
    fork = [device] if device.type == "cuda" else []
    # fork_rng: the caller's streams come out untouched; enable_grad: callers may be under no_grad.
    with torch.random.fork_rng(devices=fork), torch.enable_grad():
        torch.manual_seed(CLASSIFIER_SEED)
        gen = torch.Generator(device=device).manual_seed(CLASSIFIER_SEED)
        net = SmallCNN(channels, n_classes).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=3e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.15)
        net.train()
        perm, pos = torch.randperm(n, generator=gen, device=device), 0
        for _ in range(steps):
            if pos + _TRAIN_BATCH > n:
                perm, pos = torch.randperm(n, generator=gen, device=device), 0
            idx = perm[pos: pos + _TRAIN_BATCH]
            pos += _TRAIN_BATCH
            loss = nn.functional.cross_entropy(net(images.train[idx]), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    with torch.no_grad():
        pred = torch.cat([net(x).argmax(1) for x in images.test.split(_BATCH)])
    accuracy = (pred == images.test_labels).float().mean().item()
    freq = torch.bincount(y_train, minlength=n_classes).double().cpu()
    return {"version": CLASSIFIER_VERSION, "dataset": dataset, "image_size": image_size, "channels": channels,
            "n_classes": n_classes, "state_dict": {k: v.cpu() for k, v in net.state_dict().items()},
            "test_accuracy": accuracy, "class_freq": freq / freq.sum(), "steps": steps,
            "train_seconds": time.perf_counter() - started}


def classifier(dataset: str, image_size: int, channels: int = 1, device: str | torch.device = "cpu") -> Classifier:
    """The trained classifier for (dataset, image_size, channels) on ``device``.

    Loaded from memory, else from ``<data root>/classifiers/`` (see :func:`bngan.data.data_root`),
    else trained (a minute or less on a CPU at 16 px, seconds on digits) and written there
    atomically. Training is seeded and runs under :func:`torch.random.fork_rng`, so the
    caller's random streams are the same whether or not the classifier was cached.
    """
    name = data._canonical_name(dataset)
    if image_size not in data.IMAGE_SIZES:
        raise ValueError(f"image_size must be one of {data.IMAGE_SIZES} (got {image_size!r})")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3 (got {channels!r})")
    device = torch.device(device)
    key = (name, int(image_size), int(channels), str(device))
    if key in _CLASSIFIERS:
        return _CLASSIFIERS[key]
    path = _cache_file(name, image_size, channels)
    payload = None
    if path.is_file():
        try:
            payload = torch_load(path)
        except Exception as err:  # noqa: BLE001 - a damaged cache is retrained, not fatal
            # one line, without torch's hint to load the file unsafely (weights_only=False)
            warnings.warn(f"ignoring unreadable classifier cache {path} ({type(err).__name__}: "
                          f"{load_error_reason(err)}); training the classifier again", stacklevel=2)
    if payload is None or payload.get("version") != CLASSIFIER_VERSION:
        payload = _train(name, image_size, channels, device)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_torch_save(payload, path)
    with torch.random.fork_rng(devices=[]):  # construction draws initial weights; they are replaced
        net = SmallCNN(channels, payload["n_classes"])
    net.load_state_dict(payload["state_dict"])
    net.to(device).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    found = Classifier(dataset=name, image_size=int(image_size), channels=int(channels), net=net,
                       test_accuracy=float(payload["test_accuracy"]), class_freq=payload["class_freq"].float(),
                       train_seconds=float(payload["train_seconds"]))
    _CLASSIFIERS[key] = found
    return found


# --------------------------------------------------------------------------- the statistics


class _Given(nn.Module):
    """Identity 'feature extractor': hands torchmetrics features computed once, here."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def frechet_and_kernel(fake_features: torch.Tensor, real_features: torch.Tensor, *,
                       kid_subsets: int = KID_SUBSETS, kid_subset_size: int = KID_SUBSET_SIZE) -> dict[str, float]:
    """torchmetrics' FID and KID (cubic polynomial kernel, mean over random subsets) of two
    feature sets (N, F), (M, F). The KID subset size is cut to the smaller set; the subsets
    are drawn under a fixed seed, so the result is deterministic."""
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    if fake_features.ndim != 2 or real_features.ndim != 2 or fake_features.shape[1] != real_features.shape[1]:
        raise ValueError(f"features must be (N, F) and (M, F); got {tuple(fake_features.shape)} and "
                         f"{tuple(real_features.shape)}")
    n = min(len(fake_features), len(real_features))
    if n < 2:
        raise ValueError(f"FID and KID need at least 2 samples on each side; got {len(fake_features)} fakes "
                         f"and {len(real_features)} real")
    device, width = fake_features.device, fake_features.shape[1]
    real_features = real_features.to(device)
    fid = FrechetInceptionDistance(feature=_Given(width)).to(device)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        kid = KernelInceptionDistance(feature=_Given(width), subsets=kid_subsets,
                                      subset_size=min(kid_subset_size, n)).to(device)
    for metric in (fid, kid):
        metric.update(real_features, real=True)
        metric.update(fake_features, real=False)
    with torch.random.fork_rng(devices=[]):  # KID's subsets come from the CPU generator
        torch.manual_seed(0)
        kid_mean, _ = kid.compute()
    return {"fid": float(fid.compute()), "kid": float(kid_mean)}


def class_coverage(predicted: torch.Tensor, class_freq: torch.Tensor) -> dict[str, float]:
    """Mode coverage from the classifier's predictions on samples.

    ``classes_covered``: classes that get at least :data:`COVERED_SHARE` of their share in the
    data (a quarter: robust to the classifier's own errors); ``class_kl``: KL(samples' class
    histogram || data's class frequencies), 0 for a perfect match, log(10) = 2.30 for a
    generator that makes one class out of ten equally frequent ones.
    """
    q = class_freq.double().cpu()
    counts = torch.bincount(predicted.cpu(), minlength=len(q)).double()
    n = counts.sum()
    p = counts / n
    covered = int((counts >= COVERED_SHARE * q * n).logical_and(counts > 0).sum())
    mask = p > 0
    kl = max(0.0, float((p[mask] * (p[mask] / q[mask]).log()).sum()))  # >= 0; rounding aside
    return {"classes_covered": covered, "class_kl": kl}


_REAL_CACHE: dict[tuple, tuple[weakref.ref, int, torch.Tensor]] = {}


def _real_features(judge: Classifier, real: torch.Tensor) -> torch.Tensor:
    """Features of the held-out images, remembered while the same tensor is passed unchanged."""
    key = (judge.dataset, judge.image_size, judge.channels, str(next(judge.net.parameters()).device))
    hit = _REAL_CACHE.get(key)
    if hit is not None and hit[0]() is real and hit[1] == real._version:
        return hit[2]
    judge._check(real, "real")
    feats, _ = judge.embed(real)
    _REAL_CACHE[key] = (weakref.ref(real), real._version, feats)
    return feats


def sample_quality(fakes: torch.Tensor, real: torch.Tensor, *, dataset: str, image_size: int | None = None,
                   channels: int | None = None, device: str | torch.device | None = None) -> dict[str, float]:
    """FID, KID and class coverage of ``fakes`` against held-out ``real`` images.

    Both are (N, C, H, W) in [-1, 1]; ``image_size``/``channels`` default to the fakes' own and
    ``device`` to theirs. Features are the penultimate layer of :func:`classifier` for
    ``dataset``. Returns ``fid``, ``kid``, ``classes_covered``, ``class_kl`` and the
    classifier's ``classifier_accuracy`` (so a record says how good its judge was).
    """
    if not isinstance(fakes, torch.Tensor) or fakes.ndim != 4:
        raise ValueError(f"fakes must be a (N, C, H, W) tensor; got "
                         f"{tuple(fakes.shape) if isinstance(fakes, torch.Tensor) else type(fakes).__name__}")
    image_size = int(fakes.shape[-1]) if image_size is None else image_size
    channels = int(fakes.shape[1]) if channels is None else channels
    device = fakes.device if device is None else torch.device(device)
    judge = classifier(dataset, image_size, channels, device)
    judge._check(fakes, "fakes")
    fake_features, predicted = judge.embed(fakes)
    found = frechet_and_kernel(fake_features, _real_features(judge, real))
    found.update(class_coverage(predicted, judge.class_freq))
    found["classifier_accuracy"] = judge.test_accuracy
    return found


def over_training(run, real: torch.Tensor, *, metric: str = "kid") -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of ``metric`` (``kid`` or ``fid``) for each sample snapshot a finished
    image run stored (its fixed-noise samples, eval-mode G), against held-out ``real`` images.

    The snapshots are small (a run keeps ``train.n_samples`` of them, 64 by default), so KID,
    which is unbiased at small sample sizes, is the default; FID on 64 samples is biased
    upwards and only comparable between runs with the same number of samples. The run itself
    scores 2000 samples at the end (``run.metrics``)."""
    if metric not in ("kid", "fid"):
        raise ValueError(f"metric must be 'kid' or 'fid'; got {metric!r}")
    if run.config.data.kind != "image" or len(run.sample_steps) == 0:
        raise ValueError(f"over_training needs an image run with sample snapshots; {run.config.name} has "
                         f"{len(run.sample_steps)} snapshots of {run.config.data.kind} data")
    d = run.config.data
    judge = classifier(d.dataset, d.image_size, d.image_channels, real.device)
    real_features = _real_features(judge, real)
    values = []
    for snapshot in run.samples:
        fakes = snapshot.to(real.device, torch.float32) / 127.5 - 1.0
        values.append(frechet_and_kernel(judge.embed(fakes)[0], real_features)[metric])
    return np.asarray(run.sample_steps), np.asarray(values)


# --------------------------------------------------------------------------- Inception (needs a download)


def inception_quality(fakes: torch.Tensor, real: torch.Tensor, *, device: str | torch.device | None = None,
                      batch_size: int = 200) -> dict[str, float]:
    """``fid_inception`` and ``kid_inception``: the usual FID/KID on Inception-v3 pool features.

    Needs torch-fidelity (``pip install torch-fidelity``) and a network the first time, to
    download the weights; raises :class:`QualityUnavailableError` otherwise. Images in
    [-1, 1], grey ones repeated to three channels, resized to 299 px by torchmetrics.
    """
    device = fakes.device if device is None else torch.device(device)
    try:
        from torchmetrics.image.fid import NoTrainInceptionV3

        net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"]).to(device)
    except (ImportError, ModuleNotFoundError, OSError, RuntimeError, ValueError) as err:
        raise QualityUnavailableError(
            "Inception FID/KID need torch-fidelity and its weights (downloaded on first use): "
            f"pip install torch-fidelity, on a machine with a network. ({err!r})") from err

    @torch.no_grad()
    def features(x: torch.Tensor) -> torch.Tensor:
        out = []
        for chunk in x.detach().split(batch_size):
            chunk = chunk.to(device)
            if chunk.shape[1] == 1:
                chunk = chunk.repeat(1, 3, 1, 1)
            out.append(net(((chunk.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)))
        return torch.cat(out).float()

    found = frechet_and_kernel(features(fakes), features(real))
    return {"fid_inception": found["fid"], "kid_inception": found["kid"]}


__all__ = ["Classifier", "INCEPTION_ENV", "N_SAMPLES", "QualityUnavailableError", "SmallCNN", "class_coverage",
           "classifier", "frechet_and_kernel", "inception_quality", "over_training", "sample_quality"]
