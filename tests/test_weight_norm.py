"""Chapter 8's library pieces: the WN+ReLU ablation option, the wn:* set-ups and the helper
that shows a weight-normalized layer's gradient is orthogonal to its direction parameter."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bngan import models, norms
from bngan.config import ConfigError
from bngan.experiments import SERIES, WEIGHT_NORM, get_experiment, run_series, weight_norm
from bngan.train import build_networks


def kinds(net: nn.Module) -> set[type]:
    return {type(m) for m in net.modules()}


def test_wn_activation_relu_replaces_every_tprelu_and_keeps_strict_layers():
    g, d = build_networks(get_experiment("wn:wn-relu", "smoke"))
    g_ref, d_ref = build_networks(get_experiment("wn:wn", "smoke"))
    assert norms.TPReLU in kinds(g_ref) and norms.TPReLU in kinds(d_ref)
    assert norms.TPReLU not in kinds(g) | kinds(d)
    assert nn.ReLU in kinds(g) and nn.LeakyReLU in kinds(d) and nn.ReLU not in kinds(d)
    # same layers otherwise: as many weight-normalized layers, none of the hidden ones with a bias
    wn = lambda net: [m for m in net.modules() if norms.is_weight_normalized(m)]  # noqa: E731
    assert len(wn(g)) == len(wn(g_ref)) and len(wn(d)) == len(wn(d_ref))
    assert [m.bias is None for m in wn(g)] == [m.bias is None for m in wn(g_ref)]
    n_act = lambda net, t: sum(isinstance(m, t) for m in net.modules())  # noqa: E731
    assert n_act(g, nn.ReLU) == n_act(g_ref, norms.TPReLU)
    assert n_act(d, nn.LeakyReLU) == n_act(d_ref, norms.TPReLU)


@pytest.mark.parametrize("arch", ["keras", "radford"])
def test_build_dcgan_threads_wn_activation(arch):
    kw = dict(arch=arch, norm="weight", placement="all", image_size=16, channels=1, g_kernel=4, d_kernel=4, width=8,
              g_filters=(8, 8), d_filters=(8, 8, 8, 8))
    g, d = models.build_dcgan(**kw, wn_activation="relu")
    assert norms.TPReLU not in kinds(g) | kinds(d)
    g, d = models.build_dcgan(**kw)
    assert norms.TPReLU in kinds(g) and norms.TPReLU in kinds(d)
    with pytest.raises(ValueError, match="wn_activation must be one of"):
        models.build_dcgan(**kw, wn_activation="gelu")


@pytest.mark.parametrize("changes, match", [
    ({"wn_activation": "gelu"}, "model.wn_activation must be one of"),
    ({"norm": "batch", "placement": "dcgan", "wn_activation": "relu"}, "model.wn_activation must be 'tprelu' unless"),
    ({"norm": "spectral", "wn_activation": "relu"}, "model.wn_activation must be 'tprelu' unless"),
])
def test_wn_activation_refusals_name_the_field(changes, match):
    base = get_experiment("wn:wn", "smoke")
    with pytest.raises(ConfigError, match=match):
        base.vary(**changes)


def test_wn_activation_refused_on_the_mlp():
    toy = get_experiment("blindspot:weight-shift", "smoke")
    with pytest.raises(ConfigError, match="model.wn_activation"):
        toy.vary(norm="weight", wn_activation="relu")


def test_wn_activation_enters_the_hash_only_off_its_neutral_value():
    wn = get_experiment("wn:wn", "smoke")
    assert wn.vary(wn_activation="tprelu").hash() == wn.hash()
    assert wn.vary(wn_activation="relu").hash() != wn.hash()


def test_wn_set_ups_train_as_xiang_and_li_and_differ_only_in_normalization():
    configs = {v: get_experiment(f"wn:{v}", "quick") for v in WEIGHT_NORM}
    for v, c in configs.items():
        t = c.train
        assert c.model.arch == "radford" and c.name == f"wn:{v}"
        assert (t.optimizer, t.lr_g, t.lr_d, t.rms_alpha, t.rms_eps, t.batch_size) == ("rmsprop", 1e-4, 1e-4, 0.9, 1e-6, 32)
        assert t.eval_every > 0 and t.steps // t.eval_every >= 3  # recon error several times per run
    assert configs["wn"].model.norm == "weight" and configs["wn-relu"].model.wn_activation == "relu"
    assert configs["spectral"].model.norm_in == "d"
    with pytest.raises(ValueError, match="variant must be one of"):
        weight_norm("nope", "quick")


def test_wn_main_series_trains_at_smoke(tmp_path):
    entries = {label: get_experiment(name, "smoke").vary(width=4) for label, name in SERIES["wn:main"].items()}
    results = run_series(entries, seeds=[0], root=tmp_path, device="cpu", progress=False)
    assert set(results) == set(SERIES["wn:main"])
    for label, rs in results.items():
        run = rs.completed[0]
        assert np.isfinite(run.metrics["recon_mse"]), label
        assert len(run.evals["step"]) >= 2 and np.isfinite(run.evals["recon_mse"]).all(), label


def _one_backward(net: nn.Module) -> None:
    torch.manual_seed(0)
    net.zero_grad()
    x = torch.randn(8, 1, 16, 16)
    (net(x) ** 2).mean().backward()


def test_gradient_of_a_weight_normalized_layer_is_orthogonal_to_its_direction():
    torch.manual_seed(1)
    wn_d = models.radford_discriminator(image_size=16, channels=1, width=8, norm="weight", placement="all")
    plain_d = models.radford_discriminator(image_size=16, channels=1, width=8, norm="none")
    for net in (wn_d, plain_d):
        _one_backward(net)
    wn_cos = norms.gradient_weight_cosines(wn_d)
    plain_cos = norms.gradient_weight_cosines(plain_d)
    assert len(wn_cos) == 3 and len(plain_cos) == 3
    assert max(np.abs(c).max() for c in wn_cos.values()) < 1e-6
    assert max(np.abs(c).max() for c in plain_cos.values()) > 1e-2  # plain layers have no such constraint


def test_gradient_cosines_cover_transposed_convs_and_skip_layers_without_grad():
    torch.manual_seed(2)
    g = models.radford_generator(latent_dim=4, image_size=16, channels=1, width=8, norm="weight", placement="all")
    assert norms.gradient_weight_cosines(g) == {}
    g(torch.randn(5, 4)).sum().backward()
    cos = norms.gradient_weight_cosines(g)
    assert len(cos) == 3
    assert all(c.shape == (m.weight.shape[m._out_dim],) for (name, c), m in
               zip(cos.items(), (dict(g.named_modules())[n] for n in cos)))
    assert max(np.abs(c).max() for c in cos.values()) < 1e-6


def test_activation_means_reads_every_hidden_activation_and_restores_the_mode():
    torch.manual_seed(3)
    g = models.radford_generator(latent_dim=4, image_size=16, channels=1, width=8, norm="weight", placement="all")
    g.train()
    z = torch.randn(16, 4)
    means = norms.activation_means(g, z)
    assert len(means) == 2 and g.training
    assert not any(m._forward_hooks for m in g.modules())
    # recompute the first TPReLU's output by hand
    first = next(name for name in means)
    upto = list(g)[: int(first) + 1]
    with torch.no_grad():
        x = z
        for layer in upto:
            x = layer(x)
    assert means[first] == pytest.approx(float(x.mean()), rel=1e-6)
    plain = models.radford_generator(latent_dim=4, image_size=16, channels=1, width=8, norm="none")
    assert all(v >= 0 for v in norms.activation_means(plain, z).values())  # ReLU outputs are never negative


def test_seeds_needed_and_detectable_difference_invert_each_other():
    from bngan import stats

    assert stats.seeds_needed(1.0, 1.0) == 16  # 2 * (1.96 + 0.84)^2 = 15.7
    assert stats.seeds_needed(0.1, 1.0) == 2
    assert stats.seeds_needed(2.0, 1.0) == 63
    n = 10
    d = stats.detectable_difference(1.0, n)
    assert stats.seeds_needed(1.0, d) == n
    assert stats.detectable_difference(1.0, 40) == pytest.approx(d / 2)
    with pytest.raises(ValueError):
        stats.seeds_needed(1.0, 0.0)
    with pytest.raises(ValueError):
        stats.detectable_difference(1.0, 1)


def _convs(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) or norms.is_weight_normalized(m)]


@pytest.mark.parametrize("norm, placement", [("none", "dcgan"), ("batch", "dcgan"), ("weight", "all")])
def test_extra_layers_add_stride_one_blocks_to_both_nets(norm, placement):
    kw = dict(arch="radford", norm=norm, placement=placement, image_size=16, channels=1, width=8)
    g0, d0 = models.build_dcgan(**kw)
    g, d = models.build_dcgan(**kw, extra_layers=3)
    assert len(_convs(g)) == len(_convs(g0)) + 3 and len(_convs(d)) == len(_convs(d0)) + 3
    added = [m for m in _convs(g) + _convs(d) if tuple(m.weight.shape[-2:]) == (3, 3)]
    assert len(added) == 6 and all(m.stride == (1, 1) for m in added)
    if norm == "batch":
        count = lambda net: sum(isinstance(m, nn.BatchNorm2d) for m in net.modules())  # noqa: E731
        assert count(g) == count(g0) + 3 and count(d) == count(d0) + 3
    if norm == "weight":
        assert all(m.bias is None for m in added)
    assert g(torch.randn(2, 100)).shape == (2, 1, 16, 16) and d(torch.randn(2, 1, 16, 16)).shape == (2, 1)


def test_extra_layers_refusals_and_hash():
    base = get_experiment("wn:vanilla", "smoke")
    assert base.vary(extra_layers=0).hash() == base.hash()
    assert get_experiment("wn:deep-vanilla", "smoke") == base.vary(extra_layers=8, name="wn:deep-vanilla",
                                                                    description=WEIGHT_NORM["deep-vanilla"][0])
    with pytest.raises(ConfigError, match="model.extra_layers must be an integer >= 0"):
        base.vary(extra_layers=-1)
    with pytest.raises(ConfigError, match="model.extra_layers must be 0 unless model.arch is 'radford'"):
        get_experiment("table2:7", "smoke").vary(extra_layers=2)
    with pytest.raises(ValueError, match="extra_layers must be 0 unless arch is 'radford'"):
        models.build_dcgan(arch="keras", extra_layers=1)


def test_wn_deep_series_trains_at_smoke(tmp_path):
    entries = {label: get_experiment(name, "smoke").vary(width=4) for label, name in SERIES["wn:deep"].items()}
    results = run_series(entries, seeds=[0], root=tmp_path, device="cpu", progress=False)
    assert all(np.isfinite(rs.completed[0].metrics["recon_mse"]) for rs in results.values())


def test_eval_curves_plot_the_seed_mean_at_the_evaluation_steps(tmp_path):
    from bngan import plots

    base = get_experiment("wn:wn", "smoke").vary(width=4, steps=6, eval_every=2, recon_steps=2, recon_final_steps=2,
                                                 n_test=8, sample_every=3)
    rs = {"wn": run_series({"wn": base}, seeds=[0, 1], root=tmp_path, device="cpu", progress=False)["wn"],
          "no evals": run_series({"x": base.vary(eval_every=0)}, seeds=[0], root=tmp_path, device="cpu",
                                 progress=False)["x"]}
    ax = plots.eval_curves(rs)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"wn"}  # a set-up without evaluations draws nothing
    runs = rs["wn"].completed
    np.testing.assert_array_equal(lines["wn"].get_xdata(), [2, 4, 6])
    np.testing.assert_allclose(lines["wn"].get_ydata(), np.mean([r.evals["recon_mse"] for r in runs], axis=0))
    import matplotlib.pyplot as plt

    plt.close("all")
