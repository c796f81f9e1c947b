"""bngan: build, train, measure and plot DCGANs to study batch normalization in GANs.

``import bngan`` loads no torch: the names below (``bngan.run_experiment``, ``bngan.plots``,
...) and every submodule load on first use, so the command line answers ``bngan --help`` or
``bngan list`` in a fraction of a second instead of the seconds torch, torchvision and
matplotlib take. The first use of any of them, and any module that loads data, checks that
torch and torchvision work together (:func:`bngan.install.check_torch_pair`) before anything
runs."""

__version__ = "0.1.0"

import importlib as _importlib
import importlib.util as _importlib_util
import os as _os
import sys as _sys

# OpenMP threads that spin while they wait make training 10-20 times slower on cores shared with
# other work (measured on 2 cores; see the README). Unless the user chose a policy, wait
# passively; OpenMP reads this when torch loads, so it only takes effect if torch is not loaded yet.
OMP_WAIT_POLICY = _os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE") if "torch" not in _sys.modules else (
    _os.environ.get("OMP_WAIT_POLICY") or "runtime default (torch was imported before bngan)")

# The names `import bngan` gives, each loaded from its module on first use.
_NAMES = {"ExperimentConfig": "config", "compare": "stats", "provenance": "provenance",
          "run_experiment": "experiments", "run_series": "experiments", "train_run": "train"}

__all__ = ["ExperimentConfig", "compare", "config", "data", "experiments", "histories", "metrics", "models", "norms",
           "plots", "profiles", "provenance", "run_experiment", "run_series", "runs", "spectra", "stats", "tables",
           "train", "train_run"]


def __getattr__(name: str):
    """``bngan.<name>``: a name of :data:`__all__` or any submodule, imported on first use
    after the torch/torchvision check (module ``__getattr__``, PEP 562)."""
    if name.startswith("_") or (name not in _NAMES and _importlib_util.find_spec(f"{__name__}.{name}") is None):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .install import ensure_torch_pair

    ensure_torch_pair()
    module = _importlib.import_module(f"{__name__}.{_NAMES.get(name, name)}")
    value = getattr(module, name) if name in _NAMES else module
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
