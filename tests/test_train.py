"""Training: the D routines and G's BN modes (checked through optimizer-step counters and
forward hooks on D), losses and noise labels, the BN probe, and whole runs (records, cache,
resume after an interruption, divergence)."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import bngan
from bngan import models, runs, train
from bngan import routine as step_module
from bngan.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from bngan.data import BatchSampler
from bngan.runs import Run, RunDir, run_dir
from bngan.train import (BNProbe, GANStep, GBNProbe, build_networks, d_loss_fn, g_loss_fn, make_optimizers,
                         make_targets, train_run)

B = 8  # batch size of the GANStep tests
CPU = torch.device("cpu")


def toy_config(**changes) -> ExperimentConfig:
    """A tiny 2D GAN: MLPs of width 8 with BN in both nets, a few steps."""
    base = ExperimentConfig(
        name="tiny-toy",
        data=DataConfig(kind="toy", toy="gaussian", toy_samples=64),
        model=ModelConfig(arch="mlp", latent_dim=2, width=8, depth=2, norm="batch", norm_in="both"),
        train=TrainConfig(steps=6, batch_size=B, log_every=1, sample_every=3, checkpoint_every=2, eval_every=0),
    )
    return base.vary(**changes) if changes else base


def image_config(**changes) -> ExperimentConfig:
    """A tiny Keras-style DCGAN at 16px with BN, dropout and noisy labels (all draw random numbers)."""
    base = ExperimentConfig(
        name="tiny-image",
        data=DataConfig(kind="image", dataset="digits", image_size=16, n_train=64, n_test=8),
        model=ModelConfig(arch="keras", latent_dim=8, g_filters=(8, 8), d_filters=(8, 8, 8, 8), dropout=0.25),
        train=TrainConfig(steps=8, batch_size=8, real_label=(0.7, 1.0), fake_label=(0.0, 0.3), flip_prob=0.05,
                          log_every=1, sample_every=3, n_samples=4, eval_every=4, recon_steps=2,
                          recon_final_steps=2, checkpoint_every=3),
    )
    return base.vary(**changes) if changes else base


# --------------------------------------------------------------------------- an instrumented GANStep


def instrumented_step(config: ExperimentConfig, seed: int = 0) -> SimpleNamespace:
    """A GANStep whose optimizer steps and D/G forward passes are logged in ``events``.

    D's pre-hook records (batch size, D in training mode?, first B rows == the latest real
    batch?, last B rows == the latest G output?, a copy of D's first weight). Real data is
    far from anything G makes at init, so real and fake rows cannot be confused.
    """
    torch.manual_seed(seed)
    g, d = build_networks(config)
    opt_g, opt_d = make_optimizers(config, g, d)
    data = torch.randn(64, 2, generator=torch.Generator().manual_seed(seed)) + torch.tensor([4.0, -3.0])
    sampler = BatchSampler(data, config.train.batch_size, seed=seed)
    ns = SimpleNamespace(g=g, d=d, opt_g=opt_g, opt_d=opt_d, events=[], reals=[], fakes=[], g_inputs=[],
                         d_outputs=[])

    def sample_real() -> torch.Tensor:
        batch = sampler()
        ns.reals.append(batch.clone())
        return batch

    def d_pre(module, inputs):
        x = inputs[0].detach()
        n = config.train.batch_size
        has_real = bool(ns.reals) and len(x) >= n and torch.equal(x[:n], ns.reals[-1])
        has_fake = bool(ns.fakes) and len(x) >= n and torch.equal(x[-n:], ns.fakes[-1])
        ns.events.append(SimpleNamespace(kind="d", n=len(x), training=module.training, real_first=has_real,
                                         fake_last=has_fake, weight=d[0].weight.detach().clone(),
                                         bn_training=[m.training for m in d.modules()]))

    def d_post(module, inputs, output):
        ns.d_outputs.append(output.detach().clone())

    def g_pre(module, inputs):
        ns.g_inputs.append(inputs[0].detach().clone())

    def g_post(module, inputs, output):
        ns.fakes.append(output.detach().clone())

    d.register_forward_pre_hook(d_pre)
    d.register_forward_hook(d_post)
    g.register_forward_pre_hook(g_pre)
    g.register_forward_hook(g_post)
    opt_d.register_step_post_hook(lambda *a: ns.events.append(SimpleNamespace(kind="d_step")))
    opt_g.register_step_post_hook(lambda *a: ns.events.append(SimpleNamespace(kind="g_step")))
    ns.step = GANStep(config, g, d, opt_g, opt_d, sample_real, CPU)
    return ns


def kinds(events, wanted=("d", "d_step", "g_step")) -> list[str]:
    return [e.kind for e in events if e.kind in wanted]


# --------------------------------------------------------------------------- D routines


def test_combined_routine_is_one_joint_forward_real_rows_first_and_one_step():
    s = instrumented_step(toy_config(routine="combined"))
    s.step.d_update(1, monitor=False)
    assert kinds(s.events) == ["d", "d_step"]
    (fwd,) = [e for e in s.events if e.kind == "d"]
    assert fwd.n == 2 * B and fwd.training
    assert fwd.real_first and fwd.fake_last  # rows [0, B) are the real batch, [B, 2B) G's fakes


def test_split_routine_is_two_forwards_real_then_fake_and_one_step():
    s = instrumented_step(toy_config(routine="split"))
    s.step.d_update(1, monitor=False)
    assert kinds(s.events) == ["d", "d", "d_step"]
    real, fake = [e for e in s.events if e.kind == "d"]
    assert (real.n, fake.n) == (B, B)
    assert real.real_first and not real.fake_last
    assert fake.fake_last and not fake.real_first
    assert torch.equal(real.weight, fake.weight)  # no step between the two passes


def test_separate_routine_steps_on_real_only_then_on_fake_only():
    s = instrumented_step(toy_config(routine="separate"))
    s.step.d_update(1, monitor=False)
    assert kinds(s.events) == ["d", "d_step", "d", "d_step"]
    real, fake = [e for e in s.events if e.kind == "d"]
    assert (real.n, fake.n) == (B, B)
    assert real.real_first and not real.fake_last
    assert fake.fake_last and not fake.real_first
    assert not torch.equal(real.weight, fake.weight)  # the real-only step came before the fake pass


def test_split_loss_is_mean_of_real_and_fake_losses():
    s = instrumented_step(toy_config(routine="split"))
    loss = s.step.d_update(1, monitor=False).loss
    logits_real, logits_fake = s.d_outputs
    ones, zeros = torch.ones(B, 1), torch.zeros(B, 1)
    expected = 0.5 * (d_loss_fn("bce", logits_real, ones) + d_loss_fn("bce", logits_fake, zeros))
    torch.testing.assert_close(loss, expected)


@pytest.mark.parametrize("routine,d_steps_per_update", [("combined", 1), ("split", 1), ("separate", 2)])
def test_d_steps_and_g_steps_multiply_the_updates(routine, d_steps_per_update):
    s = instrumented_step(toy_config(routine=routine, d_steps=3, g_steps=2))
    out = s.step(1, monitor=True)
    seq = kinds(s.events, ("d_step", "g_step"))
    assert seq.count("d_step") == 3 * d_steps_per_update
    assert seq.count("g_step") == 2
    assert seq == ["d_step"] * (3 * d_steps_per_update) + ["g_step"] * 2  # all D updates first
    halves = set(GANStep.D_HALF_COLUMNS) if routine == "separate" else set()
    assert set(out.grads) == {"grad_d_bottom", "grad_d_top", "grad_g_bottom", "grad_g_top"} | halves
    assert all(v > 0 for v in out.grads.values())

    single = instrumented_step(toy_config(routine=routine))
    single.step(1)
    seq1 = kinds(single.events, ("d_step", "g_step"))
    assert seq1.count("d_step") * 3 == seq.count("d_step")
    assert seq1.count("g_step") == 1


# --------------------------------------------------------------------------- G's BN mode


def _g_update_checked(mode: str):
    s = instrumented_step(toy_config(g_bn_mode=mode))
    s.step.d_update(1, monitor=False)  # D has .grad from its own update now
    d_params = {k: v.detach().clone() for k, v in s.d.named_parameters()}
    d_buffers = {k: v.clone() for k, v in s.d.named_buffers()}
    g_params = {k: v.detach().clone() for k, v in s.g.named_parameters()}
    for p in s.d.parameters():
        p.grad = None
    n_reals = len(s.reals)
    start = len(s.events)
    loss, d_fake_g = s.step.g_update()
    events = s.events[start:]
    # D's weights are untouched and get no gradient from G's update; G's are updated.
    assert all(torch.equal(v, d_params[k]) for k, v in s.d.named_parameters())
    assert all(p.grad is None for p in s.d.parameters())
    assert all(p.requires_grad for p in s.d.parameters())
    assert not all(torch.equal(v, g_params[k]) for k, v in s.g.named_parameters())
    assert kinds(events) == ["d", "g_step"]
    assert s.d.training and all(m.training for m in s.d.modules())
    # the reported D output is the mean probability on exactly the fakes G's loss used
    logits = s.d_outputs[-1][-B:]
    torch.testing.assert_close(d_fake_g, torch.sigmoid(logits).mean())
    return s, events[0], loss, d_buffers, len(s.reals) - n_reals


def test_g_bn_mode_train_uses_batch_statistics_of_the_fakes():
    s, fwd, loss, buffers, new_reals = _g_update_checked("train")
    assert fwd.n == B and fwd.training and all(fwd.bn_training)
    assert fwd.fake_last and not fwd.real_first and new_reals == 0
    assert not torch.equal(s.d[1].running_mean, buffers["1.running_mean"])  # train-mode BN moved its stats
    torch.testing.assert_close(loss, g_loss_fn("bce", s.d_outputs[-1]))


def test_g_bn_mode_eval_uses_running_statistics_and_restores_train_mode():
    s, fwd, loss, buffers, new_reals = _g_update_checked("eval")
    assert fwd.n == B and not fwd.training and not any(fwd.bn_training)
    assert fwd.fake_last and new_reals == 0
    for k, v in s.d.named_buffers():
        assert torch.equal(v, buffers[k]), k  # running statistics untouched
    torch.testing.assert_close(loss, g_loss_fn("bce", s.d_outputs[-1]))


def test_g_bn_mode_joint_normalizes_fakes_with_a_fresh_real_batch_loss_on_fakes_only():
    s, fwd, loss, buffers, new_reals = _g_update_checked("joint")
    assert new_reals == 1
    assert fwd.n == 2 * B and fwd.training
    assert fwd.real_first and fwd.fake_last  # first B rows: the fresh real batch
    torch.testing.assert_close(loss, g_loss_fn("bce", s.d_outputs[-1][B:]))


# --------------------------------------------------------------------------- losses and labels


def test_minimax_g_loss_is_minus_d_loss_on_fakes():
    logits = torch.linspace(-4, 4, 9).unsqueeze(1)
    torch.testing.assert_close(g_loss_fn("minimax", logits), -d_loss_fn("minimax", logits, torch.zeros_like(logits)))
    torch.testing.assert_close(g_loss_fn("minimax", logits), torch.log1p(-torch.sigmoid(logits)).mean())


def test_bce_g_loss_is_non_saturating():
    logits = torch.linspace(-4, 4, 9).unsqueeze(1)
    torch.testing.assert_close(g_loss_fn("bce", logits), -F.logsigmoid(logits).mean())
    # Where D confidently rejects the fakes, minimax's gradient vanishes but bce's does not.
    confident = torch.full((4, 1), -10.0, requires_grad=True)
    (grad_bce,) = torch.autograd.grad(g_loss_fn("bce", confident), confident)
    (grad_mm,) = torch.autograd.grad(g_loss_fn("minimax", confident), confident)
    assert grad_bce.abs().min() > 0.2
    assert grad_mm.abs().max() < 1e-4
    assert (grad_bce < 0).all() and (grad_mm < 0).all()  # both push the logit up


def test_lsgan_losses_on_known_logits():
    logits = torch.tensor([[0.0], [1.0], [3.0]])
    targets = torch.tensor([[1.0], [0.0], [1.0]])
    assert g_loss_fn("lsgan", logits).item() == pytest.approx(0.5 * (1 + 0 + 4) / 3)
    assert d_loss_fn("lsgan", logits, targets).item() == pytest.approx(0.5 * (1 + 1 + 4) / 3)


def test_d_bce_loss_with_soft_targets():
    logits = torch.tensor([[-1.0], [0.5], [2.0]])
    targets = torch.tensor([[0.1], [0.8], [0.95]])
    p = torch.sigmoid(logits)
    manual = -(targets * p.log() + (1 - targets) * (1 - p).log()).mean()
    torch.testing.assert_close(d_loss_fn("bce", logits, targets), manual)


def test_g_shift_weight_adds_minus_w_mean_first_coordinate():
    w = 3.0
    results = {}
    for weight in (0.0, w):
        s = instrumented_step(toy_config(g_shift_weight=weight), seed=0)
        torch.manual_seed(123)
        loss, _ = s.step.g_update()
        results[weight] = (loss, s.fakes[-1], s.g_inputs[-1], {k: p.grad.clone() for k, p in s.g.named_parameters()})
    (loss0, fake0, z0, grad0), (loss_w, fake_w, z_w, grad_w) = results[0.0], results[w]
    assert torch.equal(z0, z_w) and torch.equal(fake0, fake_w)
    torch.testing.assert_close(loss_w - loss0, -w * fake0[:, 0].mean())

    # G's gradient changes by exactly -w * d mean(fake[:, 0]) / d theta, i.e. descent raises fake[:, 0].
    torch.manual_seed(0)
    g, _ = build_networks(toy_config())
    names = [k for k, _ in g.named_parameters()]
    shift = torch.autograd.grad(g(z0)[:, 0].mean(), list(g.parameters()))
    dot = 0.0
    for name, up in zip(names, shift):
        torch.testing.assert_close(grad_w[name] - grad0[name], -w * up, atol=1e-6, rtol=1e-4)
        dot += float(((grad_w[name] - grad0[name]) * up).sum())
    assert dot < 0


def test_flipped_labels_occur_at_the_requested_rate():
    torch.manual_seed(0)
    n, p = 200_000, 0.05
    se = math.sqrt(p * (1 - p) / n)
    real = make_targets(True, n, real_label=1.0, fake_label=0.0, flip_prob=p)
    fake = make_targets(False, n, real_label=1.0, fake_label=0.0, flip_prob=p)
    assert real.shape == (n, 1)
    assert set(real.unique().tolist()) == {0.0, 1.0}
    assert abs(float((real == 0).float().mean()) - p) < 4 * se
    assert abs(float((fake == 1).float().mean()) - p) < 4 * se
    assert (make_targets(True, 1000, real_label=1.0, fake_label=0.0, flip_prob=0.0) == 1).all()


def test_label_ranges_and_flipped_targets_from_the_other_range():
    torch.manual_seed(0)
    smooth = make_targets(True, 10_000, real_label=(0.7, 1.0), fake_label=(0.0, 0.3), flip_prob=0.0)
    assert smooth.min() >= 0.7 and smooth.max() <= 1.0
    assert smooth.std() > 0.05  # drawn per sample, not one constant
    flipped = make_targets(True, 20_000, real_label=(0.7, 1.0), fake_label=(0.0, 0.3), flip_prob=0.3)
    low = (flipped >= 0.0) & (flipped <= 0.3)
    high = (flipped >= 0.7) & (flipped <= 1.0)
    assert (low | high).all()
    assert abs(float(low.float().mean()) - 0.3) < 0.02
    assert flipped[low].std() > 0.05  # flipped targets are drawn from the fake range


def test_instance_noise_decays_to_zero():
    config = toy_config(instance_noise=1.0, instance_noise_decay=10)
    s = instrumented_step(config)
    t = dataclasses.replace(config.train, batch_size=20_000)

    def noise_g_sees(step: int) -> torch.Tensor | None:
        draws = {}
        step_module.draw_g_update(t, step, s.step.source, "g_", draws)
        return draws.get("g_eps_seen")

    assert float(noise_g_sees(0).std()) == pytest.approx(1.0, rel=0.05)
    assert float(noise_g_sees(5).std()) == pytest.approx(0.5, rel=0.05)
    assert noise_g_sees(10) is None


# --------------------------------------------------------------------------- BN probe


def test_bn_probe_fake_gap_exceeds_real_gap_and_matches_formula():
    torch.manual_seed(0)
    d = models.mlp_discriminator(width=16, depth=2, norm="batch", bn_momentum=0.1)
    probe = BNProbe(d)
    assert probe.columns == ["bn0_gap_real", "bn0_gap_fake", "bn1_gap_real", "bn1_gap_fake"]
    for _ in range(100):  # D learns the real statistics
        d(torch.randn(64, 2))
    assert probe.values == {}  # inactive outside capture()

    real, fake = torch.randn(64, 2), torch.randn(64, 2) + torch.tensor([3.0, 3.0])
    bn = d[1]
    mean, var = bn.running_mean.clone(), bn.running_var.clone()
    h = d[0](fake).detach()
    with probe.capture("real"):
        d(real)
    # the manual gap uses the statistics as they were before the fake pass
    mean, var = bn.running_mean.clone(), bn.running_var.clone()
    manual = ((h.mean(0) - mean).abs() / (var + bn.eps).sqrt()).mean()
    with probe.capture("fake"):
        d(fake)
    torch.testing.assert_close(probe.values["bn0_gap_fake"], manual)
    assert probe.values["bn0_gap_fake"] > 3 * probe.values["bn0_gap_real"]

    # joint: the first `split` rows are real, the rest fake
    dj = copy.deepcopy(d)
    jp = BNProbe(dj)
    bnj = dj[1]
    mean, var = bnj.running_mean.clone(), bnj.running_var.clone()
    with jp.capture("joint", split=64):
        dj(torch.cat([real, fake]))
    scale = (var + bnj.eps).sqrt()
    hr, hf = dj[0](real).detach(), dj[0](fake).detach()
    torch.testing.assert_close(jp.values["bn0_gap_real"], ((hr.mean(0) - mean).abs() / scale).mean())
    torch.testing.assert_close(jp.values["bn0_gap_fake"], ((hf.mean(0) - mean).abs() / scale).mean())

    d.eval()
    before = dict(probe.values)
    with probe.capture("real"):
        d(fake)
    assert probe.values == before  # eval mode: nothing recorded
    assert all(math.isnan(v) for v in BNProbe(models.mlp_discriminator(norm="batch")).row(CPU))


def test_g_bn_probe_matches_an_independent_computation_on_the_hooked_batch():
    torch.manual_seed(0)
    g = models.mlp_generator(latent_dim=2, width=16, depth=2, norm="batch", bn_momentum=0.1)
    probe = GBNProbe(g)
    assert probe.columns == ["g_bn0_gap_mean", "g_bn0_gap_var", "g_bn1_gap_mean", "g_bn1_gap_var"]
    for _ in range(20):
        g(torch.randn(64, 2))
    assert probe.values == {} and all(not layer._forward_pre_hooks for layer in probe.layers)

    seen = {}  # what each BN layer receives, and its running statistics before the forward
    def spy(index):
        def hook(module, inputs):
            seen[index] = (inputs[0].detach().clone(), module.running_mean.clone(), module.running_var.clone())
        return hook
    handles = [layer.register_forward_pre_hook(spy(i)) for i, layer in enumerate(probe.layers)]
    z = torch.randn(64, 2) * 3 + 1  # off the running statistics
    with probe.capture():
        g(z)
    for handle in handles:
        handle.remove()
    assert all(not layer._forward_pre_hooks for layer in probe.layers)  # hooks gone after capture
    for i, layer in enumerate(probe.layers):
        x, mean, var = (t.double() for t in seen[i])
        eps = layer.eps
        mu_b, var_b = x.mean(0), ((x - x.mean(0)) ** 2).mean(0)
        expected_mean = ((mu_b - mean).abs() / (var + eps).sqrt()).mean()
        expected_var = np.mean([abs(math.log((vb + eps) / (vr + eps))) for vb, vr in zip(var_b.tolist(), var.tolist())])
        torch.testing.assert_close(probe.values[f"g_bn{i}_gap_mean"].double(), expected_mean, rtol=1e-4, atol=1e-6)
        assert probe.values[f"g_bn{i}_gap_var"].item() == pytest.approx(expected_var, rel=1e-4, abs=1e-6)
    assert probe.values["g_bn0_gap_mean"] > 0.1

    # inactive capture and eval mode record nothing
    before = {k: v.clone() for k, v in probe.values.items()}
    with probe.capture(False):
        g(torch.randn(64, 2))
    g.eval()
    with probe.capture():
        g(torch.randn(64, 2))
    assert all(torch.equal(before[k], probe.values[k]) for k in before)
    assert all(math.isnan(v) for v in GBNProbe(models.mlp_generator(latent_dim=2, norm="batch")).row(CPU))


def test_g_bn_probe_only_reads(tmp_path, monkeypatch):
    """A run trains the same weights with the G probe capturing and with it switched off."""
    cfg = image_config(log_every=1, d_fakes="train-mode")
    with_probe = train_run(cfg, 0, root=tmp_path / "a", device="cpu", progress=False)
    assert np.isfinite(with_probe.history["g_bn0_gap_var"]).all()
    original = GBNProbe.capture
    monkeypatch.setattr(GBNProbe, "capture", lambda self, active=True: original(self, False))
    without = train_run(cfg, 0, root=tmp_path / "b", device="cpu", progress=False)
    assert np.isnan(without.history["g_bn0_gap_var"]).all()
    for net in ("g", "d"):
        a, b = with_probe.weights()[net], without.weights()[net]
        assert all(torch.equal(a[k], b[k]) for k in a), net
    for name in ("loss_d", "loss_g", "d_fake_g"):
        np.testing.assert_array_equal(with_probe.history[name], without.history[name])


def test_mode_samples_eval_and_train_mode_from_the_same_latents(tmp_path):
    cfg = image_config(steps=4)
    run = train_run(cfg, 0, root=tmp_path, device="cpu", progress=False)
    found = run.mode_samples(20, seed=3, batch_size=8)
    assert set(found) == {"eval", "train"} and found["eval"].shape == found["train"].shape == (20, 1, 16, 16)
    g, _ = run.networks()
    z = torch.randn(20, cfg.model.latent_dim, generator=torch.Generator().manual_seed(3))
    running = [b.clone() for b in g.buffers()]
    with torch.no_grad():
        torch.testing.assert_close(found["eval"], g(z))
        g.train()
        torch.testing.assert_close(found["train"], torch.cat([g(c) for c in z.split(8)]))
    assert not torch.allclose(found["eval"], found["train"])  # BN in G: the two modes differ
    again = run.mode_samples(20, seed=3, batch_size=8)  # running statistics were left alone
    assert all(torch.equal(found[m], again[m]) for m in found)
    assert all(torch.equal(a, b) for a, b in zip(running, run.networks()[0].buffers()))


# --------------------------------------------------------------------------- runs


def test_run_record_history_samples_and_files(tmp_path):
    cfg = toy_config(steps=7, log_every=3, sample_every=3, checkpoint_every=2)
    run = train_run(cfg, 0, root=tmp_path, device="cpu", progress=False)
    rd = run_dir(cfg, 0, tmp_path)
    assert run.path == rd.path and run.status == "complete" and run.steps_done == 7

    loaded = ExperimentConfig.from_json(rd.config_file.read_text())
    assert loaded == cfg and loaded.hash() == cfg.hash() and run.config == cfg

    record = json.loads(rd.record_file.read_text())
    assert record["status"] == "complete" and record["steps_done"] == 7 and record["seed"] == 0
    assert record["hash"] == cfg.hash() and record["diverged_at"] is None
    assert isinstance(record["elapsed_s"], (int, float)) and record["elapsed_s"] >= 0
    assert record["device"].startswith("cpu")
    assert record["versions"]["bngan"] == bngan.__version__ and record["versions"]["torch"] == torch.__version__
    assert {"swd", "mmd", "mean_shift", "shift_x", "shift_norm", "final_loss_d", "final_d_fake_g"} <= set(record["metrics"])

    expected_cols = {"step", "loss_d", "loss_g", "d_real", "d_fake", "d_fake_g", "grad_d_bottom", "grad_d_top",
                     "grad_g_bottom", "grad_g_top", "bn0_gap_real", "bn0_gap_fake", "bn1_gap_real", "bn1_gap_fake",
                     "g_bn0_gap_mean", "g_bn0_gap_var", "g_bn1_gap_mean", "g_bn1_gap_var", *GANStep.D_HALF_COLUMNS}
    assert set(run.history) == expected_cols
    assert run.history["step"].tolist() == [3, 6, 7]
    for name in expected_cols - {"step"}:
        assert np.isfinite(run.history[name]).all(), name
    for name in ("grad_d_bottom", "grad_d_top", "grad_g_bottom", "grad_g_top"):
        assert (run.history[name] > 0).all(), name

    assert run.sample_steps.tolist() == [0, 3, 6, 7]
    assert run.samples.shape == (4, cfg.data.toy_samples, 2)
    assert not rd.checkpoint_file.exists()
    weights = run.weights()
    g, d = build_networks(cfg)
    g.load_state_dict(weights["g"])
    d.load_state_dict(weights["d"])
    g2, d2 = run.networks()
    assert not g2.training and not d2.training


def test_history_has_no_bn_columns_without_batch_norm(tmp_path):
    cfg = toy_config(norm="none", steps=2)
    run = train_run(cfg, 0, root=tmp_path, device="cpu", progress=False)
    assert run.status == "complete"
    assert not [c for c in run.history if c.startswith(("bn", "g_bn"))]
    assert {"loss_d", "loss_g", "grad_d_top"} <= set(run.history)


def test_cached_run_is_loaded_and_force_retrains(tmp_path, monkeypatch):
    cfg = toy_config(steps=3)
    first = train_run(cfg, 0, root=tmp_path, device="cpu", progress=False)
    record_file = RunDir(first.path).record_file
    stamp = record_file.stat().st_mtime_ns

    def no_training(*args, **kwargs):
        raise AssertionError("the cached run was trained again")

    monkeypatch.setattr(train, "Trainer", no_training)
    again = train_run(cfg, 0, root=tmp_path, device="cpu", progress=False)
    assert again.status == "complete" and again.path == first.path
    assert record_file.stat().st_mtime_ns == stamp
    assert np.array_equal(again.history["loss_d"], first.history["loss_d"])

    monkeypatch.undo()
    calls = []
    original_run = train.Trainer.run

    def counting_run(self, callback=None):
        calls.append(self.seed)
        return original_run(self, callback)

    monkeypatch.setattr(train.Trainer, "run", counting_run)
    forced = train_run(cfg, 0, root=tmp_path, device="cpu", progress=False, force=True)
    assert calls == [0] and forced.status == "complete"
    assert json.loads(record_file.read_text())["status"] == "complete"
    # another seed is a different cache entry
    train_run(cfg, 1, root=tmp_path, device="cpu", progress=False)
    assert calls == [0, 1]


def test_resume_after_interruption_gives_identical_weights(tmp_path):
    cfg = image_config()
    seen = {}

    def interrupt(trainer):
        if trainer.step == 5:
            seen["checkpoint"] = trainer.rd.checkpoint_file.exists()
            raise KeyboardInterrupt

    root_a, root_b = tmp_path / "a", tmp_path / "b"
    with pytest.raises(KeyboardInterrupt):
        train_run(cfg, 0, root=root_a, device="cpu", progress=False, callback=interrupt)
    rd = run_dir(cfg, 0, root_a)
    assert seen["checkpoint"]
    assert rd.status == "interrupted" and not rd.finished
    partial = Run.load(rd.path)
    # steps_done is what can be resumed (the checkpoint's step), steps_run how far it got
    assert partial.status == "interrupted" and partial.steps_done == 3 and partial.record["steps_run"] == 5
    assert partial.history["step"].tolist() == [1, 2, 3, 4, 5]
    ckpt = runs.torch_load(rd.checkpoint_file)  # weights_only=True
    assert ckpt["step"] == 3
    assert torch.load(rd.checkpoint_file, weights_only=True)["sampler"]["pos"] == ckpt["sampler"]["pos"]

    resumed = train_run(cfg, 0, root=root_a, device="cpu", progress=False)
    straight = train_run(cfg, 0, root=root_b, device="cpu", progress=False)
    assert resumed.status == straight.status == "complete"
    assert resumed.steps_done == 8
    assert resumed.history["step"].tolist() == list(range(1, 9))
    assert resumed.sample_steps.tolist() == straight.sample_steps.tolist() == [0, 3, 6, 8]
    assert resumed.samples.dtype == torch.uint8 and resumed.samples.shape == (4, 4, 1, 16, 16)
    assert torch.equal(resumed.samples, straight.samples)
    assert resumed.evals["step"].tolist() == straight.evals["step"].tolist() == [4, 8]
    for name in ("loss_d", "loss_g", "d_real", "d_fake", "bn0_gap_fake"):
        assert np.array_equal(resumed.history[name], straight.history[name]), name
    wa, wb = resumed.weights(), straight.weights()
    for net in ("g", "d"):
        assert wa[net].keys() == wb[net].keys()
        for key in wa[net]:
            assert torch.equal(wa[net][key], wb[net][key]), (net, key)
    assert not rd.checkpoint_file.exists()


def test_resume_from_a_time_triggered_checkpoint_is_exact(tmp_path):
    """Checkpoints by time (every ``checkpoint_seconds``; 0 here: after every step) resume as
    exactly as step checkpoints, and the setting is not part of the config (nor its hash)."""
    cfg = image_config(checkpoint_every=0)  # no step checkpoints at all

    def interrupt(trainer):
        if trainer.step == 5:
            raise KeyboardInterrupt

    root_a, root_b = tmp_path / "a", tmp_path / "b"
    with pytest.raises(train.TrainingInterrupted) as stopped:
        train_run(cfg, 0, root=root_a, device="cpu", progress=False, callback=interrupt, checkpoint_seconds=0.0)
    rd = run_dir(cfg, 0, root_a)
    assert stopped.value.step == stopped.value.resume_step == 5 and "resume from step 5" in str(stopped.value)
    assert runs.torch_load(rd.checkpoint_file)["step"] == 5 and rd.read_record()["steps_done"] == 5
    resumed = train_run(cfg, 0, root=root_a, device="cpu", progress=False)
    straight = train_run(cfg, 0, root=root_b, device="cpu", progress=False, checkpoint_seconds=math.inf)
    assert resumed.origin == "resumed" and resumed.resumed_at == 5 and straight.origin == "trained"
    assert rd.path.name == run_dir(cfg, 0, root_b).path.name
    assert torch.equal(resumed.samples, straight.samples)
    for name in ("loss_d", "loss_g", "d_real", "bn0_gap_fake"):
        assert np.array_equal(resumed.history[name], straight.history[name]), name
    wa, wb = resumed.weights(), straight.weights()
    for net in ("g", "d"):
        for key in wa[net]:
            assert torch.equal(wa[net][key], wb[net][key]), (net, key)


def test_a_checkpoint_is_due_by_steps_or_by_time(tmp_path):
    cfg = toy_config(checkpoint_every=4)
    trainer = train.Trainer(cfg, 0, run_dir(cfg, 0, tmp_path), device=CPU, checkpoint_seconds=60.0)
    trainer._last_checkpoint = 1000.0
    trainer.step = 3
    assert not trainer._checkpoint_due(1059.0) and trainer._checkpoint_due(1060.0)
    trainer.step = 4
    assert trainer._checkpoint_due(1000.5)
    assert train.Trainer(cfg, 0, run_dir(cfg, 0, tmp_path), device=CPU).checkpoint_seconds == train.CHECKPOINT_SECONDS


def test_without_step_or_time_checkpoints_an_interrupted_run_restarts_from_step_0(tmp_path):
    cfg = toy_config(checkpoint_every=0)

    def interrupt(trainer):
        if trainer.step == 4:
            raise KeyboardInterrupt

    with pytest.raises(train.TrainingInterrupted, match="start it again from step 0"):
        train_run(cfg, 0, root=tmp_path, device="cpu", progress=False, callback=interrupt, checkpoint_seconds=math.inf)
    rd = run_dir(cfg, 0, tmp_path)
    assert not rd.checkpoint_file.exists() and rd.read_record()["steps_done"] == 0


def test_nan_loss_marks_run_diverged_and_keeps_history(tmp_path, monkeypatch):
    cfg = toy_config(steps=6, routine="separate")
    d_loss_from_step(monkeypatch, 4, float("nan"))
    run = train_run(cfg, 0, root=tmp_path, device="cpu", progress=False)
    rd = RunDir(run.path)
    assert run.status == "diverged" and run.diverged_at == 4
    assert rd.read_record()["diverged_at"] == 4 and rd.finished
    assert run.metrics == {}
    assert not rd.weights_file.exists()
    record = rd.read_record()
    if rd.checkpoint_file.exists():  # the last checkpoint, taken before the bad step, is kept
        assert record["last_finite_step"] == runs.torch_load(rd.checkpoint_file)["step"] < 4
    steps = run.history["step"]
    assert len(steps) >= 3 and steps[:3].tolist() == [1, 2, 3]
    assert np.isfinite(run.history["loss_d"][:3]).all()
    assert np.isnan(run.history["loss_d"][steps >= 4]).all()

    # a diverged run is a finished, cached result
    monkeypatch.setattr(train, "Trainer", lambda *a, **k: pytest.fail("diverged run retrained"))
    assert train_run(cfg, 0, root=tmp_path, device="cpu", progress=False).status == "diverged"


def d_loss_from_step(monkeypatch, first: int, factor: float) -> None:
    """Make D's loss ``factor`` times itself from step ``first`` on (NaN: factor nan)."""
    current = {"step": 0}
    original, original_call = train.d_loss_fn, GANStep.__call__

    def call(self, step, monitor=False):
        current["step"] = step
        return original_call(self, step, monitor)

    def scaled(kind, logits, targets):
        loss = original(kind, logits, targets)
        return loss * factor if current["step"] >= first else loss

    monkeypatch.setattr(GANStep, "__call__", call)
    monkeypatch.setattr(step_module, "d_loss_fn", scaled)


