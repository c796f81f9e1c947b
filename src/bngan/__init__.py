"""bngan: build, train, measure and plot DCGANs to study batch normalization in GANs."""

__version__ = "0.1.0"

import os as _os
import sys as _sys

# OpenMP threads that spin while they wait make training 10-20 times slower on cores shared with
# other work (measured on 2 cores; see the README). Unless the user chose a policy, wait
# passively; OpenMP reads this when torch loads, so it only takes effect if torch is not loaded yet.
OMP_WAIT_POLICY = _os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE") if "torch" not in _sys.modules else (
    _os.environ.get("OMP_WAIT_POLICY") or "runtime default (torch was imported before bngan)")

from .install import check_torch_pair  # noqa: E402

check_torch_pair()  # a mismatched torch/torchvision pair fails here, in one line, not mid-run

from . import (config, data, experiments, histories, metrics, models, norms, plots, profiles,  # noqa: E402
               runs, spectra, stats, tables, train)
from .config import ExperimentConfig  # noqa: E402
from .experiments import run_experiment, run_series  # noqa: E402
from .provenance import provenance  # noqa: E402
from .stats import compare  # noqa: E402
from .train import train_run  # noqa: E402

__all__ = ["ExperimentConfig", "compare", "config", "data", "experiments", "histories", "metrics", "models", "norms",
           "plots", "profiles", "provenance", "run_experiment", "run_series", "runs", "spectra", "stats", "tables",
           "train", "train_run"]
