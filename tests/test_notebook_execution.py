"""`pytest --nbmake` executes the library in every notebook: the repository's conftest points
the runs folder and the dataset cache at fresh temporary folders, so a notebook trains at
`smoke` instead of loading a cached run, and a library function that raises fails the test.

Each case runs nbmake in a subprocess on a one-cell notebook, with HOME holding a run cache
that already has the run (what a reader's machine, or `book/runs`, would have).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # each case starts pytest and a kernel in a subprocess

CELL = """\
import os
import bngan
from bngan.experiments import run_experiment
runs = run_experiment("blindspot:no-bn", seeds=[0], progress=False)
assert runs.runs[0].origin == "trained", runs.runs[0].origin
print(os.environ["BNGAN_RUNS"])
expected = os.environ["EXPECTED_BNGAN"]
assert bngan.__file__.startswith(expected), f"the kernel imported {bngan.__file__}, not the checkout {expected}"
"""

RAISE_IN_D_UPDATE = """\
import bngan.routine

def broken(*args, **kwargs):
    raise RuntimeError("d_update broken on purpose")

bngan.routine.d_update = broken
"""


def notebook(path: Path) -> Path:
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": CELL}
    nb = {"cells": [cell], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                       "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))
    return path


def run_nbmake(tmp_path: Path, *, broken: bool) -> subprocess.CompletedProcess:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("BNGAN_RUNS", "BNGAN_DATA", "XDG_CACHE_HOME")}
    # the checkout's src/ first, so the kernel imports the code under test even where another copy
    # of bngan is installed (an editable install elsewhere); the root for the repository's conftest
    checkout = f"{REPO / 'src'}{os.pathsep}{REPO}"
    env.update(HOME=str(home), BNGAN_PROFILE="smoke", PYTHONPATH=checkout, EXPECTED_BNGAN=str(REPO / "src"))
    if broken:  # sitecustomize runs in every Python the test starts, the notebook's kernel included
        patch = tmp_path / "patch"
        patch.mkdir(exist_ok=True)
        (patch / "sitecustomize.py").write_text(RAISE_IN_D_UPDATE)
        env["PYTHONPATH"] = f"{patch}{os.pathsep}{checkout}"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "conftest", "-p", "no:cacheprovider",
                           "--nbmake", str(notebook(tmp_path / "chapter.ipynb"))],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture()
def cached_at_home(tmp_path: Path) -> Path:
    """The run the notebook asks for, already in the default cache under HOME."""
    from bngan.experiments import run_experiment

    cache = tmp_path / "home" / ".cache" / "bngan" / "runs"
    run_experiment("blindspot:no-bn", profile="smoke", seeds=[0], root=cache, progress=False)
    return cache


def test_a_notebook_trains_into_a_temporary_folder_though_the_run_is_cached(tmp_path, cached_at_home):
    result = run_nbmake(tmp_path, broken=False)
    assert result.returncode == 0, result.stdout[-2000:]
    before = {p.name for p in cached_at_home.iterdir()}
    assert before and {p.name for p in cached_at_home.iterdir()} == before


def test_a_library_function_that_raises_fails_the_notebook_test(tmp_path, cached_at_home):
    result = run_nbmake(tmp_path, broken=True)
    assert result.returncode != 0
    assert "d_update broken on purpose" in result.stdout
