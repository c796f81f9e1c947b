"""Seed groups: the seeds of one setting trained together equal the one-seed runs.

Without BN the comparison is exact up to float rounding for a whole run (every parameter,
buffer, history column and snapshot). With BN it is made on the first step: a bias that
feeds a BN layer (and, when D sees pure batches, G's output bias) has zero gradient in
exact arithmetic, and Adam turns its rounding noise into full +-lr steps, so later steps of
two correct implementations part by about lr in those parameters.
"""

import math

import numpy as np
import pytest
import torch
from test_train import image_config, toy_config

from bngan import seed_group
from bngan.experiments import get_experiment
from bngan.runs import Run
from bngan.seed_group import SeedGroup, SeedGroupUnsupported
from bngan.train import train_run, train_runs
from bngan.trainer import TrainingInterrupted

SEEDS = [0, 1, 2]


def one_by_one(config, root, seeds=SEEDS) -> list[Run]:
    return [train_run(config, s, root=root, device="cpu", progress=False) for s in seeds]


def together(config, root, seeds=SEEDS, **kw) -> list[Run]:
    return train_runs(config, seeds, root=root, device="cpu", progress=False, group=True, **kw)


# What float32 rounding can make of a logged statistic when the group (vmap) and the loop reduce
# in different orders: a batch statistic sums up to n = 64 x 16 x 16 values, whose rounding
# error grows like sqrt(n) float32 epsilons of the values' scale; 16 allows for the few
# reductions in a row a BN gap or a gradient norm goes through. Relative to max(1, |value|), so
# it holds on any machine and thread count (a fixed 1e-4 failed on one at 1.12e-4), while a
# wrong routine or a crossed seed moves these values by 1e-2 and more.
STAT_TOL = 16 * math.sqrt(64 * 16 * 16) * float(torch.finfo(torch.float32).eps)


def largest_gaps(a: Run, b: Run) -> dict[str, float]:
    """Largest |difference| per parameter/buffer, per history column, and of the snapshots."""
    gaps = {}
    wa, wb = a.weights(), b.weights()
    for net in ("g", "d"):
        for name, value in wa[net].items():
            gaps[f"{net}.{name}"] = float((value.double() - wb[net][name].double()).abs().max())
    for column in a.history:
        x, y = torch.as_tensor(a.history[column]), torch.as_tensor(b.history[column])
        assert torch.equal(x.isnan(), y.isnan()), column
        gaps[column] = float((x - y).nan_to_num(0).abs().max()) if len(x) else 0.0
    gaps["samples"] = float((a.samples.float() - b.samples.float()).abs().max())
    return gaps


NO_BN = {
    "toy, separate, keras fakes": toy_config(steps=20, norm="none"),
    "toy, combined": toy_config(steps=20, norm="none", routine="combined"),
    "toy, split, train-mode fakes": toy_config(steps=20, norm="none", routine="split", d_fakes="train-mode"),
    "toy, reuse, minimax": toy_config(steps=20, norm="none", d_fakes="reuse", loss="minimax"),
    "toy, lsgan, 2 D steps, 2 G steps": toy_config(steps=20, norm="none", loss="lsgan", d_steps=2, g_steps=2),
    "toy, rmsprop, TTUR": toy_config(steps=20, norm="none", optimizer="rmsprop", lr_g=1e-4, lr_d=4e-4),
    "toy, moment matching, shift term": toy_config(steps=20, norm="none", match_moments=True, g_shift_weight=0.5),
    "image, noisy labels, dropout, separate": image_config(steps=12, norm="none"),
    "image, combined, instance noise": image_config(steps=12, norm="none", routine="combined",
                                                    instance_noise=0.1, instance_noise_decay=6),
    "image, split, joint G step": image_config(steps=12, norm="none", routine="split", g_bn_mode="joint"),
    "image, eval G step, reuse": image_config(steps=12, norm="none", g_bn_mode="eval", d_fakes="reuse"),
}


