"""Named experiments: the seed paper's Table II rows, profile scaling, the registry, and
multi-seed sweeps (RunSet statistics, summary table, a diverged seed, bad seeds)."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from bngan import experiments, routine, runsets, step, train
from bngan.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from bngan.experiments import (EXPERIMENTS, SERIES, RunSet, get_experiment, run_experiment, run_series,
                               scale_to_profile, summary_table, table2)
from bngan.profiles import PROFILES
from bngan.train import build_networks


# The seed paper's Table II: noise labels, BN in, G kernel, batch size, D routine, G BN momentum (Keras).
PAPER_TABLE2 = {
    1: ("no", "both", 3, 16, "separate", 0.9),
    2: ("yes", "both", 3, 16, "separate", 0.9),
    3: ("no", "both", 3, 128, "combined", 0.9),
    4: ("yes", "both", 3, 128, "combined", 0.9),
    5: ("yes", "both", 5, 8, "separate", 0.9),
    6: ("yes", "both", 5, 16, "combined", 0.9),
    7: ("yes", "both", 5, 16, "separate", 0.9),
    8: ("yes", "both", 5, 32, "separate", 0.9),
    9: ("yes", "both", 5, 64, "separate", 0.9),
    10: ("yes", "both", 5, 128, "combined", 0.9),
    11: ("yes", "both", 5, 128, "separate", 0.9),
    12: ("yes", "g", 5, 128, "combined", 0.5),
    13: ("yes", "g", 5, 128, "combined", 0.7),
    14: ("yes", "g", 5, 128, "combined", 0.9),
}

# Fields the profile may change (steps, data, evaluation budget); everything else is the set-up.
BUDGET_FIELDS = {"steps", "log_every", "sample_every", "eval_every", "recon_steps", "recon_final_steps",
                 "checkpoint_every"}


def flat(config: ExperimentConfig) -> dict[str, object]:
    return {f"{section}.{k}": v for section in ("data", "model", "train")
            for k, v in dataclasses.asdict(getattr(config, section)).items()}


def tiny_toy(**changes) -> ExperimentConfig:
    base = ExperimentConfig(
        name="tiny-toy-sweep",
        data=DataConfig(kind="toy", toy="gaussian", toy_samples=64),
        model=ModelConfig(arch="mlp", latent_dim=2, width=8, depth=2, norm="batch", norm_in="both"),
        train=TrainConfig(steps=4, batch_size=8, log_every=2, sample_every=2, checkpoint_every=0),
    )
    return base.vary(**changes) if changes else base


# --------------------------------------------------------------------------- Table II


@pytest.mark.parametrize("exp_id", sorted(PAPER_TABLE2))
def test_table2_row_matches_the_paper(exp_id):
    noise, bn_in, kernel, batch, routine, keras_momentum = PAPER_TABLE2[exp_id]
    cfg = table2(exp_id, "smoke")
    assert get_experiment(f"table2:{exp_id}", "smoke") == cfg
    m, t = cfg.model, cfg.train
    assert (m.arch, m.norm, m.norm_in, m.g_kernel, m.d_kernel) == ("keras", "batch", bn_in, kernel, 4)
    assert (t.batch_size, t.routine) == (batch, routine)
    assert m.g_bn_momentum == pytest.approx(1.0 - keras_momentum)  # torch convention: weight of the new batch
    if kernel == 5:
        assert m.g_filters == (128, 128) and m.d_filters == (128, 128, 128, 128)
    else:
        assert m.g_filters == (128, 64) and m.d_filters == (32, 64, 128, 128)
    if noise == "yes":
        assert t.flip_prob == 0.05
        assert isinstance(t.real_label, tuple) and min(t.real_label) > 0.5 and max(t.real_label) <= 1.0
        assert isinstance(t.fake_label, tuple) and min(t.fake_label) >= 0.0 and max(t.fake_label) < 0.5
    else:
        assert (t.real_label, t.fake_label, t.flip_prob) == (1.0, 0.0, 0.0)
    assert (t.optimizer, t.lr_g, t.lr_d, t.beta1) == ("adam", 2e-4, 2e-4, 0.5)
    assert str(exp_id) in cfg.name and routine in cfg.description

    g, d = build_networks(cfg)
    bn = lambda net: [x for x in net.modules() if isinstance(x, torch.nn.modules.batchnorm._BatchNorm)]  # noqa: E731
    assert bn(g) and all(layer.momentum == pytest.approx(1.0 - keras_momentum) for layer in bn(g))
    assert bool(bn(d)) == (bn_in == "both")
    with torch.no_grad():
        x = g(torch.randn(2, m.latent_dim))
        assert x.shape == (2, cfg.data.image_channels, cfg.data.image_size, cfg.data.image_size)
        assert d(x).shape == (2, 1)


def test_table2_rejects_unknown_ids():
    for bad in (0, 15, "1"):
        with pytest.raises(ValueError, match="1-14"):
            table2(bad)


@pytest.mark.parametrize("exp_id", sorted(PAPER_TABLE2))
def test_profile_scales_budget_but_not_the_set_up(exp_id):
    smoke, quick = table2(exp_id, "smoke"), table2(exp_id, "quick")
    widths = ("g_filters", "d_filters", "width")  # quick narrows them alike (see the test below)
    assert dataclasses.replace(quick.model, **{k: getattr(smoke.model, k) for k in widths}) == smoke.model
    a, b = dataclasses.asdict(smoke.train), dataclasses.asdict(quick.train)
    assert {k for k in a if a[k] != b[k]} <= BUDGET_FIELDS
    set_up = lambda fields: {k: v for k, v in fields.items() if k not in BUDGET_FIELDS}  # noqa: E731
    assert set_up(a) == set_up(b)
    for cfg, name in ((smoke, "smoke"), (quick, "quick")):
        p = PROFILES[name]
        assert cfg.train.steps == p.steps and cfg.train.log_every == p.log_every
        assert (cfg.data.image_size, cfg.data.n_train, cfg.data.n_test) == (p.image_size, p.n_train, p.n_test)
    assert smoke.train.steps != quick.train.steps


def test_scale_to_profile_on_toy_data_uses_toy_budget():
    base = tiny_toy()
    scaled = scale_to_profile(base, "smoke")
    p = PROFILES["smoke"]
    assert scaled.train.steps == p.toy_steps and scaled.data.toy_samples == p.toy_samples
    assert scaled.model == base.model and scaled.data.toy == base.data.toy
    assert (scaled.train.routine, scaled.train.batch_size, scaled.train.loss) == ("separate", 8, "bce")


@pytest.mark.parametrize("exp_id", sorted(experiments.TABLE2))
def test_quick_narrows_every_table2_network_alike(exp_id):
    """quick multiplies every conv width by the profile's width_scale and changes nothing
    else about the set-up: what the book compares (batch, kernel, BN, routine) is kept."""
    scale = PROFILES["quick"].width_scale
    paper, quick = table2(exp_id, "full"), table2(exp_id, "quick")
    assert 0 < scale < 1
    assert quick.model.g_filters == tuple(max(1, round(f * scale)) for f in paper.model.g_filters)
    assert quick.model.d_filters == tuple(max(1, round(f * scale)) for f in paper.model.d_filters)
    unscaled = ("g_filters", "d_filters", "width")
    assert dataclasses.replace(quick.model, **{k: getattr(paper.model, k) for k in unscaled}) == paper.model
    budget = ("steps", "sample_every", "eval_every", "log_every", "recon_steps", "recon_final_steps",
              "checkpoint_every")
    assert dataclasses.replace(quick.train, **{k: getattr(paper.train, k) for k in budget}) == paper.train
    assert quick.data.dataset == "fashion-mnist" and quick.hash() != paper.hash()


def test_width_scale_one_keeps_the_paper_widths():
    for name in ("smoke", "full"):
        assert PROFILES[name].width_scale == 1
    assert table2(10, "smoke").model == table2(10, "full").model


# which fields each registered series is allowed to vary (and must vary)
SERIES_FIELDS = {
    "table2:noise-labels": {"train.real_label", "train.fake_label", "train.flip_prob"},
    "table2:one-sided-bn": {"model.norm_in", "model.g_bn_momentum"},
    "table2:kernel": {"model.g_kernel", "model.g_filters", "model.d_filters"},
    "table2:batch-size": {"train.batch_size"},
    "table2:routine-16": {"train.routine"},
    "table2:routine-128": {"train.routine"},
    "heuristics:figure1": {"model.norm"},
    "heuristics:placement": {"model.placement"},
    "heuristics:beta1": {"train.beta1"},
    "heuristics:init": {"model.init", "model.bn_eps"},
    **{f"noise:{r}": {"train.real_label", "train.fake_label", "train.flip_prob", "train.instance_noise",
                      "train.instance_noise_decay"} for r in ("combined", "separate")},
    "onesided:combined": {"model.norm_in"},
    "onesided:separate": {"model.norm_in"},
    "onesided:momentum": {"model.g_bn_momentum"},
    "kernel:widths": {"model.g_kernel", "model.g_filters", "model.d_filters"},
    **{f"routine:{bn}-{b}": {"train.routine"} for bn in ("bn", "nobn") for b in (16, 128)},
    "routine:g-step": {"train.routine", "train.g_bn_mode"},
    "routine:ratios": {"train.g_steps", "train.lr_g", "train.lr_d"},
    "kernel:upsampling": {"model.g_kernel", "model.g_upsample"},
    "blindspot:bn": {"model.d_norms"},
    "blindspot:shift": {"model.d_norms"},
    "blindspot:failures": {"train.routine", "train.g_bn_mode"},
    "blindspot:fixes": {"train.g_bn_mode", "model.d_bn_momentum"},
    "blindspot:alternatives": {"model.d_norms"},
    "blindspot:moments": {"model.d_norms"},
    # chapter 5: batch size
    "batch:steps": {"train.batch_size"},
    "batch:images": {"train.batch_size", "train.steps", "train.sample_every", "train.eval_every",
                     "train.checkpoint_every"},
    "batch:no-bn": {"train.batch_size"},
    "batch:lr-scaled": {"train.batch_size", "train.lr_g", "train.lr_d"},
    "batch:layer-norm": {"train.batch_size"},
    "batch:lr-high": {"train.batch_size"},  # one rate at every batch
    "batch:figure9": {"train.batch_size", "train.routine"},
    # chapter 8: weight normalization and TReLU
    "wn:main": {"model.norm", "model.norm_in", "model.placement", "model.wn_activation"},
    "wn:deep": {"model.norm", "model.placement"},
}


@pytest.mark.parametrize("series", sorted(SERIES))
def test_series_compare_only_their_own_variable(series):
    configs = [get_experiment(name, "smoke") for name in SERIES[series].values()]
    rows = [flat(c) for c in configs]
    varying = {k for k in rows[0] if len({repr(r[k]) for r in rows}) > 1}
    assert varying == SERIES_FIELDS[series]
    assert len({c.hash() for c in configs}) == len(configs)


# --------------------------------------------------------------------------- registry


def test_an_unknown_experiment_names_the_closest_ones_and_bngan_list(tmp_path):
    with pytest.raises(ValueError) as info:
        get_experiment("table2:99")
    message = str(info.value)
    assert message == (f"unknown experiment 'table2:99'; did you mean 'table2:9', 'table2:8' or 'table2:7'?; "
                       f"`bngan list` shows all {len(EXPERIMENTS)} experiments")  # one short line, not all ~140
    with pytest.raises(ValueError, match="unknown experiment 'no-such-experiment'; `bngan list` shows all"):
        run_experiment("no-such-experiment", seeds=[0], root=tmp_path, progress=False)
    with pytest.raises(ValueError, match="unknown series 'table2:kernels'; did you mean 'table2:kernel'"):
        run_series("table2:kernels", seeds=[0], root=tmp_path, progress=False)
    assert not list(tmp_path.iterdir())


def test_register_adds_a_named_experiment(monkeypatch):
    seen = []

    def factory(profile):
        seen.append(profile.name)
        return tiny_toy(name="registered", steps=profile.toy_steps)

    monkeypatch.setitem(EXPERIMENTS, "custom:tiny", factory)
    experiments.register("custom:tiny", factory)
    cfg = get_experiment("custom:tiny", "quick")
    assert seen == ["quick"] and cfg.name == "registered" and cfg.train.steps == PROFILES["quick"].toy_steps
    with pytest.raises(ValueError, match="custom:tiny"):
        get_experiment("custom:other")


def test_run_experiment_by_name_uses_the_profile_and_its_seeds(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(runsets, "train_seed", lambda config, seed, **kw: calls.append((config, seed, kw)) or seed)
    rs = run_experiment("table2:12", profile="smoke", root=tmp_path, device="cpu", progress=False)
    assert [seed for _, seed, _ in calls] == list(PROFILES["smoke"].seeds)
    narrowed = table2(12, "smoke").vary(g_filters=(8, 8), d_filters=(8,) * 4)  # smoke only proves the code runs
    assert all(config == narrowed for config, _, _ in calls)
    assert all(kw["root"] == tmp_path and kw["device"] == "cpu" for _, _, kw in calls)
    assert rs.label == "table2:12" and rs.config == narrowed and rs.runs == list(PROFILES["smoke"].seeds)
    calls.clear()
    assert run_experiment("table2:12", profile="quick", seeds=[0], progress=False).config == table2(12, "quick")
    assert calls[0][0] == table2(12, "quick")  # quick and full run the registered config unchanged


# --------------------------------------------------------------------------- sweeps


@pytest.mark.filterwarnings("ignore:Mean of empty slice", "ignore:Degrees of freedom")
def test_run_experiment_over_two_seeds_and_summary(tmp_path):
    cfg = tiny_toy()
    rs = run_experiment(cfg, seeds=[0, 1], root=tmp_path, device="cpu", progress=False)
    assert isinstance(rs, RunSet) and len(rs) == 2 and rs.label == cfg.name and rs.config == cfg
    assert [r.seed for r in rs] == [0, 1] and all(r.status == "complete" for r in rs)
    assert len(rs.completed) == 2 and rs.n_diverged == 0
    swd = [r.metrics["swd"] for r in rs]
    assert swd[0] != swd[1]  # two seeds, two different runs
    mean, std = rs.mean_std("swd")
    assert mean == pytest.approx(np.mean(swd)) and std == pytest.approx(np.std(swd, ddof=1))  # the sample std
    assert np.allclose(rs.values("swd"), swd)
    assert all(np.isnan(rs.mean_std("no-such-metric")))

    # a second sweep loads the cached runs
    stamps = [(r.path / "record.json").stat().st_mtime_ns for r in rs]
    again = run_experiment(cfg, seeds=[0, 1], root=tmp_path, device="cpu", progress=False, label="again")
    assert [(r.path / "record.json").stat().st_mtime_ns for r in again] == stamps
    assert again.label == "again"

    other = run_series({"wide": cfg.vary(width=16), "narrow": cfg}, seeds=[0, 1], root=tmp_path, device="cpu",
                       progress=False)
    assert list(other) == ["wide", "narrow"] and all(len(v) == 2 for v in other.values())
    table = summary_table(other, metrics=("swd", "final_loss_d"))
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["setting", "seeds", "diverged"] and "swd" in lines[0]
    assert len(lines) == 4  # header, rule, two rows
    for label, line in zip(["wide", "narrow"], lines[2:]):
        assert line.startswith(label)
        assert line.split()[1:3] == ["2", "0"]
    narrow_mean = other["narrow"].mean_std("swd")[0]
    assert f"{narrow_mean:.4g}" in lines[3]
    assert summary_table([rs], metrics=("swd",)).splitlines()[2].startswith(cfg.name)


@pytest.mark.parametrize("seeds", [[], [-1], [0, -2], [0.5], ["1"]])
def test_bad_seeds_raise_before_training(seeds, tmp_path):
    with pytest.raises(ValueError, match="seeds"):
        run_experiment(tiny_toy(), seeds=seeds, root=tmp_path, device="cpu", progress=False)
    assert not list(tmp_path.iterdir())


def test_sweep_goes_on_past_a_diverged_seed(tmp_path, monkeypatch):
    current = {}
    original_init = train.Trainer.__init__
    original_loss = train.d_loss_fn

    def init(self, config, seed, *args, **kwargs):
        current.update(seed=seed, trainer=self)
        original_init(self, config, seed, *args, **kwargs)

    def nan_for_seed_1(kind, logits, targets):
        loss = original_loss(kind, logits, targets)
        return loss * float("nan") if current["seed"] == 1 and current["trainer"].step >= 3 else loss

    monkeypatch.setattr(train.Trainer, "__init__", init)
    monkeypatch.setattr(routine, "d_loss_fn", nan_for_seed_1)
    rs = run_experiment(tiny_toy(), seeds=[0, 1, 2], root=tmp_path, device="cpu", progress=False)
    assert [r.status for r in rs] == ["complete", "diverged", "complete"]
    diverged = rs.runs[1]
    assert diverged.diverged_at == 3 and diverged.metrics == {}
    assert diverged.history["step"][0] == 2 and np.isfinite(diverged.history["loss_d"][0])  # history kept
    assert rs.n_diverged == 1 and [r.seed for r in rs.completed] == [0, 2]
    mean, _ = rs.mean_std("swd")
    assert mean == pytest.approx(np.mean([rs.runs[0].metrics["swd"], rs.runs[2].metrics["swd"]]))
    row = summary_table({"x": rs}, metrics=("swd",)).splitlines()[2]
    assert row.split()[:3] == ["x", "3", "1"]
    assert experiments.seed_status(diverged).startswith("seed 1: trained, diverged at step 3 (")
    cached = run_experiment(tiny_toy(), seeds=[1], root=tmp_path, device="cpu", progress=False).runs[0]
    assert experiments.seed_status(cached) == "seed 1: cached (diverged at step 3)"


def test_progress_false_prints_nothing_per_seed_and_true_one_line_each(tmp_path, capsys):
    """Chapters pass progress=False: no line per seed whether runs train or load (runs that
    train count on one display, bngan.run_progress, which outside a terminal or a watched
    notebook prints a line only once 30 s have passed: never for these)."""
    for _ in range(2):  # trained, then cached
        run_experiment(tiny_toy(), seeds=[0, 1], root=tmp_path, device="cpu", progress=False)
    assert capsys.readouterr() == ("", "")
    run_experiment(tiny_toy(), seeds=[0, 1], root=tmp_path, device="cpu", progress=True)
    name = tiny_toy().name
    assert capsys.readouterr() == (f"{name} seed 0: cached\n{name} seed 1: cached\n", "")


def test_robust_summary_shows_median_and_range_of_the_completed_seeds():
    cfg = tiny_toy()
    fake_runs = [SimpleNamespace(status="complete", metrics={"swd": v}) for v in (1.0, 2.0, 100.0)]
    fake_runs.append(SimpleNamespace(status="diverged", metrics={}))
    rs = RunSet("x", cfg, fake_runs)
    row = summary_table({"x": rs}, metrics=("swd",), robust=True).splitlines()[2]
    assert row.split(maxsplit=3)[3].strip() == "2 [1, 100]"
    assert "34.33 ± 57" in summary_table({"x": rs}, metrics=("swd",)).splitlines()[2]


def test_noise_label_treatments_set_what_they_say():
    from bngan.experiments import noise_labels

    two = noise_labels("combined", "two-sided-5", "smoke").train
    assert (two.real_label, two.fake_label, two.flip_prob, two.routine) == ((0.7, 1.2), (0.0, 0.3), 0.05, "combined")
    one = noise_labels("separate", "one-sided-0", "smoke").train
    assert (one.real_label, one.fake_label, one.flip_prob) == (0.9, 0.0, 0.0)
    inst = noise_labels("separate", "instance", "smoke").train
    assert inst.instance_noise > 0 and inst.instance_noise_decay == inst.steps and inst.real_label == 1.0
    with pytest.raises(ValueError, match="treatment must be one of"):
        noise_labels("separate", "two-sided-7")
    with pytest.raises(ValueError, match="routine must be one of"):
        noise_labels("split", "none-0")


# --------------------------------------------------------------------------- chapter 3: one-sided BN


def test_one_sided_set_ups_reuse_table2_configs_and_move_only_bn():
    from bngan.experiments import one_sided

    # the paper's rows are entries of the design, run for run (same hash, same cache)
    assert get_experiment("onesided:combined-both", "quick").hash() == table2(10, "quick").hash()
    assert get_experiment("onesided:separate-both", "quick").hash() == table2(11, "quick").hash()
    assert get_experiment("onesided:combined-g", "quick").hash() == table2(14, "quick").hash()
    for routine, exp_id in (("combined", 10), ("separate", 11)):
        for bn_in in ("none", "g", "d", "both"):
            cfg = get_experiment(f"onesided:{routine}-{bn_in}", "smoke")
            assert cfg == one_sided(routine, bn_in, "smoke") and cfg.name == f"onesided:{routine}-{bn_in}"
            assert cfg.model.norm_in == bn_in and cfg.train.routine == routine
            assert cfg.train.batch_size == 128 and cfg.model.g_kernel == 5 and cfg.train.flip_prob == 0.05
            g, d = build_networks(cfg)
            has_bn = lambda net: any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())  # noqa: E731
            assert (has_bn(g), has_bn(d)) == (bn_in in ("g", "both"), bn_in in ("d", "both"))
            assert dataclasses.replace(cfg, name="x", description="", model=dataclasses.replace(
                cfg.model, norm_in="both")) == dataclasses.replace(table2(exp_id, "smoke"), name="x", description="")
    momenta = [get_experiment(name, "smoke").model.g_bn_momentum for name in SERIES["onesided:momentum"].values()]
    assert momenta == pytest.approx([0.5, 0.3, 0.1])
    with pytest.raises(ValueError, match="routine"):
        one_sided("split", "g")
    with pytest.raises(ValueError, match="bn_in"):
        one_sided("combined", "neither")


@pytest.mark.slow
def test_one_sided_series_run_and_log_the_g_probe(tmp_path):
    """Smoke test of chapter 3's series at a tiny width: every set-up trains and G's BN gaps are
    logged exactly where G has BN."""
    for series in ("onesided:combined", "onesided:separate", "onesided:momentum"):
        tiny = {label: get_experiment(name, "smoke").vary(
            g_filters=(8, 8), d_filters=(8, 8, 8, 8), steps=2, batch_size=8, n_test=8, recon_final_steps=2,
            eval_every=0, sample_every=2, log_every=1) for label, name in SERIES[series].items()}
        results = run_series(tiny, seeds=[0], root=tmp_path, progress=False)
        assert list(results) == list(SERIES[series])
        for label, rs in results.items():
            run = rs.runs[0]
            assert run.status == "complete" and np.isfinite(run.metrics["fid"])
            has_g_bn = rs.config.model.norm_in in ("g", "both")
            assert ("g_bn0_gap_var" in run.history and np.isfinite(run.history["g_bn0_gap_var"]).all()) == has_g_bn


# --------------------------------------------------------------------------- chapter 4: kernel size


def test_kernel_set_ups_contain_the_papers_pair_and_cross_kernel_with_width():
    from bngan.experiments import kernel_image_sizes, kernel_size

    assert kernel_size(3, profile="quick").hash() == table2(2, "quick").hash()
    assert kernel_size(5, "wide", profile="quick").hash() == table2(7, "quick").hash()
    narrow, wide = kernel_size(5, profile="full"), kernel_size(3, "wide", profile="full")
    assert (narrow.model.g_kernel, narrow.model.g_filters, narrow.model.d_filters) == (5, (128, 64), (32, 64, 128, 128))
    assert (wide.model.g_kernel, wide.model.g_filters, wide.model.d_filters) == (3, (128, 128), (128,) * 4)
    assert kernel_size(3, "wide", profile="quick").model.g_filters == table2(7, "quick").model.g_filters
    assert kernel_image_sizes("quick") == (16, 32) and kernel_image_sizes("full") == (32, 64)
    assert get_experiment("kernel:k5-table1-64px", "quick").data.image_size == 64
    transposed = get_experiment("kernel:k4-table1-transposed", "smoke")
    assert transposed.model.g_upsample == "transposed" and transposed.model.g_kernel == 4
    g, _ = build_networks(transposed)
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in g.modules()) == 2
    assert not any(isinstance(m, torch.nn.Upsample) for m in g.modules())
    for bad, match in (({"kernel": 7}, "kernel"), ({"kernel": 3, "widths": "narrow"}, "widths"),
                       ({"kernel": 3, "upsample": "bilinear"}, "upsample")):
        with pytest.raises(ValueError, match=match):
            kernel_size(**bad)


@pytest.mark.slow
def test_kernel_series_train_at_every_image_size(tmp_path):
    """Smoke test of chapter 4's set-ups at a tiny width, the doubled image size included."""
    names = [*SERIES["kernel:upsampling"].values(), "kernel:k5-table1-32px"]
    tiny = {name: get_experiment(name, "smoke").vary(
        g_filters=(8, 8), d_filters=(8, 8, 8, 8), steps=2, batch_size=8, n_test=8, recon_final_steps=2,
        eval_every=0, sample_every=2, log_every=1) for name in names}
    results = run_series(tiny, seeds=[0], root=tmp_path, progress=False)
    for name, rs in results.items():
        run = rs.runs[0]
        assert run.status == "complete" and np.isfinite(run.metrics["fid"])
        assert run.samples.shape[-1] == rs.config.data.image_size
    assert results["kernel:k5-table1-32px"].runs[0].samples.shape[-1] == 32