def test_a_run_stops_within_a_few_steps_of_its_first_bad_loss_even_between_logged_rows(tmp_path, monkeypatch):
    from bngan.trainer import DIVERGENCE_CHECK_EVERY

    d_loss_from_step(monkeypatch, 21, float("nan"))
    cfg = toy_config(steps=200, routine="separate", log_every=100, checkpoint_every=10)
    run = train_run(cfg, 0, root=tmp_path, device="cpu", progress=False, checkpoint_seconds=math.inf)
    assert run.status == "diverged" and run.diverged_at == 21
    assert run.steps_done < 21 + DIVERGENCE_CHECK_EVERY  # not on to the next logged row (100)
    rd = RunDir(run.path)
    kept = runs.torch_load(rd.checkpoint_file)  # the last good state, to go back to
    assert kept["step"] == 20 == rd.read_record()["last_finite_step"]
    assert all(torch.isfinite(v).all() for v in kept["g"].values() if v.is_floating_point())


def test_a_finite_loss_that_runs_away_counts_as_divergence(tmp_path, monkeypatch):
    from bngan.trainer import LOSS_LIMIT

    d_loss_from_step(monkeypatch, 5, LOSS_LIMIT * 100)  # finite, but no GAN loss gets there
    run = train_run(toy_config(steps=30, routine="separate"), 0, root=tmp_path, device="cpu", progress=False)
    assert run.status == "diverged" and run.diverged_at == 5



