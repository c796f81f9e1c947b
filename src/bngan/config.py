"""The experiment description: one validated, hashable, JSON-round-trippable config.

An :class:`ExperimentConfig` says everything a run needs: the data, the two networks and
how they are normalized, and how they are trained. Building one validates it, so a bad
value is refused with a message naming the field and what is allowed, before any data is
loaded or any step is taken.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field, fields
from typing import Any, Union

import numpy as np

from .choices import (BLOCK_ORDERS, CHANNELS, IMAGE_DATASETS, IMAGE_SIZES, INITS, NORM_IN, NORM_KINDS, PLACEMENTS,
                      TOY_DISTRIBUTIONS, UPSAMPLINGS, WN_ACTIVATIONS)

DATA_KINDS = ("image", "toy")
ARCHS = ("keras", "radford", "mlp")
ROUTINES = ("combined", "split", "separate")
G_BN_MODES = ("train", "eval", "joint")
D_FAKES = ("keras", "reuse", "train-mode")
PRECISIONS = ("fp32", "bf16")
LOSSES = ("bce", "minimax", "lsgan")
OPTIMIZERS = ("adam", "rmsprop")
LABEL_RANGE = (0.0, 1.2)
# The largest count any integer field takes: far beyond any run, and where torch's 32-bit
# indexing would fail long before (a typo such as 2**70 is refused, not found out mid-run).
MAX_INT = 2**31 - 1

# Bumped whenever the engine changes what a run with an unchanged config computes (its
# training or its final metrics), so that runs cached before the change are never loaded as
# if made after it. Part of every config hash.
ENGINE_VERSION = 2

# Fields added since ENGINE_VERSION 2, each with the value that does what the engine did before
# the field existed. A config holding that value hashes as it did before the field was added, so
# runs cached then stay valid; any other value enters the hash. Add every new field here with its
# neutral value (tests/test_cache_safety.py checks that each field added after version 2 is
# listed); a change to what an existing field does still needs ENGINE_VERSION bumped.
NEUTRAL_SINCE_V2: dict[str, Any] = {"model.g_upsample": "nearest", "model.wn_activation": "tprelu",
                                     "model.extra_layers": 0, "train.precision": "fp32",
                                     "train.deterministic": False}

Label = Union[float, tuple[float, float]]


class ConfigError(ValueError):
    """A config field holds a value that is not allowed."""


def _fail(name: str, allowed: str, value: Any) -> None:
    raise ConfigError(f"{name} must be {allowed}; got {value!r}")


def _one_of(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        _fail(name, "one of " + ", ".join(map(repr, allowed)), value)


def _int_at_least(name: str, value: Any, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        _fail(name, f"an integer >= {low}", value)
    if value > MAX_INT:
        _fail(name, f"an integer >= {low} and below 2**31", value)


def _bool(name: str, value: Any) -> None:
    """True or False only: ``1`` equals ``True`` in Python but would hash differently."""
    if not isinstance(value, bool):
        _fail(name, "True or False", value)


def _in_range(name: str, value: Any, low: float, high: float, *, open_low: bool = False, open_high: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if open_low else value >= low) and (value < high if open_high else value <= high)
    if not ok:
        left, right = "(" if open_low else "[", ")" if open_high else "]"
        _fail(name, f"a number in {left}{low}, {high}{right}", value)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python number it equals (``np.int64(5)`` -> ``5``, ``np.float64``
    -> float, ``np.bool_`` -> bool), inside tuples too; anything else unchanged. A config then
    holds, serialises and hashes exactly as if plain numbers had been given."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def _plain_numbers(section: Any) -> None:
    """Replace every numpy scalar field of ``section`` by its plain number (see :func:`_plain`)."""
    for f in fields(section):
        value = getattr(section, f.name)
        plain = _plain(value)
        if plain is not value:
            object.__setattr__(section, f.name, plain)


def _coerce_floats(section: Any) -> None:
    """Store an int given for a float field as a float, so ``1`` and ``1.0`` hash alike."""
    for f in fields(section):
        if f.type in ("float", "Label"):
            value = getattr(section, f.name)
            if isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(section, f.name, float(value))
            elif isinstance(value, tuple) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                object.__setattr__(section, f.name, tuple(float(v) for v in value))


class _Section:
    """Shared behaviour of the config sections."""

    def __post_init__(self) -> None:
        _plain_numbers(self)
        _coerce_floats(self)


@dataclass(frozen=True)
class DataConfig(_Section):
    """Which data to train on and how much of it.

    ``kind="image"`` uses ``dataset`` (see :data:`bngan.data.IMAGE_DATASETS`) at
    ``image_size``; ``kind="toy"`` uses the 2D distribution ``toy`` with ``toy_samples`` points.
    """

    kind: str = "image"
    dataset: str = "digits"
    image_size: int = 32
    channels: int | None = None
    n_train: int | None = None
    n_test: int = 256
    toy: str = "gaussian"
    toy_samples: int = 2048

    def validate(self) -> None:
        _one_of("data.kind", self.kind, DATA_KINDS)
        if self.kind == "image":
            _one_of("data.dataset", self.dataset, IMAGE_DATASETS)
            _one_of("data.image_size", self.image_size, IMAGE_SIZES)
            _one_of("data.channels", self.channels, (None,) + CHANNELS)
            if self.n_train is not None:
                _int_at_least("data.n_train", self.n_train, 1)
            _int_at_least("data.n_test", self.n_test, 1)
        else:
            _one_of("data.toy", self.toy, TOY_DISTRIBUTIONS)
            _int_at_least("data.toy_samples", self.toy_samples, 2)

    @property
    def image_channels(self) -> int:
        """Channels the images will have (the dataset's own unless ``channels`` is set)."""
        if self.channels is not None:
            return self.channels
        return 3 if self.dataset == "cifar10" else 1

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one training sample: (channels, size, size), or (2,) for toy points."""
        return (self.image_channels, self.image_size, self.image_size) if self.kind == "image" else (2,)


@dataclass(frozen=True)
class ModelConfig(_Section):
    """The generator/discriminator pair (see :func:`bngan.models.dcgan.build_dcgan`).

    BN momenta use PyTorch's convention (weight of the new batch); the seed paper's Keras
    values map through :func:`bngan.models.norms.keras_to_torch_momentum` (Keras 0.9 == 0.1 here).
    For ``arch="mlp"``, ``g_norms`` / ``d_norms`` give one normalization per hidden layer
    and override ``norm``/``norm_in``; ``width`` is the hidden width and ``depth`` the
    number of hidden layers; ``match_moments`` gives the MLP generator a
    :class:`bngan.models.toy_models.MomentMatch` output layer that forces each batch of fakes to the
    training data's per-feature mean and std.

    ``bn_eps`` is the BN epsilon (Keras' default 1e-3, PyTorch's 1e-5). ``g_block_order`` is
    the order inside the Keras-style generator's hidden blocks: ``conv-norm-act`` (Table I's
    footnote and Keras-GAN's code: conv, then BN, then ReLU) or ``conv-act-norm``;
    ``g_upsample`` how it doubles its maps: ``nearest`` upsampling then a conv (Keras-GAN) or
    a stride-2 transposed conv with the same kernel (``transposed``).
    ``norm="weight"`` builds Xiang & Li's weight-normalized model, which normalizes every
    layer, so it needs ``placement="all"`` for the image architectures; ``wn_activation`` is
    its hidden activation: ``tprelu`` (Xiang & Li's translated PReLU) or ``relu`` (ReLU in G,
    LeakyReLU in D: the TReLU ablation, image architectures only). ``extra_layers`` (Radford
    only) adds that many stride-1 3x3 conv blocks to G and to D at their largest feature maps:
    a deeper plain conv stack.
    """

    arch: str = "keras"
    norm: str = "batch"
    norm_in: str = "both"
    placement: str = "dcgan"
    latent_dim: int = 100
    g_kernel: int = 3
    d_kernel: int = 4
    g_filters: tuple[int, ...] = (128, 64)
    d_filters: tuple[int, ...] = (32, 64, 128, 128)
    width: int = 64
    depth: int = 2
    leak: float = 0.2
    g_bn_momentum: float = 0.1
    d_bn_momentum: float = 0.1
    dropout: float = 0.25
    init: str = "dcgan"
    bn_eps: float = 1e-5
    g_block_order: str = "conv-norm-act"
    g_upsample: str = "nearest"
    wn_activation: str = "tprelu"
    extra_layers: int = 0
    g_norms: tuple[str, ...] | None = None
    d_norms: tuple[str, ...] | None = None
    match_moments: bool = False

    def validate(self) -> None:
        _one_of("model.arch", self.arch, ARCHS)
        _one_of("model.norm", self.norm, NORM_KINDS)
        _one_of("model.norm_in", self.norm_in, NORM_IN)
        _one_of("model.placement", self.placement, PLACEMENTS)
        _one_of("model.init", self.init, INITS)
        _one_of("model.g_block_order", self.g_block_order, BLOCK_ORDERS)
        _one_of("model.g_upsample", self.g_upsample, UPSAMPLINGS)
        _one_of("model.wn_activation", self.wn_activation, WN_ACTIVATIONS)
        if self.wn_activation != "tprelu" and (self.norm != "weight" or self.arch == "mlp"):
            _fail("model.wn_activation", "'tprelu' unless model.norm is 'weight' on an image architecture (it is the "
                                         "activation of weight-normalized conv layers)", self.wn_activation)
        if self.arch != "keras" and self.g_upsample != "nearest":
            _fail("model.g_upsample", "'nearest' unless arch is 'keras' (only the Keras-style generator has the "
                                      "choice)", self.g_upsample)
        _int_at_least("model.extra_layers", self.extra_layers, 0)
        if self.extra_layers and self.arch != "radford":
            _fail("model.extra_layers", "0 unless model.arch is 'radford'", self.extra_layers)
        _in_range("model.bn_eps", self.bn_eps, 0.0, 1.0, open_low=True)
        for name in ("latent_dim", "g_kernel", "d_kernel", "width", "depth"):
            _int_at_least(f"model.{name}", getattr(self, name), 1)
        for name in ("g_filters", "d_filters"):
            value = getattr(self, name)
            if (not isinstance(value, tuple) or not value
                    or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_INT for v in value)):
                _fail(f"model.{name}", "a non-empty list of positive integers", value)
        if len(self.g_filters) != 2:
            _fail("model.g_filters", "2 widths (one per upsampling of the Keras-style generator)", self.g_filters)
        _in_range("model.g_bn_momentum", self.g_bn_momentum, 0.0, 1.0, open_low=True)
        _in_range("model.d_bn_momentum", self.d_bn_momentum, 0.0, 1.0, open_low=True)
        _in_range("model.dropout", self.dropout, 0.0, 1.0, open_high=True)
        _in_range("model.leak", self.leak, 0.0, 1.0)
        _bool("model.match_moments", self.match_moments)
        for name in ("g_norms", "d_norms"):
            kinds = getattr(self, name)
            if kinds is None:
                continue
            if len(kinds) != self.depth:
                _fail(f"model.{name}", f"None or {self.depth} kinds (one per hidden layer, model.depth)", kinds)
            for kind in kinds:
                _one_of(f"model.{name}", kind, NORM_KINDS)

    def network_norms(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Per-hidden-layer normalization of (G, D) for the MLP pair."""
        g = self.norm if self.norm_in in ("g", "both") else "none"
        d = self.norm if self.norm_in in ("d", "both") else "none"
        return (self.g_norms or (g,) * self.depth, self.d_norms or (d,) * self.depth)

    def uses_batch_norm(self) -> bool:
        g, d = self.network_norms()
        return "batch" in g + d


@dataclass(frozen=True)
class TrainConfig(_Section):
    """How the pair is trained.

    Routines for D's update: ``combined`` (one joint real+fake batch, one step), ``split``
    (real and fake in two forward passes, one loss, one step) and ``separate`` (two optimizer
    steps, real-only then fake-only). ``g_bn_mode`` sets how D normalizes during G's step:
    ``train`` (batch statistics of the fake batch), ``eval`` (running statistics) or
    ``joint`` (fakes concatenated with a fresh real batch; loss on the fakes only). As in
    Keras and PyTorch, a train-mode forward pass in G's step also updates D's BN running
    statistics (from fakes alone in ``train`` mode); ``eval`` mode also turns D's dropout off.

    ``d_fakes`` says how the fakes of D's update are made: ``keras`` (Keras-GAN's
    ``generator.predict``: G in eval mode, so its BN uses running statistics and is not
    updated; G's statistics move once per iteration, in G's step, so the BN momentum matters),
    ``reuse`` (the PyTorch DCGAN example: one train-mode G forward per iteration whose fakes
    feed D's update, detached, and then G's update; needs ``d_steps == g_steps == 1``) or
    ``train-mode`` (a separate train-mode G forward without gradients for D's fakes, so G's
    running statistics move twice per iteration and are never used in training).

    Labels (D updates only): ``real_label``/``fake_label`` are a constant or a ``(low,
    high)`` range drawn uniformly per sample (one-sided smoothing: ``real_label=0.9`` with
    ``fake_label=0.0``; two-sided: ranges for both); ``flip_prob`` swaps a sample's target.
    Targets may reach 1.2 (source 003's real range [0.7, 1.2]): with BCE on logits a target
    y > 1 makes the loss unbounded below, since its gradient sigmoid(l) - y stays negative,
    so D is pushed to ever larger logits on such samples. ``instance_noise`` is the std of
    Gaussian noise added to every input D sees, in D's and in G's steps alike, decaying
    linearly to 0 over ``instance_noise_decay`` steps (0: constant). ``g_shift_weight`` adds
    ``-g_shift_weight * mean(fake[:, 0])`` to G's loss (the blind-spot shift test).
    ``steps`` counts iterations; each has ``d_steps`` D updates and ``g_steps`` G updates.
    ``precision`` ``bf16`` runs the training step's forward passes under bfloat16 autocast
    (opt-in; ``fp32``, the book's numbers, is the default; snapshots and final metrics stay
    fp32). ``deterministic`` makes a CUDA step use deterministic kernels only (cuDNN's
    included), so a CUDA run repeats bitwise; on a CPU runs repeat bitwise anyway. Both are
    hashed, so such runs are cached apart from the default ones.
    """

    steps: int = 1000
    batch_size: int = 64
    routine: str = "separate"
    g_bn_mode: str = "train"
    d_fakes: str = "keras"
    loss: str = "bce"
    real_label: Label = 1.0
    fake_label: Label = 0.0
    flip_prob: float = 0.0
    instance_noise: float = 0.0
    instance_noise_decay: int = 0
    d_steps: int = 1
    g_steps: int = 1
    optimizer: str = "adam"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    rms_alpha: float = 0.9
    rms_eps: float = 1e-6
    g_shift_weight: float = 0.0
    log_every: int = 10
    sample_every: int = 100
    n_samples: int = 64
    eval_every: int = 0
    recon_steps: int = 50
    recon_final_steps: int = 200
    checkpoint_every: int = 500
    precision: str = "fp32"
    deterministic: bool = False

    def validate(self) -> None:
        _int_at_least("train.steps", self.steps, 1)
        _int_at_least("train.batch_size", self.batch_size, 1)
        _one_of("train.routine", self.routine, ROUTINES)
        _one_of("train.g_bn_mode", self.g_bn_mode, G_BN_MODES)
        _one_of("train.d_fakes", self.d_fakes, D_FAKES)
        _one_of("train.loss", self.loss, LOSSES)
        _one_of("train.optimizer", self.optimizer, OPTIMIZERS)
        _one_of("train.precision", self.precision, PRECISIONS)
        _bool("train.deterministic", self.deterministic)
        for name in ("real_label", "fake_label"):
            value = getattr(self, name)
            parts = value if isinstance(value, tuple) else (value,)
            if isinstance(value, tuple) and len(value) != 2:
                _fail(f"train.{name}", "a number or a (low, high) pair with low <= high", value)
            for part in parts:
                _in_range(f"train.{name}", part, *LABEL_RANGE)
            if isinstance(value, tuple) and value[0] > value[1]:
                _fail(f"train.{name}", "a number or a (low, high) pair with low <= high", value)
        _in_range("train.flip_prob", self.flip_prob, 0.0, 0.5)
        _in_range("train.instance_noise", self.instance_noise, 0.0, 10.0)
        for name in ("instance_noise_decay", "eval_every", "checkpoint_every"):
            _int_at_least(f"train.{name}", getattr(self, name), 0)
        for name in ("d_steps", "g_steps", "log_every", "sample_every", "n_samples", "recon_steps",
                     "recon_final_steps"):
            _int_at_least(f"train.{name}", getattr(self, name), 1)
        for name in ("lr_g", "lr_d", "rms_eps"):
            _in_range(f"train.{name}", getattr(self, name), 0.0, 1.0, open_low=True)
        for name in ("beta1", "beta2", "rms_alpha"):
            _in_range(f"train.{name}", getattr(self, name), 0.0, 1.0, open_high=True)
        if (not isinstance(self.g_shift_weight, (int, float)) or isinstance(self.g_shift_weight, bool)
                or not math.isfinite(self.g_shift_weight)):
            _fail("train.g_shift_weight", "a finite number", self.g_shift_weight)
        if self.d_fakes == "reuse" and (self.d_steps, self.g_steps) != (1, 1):
            _fail("train.d_steps and train.g_steps", "1 each with train.d_fakes='reuse' (one G forward per "
                  "iteration feeds one D and one G update)", (self.d_steps, self.g_steps))


@dataclass(frozen=True)
class ExperimentConfig:
    """A full experiment: ``data`` + ``model`` + ``train``, validated as a whole on creation.

    ``name`` and ``description`` label it; they are not part of :meth:`hash`, so the same
    set-up under two names shares its cached runs.
    """

    name: str = "experiment"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    description: str = ""

    def __post_init__(self) -> None:
        for name in ("name", "description"):
            if not isinstance(getattr(self, name), str):
                _fail(name, "a string (a label; not part of the config hash)", getattr(self, name))
        for name, section_cls in _SECTIONS:
            value = getattr(self, name)
            if isinstance(value, dict):
                object.__setattr__(self, name, _section(name, section_cls, value))
            elif not isinstance(value, section_cls):
                raise ConfigError(f"{name} must be a {section_cls.__name__} or a dict of its fields; got {value!r}")
        self.data.validate()
        self.model.validate()
        self.train.validate()
        self._validate_together()

    def _validate_together(self) -> None:
        d, m, t = self.data, self.model, self.train
        if d.kind == "toy" and m.arch != "mlp":
            _fail("model.arch", "'mlp' for toy 2D data", m.arch)
        if d.kind == "image" and m.arch == "mlp":
            _fail("model.arch", "'keras' or 'radford' for image data", m.arch)
        if d.kind == "image" and m.arch == "keras":
            if m.g_kernel > d.image_size // 2:
                _fail("model.g_kernel", f"at most {d.image_size // 2} for {d.image_size}px images", m.g_kernel)
            if m.d_kernel > d.image_size:
                _fail("model.d_kernel", f"at most {d.image_size} for {d.image_size}px images", m.d_kernel)
        if d.kind == "image" and m.arch == "radford" and (m.g_kernel, m.d_kernel) != (4, 4):
            _fail("model.g_kernel and model.d_kernel", "4 for the Radford-style DCGAN (stride-2, kernel-4 layers)",
                  (m.g_kernel, m.d_kernel))
        if m.arch != "mlp" and m.norm == "weight" and m.norm_in != "none" and m.placement != "all":
            _fail("model.placement", "'all' with model.norm='weight' (Xiang & Li's model weight-normalizes "
                  "every layer)", m.placement)
        if m.arch != "mlp" and m.match_moments:
            _fail("model.match_moments", "False unless model.arch is 'mlp' (toy 2D data)", m.match_moments)
        if m.arch != "mlp" and (m.g_norms is not None or m.d_norms is not None):
            _fail("model.g_norms / model.d_norms", "None unless model.arch is 'mlp'", (m.g_norms, m.d_norms))
        if m.uses_batch_norm() if m.arch == "mlp" else (m.norm == "batch" and m.norm_in != "none"):
            if t.batch_size < 2:
                _fail("train.batch_size", "at least 2 with batch normalization in train mode", t.batch_size)
        available = d.toy_samples if d.kind == "toy" else d.n_train
        if available is not None and t.batch_size > available:
            limit = "data.toy_samples" if d.kind == "toy" else "data.n_train"
            _fail("train.batch_size", f"at most {limit} = {available}", t.batch_size)

    # ----------------------------------------------------------------- variation

    def vary(self, **changes: Any) -> "ExperimentConfig":
        """A copy with some fields changed; keys are field names (``batch_size``) or dotted
        paths (``train.batch_size``). A name found in no section is an error."""
        sections: dict[str, dict[str, Any]] = {"data": {}, "model": {}, "train": {}}
        top: dict[str, Any] = {}
        owners = {f.name: s for s in sections for f in fields(getattr(self, s))}
        for key, value in changes.items():
            section, _, name = key.rpartition(".")
            if not section and name in ("name", "description"):
                top[name] = value
                continue
            section = section or owners.get(name, "")
            if section not in sections or name not in {f.name for f in fields(getattr(self, section))}:
                known = ", ".join(sorted(owners) + ["name", "description"])
                raise ConfigError(f"unknown config field {key!r}; known fields: {known}")
            sections[section][name] = _normalise(value)
        parts = {s: dataclasses.replace(getattr(self, s), **c) for s, c in sections.items()}
        return dataclasses.replace(self, **parts, **top)

    # ----------------------------------------------------------------- serialisation

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "ExperimentConfig":
        if not isinstance(raw, dict):
            raise ConfigError(f"a config must be a JSON object with data, model and train sections; got {raw!r}")
        unknown = set(raw) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown config fields {sorted(unknown)}")
        sections = {}
        for name, section_cls in _SECTIONS:
            values = raw.get(name, {})
            if not isinstance(values, dict):
                raise ConfigError(f"config section {name} must be an object of fields; got {values!r}")
            sections[name] = _section(name, section_cls, values)
        return cls(name=raw.get("name", "experiment"), description=raw.get("description", ""), **sections)

    @classmethod
    def from_json(cls, text: str) -> "ExperimentConfig":
        return cls.from_dict(json.loads(text))

    def hash(self) -> str:
        """Stable 16-hex-digit digest of everything that affects a run (not name/description),
        and of :data:`ENGINE_VERSION`; a field of :data:`NEUTRAL_SINCE_V2` at its neutral value
        is left out, so adding a field does not orphan the runs cached before it."""
        payload = {k: v for k, v in self.to_dict().items() if k not in ("name", "description")}
        for key, neutral in NEUTRAL_SINCE_V2.items():
            section, name = key.split(".")
            if payload[section][name] == neutral:
                del payload[section][name]
        payload["engine_version"] = ENGINE_VERSION
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


_SECTIONS = (("data", DataConfig), ("model", ModelConfig), ("train", TrainConfig))


def _section(name: str, section_cls: type, values: dict[str, Any]) -> Any:
    """One config section built from a dict of its fields (lists as tuples), or a ConfigError
    naming the fields it does not have."""
    known = {f.name for f in fields(section_cls)}
    if set(values) - known:
        raise ConfigError(f"unknown fields in {name}: {sorted(set(values) - known)}")
    return section_cls(**{k: _normalise(v) for k, v in values.items()})


def _normalise(value: Any) -> Any:
    """JSON turns tuples into lists; configs keep tuples so they stay hashable and comparable."""
    if isinstance(value, list):
        return tuple(_normalise(v) for v in value)
    return value
