"""Every script in benchmarks/ runs to its end for a step or two, so a change to the library
that breaks one (a module moved, a name gone) fails here rather than the next time someone
measures. Each script is a subprocess on the bngan these tests import; slow: about a minute
in all on 2 cores, most of it starting torch eight times."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import bngan

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

# The smallest arguments that still run each script's whole path, its closing summary included.
ARGUMENTS = {
    "book_times.py": ["--out", "times.jsonl", "--interval", "0.5", "--", sys.executable, "-c", "pass"],
    "cache_check.py": ["--runs", "2", "--rounds", "1"],
    "cpu_step.py": ["--ids", "7", "--steps", "1", "--variants", "eager"],
    "engine.py": ["--device", "cpu", "--models", "toy", "--groups", "2", "--steps", "1"],
    "quick_runs.py": ["--profile", "smoke", "--ids", "1", "--steps", "2", "--threads", "1"],
    "ray_sweep.py": ["--profile", "smoke", "--ids", "1", "--cpus", "1"],
    "step_ab.py": ["--against", "HEAD", "--rounds", "1", "--steps", "1", "--models", "blindspot:bn"],
    "step_speed.py": ["--device", "cpu", "--image-size", "16", "--steps", "1", "--ids", "2"],
    "workers.py": ["--profile", "smoke", "--ids", "1", "--workers", "1", "--steps", "2"],
}
NEEDS = {"ray_sweep.py": "ray"}


def test_every_benchmark_script_has_its_smoke_arguments():
    assert sorted(p.name for p in BENCHMARKS.glob("*.py")) == sorted(ARGUMENTS)


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(ARGUMENTS))
def test_a_benchmark_script_runs_to_its_end(script, tmp_path):
    if script in NEEDS and importlib.util.find_spec(NEEDS[script]) is None:
        pytest.skip(f"needs the {NEEDS[script]} extra")
    if script == "step_ab.py" and subprocess.run(["git", "-C", str(BENCHMARKS), "rev-parse", "HEAD"],
                                                 capture_output=True).returncode:
        pytest.skip("step_ab.py compares with a git revision; this is not a git checkout")
    src = str(Path(bngan.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]),
           "BNGAN_RUNS": str(tmp_path / "runs"), "BNGAN_PROFILE": "smoke", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), *ARGUMENTS[script]], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{script} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert done.stdout.strip(), f"{script} printed nothing"