# --------------------------------------------------------------------------- every routine against an independent computation


@pytest.mark.parametrize("routine", ["combined", "split", "separate"])
def test_each_routine_gives_reals_and_fakes_their_own_targets_loss_and_scores(routine, monkeypatch):
    """Targets (smoothed and flipped as configured) go to the right rows; the reported loss
    is BCE on the hooked logits; D(x) and D(G(z)) come from the real and the fake rows."""
    drawn = {}
    original = train.make_targets

    def recording(real, n, **kwargs):
        drawn[real] = original(real, n, **kwargs)
        return drawn[real]

    monkeypatch.setattr(step_module, "make_targets", recording)
    s = instrumented_step(toy_config(routine=routine, real_label=(0.7, 1.0), fake_label=(0.0, 0.3), flip_prob=0.3))
    out = s.step.d_update(1, monitor=False)
    y_real, y_fake = drawn[True], drawn[False]
    assert ((y_real >= 0.7) | (y_real <= 0.3)).all() and ((y_fake <= 0.3) | (y_fake >= 0.7)).all()
    if routine == "combined":
        (logits,) = s.d_outputs
        logits_real, logits_fake = logits[:B], logits[B:]
    else:
        logits_real, logits_fake = s.d_outputs
    expected_real = F.binary_cross_entropy_with_logits(logits_real, y_real)
    expected_fake = F.binary_cross_entropy_with_logits(logits_fake, y_fake)
    torch.testing.assert_close(out.loss, 0.5 * (expected_real + expected_fake))
    torch.testing.assert_close(out.d_real, torch.sigmoid(logits_real).mean())
    torch.testing.assert_close(out.d_fake, torch.sigmoid(logits_fake).mean())
    forwards = [e for e in s.events if e.kind == "d"]
    assert forwards[0].real_first and forwards[-1].fake_last  # the real rows are the real batch


