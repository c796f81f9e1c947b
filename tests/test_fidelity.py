"""The engine does what the sources did (issue 10's review): how D's fakes are made, Keras'
defaults in the seed paper's model, Xiang & Li's weight-normalized model, one gradient
quantity for every routine, instance noise in G's step, label presets, the spread over seeds,
the blind-spot views, reconstruction error's scale, and the cache key."""

from __future__ import annotations

import copy
import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from bngan import blindspot, experiments, models, norms, routine, stats
from bngan.config import ENGINE_VERSION, ConfigError, DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from bngan.data import BatchSampler
from bngan.experiments import RunSet
from bngan.train import GANStep, build_networks, d_loss_fn, make_optimizers

CPU = torch.device("cpu")


def tiny_image(**changes) -> ExperimentConfig:
    """Table II #12's set-up (BN in G only, combined routine) shrunk to a few 8-filter layers."""
    base = experiments.table2(12, "smoke").vary(g_filters=(8, 8), d_filters=(8, 8, 8, 8), latent_dim=8,
                                                batch_size=16, n_train=64)
    return base.vary(**changes) if changes else base


def make_step(config: ExperimentConfig, seed: int = 0, data: torch.Tensor | None = None) -> SimpleNamespace:
    torch.manual_seed(seed)
    g, d = build_networks(config)
    opt_g, opt_d = make_optimizers(config, g, d)
    if data is None:
        shape = (64, 2) if config.data.kind == "toy" else (64, 1, 16, 16)
        data = torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    sampler = BatchSampler(data, config.train.batch_size, seed=seed)
    step = GANStep(config, g, d, opt_g, opt_d, sampler, CPU)
    return SimpleNamespace(g=g, d=d, step=step, opt_g=opt_g, opt_d=opt_d)


def train_steps(config: ExperimentConfig, n: int, seed: int = 0, monitor_every: int = 0) -> SimpleNamespace:
    s = make_step(config, seed)
    s.outputs = [s.step(i, monitor=bool(monitor_every) and i % monitor_every == 0) for i in range(1, n + 1)]
    return s


