"""A torch/torchvision pair from two builds fails on import of bngan, in one line that names
both versions and the command that fixes it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bngan import install


def test_the_installed_pair_passes():
    install.check_torch_pair()


@pytest.mark.slow
def test_a_broken_torchvision_stops_import_bngan_with_one_line(tmp_path: Path):
    fake = tmp_path / "torchvision"
    fake.mkdir()
    (fake / "__init__.py").write_text("__version__ = '0.99.0'\nraise RuntimeError('operator torchvision::nms does not exist')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", "import bngan"], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("bngan.install.TorchPairError: torch ")
    assert "operator torchvision::nms does not exist" in last and "pip install --force-reinstall torch torchvision" in last