@pytest.mark.parametrize("routine", ["combined", "split", "separate"])
def test_a_few_d_updates_on_separable_data_raise_d_real_above_d_fake(routine):
    # no BN: with split batches a BN discriminator cannot see where the fakes are (chapter 7)
    s = instrumented_step(toy_config(routine=routine, norm="none", lr_d=1e-2))
    for step in range(1, 21):
        out = s.step.d_update(step, monitor=False)
    assert float(out.d_real) > 0.6 > 0.4 > float(out.d_fake)


@pytest.mark.parametrize("optimizer,cls", [("adam", torch.optim.Adam), ("rmsprop", torch.optim.RMSprop)])
def test_each_learning_rate_reaches_its_own_network(optimizer, cls):
    cfg = toy_config(optimizer=optimizer, lr_g=3e-4, lr_d=7e-5)
    g, d = build_networks(cfg)
    opt_g, opt_d = make_optimizers(cfg, g, d)
    assert isinstance(opt_g, cls) and isinstance(opt_d, cls)
    assert [group["lr"] for group in opt_g.param_groups] == [3e-4]
    assert [group["lr"] for group in opt_d.param_groups] == [7e-5]
    assert {id(p) for group in opt_g.param_groups for p in group["params"]} == {id(p) for p in g.parameters()}
    assert {id(p) for group in opt_d.param_groups for p in group["params"]} == {id(p) for p in d.parameters()}
    if optimizer == "rmsprop":
        assert opt_d.defaults["alpha"] == cfg.train.rms_alpha and opt_d.defaults["eps"] == cfg.train.rms_eps


