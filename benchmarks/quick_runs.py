"""Seconds per run of all 14 Table II experiments at a profile (default ``quick``), one seed.

    python benchmarks/quick_runs.py [--profile quick] [--ids 1 2 ...] [--threads 2]
                                    [--steps N] [--heuristics] [--device cpu] [--width-scale W]

Each experiment is trained from scratch into a temporary runs folder by ``train_run``, and the
whole call is timed: building the networks, the training loop, and the end-of-run metrics
(reconstruction error, FID/KID and class coverage). The dataset and the quality classifier are
loaded (or trained, once per machine) before the timing starts; that one-off cost is printed.
With ``--steps N`` below the profile's steps, each run trains N steps and its time is
extrapolated (the loop scaled by profile steps / N, the rest as measured); the output says so.
``--heuristics`` adds chapter 1's six set-ups; ``--width-scale`` tries another width multiplier.

OMP_WAIT_POLICY defaults to PASSIVE here: on cores shared with another job, OpenMP threads
that spin while they wait made two-thread runs 10-20 times slower than one thread; passive
waiting keeps the times from hanging on that accident. Times still depend on what else runs.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its OpenMP runtime

import torch  # noqa: E402

from bngan import experiments, quality, train  # noqa: E402
from bngan.profiles import get_profile  # noqa: E402


def time_run(config, steps: int | None, root: str, device: torch.device) -> tuple[float, float, bool]:
    """(seconds for the profile's steps, seconds of the loop, whether extrapolated)."""
    full_steps = config.train.steps
    if steps is not None and steps < full_steps:
        config = config.vary(steps=steps, checkpoint_every=0)
    start = time.perf_counter()
    run = train.train_run(config, seed=0, root=root, device=device, progress=False)
    wall = time.perf_counter() - start
    loop = float(run.record["elapsed_s"])
    done = max(1, int(run.record["steps_done"]))
    if config.train.steps == full_steps:
        return wall, loop, False
    return wall - loop + loop * full_steps / done, loop * full_steps / done, True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--ids", type=int, nargs="+", default=sorted(experiments.TABLE2))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=None, help="train this many steps and extrapolate")
    parser.add_argument("--heuristics", action="store_true", help="also chapter 1's six set-ups")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--width-scale", type=float, default=None, help="override the profile's width_scale")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    profile = get_profile(args.profile)
    if args.width_scale is not None:
        profile = profile.with_overrides(width_scale=args.width_scale)
    names = [f"table2:{i}" for i in args.ids]
    if args.heuristics:
        names += [f"heuristics:{v}" for v in experiments.HEURISTICS]
    configs = [experiments.get_experiment(name, profile) for name in names]

    d = configs[0].data
    start = time.perf_counter()
    train.load_run_data(configs[0], device)
    judge = quality.classifier(d.dataset, d.image_size, d.image_channels, device)
    print(f"profile {profile.name}: {d.dataset} at {d.image_size} px, width x{profile.width_scale}, "
          f"{profile.steps} steps; {torch.get_num_threads()} threads on {device} "
          f"(OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}); torch {torch.__version__}")
    print(f"one-off: data + classifier ready in {time.perf_counter() - start:.0f} s ({judge})")
    print(f"{'experiment':<26}{'batch':>6}{'G filters':>12}{'D filters':>18}{'loop s':>9}{'run s':>8}")
    total = 0.0
    with tempfile.TemporaryDirectory() as root:
        for config in configs:
            seconds, loop, extrapolated = time_run(config, args.steps, root, device)
            total += seconds
            m = config.model
            print(f"{config.name:<26}{config.train.batch_size:>6}{str(m.g_filters):>12}{str(m.d_filters):>18}"
                  f"{loop:>9.0f}{seconds:>8.0f}{'  (extrapolated)' if extrapolated else ''}", flush=True)
    n_seeds = len(profile.seeds)
    print(f"total, one seed each: {total:.0f} s ({total / 60:.1f} min); with the profile's {n_seeds} seeds: "
          f"{total * n_seeds / 60:.1f} min")


if __name__ == "__main__":
    main()
