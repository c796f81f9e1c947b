"""Chapter 7's mechanism and set-ups: split vs joint normalization, what a BN discriminator
sees under each normalization, the moment-matching generator, the registered toy study,
and the shift test itself on a small budget."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from bngan import blindspot, experiments, models, plots, runsets, widgets  # noqa: E402
from bngan.config import ConfigError  # noqa: E402
from bngan.experiments import BLIND_SPOT, blind_spot, run_experiment  # noqa: E402
from bngan.norms import keras_to_torch_momentum  # noqa: E402
from bngan.profiles import PROFILES  # noqa: E402

# --------------------------------------------------------------------------- the two-sample example


def test_source_two_sample_example_split_and_joint():
    normed = blindspot.split_and_joint([0.5, 1.5], [6.0, 8.0])
    # split: both batches become [-1, 1], so nothing after BN can tell them apart
    torch.testing.assert_close(normed.real_split, torch.tensor([-1.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(normed.fake_split, normed.real_split)
    # joint: the values source 001 prints, and a threshold at 0 separates real from fake
    joint = torch.cat([normed.real_joint, normed.fake_joint])
    source = torch.tensor([-1.12815215, -0.80582296, 0.64465837, 1.28931674], dtype=torch.float64)
    torch.testing.assert_close(joint, source, atol=1e-8, rtol=0)
    assert (normed.real_joint < 0).all() and (normed.fake_joint > 0).all()


def test_split_normalization_forgets_any_positive_affine_map_per_feature():
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(100, 2, generator=gen, dtype=torch.float64)
    fake = real * torch.tensor([3.0, 0.5], dtype=torch.float64) + torch.tensor([-4.0, 7.0], dtype=torch.float64)
    normed = blindspot.split_and_joint(real, fake)
    torch.testing.assert_close(normed.fake_split, normed.real_split)
    assert not torch.allclose(normed.fake_joint, normed.real_joint, atol=0.1)


@pytest.mark.parametrize("real, fake, match", [([1.0], [2.0, 3.0], "at least 2"),
                                               (torch.zeros(4, 2), torch.zeros(4, 3), "same per-sample shape")])
def test_normalization_refuses_bad_batches(real, fake, match):
    with pytest.raises(ValueError, match=match):
        blindspot.split_and_joint(real, fake)


# --------------------------------------------------------------------------- what D sees


def _d(norm):
    torch.manual_seed(0)
    return models.mlp_discriminator(norm=norm).train()


def test_views_of_a_bn_discriminator_differ_and_leave_its_statistics_alone():
    d = _d(["batch", "batch"])
    real = torch.randn(256, 2)
    with torch.no_grad():
        for _ in range(20):  # give the running statistics something to remember
            d(real)
    buffers = {k: v.clone() for k, v in d.state_dict().items()}
    fake = 2.0 * real + torch.tensor([4.0, -3.0])
    views = blindspot.discriminator_views(d, real, fake)
    assert set(views) == set(blindspot.VIEWS)
    alone_real, alone_fake = views["fakes alone"]
    assert alone_fake == pytest.approx(alone_real, abs=1e-5)  # blind: each batch normalized alone
    joint_real, joint_fake = views["joint batch"]
    assert abs(joint_fake - joint_real) > 1e-3  # together, the shift changes D's answer
    assert views["running stats"][1] != pytest.approx(alone_fake, abs=1e-3)
    assert all(torch.equal(v, buffers[k]) for k, v in d.state_dict().items())
    assert d.training


@pytest.mark.parametrize("norm", ["none", "layer", "group", "weight", "spectral", ["none", "batch"]])
def test_per_sample_normalizations_and_bn_after_the_first_layer_see_a_shift(norm):
    d = _d(norm)
    real = torch.randn(256, 2)
    with torch.no_grad():
        assert not torch.allclose(d(real), d(real + torch.tensor([3.0, 0.0])), atol=1e-3)


# --------------------------------------------------------------------------- the moment-matching generator


def test_moment_match_gives_every_batch_the_targets_and_is_saved_with_the_weights():
    layer = models.MomentMatch(2)
    data = torch.randn(500, 2) * torch.tensor([2.0, 0.3]) + torch.tensor([1.0, -1.0])
    layer.set_target(data)
    out = layer(torch.randn(64, 2) * 7 - 3)
    torch.testing.assert_close(out.mean(0), data.mean(0), atol=1e-4, rtol=0)
    torch.testing.assert_close(out.std(0, unbiased=False), data.std(0, unbiased=False), atol=1e-3, rtol=1e-3)
    g = models.mlp_generator(match_moments=True)
    assert isinstance(g[-1], models.MomentMatch) and f"{len(g) - 1}.target_mean" in g.state_dict()
    with pytest.raises(ValueError, match="at least 2"):
        layer(torch.zeros(1, 2))


def test_match_moments_is_refused_for_image_models():
    with pytest.raises(ConfigError, match="model.match_moments"):
        experiments.seed_paper_dcgan(match_moments=True)


# --------------------------------------------------------------------------- the registered study


def test_blind_spot_base_is_source_001_set_up():
    cfg = blind_spot("bn-shift", "quick")
    m, t, d = cfg.model, cfg.train, cfg.data
    assert d.kind == "toy" and t.batch_size == d.toy_samples == PROFILES["quick"].toy_samples  # whole population
    assert (m.arch, m.width, m.depth, m.leak, m.latent_dim, m.init) == ("mlp", 64, 2, 0.01, 2, "glorot")
    assert m.d_bn_momentum == pytest.approx(keras_to_torch_momentum(0.99))
    assert (t.loss, t.optimizer, t.lr_g, t.lr_d, t.beta1) == ("minimax", "adam", 1e-3, 1e-3, 0.9)
    assert t.routine == "split" and t.g_bn_mode == "train" and t.g_shift_weight == 0.005
    assert t.steps == PROFILES["quick"].toy_steps
    assert blind_spot("no-bn", "quick").train.g_shift_weight == 0
    assert all(blind_spot(v, "smoke").name == f"blindspot:{v}" for v in BLIND_SPOT)
    with pytest.raises(ValueError, match="no-bn"):
        blind_spot("bn-everywhere")


def test_toy_experiments_default_to_the_profiles_toy_seeds(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(runsets, "train_seed", lambda config, seed, **kw: calls.append(seed) or seed)
    run_experiment("blindspot:bn", profile="quick", root=tmp_path, progress=False)
    assert calls == list(PROFILES["quick"].toy_seeds)
    calls.clear()
    run_experiment("table2:1", profile="quick", root=tmp_path, progress=False)
    assert calls == list(PROFILES["quick"].seeds)


# --------------------------------------------------------------------------- the shift test, trained


@pytest.fixture(scope="module")
def shift_runs(tmp_path_factory):
    """The shift test on a small budget: 600 steps on 256 points, 3 seeds each."""
    root = tmp_path_factory.mktemp("runs")
    small = {"toy_samples": 256, "batch_size": 256, "steps": 600, "sample_every": 300, "log_every": 10,
             "checkpoint_every": 0}
    return {name: run_experiment(blind_spot(name, "smoke").vary(**small), seeds=[0, 1, 2], root=root, progress=False)
            for name in ("no-bn-shift", "bn-shift", "moments-bn-first")}


@pytest.mark.slow
def test_shift_test_drifts_further_with_bn_and_split_batches(shift_runs):
    with_bn, without = shift_runs["bn-shift"].values("shift_x"), shift_runs["no-bn-shift"].values("shift_x")
    assert len(with_bn) == len(without) == 3
    assert with_bn.min() > without.max()  # every BN seed drifts further right than any no-BN seed
    assert with_bn.mean() > 0.5


@pytest.mark.slow
def test_moment_matched_fakes_keep_the_data_mean(shift_runs):
    shifts = np.stack([r.metrics["mean_shift"] for r in shift_runs["moments-bn-first"]])
    assert np.abs(shifts).max() < 1e-4  # each batch of fakes is given the data mean exactly
    views = blindspot.run_views(shift_runs["moments-bn-first"].runs[0], n=128)
    assert set(views) == set(blindspot.VIEWS)


# --------------------------------------------------------------------------- figures and the demo


@pytest.mark.slow
def test_blind_spot_figures_and_explorer(shift_runs):
    real = torch.randn(100, 2)
    fig = plots.toy_runs(shift_runs, real, max_seeds=2)
    assert len(fig.axes) == 6
    assert "bn-shift" in [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "Δx" in fig.axes[0].get_title()
    fig = plots.normalization_demo([0.5, 1.5], [6.0, 8.0])
    assert len(fig.axes) == 3
    split_fake = fig.axes[1].lines[-1].get_xdata()
    np.testing.assert_allclose(split_fake, [-1.0, 1.0])
    views = {"a": {v: (0.5, 0.4) for v in blindspot.VIEWS}, "b": {v: (0.6, 0.2) for v in blindspot.VIEWS}}
    table = blindspot.views_table(views).splitlines()
    assert len(table) == 4 and table[2].split() == ["a"] + ["0.500", "0.400"] * len(blindspot.VIEWS)
    ax = plots.discriminator_views(views)
    assert len(ax.patches) == 2 * len(blindspot.VIEWS)
    box = widgets.normalization_explorer()
    shift, scale = box.children[0].children
    shift.value, scale.value = -3.0, 0.5  # redraws without error
    with pytest.raises(ValueError, match="real"):
        widgets.normalization_explorer(real=[1.0, 1.0])


@pytest.mark.slow
def test_training_points_are_what_the_runs_train_on(shift_runs):
    from bngan.train import load_run_data

    points = blindspot.training_points("smoke")
    trained_on = load_run_data(shift_runs["bn-shift"].config, torch.device("cpu"))[0]
    assert points.shape == (PROFILES["smoke"].toy_samples, 2) and torch.equal(points, trained_on)
