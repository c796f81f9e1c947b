"""Tests for bngan.data: offline digits, torchvision path with fakes, sampler and toy data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision

from bngan import data
from bngan.data import (
    IMAGE_DATASETS,
    TOY_DISTRIBUTIONS,
    BatchSampler,
    DatasetUnavailableError,
    ImageData,
    data_root,
    load_images,
    toy_2d,
)


# ---------------------------------------------------------------- digits (offline)


@pytest.fixture(scope="module")
def digits() -> ImageData:
    return load_images("digits", image_size=16)


def test_digits_range_and_split(digits: ImageData) -> None:
    assert digits.name == "digits"
    assert digits.train.dtype == torch.float32
    assert len(digits.train) + len(digits.test) == 1797
    assert abs(len(digits.test) / 1797 - 0.2) < 0.01
    for x in (digits.train, digits.test):
        assert x.min().item() == -1.0 and x.max().item() == 1.0
    assert digits.channels == 1 and digits.image_size == 16


def test_digits_native_values_are_exact() -> None:
    """The shared scaling helper maps level v of 0..16 to v/8 - 1 and adds the channel axis."""
    from sklearn.datasets import load_digits

    raw = torch.from_numpy(load_digits().images[:5])
    x = data._to_unit_range(raw, 16.0)
    assert x.shape == (5, 1, 8, 8)
    torch.testing.assert_close(x, raw.unsqueeze(1).float() / 8 - 1)


@pytest.mark.parametrize("size", [16, 28, 32, 64])
def test_digits_sizes(size: int) -> None:
    d = load_images("digits", image_size=size, n_train=20, n_test=5)
    assert d.train.shape == (20, 1, size, size)
    assert d.test.shape == (5, 1, size, size)
    assert d.train.min() >= -1 and d.train.max() <= 1


def test_digits_labels_follow_the_images() -> None:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    label_of = {img.tobytes(): label for img, label in zip(bunch.images.astype(np.float32), bunch.target)}
    (x, y), (xt, yt), _ = data._load_digits()
    assert all(label_of[img.numpy().tobytes()] == label for img, label in zip(torch.cat([x, xt]), torch.cat([y, yt])))
    d = load_images("digits", image_size=16, n_train=30, n_test=7)
    assert d.train_labels.dtype == torch.int64 and d.train_labels.shape == (30,) and d.test_labels.shape == (7,)
    # A seeded subset keeps each image with its own label.
    xs, ys = data._subset((torch.arange(50.0), torch.arange(50)), 9, seed=3, param="n")
    assert torch.equal(xs.long(), ys) and len(ys.unique()) == 9


def test_digits_three_channels() -> None:
    d = load_images("digits", image_size=16, channels=3, n_train=10, n_test=3)
    assert d.train.shape == (10, 3, 16, 16) and d.channels == 3
    torch.testing.assert_close(d.train[:, 0], d.train[:, 2])


def test_digits_split_is_fixed_and_disjoint(digits: ImageData) -> None:
    other = load_images("digits", image_size=16, seed=5)
    torch.testing.assert_close(digits.test, other.test)
    # No held-out image appears in the training set.
    train = digits.train.flatten(1)
    test = digits.test.flatten(1)
    matches = (torch.cdist(test, train) == 0).any(dim=1)
    assert matches.float().mean() < 0.05  # digits has a few exact duplicates, but not a shared split


def test_subsets_deterministic_and_seeded() -> None:
    a = load_images("digits", image_size=16, n_train=50, n_test=10, seed=1)
    b = load_images("digits", image_size=16, n_train=50, n_test=10, seed=1)
    c = load_images("digits", image_size=16, n_train=50, n_test=10, seed=2)
    assert a.train.shape == (50, 1, 16, 16) and a.test.shape == (10, 1, 16, 16)
    torch.testing.assert_close(a.train, b.train)
    torch.testing.assert_close(a.test, b.test)
    assert not torch.equal(a.train, c.train)


def test_name_aliases_and_case() -> None:
    assert load_images("DIGITS", image_size=16, n_train=2, n_test=2).name == "digits"
    assert data._canonical_name("Fashion_MNIST") == "fashion-mnist"
    assert data._canonical_name("fmnist") == "fashion-mnist"


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"image_size": 20}, "image_size"),
        ({"channels": 2}, "channels"),
        ({"n_train": 0}, "n_train"),
        ({"n_train": 10_000}, "n_train"),
        ({"n_test": 1000}, "n_test"),
    ],
)
def test_bad_arguments(kwargs: dict, param: str) -> None:
    with pytest.raises(ValueError, match=param):
        load_images("digits", **kwargs)


def test_n_train_error_names_available_count() -> None:
    with pytest.raises(ValueError, match="1438"):
        load_images("digits", n_train=5000)


def test_unknown_dataset_lists_names() -> None:
    with pytest.raises(ValueError) as info:
        load_images("imagenet")
    for known in IMAGE_DATASETS:
        assert known in str(info.value)


# ---------------------------------------------------------------- torchvision path, no network


def _fake_dataset(make_data, calls: list[dict]):
    """A stand-in torchvision dataset class that records how it was constructed."""

    class Fake:
        def __init__(self, root, train=True, download=False, **kwargs):
            calls.append({"root": root, "train": train, "download": download, **kwargs})
            self.data = make_data(train)

    return Fake


def test_cifar_conversion(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    calls: list[dict] = []

    def make(train: bool) -> np.ndarray:
        n = 6 if train else 4
        arr = np.zeros((n, 32, 32, 3), dtype=np.uint8)
        arr[..., 0] = 255  # red channel full, green empty, blue mid-grey
        arr[..., 2] = 51
        return arr

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", _fake_dataset(make, calls))
    d = load_images("cifar10", root=tmp_path)
    assert [c["train"] for c in calls] == [True, False]
    # Found in the cache: no download asked for.
    assert all(c["download"] is False and str(c["root"]) == str(tmp_path) for c in calls)
    assert d.train.shape == (6, 3, 32, 32) and d.test.shape == (4, 3, 32, 32)
    assert torch.all(d.train[:, 0] == 1) and torch.all(d.train[:, 1] == -1)
    torch.testing.assert_close(d.train[:, 2], torch.full((6, 32, 32), 51 * 2 / 255 - 1))

    grey = load_images("cifar10", root=tmp_path, channels=1, image_size=16, download=False)
    assert grey.train.shape == (6, 1, 16, 16)
    torch.testing.assert_close(grey.train, torch.full_like(grey.train, (1 - 1 + 51 * 2 / 255 - 1) / 3))
    assert calls[-1]["download"] is False


def test_mnist_resize_to_32(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    calls: list[dict] = []
    gen = torch.Generator().manual_seed(0)
    raw = {t: torch.randint(0, 256, (8 if t else 3, 28, 28), dtype=torch.uint8, generator=gen) for t in (True, False)}
    raw[True][0, 0, :2] = torch.tensor([0, 255], dtype=torch.uint8)  # both extremes present

    def make(train: bool) -> torch.Tensor:
        return raw[train].clone()

    monkeypatch.setattr(torchvision.datasets, "MNIST", _fake_dataset(make, calls))
    native = load_images("mnist", root=tmp_path, image_size=28)
    assert native.train.min() == -1 and native.train.max() == 1
    d = load_images("mnist", root=tmp_path, image_size=32, n_train=5)
    assert d.train.shape == (5, 1, 32, 32) and d.test.shape == (3, 1, 32, 32)
    assert d.train.min() >= -1 and d.train.max() <= 1
    # Upsampling keeps the mean brightness close to the native images'.
    assert abs(d.test.mean() - native.test.mean()) < 0.05
    rgb = load_images("mnist", root=tmp_path, channels=3, image_size=28)
    torch.testing.assert_close(rgb.train[:, 1:2], native.train)


def test_fashion_mnist_alias_uses_fashion_class(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    calls: list[dict] = []
    make = lambda train: torch.zeros(2, 28, 28, dtype=torch.uint8)  # noqa: E731
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", _fake_dataset(make, calls))
    d = load_images("fashion_mnist", root=tmp_path, image_size=28)
    assert d.name == "fashion-mnist" and len(calls) == 2
    assert torch.all(d.train == -1)


def test_failed_download_raises_helpful_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    class Broken:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("Dataset not found or corrupted")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", Broken)
    with pytest.raises(DatasetUnavailableError) as info:
        load_images("cifar10", root=tmp_path / "nowhere")
    msg = str(info.value)
    assert "cifar10" in msg and str(tmp_path / "nowhere") in msg
    assert "digits" in msg and "not found or corrupted" in msg and "BNGAN_DATA" in msg
    assert isinstance(info.value.__cause__, RuntimeError)


def test_network_error_is_wrapped(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from urllib.error import URLError

    class Offline:
        def __init__(self, *args, **kwargs):
            raise URLError("no route to host")

    monkeypatch.setattr(torchvision.datasets, "MNIST", Offline)
    with pytest.raises(DatasetUnavailableError, match="mnist"):
        load_images("mnist", root=tmp_path)


def test_missing_cache_then_download(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """The cache is tried without downloading first; torchvision downloads only when it misses."""
    calls: list[dict] = []

    class OnlyDownload:
        def __init__(self, root, train=True, download=False):
            calls.append({"train": train, "download": download})
            if not download:
                raise RuntimeError("Dataset not found. You can use download=True to download it")
            self.data = np.zeros((3, 32, 32, 3), dtype=np.uint8)
            self.targets = [0, 1, 2]

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", OnlyDownload)
    d = load_images("cifar10", root=tmp_path)
    assert calls == [{"train": True, "download": False}, {"train": True, "download": True},
                     {"train": False, "download": True}]
    assert d.train_labels.tolist() == [0, 1, 2]


# ---------------------------------------------------------------- idx files: cache and system copy


def _write_idx(path, array: np.ndarray, *, gz: bool = True) -> None:
    """An idx file as LeCun's MNIST ships it: magic (0, 0, 0x08, ndim), big-endian sizes, bytes."""
    import gzip

    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as handle:
            handle.write(payload)
    else:
        path.write_bytes(payload)


