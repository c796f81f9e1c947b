"""The runs: a config and seed trained into a run folder and read back. The folders and their
safety checks (:mod:`.folders`, the flat layout's ``runs.py``, whose names
``bngan.runs.<name>`` still gives), their locks, the trainer that owns one run's folder,
history and checkpoints (:mod:`.trainer`), :func:`~.train.train_run` and seed groups
(:mod:`.train`), sweeps in worker processes or on Ray, and :mod:`.runsets`, an experiment's
seeds as one :class:`~.runsets.RunSet`. Imports the engine, the measures, the models, the
catalog and the top-level shared modules; never the evidence or the book."""

import importlib.util as _importlib_util


def __getattr__(name: str):
    """``bngan.runs.Run`` and the other names of the flat layout's ``runs.py``."""
    if name.startswith("_") or _importlib_util.find_spec(f"{__name__}.{name}") is not None:  # a submodule: import it
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import folders

    try:
        return getattr(folders, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