def g_bn_layers(g: nn.Module) -> list[nn.Module]:
    return [m for m in g.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


# --------------------------------------------------------------------------- 1. how D's fakes are made


def test_keras_fakes_let_g_bn_momentum_reach_training():
    """Table II 12 vs 14 differ only in G's BN momentum: with Keras-GAN's way of making D's
    fakes (G in inference mode) the momentum changes the run; with train-mode fakes it
    cannot, since G's running statistics are never used in training."""
    def final_g(exp_id: int, d_fakes: str) -> dict[str, torch.Tensor]:
        cfg = experiments.table2(exp_id, "smoke").vary(g_filters=(8, 8), d_filters=(8, 8, 8, 8), latent_dim=8,
                                                       batch_size=16, n_train=64, d_fakes=d_fakes)
        g = train_steps(cfg, 6).g
        return {k: v for k, v in g.state_dict().items() if "running" not in k and "num_batches" not in k}

    keras_12, keras_14 = final_g(12, "keras"), final_g(14, "keras")
    assert any(not torch.equal(keras_12[k], keras_14[k]) for k in keras_12)
    train_12, train_14 = final_g(12, "train-mode"), final_g(14, "train-mode")
    assert all(torch.equal(train_12[k], train_14[k]) for k in train_12)


@pytest.mark.parametrize("d_fakes,updates_per_iteration", [("keras", 1), ("reuse", 1), ("train-mode", 2)])
def test_g_running_statistics_move_once_per_g_update_with_keras_and_reuse(d_fakes, updates_per_iteration):
    cfg = tiny_image(d_fakes=d_fakes, g_steps=1, d_steps=1)
    s = train_steps(cfg, 5)
    for bn in g_bn_layers(s.g):
        assert int(bn.num_batches_tracked) == 5 * updates_per_iteration


def test_keras_fakes_come_from_g_in_eval_mode_and_g_steps_count():
    cfg = tiny_image(d_fakes="keras", d_steps=2, g_steps=3)
    s = make_step(cfg)
    modes = []
    s.g.register_forward_pre_hook(lambda m, i: modes.append(m.training))
    s.step(1)
    assert modes == [False, False, True, True, True]  # two D updates from eval-mode G, three G updates
    assert all(int(bn.num_batches_tracked) == 3 for bn in g_bn_layers(s.g))
    assert s.g.training


def test_reuse_makes_one_g_forward_per_iteration_feeding_both_updates():
    cfg = tiny_image(d_fakes="reuse", routine="separate")
    s = make_step(cfg)
    g_outputs, d_inputs = [], []
    s.g.register_forward_hook(lambda m, i, o: g_outputs.append(o.detach().clone()))
    s.d.register_forward_pre_hook(lambda m, i: d_inputs.append(i[0].detach().clone()))
    for step in (1, 2, 3):
        s.step(step)
    assert len(g_outputs) == 3
    # per iteration: D's real pass, D's fake pass, G's pass; both fake passes see G's one output
    assert len(d_inputs) == 9
    for k in range(3):
        assert torch.equal(d_inputs[3 * k + 1], g_outputs[k]) and torch.equal(d_inputs[3 * k + 2], g_outputs[k])


def test_reuse_needs_one_d_and_one_g_update():
    with pytest.raises(ConfigError, match="train.d_steps and train.g_steps"):
        tiny_image(d_fakes="reuse", d_steps=2)
    with pytest.raises(ConfigError, match="train.d_fakes must be one of"):
        tiny_image(d_fakes="predict")


def test_presets_make_fakes_as_their_sources_did():
    assert experiments.table2(10, "smoke").train.d_fakes == "keras"
    assert experiments.heuristics("dcgan-bn", "smoke").train.d_fakes == "keras"
    assert experiments.blind_spot("bn", "smoke").train.d_fakes == "reuse"  # source 001 reuses its fakes


# --------------------------------------------------------------------------- 2. the seed paper's model, Keras' way


def test_seed_paper_preset_uses_keras_defaults():
    cfg = experiments.table2(2, "smoke")
    assert (cfg.model.init, cfg.model.bn_eps, cfg.model.g_block_order) == ("glorot", 1e-3, "conv-norm-act")
    torch.manual_seed(0)
    g, d = build_networks(cfg)
    bns = g_bn_layers(g) + g_bn_layers(d)
    assert bns and all(bn.eps == 1e-3 for bn in bns)
    assert all(torch.equal(bn.weight, torch.ones_like(bn.weight)) for bn in bns)  # gamma 1, not N(1, 0.02)
    for net in (g, d):
        for layer in net.modules():
            if isinstance(layer, (nn.Conv2d, nn.Linear)):
                fan_in = layer.weight[0].numel()
                fan_out = layer.weight.shape[0] * layer.weight[0, 0].numel()
                assert layer.weight.abs().max() <= (6 / (fan_in + fan_out)) ** 0.5
                assert layer.bias is None or torch.count_nonzero(layer.bias) == 0
    dcgan = experiments.heuristics("dcgan-init", "smoke")
    assert (dcgan.model.init, dcgan.model.bn_eps) == ("dcgan", 1e-5)
    g2, _ = build_networks(dcgan)
    assert not all(torch.equal(bn.weight, torch.ones_like(bn.weight)) for bn in g_bn_layers(g2))


@pytest.mark.parametrize("order,expected", [("conv-norm-act", (nn.BatchNorm2d, nn.ReLU)),
                                            ("conv-act-norm", (nn.ReLU, nn.BatchNorm2d))])
def test_generator_block_order(order, expected):
    g = models.keras_generator(image_size=16, channels=1, filters=(8, 8), latent_dim=4, block_order=order)
    layers = list(g)
    convs = [i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d)][:-1]  # hidden convs
    assert len(convs) == 2
    for i in convs:
        assert (type(layers[i + 1]), type(layers[i + 2])) == expected
    with pytest.raises(ValueError, match="block_order"):
        models.keras_generator(block_order="act-conv")


