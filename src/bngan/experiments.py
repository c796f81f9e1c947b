"""Named experiments and series: the seed paper's Table II, source 001's toy study and the
set-ups the chapters compare.

An experiment is a function of the settings profile returning an :class:`ExperimentConfig`;
the profile scales steps and data only, never the set-up being compared. A series is an
ordered mapping from a label to an experiment, for side-by-side comparisons.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from .devices import check_device, default_device
from .norms import keras_to_torch_momentum
from .profiles import Profile, dataset_name, get_profile
from .runs import Run, check_seeds
from .tables import TextTable, significant
from .train import train_run, train_runs, trains_together

Factory = Callable[[Profile], ExperimentConfig]

# Noise labels as the seed paper uses them: label smoothing plus 5% flipped labels. The
# paper gives no smoothing range (nor does Keras-GAN, which has none); we use source 003's
# ranges with the real range capped at 1.0 so the cross-entropy stays bounded below.
NOISY_LABELS = {"real_label": (0.7, 1.0), "fake_label": (0.0, 0.3), "flip_prob": 0.05}
CLEAN_LABELS = {"real_label": 1.0, "fake_label": 0.0, "flip_prob": 0.0}
# One-sided smoothing (Salimans et al., source 004): reals only, fakes keep 0.
ONE_SIDED_LABELS = {"real_label": 0.9, "fake_label": 0.0, "flip_prob": 0.0}
# Source 003's two-sided smoothing as stated: reals in [0.7, 1.2], fakes in [0.0, 0.3].
TWO_SIDED_LABELS = {"real_label": (0.7, 1.2), "fake_label": (0.0, 0.3), "flip_prob": 0.0}


def scale_to_profile(config: ExperimentConfig, profile: str | Profile | None = None) -> ExperimentConfig:
    """Apply a profile's data and step budget to ``config``, and for image data its width
    scale: every conv width times ``width_scale`` (rounded, at least 1), alike for every
    experiment. Scale a config at the paper's widths once; nothing else changes."""
    p = get_profile(profile)
    common = {"log_every": p.log_every, "recon_steps": p.recon_steps, "recon_final_steps": p.recon_final_steps}
    if config.data.kind == "toy":
        return config.vary(toy_samples=p.toy_samples, steps=p.toy_steps, sample_every=max(1, p.toy_steps // 10),
                           eval_every=0, checkpoint_every=max(1, p.toy_steps // 4), **common)
    if p.width_scale != 1:
        m = config.model

        def narrow(width: int) -> int:
            return max(1, round(width * p.width_scale))

        common.update(g_filters=tuple(map(narrow, m.g_filters)), d_filters=tuple(map(narrow, m.d_filters)),
                      width=narrow(m.width))
    return config.vary(dataset=dataset_name(p), image_size=p.image_size, n_train=p.n_train, n_test=p.n_test,
                       steps=p.steps, sample_every=p.sample_every, eval_every=p.eval_every,
                       checkpoint_every=max(1, p.steps // 4), **common)


# --------------------------------------------------------------------------- Table II

# id: (noise labels, BN in, G kernel, batch size, routine, G BN momentum in Keras' convention)
TABLE2: dict[int, tuple[bool, str, int, int, str, float]] = {
    1: (False, "both", 3, 16, "separate", 0.9),
    2: (True, "both", 3, 16, "separate", 0.9),
    3: (False, "both", 3, 128, "combined", 0.9),
    4: (True, "both", 3, 128, "combined", 0.9),
    5: (True, "both", 5, 8, "separate", 0.9),
    6: (True, "both", 5, 16, "combined", 0.9),
    7: (True, "both", 5, 16, "separate", 0.9),
    8: (True, "both", 5, 32, "separate", 0.9),
    9: (True, "both", 5, 64, "separate", 0.9),
    10: (True, "both", 5, 128, "combined", 0.9),
    11: (True, "both", 5, 128, "separate", 0.9),
    12: (True, "g", 5, 128, "combined", 0.5),
    13: (True, "g", 5, 128, "combined", 0.7),
    14: (True, "g", 5, 128, "combined", 0.9),
}


# What the seed paper's code (Keras-GAN's DCGAN) does where the paper says nothing: Keras'
# defaults (Glorot-uniform kernels, zero biases, BN scale 1 and epsilon 1e-3) and D's fakes
# from ``generator.predict`` (G in inference mode).
KERAS_DEFAULTS = {"init": "glorot", "bn_eps": 1e-3}
# The DCGAN paper's initialisation and PyTorch's BN epsilon (chapter 1 tests it as a heuristic).
DCGAN_INIT = {"init": "dcgan", "bn_eps": 1e-5}


def seed_paper_dcgan(**changes: Any) -> ExperimentConfig:
    """The seed paper's DCGAN (Table I with BN in both nets, kernel 3 in G and 4 in D; G's
    blocks conv -> BN -> ReLU) with Keras' defaults (:data:`KERAS_DEFAULTS`), trained as
    Keras-GAN trains it: Adam(2e-4, beta1 0.5), the separate D routine, D's fakes made by G
    in inference mode (``d_fakes="keras"``). ``changes`` go to :meth:`ExperimentConfig.vary`."""
    base = ExperimentConfig(
        name="seed-paper-dcgan",
        data=DataConfig(kind="image"),
        model=ModelConfig(arch="keras", norm="batch", norm_in="both", g_block_order="conv-norm-act",
                          **KERAS_DEFAULTS),
        train=TrainConfig(routine="separate", d_fakes="keras", optimizer="adam", lr_g=2e-4, lr_d=2e-4, beta1=0.5),
    )
    return base.vary(**changes) if changes else base


def table2(exp_id: int, profile: str | Profile | None = None) -> ExperimentConfig:
    """Experiment ``exp_id`` (1-14) of the seed paper's Table II, scaled to ``profile``.

    Kernel-5 experiments use 128 filters in every layer, as the paper says; the BN momentum
    of experiments 12-14 is the paper's Keras value, mapped to PyTorch's convention.
    """
    if exp_id not in TABLE2:
        raise ValueError(f"exp_id must be one of 1-14 (Table II); got {exp_id!r}")
    noise, bn_in, kernel, batch, routine, g_keras_momentum = TABLE2[exp_id]
    filters = {"g_filters": (128, 128), "d_filters": (128,) * 4} if kernel == 5 else {}
    config = seed_paper_dcgan(
        name=f"table2:{exp_id}",
        description=(f"Table II #{exp_id}: noise labels {'yes' if noise else 'no'}, BN in {bn_in}, "
                     f"G kernel {kernel}, batch {batch}, {routine} D training"
                     + (f", G's BN momentum {g_keras_momentum} (Keras)" if bn_in == "g" else "")),
        norm_in=bn_in, g_kernel=kernel, batch_size=batch, routine=routine,
        g_bn_momentum=keras_to_torch_momentum(g_keras_momentum), **filters,
        **(NOISY_LABELS if noise else CLEAN_LABELS),
    )
    return scale_to_profile(config, profile)


#: What the seed paper reported of each Table II experiment (its figures and their reading),
#: in our words; chapter 10 shows it next to the measured numbers.
TABLE2_REPORTED: dict[int, str] = {
    1: "Fig. 3 left: recognizable images, hardly different from #2",
    2: "Fig. 3 right: slightly fewer blank areas than #1, a trivial gain; Fig. 13 left",
    3: "Fig. 2: loss and gradient curves only; no major difference from #4",
    4: "Fig. 2: as #3; noise labels change little",
    5: "Fig. 9: batch 8, among the better grids (larger batches judged worse)",
    6: "Fig. 7 left: the combined routine with BN gives no good result; Fig. 6: D's gradients fall to near zero",
    7: "Fig. 7 right: the separate routine works well; Fig. 13 right: kernel 5 no better than #2",
    8: "Fig. 9: batch 32",
    9: "Fig. 9: batch 64",
    10: "Fig. 9 and 11 left: combined at batch 128 gives no good result; Fig. 5 left",
    11: "Fig. 11 right: the separate routine at batch 128 works",
    12: "Fig. 5 right: described as noise, yet the text calls one-sided BN better than #10; the model does not collapse",
    13: "no images (Fig. 4: loss and gradient curves of the momentum runs)",
    14: "no images (Fig. 4)",
}


# --------------------------------------------------------------------------- chapter 1: DCGAN heuristics

# The seed paper's Table I DCGAN at one batch size; each variant changes one heuristic.
HEURISTICS_BATCH = 32
HEURISTICS: dict[str, tuple[str, dict[str, Any]]] = {
    "fig1-no-bn": ("Table I DCGAN without BN, combined D batches (the seed paper's Figure 1, left)",
                   {"norm": "none", "routine": "combined"}),
    "fig1-bn": ("Table I DCGAN with BN, combined D batches (the seed paper's Figure 1, right)",
                {"routine": "combined"}),
    "no-bn": ("Table I DCGAN without BN, separate D batches", {"norm": "none"}),
    "dcgan-bn": ("Table I DCGAN with BN where DCGAN puts it, separate D batches", {}),
    "bn-everywhere": ("BN in every layer, G's output and D's input included, separate D batches",
                      {"placement": "all"}),
    "beta1-0.9": ("DCGAN BN placement, Adam beta1 0.9 instead of 0.5, separate D batches", {"beta1": 0.9}),
    "dcgan-init": ("DCGAN BN placement with the DCGAN paper's N(0, 0.02) init and BN epsilon 1e-5 instead of "
                   "Keras' defaults, separate D batches", DCGAN_INIT),
    "init-only": ("DCGAN BN placement with the DCGAN paper's N(0, 0.02) init and Keras' BN epsilon 1e-3 (the init "
                  "alone), separate D batches", {"init": DCGAN_INIT["init"]}),
}


def heuristics(variant: str, profile: str | Profile | None = None) -> ExperimentConfig:
    """One of chapter 1's set-ups (see :data:`HEURISTICS`), scaled to ``profile``."""
    if variant not in HEURISTICS:
        raise ValueError(f"variant must be one of {', '.join(HEURISTICS)}; got {variant!r}")
    description, changes = HEURISTICS[variant]
    config = seed_paper_dcgan(name=f"heuristics:{variant}", description=description,
                              batch_size=HEURISTICS_BATCH, **CLEAN_LABELS, **changes)
    return scale_to_profile(config, profile)


# --------------------------------------------------------------------------- chapter 2: noise labels

# The label treatments of chapter 2's factorial design (D's updates only).
LABEL_SMOOTHING: dict[str, dict[str, Any]] = {
    "none": {"real_label": 1.0, "fake_label": 0.0},
    "one-sided": {"real_label": ONE_SIDED_LABELS["real_label"], "fake_label": 0.0},
    "two-sided": {"real_label": TWO_SIDED_LABELS["real_label"], "fake_label": TWO_SIDED_LABELS["fake_label"]},
}
LABEL_FLIPS = {"0": 0.0, "5": 0.05}
# Instance noise (Sonderby et al.; source 004): N(0, 0.1^2) added to every image D sees,
# decayed linearly to 0 over the whole run.
INSTANCE_NOISE_STD = 0.1
NOISE_ROUTINES = {"combined": "BN in both nets, one combined D batch (D wins, chapter 1)",
                  "separate": "BN in both nets, separate real-only and fake-only D steps"}


def noise_labels(routine: str, treatment: str, profile: str | Profile | None = None) -> ExperimentConfig:
    """Chapter 2's set-ups: the seed paper's DCGAN at chapter 1's batch size with the
    ``routine`` of :data:`NOISE_ROUTINES` and one label ``treatment``: ``<smoothing>-<flip %>``
    (smoothing from :data:`LABEL_SMOOTHING`, flips from :data:`LABEL_FLIPS`, e.g.
    ``two-sided-5``) or ``instance`` (clean labels, decayed instance noise)."""
    if routine not in NOISE_ROUTINES:
        raise ValueError(f"routine must be one of {', '.join(NOISE_ROUTINES)}; got {routine!r}")
    if treatment == "instance":
        changes, what = {**CLEAN_LABELS, "instance_noise": INSTANCE_NOISE_STD}, "instance noise decayed to 0"
    else:
        smoothing, _, flip = treatment.rpartition("-")
        if smoothing not in LABEL_SMOOTHING or flip not in LABEL_FLIPS:
            allowed = [f"{s}-{f}" for s in LABEL_SMOOTHING for f in LABEL_FLIPS] + ["instance"]
            raise ValueError(f"treatment must be one of {', '.join(allowed)}; got {treatment!r}")
        changes = {**LABEL_SMOOTHING[smoothing], "flip_prob": LABEL_FLIPS[flip]}
        what = f"{smoothing} smoothing, {flip}% flips"
    config = seed_paper_dcgan(name=f"noise:{routine}-{treatment}", description=f"{NOISE_ROUTINES[routine]}; {what}",
                              batch_size=HEURISTICS_BATCH, routine=routine, **changes)
    config = scale_to_profile(config, profile)
    if treatment == "instance":
        config = config.vary(instance_noise_decay=config.train.steps)
    return config


NOISE_TREATMENTS = tuple(f"{s}-{f}" for s in LABEL_SMOOTHING for f in LABEL_FLIPS) + ("instance",)


# --------------------------------------------------------------------------- chapter 3: one-sided BN

# Where BN goes, at Table II's batch-128, kernel-5, 128-filter settings with noise labels:
# the combined routine is experiment 10's set-up, the separate one experiment 11's.
ONE_SIDED_BN = {"none": "no BN", "g": "BN in G only", "d": "BN in D only", "both": "BN in both nets"}
ONE_SIDED_ROUTINES = {"combined": 10, "separate": 11}


def one_sided(routine: str, bn_in: str, profile: str | Profile | None = None) -> ExperimentConfig:
    """Chapter 3's set-ups: Table II #10 (``combined``) or #11 (``separate``) with BN in
    ``bn_in`` (``none``, ``g``, ``d`` or ``both``); G's BN keeps Keras' default momentum 0.9.
    ``one_sided("combined", "both")`` is #10, ``("separate", "both")`` #11 and
    ``("combined", "g")`` #14, exactly (same config hash)."""
    if routine not in ONE_SIDED_ROUTINES:
        raise ValueError(f"routine must be one of {', '.join(ONE_SIDED_ROUTINES)}; got {routine!r}")
    if bn_in not in ONE_SIDED_BN:
        raise ValueError(f"bn_in must be one of {', '.join(ONE_SIDED_BN)}; got {bn_in!r}")
    exp_id = ONE_SIDED_ROUTINES[routine]
    return table2(exp_id, profile).vary(
        name=f"onesided:{routine}-{bn_in}", norm_in=bn_in,
        description=f"Table II #{exp_id} settings (batch 128, G kernel 5, 128 filters, noise labels, {routine} D "
                    f"training) with {ONE_SIDED_BN[bn_in]}")


# --------------------------------------------------------------------------- chapter 4: kernel size

# Table II #2 (kernel 3, Table I widths) and #7 (kernel 5, 128 filters in every layer) change
# the kernel and the widths together; chapter 4 crosses the two. Both are batch 16, noise
# labels, separate D steps.
KERNEL_WIDTHS = {"table1": {}, "wide": {"g_filters": (128, 128), "d_filters": (128,) * 4}}
KERNEL_UPSAMPLINGS = {"upsample": "nearest", "transposed": "transposed"}


def kernel_size(kernel: int, widths: str = "table1", upsample: str = "upsample", image_size: int | None = None,
                profile: str | Profile | None = None) -> ExperimentConfig:
    """Chapter 4's set-ups: Table II #2 with G's ``kernel`` (3, 4 or 5), ``widths`` from
    :data:`KERNEL_WIDTHS` (``table1``: G 128-64, D 32-64-128-128; ``wide``: 128 everywhere, as
    #7), G's doubling by ``upsample`` (nearest upsampling then a conv, as Keras-GAN) or by a
    stride-2 ``transposed`` conv, at the profile's image size or ``image_size``.
    ``kernel_size(3)`` is #2 and ``kernel_size(5, "wide")`` is #7 (same config hash)."""
    if kernel not in (3, 4, 5):
        raise ValueError(f"kernel must be one of 3, 4, 5; got {kernel!r}")
    if widths not in KERNEL_WIDTHS:
        raise ValueError(f"widths must be one of {', '.join(KERNEL_WIDTHS)}; got {widths!r}")
    if upsample not in KERNEL_UPSAMPLINGS:
        raise ValueError(f"upsample must be one of {', '.join(KERNEL_UPSAMPLINGS)}; got {upsample!r}")
    p = get_profile(profile)
    config = table2(2, p).vary(g_kernel=kernel, g_upsample=KERNEL_UPSAMPLINGS[upsample],
                               **_scaled_widths(KERNEL_WIDTHS[widths], p))
    if image_size is not None:
        config = config.vary(image_size=image_size)
    how = "nearest upsampling + conv" if upsample == "upsample" else "stride-2 transposed convs"
    name = f"kernel:k{kernel}-{widths}" + ("" if upsample == "upsample" else "-transposed")
    name += f"-{image_size}px" if image_size is not None else ""
    return config.vary(name=name, description=(
        f"Table II #2 settings (batch 16, noise labels, separate D training) with G kernel {kernel}, "
        f"{'Table I widths' if widths == 'table1' else '128 filters in every layer'}, G doubling by {how}"
        + (f", {image_size} px images" if image_size is not None else "")))


def _scaled_widths(widths: dict[str, tuple[int, ...]], p: Profile) -> dict[str, tuple[int, ...]]:
    """``widths`` at the paper's scale, narrowed by the profile's width scale as
    :func:`scale_to_profile` narrows every experiment."""
    return {name: tuple(max(1, round(w * p.width_scale)) for w in value) for name, value in widths.items()}


def kernel_image_sizes(profile: str | Profile | None = None) -> tuple[int, int]:
    """The two image sizes chapter 4 crosses with the kernel: the profile's and twice it
    (16 and 32 px at ``quick``, 32 and 64 at ``full``)."""
    size = get_profile(profile).image_size
    return size, 2 * size


# --------------------------------------------------------------------------- chapter 6: the training routine

# Table II's routine pairs: #6 / #7 (batch 16) and #10 / #11 (batch 128), all kernel 5 with 128
# filters and noise labels; chapter 6 adds the split routine and the runs without BN.
ROUTINE_BASES = {16: 7, 128: 11}
ROUTINES = ("combined", "split", "separate")
# What each image arm changes on the batch-16 base (#7); the first three carry chapter 7's
# toy-study variants to images, the rest are source 003's G:D step ratios and TTUR.
ROUTINE_ARMS: dict[str, tuple[str, dict[str, Any]]] = {
    "split-eval": ("split D batches, D in eval mode during G's step (chapter 7: fails alone on toy data)",
                   {"routine": "split", "g_bn_mode": "eval"}),
    "joint-eval": ("one joint real+fake D batch, D in eval mode during G's step (chapter 7's fix)",
                   {"routine": "combined", "g_bn_mode": "eval"}),
    "joint-joint": ("one joint real+fake D batch, and fakes normalized with a fresh real batch in G's step "
                    "(chapter 7's other fix)", {"routine": "combined", "g_bn_mode": "joint"}),
    "g2": ("separate D steps, 2 G updates per D update", {"g_steps": 2}),
    "g5": ("separate D steps, 5 G updates per D update", {"g_steps": 5}),
    "ttur": ("separate D steps, two time-scale rule: G's learning rate 1e-4, D's 4e-4", {"lr_g": 1e-4, "lr_d": 4e-4}),
}


def training_routine(routine: str, bn: bool = True, batch: int = 16,
                     profile: str | Profile | None = None) -> ExperimentConfig:
    """Chapter 6's routine design: Table II #7 (``batch=16``) or #11 (``batch=128``) with D
    trained by ``routine`` (``combined``, ``split`` or ``separate``), with BN in both nets or
    (``bn=False``) in neither. ``("combined", True, 16)`` is #6, ``("separate", True, 16)`` #7,
    ``("combined", True, 128)`` #10 and ``("separate", True, 128)`` #11 (same config hash)."""
    if routine not in ROUTINES:
        raise ValueError(f"routine must be one of {', '.join(ROUTINES)}; got {routine!r}")
    if batch not in ROUTINE_BASES:
        raise ValueError(f"batch must be one of {', '.join(map(str, ROUTINE_BASES))}; got {batch!r}")
    if not isinstance(bn, bool):
        raise ValueError(f"bn must be True or False; got {bn!r}")
    exp_id = ROUTINE_BASES[batch]
    return table2(exp_id, profile).vary(
        name=f"routine:{routine}-{'bn' if bn else 'nobn'}-{batch}", routine=routine, norm="batch" if bn else "none",
        description=f"Table II #{exp_id} settings (batch {batch}, G kernel 5, 128 filters, noise labels) with "
                    f"{routine} D training, {'BN in both nets' if bn else 'no BN'}")


def routine_arm(arm: str, profile: str | Profile | None = None) -> ExperimentConfig:
    """One of chapter 6's arms on Table II #7 (batch 16, BN in both nets): see :data:`ROUTINE_ARMS`."""
    if arm not in ROUTINE_ARMS:
        raise ValueError(f"arm must be one of {', '.join(ROUTINE_ARMS)}; got {arm!r}")
    description, changes = ROUTINE_ARMS[arm]
    return table2(7, profile).vary(name=f"routine:{arm}", description=f"Table II #7 settings; {description}",
                                   **changes)
# --------------------------------------------------------------------------- chapter 5: batch size

# Table II's batch-size sweep: kernel 5, 128 filters, noise labels, separate D training, batch
# 8, 16, 32, 64, 128 (#5, #7, #8, #9, #11). The paper's Figure 9 shows #10 (combined routine)
# at batch 128 instead of #11: the series ``batch:figure9`` is that row as printed.
BATCH_IDS = {8: 5, 16: 7, 32: 8, 64: 9, 128: 11}
BATCH_SIZES = tuple(BATCH_IDS)
# The fixed-images arm: every batch size sees as many images as batch IMAGES_ANCHOR does in the
# profile's steps (steps x batch constant), so batch 16 and 32 take more steps than the
# profile's and batch 128 fewer. Batch 64 sits in the middle of the sweep: no run is shorter
# than half the profile's steps, and none is longer than 4 times them at the batches chapter 5
# runs at ``quick`` (16, 32, 128); batch 8 takes 8 times.
IMAGES_ANCHOR = 64
# The lr-scaled arm: lr_g = lr_d = LR_ANCHOR[1] * sqrt(batch / LR_ANCHOR[0]). Source 003 says only
# that a larger batch allows a larger learning rate; the square-root rule is the conservative
# one of the two usual rules (linear scaling, Goyal et al. 2017, was made for SGD; square root,
# Krizhevsky 2014 and Hoffer et al. 2017, keeps the update noise constant and suits Adam).
# Anchored at batch 16, Table II's small batch, with the paper's 2e-4, so batch 16 is #7 itself.
LR_ANCHOR = (16, 2e-4)
BATCH_ARMS = {
    "steps": "Table II's settings, the profile's number of steps",
    "images": f"Table II's settings, steps scaled so that batch x steps = profile steps x {IMAGES_ANCHOR}",
    "no-bn": "Table II's settings without BN in either network, the profile's number of steps",
    "lr-scaled": (f"Table II's settings, lr_g = lr_d = {LR_ANCHOR[1]:g} x sqrt(batch / {LR_ANCHOR[0]}), "
                  "the profile's number of steps"),
    "layer-norm": ("Table II's settings with layer norm, which uses no batch statistics, where BN was, "
                   "the profile's number of steps"),
}


def batch_lr(batch: int) -> float:
    """The lr-scaled arm's learning rate at ``batch``: :data:`LR_ANCHOR`'s rate times
    sqrt(batch / anchor batch)."""
    anchor_batch, anchor_lr = LR_ANCHOR
    return anchor_lr * (batch / anchor_batch) ** 0.5


def batch_size(arm: str, batch: int, profile: str | Profile | None = None) -> ExperimentConfig:
    """Chapter 5's set-ups: Table II's batch-size row (#5, #7, #8, #9, #11 for ``batch`` 8,
    16, 32, 64, 128) with one ``arm`` of :data:`BATCH_ARMS`:

    * ``steps``: the Table II run itself (same config hash as ``table2:<id>``);
    * ``images``: steps = profile steps x :data:`IMAGES_ANCHOR` / batch, so every batch size
      sees the same number of images; snapshots, evaluations and checkpoints scale with the
      steps, the history keeps the profile's ``log_every`` (one logged point per 5 steps at
      ``quick``);
    * ``no-bn``: ``norm="none"`` in both networks;
    * ``lr-scaled``: lr_g = lr_d = :func:`batch_lr` (batch);
    * ``layer-norm``: ``norm="layer"``, a normalization with no batch statistics in the same
      places, so that what changes with the batch is everything but BN's estimates.
    """
    if arm not in BATCH_ARMS:
        raise ValueError(f"arm must be one of {', '.join(BATCH_ARMS)}; got {arm!r}")
    if isinstance(batch, bool) or batch not in BATCH_IDS:
        raise ValueError(f"batch must be one of {', '.join(map(str, BATCH_SIZES))} (Table II); got {batch!r}")
    exp_id = BATCH_IDS[batch]
    config = table2(exp_id, profile)
    changes: dict[str, Any] = {}
    if arm == "images":
        t = config.train
        factor = IMAGES_ANCHOR / batch
        steps = round(t.steps * factor)
        changes = {"steps": steps, "sample_every": max(1, round(t.sample_every * factor)),
                   "eval_every": round(t.eval_every * factor), "checkpoint_every": max(1, steps // 4)}
    elif arm == "no-bn":
        changes = {"norm": "none"}
    elif arm == "layer-norm":
        changes = {"norm": "layer"}
    elif arm == "lr-scaled":
        changes = {"lr_g": batch_lr(batch), "lr_d": batch_lr(batch)}
    what = BATCH_ARMS[arm]
    if arm == "images":
        what += f" ({changes['steps']} steps)"
    elif arm == "lr-scaled":
        what += f" (lr {batch_lr(batch):.3g})"
    return config.vary(name=f"batch:{arm}-{batch}", description=f"Table II #{exp_id} (batch {batch}): {what}",
                       **changes)


# --------------------------------------------------------------------------- chapter 8: weight normalization and TReLU

# Xiang & Li's training set-up as their reference code (stormraiser/GAN-weight-norm, pytorch/main.py)
# has it: RMSprop lr 1e-4, alpha 0.9, eps 1e-6 for both nets, batch 32, clean BCE labels, D's
# real and fake losses from two forward passes summed into one step (``split``), D's fakes from
# a train-mode G. The network is the Radford DCGAN (the library's ``radford`` arch).
WN_TRAIN = {"optimizer": "rmsprop", "lr_g": 1e-4, "lr_d": 1e-4, "rms_alpha": 0.9, "rms_eps": 1e-6,
            "batch_size": 32, "routine": "split", "d_fakes": "train-mode", "loss": "bce", **CLEAN_LABELS}
WEIGHT_NORM: dict[str, tuple[str, dict[str, Any]]] = {
    "vanilla": ("Radford DCGAN without normalization", {"norm": "none"}),
    "bn": ("Radford DCGAN with BN where DCGAN puts it", {"norm": "batch", "placement": "dcgan"}),
    "wn": ("Xiang & Li's weight-normalized DCGAN: every layer strict WN, TPReLU activations",
           {"norm": "weight", "placement": "all"}),
    "wn-relu": ("weight-normalized DCGAN with ReLU / LeakyReLU instead of TPReLU (the TReLU ablation)",
                {"norm": "weight", "placement": "all", "wn_activation": "relu"}),
    "spectral": ("spectral norm on every D layer, G unnormalized (Miyato et al.: the modern reference)",
                 {"norm": "spectral", "norm_in": "d", "placement": "all"}),
}
# The stand-in for Xiang & Li's 21-layer ResNet: the same DCGAN with WN_EXTRA_LAYERS stride-1 3x3
# conv blocks added to G and to D at their largest maps (11 conv layers each, no skip connections).
WN_EXTRA_LAYERS = 8
WEIGHT_NORM.update({f"deep-{v}": (f"{WEIGHT_NORM[v][0]}, {WN_EXTRA_LAYERS} extra 3x3 conv blocks in each net",
                                  {**WEIGHT_NORM[v][1], "extra_layers": WN_EXTRA_LAYERS})
                    for v in ("vanilla", "bn", "wn")})
# Reconstruction error is measured this many times over a run (eval_every = steps / WN_EVALS).
WN_EVALS = 4


def weight_norm(variant: str, profile: str | Profile | None = None) -> ExperimentConfig:
    """One of chapter 8's set-ups (see :data:`WEIGHT_NORM`) on the Radford DCGAN with Xiang &
    Li's RMSprop training (:data:`WN_TRAIN`), scaled to ``profile``, with the reconstruction
    error measured :data:`WN_EVALS` times during training."""
    if variant not in WEIGHT_NORM:
        raise ValueError(f"variant must be one of {', '.join(WEIGHT_NORM)}; got {variant!r}")
    description, changes = WEIGHT_NORM[variant]
    base = ExperimentConfig(name=f"wn:{variant}", description=description,
                            model=ModelConfig(arch="radford", g_kernel=4, d_kernel=4, width=64, init="dcgan"),
                            train=TrainConfig(**WN_TRAIN))
    config = scale_to_profile(base.vary(**changes), profile)
    return config.vary(eval_every=max(1, config.train.steps // WN_EVALS))


# --------------------------------------------------------------------------- chapter 7: the BN blind spot

# Source 001's shift test: G's loss gets -0.005 * mean(fake[:, 0]), a small push to the right.
SHIFT_WEIGHT = 0.005


def blind_spot_gan(**changes: Any) -> ExperimentConfig:
    """Source 001's toy GAN: G and D are Dense(64)-LeakyReLU(0.01) x 2 MLPs with Keras'
    default initialisation, BN momentum and epsilon, and Adam (lr 1e-3, beta1 0.9), trained on
    the whole toy population as one batch (G loss: the negated D loss on fakes). As in the
    source, one batch of fakes per iteration feeds both updates (``d_fakes="reuse"``). No
    normalization and split D batches unless ``changes`` (for :meth:`ExperimentConfig.vary`)
    say otherwise."""
    momentum = keras_to_torch_momentum(0.99)
    base = ExperimentConfig(
        name="blindspot",
        data=DataConfig(kind="toy", toy="moons"),
        model=ModelConfig(arch="mlp", norm="none", latent_dim=2, width=64, depth=2, leak=0.01, init="glorot",
                          g_bn_momentum=momentum, d_bn_momentum=momentum, bn_eps=1e-3),
        train=TrainConfig(routine="split", g_bn_mode="train", d_fakes="reuse", loss="minimax", optimizer="adam",
                          lr_g=1e-3, lr_d=1e-3, beta1=0.9, beta2=0.999),
    )
    return base.vary(**changes) if changes else base


BN_D = {"d_norms": ("batch", "batch")}
SHIFT = {"g_shift_weight": SHIFT_WEIGHT}
BLIND_SPOT: dict[str, tuple[str, dict[str, Any]]] = {
    "no-bn": ("no normalization, split D batches", {}),
    "bn": ("BN after both hidden layers of D, split D batches", BN_D),
    "no-bn-shift": ("no normalization, shift test", SHIFT),
    "bn-shift": ("BN in D, split D batches, shift test", {**BN_D, **SHIFT}),
    "bn-joint": ("BN in D, one joint real+fake batch for D, fakes alone in G's step", {**BN_D, "routine": "combined"}),
    "bn-eval": ("BN in D, split D batches, D in eval mode during G's step", {**BN_D, "g_bn_mode": "eval"}),
    "bn-joint-eval-shift": ("BN in D, joint D batch, eval-mode D in G's step, shift test",
                            {**BN_D, "routine": "combined", "g_bn_mode": "eval", **SHIFT}),
    "bn-joint-eval-fast-shift": ("as bn-joint-eval-shift, with faster BN running averages (Keras momentum 0.9)",
                                 {**BN_D, "d_bn_momentum": keras_to_torch_momentum(0.9), "routine": "combined",
                                  "g_bn_mode": "eval", **SHIFT}),
    "bn-joint-joint-shift": ("BN in D, joint batches in both steps (train mode), shift test",
                             {**BN_D, "routine": "combined", "g_bn_mode": "joint", **SHIFT}),
    "bn-not-first-shift": ("BN after D's second hidden layer only, split D batches, shift test",
                           {"d_norms": ("none", "batch"), **SHIFT}),
    **{f"{kind}-shift": (f"{kind} normalization in D instead of BN, split D batches, shift test",
                         {"d_norms": (kind, kind), **SHIFT}) for kind in ("layer", "group", "weight", "spectral")},
    "moments-bn-first": ("fakes forced to the data's mean and std; BN after D's first layer only; split D "
                         "batches, eval-mode D in G's step", {"match_moments": True, "d_norms": ("batch", "none"),
                                                              "g_bn_mode": "eval"}),
    "moments-bn-all": ("fakes forced to the data's mean and std; BN after both of D's hidden layers; split D "
                       "batches, eval-mode D in G's step", {"match_moments": True, **BN_D, "g_bn_mode": "eval"}),
}


def blind_spot(variant: str, profile: str | Profile | None = None) -> ExperimentConfig:
    """One of chapter 7's toy set-ups (see :data:`BLIND_SPOT`), scaled to ``profile``; the
    batch is always the whole toy population, as in the source."""
    if variant not in BLIND_SPOT:
        raise ValueError(f"variant must be one of {', '.join(BLIND_SPOT)}; got {variant!r}")
    description, changes = BLIND_SPOT[variant]
    config = scale_to_profile(blind_spot_gan(name=f"blindspot:{variant}", description=description, **changes),
                              profile)
    return config.vary(batch_size=config.data.toy_samples)


# --------------------------------------------------------------------------- the registry

EXPERIMENTS: dict[str, Factory] = {f"table2:{i}": (lambda p, i=i: table2(i, p)) for i in TABLE2}
EXPERIMENTS.update({f"heuristics:{v}": (lambda p, v=v: heuristics(v, p)) for v in HEURISTICS})
EXPERIMENTS.update({f"blindspot:{v}": (lambda p, v=v: blind_spot(v, p)) for v in BLIND_SPOT})
EXPERIMENTS.update({f"noise:{r}-{t}": (lambda p, r=r, t=t: noise_labels(r, t, p))
                    for r in NOISE_ROUTINES for t in NOISE_TREATMENTS})
EXPERIMENTS.update({f"onesided:{r}-{b}": (lambda p, r=r, b=b: one_sided(r, b, p))
                    for r in ONE_SIDED_ROUTINES for b in ONE_SIDED_BN})
EXPERIMENTS.update({f"kernel:k{k}-{w}": (lambda p, k=k, w=w: kernel_size(k, w, profile=p))
                    for k in (3, 4, 5) for w in KERNEL_WIDTHS})
EXPERIMENTS.update({f"kernel:k{k}-table1-transposed": (lambda p, k=k: kernel_size(k, upsample="transposed", profile=p))
                    for k in (3, 4, 5)})
EXPERIMENTS.update({f"kernel:k{k}-table1-{px}px": (lambda p, k=k, px=px: kernel_size(k, image_size=px, profile=p))
                    for k in (3, 5) for px in (32, 64)})
EXPERIMENTS.update({f"routine:{r}-{'bn' if bn else 'nobn'}-{b}": (lambda p, r=r, bn=bn, b=b: training_routine(r, bn, b, p))
                    for r in ROUTINES for bn in (True, False) for b in ROUTINE_BASES})
EXPERIMENTS.update({f"routine:{arm}": (lambda p, arm=arm: routine_arm(arm, p)) for arm in ROUTINE_ARMS})
EXPERIMENTS.update({f"wn:{v}": (lambda p, v=v: weight_norm(v, p)) for v in WEIGHT_NORM})
SERIES: dict[str, dict[str, str]] = {
    "table2:noise-labels": {"no noise labels (#1)": "table2:1", "noise labels (#2)": "table2:2"},
    "table2:one-sided-bn": {"BN in both (#10)": "table2:10", "G only, Keras 0.5 (#12)": "table2:12",
                            "G only, Keras 0.7 (#13)": "table2:13", "G only, Keras 0.9 (#14)": "table2:14"},
    "table2:kernel": {"kernel 3 (#2)": "table2:2", "kernel 5 (#7)": "table2:7"},
    "table2:batch-size": {f"batch {TABLE2[i][3]} (#{i})": f"table2:{i}" for i in (5, 7, 8, 9, 11)},
    "table2:routine-16": {"combined (#6)": "table2:6", "separate (#7)": "table2:7"},
    "table2:routine-128": {"combined (#10)": "table2:10", "separate (#11)": "table2:11"},
    "kernel:widths": {"kernel 3, Table I widths (#2)": "kernel:k3-table1", "kernel 5, Table I widths": "kernel:k5-table1",
                      "kernel 3, 128 filters": "kernel:k3-wide", "kernel 5, 128 filters (#7)": "kernel:k5-wide"},
    "kernel:upsampling": {**{f"upsample + conv, kernel {k}": f"kernel:k{k}-table1" for k in (3, 4, 5)},
                          **{f"transposed, kernel {k}": f"kernel:k{k}-table1-transposed" for k in (3, 4, 5)}},
    **{f"routine:{'bn' if bn else 'nobn'}-{b}": {r: f"routine:{r}-{'bn' if bn else 'nobn'}-{b}" for r in ROUTINES}
       for bn in (True, False) for b in ROUTINE_BASES},
    "routine:g-step": {"separate (#7)": "routine:separate-bn-16", "combined (#6)": "routine:combined-bn-16",
                       "split, eval-mode D in G step": "routine:split-eval",
                       "joint D batch, eval-mode D in G step": "routine:joint-eval",
                       "joint batches in both steps": "routine:joint-joint"},
    "routine:ratios": {"G:D 1:1 (#7)": "routine:separate-bn-16", "G:D 2:1": "routine:g2", "G:D 5:1": "routine:g5",
                       "TTUR (G 1e-4, D 4e-4)": "routine:ttur"},
    "heuristics:figure1": {"no BN": "heuristics:fig1-no-bn", "BN": "heuristics:fig1-bn"},
    "heuristics:placement": {"DCGAN placement": "heuristics:dcgan-bn", "every layer": "heuristics:bn-everywhere"},
    "heuristics:beta1": {"beta1 0.5": "heuristics:dcgan-bn", "beta1 0.9": "heuristics:beta1-0.9"},
    "heuristics:init": {"Keras init (Glorot, eps 1e-3)": "heuristics:dcgan-bn",
                        "DCGAN init (N(0, 0.02), eps 1e-3)": "heuristics:init-only",
                        "DCGAN init (N(0, 0.02), eps 1e-5)": "heuristics:dcgan-init"},
    **{f"noise:{r}": {t: f"noise:{r}-{t}" for t in NOISE_TREATMENTS} for r in NOISE_ROUTINES},
    **{f"onesided:{r}": {label: f"onesided:{r}-{b}" for b, label in ONE_SIDED_BN.items()}
       for r in ONE_SIDED_ROUTINES},
    "onesided:momentum": {f"G only, Keras {TABLE2[i][5]} (#{i})": f"table2:{i}" for i in (12, 13, 14)},
    "wn:main": {"vanilla": "wn:vanilla", "BN": "wn:bn", "WN + TPReLU": "wn:wn", "WN + ReLU": "wn:wn-relu",
                "spectral (D)": "wn:spectral"},
    "wn:deep": {"vanilla, deep": "wn:deep-vanilla", "BN, deep": "wn:deep-bn", "WN + TPReLU, deep": "wn:deep-wn"},
    "blindspot:bn": {"no BN": "blindspot:no-bn", "BN, split batches": "blindspot:bn"},
    "blindspot:shift": {"no BN": "blindspot:no-bn-shift", "BN, split batches": "blindspot:bn-shift"},
    "blindspot:failures": {"joint D batch": "blindspot:bn-joint", "eval-mode D in G step": "blindspot:bn-eval"},
    "blindspot:fixes": {"joint D batch + eval-mode G step": "blindspot:bn-joint-eval-shift",
                        "same, faster running averages": "blindspot:bn-joint-eval-fast-shift",
                        "joint batches in both steps": "blindspot:bn-joint-joint-shift"},
    "blindspot:alternatives": {"BN, split batches": "blindspot:bn-shift",
                               "no BN in first layer": "blindspot:bn-not-first-shift",
                               "layer norm": "blindspot:layer-shift", "group norm": "blindspot:group-shift",
                               "weight norm": "blindspot:weight-shift", "spectral norm": "blindspot:spectral-shift"},
    "blindspot:moments": {"BN in first layer only": "blindspot:moments-bn-first",
                          "BN in every layer": "blindspot:moments-bn-all"},
}


# ---- chapter 5: batch size (one block, appended after the registry above)
EXPERIMENTS.update({f"batch:{a}-{b}": (lambda p, a=a, b=b: batch_size(a, b, p))
                    for a in BATCH_ARMS for b in BATCH_SIZES})
SERIES.update({f"batch:{a}": {f"batch {b}": f"batch:{a}-{b}" for b in BATCH_SIZES} for a in BATCH_ARMS})
SERIES["batch:figure9"] = {f"batch {b} (#{i})": f"table2:{i}" for b, i in BATCH_IDS.items() if b != 128}
SERIES["batch:figure9"]["batch 128, combined (#10)"] = "table2:10"
# ---- end of chapter 5

def register(name: str, factory: Factory) -> None:
    """Add a named experiment (chapters register theirs so the CLI can run them)."""
    EXPERIMENTS[name] = factory


def get_experiment(name: str, profile: str | Profile | None = None) -> ExperimentConfig:
    """The config of a named experiment at ``profile``."""
    if name not in EXPERIMENTS:
        known = ", ".join(sorted(EXPERIMENTS, key=_natural))
        raise ValueError(f"unknown experiment {name!r}; known experiments: {known}")
    return EXPERIMENTS[name](get_profile(profile))


SMOKE_FILTERS = 8  # conv filters per layer at ``smoke``
SMOKE_WIDTH = 4  # Radford base width at ``smoke``


def for_profile(name: str, profile: str | Profile | None = None) -> ExperimentConfig:
    """A registered experiment as the chapters run it: as registered at ``quick`` and ``full``;
    at ``smoke`` (CI only: it proves the code runs) image networks are narrowed to a few
    filters and no run is longer than the profile's steps, so that a chapter executes in
    seconds. Toy experiments are never changed."""
    p = get_profile(profile)
    config = get_experiment(name, p)
    if p.name != "smoke" or config.data.kind != "image":
        return config
    config = config.vary(steps=min(config.train.steps, p.steps))  # arms that scale the steps stay short
    if config.model.arch == "radford":
        return config.vary(width=SMOKE_WIDTH)
    return config.vary(g_filters=(SMOKE_FILTERS,) * len(config.model.g_filters),
                       d_filters=(SMOKE_FILTERS,) * len(config.model.d_filters))


def series_configs(series: str | dict[str, str], profile: str | Profile | None = None) -> dict[str, ExperimentConfig]:
    """``{label: config}`` of a registered series (or a ``{label: registered name}`` dict), each as
    :func:`for_profile` gives it."""
    return {label: for_profile(name, profile) for label, name in _series_entries(series).items()}


def _series_entries(series: str | dict) -> dict:
    if isinstance(series, str):
        if series not in SERIES:
            raise ValueError(f"unknown series {series!r}; known series: {', '.join(sorted(SERIES))}")
        return SERIES[series]
    return series


def _natural(name: str) -> tuple:
    head, _, tail = name.partition(":")
    return (head, int(tail)) if tail.isdigit() else (head, 0, tail)


# --------------------------------------------------------------------------- running


@dataclass
class RunSet:
    """The runs of one experiment over several seeds."""

    label: str
    config: ExperimentConfig
    runs: list[Run]

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    @property
    def completed(self) -> list[Run]:
        return [r for r in self.runs if r.status == "complete"]

    def values(self, metric: str) -> np.ndarray:
        """A final metric across the completed runs (NaN where a run lacks it).

        ``final_<column>`` for a history column that the run did not record as a metric (the
        gradient norms, say) is the column's mean over the last 10% of the logged steps, as
        the recorded ``final_loss_d`` and the like are; ``first_<column>`` is its mean over the
        first 10%."""
        return np.array([_final_value(r, metric) for r in self.completed])

    def mean_std(self, metric: str) -> tuple[float, float]:
        """Mean and sample standard deviation (ddof 1) over the completed seeds; the std is
        NaN with a single seed. Diverged seeds are not in either: count them with
        :attr:`n_diverged` (every table shows it)."""
        values = self.values(metric)
        values = values[~np.isnan(values)]
        if values.size == 0:
            return float("nan"), float("nan")
        std = float(np.std(values, ddof=1)) if values.size > 1 else float("nan")
        return float(np.mean(values)), std

    def by_seed(self, metric: str) -> dict[int, float]:
        """``{seed: final metric}`` over the completed runs that have the metric (read as
        :meth:`values` reads it, history tails included)."""
        found = {r.seed: _final_value(r, metric) for r in self.completed}
        return {seed: value for seed, value in found.items() if not np.isnan(value)}

    @property
    def n_diverged(self) -> int:
        return sum(r.status == "diverged" for r in self.runs)


def _final_value(run: Run, metric: str) -> float:
    if metric in run.metrics:
        return float(run.metrics[metric])
    history = getattr(run, "history", {})
    for prefix, reduce in (("final_", Run.final), ("first_", Run.first)):
        column = metric.removeprefix(prefix)
        if metric.startswith(prefix) and column in history:
            return reduce(run, column)
    return float("nan")


def run_experiment(experiment: str | ExperimentConfig, *, profile: str | Profile | None = None,
                   seeds: Iterable[int] | None = None, root=None, device=None, progress: bool = True,
                   label: str | None = None, group: bool | None = None, graph: bool | None = None) -> RunSet:
    """Train (or load from the cache) one experiment for each seed.

    ``experiment`` is a registered name (``"table2:10"``), run as :func:`for_profile` gives it
    (at ``smoke``, with narrowed networks), or a config, used as given (scale it with
    :func:`scale_to_profile` first if it should follow a profile).
    ``seeds`` defaults to the profile's seeds (its ``toy_seeds`` for toy 2D data). A
    diverged seed is recorded and the sweep goes on with the next one. With ``progress``,
    each seed prints one line as it is done (:func:`seed_status`) and a step bar shows while
    one trains (in a terminal or notebook only); ``progress=False`` prints nothing per seed.
    ``group`` trains the seeds together and ``graph`` replays each iteration as a CUDA graph
    (:func:`bngan.train.train_runs`; default for both: on a GPU only); each run equals its
    one-seed run up to float rounding.
    """
    if not isinstance(experiment, (str, ExperimentConfig)):
        raise ValueError(f"experiment must be a registered name (see `bngan list`) or an ExperimentConfig; "
                         f"got {experiment!r}")
    p = get_profile(profile)
    config = for_profile(experiment, p) if isinstance(experiment, str) else experiment
    if seeds is None:
        seeds = p.toy_seeds if config.data.kind == "toy" else p.seeds
    seeds = check_seeds(seeds)
    chosen = check_device(device) if device is not None else default_device()
    if trains_together(chosen, len(seeds), group=group, graph=graph):  # the seeds finish together: lines at the end
        runs = train_runs(config, seeds, root=root, device=device, progress=progress, group=group, graph=graph)
        for run in runs if progress else ():
            print(f"{label or config.name} {seed_status(run)}", flush=True)
        return RunSet(label or config.name, config, runs)
    runs = []
    for seed in seeds:
        runs.append(train_run(config, seed, root=root, device=device, progress=progress))
        if progress:
            print(f"{label or config.name} {seed_status(runs[-1])}", flush=True)
    return RunSet(label or config.name, config, runs)


def seed_status(run: Run) -> str:
    """One line on how a seed's run was obtained: ``seed 1: cached``, ``seed 1: resumed at
    step 100 (400 steps, 12 s)``, ``seed 1: trained (400 steps, 12 s)``, or ``diverged``."""
    if run.origin == "cached" or not run.origin:
        return f"seed {run.seed}: cached" + ("" if run.status != "diverged" else f" (diverged at step {run.diverged_at})")
    seconds = run.record.get("session_s") or run.record.get("elapsed_s") or 0.0  # this attempt's time
    how = "trained" if run.origin == "trained" else f"resumed at step {run.resumed_at}"
    if run.status == "diverged":
        kept = run.record.get("last_finite_step")
        back = f"; its checkpoint of step {kept} is kept in {run.path}" if kept else ""
        return f"seed {run.seed}: {how}, diverged at step {run.diverged_at} ({seconds:.0f} s{back})"
    return f"seed {run.seed}: {how} ({run.steps_done} steps, {seconds:.0f} s)"


def run_series(series: str | dict[str, str | ExperimentConfig], *, profile: str | Profile | None = None,
               seeds: Sequence[int] | None = None, root=None, device=None,
               progress: bool = True, group: bool | None = None, graph: bool | None = None) -> dict[str, RunSet]:
    """Run every experiment of a series (a registered name or a ``{label: experiment}`` dict);
    registered names run as :func:`for_profile` gives them; ``group`` and ``graph`` as in
    :func:`run_experiment`."""
    return {label: run_experiment(exp, profile=profile, seeds=seeds, root=root, device=device,
                                  progress=progress, label=label, group=group, graph=graph)
            for label, exp in _series_entries(series).items()}


def summary_table(results: dict[str, RunSet] | Sequence[RunSet],
                  metrics: Sequence[str] = ("recon_mse", "final_loss_d", "final_loss_g"), *,
                  robust: bool = False) -> TextTable:
    """One row per set-up: mean ± std over seeds for each metric, or with ``robust=True`` the
    median and [min, max] (for heavy tails, such as a few seeds whose fakes run away). Prints
    as aligned plain text; a notebook that displays it shows an HTML table.

    Rows are labelled by the dict's keys (RunSets of varied configs may share a name), or by
    each RunSet's ``label`` for a sequence.
    """
    sets = list(results.items()) if isinstance(results, dict) else [(rs.label, rs) for rs in results]
    header = ["setting", "seeds", "diverged"] + list(metrics)
    rows = [header]
    for label, rs in sets:
        row = [label, str(len(rs)), str(rs.n_diverged)]
        for metric in metrics:
            if robust:
                values = rs.values(metric)
                values = values[~np.isnan(values)]
                row.append(f"{np.median(values):.3g} [{values.min():.3g}, {values.max():.3g}]" if values.size else "nan")
            else:
                mean, std = rs.mean_std(metric)
                row.append(f"{significant(mean, 4)} ± {significant(std, 2)}")
        rows.append(row)
    return TextTable(header, rows[1:])
