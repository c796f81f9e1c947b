"""Pytest set-up for the whole repository (unit tests and `pytest --nbmake book`).

Selects the `smoke` profile unless BNGAN_PROFILE is already set, so every test and every
notebook run under pytest uses tiny offline data and a few steps. Runs go to a fresh
temporary folder (BNGAN_RUNS) for the whole test session, so a notebook test always trains
instead of loading runs cached by an earlier session, and nothing is written into the
repository or the user's run cache (whose default, without BNGAN_RUNS, is runs/ inside the
dataset cache: ~/.cache/bngan/runs); the dataset cache (BNGAN_DATA, where the quality classifiers are cached) is a
temporary folder too, so the user's cache is never touched. The committed results (BNGAN_RESULTS, the repository's
results/ otherwise) are an empty temporary folder, so no test reads or writes them unless it points there on purpose.
Sweeps train in this process (BNGAN_WORKERS=1) unless a test asks for workers. Notebooks executed by nbmake run in a
kernel started by this process, so they inherit these variables.
"""

import os
import shutil
import tempfile

os.environ.setdefault("BNGAN_PROFILE", "smoke")
# What `import bngan` does for a user, done here because tests/conftest.py loads torch before any
# test imports bngan: OpenMP threads wait passively unless the caller chose otherwise. Spinning
# threads on cores shared with other work made the two-thread Fashion-MNIST classifier test take
# 503 s (235 s of CPU) at a mean load of 7.0, against 113 s (57 s of CPU) at 5.9 with
# passive waiting, on 2 cores (benchmarks/book_times.py, 2026-12-07; issue 48).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("BNGAN_WORKERS", "1")

_MADE: dict[str, str] = {}
_KEPT: dict[str, str | None] = {}


def pytest_configure(config):
    for variable, prefix in (("BNGAN_RUNS", "bngan-test-runs-"), ("BNGAN_DATA", "bngan-test-data-")):
        if variable not in os.environ:
            _MADE[variable] = os.environ[variable] = tempfile.mkdtemp(prefix=prefix)
    # always, even where the shell sets it: no test reads the committed results by accident
    _KEPT["BNGAN_RESULTS"] = os.environ.get("BNGAN_RESULTS")
    _MADE["BNGAN_RESULTS"] = os.environ["BNGAN_RESULTS"] = tempfile.mkdtemp(prefix="bngan-test-results-")


def pytest_unconfigure(config):
    for variable, path in _MADE.items():
        shutil.rmtree(path, ignore_errors=True)
        os.environ.pop(variable, None)
        if _KEPT.get(variable) is not None:
            os.environ[variable] = _KEPT[variable]
    _MADE.clear()
    _KEPT.clear()
