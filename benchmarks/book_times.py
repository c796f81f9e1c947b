"""Wall and CPU time of the book's everyday commands, each with the machine's load beside it.

    python benchmarks/book_times.py --preset cli              # bngan --help, bngan list
    python benchmarks/book_times.py --preset tests            # the README's test command
    python benchmarks/book_times.py --preset ci               # bash .ci/run (fresh venv, tests, site)
    python benchmarks/book_times.py --preset table2 [--experiment table2:10]
                                                              # one quick Table II run, one seed,
                                                              # into a temporary runs folder
    python benchmarks/book_times.py [--label NAME] -- python -m pytest -q tests/test_tables.py
    python benchmarks/book_times.py --summary                 # a markdown table of the records

Every measurement appends one JSON line to ``--out`` (default ``benchmarks/book_times.jsonl``)
and prints one line: the command, its wall seconds, the CPU seconds of the command and its
children (``getrusage(RUSAGE_CHILDREN)``: user + system), its exit code, and the load average
(``/proc/loadavg``, one minute) at the start, at the end and its mean over the run (sampled
every ``--interval`` seconds in a thread), with the machine's cores, processor, torch version
and the date, and the niceness it ran at. The load counts the measured command too: a command that keeps 2 threads busy adds
about 2 to it, so on 2 cores a load near 2 means nothing else ran, and a load of 6 means the
command shared its cores with about two other cores' worth of work.

A time on a shared machine depends on that load far more than on anything in the command; quote
a range with its loads (``--summary`` prints them), never one figure. ``--repeat N`` measures N
times. ``--timeout S`` stops the command (its whole process group) after S seconds and records
it as timed out, with the time it had run.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "book_times.jsonl"
README_TESTS = ["python", "-m", "pytest", "--nbmake", "--nbmake-timeout=1200", "tests", "book"]


def _bngan() -> list[str]:
    """The ``bngan`` command as a user runs it: the installed script, else ``python -m bngan.cli``."""
    found = shutil.which("bngan")
    return [found] if found else [sys.executable, "-m", "bngan.cli"]


def presets(name: str, experiment: str = "table2:10") -> list[tuple[str, list[str], dict[str, str]]]:
    """(label, command, extra environment) for each command of a preset. The table2 preset's
    runs folder is a fresh temporary one (``BNGAN_BOOK_TIMES_TEMP`` in its environment names it,
    and it is removed afterwards), so the run always trains; the dataset and the quality
    classifier come from the usual cache, ``BNGAN_DATA``: what is timed is the run."""
    python = sys.executable
    if name == "cli":
        return [("bngan --help", [*_bngan(), "--help"], {}), ("bngan list", [*_bngan(), "list"], {})]
    if name == "tests":
        return [("README test command", [python, *README_TESTS[1:]], {})]
    if name == "ci":
        return [("CI (.ci/run)", ["bash", str(ROOT / ".ci" / "run")], {})]
    if name == "table2":
        runs = tempfile.mkdtemp(prefix="bngan-book-times-runs-")
        return [(f"quick {experiment} run, 1 seed", [*_bngan(), "run", experiment, "--profile", "quick", "--seeds", "0",
                                                     "--root", runs], {"BNGAN_WORKERS": "1", "BNGAN_PROGRESS": "off",
                                                                "BNGAN_BOOK_TIMES_TEMP": runs})]
    raise SystemExit(f"book_times: unknown preset {name!r} (cli, tests, ci, table2)")


def loadavg() -> tuple[float, float, float] | None:
    """The 1, 5 and 15 minute load averages, or None where /proc/loadavg does not exist."""
    try:
        return tuple(float(x) for x in Path("/proc/loadavg").read_text().split()[:3])  # type: ignore[return-value]
    except (OSError, ValueError):
        return None


def processor() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux), else platform's answer."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


class _LoadSampler(threading.Thread):
    """Reads the one-minute load every ``interval`` seconds until stopped."""

    def __init__(self, interval: float) -> None:
        super().__init__(daemon=True)
        self.interval, self.samples, self._stop_event = interval, [], threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            load = loadavg()
            if load is not None:
                self.samples.append(load[0])

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def measure(command: Sequence[str], *, label: str | None = None, env: dict[str, str] | None = None,
            interval: float = 5.0, timeout: float | None = None, cwd: Path | str = ROOT) -> dict:
    """Run ``command`` (its output goes to this process's stdout and stderr) and return its record."""
    command = [str(c) for c in command]
    start_load = loadavg()
    sampler = _LoadSampler(interval)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started, timed_out = time.perf_counter(), False
    sampler.start()
    process = subprocess.Popen(command, cwd=cwd, env={**os.environ, **(env or {})}, start_new_session=True)
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        code = None
    except KeyboardInterrupt:
        os.killpg(process.pid, signal.SIGINT)
        process.wait()
        raise
    finally:
        wall = time.perf_counter() - started
        sampler.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    end_load = loadavg()
    samples = [x for x in ((start_load or (None,))[0], *sampler.samples, (end_load or (None,))[0]) if x is not None]
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    return {
        "label": label or " ".join(shlex.quote(c) for c in command),
        "command": " ".join(shlex.quote(c) for c in command),
        "wall_s": round(wall, 3),
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 3),
        "exit_code": code,
        "timed_out": timed_out,
        "load_start": list(start_load) if start_load else None,
        "load_end": list(end_load) if end_load else None,
        "load_mean": round(sum(samples) / len(samples), 2) if samples else None,
        "load_max": max(samples) if samples else None,
        "load_samples": len(samples),
        "nice": os.nice(0),  # this process's niceness, which the command inherits
        "cores": os.cpu_count(),
        "cores_usable": affinity,
        "processor": processor(),
        "torch": _version("torch"),
        "bngan": _version("bngan"),
        "commit": _commit(),
        "python": platform.python_version(),
        "env": env or {},
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def line(record: dict) -> str:
    """One line for a terminal: what ran, how long, and under what load."""
    end = "timed out" if record["timed_out"] else f"exit {record['exit_code']}"
    load = (f"load {record['load_mean']} (start {record['load_start'][0]}, end {record['load_end'][0]})"
            if record["load_start"] and record["load_end"] else "load unknown")
    return (f"{record['label']}: {record['wall_s']:.2f} s wall, {record['cpu_s']:.2f} s CPU, {end}, {load}, "
            f"{record['cores_usable']} cores ({record['processor']}), torch {record['torch']}, {record['date'][:10]}")


def read(path: Path | str) -> list[dict]:
    """The records in ``path``, oldest first (a missing file has none)."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(text) for text in path.read_text().splitlines() if text.strip()]


def _seconds(s: float) -> str:
    if s < 10:
        return f"{s:.2f} s"
    if s < 600:
        return f"{s:.0f} s"
    return f"{s / 60:.0f} min"


def _span(values: Sequence[float]) -> str:
    if not values:
        return "?"
    return f"{min(values)}" if min(values) == max(values) else f"{min(values)}-{max(values)}"


def summary(records: Sequence[dict]) -> str:
    """A markdown table: per command (label), how many measurements, the fastest and the slowest
    wall time each with its mean load, the CPU seconds, the range of loads, the machines and dates."""
    groups: dict[str, list[dict]] = {}
    for record in records:
        groups.setdefault(record["label"], []).append(record)
    rows = ["| command | runs | fastest (mean load) | slowest (mean load) | CPU | load over the runs | cores, processor | dates |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for label, group in groups.items():
        finished = [r for r in group if not r["timed_out"]]
        fast = min(finished or group, key=lambda r: r["wall_s"])
        slow = max(group, key=lambda r: r["wall_s"])
        loads = [r["load_mean"] for r in group if r["load_mean"] is not None]
        cpu = [r["cpu_s"] for r in finished] or [0.0]
        failed = sum(1 for r in group if r["timed_out"] or r["exit_code"] != 0)
        slowest = _seconds(slow["wall_s"]) + (" (timed out)" if slow["timed_out"] else "")
        machines = sorted({f"{r['cores_usable']}, {r['processor']}" for r in group})
        dates = sorted({r["date"][:10] for r in group})
        rows.append(
            f"| `{label}` | {len(group)}{f' ({failed} failed)' if failed else ''} | {_seconds(fast['wall_s'])} "
            f"({fast['load_mean']}) | {slowest} ({slow['load_mean']}) | "
            f"{_seconds(min(cpu))}{'' if min(cpu) == max(cpu) else ' to ' + _seconds(max(cpu))} | "
            f"{_span(loads)} | {'; '.join(machines)} | "
            f"{dates[0]}{'' if len(dates) == 1 else ' to ' + dates[-1]} |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, command = argv[:at], argv[at + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=("cli", "tests", "ci", "table2"))
    parser.add_argument("--experiment", default="table2:10", help="the table2 preset's experiment")
    parser.add_argument("--label", help="the name a command's records are grouped under (default: the command)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between load samples")
    parser.add_argument("--timeout", type=float, help="stop a command after this many seconds")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON-lines file (appended to)")
    parser.add_argument("--summary", action="store_true", help="print a markdown table of the records in --out")
    args = parser.parse_args(argv)
    if args.summary:
        records = read(args.out)
        print(summary(records) if records else f"no records in {args.out}")
        return 0
    if bool(args.preset) == bool(command):
        parser.error("name a --preset or a command after --, not both")
    jobs = presets(args.preset, args.experiment) if args.preset else [(args.label, command, {})]
    worst = 0
    for _ in range(args.repeat):
        for label, cmd, env in jobs:
            record = measure(cmd, label=label, env=env, interval=args.interval, timeout=args.timeout)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            with open(args.out, "a") as out:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            print(line(record), flush=True)
            if env.get("BNGAN_BOOK_TIMES_TEMP"):
                shutil.rmtree(env["BNGAN_BOOK_TIMES_TEMP"], ignore_errors=True)
            worst = worst or (124 if record["timed_out"] else record["exit_code"] or 0)
    return worst


if __name__ == "__main__":
    sys.exit(main())
