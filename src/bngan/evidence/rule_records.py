"""Recorded rule values: what the rules that read run files (weights, samples) computed, committed
beside the run results, so a checkout without those files reads the same verdicts.

Five claims (4.4, 9.1, 9.3, 9.4, 9.5) are decided by a rule (:mod:`bngan.evidence.rules`) that
opens their runs' weights, which only the run cache holds; the committed results
(:mod:`bngan.evidence.results`) keep each run's numbers, not its weights. Without a record those
claims read *unfinished* on a fresh clone while chapter 10, executed from a full cache, decides
them. ``results/rules-quick.json`` holds, per such claim, the rule's per-seed values and the runs
they were computed from: ``[experiment, config hash, seed]`` for every run the rule read. A
record is used only when that list equals the runs the checkout plans for the claim (same config
hashes, same seeds) and the rule's source is the one that made it (``code``, a digest of the rule
function), so a record made before a change of a config field or of the rule is never read as
if made after; the cache's files, where present, always win. ``bngan results export --rules``
writes it (minutes: the rules search latents and score samples).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..profiles import Profile
from .plan import budget_name, budget_profile
from .results import results_dir

#: A signature: ``(experiment, config hash, seed)`` of every run a rule read, sorted.
Signature = tuple[tuple[str, str, int], ...]


def records_file(budget: str | Profile, folder: str | Path | None = None) -> Path:
    """The rule records of a budget: ``rules-quick.json`` in ``folder`` (default the results folder)."""
    name = budget_name(budget_profile(budget))
    return (Path(folder) if folder is not None else results_dir()) / f"rules-{name}.json"


def signature(runs: Iterable[tuple[str, str, int]]) -> Signature:
    """The runs a rule read, in one order whatever order they were gathered in."""
    return tuple(sorted((str(name), str(digest), int(seed)) for name, digest, seed in runs))


def read(budget: str | Profile, folder: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """Every record of the budget by claim key (empty when there is no file). A file that is not
    a JSON object of records fails with one line naming it."""
    path = records_file(budget, folder)
    if not path.is_file():
        return {}
    try:
        found = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err.msg}, line {err.lineno}); re-write it with "
                         "`bngan results export --rules`") from None
    if not isinstance(found, dict) or not all(isinstance(v, dict) and "runs" in v and "values" in v
                                              for v in found.values()):
        raise ValueError(f"{path}: must map claim keys to records with 'runs' and 'values'; re-write it with "
                         "`bngan results export --rules`")
    return found


def lookup(key: str, runs: Signature, budget: str | Profile, folder: str | Path | None = None, *,
           code: str | None = None) -> dict | None:
    """The recorded values of claim ``key`` if they were computed from exactly ``runs`` (and, with
    ``code``, by the rule whose source has that digest), else None."""
    record = read(budget, folder).get(key)
    if record is None or signature(map(tuple, record["runs"])) != runs:
        return None
    if code is not None and record.get("code") != code:
        return None
    return record["values"]


def write(records: Mapping[str, Mapping[str, Any]], budget: str | Profile,
          folder: str | Path | None = None) -> Path:
    """Merge ``records`` (claim key -> ``{"rule", "runs", "values"}``) into the budget's file, one
    claim per key in sorted order so a re-export changes only the claims that changed."""
    path = records_file(budget, folder)
    merged = {**read(budget, folder), **{k: dict(v) for k, v in records.items()}}
    for record in merged.values():
        record["runs"] = [list(r) for r in signature(map(tuple, record["runs"]))]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(sorted(merged.items())), indent=1, sort_keys=True) + "\n")
    return path
