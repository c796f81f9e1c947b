"""Pytest set-up for the whole repository (unit tests and `pytest --nbmake book`).

Selects the `smoke` profile unless BNGAN_PROFILE is already set, so every test and every
notebook run under pytest uses tiny offline data and a few steps. Notebooks executed by
nbmake run in a kernel started by this process, so they inherit the variable.
"""

import os

os.environ.setdefault("BNGAN_PROFILE", "smoke")
# Runs and datasets made under pytest never touch the user's cache.
os.environ.setdefault("MPLBACKEND", "Agg")
