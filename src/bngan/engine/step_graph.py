"""A seed group's whole iteration as CUDA graphs: captured once, then replayed.

A step of these small GANs is a few hundred kernel launches of a few microseconds each, so
eagerly the GPU mostly waits on Python. :class:`GraphedGroup` draws an iteration's random
numbers eagerly (from each seed's own stream, so every run stays its one-seed run), copies
them into fixed input tensors and replays :meth:`~bngan.engine.seed_group.SeedGroup.compute`, both
networks' updates and the capturable optimizer steps included, as one graph. What the step
measured stays on the device and is copied out in one kernel.

The work an iteration does depends on whether it is monitored and whether instance noise is
still on, so each kind of iteration gets its own graph, captured after a few eager
iterations of that kind (PyTorch's warm-up rule, run on a side stream). A graph is trusted
only after its first replay matched the eager iteration from the same state and draws; a
graph that cannot be captured or disagrees is dropped, the group goes on eagerly, and each
seed's record says why (its ``engine``).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator

import torch

from ..files import first_line
from .seed_group import Draws, GroupOutput, SeedGroup
from .step import StepOutput, step_numerics

Capture = Callable[[Callable[[], GroupOutput]], Callable[[], GroupOutput]]
"""Turns an iteration (a function of fixed inputs) into its replay; capturing runs nothing."""


def cuda_graph(iteration: Callable[[], GroupOutput]) -> Callable[[], GroupOutput]:
    """Capture ``iteration`` as one CUDA graph on the current (side) stream, the one its
    warm-up ran on, so no library handle is first made mid-capture; the replay returns the
    graph's fixed output tensors."""
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, stream=torch.cuda.current_stream()):
        outputs = iteration()

    def replay() -> GroupOutput:
        graph.replay()
        return outputs

    return replay


def rerun(iteration: Callable[[], GroupOutput]) -> Callable[[], GroupOutput]:
    """A stand-in for :func:`cuda_graph` where CUDA is absent: "replaying" calls the
    iteration again on the same fixed inputs and, as a graph does, writes what it measured
    into the same output tensors every time. Tests use it to check, on a CPU, everything
    around the graph (fixed inputs, kinds of iteration, the check of the first replay)."""
    outputs: GroupOutput = {}

    def replay() -> GroupOutput:
        fresh = iteration()
        if not outputs:
            outputs.update(fresh)
        for name, value in fresh.items():
            outputs[name].copy_(value)
        return outputs

    return replay


def capture_for(device: torch.device) -> Capture | None:
    """How to capture on ``device``: CUDA graphs on a GPU, none elsewhere."""
    return cuda_graph if device.type == "cuda" else None


@contextlib.contextmanager
def side_stream(side: torch.cuda.Stream | None) -> Iterator[None]:
    """Run the block on the ``side`` CUDA stream, which first waits for the current one and
    is waited for after (warm-up iterations and captures run there, per PyTorch's
    CUDA-graph notes); with ``None`` (no CUDA) a no-op."""
    if side is None:
        yield
        return
    main = torch.cuda.current_stream(side.device)
    side.wait_stream(main)
    with torch.cuda.stream(side):
        yield
    main.wait_stream(side)


def _kind(draws: Draws, monitor: bool) -> tuple:
    """What fixes an iteration's work: monitoring, and which draws it has, of which shapes."""
    return monitor, tuple((name, tuple(v.shape) if isinstance(v, torch.Tensor) else tuple(m.shape for m in v))
                          for name, v in draws.items())


def _copy_draws(into: Draws, draws: Draws) -> None:
    for name, value in draws.items():
        if isinstance(value, torch.Tensor):
            into[name].copy_(value)
        else:
            for fixed, mask in zip(into[name], value):
                fixed.copy_(mask)


def _detached(out: GroupOutput) -> GroupOutput:
    """A copy of ``out`` made in one kernel, so the next replay cannot overwrite it."""
    stacked = torch.stack([v.detach().float() for v in out.values()])
    return dict(zip(out, stacked))


def disagreement(eager: GroupOutput, graphed: GroupOutput, before: dict[str, torch.Tensor],
                 after_eager: dict[str, torch.Tensor], after_graph: dict[str, torch.Tensor]) -> str | None:
    """Why a graph's first replay cannot stand in for the eager iteration, or None.

    Measured values must agree to float rounding (rtol 1e-3); counts (BN's batches tracked,
    optimizer steps) exactly; each network's update (weights, buffers, optimizer moments)
    within 25% of the eager update's size. That last bound is loose on purpose: a bias
    feeding BN has a gradient of pure rounding noise, so Adam may step it the other way in
    a correct replay, while a lost or doubled update is off by 100%.
    """
    for name, value in eager.items():
        if not torch.allclose(graphed[name], value, rtol=1e-3, atol=1e-5, equal_nan=True):
            return f"its first replay measured {name} {graphed[name].tolist()} where the eager step measured {value.tolist()}"
    moved: dict[str, float] = Counter()
    off: dict[str, float] = Counter()
    for name, now in after_graph.items():
        expected = after_eager[name]
        if not now.is_floating_point() or name.endswith(":step"):
            if not torch.equal(now, expected):
                return f"its first replay left {name} at {now.tolist()} where the eager step left {expected.tolist()}"
            continue
        net = name.split(".", 1)[0]
        moved[net] += float((expected.double() - before[name].double()).square().sum())
        off[net] += float((now.double() - expected.double()).square().sum())
    for net, size in moved.items():
        if off[net] ** 0.5 > 0.25 * size ** 0.5 + 1e-7:
            return (f"its first replay updated {net.upper()} differently from the eager step "
                    f"(by {off[net] ** 0.5:.3g}, the update itself being {size ** 0.5:.3g})")
    return None


