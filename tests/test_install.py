"""A torch/torchvision pair from two builds stops bngan before anything runs (the first use of
a name of ``bngan``, any import of a module that loads data, ``python -m bngan.install``), in
one line that names both versions and the command that fixes it; ``import bngan`` alone loads
no torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bngan import install


def test_the_installed_pair_passes():
    install.check_torch_pair()


def broken_torchvision(tmp_path: Path) -> dict[str, str]:
    """An environment whose torchvision fails as a mismatched build does."""
    fake = tmp_path / "torchvision"
    fake.mkdir()
    (fake / "__init__.py").write_text("__version__ = '0.99.0'\nraise RuntimeError('operator torchvision::nms does not exist')\n")
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))


@pytest.mark.slow
@pytest.mark.parametrize("code", ["import bngan; bngan.run_experiment", "from bngan import experiments",
                                  "import bngan.data", "import bngan.train"])
def test_a_broken_torchvision_stops_bngan_with_one_line_before_anything_runs(tmp_path: Path, code: str):
    result = subprocess.run([sys.executable, "-c", code], env=broken_torchvision(tmp_path), capture_output=True, text=True)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("bngan.install.TorchPairError: torch ")
    assert "operator torchvision::nms does not exist" in last and "pip install --force-reinstall torch torchvision" in last


@pytest.mark.slow
def test_python_m_bngan_install_checks_the_pair_alone(tmp_path: Path):
    command = [sys.executable, "-m", "bngan.install"]
    good = subprocess.run(command, capture_output=True, text=True)
    assert good.returncode == 0 and good.stdout.startswith("torch ") and "work together" in good.stdout
    bad = subprocess.run(command, env=broken_torchvision(tmp_path), capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.startswith("bngan: error: torch ") and bad.stderr.count("\n") == 1
