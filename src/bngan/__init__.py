"""bngan: build, train, measure and plot DCGANs to study batch normalization in GANs.

``import bngan`` loads no torch: the names below (``bngan.run_experiment``, ``bngan.plots``,
...) and every submodule load on first use, so the command line answers ``bngan --help`` or
``bngan list`` in a fraction of a second instead of the seconds torch, torchvision and
matplotlib take. The first use of any of them, and any module that loads data, checks that
torch and torchvision work together (:func:`bngan.install.check_torch_pair`) before anything
runs.

The package is seven wings, imported in one direction: ``catalog`` (experiments by name) →
``models`` → ``measure`` → ``engine`` → ``runs`` → ``evidence`` → ``book``, above the shared
modules at the top (config, profiles, data, ...) and below the entry points (cli, background).
The flat layout's module names (``bngan.train``, ``bngan.stats``, ...) map to their wings."""

__version__ = "0.1.0"

import importlib as _importlib
import importlib.abc as _importlib_abc
import importlib.machinery as _importlib_machinery
import importlib.util as _importlib_util
import os as _os
import sys as _sys

# OpenMP threads that spin while they wait make training 10-20 times slower on cores shared with
# other work (measured on 2 cores; see the README). Unless the user chose a policy, wait
# passively; OpenMP reads this when torch loads, so it only takes effect if torch is not loaded yet.
OMP_WAIT_POLICY = _os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE") if "torch" not in _sys.modules else (
    _os.environ.get("OMP_WAIT_POLICY") or "runtime default (torch was imported before bngan)")

# The names `import bngan` gives, each loaded from its module on first use.
_NAMES = {"ExperimentConfig": "config", "compare": "evidence.stats", "provenance": "provenance",
          "run_experiment": "runs.runsets", "run_series": "runs.runsets", "train_run": "runs.train"}

# Where each module of the flat layout lives in the wings: `bngan.train`, `from bngan import plots`
# and `from bngan.tables import TextTable` go on working (chapters and scripts use them), and
# give the module itself, not a copy. `bngan.models` and `bngan.runs` are wings now; their
# packages answer for the old modules' names (models.py is `models.dcgan`, runs.py `runs.folders`).
_MOVED = {
    **{m: f"catalog.{m}" for m in ("table2", "designs", "registry")},
    **{m: f"models.{m}" for m in ("layers", "inits", "norms", "toy_models", "networks", "dropout")},
    **{m: f"measure.{m}" for m in ("metrics", "quality", "spectra", "histories", "baselines")},
    **{m: f"engine.{m}" for m in ("losses", "routine", "step", "probes", "seed_group", "step_graph")},
    **{m: f"runs.{m}" for m in ("locks", "run_data", "trainer", "train", "cluster", "workers", "run_progress",
                                "runsets")},
    **{m: f"evidence.{m}" for m in ("stats", "tables", "learning", "claims", "ledger", "budget", "prose", "plan",
                                    "results", "confirmation", "rules")},
    **{m: f"book.{m}" for m in ("experiments", "blindspot", "plots", "widgets", "primer")},
}

__all__ = ["ExperimentConfig", "compare", "config", "data", "experiments", "histories", "metrics", "models", "norms",
           "plots", "profiles", "provenance", "run_experiment", "run_series", "runs", "spectra", "stats", "tables",
           "train", "train_run"]


def _module(name: str):
    """The module ``bngan.<name>`` (a flat-layout name found at its place in the wings), imported
    after the torch/torchvision check."""
    from .install import ensure_torch_pair

    ensure_torch_pair()
    return _importlib.import_module(f"{__name__}.{_MOVED.get(name, name)}")


def __getattr__(name: str):
    """``bngan.<name>``: a name of :data:`__all__`, a moved module or any submodule, imported on
    first use after the torch/torchvision check (module ``__getattr__``, PEP 562)."""
    if name.startswith("_") or (name not in _NAMES and name not in _MOVED
                                and _importlib_util.find_spec(f"{__name__}.{name}") is None):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_module(_NAMES[name]), name) if name in _NAMES else _module(name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _MovedModules(_importlib_abc.MetaPathFinder, _importlib_abc.Loader):
    """``import bngan.<flat name>`` for a module in :data:`_MOVED`: the module at its place in the
    wings, registered under the old name too (so ``from bngan.train import load_run_data`` works
    and both names are one object)."""

    def __init__(self) -> None:
        self._specs = {}

    def find_spec(self, fullname, path=None, target=None):
        parent, _, name = fullname.rpartition(".")
        if parent != __name__ or name not in _MOVED:
            return None
        return _importlib_machinery.ModuleSpec(fullname, self)

    def create_module(self, spec):
        module = _module(spec.name.rpartition(".")[2])
        self._specs[module.__name__] = module.__spec__  # the import system writes the alias's over it
        return module

    def exec_module(self, module) -> None:
        module.__spec__ = self._specs.pop(module.__name__, module.__spec__)  # already executed: put its own back


if not any(isinstance(finder, _MovedModules) for finder in _sys.meta_path):
    _sys.meta_path.append(_MovedModules())
