"""The training engine side by side: a plain PyTorch-example loop (eager, and captured as one
CUDA graph), the library's one-seed step, seed groups of 3 and 10, and the library's step
replayed as CUDA graphs, for three models; then what that makes of chapter 7's series and of
Table II x 3 seeds at ``full``.

    python benchmarks/engine.py [--device cuda] [--steps 20] [--groups 3 10] [--models toy table2:11 radford64]

Figures are training iterations per second of one seed ("seed-steps/s": a group of 10
doing 5 iterations/s counts 50), after warm-up, with the data already on the device and
monitoring every 10th step as runs log; bf16 and deterministic kernels are the config's
``precision`` and ``deterministic`` options. Run it on the machine whose figures you report;
the output starts with the device and torch version. The CUDA-graph columns need a GPU (on
a CPU they say so); graphed steps are timed after both kinds of iteration (monitored and
plain) have been captured. The full-profile times below the table are training steps at the
best fp32 rate, without evaluations.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from bngan import data, experiments
from bngan.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from bngan.devices import device_name
from bngan.engine.seed_group import SeedGroup
from bngan.engine.step import rng_state
from bngan.engine.step_graph import GraphedGroup, cuda_graph
from bngan.models.networks import build_networks
from bngan.profiles import get_profile
from bngan.runs.folders import run_dir
from bngan.runs.trainer import Trainer


def radford64() -> ExperimentConfig:
    """The PyTorch DCGAN example's set-up: Radford DCGAN at 64 px, batch 64, one G forward per
    iteration, D's real and fake halves in two passes and one update, Adam 2e-4 / 0.5."""
    return ExperimentConfig(
        name="radford64", data=DataConfig(kind="image", dataset="digits", image_size=64, channels=3, n_test=64),
        model=ModelConfig(arch="radford", latent_dim=100, width=64, g_kernel=4, d_kernel=4),
        train=TrainConfig(steps=10**6, batch_size=64, routine="split", d_fakes="reuse", log_every=10,
                          sample_every=10**6, eval_every=0, checkpoint_every=0))


def models(name: str, full_image_size: int) -> ExperimentConfig:
    if name == "radford64":
        return radford64()
    if name == "toy":
        return experiments.get_experiment("blindspot:bn-joint-eval-shift", "full")
    return experiments.table2(11, "full").vary(dataset="digits", channels=3, n_train=None, n_test=64,
                                               image_size=full_image_size)


def timed(step: Callable[[int], None], steps: int, device: torch.device, warmup: int = 3) -> float:
    """Iterations per second of ``step`` after ``warmup`` calls."""
    for i in range(warmup):
        step(i + 1)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(steps):
        step(i + warmup + 1)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


def example_loop(config: ExperimentConfig, train_data: torch.Tensor, device: torch.device) -> Callable[[int], None]:
    """The PyTorch DCGAN example's iteration (real pass, fake pass, one D step, one G step),
    written here on the library's networks; no monitoring, nothing read back."""
    torch.manual_seed(0)
    g, d = (net.to(device).train() for net in build_networks(config))
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    n, latent = config.train.batch_size, config.model.latent_dim
    sampler = data.BatchSampler(train_data, n, seed=0)
    ones, zeros = torch.ones(n, 1, device=device), torch.zeros(n, 1, device=device)

    def step(_: int) -> None:
        d.zero_grad(set_to_none=True)
        F.binary_cross_entropy_with_logits(d(sampler()), ones).backward()
        fake = g(torch.randn(n, latent, device=device))
        F.binary_cross_entropy_with_logits(d(fake.detach()), zeros).backward()
        opt_d.step()
        g.zero_grad(set_to_none=True)
        F.binary_cross_entropy_with_logits(d(fake), ones).backward()
        opt_g.step()

    return step


def example_loop_graphed(config: ExperimentConfig, train_data: torch.Tensor,
                         device: torch.device) -> Callable[[int], None]:
    """The same example iteration captured as one CUDA graph (capturable Adam, the batch and
    the latents copied into fixed inputs): the bound on what replaying the step can give."""
    torch.manual_seed(0)
    g, d = (net.to(device).train() for net in build_networks(config))
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999), capturable=True)
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999), capturable=True)
    n, latent = config.train.batch_size, config.model.latent_dim
    sampler = data.BatchSampler(train_data, n, seed=0)
    ones, zeros = torch.ones(n, 1, device=device), torch.zeros(n, 1, device=device)
    real, z = sampler().clone(), torch.randn(n, latent, device=device)

    def iteration() -> None:
        d.zero_grad(set_to_none=True)
        F.binary_cross_entropy_with_logits(d(real), ones).backward()
        fake = g(z)
        F.binary_cross_entropy_with_logits(d(fake.detach()), zeros).backward()
        opt_d.step()
        g.zero_grad(set_to_none=True)
        F.binary_cross_entropy_with_logits(d(fake), ones).backward()
        opt_g.step()

    side = torch.cuda.Stream(device)  # warm-up and capture on one side stream, as PyTorch's notes ask
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(3):
            iteration()
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, stream=side):
        iteration()

    def step(_: int) -> None:
        real.copy_(sampler())
        z.normal_()
        graph.replay()

    return step


def trainers(config: ExperimentConfig, seeds: int, device: torch.device, root: str) -> list[Trainer]:
    made = []
    for seed in range(seeds):
        trainer = Trainer(config, seed, run_dir(config, seed, root), device=device, progress=False)
        trainer.rng_stream = rng_state(device)
        made.append(trainer)
    return made


