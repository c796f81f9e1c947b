"""The one-seed step of this checkout against another git revision's, side by side.

    python benchmarks/step_ab.py [--against HEAD~1] [--rounds 5] [--steps 60]

Each round times every model once with this checkout's ``bngan`` and once with the other
revision's (exported to a temporary folder by ``git archive``), alternating which goes first,
each in a fresh subprocess with the same thread count; the table gives the median
iterations per second over the rounds and their ratio. The models are ``quick``'s (widths
x 1/4, 16 px) on the bundled digits, so no download is needed; one step in ten is monitored,
as runs log. Run it on an otherwise idle machine for figures you report.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("table2:7", "table2:11", "wn:bn", "blindspot:bn")

# The flat layout's module names (bngan.networks, bngan.step): the timer runs against older revisions too.
TIMER = r"""
import json, sys, time, torch
from bngan import experiments, data
from bngan.networks import build_networks, make_optimizers
from bngan.step import GANStep
name, steps = sys.argv[1], int(sys.argv[2])
config = experiments.get_experiment(name, "quick")
if config.data.kind == "image":
    config = config.vary(dataset="digits", n_train=None)
torch.manual_seed(0)
g, d = build_networks(config)
opt_g, opt_d = make_optimizers(config, g, d)
if config.data.kind == "image":
    c, s = config.data.image_channels, config.data.image_size
    real = torch.rand(512, c, s, s) * 2 - 1
else:
    real = torch.randn(config.data.toy_samples, 2)
sampler = data.BatchSampler(real, config.train.batch_size, seed=0)
step = GANStep(config, g, d, opt_g, opt_d, sampler, torch.device("cpu"))
for i in range(5):
    step(i + 1, monitor=i % 10 == 0)
start = time.perf_counter()
for i in range(steps):
    step(i + 6, monitor=i % 10 == 0)
print(json.dumps(steps / (time.perf_counter() - start)))
"""


def export(revision: str, into: Path) -> Path:
    """``revision``'s ``src/`` unpacked into ``into`` (nothing in the checkout changes)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "src"], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def rate(src: Path, model: str, steps: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, "-c", TIMER, model, str(steps)], env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"timing {model} with {src} failed:\n{out.stderr[-2000:]}")
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="HEAD~1", help="the git revision to compare with (default HEAD~1)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    args = parser.parse_args(argv)
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; this checkout vs {args.against}; "
          f"{args.rounds} rounds of {args.steps} steps")
    with tempfile.TemporaryDirectory() as tmp:
        sides = {"this checkout": ROOT / "src", args.against: export(args.against, Path(tmp))}
        rates: dict[tuple[str, str], list[float]] = {}
        for k in range(args.rounds):
            order = list(sides.items()) if k % 2 == 0 else list(reversed(sides.items()))
            for model in args.models:
                for side, src in order:
                    rates.setdefault((model, side), []).append(rate(src, model, args.steps))
    print(f"{'model':<14} {'this checkout':>14} {args.against:>14} {'ratio':>7}   (iterations/s, median)")
    for model in args.models:
        new, old = (statistics.median(rates[(model, side)]) for side in sides)
        print(f"{model:<14} {new:>14.1f} {old:>14.1f} {new / old:>7.3f}")


if __name__ == "__main__":
    main()
