"""A sweep's wall time with 1 worker and with N worker processes (bngan.workers).

    python benchmarks/workers.py [--ids 1 2 3 4] [--seeds 0] [--profile quick] [--workers 1 2] [--steps N]

Each worker count trains the same Table II experiments from scratch into its own temporary runs
folder with ``run_series(..., workers=N)``: 1 worker trains in this process one run after the
other with all cores' threads, N workers train N runs side by side with cores/N threads each
(:func:`bngan.runs.workers.threads_per_run`). The time includes starting the worker processes. The
quality classifier is made ready first and not timed. ``--steps`` shortens every run (a smoke
test of the script; the figures in ``benchmarks/README.md`` use the profile's steps).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `import bngan` sets it; before torch loads

import bngan  # noqa: E402
from bngan.measure import quality  # noqa: E402
from bngan.runs import workers  # noqa: E402
from bngan.devices import device_name, versions  # noqa: E402
from bngan.profiles import get_profile  # noqa: E402

import torch  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, nargs="+", default=[1, 2, 3, 4], help="Table II experiments")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, workers.cores()],
                        help="worker counts to time (default: 1 and one per core)")
    parser.add_argument("--steps", type=int, default=None, help="steps per run (default: the profile's)")
    args = parser.parse_args()

    profile = get_profile(args.profile)
    if args.steps is not None:
        profile = profile.with_overrides(steps=args.steps)
    series = {f"#{i}": f"table2:{i}" for i in args.ids}
    config = bngan.experiments.for_profile(f"table2:{args.ids[0]}", profile)
    start = time.perf_counter()
    quality.classifier(config.data.dataset, config.data.image_size, config.data.image_channels, "cpu")
    print(f"quality classifier ready in {time.perf_counter() - start:.0f} s (not timed below)")
    print(f"{device_name(torch.device('cpu'))}, {workers.cores()} cores, torch {versions()['torch']}")

    seconds = {}
    for n in args.workers:
        with tempfile.TemporaryDirectory() as root:
            start = time.perf_counter()
            found = bngan.run_series(series, profile=profile, seeds=args.seeds, root=root, progress=False, workers=n)
            seconds[n] = time.perf_counter() - start
            per_run = [float(r.record.get("elapsed_s") or 0.0) for rs in found.values() for r in rs.runs]
            threads = sorted({r.record.get("threads") for rs in found.values() for r in rs.runs})
        print(f"{n} worker(s), {workers.threads_per_run(n)} thread(s) per run: {seconds[n]:.1f} s for "
              f"{len(per_run)} runs (each {', '.join(f'{s:.0f}' for s in per_run)} s; recorded threads {threads})")

    first = args.workers[0]
    n_runs = len(series) * len(args.seeds)
    print(f"\n{n_runs} runs of Table II {', '.join(series)} at {profile.name} ({profile.steps} steps), "
          f"seeds {args.seeds}:")
    for n in args.workers:
        print(f"  {n} worker(s): {seconds[n]:.1f} s, {seconds[n] / seconds[first]:.2f}x the time of {first}")


if __name__ == "__main__":
    main()