def _write_idx_set(folder, n_train: int = 12, n_test: int = 5, *, fill: int | None = None, gz: bool = True):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28)) if fill is None else np.full((n, 28, 28), fill)
        labels = np.arange(n) % 10
        _write_idx(folder / f"{prefix}-images-idx3-ubyte", images, gz=gz)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, gz=gz)
        out[prefix] = (images, labels)
    return out


class _NotCachedOffline:
    """torchvision's class with no files in its cache and no network."""

    calls: list[bool] = []

    def __init__(self, root, train=True, download=False):
        type(self).calls.append(download)
        if download:
            from urllib.error import URLError

            raise URLError("no route to host")
        raise RuntimeError("Dataset not found. You can use download=True to download it")


def test_read_idx_round_trip_and_bad_file(tmp_path) -> None:
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    _write_idx(tmp_path / "x", images)
    torch.testing.assert_close(data.read_idx(tmp_path / "x.gz"), torch.from_numpy(images.astype(np.uint8)))
    (tmp_path / "bad").write_bytes(b"\x00\x00\x0d\x01" + (3).to_bytes(4, "big") + b"abc")
    with pytest.raises(ValueError, match="idx"):
        data.read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1]) + (5).to_bytes(4, "big") + b"abc")
    with pytest.raises(ValueError, match="header"):
        data.read_idx(tmp_path / "short")


