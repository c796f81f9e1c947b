"""CUDA-graph replay of a seed group's iteration, checked on the CPU.

CUDA is absent here, so :func:`bngan.step_graph.rerun` stands in for the capture: it
"replays" the iteration by calling it again on the same fixed inputs. That checks what
surrounds a graph (draws copied into fixed inputs, one graph per kind of iteration, the
check of a graph's first replay, refusal, divergence, resume), and a dispatch mode checks
that the iteration itself does nothing a capture forbids (a host sync, a random draw, a
tensor made from Python data). The capture itself runs on a GPU only (benchmarks/engine.py).
"""

import re
from collections import Counter

import pytest
import torch
from test_seed_group import largest_gaps, nan_loss_for_seed
from test_train import image_config, toy_config
from torch.utils._python_dispatch import TorchDispatchMode

from bngan import step_graph, train
from bngan.experiments import get_experiment
from bngan.seed_group import SeedGroup
from bngan.step_graph import GraphedGroup, disagreement, rerun
from bngan.train import train_runs
from bngan.trainer import Trainer, TrainingInterrupted

SEEDS = [0, 1, 2]


def grouped(config, root, *, graph=False, seeds=SEEDS, **kw):
    """The seeds trained as a group: eagerly, or with ``graph`` replayed (by whatever
    ``train.capture_for`` gives: a test patches in :func:`rerun`)."""
    return train_runs(config, seeds, root=root, device="cpu", progress=False, group=True, graph=graph, **kw)


@pytest.fixture
def replayed(monkeypatch):
    """Make ``graph=True`` on the CPU replay with :func:`rerun` (CUDA graphs' stand-in)."""
    monkeypatch.setattr(train, "capture_for", lambda device: rerun)


def replay_counts(run) -> tuple[int, int, int]:
    found = re.search(r"CUDA graphs \((\d+) captured, (\d+) of (\d+) steps replayed\)", run.record["engine"])
    assert found, run.record["engine"]
    return tuple(int(x) for x in found.groups())


SETTINGS = {
    # log_every 3 of 13 steps: monitored and plain iterations, two graphs
    "toy BN, separate": toy_config(steps=13, log_every=3),
    "toy BN, combined, eval G step, bf16": toy_config(steps=13, log_every=3, routine="combined", g_bn_mode="eval",
                                                      precision="bf16"),
    "toy, split, joint G step, reuse": toy_config(steps=13, log_every=3, routine="split", g_bn_mode="joint",
                                                  d_fakes="reuse"),
    "toy, lsgan, 2 D steps, rmsprop": toy_config(steps=13, log_every=3, loss="lsgan", d_steps=2,
                                                 optimizer="rmsprop"),
    # instance noise decays to 0 at step 6: four kinds of iteration
    "image BN, noisy labels, dropout, instance noise": image_config(steps=12, log_every=2, instance_noise=0.1,
                                                                    instance_noise_decay=6),
    "image, train-mode fakes, shift term": image_config(steps=10, log_every=3, d_fakes="train-mode",
                                                        g_shift_weight=0.5),
}


def kinds_of_iteration(config) -> Counter:
    """How many steps of each kind (monitored?, instance noise on?) a run has."""
    t = config.train
    noisy = lambda s: t.instance_noise > 0 and (t.instance_noise_decay == 0 or s < t.instance_noise_decay)  # noqa: E731
    return Counter((s % t.log_every == 0 or s == t.steps, noisy(s)) for s in range(1, t.steps + 1))


@pytest.mark.parametrize("config", SETTINGS.values(), ids=SETTINGS.keys())
def test_a_replayed_group_trains_the_runs_of_the_eager_group(config, tmp_path, replayed):
    eager, graphed = grouped(config, tmp_path / "eager"), grouped(config, tmp_path / "graphed", graph=True)
    for a, b in zip(eager, graphed):
        assert (a.seed, b.status) == (b.seed, "complete")
        gaps = largest_gaps(a, b)
        assert max(gaps.values()) == 0.0, {k: v for k, v in gaps.items() if v > 0}
    kinds = kinds_of_iteration(config)
    # every kind of iteration that outlasted its warm-up got its graph, and every step after was replayed
    warm = GraphedGroup.WARMUP
    expected = (sum(n > warm for n in kinds.values()), sum(max(0, n - warm) for n in kinds.values()), config.train.steps)
    assert replay_counts(graphed[0]) == expected
    assert expected[0] >= 2
    assert eager[0].record["engine"].endswith("; eager (CUDA graphs turned off)")


