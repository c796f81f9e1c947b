"""The book's experiments in one namespace: the designs (:mod:`bngan.catalog.table2`,
:mod:`bngan.catalog.designs`), the registry that names them (:mod:`bngan.catalog.registry`),
the code that runs them (:mod:`bngan.runs.runsets`) and the table that summarises them
(:func:`bngan.evidence.tables.summary_table`). Chapters import this module; each name lives
in the module listed with it."""

from __future__ import annotations

from ..catalog.designs import (
    HEURISTICS_BATCH, HEURISTICS, heuristics, LABEL_SMOOTHING, LABEL_FLIPS, INSTANCE_NOISE_STD,
    NOISE_ROUTINES, noise_labels, NOISE_TREATMENTS, ONE_SIDED_BN, ONE_SIDED_ROUTINES, one_sided,
    KERNEL_WIDTHS, KERNEL_UPSAMPLINGS, kernel_size, kernel_image_sizes, ROUTINE_BASES, ROUTINES,
    ROUTINE_ARMS, training_routine, routine_arm, BATCH_IDS, BATCH_SIZES, IMAGES_ANCHOR, LR_ANCHOR,
    BATCH_ARMS, batch_lr, batch_size, WN_TRAIN, WEIGHT_NORM, WN_EXTRA_LAYERS, WN_EVALS, weight_norm,
    SHIFT_WEIGHT, blind_spot_gan, BN_D, SHIFT, BLIND_SPOT, blind_spot)
from ..catalog.registry import (Factory, EXPERIMENTS, SERIES, register, get_experiment, SMOKE_FILTERS, SMOKE_WIDTH,
    for_profile, series_configs, series_entries)
from ..catalog.table2 import (NOISY_LABELS, CLEAN_LABELS, ONE_SIDED_LABELS, TWO_SIDED_LABELS, scale_to_profile, TABLE2,
    KERAS_DEFAULTS, DCGAN_INIT, seed_paper_dcgan, table2, table2_halfway, TABLE2_REPORTED)
from ..runs.runsets import RunSet, run_experiment, cached_experiment, seed_status, run_series
from ..evidence.tables import summary_table

__all__ = [
    'NOISY_LABELS', 'CLEAN_LABELS', 'ONE_SIDED_LABELS', 'TWO_SIDED_LABELS', 'scale_to_profile', 'TABLE2',
    'KERAS_DEFAULTS', 'DCGAN_INIT', 'seed_paper_dcgan', 'table2', 'table2_halfway', 'TABLE2_REPORTED', 'HEURISTICS_BATCH',
    'HEURISTICS', 'heuristics', 'LABEL_SMOOTHING', 'LABEL_FLIPS', 'INSTANCE_NOISE_STD', 'NOISE_ROUTINES',
    'noise_labels', 'NOISE_TREATMENTS', 'ONE_SIDED_BN', 'ONE_SIDED_ROUTINES', 'one_sided', 'KERNEL_WIDTHS',
    'KERNEL_UPSAMPLINGS', 'kernel_size', 'kernel_image_sizes', 'ROUTINE_BASES', 'ROUTINES', 'ROUTINE_ARMS',
    'training_routine', 'routine_arm', 'BATCH_IDS', 'BATCH_SIZES', 'IMAGES_ANCHOR', 'LR_ANCHOR', 'BATCH_ARMS',
    'batch_lr', 'batch_size', 'WN_TRAIN', 'WEIGHT_NORM', 'WN_EXTRA_LAYERS', 'WN_EVALS', 'weight_norm',
    'SHIFT_WEIGHT', 'blind_spot_gan', 'BN_D', 'SHIFT', 'BLIND_SPOT', 'blind_spot', 'Factory', 'EXPERIMENTS',
    'SERIES', 'register', 'get_experiment', 'SMOKE_FILTERS', 'SMOKE_WIDTH', 'for_profile', 'series_configs',
    'series_entries', 'RunSet', 'run_experiment', 'cached_experiment', 'seed_status', 'run_series', 'summary_table'
]
