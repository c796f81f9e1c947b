"""Recorded run results: the numbers of every run the verdicts read, committed to the
repository, so the ledger can be read without the runs (hours of training) and a reader can see
which machine made each number.

``results/quick.jsonl`` and ``results/larger.jsonl`` (the scale check's budget,
:func:`bngan.evidence.plan.larger` of ``quick``) hold one JSON object per run and per line, sorted by
experiment, seed and config hash so a re-export changes only the lines of runs that changed:

- ``experiment``, ``hash`` (the config hash), ``seed``, ``profile`` (the budget's profile name),
  ``status`` (``complete`` or ``diverged``), ``steps_done``, ``diverged_at``;
- ``metrics``: the run's final metrics, all of them (``run.metrics``); ``derived``: the values
  the ledger reads from the history (``final_<column>``, ``first_<column>`` and the numbers of
  :data:`bngan.measure.histories.DERIVED`, as :meth:`bngan.runs.runsets.RunSet.values` computes them) for
  every such metric a claim may name; a row exported before a metric was named lacks it, and
  the metric reads as missing (NaN) for that run;
- ``gate_threshold``: the FID a run of this config had to reach to count as learned
  (:func:`bngan.evidence.learning.threshold_for`; ``null`` for toy runs), so reading the results needs
  no dataset, and ``gate_reference``, the rule it was computed by
  (:data:`bngan.evidence.learning.LEARNED_REFERENCE`): a threshold recorded under another rule is not
  used;
- where and how it was trained: ``bngan`` and ``torch`` versions, torch ``threads``,
  ``processor``, ``device``, ``elapsed_s`` and ``trained_at`` (UTC).

A value that is not finite is stored as ``null`` and read back as NaN. :func:`export` writes
the finished runs of the ledger's plan from the run cache into the file (``bngan results
export``); :func:`recorded` reads it back as :class:`RecordedRun` s, which a
:class:`bngan.runs.runsets.RunSet` holds like runs. A row is checked on load: its keys and their
types, its profile, and its config hash against the experiment as this checkout builds it (an
engine change moves every hash); a row that fails is named on one line (file and line number)
and skipped. The folder is the repository's ``results/`` (next to ``src/``), or
``$BNGAN_RESULTS``.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import ExperimentConfig
from ..profiles import PROFILES, Profile
from ..catalog.registry import config_at
from ..measure.histories import DERIVED, derived
from ..runs.folders import FINISHED, Run, RunDir
from ..runs.train import cached_run
from .claims import CLAIMS, METRICS, Agreement, Claim
from .learning import LEARNED_REFERENCE, threshold_for
from .plan import BUDGETS, budget_name, budget_profile, plan

RESULTS_ENV = "BNGAN_RESULTS"
#: Two records of one run disagree when a headline metric (:data:`COMPARED`) differs by more than
#: this, relatively.
AGREE = 1e-9
#: The metrics compared between a cached run and its recorded row: an image run's FID and
#: reconstruction error, a toy run's MMD.
COMPARED = ("fid", "recon_mse", "mmd")
#: Bad rows named one by one before the rest are counted in one line.
SHOWN_ERRORS = 5

# Every key a row must have, with the types its value may take.
REQUIRED: dict[str, tuple[type, ...]] = {
    "experiment": (str,), "hash": (str,), "seed": (int,), "profile": (str,), "status": (str,),
    "steps_done": (int,), "metrics": (dict,), "derived": (dict,), "bngan": (str,), "torch": (str,),
    "threads": (int, type(None)), "processor": (str,), "trained_at": (str,),
}
OPTIONAL: dict[str, tuple[type, ...]] = {
    "diverged_at": (int, type(None)), "gate_threshold": (int, float, type(None)), "gate_reference": (str,),
    "elapsed_s": (int, float, type(None)), "device": (str, type(None)),
}


def results_dir() -> Path:
    """``$BNGAN_RESULTS``, else the repository's ``results/`` (beside ``src/`` of an editable
    install; a folder that may not exist)."""
    given = os.environ.get(RESULTS_ENV, "").strip()
    if given:
        return Path(given).expanduser()
    import bngan

    return Path(bngan.__file__).resolve().parents[2] / "results"


def results_file(budget: str | Profile, folder: str | os.PathLike[str] | None = None) -> Path:
    """The results file of a budget (``quick``, ``larger``, or any profile: ``smoke.jsonl`` for
    the tests) in ``folder`` (default :func:`results_dir`)."""
    name = budget_name(budget_profile(budget))
    return (Path(folder) if folder is not None else results_dir()) / f"{name}.jsonl"


@dataclass
class RecordedRun:
    """A run read from the committed results: what a :class:`bngan.runs.runsets.RunSet` and the
    learning gate read of a :class:`bngan.runs.folders.Run` (seed, status, metrics with the derived
    history values among them), without its history, samples or weights."""

    experiment: str
    config: ExperimentConfig
    seed: int
    status: str
    steps_done: int
    metrics: dict[str, float]
    row: dict[str, Any] = field(repr=False)
    where: str = field(default="", repr=False)  # file:line
    origin: str = field(default="recorded", repr=False)
    history: dict = field(default_factory=dict, repr=False)
    path: None = field(default=None, repr=False)
    resumed_at: None = field(default=None, repr=False)

    @property
    def diverged_at(self) -> int | None:
        return self.row.get("diverged_at")

    @property
    def gate_threshold(self) -> float | None:
        """The recorded gate threshold, if it was computed by the gate's current rule."""
        if self.row.get("gate_reference") != LEARNED_REFERENCE:
            return None
        return self.row.get("gate_threshold")

    @property
    def record(self) -> dict[str, Any]:
        """The parts of a run's ``record.json`` the row keeps."""
        return {"elapsed_s": self.row.get("elapsed_s"), "threads": self.row.get("threads"),
                "device": self.row.get("device"), "trained_at": self.row.get("trained_at"),
                "versions": {"bngan": self.row["bngan"], "torch": self.row["torch"], "cpu": self.row["processor"]}}

    def summary(self) -> str:
        shown = ", ".join(f"{k}={v:.4g}" for k, v in sorted(self.metrics.items()) if isinstance(v, float))
        return (f"{self.config.name} seed={self.seed} status={self.status} steps={self.steps_done} "
                f"(recorded, {self.where}) | {shown}")