# --------------------------------------------------------------------------- chapter 6: the training routine


def test_routine_design_contains_table2s_pairs_and_moves_only_routine_and_bn():
    from bngan.experiments import routine_arm, training_routine

    for args, exp_id in ((("combined", True, 16), 6), (("separate", True, 16), 7),
                         (("combined", True, 128), 10), (("separate", True, 128), 11)):
        assert training_routine(*args, profile="quick").hash() == table2(exp_id, "quick").hash()
    split = training_routine("split", False, 128, "smoke")
    assert split.train.routine == "split" and split.model.norm == "none" and split.train.batch_size == 128
    g, d = build_networks(split)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in (*g.modules(), *d.modules()))
    assert routine_arm("g5", "smoke").train.g_steps == 5
    ttur = routine_arm("ttur", "smoke").train
    assert ttur.lr_g < table2(7, "smoke").train.lr_g < ttur.lr_d
    joint = routine_arm("joint-eval", "smoke").train
    assert (joint.routine, joint.g_bn_mode) == ("combined", "eval")
    for call, match in ((lambda: training_routine("mixed"), "routine"), (lambda: training_routine("split", batch=32), "batch"),
                        (lambda: training_routine("split", bn="yes"), "bn"), (lambda: routine_arm("g3"), "arm")):
        with pytest.raises(ValueError, match=match):
            call()