def test_weight_norm_with_tprelu_replays_as_its_eager_group(tmp_path, replayed):
    config = get_experiment("wn:wn", "smoke").vary(steps=6, log_every=2, sample_every=3, eval_every=0,
                                                   n_train=64, n_test=16, n_samples=4, recon_final_steps=2)
    eager, graphed = grouped(config, tmp_path / "a", seeds=[0, 1]), grouped(config, tmp_path / "b", graph=True,
                                                                            seeds=[0, 1])
    for a, b in zip(eager, graphed):
        assert max(largest_gaps(a, b).values()) == 0.0
    assert replay_counts(graphed[0])[1] == 6 - 2 * GraphedGroup.WARMUP


def test_on_a_cpu_a_lone_seed_runs_eagerly_even_when_graphs_are_asked_for(tmp_path):
    config = toy_config(steps=8, norm="none", log_every=4)
    run = train_runs(config, [3], root=tmp_path, device="cpu", progress=False, graph=True)[0]
    assert run.record["engine"] == "one seed, eager"


# ----------------------------------------------------------------- a graph that cannot stand


def failing_capture(iteration):
    raise RuntimeError("operation not permitted when stream is capturing")


def drifting_capture(iteration):
    """A replay that measures D(real) 0.1 too high: the first-replay check must catch it."""
    def replay():
        out = dict(iteration())
        out["d_real"] = out["d_real"] + 0.1
        return out
    return replay


@pytest.mark.parametrize("capture,why", [(failing_capture, "capturing it failed: operation not permitted"),
                                         (drifting_capture, "its first replay measured d_real")])
def test_a_graph_that_fails_or_disagrees_is_dropped_and_the_group_goes_on_eagerly(capture, why, tmp_path,
                                                                                    monkeypatch):
    config = toy_config(steps=10, log_every=5)
    eager = grouped(config, tmp_path / "eager")
    monkeypatch.setattr(train, "capture_for", lambda device: capture)
    refused = grouped(config, tmp_path / "refused", graph=True)
    for a, b in zip(eager, refused):
        assert max(largest_gaps(a, b).values()) == 0.0  # the eager iteration stood, state put back
        assert "eager, CUDA graph refused: " + why in b.record["engine"]


def _state(values: dict[str, float]) -> dict[str, torch.Tensor]:
    return {name: torch.full((1000,), v) if not name.endswith(":step") else torch.tensor(v) for name, v in values.items()}


def test_the_first_replay_check_tolerates_rounding_and_catches_lost_or_wrong_work():
    out = {"loss_d": torch.tensor([0.7, 0.6]), "d_real": torch.tensor([0.5, 0.4])}
    before = _state({"g.w": 0.0, "d.w": 0.0, "d.w:step": 3.0})
    eager = _state({"g.w": 1e-3, "d.w": 2e-3, "d.w:step": 4.0})
    assert disagreement(out, out, before, eager, eager) is None
    rounding = {**eager, "d.w": eager["d.w"] + 1e-9}
    rounding["g.w"] = eager["g.w"].clone()
    rounding["g.w"][:5] = -1e-3  # five BN-fed biases stepped the other way
    assert disagreement(out, {k: v * (1 + 1e-6) for k, v in out.items()}, before, eager, rounding) is None
    assert "updated D differently" in disagreement(out, out, before, eager, {**eager, "d.w": before["d.w"]})
    assert "updated G differently" in disagreement(out, out, before, eager, {**eager, "g.w": 2 * eager["g.w"]})
    assert "left d.w:step at 3.0" in disagreement(out, out, before, eager, {**eager, "d.w:step": torch.tensor(3.0)})
    assert "measured loss_d" in disagreement(out, {**out, "loss_d": out["loss_d"] + 1e-2}, before, eager, eager)
    nan = {**out, "loss_d": torch.tensor([float("nan"), 0.6])}
    assert disagreement(nan, nan, before, eager, eager) is None  # a diverged seed is measured alike


# ----------------------------------------------------------------- divergence, interruption


