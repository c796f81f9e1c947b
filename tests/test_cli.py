"""The command line: `bngan list`, `run` (its options reach the code) and `show`, and one
error line with exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bngan import cli, experiments


def test_list_aligns_names_and_tells_table2_12_to_14_apart(capsys):
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.startswith("  ")]
    experiment_rows = rows[: len(experiments.EXPERIMENTS)]
    starts = {len(line) - len(line[2:].split("  ", 1)[1].lstrip()) for line in experiment_rows}
    assert len(starts) == 1  # every description starts in the same column
    described = {line.split()[0]: line for line in experiment_rows}
    assert len({described[f"table2:{i}"].split(None, 1)[1] for i in (12, 13, 14)}) == 3


def test_run_passes_its_options_to_the_experiment(monkeypatch, tmp_path, capsys):
    seen = {}

    def fake_run_experiment(name, **kwargs):
        seen.update(kwargs, name=name)
        return []

    monkeypatch.setattr(experiments, "run_experiment", fake_run_experiment)
    code = cli.main(["run", "table2:3", "--profile", "smoke", "--seeds", "4", "5", "--root", str(tmp_path),
                     "--device", "cpu"])
    assert code == 0
    assert seen["name"] == "table2:3" and seen["seeds"] == [4, 5] and seen["root"] == str(tmp_path)
    assert seen["device"] == "cpu" and seen["profile"].name == "smoke"


def test_run_and_show_a_tiny_run(tmp_path, capsys):
    assert cli.main(["run", "blindspot:no-bn", "--profile", "smoke", "--seeds", "0", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert str(run_dir) in out and "status=complete" in out
    figure = tmp_path / "summary.png"
    assert cli.main(["show", str(run_dir), "--save", str(figure)]) == 0
    assert figure.stat().st_size > 1000 and "blindspot:no-bn" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["run", "table2:99", "--profile", "smoke"], "unknown experiment"),
    (["run", "table2:1", "--profile", "smoke", "--seeds", "-1"], "seeds must be"),
    (["show", "/no/such/run"], "no run record"),
])
def test_errors_are_one_line_with_exit_code_2(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("bngan: error:") and message in err


def test_the_installed_command_exits_2_without_a_traceback():
    result = subprocess.run([sys.executable, "-m", "bngan.cli", "run", "table2:99"], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "unknown experiment" in result.stderr
