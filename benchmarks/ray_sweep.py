"""A sweep trained in-process against the same sweep on a local Ray cluster (``bngan[ray]``).

    python benchmarks/ray_sweep.py [--ids 1 2 3 4] [--seeds 0] [--profile quick] [--cpus 2]

Both sweeps train the same Table II experiments from scratch into their own temporary runs
folders: first in this process, one run after the other (``run_series``, torch's default
threads), then as Ray tasks on a Ray started here with ``--cpus`` CPUs (one CPU and one torch
thread per task, so ``--cpus`` runs at a time). The Ray time includes starting Ray and its
workers. The ratio says whether handing runs to Ray costs anything on one machine; the last
lines estimate, from the per-run times measured here, what N workers would take (the sweep
cannot finish before its longest run), which is the point of a cluster.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `import bngan` sets it; before torch loads

import bngan  # noqa: E402
from bngan import quality  # noqa: E402
from bngan.runs.cluster import Ray  # noqa: E402
from bngan.profiles import get_profile  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, nargs="+", default=[1, 2, 3, 4], help="Table II experiments")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 1, help="CPUs of the local Ray")
    args = parser.parse_args()

    import ray

    profile = get_profile(args.profile)
    series = {f"#{i}": f"table2:{i}" for i in args.ids}
    config = bngan.experiments.for_profile(f"table2:{args.ids[0]}", profile)
    start = time.perf_counter()
    quality.classifier(config.data.dataset, config.data.image_size, config.data.image_channels, "cpu")
    print(f"quality classifier ready in {time.perf_counter() - start:.0f} s (not timed below)")
    n_runs = len(series) * len(args.seeds)

    with tempfile.TemporaryDirectory() as local_root, tempfile.TemporaryDirectory() as ray_root:
        start = time.perf_counter()
        local = bngan.run_series(series, profile=profile, seeds=args.seeds, root=local_root, progress=False)
        local_s = time.perf_counter() - start
        per_run = [float(r.record.get("elapsed_s") or 0.0) for rs in local.values() for r in rs.runs]

        start = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
        bngan.run_series(series, profile=profile, seeds=args.seeds, root=ray_root, progress=True,
                         backend=Ray(cpus_per_task=1))
        ray_s = time.perf_counter() - start
        ray.shutdown()

    print(f"\n{n_runs} runs of Table II {', '.join(series)} at {profile.name}, seeds {args.seeds}:")
    print(f"  in-process, one after the other: {local_s:.0f} s")
    print(f"  local Ray, {args.cpus} CPUs, one thread per task: {ray_s:.0f} s (start-up included)")
    print(f"  Ray / in-process: {ray_s / local_s:.2f}x the time")
    longest, total = max(per_run), sum(per_run)
    print(f"  per-run training times in-process: {', '.join(f'{s:.0f}' for s in per_run)} s")
    for workers in (4, 16, 64):
        print(f"  with {workers} workers as fast as this machine's one run at a time: about "
              f"{max(total / workers, longest):.0f} s (the longest run, {longest:.0f} s, bounds it)")


if __name__ == "__main__":
    main()
