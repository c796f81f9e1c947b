"""Training throughput: iterations per second of GANStep for some Table II set-ups.

    python benchmarks/step_speed.py [--device cuda] [--image-size 32] [--steps 30] [--ids 2 10]

Prints one line per experiment; run it on the machine whose figures you report.
"""

from __future__ import annotations

import argparse
import time

import torch

from bngan import data, experiments, train


def measure(exp_id: int, image_size: int, steps: int, device: torch.device) -> float:
    config = experiments.table2(exp_id, "smoke").vary(image_size=image_size, n_train=None)
    images = data.load_images("digits", image_size=image_size, device=device)
    torch.manual_seed(0)
    g, d = (net.to(device) for net in train.build_networks(config))
    opt_g, opt_d = train.make_optimizers(config, g, d)
    sampler = data.BatchSampler(images.train, config.train.batch_size, seed=0)
    step = train.GANStep(config, g, d, opt_g, opt_d, sampler, device)
    for i in range(3):  # warm-up (cuDNN autotuning, allocator)
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(steps):
        step(i, monitor=i % 10 == 0)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--image-size", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--ids", type=int, nargs="+", default=[2, 10])
    args = parser.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}")
    for size in args.image_size:
        for exp_id in args.ids:
            config = experiments.table2(exp_id, "smoke")
            rate = measure(exp_id, size, args.steps, device)
            print(f"table2:{exp_id:<3} {size:>2}px batch {config.train.batch_size:>3}: {rate:7.2f} it/s "
                  f"({rate * config.train.batch_size:8.0f} images/s)")


if __name__ == "__main__":
    main()