def test_system_copy_is_read_when_cache_misses(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    system = tmp_path / "usr-share-datasets-fashion-mnist"
    written = _write_idx_set(system)
    monkeypatch.setattr(data, "SYSTEM_DIRS", {"fashion-mnist": (tmp_path / "absent", system)})
    monkeypatch.setattr(_NotCachedOffline, "calls", [])
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", _NotCachedOffline)
    d = load_images("fashion-mnist", root=tmp_path / "cache", image_size=28)
    assert _NotCachedOffline.calls == [False]  # cache tried, no download: the system copy was enough
    assert d.train.shape == (12, 1, 28, 28) and d.test.shape == (5, 1, 28, 28)
    torch.testing.assert_close(d.train[:, 0], torch.from_numpy(written["train"][0]).float() * (2 / 255) - 1)
    assert d.train_labels.tolist() == written["train"][1].tolist()
    assert d.test_labels.tolist() == written["t10k"][1].tolist()
    small = load_images("fashion-mnist", root=tmp_path / "cache", image_size=16, n_test=3)
    assert small.train.shape == (12, 1, 16, 16) and small.test.shape == (3, 1, 16, 16)


def test_cache_idx_files_come_before_the_system_copy(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    cache = tmp_path / "cache"
    _write_idx_set(cache / "FashionMNIST" / "raw", fill=255, gz=False)  # e.g. copied from a .deb
    _write_idx_set(tmp_path / "system", fill=0)
    monkeypatch.setattr(data, "SYSTEM_DIRS", {"fashion-mnist": (tmp_path / "system",)})
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", _NotCachedOffline)
    d = load_images("fashion-mnist", root=cache, image_size=28)
    assert torch.all(d.train == 1)


def test_no_copy_and_no_network_names_every_way(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(data, "SYSTEM_DIRS", {"fashion-mnist": (tmp_path / "not-installed",)})
    monkeypatch.setattr(_NotCachedOffline, "calls", [])
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", _NotCachedOffline)
    with pytest.raises(DatasetUnavailableError) as info:
        load_images("fashion-mnist", root=tmp_path / "cache", image_size=16)
    msg = str(info.value)
    assert _NotCachedOffline.calls == [False, True]
    for part in ("BNGAN_DATA", str(tmp_path / "cache"), str(tmp_path / "not-installed"),
                 "apt-get install dataset-fashion-mnist", "download", "no route to host", "BNGAN_DATASET=digits"):
        assert part in msg, part
    with pytest.raises(DatasetUnavailableError, match="not tried"):
        load_images("fashion-mnist", root=tmp_path / "cache", image_size=16, download=False)


DEBIAN_FASHION = data.SYSTEM_DIRS["fashion-mnist"][0]


@pytest.mark.skipif(not (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").is_file(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_debian_fashion_mnist(tmp_path) -> None:
    d = load_images("fashion-mnist", root=tmp_path, image_size=16, download=False)
    assert d.train.shape == (60_000, 1, 16, 16) and d.test.shape == (10_000, 1, 16, 16)
    assert d.train.min() >= -1 and d.train.max() <= 1
    assert torch.equal(d.train_labels.bincount(), torch.full((10,), 6000))
    assert torch.equal(d.test_labels.bincount(), torch.full((10,), 1000))


# ---------------------------------------------------------------- data_root


def test_data_root_env_and_explicit(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    target = tmp_path / "env" / "data"
    monkeypatch.setenv("BNGAN_DATA", str(target))
    assert data_root() == target and target.is_dir()
    explicit = tmp_path / "explicit"
    assert data_root(explicit) == explicit and explicit.is_dir()


def test_data_root_default_cache(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv("BNGAN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data_root() == tmp_path / "bngan"


# ---------------------------------------------------------------- BatchSampler


def test_sampler_epoch_without_repeats() -> None:
    x = torch.arange(100).float().unsqueeze(1)
    sampler = BatchSampler(x, 10, seed=0)
    epoch = torch.cat([sampler() for _ in range(sampler.batches_per_epoch)])
    assert epoch.shape == (100, 1)
    assert torch.equal(epoch.squeeze(1).sort().values, torch.arange(100).float())
    assert not torch.equal(epoch.squeeze(1), torch.arange(100).float())  # shuffled
    second = torch.cat([sampler() for _ in range(10)])
    assert sampler.epoch == 1 and len(second.unique()) == 100
    assert not torch.equal(second, epoch)  # a fresh permutation


def test_sampler_full_batches_drop_remainder() -> None:
    x = torch.arange(10).float()
    sampler = BatchSampler(x, 4, seed=3)
    batches = [sampler() for _ in range(7)]
    assert all(b.shape == (4,) for b in batches)
    assert len(torch.cat(batches[:2]).unique()) == 8


def test_sampler_deterministic() -> None:
    x = torch.randn(50, 3)
    a, b, c = BatchSampler(x, 8, seed=1), BatchSampler(x, 8, seed=1), BatchSampler(x, 8, seed=2)
    seq_a = torch.stack([a() for _ in range(20)])
    assert torch.equal(seq_a, torch.stack([b() for _ in range(20)]))
    assert not torch.equal(seq_a, torch.stack([c() for _ in range(20)]))


def test_sampler_resume() -> None:
    x = torch.arange(30).float()
    sampler = BatchSampler(x, 7, seed=4)
    for _ in range(5):  # crosses an epoch boundary (4 batches per epoch)
        sampler()
    state = sampler.state_dict()
    expected = [sampler() for _ in range(12)]
    resumed = BatchSampler(x, 7, seed=99)
    resumed.load_state_dict(state)
    assert all(torch.equal(e, r) for e, r in zip(expected, [resumed() for _ in range(12)]))
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(x, 5).load_state_dict(state)


@pytest.mark.parametrize("bad", [0, -1, 31])
def test_sampler_bad_batch_size(bad: int) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(torch.zeros(30, 2), bad)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_sampler_and_loading_on_cuda() -> None:
    d = load_images("digits", image_size=16, n_train=64, n_test=8, device="cuda")
    assert d.train.is_cuda and d.test.is_cuda
    sampler = BatchSampler(d.train, 16, seed=0)
    batch = sampler()
    assert batch.is_cuda and batch.shape == (16, 1, 16, 16)
    state = sampler.state_dict()
    expected = sampler()
    sampler.load_state_dict(state)
    assert torch.equal(sampler(), expected)


# ---------------------------------------------------------------- toy_2d


@pytest.mark.parametrize("name", TOY_DISTRIBUTIONS)
def test_toy_shapes_and_determinism(name: str) -> None:
    x = toy_2d(name, 500, seed=3)
    assert x.shape == (500, 2) and x.dtype == torch.float32
    assert torch.equal(x, toy_2d(name, 500, seed=3))
    assert not torch.equal(x, toy_2d(name, 500, seed=4))


def test_toy_ring_radius_and_modes() -> None:
    x = toy_2d("ring", 4000, radius=3.0, k=6)
    r = x.norm(dim=1)
    assert torch.all((r - 3.0).abs() < 0.4)
    angles = torch.atan2(x[:, 1], x[:, 0])
    modes = torch.round(angles / (2 * torch.pi / 6)) % 6
    assert len(modes.unique()) == 6


def test_toy_grid_centres() -> None:
    x = toy_2d("grid", 5000, k=3, spacing=2.0, std=0.01)
    centres = torch.round(x / 2.0)
    assert set(centres.flatten().tolist()) == {-1.0, 0.0, 1.0}
    assert len(centres.unique(dim=0)) == 9


def test_toy_moons_standardised() -> None:
    x = toy_2d("moons", 2000)
    torch.testing.assert_close(x.mean(0), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(x.std(0), torch.ones(2), atol=1e-4, rtol=0)


def test_toy_gaussian_moments() -> None:
    x = toy_2d("gaussian", 20000)
    torch.testing.assert_close(x.mean(0), torch.tensor([1.0, 0.5]), atol=0.02, rtol=0)
    torch.testing.assert_close(x.std(0), torch.tensor([0.5, 0.2]), atol=0.02, rtol=0)
    shifted = toy_2d("gaussian", 20000, mean=(-2.0, 0.0), std=(0.1, 0.1))
    torch.testing.assert_close(shifted.mean(0), torch.tensor([-2.0, 0.0]), atol=0.01, rtol=0)


def test_toy_errors() -> None:
    with pytest.raises(ValueError) as info:
        toy_2d("spiral", 10)
    assert all(n in str(info.value) for n in TOY_DISTRIBUTIONS)
    with pytest.raises(ValueError, match="radius") as info:
        toy_2d("grid", 10, radius=1.0)
    assert "spacing" in str(info.value)
    with pytest.raises(ValueError, match="n_samples"):
        toy_2d("ring", 0)
    with pytest.raises(ValueError, match="k"):
        toy_2d("ring", 10, k=0)
