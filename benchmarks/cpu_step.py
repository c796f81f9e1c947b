"""CPU options for the one-seed training step, side by side in one run: eager fp32 (today's
default), channels-last memory format, bf16 autocast (``precision="bf16"``), both, and
``torch.compile`` of both networks (inductor's C++ backend; its compile time is reported apart
and amortized over a `quick` run's 400 steps).

    python benchmarks/cpu_step.py [--ids 7 11] [--steps 60] [--variants eager channels-last bf16 channels-last+bf16 compiled]

Uses Table II set-ups as `quick` runs them (every width x 1/4, 16 px) on the bundled digits
resized to 16 px, so it needs no download. Prints one line per set-up and variant; run it on the
machine whose figures you report.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads (see README)

import torch  # noqa: E402

from bngan import data, experiments, train  # noqa: E402

VARIANTS = ("eager", "channels-last", "bf16", "channels-last+bf16", "compiled")


def build(exp_id: int, variant: str):
    config = experiments.table2(exp_id, "quick").vary(dataset="digits", n_train=None)
    if "bf16" in variant:
        config = config.vary(precision="bf16")
    images = data.load_images("digits", image_size=16, device=torch.device("cpu")).train
    torch.manual_seed(0)
    g, d = train.build_networks(config)
    if variant.startswith("channels-last"):
        g, d = g.to(memory_format=torch.channels_last), d.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    opt_g, opt_d = train.make_optimizers(config, g, d)
    if variant == "compiled":
        g, d = torch.compile(g), torch.compile(d)
    sampler = data.BatchSampler(images, config.train.batch_size, seed=0)
    return config, train.GANStep(config, g, d, opt_g, opt_d, sampler, torch.device("cpu"))


def measure(exp_id: int, variant: str, steps: int) -> tuple[float, float, int]:
    """(steps per second after warm-up, seconds of the warm-up steps, batch size)."""
    config, step = build(exp_id, variant)
    start = time.perf_counter()
    for i in range(5):  # warm-up; for `compiled`, the compilation
        step(i, monitor=i % config.train.log_every == 0)
    warm = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(steps):
        step(i, monitor=i % config.train.log_every == 0)
    return steps / (time.perf_counter() - start), warm, config.train.batch_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, nargs="+", default=[7, 11])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    args = parser.parse_args()
    print(f"cpu, {torch.get_num_threads()} threads; torch {torch.__version__}; "
          f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}")
    for exp_id in args.ids:
        base = None
        for variant in args.variants:
            try:
                rate, warm, batch = measure(exp_id, variant, args.steps)
            except Exception as err:  # a variant this torch or CPU cannot run: say so, go on
                print(f"table2:{exp_id:<3} {variant:18s} failed: {type(err).__name__}: {str(err).splitlines()[0]}")
                continue
            base = rate if variant == "eager" else base
            ratio = f"{rate / base:5.2f}x eager" if base else ""
            print(f"table2:{exp_id:<3} batch {batch:>3} {variant:18s} {rate:7.2f} steps/s {ratio}  "
                  f"(first 5 steps {warm:6.1f} s; a 400-step run {warm + 395 / rate:6.0f} s)")


if __name__ == "__main__":
    main()