@pytest.mark.parametrize("config", NO_BN.values(), ids=NO_BN.keys())
def test_a_group_without_bn_equals_its_one_seed_runs_for_the_whole_run(config, tmp_path):
    alone, grouped = one_by_one(config, tmp_path / "a"), together(config, tmp_path / "b")
    assert all(run.record["engine"].startswith("seed group of 3") for run in grouped)
    assert all(run.record["engine"] == "one seed, eager" for run in alone)
    for a, b in zip(alone, grouped):
        assert (a.seed, a.status, b.status, b.steps_done) == (b.seed, "complete", "complete", config.train.steps)
        gaps = largest_gaps(a, b)
        assert max(gaps.values()) <= 1e-5, {k: v for k, v in gaps.items() if v > 1e-5}
        for name, value in a.metrics.items():
            if isinstance(value, float):
                assert b.metrics[name] == pytest.approx(value, rel=1e-4, abs=1e-6), name
    # seeds differ from each other (their initial weights), so agreement is not one run thrice
    assert max(v for k, v in largest_gaps(alone[0], grouped[1]).items() if k.startswith("g.")) > 1e-2


def test_weight_norm_with_tprelu_trains_as_a_group_like_one_seed_runs(tmp_path):
    # 4 steps: later, a TPReLU slope at its clamp bound (0 or 1) makes rounding a kink
    config = get_experiment("wn:wn", "smoke").vary(steps=4, log_every=1, sample_every=2, eval_every=0,
                                                   n_train=64, n_test=16, n_samples=4, recon_final_steps=2)
    alone, grouped = one_by_one(config, tmp_path / "a", [0, 1]), together(config, tmp_path / "b", [0, 1])
    # Adam moves a weight by about lr whatever its gradient's size, so a gradient of ~1e-12 that
    # rounds to the other sign in one path moves that weight 2 lr apart per step: how far apart
    # the paths may drift depends on the CPU's kernels (seen: 6e-4 after 4 steps on AVX2, under
    # 1e-5 on AVX-512). A different seed stream or update would move them by the init's scale.
    adam_bound = 2 * config.train.steps * max(config.train.lr_g, config.train.lr_d)
    for a, b in zip(alone, grouped):
        gaps = largest_gaps(a, b)
        samples = gaps.pop("samples")
        assert samples <= 1.0  # uint8 images may round one level apart
        assert max(gaps.values()) <= adam_bound, {k: v for k, v in gaps.items() if v > adam_bound}
        assert np.median(list(gaps.values())) <= 1e-5  # most of the model agrees to rounding


BN = {
    "toy, separate": toy_config(),
    "toy, combined, eval G step": toy_config(routine="combined", g_bn_mode="eval"),
    "toy, split, joint G step, reuse": toy_config(routine="split", g_bn_mode="joint", d_fakes="reuse"),
    "image, separate, keras fakes": image_config(),
    "image, combined, train-mode fakes": image_config(routine="combined", d_fakes="train-mode"),
    "image, split, joint G step": image_config(routine="split", g_bn_mode="joint"),
}


@pytest.mark.parametrize("config", BN.values(), ids=BN.keys())
def test_a_group_with_bn_measures_and_updates_its_first_step_as_the_one_seed_runs(config, tmp_path):
    config = config.vary(steps=1, log_every=1)
    alone, grouped = one_by_one(config, tmp_path / "a"), together(config, tmp_path / "b")
    g_side = ("loss_g", "d_fake_g", "grad_g_bottom", "grad_g_top")
    for a, b in zip(alone, grouped):
        gaps = largest_gaps(a, b)
        assert any(c.startswith("bn0_gap") for c in gaps) and any(c.startswith("g_bn0") for c in gaps)
        logged = {c: v for c, v in gaps.items() if c in a.history and c != "step"}
        if config.train.g_bn_mode == "eval":  # D in eval mode sees its +-lr pre-BN biases (see above)
            logged = {c: v for c, v in logged.items() if c not in g_side}
        scale = {c: max(1.0, float(np.nan_to_num(np.abs(a.history[c])).max())) for c in logged}
        too_far = {c: v for c, v in logged.items() if v > STAT_TOL * scale[c]}
        assert not too_far, (too_far, STAT_TOL)
        assert gaps["samples"] <= 1.0  # uint8 images may round one level apart