def test_routine_series_train_and_log_ds_gradients_for_every_routine(tmp_path):
    """Smoke test of chapter 6's set-ups at a tiny width: each trains, and D's top and bottom
    gradient norms are logged under every routine (the quantity the paper's Figure 6 plots)."""
    names = [*SERIES["routine:bn-16"].values(), *SERIES["routine:g-step"].values(), *SERIES["routine:ratios"].values()]
    tiny = {name: get_experiment(name, "smoke").vary(
        g_filters=(8, 8), d_filters=(8, 8, 8, 8), steps=2, batch_size=8, n_test=8, recon_final_steps=2,
        eval_every=0, sample_every=2, log_every=1) for name in dict.fromkeys(names)}
    results = run_series(tiny, seeds=[0], root=tmp_path, progress=False)
    for name, rs in results.items():
        run = rs.runs[0]
        assert run.status == "complete" and np.isfinite(run.metrics["fid"])
        for column in ("grad_d_top", "grad_d_bottom"):
            assert np.isfinite(run.history[column]).all() and (run.history[column] > 0).all()


def test_history_heads_and_tails_are_metrics_for_tables_and_comparisons():
    from bngan.runs import Run

    def run(seed, column):
        r = Run.__new__(Run)
        r.seed, r.status, r.metrics = seed, "complete", {"fid": 1.0}
        r.history = {"grad": np.asarray(column, dtype=float)}
        return r

    rs = RunSet("x", None, [run(0, [10.0] * 2 + [5.0] * 16 + [1.0] * 2), run(1, [8.0] * 2 + [0.0] * 18)])
    np.testing.assert_allclose(rs.values("first_grad"), [10.0, 8.0])
    np.testing.assert_allclose(rs.values("final_grad"), [1.0, 0.0])
    assert rs.by_seed("final_grad") == {0: 1.0, 1: 0.0} and rs.by_seed("fid") == {0: 1.0, 1: 1.0}
    assert np.isnan(rs.values("first_missing")).all() and rs.by_seed("first_missing") == {}