def test_a_seed_that_diverges_in_a_replayed_group_is_recorded_and_the_others_go_on(tmp_path, monkeypatch, replayed):
    config = toy_config(steps=20, norm="none", log_every=2)
    original = GraphedGroup.__call__
    monkeypatch.setattr(GraphedGroup, "__call__", nan_loss_for_seed(original, 1, 9))
    runs = grouped(config, tmp_path / "graphed", graph=True)
    assert [r.status for r in runs] == ["complete", "diverged", "complete"]
    assert runs[1].diverged_at == 9
    monkeypatch.setattr(GraphedGroup, "__call__", original)
    eager = grouped(config, tmp_path / "eager", seeds=[0, 2])
    for a, b in zip(eager, [runs[0], runs[2]]):
        assert max(largest_gaps(a, b).values()) <= 1e-6
    # the two seeds left were replayed again (their graphs captured anew after warm-up)
    assert replay_counts(runs[0])[1] > replay_counts(runs[1])[1]


def test_an_interrupted_replayed_group_resumes_to_the_same_runs(tmp_path, monkeypatch, replayed):
    config = image_config(steps=9, norm="none", checkpoint_every=3, log_every=3)
    straight = grouped(config, tmp_path / "straight", graph=True)

    def ctrl_c_at_step_7(trainer: Trainer) -> None:
        if trainer.step == 7:
            raise KeyboardInterrupt

    real_run_loop = train.run_loop
    monkeypatch.setattr(train, "run_loop", lambda stepper, **kw: real_run_loop(stepper, **{**kw, "callback": ctrl_c_at_step_7}))
    with pytest.raises(TrainingInterrupted, match="resume from step 6"):
        grouped(config, tmp_path / "cut", graph=True)
    monkeypatch.setattr(train, "run_loop", real_run_loop)
    resumed = grouped(config, tmp_path / "cut", graph=True)
    assert [(r.origin, r.resumed_at) for r in resumed] == [("resumed", 6)] * 3
    for a, b in zip(straight, resumed):
        assert max(largest_gaps(a, b).values()) == 0.0


# ----------------------------------------------------------------- nothing a capture forbids


RANDOM_OPS = ("rand", "normal", "bernoulli", "uniform", "multinomial", "exponential", "cauchy", "geometric")


class CaptureRules(TorchDispatchMode):
    """Records what a CUDA-graph capture forbids or would freeze: reading a value back to the
    host (``.item()``, ``bool(t)``), a random draw (it would repeat its capture-time values
    unless drawn from the graph-safe generator; the group draws before), a tensor made from
    Python data (a host-to-device copy). The CPU optimizers read their step count back; the
    capturable ones used under CUDA graphs do not, so frames in torch.optim are let through."""

    def __init__(self) -> None:
        super().__init__()
        self.broken: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        bad = (name in ("_local_scalar_dense", "lift_fresh", "lift_fresh_copy", "nonzero")
               or any(word in name for word in RANDOM_OPS))
        if bad:
            import traceback
            frames = traceback.extract_stack()
            if not any("torch/optim/" in f.filename for f in frames):
                ours = [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in frames if "/bngan/" in f.filename]
                self.broken.append(f"{name} at {ours[-3:]}")
        return func(*args, **(kwargs or {}))


RULE_SETTINGS = {
    **SETTINGS,
    "toy, minimax, 2 G steps, moment matching": toy_config(loss="minimax", g_steps=2, match_moments=True),
    "image, split, eval G step, reuse": image_config(routine="split", g_bn_mode="eval", d_fakes="reuse"),
    "weight norm, TPReLU": get_experiment("wn:wn", "smoke").vary(n_train=64, n_test=16, n_samples=4),
}


@pytest.mark.parametrize("config", RULE_SETTINGS.values(), ids=RULE_SETTINGS.keys())
@pytest.mark.parametrize("monitor", [False, True], ids=["plain", "monitored"])
def test_the_iteration_a_graph_replays_breaks_no_rule_of_capture(config, monitor, tmp_path):
    from bngan.runs import run_dir

    trainers = []
    for seed in (0, 1):
        tr = Trainer(config, seed, run_dir(config, seed, tmp_path), device=torch.device("cpu"), progress=False)
        tr.start()
        trainers.append(tr)
    group = SeedGroup(trainers)
    for step in (1, 2):  # the optimizers' state exists from the first step on, as after warm-up
        draws = group.draws(step, monitor)
        rules = CaptureRules()
        with rules:
            out = group.compute(draws, monitor)
        assert not rules.broken, rules.broken
    assert {"loss_d", "loss_g", "d_real", "d_fake", "d_fake_g"} <= set(out)
    assert all(v.shape == (2,) for v in out.values())


def test_the_rules_check_catches_a_host_sync_and_a_random_draw():
    rules = CaptureRules()
    with rules:
        x = torch.ones(3)
        if bool(x.sum() > 0):  # a host sync
            torch.randn(2)  # a random draw
    assert [b.split(" ")[0] for b in rules.broken] == ["_local_scalar_dense", "randn"]