# --------------------------------------------------------------------------- 3. Xiang & Li's WN model


@pytest.mark.parametrize("arch", models.ARCHITECTURES)
def test_weight_normalized_model_normalizes_every_layer_with_tprelu(arch):
    g, d = models.build_dcgan(arch=arch, norm="weight", placement="all", image_size=16, channels=1, latent_dim=8,
                              g_filters=(8, 8), d_filters=(8, 8, 8, 8), width=8)
    for net in (g, d):
        plain = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]
        assert plain == [], plain
        wn = [m for m in net.modules() if norms.is_weight_normalized(m)]
        assert wn and all(not m.affine for m in wn[:-1]) and wn[-1].affine  # strict hidden, affine output
        assert not any(isinstance(m, (nn.ReLU, nn.LeakyReLU)) for m in net.modules())
        assert sum(isinstance(m, norms.TPReLU) for m in net.modules()) == len(wn) - 1
    out = d(g(torch.randn(4, 8)))
    assert out.shape == (4, 1) and torch.isfinite(out).all()


def test_weight_norm_needs_placement_all_in_the_config():
    with pytest.raises(ConfigError, match="model.placement must be 'all'"):
        experiments.seed_paper_dcgan(norm="weight")
    experiments.seed_paper_dcgan(norm="weight", placement="all")


# --------------------------------------------------------------------------- 4. one gradient quantity


def _toy(**changes) -> ExperimentConfig:
    base = ExperimentConfig(
        name="toy", data=DataConfig(kind="toy", toy="gaussian", toy_samples=64),
        model=ModelConfig(arch="mlp", latent_dim=2, width=8, depth=2, norm="batch", norm_in="both"),
        train=TrainConfig(steps=4, batch_size=8, d_fakes="train-mode"),
    )
    return base.vary(**changes)


@pytest.mark.parametrize("routine", ["combined", "split", "separate"])
def test_logged_d_gradient_is_the_whole_objective_at_the_starting_weights(routine):
    s = make_step(_toy(routine=routine))
    reals, fakes = [], []
    original_real = s.step.sample_real
    s.step.sample_real = lambda: reals.append(original_real()) or reals[-1]
    s.g.register_forward_hook(lambda m, i, o: fakes.append(o.detach().clone()))
    d_before = copy.deepcopy(s.d)
    out = s.step.d_update(1, monitor=True)
    # independent computation on a copy of D as it was, with the same batches
    n = 8
    ones, zeros = torch.ones(n, 1), torch.zeros(n, 1)
    if routine == "combined":
        loss = d_loss_fn("bce", d_before(torch.cat([reals[0], fakes[0]])), torch.cat([ones, zeros]))
    else:
        loss = 0.5 * (d_loss_fn("bce", d_before(reals[0]), ones) + d_loss_fn("bce", d_before(fakes[0]), zeros))
    first, last = d_before[0].weight, d_before[-1].weight
    g_first, g_last = torch.autograd.grad(loss, [first, last])
    torch.testing.assert_close(out.grads["grad_d_bottom"], g_first.norm())
    torch.testing.assert_close(out.grads["grad_d_top"], g_last.norm())
    if routine == "separate":
        d_real_only = copy.deepcopy(d_before)
        (g_real,) = torch.autograd.grad(d_loss_fn("bce", d_real_only(reals[0]), ones), [d_real_only[0].weight])
        torch.testing.assert_close(out.grads["grad_d_bottom_real"], g_real.norm())
        assert {"grad_d_bottom_fake", "grad_d_top_fake", "grad_d_top_real"} <= set(out.grads)
    else:
        assert not set(GANStep.D_HALF_COLUMNS) & set(out.grads)