# --------------------------------------------------------------------------- chapter 5: batch size


def _setup(config: ExperimentConfig, *ignore: str) -> dict[str, object]:
    return {k: v for k, v in flat(config).items() if k not in ignore}


@pytest.mark.parametrize("batch", [8, 16, 32, 64, 128])
def test_batch_steps_arm_is_table2_itself(batch):
    from bngan.experiments import BATCH_IDS, batch_size

    exp_id = BATCH_IDS[batch]
    assert PAPER_TABLE2[exp_id][3] == batch and PAPER_TABLE2[exp_id][4] == "separate"
    for profile in ("smoke", "quick", "full"):
        cfg = batch_size("steps", batch, profile)
        assert cfg.hash() == table2(exp_id, profile).hash()
        assert cfg == get_experiment(f"batch:steps-{batch}", profile)
        assert cfg.name == f"batch:steps-{batch}" and f"#{exp_id}" in cfg.description


@pytest.mark.parametrize("profile", ["smoke", "quick", "full"])
def test_batch_arms_change_only_what_they_say(profile):
    from bngan.experiments import IMAGES_ANCHOR, batch_size

    steps = PROFILES[profile].steps
    for batch in (8, 16, 32, 64, 128):
        base = batch_size("steps", batch, profile)
        images = batch_size("images", batch, profile)
        # the images-seen arm keeps batch x steps constant (the anchor batch's images at the profile's steps)
        assert images.train.batch_size * images.train.steps == IMAGES_ANCHOR * steps
        assert images.train.steps == steps * IMAGES_ANCHOR // batch
        assert images.train.checkpoint_every == max(1, images.train.steps // 4)
        assert images.train.log_every == base.train.log_every
        budget = ("train.steps", "train.sample_every", "train.eval_every", "train.checkpoint_every")
        assert _setup(images, *budget) == _setup(base, *budget)
        no_bn = batch_size("no-bn", batch, profile)
        assert no_bn.model.norm == "none" and base.model.norm == "batch"
        assert _setup(no_bn, "model.norm") == _setup(base, "model.norm")
        g, d = build_networks(no_bn)
        assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in [*g.modules(), *d.modules()])
        layer = batch_size("layer-norm", batch, profile)
        assert layer.model.norm == "layer" and _setup(layer, "model.norm") == _setup(base, "model.norm")
        g, d = build_networks(layer)
        assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in [*g.modules(), *d.modules()])
        assert any(isinstance(m, torch.nn.GroupNorm) for m in d.modules())
        scaled = batch_size("lr-scaled", batch, profile)
        assert scaled.train.lr_g == scaled.train.lr_d == pytest.approx(2e-4 * (batch / 16) ** 0.5)
        assert _setup(scaled, "train.lr_g", "train.lr_d") == _setup(base, "train.lr_g", "train.lr_d")
    assert batch_size("lr-scaled", 16, profile).hash() == table2(7, profile).hash()
    assert batch_size("images", IMAGES_ANCHOR, profile).hash() == batch_size("steps", IMAGES_ANCHOR, profile).hash()
    assert batch_size("lr-scaled", 128, profile).train.lr_g > batch_size("lr-scaled", 64, profile).train.lr_g


