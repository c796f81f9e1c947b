"""The evidence that takes hours, trained in the background and kept: ``python -m bngan.background``.

Three stages, each resumable (a run already in the run cache or in the committed results is
never trained again, and an interrupted run resumes from its checkpoint):

- ``pilot``: every run the ledger reads at the profile (``quick`` by default);
- ``larger``: the runs of the claims chapter 10's advice rests on (``ledger.ADVICE_KEYS``) at
  the scale check's larger budget (:func:`bngan.evidence.plan.larger`);
- ``confirmation``: the new seeds :mod:`bngan.evidence.confirmation` plans for the claims the pilot left
  undecided (read from what the pilot stage produced, cache or committed results).

Runs train in worker processes (:func:`bngan.runs.workers.train_in_processes`), one experiment at a
time; the larger and confirmation stages go claim by claim, those lacking fewest runs first
(:func:`smallest_first`), so a stage stopped early has finished as many whole claims as it could.
After each experiment its finished runs are exported to the committed results file
(:func:`bngan.evidence.results.export`), so a change of machine loses at most the experiment in
flight (``--export-only`` exports what a stopped trainer left in the cache). Run it niced: ``nice -n 10 python -m bngan.background``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

from .profiles import Profile, get_profile
from .catalog.registry import config_at
from .runs.cluster import Sweep
from .evidence.claims import CLAIMS, Claim
from .evidence.plan import larger, plan

STAGES = ("pilot", "larger", "confirmation")


def _say(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)


def train_and_export(claims: Sequence[Claim], p: Profile, *, workers: int, root=None,
                     seeds: Sequence[int] | None = None, budget: str = "quick", train: bool = True) -> int:
    """Train what neither the cache nor the committed results hold of ``claims`` at ``p``, one
    experiment at a time, exporting to the results of ``budget`` after each; returns how many
    runs were missing when it started. ``train=False`` exports what the cache holds and trains
    nothing (the runs of an experiment a stopped trainer left unexported)."""
    from .evidence import results
    from .runs.workers import train_in_processes

    if not train:
        results.export(claims, budget, root, seeds=seeds)
        return 0
    planned = plan(claims, p, seeds, configure=config_at)
    missing = results.lacking(planned, p, root)
    total = sum(len(m.seeds) for m in missing.values())
    _say(f"{p.name}: {total} run(s) to train in {len(missing)} experiment(s)")
    for name, lack in missing.items():
        config = planned[name][0]
        train_in_processes([Sweep(name, config, tuple(lack.seeds))], workers, root=root, progress=False)
        results.export(claims, budget, root, seeds=seeds)
        _say(f"{name}: {len(lack.seeds)} run(s) done and exported")
    return total


def smallest_first(claims: Sequence[Claim], p: Profile, seeds_of: Callable[[Claim], Sequence[int] | None],
                   root=None) -> list[Claim]:
    """``claims`` in the order of the runs each still lacks at ``p`` (fewest first, ties in the
    ledger's order), ``seeds_of`` giving each claim's seeds: a stage stopped at any point has
    finished as many whole claims as it could, and a claim decides nothing until all its runs
    are in."""
    from .evidence import results

    def lacking(claim: Claim) -> int:
        planned = plan([claim], p, seeds_of(claim), configure=config_at)
        return sum(len(m.seeds) for m in results.lacking(planned, p, root).values())

    return sorted(claims, key=lacking)


def run_stage(stage: str, profile: Profile, *, workers: int, root=None, cap: int = 20, train: bool = True) -> None:
    """One stage (see the module's docstring), claim by claim, the claims lacking fewest runs
    first (:func:`smallest_first`); ``train=False`` only exports what it has."""
    from .evidence import confirmation, ledger

    if stage == "pilot":
        train_and_export(CLAIMS, profile, workers=workers, root=root, budget=profile.name, train=train)
    elif stage == "larger":
        big = larger(profile)
        advice = [c for c in CLAIMS if c.key in ledger.ADVICE_KEYS]
        if not train:
            train_and_export(advice, big, workers=workers, root=root, budget="larger", train=False)
            return
        for claim in smallest_first(advice, big, lambda c: None, root):
            train_and_export([claim], big, workers=workers, root=root, budget="larger")
    elif stage == "confirmation":
        pilot = ledger.evaluate(profile=profile, root=root, train=False)
        plans = confirmation.confirmation_plan(pilot, cap=cap)
        wanted = confirmation.confirmation_claims(plans)
        _say(f"confirmation: {len(wanted)} claim(s) to confirm, "
             f"{sum(1 for p in plans if not p.feasible)} check(s) beyond the cap of {cap}")
        by_key = {c.key: c for c in CLAIMS}

        def seeds_of(claim: Claim) -> tuple[int, ...]:
            return confirmation.confirmation_seeds(confirmation.pilot_seeds(claim, profile), wanted[claim.key])

        claims = [by_key[key] for key in wanted]
        for claim in smallest_first(claims, profile, seeds_of, root) if train else claims:
            train_and_export([claim], profile, workers=workers, root=root, seeds=seeds_of(claim),
                             budget=profile.name, train=train)
    else:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}; got {stage!r}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bngan.background", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=("quick", "full"),
                        help="the pilot's profile (default quick)")
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES,
                        help="stages to run, in order (default: all three)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: one per core on a CPU)")
    parser.add_argument("--root", default=None, help="runs folder (default: the run cache)")
    parser.add_argument("--cap", type=int, default=20, help="most seeds per arm a confirmation asks for")
    parser.add_argument("--export-only", action="store_true",
                        help="train nothing: export what the run cache holds of each stage to the committed results")
    args = parser.parse_args(argv)
    from .devices import default_device
    from .runs.workers import check_workers, resolve_workers

    if args.workers is not None:
        check_workers(args.workers)
    workers = resolve_workers(args.workers, default_device())
    profile = get_profile(args.profile)
    for stage in args.stages:
        _say(f"stage {stage} ({'export only' if args.export_only else f'{workers} worker(s)'})")
        run_stage(stage, profile, workers=workers, root=args.root, cap=args.cap, train=not args.export_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
