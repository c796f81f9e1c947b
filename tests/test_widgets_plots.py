"""Widgets and figures on real (tiny) runs: they build, and the browser follows its controls."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from bngan import experiments, plots, widgets  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    """Each test's figures are closed after it, so pyplot never holds more than one test's."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    base = experiments.heuristics("dcgan-bn", "smoke").vary(
        g_filters=(8, 8), d_filters=(8, 8, 8, 8), steps=6, sample_every=2, log_every=2, n_test=8,
        recon_final_steps=2, eval_every=0)
    return {
        "bn": experiments.run_experiment(base, seeds=[0, 1], root=root, progress=False, label="bn"),
        "no bn": experiments.run_experiment(base.vary(norm="none"), seeds=[0], root=root, progress=False,
                                            label="no bn"),
    }


def test_sample_browser_follows_setting_seed_and_step(results):
    box = widgets.sample_browser(results)
    (setting, seed), snapshot, _ = box.children[0].children, box.children[1], box.children[2]
    run = results["bn"].runs[0]
    assert [label for label, _ in snapshot.options] == [str(int(s)) for s in run.sample_steps]
    assert snapshot.value == len(run.sample_steps) - 1  # starts at the last snapshot
    assert len(seed.options) == 2
    setting.value = "no bn"
    assert len(seed.options) == 1 and seed.value == 0
    snapshot.value = 0  # moving the slider redraws without error


def test_sample_browser_refuses_empty_results():
    with pytest.raises(ValueError, match="results"):
        widgets.sample_browser({})


def test_figures_have_one_panel_per_setting_and_curves_per_seed_set(results):
    fig = plots.samples_side_by_side(results)
    assert len(fig.axes) == 2
    fig = plots.training_progress({"renamed": results["bn"], "no bn": results["no bn"]}, columns=3)
    assert len(fig.axes) == 6
    assert "renamed" in [t.get_text() for t in fig.axes[0].texts]  # dict keys label the rows
    ax = plots.losses(results)
    assert len(ax.lines) == 4  # two settings x (loss_d, loss_g)
    ax = plots.metric_bars(results, "recon_mse")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["bn", "no bn"]
    import numpy as np
    from matplotlib.container import ErrorbarContainer

    errorbars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    for bar, errorbar, rs in zip(ax.patches, errorbars, results.values()):
        values = rs.values("recon_mse")
        (low, high), = [segment[:, 1] for segment in errorbar.lines[2][0].get_segments()]
        assert bar.get_height() == pytest.approx(values.mean())
        expected = values.std(ddof=1) if values.size > 1 else 0.0  # the std the tables print, none for one seed
        assert (high - low) / 2 == pytest.approx(expected)
    fig = plots.run_summary(results["bn"].runs[0])
    assert len(fig.axes) == 4
    fig.canvas.draw()  # the summary title stays inside the figure, wrapped rather than clipped
    title = fig._suptitle.get_window_extent(fig.canvas.get_renderer())
    frame = fig.bbox
    assert frame.x0 <= title.x0 and title.x1 <= frame.x1


def test_quality_over_training_plots_the_seed_mean_of_each_snapshot(results):
    import numpy as np

    from bngan import data, quality

    real = data.load_images("digits", image_size=16).test
    ax = plots.quality_over_training(results, real)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"bn", "no bn"}
    per_seed = [quality.over_training(r, real)[1] for r in results["bn"].runs]
    np.testing.assert_allclose(lines["bn"].get_ydata(), np.mean(per_seed, axis=0), rtol=1e-6)
    np.testing.assert_array_equal(lines["bn"].get_xdata(), results["bn"].runs[0].sample_steps)


def test_mode_samples_figure_has_a_row_per_setting_and_the_numbers_in_titles(results):
    import matplotlib.pyplot as plt

    samples = {label: rs.runs[0].mode_samples(9) for label, rs in results.items()}
    fig = plots.mode_samples(samples, numbers={"bn": {"eval": "FID 12", "train": "FID 34"}})
    assert len(fig.axes) == 2 * len(samples)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "bn\neval mode, FID 12" and titles[1] == "bn\ntrain mode, FID 34"
    assert titles[2] == "no bn\neval mode"
    plt.close(fig)


def test_zoomed_crops_show_the_top_left_pixels_of_each_image():
    import torch

    images = {"a": torch.arange(2 * 16 * 16, dtype=torch.float32).reshape(2, 1, 16, 16) / 256 - 1,
              "b": torch.zeros(3, 1, 16, 16, dtype=torch.uint8)}
    fig = plots.zoomed_crops(images, n=2, crop=4)
    axes = fig.axes
    assert len(axes) == 4
    shown = axes[1].get_images()[0].get_array()
    expected = ((images["a"][1, 0, :4, :4].clamp(-1, 1) + 1) * 127.5).round()
    assert shown.shape == (4, 4) and (shown == expected.numpy()).all()
    assert axes[0].get_ylabel() == "a" and axes[2].get_ylabel() == "b"