def test_batch_size_refuses_bad_arguments():
    from bngan.experiments import batch_size

    for bad in ("fixed", "", "STEPS"):
        with pytest.raises(ValueError, match=r"^arm must be one of steps, images, no-bn, lr-scaled"):
            batch_size(bad, 16, "smoke")
    for bad in (0, 12, 256, -16, True, 16.5, "16", None):
        with pytest.raises(ValueError, match=r"^batch must be one of 8, 16, 32, 64, 128"):
            batch_size("steps", bad, "smoke")


def test_batch_registry_names_and_series():
    from bngan.experiments import BATCH_ARMS

    for arm in BATCH_ARMS:
        assert list(SERIES[f"batch:{arm}"]) == [f"batch {b}" for b in (8, 16, 32, 64, 128)]
        for b in (8, 16, 32, 64, 128):
            assert SERIES[f"batch:{arm}"][f"batch {b}"] == f"batch:{arm}-{b}"
            cfg = get_experiment(f"batch:{arm}-{b}", "smoke")
            assert cfg.train.batch_size == b and cfg.name == f"batch:{arm}-{b}"
    figure9 = [get_experiment(name, "quick") for name in SERIES["batch:figure9"].values()]
    assert [c.train.batch_size for c in figure9] == [8, 16, 32, 64, 128]
    assert [c.train.routine for c in figure9] == ["separate"] * 4 + ["combined"]
    assert figure9[-1].hash() == table2(10, "quick").hash()


