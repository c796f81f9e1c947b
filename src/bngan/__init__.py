"""bngan: build, train, measure and plot DCGANs to study batch normalization in GANs."""

__version__ = "0.1.0"

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