def test_a_run_logged_to_a_file_prints_a_progress_line_every_heartbeat(tmp_path, monkeypatch, capsys):
    """Where no bar is watched (stdout a pipe or a file), a line with the step, the speed and
    the time left; none in a terminal or notebook, where the bar shows."""
    from bngan import trainer as trainer_module
    from bngan.experiments import get_experiment

    monkeypatch.setattr(trainer_module.Heartbeat, "every", 0.0)
    monkeypatch.setattr(trainer_module, "interactive", lambda: False)
    config = get_experiment("blindspot:no-bn", "smoke")
    train_run(config, 0, root=tmp_path / "a", progress=True)
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("blindspot:no-bn seed 0: step ")]
    assert lines and re.fullmatch(r"blindspot:no-bn seed 0: step \d+/40, [\d.]+ steps/s, ~\d+ (s|min) left", lines[0])
    monkeypatch.setattr(trainer_module, "interactive", lambda: True)
    train_run(config, 1, root=tmp_path / "b", progress=True)
    assert "steps/s" not in capsys.readouterr().out


# --------------------------------------------------------------------------- cases no test caught (issue 46)


def test_a_one_seed_run_asked_to_group_takes_the_one_seed_path(tmp_path, monkeypatch):
    assert not train.trains_together(CPU, 1, group=True, graph=None)
    assert train.trains_together(CPU, 2, group=True, graph=None)
    monkeypatch.setattr(train, "train_group", lambda *a, **k: pytest.fail("a lone seed took the group path"))
    run, = train.train_runs(toy_config(), [0], root=tmp_path, device="cpu", progress=False, group=True)
    assert run.status == "complete" and run.record["engine"] == "one seed, eager"


