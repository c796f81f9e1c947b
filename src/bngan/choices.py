"""The values a config field may take, and the Keras-to-PyTorch momentum map, in a module that
imports nothing heavy.

:mod:`bngan.config` checks every field against these tuples when a config is built, and the
registry builds a config per experiment name; with the tuples here, and not in the torch
modules that use them (:mod:`bngan.data`, :mod:`bngan.models`, :mod:`bngan.models.norms`, ...), which
re-export them, ``bngan list`` and the command line's checks of a name build configs without
loading torch (seconds of CPU on a small machine)."""

from __future__ import annotations

# data (bngan.data)
IMAGE_DATASETS: tuple[str, ...] = ("cifar10", "mnist", "fashion-mnist", "digits")
TOY_DISTRIBUTIONS: tuple[str, ...] = ("ring", "grid", "moons", "gaussian")

# networks (bngan.models, bngan.models.layers, bngan.models.inits)
IMAGE_SIZES: tuple[int, ...] = (16, 28, 32, 64)
CHANNELS: tuple[int, ...] = (1, 3)
PLACEMENTS: tuple[str, ...] = ("dcgan", "all")
NORM_IN: tuple[str, ...] = ("none", "g", "d", "both")
BLOCK_ORDERS: tuple[str, ...] = ("conv-norm-act", "conv-act-norm")
UPSAMPLINGS: tuple[str, ...] = ("nearest", "transposed")
INITS: tuple[str, ...] = ("dcgan", "default", "glorot")
WN_ACTIVATIONS: tuple[str, ...] = ("tprelu", "relu")

# normalizations (bngan.models.norms)
NORM_KINDS: tuple[str, ...] = ("none", "batch", "weight", "layer", "group", "instance", "spectral")


def keras_to_torch_momentum(keras_momentum: float) -> float:
    """Convert a Keras BN momentum (weight of the *old* running average) to PyTorch's.

    PyTorch's ``momentum`` is the weight of the *new* batch, so the map is
    ``1 - m``: Keras 0.9 == PyTorch 0.1.
    """
    if not 0.0 <= keras_momentum <= 1.0:
        raise ValueError(f"keras_momentum must be in [0, 1]; got {keras_momentum!r}")
    return 1.0 - keras_momentum
