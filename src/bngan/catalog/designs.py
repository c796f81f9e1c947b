"""The chapters' set-ups as data: each chapter's table of arms (what an arm changes and
why) and the function that turns one arm into a config at a profile.

Chapters 1-6 vary the seed paper's Table II (:mod:`bngan.catalog.table2`); chapter 8 uses Xiang &
Li's Radford DCGAN, chapter 7 source 001's toy GAN. The registry (:mod:`bngan.catalog.registry`)
names each arm; nothing here trains.
"""

from __future__ import annotations

from typing import Any

from ..choices import keras_to_torch_momentum
from ..config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from ..profiles import Profile, get_profile
from .table2 import (CLEAN_LABELS, DCGAN_INIT, ONE_SIDED_LABELS, TWO_SIDED_LABELS, scale_to_profile, seed_paper_dcgan,
                     table2)


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
    "lr-high": (f"Table II's settings at the lr-scaled arm's largest rate, lr_g = lr_d = {LR_ANCHOR[1]:g} x "
                f"sqrt({max(BATCH_SIZES)} / {LR_ANCHOR[0]}), whatever the batch, the profile's number of steps"),
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
      places, so that what changes with the batch is everything but BN's estimates;
    * ``lr-high``: the lr-scaled arm's rate at the largest batch, at every batch (at batch 128
      the same config as ``lr-scaled``), so that "a larger batch allows a larger rate" can be
      tested: does the high rate help the large batch more than the small one?
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
    elif arm == "lr-high":
        changes = {"lr_g": batch_lr(max(BATCH_SIZES)), "lr_d": batch_lr(max(BATCH_SIZES))}
    what = BATCH_ARMS[arm]
    if arm == "images":
        what += f" ({changes['steps']} steps)"
    elif arm in ("lr-scaled", "lr-high"):
        what += f" (lr {changes['lr_g']:.3g})"
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
    Li's RMSprop training (:data:`WN_TRAIN`), scaled to ``profile`` with its
    ``wn_steps_factor`` times the steps, with the reconstruction error measured
    :data:`WN_EVALS` times during training."""
    if variant not in WEIGHT_NORM:
        raise ValueError(f"variant must be one of {', '.join(WEIGHT_NORM)}; got {variant!r}")
    description, changes = WEIGHT_NORM[variant]
    base = ExperimentConfig(name=f"wn:{variant}", description=description,
                            model=ModelConfig(arch="radford", g_kernel=4, d_kernel=4, width=64, init="dcgan"),
                            train=TrainConfig(**WN_TRAIN))
    p = get_profile(profile)
    p = p.with_overrides(steps=max(1, round(p.steps * p.wn_steps_factor)))
    config = scale_to_profile(base.vary(**changes), p)
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