def g_loss_from_step(monkeypatch, first: int, factor: float) -> None:
    """Make G's loss ``factor`` times itself from step ``first`` on (NaN: factor nan)."""
    current = {"step": 0}
    original, original_call = step_module.g_loss_fn, GANStep.__call__

    def call(self, step, monitor=False):
        current["step"] = step
        return original_call(self, step, monitor)

    def scaled(kind, logits):
        loss = original(kind, logits)
        return loss * factor if current["step"] >= first else loss

    monkeypatch.setattr(GANStep, "__call__", call)
    monkeypatch.setattr(step_module, "g_loss_fn", scaled)


@pytest.mark.parametrize("factor", [float("nan"), float("inf"), 1e9])
def test_a_runaway_g_loss_counts_as_divergence(tmp_path, monkeypatch, factor):
    from bngan.trainer import LOSS_LIMIT

    assert abs(1e9 * 0.1) > LOSS_LIMIT  # G's loss at init is well above 0.1
    g_loss_from_step(monkeypatch, 5, factor)
    run = train_run(toy_config(steps=30, routine="separate"), 0, root=tmp_path, device="cpu", progress=False)
    assert run.status == "diverged" and run.diverged_at == 5
    assert np.isfinite(run.history["loss_d"][run.history["step"] < 5]).all()


def test_the_fakes_get_their_own_instance_noise_not_the_reals_draw(monkeypatch):
    config = toy_config(instance_noise=1.0)
    s = instrumented_step(config)
    draws = {}
    step_module.draw_d_update(config.train, 1, False, s.step.source, "d_", draws)
    assert not torch.equal(draws["d_eps_real"], draws["d_eps_fake"])
    seen = []
    original = step_module._noisy

    def recording(x, eps):
        seen.append((x.detach().clone(), None if eps is None else eps.clone()))
        return original(x, eps)

    monkeypatch.setattr(step_module, "_noisy", recording)
    s.step(1, False)
    (real, eps_real), (fake, eps_fake) = seen[:2]  # D's update: the reals, then the fakes
    assert torch.equal(real, s.reals[-1])
    assert eps_real is not None and eps_fake is not None and not torch.equal(eps_real, eps_fake)