def test_every_batch_experiment_builds_and_each_arm_trains_at_smoke(tmp_path):
    """Every registered chapter 5 name builds its config and networks at smoke; one batch size
    per arm (two for the images arm) trains at a tiny width and records its metrics and a loss
    history for the overlap."""
    from bngan.experiments import BATCH_ARMS
    from bngan.histories import add_loss_overlap

    for arm in BATCH_ARMS:
        for b in (8, 16, 32, 64, 128):
            g, d = build_networks(get_experiment(f"batch:{arm}-{b}", "smoke"))
            assert sum(p.numel() for p in g.parameters()) and sum(p.numel() for p in d.parameters())
    names = ["batch:steps-8", "batch:no-bn-8", "batch:lr-scaled-8", "batch:layer-norm-8", "batch:images-32",
             "batch:images-128"]
    tiny = {name: get_experiment(name, "smoke").vary(
        g_filters=(4, 4), d_filters=(4, 4, 4, 4), n_test=8, recon_final_steps=2, eval_every=0)
        for name in names}
    results = add_loss_overlap(run_series(tiny, seeds=[0], root=tmp_path, progress=False))
    for name, rs in results.items():
        run = rs.runs[0]
        assert run.status == "complete", name
        assert run.steps_done == rs.config.train.steps
        assert np.isfinite(run.metrics["fid"]) and 0 <= run.metrics["classes_covered"] <= 10
        assert 0.0 <= run.metrics["loss_overlap"] <= 1.0 and run.metrics["loss_gap"] >= 0.0
    assert results["batch:images-32"].runs[0].steps_done == 4 * results["batch:images-128"].runs[0].steps_done
