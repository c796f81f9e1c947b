"""Pytest set-up for the whole repository (unit tests and `pytest --nbmake book`).

Selects the `smoke` profile unless BNGAN_PROFILE is already set, so every test and every
notebook run under pytest uses tiny offline data and a few steps. Runs go to a fresh
temporary folder (BNGAN_RUNS) for the whole test session, so a notebook test always trains
instead of loading runs cached by an earlier session, and nothing is written into the
repository. Notebooks executed by nbmake run in a kernel started by this process, so they
inherit these variables.
"""

import os
import shutil
import tempfile

os.environ.setdefault("BNGAN_PROFILE", "smoke")
os.environ.setdefault("MPLBACKEND", "Agg")

_RUNS = None


def pytest_configure(config):
    global _RUNS
    if "BNGAN_RUNS" not in os.environ:
        _RUNS = tempfile.mkdtemp(prefix="bngan-test-runs-")
        os.environ["BNGAN_RUNS"] = _RUNS


def pytest_unconfigure(config):
    if _RUNS is not None:
        shutil.rmtree(_RUNS, ignore_errors=True)
        os.environ.pop("BNGAN_RUNS", None)
