"""The models: the networks a config describes. Layers, initialisations and every
normalization (:mod:`.norms`), the image DCGANs (:mod:`.dcgan`, the flat layout's
``models.py``, whose names ``bngan.models.<name>`` still gives), the toy MLPs, D's dropout
with masks drawn before the step, and :mod:`.networks`, the (G, D) pair and optimizers of a
config. Imports only the top-level shared modules (config, choices): no training, no files."""

import importlib.util as _importlib_util


def __getattr__(name: str):
    """``bngan.models.Generator`` and the other names of the flat layout's ``models.py``."""
    if name.startswith("_") or _importlib_util.find_spec(f"{__name__}.{name}") is not None:  # a submodule: import it
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import dcgan

    try:
        return getattr(dcgan, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