def test_monitoring_the_separate_routine_changes_nothing_it_trains():
    runs = [train_steps(_toy(routine="separate", instance_noise=0.1), 4, monitor_every=every) for every in (0, 1)]
    a, b = (r.d.state_dict() for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)  # weights and BN buffers
    ga, gb = (r.g.state_dict() for r in runs)
    assert all(torch.equal(ga[k], gb[k]) for k in ga)


# --------------------------------------------------------------------------- 5. instance noise in G's step


def test_instance_noise_reaches_what_d_sees_in_g_step_and_decays():
    cfg = _toy(instance_noise=0.5, instance_noise_decay=4, g_bn_mode="train")
    s = make_step(cfg)
    fakes, seen = [], []
    s.g.register_forward_hook(lambda m, i, o: fakes.append(o.detach().clone()))
    s.d.register_forward_pre_hook(lambda m, i: seen.append(i[0].detach().clone()))
    s.step.g_update(step=1)
    gap = (seen[-1] - fakes[-1]).std()
    assert 0.3 < float(gap) < 0.6  # std 0.5 * (1 - 1/4)
    s.step.g_update(step=4)  # fully decayed
    assert torch.equal(seen[-1], fakes[-1])


# --------------------------------------------------------------------------- 6. noise labels


def test_label_presets_and_source_003_range():
    assert experiments.ONE_SIDED_LABELS["fake_label"] == 0.0 and experiments.ONE_SIDED_LABELS["real_label"] < 1
    assert experiments.TWO_SIDED_LABELS["real_label"] == (0.7, 1.2)
    cfg = _toy(**experiments.TWO_SIDED_LABELS)
    s = make_step(cfg)
    draws = {}  # the targets one D update draws, here for 4000 reals
    routine.draw_d_update(dataclasses.replace(cfg.train, batch_size=4000), 1, False, s.step.source, "d_", draws)
    targets = draws["d_y_real"]
    assert 0.7 <= float(targets.min()) and float(targets.max()) <= 1.2 and float(targets.max()) > 1.1
    # a target above 1 keeps rewarding larger logits: the loss falls without bound
    logits = torch.tensor([[5.0], [50.0]])
    losses = [float(d_loss_fn("bce", x.view(1, 1), torch.tensor([[1.2]]))) for x in logits]
    assert losses[1] < losses[0] < 0


# --------------------------------------------------------------------------- 7. spread and comparisons


def fake_set(label: str, values: dict[int, float], diverged: int = 0) -> RunSet:
    runs = [SimpleNamespace(status="complete", seed=s, metrics={"fid": v}) for s, v in values.items()]
    runs += [SimpleNamespace(status="diverged", seed=100 + i, metrics={}) for i in range(diverged)]
    return RunSet(label, None, runs)


def test_mean_std_uses_the_sample_std():
    rs = fake_set("a", {0: 1.0, 1: 2.0, 2: 4.0})
    mean, std = rs.mean_std("fid")
    assert mean == pytest.approx(7 / 3) and std == pytest.approx(np.std([1, 2, 4], ddof=1))
    assert np.isnan(fake_set("b", {0: 1.0}).mean_std("fid")[1])


def test_compare_reports_difference_interval_wins_and_diverged():
    a = fake_set("a", {0: 10.0, 1: 11.0, 2: 12.0})
    b = fake_set("b", {0: 5.0, 1: 6.0, 2: 7.0}, diverged=1)
    result = stats.compare(a, b, "fid")
    assert result.difference == pytest.approx(-5.0)
    assert result.low <= -5.0 <= result.high and result.high < 0 and result.detectable
    assert (result.wins_b, result.n_paired, result.diverged_b) == (3, 3, 1)
    assert result.verdict == "b is better" and "diverged: a 0, b 1" in str(result)
    close = stats.compare(a, fake_set("c", {0: 12.0, 1: 10.0, 2: 11.5}), "fid")
    assert not close.detectable and close.verdict.startswith("no detectable difference with 3 seeds")
    higher = stats.compare(a, b, "fid", lower_is_better=False)
    assert higher.wins_b == 0 and higher.verdict == "a is better"


