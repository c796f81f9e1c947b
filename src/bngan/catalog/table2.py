"""The seed paper's DCGAN and its Table II: the set-up every image chapter starts from.

The labels, Keras' defaults and the 14 Table II experiments as the paper lists them, and
:func:`scale_to_profile`, which applies a settings profile (steps, data, widths) to any
config without changing what is compared.
"""

from __future__ import annotations

from typing import Any

from ..choices import keras_to_torch_momentum
from ..config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from ..profiles import Profile, dataset_name, get_profile


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


def table2_halfway(exp_id: int, profile: str | Profile | None = None) -> ExperimentConfig:
    """Table II experiment ``exp_id`` trained for half the profile's steps: where a run stands
    halfway, for claims about how fast training converges (chapter 2)."""
    p = get_profile(profile)
    config = table2(exp_id, p.with_overrides(steps=max(1, p.steps // 2)))
    return config.vary(name=f"table2:{exp_id}-halfway",
                       description=f"{config.description}; half the profile's steps ({config.train.steps})")


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