def library_step(config: ExperimentConfig, device: torch.device, root: str) -> Callable[[int], None]:
    trainer = trainers(config, 1, device, root)[0]
    return lambda i: trainer.step_fn(i, monitor=i % config.train.log_every == 0)


def group_step(config: ExperimentConfig, seeds: int, device: torch.device, root: str) -> Callable[[int], None]:
    group = SeedGroup(trainers(config, seeds, device, root))
    return lambda i: group(i, monitor=i % config.train.log_every == 0)


def graphed_step(config: ExperimentConfig, seeds: int, device: torch.device,
                 root: str) -> tuple[GraphedGroup, Callable[[int], None]]:
    """``seeds`` seeds (1: a group of one) stepped by replaying CUDA graphs, as train_runs does on a GPU."""
    stepper = GraphedGroup(SeedGroup(trainers(config, seeds, device, root), capturable=True), cuda_graph,
                           engine="benchmark")
    return stepper, lambda i: stepper(i, monitor=i % config.train.log_every == 0)


def graphed_rate(config: ExperimentConfig, seeds: int, device: torch.device, root: str, steps: int) -> float | str:
    """Seed-steps/s replaying graphs, once both kinds of iteration are captured; or why not."""
    if device.type != "cuda":
        return "needs CUDA"
    stepper, step = graphed_step(config, seeds, device, root)
    warmup = (GraphedGroup.WARMUP + 2) * config.train.log_every  # >= 3 monitored and many plain iterations
    rate = seeds * timed(step, steps, device, warmup=warmup)
    return f"refused: {stepper.refused}" if stepper.refused else rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--groups", type=int, nargs="+", default=[3, 10])
    parser.add_argument("--models", nargs="+", default=["toy", "table2:11", "radford64"])
    parser.add_argument("--image-size", type=int, default=32, help="Table II's image size (full: 32)")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"device: {device_name(device)}; torch {torch.__version__}; {args.steps} timed steps after 3 warm-up")
    k = args.groups[-1]
    header = (["model", "example loop", "example loop, one CUDA graph", "one seed"]
              + [f"group of {g}" for g in args.groups]
              + ["one seed, bf16", f"group of {k}, bf16", "one seed, deterministic", "one seed, CUDA graphs",
                 f"group of {k}, CUDA graphs", f"group of {k}, CUDA graphs, bf16"])
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    rates: dict[str, dict[str, float]] = {}
    for name in args.models:
        config = models(name, args.image_size)
        with tempfile.TemporaryDirectory() as root:
            row = rates[name] = {}
            first = trainers(config, 1, device, root)[0]
            if config.data.kind == "image":
                row["example"] = timed(example_loop(config, first.train_data, device), args.steps, device)
                row["example_graph"] = (timed(example_loop_graphed(config, first.train_data, device), args.steps, device)
                                        if device.type == "cuda" else "needs CUDA")
            row["one"] = timed(library_step(config, device, root), args.steps, device)
            for k in args.groups:
                row[f"group{k}"] = k * timed(group_step(config, k, device, root), args.steps, device)
            bf16 = config.vary(precision="bf16")
            row["bf16"] = timed(library_step(bf16, device, root), args.steps, device)
            k = args.groups[-1]
            row["group_bf16"] = k * timed(group_step(bf16, k, device, root), args.steps, device)
            row["deterministic"] = timed(library_step(config.vary(deterministic=True), device, root), args.steps,
                                         device)
            row["graph1"] = graphed_rate(config, 1, device, root, args.steps)
            row["graph"] = graphed_rate(config, k, device, root, args.steps)
            row["graph_bf16"] = graphed_rate(bf16, k, device, root, args.steps)

        def cell(key: str) -> str:
            value = row.get(key, "-")
            return value if isinstance(value, str) else f"{value:.3g} ({value / row['one']:.2f}x)"

        cells = [name, cell("example"), cell("example_graph"), f"{row['one']:.3g}"]
        cells += [cell(key) for key in [f"group{g}" for g in args.groups]
                  + ["bf16", "group_bf16", "deterministic", "graph1", "graph", "graph_bf16"]]
        print("| " + " | ".join(cells) + " |", flush=True)
    print("\nseed-steps/s; (x) = against the library's one seed at a time, eager.")
    fp32 = ("one", "graph1", "graph", *(f"group{g}" for g in args.groups))
    best = {name: max(v for key, v in row.items() if key in fp32 and not isinstance(v, str))
            for name, row in rates.items()}
    if "toy" in rates:
        series = [c for label in ("blindspot:bn", "blindspot:shift", "blindspot:failures", "blindspot:fixes",
                                  "blindspot:alternatives", "blindspot:moments")
                  for c in experiments.series_configs(label, "full").values()]
        seeds = len(get_profile("full").toy_seeds)
        steps = sum(c.train.steps for c in series) * seeds
        print(f"chapter 7's series at full ({len(series)} settings x {seeds} seeds, {steps} steps in all): "
              f"{steps / rates['toy']['one'] / 60:.1f} min one seed at a time, "
              f"{steps / best['toy'] / 60:.1f} min at the best rate (training only)")
    if "table2:11" in rates:
        steps = sum(experiments.table2(i, "full").train.steps for i in range(1, 15)) * 3
        print(f"Table II x 3 seeds at full ({steps} steps): {steps / rates['table2:11']['one'] / 60:.1f} min one "
              f"seed at a time, {steps / best['table2:11'] / 60:.1f} min at the best rate "
              f"(training only, at experiment 11's rate at {args.image_size} px, full being 32 px; evaluations extra)")


if __name__ == "__main__":
    main()