class GraphedGroup:
    """A :class:`~bngan.engine.seed_group.SeedGroup` stepped by replaying CUDA graphs of its
    iteration (a :class:`~bngan.runs.trainer.Stepper`, as the group is)."""

    WARMUP = 2  # eager iterations of a kind before its graph is captured (the capture step is a third)

    def __init__(self, group: SeedGroup, capture: Capture, *, engine: str) -> None:
        self.group, self.capture, self.engine = group, capture, engine
        self.graphs: dict[tuple, tuple[Draws, Callable[[], GroupOutput]]] = {}
        self.eager: Counter[tuple] = Counter()
        self.refused: str | None = None
        self.replayed = self.steps = 0
        self.side = torch.cuda.Stream(group.device) if group.device.type == "cuda" else None
        for tr in group.trainers:
            tr.engine = self.note()

    @property
    def trainers(self):
        return self.group.trainers

    def __call__(self, step: int, monitor: bool) -> list[StepOutput]:
        g = self.group
        self.steps += 1
        with step_numerics(g.t, g.device, autocast_cache=False):  # PyTorch: no autocast cache under capture
            draws = g.draws(step, monitor)
            kind = _kind(draws, monitor)
            if self.refused is not None:
                out = g.compute(draws, monitor)
            elif kind in self.graphs:
                out = self._replay(kind, draws)
            elif self.eager[kind] < self.WARMUP:
                self.eager[kind] += 1
                with side_stream(self.side):
                    out = _detached(g.compute(draws, monitor))
            else:
                out = self._capture_checked(kind, draws, monitor)
        return g.split(out)

    def _replay(self, kind: tuple, draws: Draws) -> GroupOutput:
        inputs, replay = self.graphs[kind]
        _copy_draws(inputs, draws)
        self.replayed += 1
        return _detached(replay())

    def _capture_checked(self, kind: tuple, draws: Draws, monitor: bool) -> GroupOutput:
        """Run the iteration eagerly, then capture it, replay it from the same state and
        draws, and keep the graph only if both agree (else go on eagerly from the eager result)."""
        g = self.group
        state = g.state_tensors()
        before = {name: t.detach().clone() for name, t in state.items()}
        with side_stream(self.side):
            eager = _detached(g.compute(draws, monitor))
        after_eager = {name: t.detach().clone() for name, t in state.items()}
        try:
            with torch.no_grad():
                for name, t in state.items():
                    t.copy_(before[name])
            inputs = {name: v.clone() if isinstance(v, torch.Tensor) else [m.clone() for m in v]
                      for name, v in draws.items()}
            with side_stream(self.side):
                replay = self.capture(lambda: g.compute(inputs, monitor))
            graphed = _detached(replay())
            after_graph = {name: t.detach() for name, t in state.items()}
            problem = disagreement(eager, graphed, before, after_eager, after_graph)
        except Exception as err:  # noqa: BLE001 - a failed capture leaves the eager iteration standing
            problem = f"capturing it failed: {first_line(err)}"
        if problem is None:
            self.graphs[kind] = (inputs, replay)
            self.replayed += 1
            return graphed
        with torch.no_grad():
            for name, t in state.items():
                t.copy_(after_eager[name])
        self.refused, self.graphs = problem, {}
        return eager

    def note(self) -> str:
        """How the group's steps ran, for the runs' records."""
        if self.refused is not None:
            return f"{self.engine}; eager, CUDA graph refused: {self.refused}"
        return (f"{self.engine}; CUDA graphs ({len(self.graphs)} captured, "
                f"{self.replayed} of {self.steps} steps replayed)")

    def write_back(self, networks_only: bool = False) -> None:
        self.group.write_back(networks_only)
        for tr in self.trainers:
            tr.engine = self.note()

    def stream(self, k: int) -> contextlib.AbstractContextManager[None]:
        return self.group.stream(k)

    def without(self, gone: list) -> GraphedGroup:
        """The graphed group of the other seeds (their graphs captured anew: the stacks change)."""
        rest = GraphedGroup(self.group.without(gone), self.capture, engine=self.engine)
        rest.refused, rest.replayed, rest.steps = self.refused, self.replayed, self.steps
        return rest