def test_mean_spectra_plot_each_batch_centred_on_one_scale():
    import numpy as np
    import torch

    i = torch.arange(8)
    board = (((i[:, None] + i[None, :]) % 2).float() * 2 - 1).expand(2, 1, 8, 8)
    smooth = torch.linspace(-1, 1, 8).expand(8, 8).expand(2, 1, 8, 8)
    fig = plots.mean_spectra({"board": board, "smooth": smooth})
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["board", "smooth"]
    board_img = panels[0].get_images()[0]
    values = board_img.get_array()
    # after fftshift the period-2 frequency (4, 4) sits at the corner [0, 0]: the board's only power
    assert np.unravel_index(np.nanargmax(values), values.shape) == (0, 0)
    assert board_img.get_clim() == panels[1].get_images()[0].get_clim()
    assert np.isfinite(np.asarray(values)).all()  # the removed zero frequency is drawn, not left blank


def test_curves_plot_the_seed_mean_of_the_history_column_and_its_range(results):
    import numpy as np

    ax = plots.curves(results, ("loss_d",))
    lines = {line.get_label(): line for line in ax.get_lines()}
    runs = results["bn"].runs
    np.testing.assert_allclose(lines["bn"].get_ydata(), np.mean([r.history["loss_d"] for r in runs], axis=0),
                               rtol=1e-6)
    np.testing.assert_array_equal(lines["bn"].get_xdata(), runs[0].history["step"])
    np.testing.assert_allclose(lines["no bn"].get_ydata(), results["no bn"].runs[0].history["loss_d"], rtol=1e-6)
    # the shaded band spans min..max over the two seeds
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    stacked = np.stack([r.history["loss_d"] for r in runs])
    assert band.min() == pytest.approx(stacked.min(), rel=1e-6) and band.max() == pytest.approx(stacked.max(), rel=1e-6)
    smoothed = plots.curves(results, ("loss_d",), smooth=2).get_lines()[0].get_ydata()
    raw = np.mean([r.history["loss_d"] for r in runs], axis=0)
    np.testing.assert_allclose(smoothed, (raw[1:] + raw[:-1]) / 2, rtol=1e-6)


def test_sample_grid_shows_the_runs_own_snapshot(results):
    import numpy as np
    from torchvision.utils import make_grid

    run = results["bn"].runs[1]
    for index in (0, -1):
        ax = plots.sample_grid(run, index=index, n=4)
        shown = np.asarray(ax.get_images()[0].get_array())
        expected = make_grid(run.samples[index][:4], nrow=2, padding=1, pad_value=255)[0].numpy()
        for channel in range(shown.shape[-1]):  # grey images come back as three equal channels
            np.testing.assert_array_equal(shown[..., channel], expected)
        assert f"step {int(run.sample_steps[index])}" in ax.get_title()
def test_metric_lines_plot_the_seed_mean_at_each_config_value(results):
    import dataclasses

    import numpy as np

    # the same runs relabelled as two batch sizes of one arm, and one of another arm
    bn, no_bn = results["bn"], results["no bn"]
    wide = dataclasses.replace(no_bn, config=no_bn.config.vary(batch_size=2 * no_bn.config.train.batch_size))
    arms = {"arm a": {"small": bn, "large": wide}, "arm b": {"small": bn}}
    ax = plots.metric_lines(arms, "recon_mse")
    assert [c.get_label() for c in ax.containers] == ["arm a", "arm b"]  # one errorbar line per arm
    xs, ys = ax.containers[0].lines[0].get_data()
    assert list(xs) == [bn.config.train.batch_size, wide.config.train.batch_size]
    assert ys[0] == np.mean(bn.values("recon_mse")) and ys[1] == wide.values("recon_mse")[0]
    assert ax.get_xscale() == "log"
    with pytest.raises(ValueError, match="^x must be"):
        plots.metric_lines(arms, "recon_mse", x="batch_size")


def test_loss_bands_draws_both_losses_and_states_the_overlap(results):
    from bngan import histories

    run = results["bn"].runs[0]
    ax = plots.loss_bands(run, window=2)
    assert [line.get_label() for line in ax.lines] == ["loss_d", "loss_g"]
    assert len(ax.collections) == 2  # one band per loss
    expected = histories.loss_overlap(run.history["loss_d"], run.history["loss_g"], 2)
    assert f"overlap {expected:.2f}" in ax.get_title()


@pytest.fixture
def displayed(monkeypatch):
    """What the widgets hand to IPython's display, captured instead of shown."""
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append((obj, raw)))
    return shown


def test_widgets_display_the_live_view_and_a_png_of_their_starting_view(results, displayed):
    import base64

    import matplotlib.pyplot as plt
    import torch

    box = widgets.normalization_explorer()
    (bundle, raw), = displayed
    assert raw and bundle[widgets.WIDGET_MIME]["model_id"] == box.model_id
    real = torch.tensor([0.5, 1.5], dtype=torch.float64)
    assert bundle["image/png"] == widgets.figure_png(plots.normalization_demo(real, real * 2.0 + 5.0))
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")

    box = widgets.sample_browser(results)
    bundle, _ = displayed[1]
    assert bundle[widgets.WIDGET_MIME]["model_id"] == box.model_id
    fig, ax = plt.subplots(figsize=(4, 4))
    run = results["bn"].runs[0]
    plots.sample_grid(run, ax=ax, title=f"bn, seed {run.seed}")
    assert bundle["image/png"] == widgets.figure_png(fig)  # the first setting's last snapshot
    assert fig.number not in plt.get_fignums()  # figure_png closes what it drew


def test_static_fallback_needs_a_widget():
    import matplotlib.pyplot as plt

    with pytest.raises(ValueError, match="widget"):
        widgets.with_static_fallback(object.__new__(type("NotAWidget", (), {"_repr_mimebundle_": lambda self: {}})),
                                     plt.figure)