def nan_loss_for_seed(call, seed: int, from_step: int):
    """A stepper's ``call`` that reports seed ``seed``'s D loss as NaN from ``from_step`` on."""
    def patched(self, step, monitor=False):
        outs = call(self, step, monitor)
        for tr, out in zip(self.trainers, outs):
            if tr.seed == seed and step >= from_step:
                out.loss_d = out.loss_d * float("nan")
        return outs

    return patched


def test_a_diverged_seed_is_recorded_at_its_step_and_the_others_finish(tmp_path, monkeypatch):
    config = toy_config(steps=12, norm="none", log_every=2)
    original = seed_group.SeedGroup.__call__
    monkeypatch.setattr(seed_group.SeedGroup, "__call__", nan_loss_for_seed(original, 1, 5))
    runs = together(config, tmp_path)
    assert [r.status for r in runs] == ["complete", "diverged", "complete"]
    assert runs[1].diverged_at == 5 and runs[1].record["steps_done"] == 6
    monkeypatch.setattr(seed_group.SeedGroup, "__call__", original)
    alone = one_by_one(config, tmp_path / "alone", [0, 2])
    for a, b in zip(alone, [runs[0], runs[2]]):
        assert max(largest_gaps(a, b).values()) <= 1e-5


def test_an_interrupted_group_resumes_from_its_checkpoints_to_the_same_runs(tmp_path, monkeypatch):
    config = image_config(steps=8, norm="none", checkpoint_every=3)
    straight = together(config, tmp_path / "straight")
    original = seed_group.SeedGroup.__call__

    def ctrl_c_at_step_5(self, step, monitor=False):
        if step == 5:
            raise KeyboardInterrupt
        return original(self, step, monitor)

    monkeypatch.setattr(seed_group.SeedGroup, "__call__", ctrl_c_at_step_5)
    with pytest.raises(TrainingInterrupted, match="resume from step 3"):
        together(config, tmp_path / "cut")
    monkeypatch.setattr(seed_group.SeedGroup, "__call__", original)
    resumed = together(config, tmp_path / "cut")
    assert [(r.origin, r.resumed_at) for r in resumed] == [("resumed", 3)] * 3
    for a, b in zip(straight, resumed):
        assert max(largest_gaps(a, b).values()) == 0.0


def test_cached_seeds_load_and_only_the_missing_ones_train(tmp_path):
    config = toy_config(norm="none")
    first = train_run(config, 1, root=tmp_path, device="cpu", progress=False)
    runs = together(config, tmp_path)
    assert [r.origin for r in runs] == ["trained", "cached", "trained"]
    assert runs[1].record == first.record
    assert runs[0].record["engine"] == "seed group of 2 (torch.func.vmap); eager (CUDA graphs need a GPU)"


def test_on_a_cpu_seeds_train_one_by_one_unless_a_group_is_asked_for(tmp_path):
    runs = train_runs(toy_config(norm="none"), [0, 1], root=tmp_path, device="cpu", progress=False)
    assert {r.record["engine"] for r in runs} == {"one seed, eager"}


def test_a_setting_the_group_cannot_batch_runs_seed_by_seed_and_says_why(tmp_path, monkeypatch):
    def refuse(self, trainers, **options):
        raise SeedGroupUnsupported("made up for the test")

    monkeypatch.setattr(SeedGroup, "__init__", refuse)
    config = toy_config(norm="none")
    runs = together(config, tmp_path / "b", [0, 1])
    assert {r.record["engine"] for r in runs} == {"one seed, eager (made up for the test)"}
    alone = one_by_one(config, tmp_path / "a", [0, 1])
    for a, b in zip(alone, runs):
        assert max(largest_gaps(a, b).values()) == 0.0


def test_seeds_at_different_steps_are_not_stepped_together(tmp_path):
    from bngan.runs import run_dir
    from bngan.trainer import Trainer

    config = toy_config(steps=6, norm="none")
    trainers = []
    for seed, steps in ((0, 0), (1, 2)):
        tr = Trainer(config, seed, run_dir(config, seed, tmp_path), device=torch.device("cpu"), progress=False)
        tr.step = steps
        trainers.append(tr)
    with pytest.raises(ValueError, match="at steps \\[0, 2\\]"):
        SeedGroup(trainers)



