"""benchmarks/book_times.py: each measurement is recorded with the load it ran under, and the
summary gives per command the range of times with their loads."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "book_times.py"


@pytest.fixture(scope="module")
def book_times():
    spec = importlib.util.spec_from_file_location("book_times", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["book_times"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("book_times", None)


def test_a_command_is_recorded_with_its_times_load_and_machine(book_times, tmp_path, capsys):
    out = tmp_path / "times.jsonl"
    assert book_times.main(["--out", str(out), "--label", "nothing", "--interval", "0.05", "--",
                            sys.executable, "-c", "import time; sum(range(10**6)); time.sleep(0.2)"]) == 0
    record, = book_times.read(out)
    assert record["label"] == "nothing" and record["command"].endswith("time.sleep(0.2)'")
    assert record["exit_code"] == 0 and record["timed_out"] is False
    assert 0.2 <= record["wall_s"] < 30 and 0 < record["cpu_s"] < 30  # the child's CPU, not this process's
    for key in ("load_start", "load_end"):
        assert len(record[key]) == 3 and all(x >= 0 for x in record[key])
    assert record["load_mean"] >= 0 and record["load_samples"] >= 3  # start, samples in the run, end
    assert record["nice"] >= 0 and record["cores"] >= 1 and record["cores_usable"] >= 1 and record["processor"]
    assert record["torch"] and record["python"] and record["date"][:2] == "20"
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert printed.startswith("nothing: ") and " s wall, " in printed and "load " in printed and "exit 0" in printed


def test_a_failing_or_stopped_command_is_recorded_as_such(book_times, tmp_path):
    out = tmp_path / "times.jsonl"
    assert book_times.main(["--out", str(out), "--", sys.executable, "-c", "raise SystemExit(3)"]) == 3
    assert book_times.main(["--out", str(out), "--timeout", "0.5", "--", sys.executable, "-c",
                            "import time; time.sleep(60)"]) == 124
    failed, stopped = book_times.read(out)
    assert failed["exit_code"] == 3 and not failed["timed_out"]
    assert stopped["timed_out"] and stopped["exit_code"] is None and stopped["wall_s"] < 30


def test_the_summary_gives_each_commands_range_with_its_loads(book_times, tmp_path, capsys):
    out = tmp_path / "times.jsonl"
    base = {"cpu_s": 1.0, "exit_code": 0, "timed_out": False, "load_start": [1, 1, 1], "load_end": [1, 1, 1],
            "load_max": 1, "load_samples": 2, "nice": 0, "cores": 2, "cores_usable": 2, "processor": "AMD EPYC",
            "torch": "2.0", "bngan": "0", "commit": None, "python": "3.11", "env": {}}
    records = [{**base, "label": "tests", "command": "pytest", "wall_s": 378.0, "load_mean": 2.1,
                "date": "2026-12-05T10:00:00+00:00"},
               {**base, "label": "bngan --help", "command": "bngan --help", "wall_s": 0.4, "load_mean": 2.0,
                "date": "2026-12-07T10:00:00+00:00"},
               {**base, "label": "tests", "command": "pytest", "wall_s": 2880.0, "load_mean": 9.5,
                "date": "2026-12-07T10:00:00+00:00"}]
    out.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert book_times.main(["--summary", "--out", str(out)]) == 0
    table = capsys.readouterr().out.strip().splitlines()
    assert table[0].startswith("| command | runs | fastest (mean load) | slowest (mean load) |")
    tests, = [row for row in table if row.startswith("| `tests`")]
    assert "| 2 |" in tests and "378 s (2.1)" in tests and "48 min (9.5)" in tests and "2.1-9.5" in tests
    assert "2026-12-05 to 2026-12-07" in tests
    assert sum(row.startswith("| `bngan --help`") for row in table) == 1 and len(table) == 4


def test_presets_name_the_readme_commands(book_times):
    (label, command, _), = book_times.presets("tests")
    assert command[1:] == book_times.README_TESTS[1:]
    readme = (SCRIPT.parents[1] / "README.md").read_text()
    assert " ".join(book_times.README_TESTS) in readme  # the preset is the command the README states
    assert [label for label, _, _ in book_times.presets("cli")] == ["bngan --help", "bngan list"]
    (_, command, env), = book_times.presets("table2", "table2:3")
    assert "table2:3" in command and command[command.index("--root") + 1] == env["BNGAN_BOOK_TIMES_TEMP"]
    Path(env["BNGAN_BOOK_TIMES_TEMP"]).rmdir()
    with pytest.raises(SystemExit):
        book_times.presets("everything")