# --------------------------------------------------------------------------- 8. the blind-spot views


def test_each_view_starts_from_the_same_running_statistics():
    torch.manual_seed(0)
    d = models.mlp_discriminator(norm="batch", bn_momentum=0.5)
    d.train()
    for _ in range(5):
        d(torch.randn(64, 2) * 2 + 1)
    before = copy.deepcopy(d.state_dict())
    real, fake = torch.randn(32, 2), torch.randn(32, 2) + 3
    views = blindspot.discriminator_views(d, real, fake)
    reference = copy.deepcopy(d).eval()
    with torch.no_grad():
        expected = (float(torch.sigmoid(reference(real)).mean()), float(torch.sigmoid(reference(fake)).mean()))
    assert views["running stats"] == pytest.approx(expected, abs=1e-7)
    assert all(torch.equal(v, before[k]) for k, v in d.state_dict().items())


# --------------------------------------------------------------------------- 10. the cache key


def test_hash_covers_the_new_fields_and_the_engine_version(monkeypatch):
    base = experiments.table2(10, "smoke")
    changed = {base.vary(d_fakes="reuse", routine="separate").hash(), base.vary(bn_eps=1e-5).hash(),
               base.vary(g_block_order="conv-act-norm").hash(), base.hash()}
    assert len(changed) == 4
    from bngan import config
    monkeypatch.setattr(config, "ENGINE_VERSION", ENGINE_VERSION + 1)
    assert experiments.table2(10, "smoke").hash() not in changed


def test_int_and_float_spellings_hash_alike():
    base = experiments.table2(10, "smoke")
    assert base.vary(lr_g=1).hash() == base.vary(lr_g=1.0).hash()
    assert base.vary(real_label=(1, 1)).train.real_label == (1.0, 1.0)
    assert base.vary(steps=3).train.steps == 3 and isinstance(base.vary(steps=3).train.steps, int)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_floats_are_refused(value):
    with pytest.raises(ConfigError, match="g_shift_weight"):
        experiments.table2(10, "smoke").vary(g_shift_weight=value)
    with pytest.raises(ConfigError, match="lr_d"):
        experiments.table2(10, "smoke").vary(lr_d=value)


def test_final_value_of_a_history_column_is_its_tail_mean():
    run = SimpleNamespace(status="complete", seed=0, metrics={"final_loss_d": 0.5},
                          history={"grad_d_bottom": np.arange(20.0)},
                          final=lambda column: float(np.mean(np.arange(20.0)[-2:])))
    rs = RunSet("x", None, [run])
    assert rs.values("final_grad_d_bottom").tolist() == [18.5]
    assert rs.values("final_loss_d").tolist() == [0.5]
    assert np.isnan(rs.values("final_nothing")).all()


def test_measured_values_compare_like_run_sets():
    a = stats.Measured("a", {"score": {0: 10.0, 1: 12.0, 2: 11.0}})
    b = stats.Measured("b", {"score": {0: 2.0, 1: 3.0, 2: float("nan")}})
    found = stats.compare(a, b, "score")
    assert found.n_b == 2 and found.n_paired == 2 and found.wins_b == 2
    assert found.difference == pytest.approx(2.5 - 11.0)
    assert "b is better" in str(found)
    with pytest.raises(ValueError, match="score"):
        stats.compare(a, b, "fid")


def test_rank_correlation_orders_runs_like_scipy_and_refuses_too_few_pairs():
    rho, p = stats.rank_correlation([1.0, 2.0, 3.0, 4.0, float("nan")], [10.0, 20.0, 30.0, 40.0, 0.0])
    assert rho == pytest.approx(1.0) and p < 0.05
    rho, _ = stats.rank_correlation([1, 2, 3, 4, 5], [5, 4, 3, 2, 1])
    assert rho == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="at least 3"):
        stats.rank_correlation([1.0, 2.0, float("nan")], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="equal length"):
        stats.rank_correlation([1.0, 2.0, 3.0], [1.0, 2.0])