def test_run_experiment_with_group_trains_the_seeds_together_and_prints_a_line_each(tmp_path, capsys):
    from bngan.experiments import run_experiment

    runs = run_experiment(toy_config(norm="none"), seeds=[0, 1], root=tmp_path, device="cpu", group=True)
    assert [r.record["engine"] for r in runs] == ["seed group of 2 (torch.func.vmap); eager (CUDA graphs need a GPU)"] * 2
    lines = capsys.readouterr().out.splitlines()[-2:]
    assert [line.split(" ", 1)[1].split(" s)")[0].rsplit(",", 1)[0] for line in lines] == [
        "seed 0: trained (6 steps", "seed 1: trained (6 steps"]
    again = run_experiment(toy_config(norm="none"), seeds=[0, 1], root=tmp_path, device="cpu", group=True)
    assert [r.origin for r in again] == ["cached", "cached"]


def test_a_group_whose_first_step_fails_falls_back_to_the_exact_one_seed_runs(tmp_path, monkeypatch):
    def vmap_cannot(self, *args, **kwargs):
        raise RuntimeError("vmap: no batching rule for this layer\nsecond line")

    monkeypatch.setattr(SeedGroup, "discriminate", vmap_cannot)
    config = image_config(norm="none")
    runs = together(config, tmp_path / "b", [0, 1])
    assert {r.record["engine"] for r in runs} == {
        "one seed, eager (its first batched step failed: vmap: no batching rule for this layer)"}
    alone = one_by_one(config, tmp_path / "a", [0, 1])
    for a, b in zip(alone, runs):
        assert max(largest_gaps(a, b).values()) == 0.0


# --------------------------------------------------------------------------- precision and determinism


def test_bf16_is_opt_in_with_its_own_cache_key_and_trains_one_seed_and_grouped(tmp_path):
    fp32 = image_config(norm="none")
    bf16 = fp32.vary(precision="bf16")
    assert bf16.hash() != fp32.hash() and fp32.vary(precision="fp32").hash() == fp32.hash()
    alone = one_by_one(bf16, tmp_path / "a", [0, 1])
    grouped = together(bf16, tmp_path / "b", [0, 1])
    reference = one_by_one(fp32, tmp_path / "c", [0])[0]
    for run in alone + grouped:
        assert run.status == "complete" and torch.isfinite(torch.as_tensor(run.history["loss_d"])).all()
    weights = lambda gaps: max(v for k, v in gaps.items() if k[:2] in ("g.", "d."))  # noqa: E731
    assert weights(largest_gaps(alone[0], reference)) > 1e-4  # bf16 rounds visibly (fp32 groups agree to 1e-5)
    assert weights(largest_gaps(alone[0], grouped[0])) < 1e-2  # and a group rounds about alike


def test_deterministic_kernels_hold_during_the_step_only(tmp_path, monkeypatch):
    from bngan.step import GANStep, step_numerics

    config = image_config(deterministic=True)
    seen = []
    original = GANStep._iteration

    def spy(self, step, monitor):
        seen.append((torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic))
        return original(self, step, monitor)

    monkeypatch.setattr(GANStep, "_iteration", spy)
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic)
    first = train_run(config, 0, root=tmp_path / "a", device="cpu", progress=False)
    assert set(seen) == {(True, True)} and len(seen) == config.train.steps
    assert (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic) == before
    again = train_run(config, 0, root=tmp_path / "b", device="cpu", progress=False)
    assert max(largest_gaps(first, again).values()) == 0.0
    with step_numerics(toy_config().train, torch.device("cpu")):  # the default changes nothing
        assert torch.are_deterministic_algorithms_enabled() == before[0]


def test_one_seed_and_a_group_run_the_same_iteration(tmp_path, monkeypatch):
    from bngan import routine

    callers = []
    original = routine.iteration

    def spy(nets, t, r, monitor):
        callers.append(type(nets).__name__)
        return original(nets, t, r, monitor)

    monkeypatch.setattr(routine, "iteration", spy)
    config = toy_config(steps=3, norm="none")
    one_by_one(config, tmp_path / "a", [0])
    together(config, tmp_path / "b", [0, 1])
    assert callers == ["GANStep"] * 3 + ["SeedGroup"] * 3