# --------------------------------------------------------------------------- rows


def derived_names(claims: Iterable[Claim] = CLAIMS) -> list[str]:
    """The history-derived metrics a claim may name (``final_<column>``, ``first_<column>`` and
    the numbers of :data:`bngan.measure.histories.DERIVED`): every such key of
    :data:`bngan.evidence.claims.METRICS` and of the checks of ``claims``."""
    names = set(METRICS)
    for claim in claims:
        for check in claim.checks:
            names.update((check.metric, check.reference) if isinstance(check, Agreement) else (check.metric,))
    return sorted(n for n in names if n.startswith(("final_", "first_")) or n in DERIVED)


def _number(value: Any) -> Any:
    """A metric as JSON keeps it: a finite float or int, ``None`` for NaN and infinities,
    lists element by element."""
    if isinstance(value, (list, tuple)):
        return [_number(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return value if math.isfinite(value) else None


def _from_json(value: Any) -> Any:
    if value is None:
        return math.nan
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def row_for(run: Run, experiment: str, profile: Profile, *, names: Sequence[str] = (),
            gate_threshold: float | None = None) -> dict[str, Any]:
    """``run``'s row: its final metrics, the history-derived ``names`` it does not record
    itself, and where, when and how it was trained (from its ``record.json``; a record from
    before ``trained_at`` existed gives the record file's time)."""
    record, versions = run.record, run.record.get("versions", {})
    derived_values = {}
    for name in names:
        if name in run.metrics:
            continue
        if name in DERIVED:
            value = derived(run, name)
            if math.isfinite(value):
                derived_values[name] = value
            continue
        for prefix, reduce in (("final_", Run.final), ("first_", Run.first)):
            column = name.removeprefix(prefix)
            if name.startswith(prefix) and column in run.history and len(run.history[column]):
                derived_values[name] = _number(reduce(run, column))
    device = record.get("device")
    on_gpu = isinstance(device, str) and device.startswith("cuda")
    threads = record.get("threads", versions.get("threads"))
    trained_at = record.get("trained_at") or time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(RunDir(Path(run.path)).record_file.stat().st_mtime))
    return {
        "experiment": experiment, "hash": run.config.hash(), "seed": int(run.seed), "profile": profile.name,
        "status": run.status, "steps_done": int(run.steps_done), "diverged_at": run.diverged_at,
        "metrics": {k: _number(v) for k, v in run.metrics.items()}, "derived": derived_values,
        "gate_threshold": _number(gate_threshold), "gate_reference": LEARNED_REFERENCE,
        "bngan": str(versions.get("bngan", "unknown")), "torch": str(versions.get("torch", "unknown")),
        "threads": int(threads) if threads is not None else None,
        "processor": str(device if on_gpu else versions.get("cpu") or device or "unknown"),
        "device": device, "elapsed_s": _number(record.get("elapsed_s")), "trained_at": str(trained_at),
    }


def _key(row: Mapping[str, Any]) -> tuple:
    return row["experiment"], row["seed"], row["hash"]


def write(rows: Iterable[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write ``rows`` to ``path``, one compact JSON object per line with sorted keys, sorted by
    experiment, seed and hash (so two exports differ only where runs do); atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(row, sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n"
                   for row in sorted(rows, key=_key))
    partial = path.with_name(f".{path.name}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    return path


# --------------------------------------------------------------------------- reading


def check_row(row: Any, profile: Profile, configs: dict[str, ExperimentConfig]) -> str | None:
    """Why ``row`` cannot be used at ``profile`` (``None``: it can): a missing key or a value of
    the wrong type, another profile, or a config hash this checkout does not build for the
    row's experiment. ``configs`` keeps each experiment's config between rows."""
    if not isinstance(row, dict):
        return "not a JSON object"
    for key, types in REQUIRED.items():
        if key not in row:
            return f"no {key!r}"
    for key, types in {**REQUIRED, **OPTIONAL}.items():
        value = row.get(key)
        if key in row and (not isinstance(value, types) or (isinstance(value, bool) and bool not in types)):
            return f"{key!r} must be {' or '.join('null' if t is type(None) else t.__name__ for t in types)}; got {value!r}"
    if row["seed"] < 0:
        return f"'seed' must be a non-negative integer; got {row['seed']!r}"
    if row["status"] not in FINISHED:
        return f"'status' must be one of {', '.join(FINISHED)}; got {row['status']!r}"
    for part in ("metrics", "derived"):
        bad = [k for k, v in row[part].items() if not _is_number(v)]
        if bad:
            return f"{part} {bad[0]!r} must be a number, null or a list of them; got {row[part][bad[0]]!r}"
    if row["profile"] != profile.name:
        return f"profile {row['profile']!r} is not this file's {profile.name!r}"
    name = row["experiment"]
    if name not in configs:
        try:
            configs[name] = config_at(name, profile)
        except ValueError as err:  # an unknown name: its message's first part, not the list of known ones
            return str(err).split(";")[0]
    if configs[name].hash() != row["hash"]:
        return (f"config hash {row['hash']} is not {name}'s at {profile.name} in this checkout "
                f"({configs[name].hash()}): re-export it (`bngan results export`)")
    return None


def _is_number(value: Any) -> bool:
    if isinstance(value, list):
        return all(_is_number(v) for v in value)
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def read(path: str | os.PathLike[str], profile: Profile) -> tuple[dict[tuple[str, int], RecordedRun], list[str]]:
    """The usable rows of ``path`` at ``profile`` by (config hash, seed), and one line per row
    that is not (``path:line: why; skipped``)."""
    path = Path(path)
    found: dict[tuple[str, int], RecordedRun] = {}
    problems: list[str] = []
    configs: dict[str, ExperimentConfig] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as err:
            problems.append(f"{path}:{number}: not JSON ({err}); skipped")
            continue
        why = check_row(row, profile, configs)
        if why is not None:
            problems.append(f"{path}:{number}: {why}; skipped")
            continue
        metrics = {k: _from_json(v) for k, v in {**row["derived"], **row["metrics"]}.items()}
        found[(row["hash"], row["seed"])] = RecordedRun(
            row["experiment"], configs[row["experiment"]], row["seed"], row["status"], row["steps_done"], metrics,
            row, where=f"{path.name}:{number}")
    return found, problems


_READ: dict[tuple, dict[tuple[str, int], RecordedRun]] = {}


def recorded(profile: Profile, folder: str | os.PathLike[str] | None = None) -> dict[tuple[str, int], RecordedRun]:
    """The recorded runs of ``profile`` (its results file, :func:`results_file`) by (config
    hash, seed): empty where there is no file (the repository commits ``quick`` and
    ``larger``). Read once per file version; the rows that cannot be used are named on stderr
    then (at most :data:`SHOWN_ERRORS` of them, and how many more)."""
    path = results_file(profile, folder)
    try:
        stat = path.stat()
    except FileNotFoundError:
        return {}
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, profile)
    if key not in _READ:
        found, problems = read(path, profile)
        for line in problems[:SHOWN_ERRORS]:
            print(line, file=sys.stderr)
        if len(problems) > SHOWN_ERRORS:
            print(f"{path}: {len(problems) - SHOWN_ERRORS} more rows skipped", file=sys.stderr)
        _READ[key] = found
    return _READ[key]


def recorded_threshold(results) -> float | None:
    """The learning gate's threshold recorded with a run set's recorded runs, if any."""
    for run in results:
        value = getattr(run, "gate_threshold", None)
        if isinstance(value, (int, float)) and math.isfinite(value):
            return float(value)
    return None


_SAID: set[tuple[str, int]] = set()


def disagreement(cached: Run, row: RecordedRun) -> str | None:
    """A line naming both machines when the cached run and its recorded row differ in a metric
    of :data:`COMPARED` by more than :data:`AGREE` relatively, or in status (``None`` when they
    agree)."""
    differ = []
    for metric in COMPARED:
        a, b = cached.metrics.get(metric), row.metrics.get(metric)
        if a is None and b is None:
            continue
        a = math.nan if a is None else float(a)
        b = math.nan if b is None else float(b)
        if math.isnan(a) and math.isnan(b):
            continue
        if not (math.isfinite(a) and math.isfinite(b)) or abs(a - b) > AGREE * max(abs(a), abs(b)):
            differ.append(f"{metric} {a:.6g} vs {b:.6g}")
    if cached.status != row.status:
        differ.append(f"status {cached.status} vs {row.status}")
    if not differ:
        return None
    record = cached.record
    here = f"{record.get('versions', {}).get('cpu') or record.get('device')}, {record.get('threads')} threads"
    there = f"{row.row['processor']}, {row.row['threads']} threads"
    return (f"{row.experiment} seed {row.seed}: the cached run ({here}) and the recorded one ({row.where}: {there}) "
            f"differ ({'; '.join(differ)}); the cached run is used")


def say_disagreement(cached: Run, row: RecordedRun) -> None:
    """Print :func:`disagreement` on stderr, once per run and process."""
    key = (row.row["hash"], row.seed)
    if key in _SAID:
        return
    line = disagreement(cached, row)
    if line is not None:
        _SAID.add(key)
        print(line, file=sys.stderr)


# --------------------------------------------------------------------------- what is missing


@dataclass(frozen=True)
class Lacking:
    """An experiment's seeds that neither the run cache nor the committed results hold, and the
    seconds its finished runs took (from their records), for an estimate of the rest."""

    config: ExperimentConfig
    seeds: tuple[int, ...]
    seconds: tuple[float, ...] = ()


def lacking(planned: Mapping[str, tuple[ExperimentConfig, Sequence[int]]], profile: Profile, root=None,
            folder: str | os.PathLike[str] | None = None) -> dict[str, Lacking]:
    """Each planned experiment (``{name: (config, seeds)}``, :func:`bngan.evidence.plan.plan`) with the
    seeds neither the run cache (``root``) nor the committed results of ``profile`` hold;
    experiments lacking none are left out. Nothing is trained or written."""
    book = recorded(profile, folder)
    found = {}
    for name, (config, seeds) in planned.items():
        missing, seconds = [], []
        for seed in seeds:
            run = book.get((config.hash(), seed)) or cached_run(config, seed, root)
            if run is None:
                missing.append(seed)
            elif isinstance(run.record.get("elapsed_s"), (int, float)):
                seconds.append(float(run.record["elapsed_s"]))
        if missing:
            found[name] = Lacking(config, tuple(missing), tuple(seconds))
    return found


#: A run's time where no run of its experiment has finished, by profile: about what a Table II
#: run took on 2 cores (``smoke`` a few seconds, ``quick`` 4-73 s), and a guess at ``full`` on a
#: GPU. A larger budget scales it by its steps and the square of its widths.
GUESS_SECONDS = {"smoke": 3.0, "quick": 30.0, "full": 600.0}


def guess_seconds(profile: Profile) -> float:
    """:data:`GUESS_SECONDS` for ``profile``, scaled from the profile it was made from (by name:
    ``quick x4 steps x2 width`` is ``quick`` at 4 times the steps and twice the widths)."""
    base = PROFILES.get(profile.name.split()[0])
    if base is None:
        return GUESS_SECONDS["quick"]
    return GUESS_SECONDS[base.name] * (profile.steps / base.steps) * (profile.width_scale / base.width_scale) ** 2


def estimate(missing: Mapping[str, Lacking], profile: Profile, workers: int = 1) -> tuple[int, float, str]:
    """How many runs ``missing`` holds (a run of names that share a config counted once) and
    about how long training them takes on ``workers`` workers: each as long as its
    experiment's finished runs took on average, else :func:`guess_seconds`; the total shared
    out over the workers. Also says how it was estimated."""
    runs, total, guessed = 0, 0.0, 0
    seen: set[tuple[str, int]] = set()
    for lack in missing.values():
        seeds = [s for s in lack.seeds if (lack.config.hash(), s) not in seen]
        seen.update((lack.config.hash(), s) for s in seeds)
        runs += len(seeds)
        if lack.seconds:
            total += len(seeds) * sum(lack.seconds) / len(lack.seconds)
        else:
            total += len(seeds) * guess_seconds(profile)
            guessed += len(seeds)
    how = ("from the times of finished runs of the same experiments" if not guessed else
           f"a guess of {_duration(guess_seconds(profile))} per run at {profile.name}"
           + (" where no run of the experiment has finished" if guessed < runs else ""))
    return runs, total / max(1, min(workers, runs)), how


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def training_note(missing: Mapping[str, Lacking], profile: Profile, workers: int) -> str:
    """One line: how many runs are missing and about how long training them would take."""
    runs, seconds, how = estimate(missing, profile, workers)
    return (f"{runs} run(s) at {profile.name} are in neither the run cache nor the committed results; training them "
            f"would take about {_duration(seconds)} on {workers} worker(s) ({how})")


# --------------------------------------------------------------------------- export


def export(claims: Sequence[Claim] = CLAIMS, profile: str | Profile = "quick", root=None,
           path: str | os.PathLike[str] | None = None, *, seeds: Sequence[int] | None = None) -> Path:
    """Write every finished run of the ledger's plan at ``profile`` (the committed budgets
    :data:`bngan.evidence.plan.BUDGETS`, ``quick`` and ``larger``; any profile for a test) in the run
    cache (``root``, default the runs folder) into ``path`` (default :func:`results_file`),
    merged with the rows already there: a row of the same (config hash, seed) is replaced by the
    cache's, a row this checkout cannot use (another config hash after an engine change, a
    broken line) is dropped, and is counted in the one line this prints. Nothing is trained."""
    if isinstance(profile, str) and profile not in BUDGETS:
        try:
            budget_profile(profile)
        except ValueError:
            raise ValueError(f"profile must be one of {', '.join(BUDGETS)}; got {profile!r}") from None
    p = budget_profile(profile)
    target = Path(path) if path is not None else results_file(p)
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    dropped = 0
    if target.exists():
        found, problems = read(target, p)
        rows = {key: run.row for key, run in found.items()}
        dropped = len(problems)
    names = derived_names(claims)
    by_hash: dict[tuple[str, int], tuple[str, ExperimentConfig]] = {}
    for name, (config, chosen) in sorted(plan(claims, p, seeds).items(), reverse=True):
        for seed in chosen:  # of names sharing a config, the first in sorted order names the row
            by_hash[(config.hash(), seed)] = name, config
    fresh = 0
    thresholds: dict[str, float | None] = {}
    for (digest, seed), (name, config) in sorted(by_hash.items(), key=lambda item: (item[1][0], item[0][1])):
        run = cached_run(config, seed, root)
        if run is None:
            continue
        if digest not in thresholds:
            thresholds[digest] = _threshold(config)
        rows[(digest, seed)] = row_for(run, name, p, names=names, gate_threshold=thresholds[digest])
        fresh += 1
    write(rows.values(), target)
    size = target.stat().st_size
    print(f"{target}: {len(rows)} runs at {p.name} ({fresh} from the run cache, {len(rows) - fresh} kept"
          f"{f', {dropped} unusable rows dropped' if dropped else ''}), {size / 1e3:.0f} kB")
    return target


def _threshold(config: ExperimentConfig) -> float | None:
    """The learning gate's threshold for an image config (``None`` for toy data)."""
    return threshold_for(config) if config.data.kind == "image" else None