@pytest.mark.parametrize("device,seeds,group,graph,together", [
    ("cpu", 3, None, None, False),  # CPU defaults: one by one
    ("cpu", 3, True, None, True),
    ("cpu", 1, True, True, False),  # a lone seed on a CPU: no group, no graphs
    ("cuda", 1, None, None, True),  # GPU defaults: a group of one, replayed
    ("cuda", 1, None, False, False),
    ("cuda", 3, False, False, False),
    ("cuda", 3, False, None, True),  # graphs without grouping: groups of one
    ("cuda", 3, None, False, True),
])
def test_which_seeds_take_the_group_path(device, seeds, group, graph, together):
    assert train.trains_together(torch.device(device), seeds, group=group, graph=graph) is together


def test_capture_for_names_cuda_graphs_on_a_gpu_only():
    assert step_graph.capture_for(torch.device("cpu")) is None
    assert step_graph.capture_for(torch.device("cuda")) is step_graph.cuda_graph


def test_what_a_replay_measured_is_not_overwritten_by_the_next_replay(tmp_path):
    """A graph writes into the same output tensors each replay; the stepper hands out copies."""
    from bngan.runs import run_dir

    config = toy_config(steps=20, norm="none")
    trainers = []
    for seed in (0, 1):
        tr = Trainer(config, seed, run_dir(config, seed, tmp_path), device=torch.device("cpu"), progress=False)
        tr.start()
        trainers.append(tr)
    stepper = GraphedGroup(SeedGroup(trainers), rerun, engine="test")
    outs = [stepper(step, monitor=False) for step in range(1, 6)]
    assert stepper.replayed == 5 - GraphedGroup.WARMUP
    kept = [(o.loss_d.clone(), o.d_real.clone()) for o in outs[-2]]
    stepper(6, monitor=False)
    assert all(torch.equal(o.loss_d, a) and torch.equal(o.d_real, b) for o, (a, b) in zip(outs[-2], kept))
    assert not torch.equal(outs[-2][0].loss_d, outs[-1][0].loss_d)  # the steps did measure different values


# ----------------------------------------------------------------- on a GPU (skipped elsewhere)


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

ON_GPU = {
    "toy, separate, keras fakes": toy_config(steps=20, norm="none", log_every=4),
    "toy BN, combined, eval G step": toy_config(steps=20, log_every=4, routine="combined", g_bn_mode="eval"),
    "image BN, noisy labels, dropout, instance noise": image_config(steps=16, log_every=4, instance_noise=0.1,
                                                                    instance_noise_decay=8),
    "image, split, joint G step, reuse, bf16": image_config(steps=16, log_every=4, routine="split", norm="none",
                                                            g_bn_mode="joint", d_fakes="reuse", precision="bf16"),
}


@needs_cuda
@pytest.mark.parametrize("config", ON_GPU.values(), ids=ON_GPU.keys())
def test_cuda_graphs_are_captured_and_train_the_runs_of_the_eager_group(config, tmp_path):
    def on_gpu(root, graph):
        return train_runs(config, SEEDS, root=root, device="cuda", progress=False, group=True, graph=graph)

    eager, graphed = on_gpu(tmp_path / "eager", False), on_gpu(tmp_path / "graphed", True)
    kinds = kinds_of_iteration(config)
    warm = GraphedGroup.WARMUP
    assert replay_counts(graphed[0]) == (sum(n > warm for n in kinds.values()),
                                         sum(max(0, n - warm) for n in kinds.values()), config.train.steps)
    for a, b in zip(eager, graphed):
        assert b.status == "complete"
        history = {c: v for c, v in largest_gaps(a, b).items() if c in a.history}
        # the same kernels on the same numbers; BN-fed biases may still part by +-lr (test_seed_group's docstring)
        bound = 1e-4 if "bn0_gap_real" not in a.history else 5e-2
        assert max(history.values()) <= bound, {k: v for k, v in history.items() if v > bound}


@needs_cuda
def test_a_deterministic_cuda_run_repeats_bitwise_eager_and_replayed(tmp_path):
    config = image_config(steps=12, log_every=3, deterministic=True)
    for graph in (False, True):
        runs = [train_runs(config, [0, 1], root=tmp_path / f"{graph}{i}", device="cuda", progress=False, group=True,
                           graph=graph) for i in range(2)]
        for a, b in zip(*runs):
            assert max(largest_gaps(a, b).values()) == 0.0, graph
