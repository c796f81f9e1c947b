"""ipywidgets explorers for live notebooks (Colab, Jupyter).

The rendered site cannot run a widget, so each explorer displays one output that carries both
the live widget and a PNG of its starting view: Jupyter and Colab show the widget, the site
(``_config.yml`` drops the widget mime type for HTML) shows the picture."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Mapping

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from ..runs.runsets import RunSet
from . import plots


WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def figure_png(fig: Figure) -> str:
    """``fig`` as base64 PNG text (the form notebook outputs store), closing the figure."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def with_static_fallback(box, draw_static: Callable[[], Figure]) -> dict[str, object]:
    """The widget's display bundle plus ``image/png``: its starting view drawn by
    ``draw_static``, for renderers that cannot run widgets (the book's site, GitHub)."""
    bundle = dict(box._repr_mimebundle_() or {})
    if WIDGET_MIME not in bundle:
        raise ValueError("box must be an ipywidgets widget with a view")
    bundle["image/png"] = figure_png(draw_static())
    return bundle


def _show(box, draw_static: Callable[[], Figure]) -> None:
    from IPython.display import display

    display(with_static_fallback(box, draw_static), raw=True)


def sample_browser(results: Mapping[str, RunSet]):
    """Browse sample grids over training: pick a setting, a seed and a snapshot step."""
    import ipywidgets as w

    if not results:
        raise ValueError("results must hold at least one setting")
    labels = list(results)
    setting = w.Dropdown(options=labels, description="setting")
    seed = w.Dropdown(description="seed")
    first = results[labels[0]].runs[0]
    snapshot = w.SelectionSlider(options=[(str(int(s)), i) for i, s in enumerate(first.sample_steps)],
                                 description="step", continuous_update=False)
    out = w.Output()

    quiet = {"on": False}  # set while the code itself changes a control

    def runs():
        return results[setting.value].runs

    def refresh_choices(*_):
        quiet["on"] = True
        seed.options = [(str(r.seed), i) for i, r in enumerate(runs())]
        seed.value = 0
        quiet["on"] = False
        refresh_steps()

    def refresh_steps(*_):
        if quiet["on"]:
            return
        run = runs()[seed.value]
        quiet["on"] = True
        snapshot.options = [(str(int(s)), i) for i, s in enumerate(run.sample_steps)]
        snapshot.value = len(run.sample_steps) - 1
        quiet["on"] = False
        draw()

    def draw(*_):
        if quiet["on"]:
            return
        run = runs()[seed.value]
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(4, 4))
            plots.sample_grid(run, index=snapshot.value, ax=ax, title=f"{setting.value}, seed {run.seed}")
            plt.show()

    setting.observe(refresh_choices, names="value")
    seed.observe(refresh_steps, names="value")
    snapshot.observe(draw, names="value")
    refresh_choices()
    box = w.VBox([w.HBox([setting, seed]), snapshot, out])

    def draw_static() -> Figure:
        fig, ax = plt.subplots(figsize=(4, 4))
        plots.sample_grid(first, ax=ax, title=f"{labels[0]}, seed {first.seed}")
        return fig

    _show(box, draw_static)
    return box


def normalization_explorer(real=(0.5, 1.5)):
    """Shift and scale a fake batch (a copy of ``real``) and watch split normalization map it
    onto the real batch while joint normalization keeps them apart (static twin:
    :func:`bngan.book.plots.normalization_demo`)."""
    import ipywidgets as w
    import torch

    real = torch.as_tensor(real, dtype=torch.float64).reshape(-1)
    if len(real) < 2 or real.std() == 0:
        raise ValueError("real must hold at least 2 distinct values")
    shift = w.FloatSlider(value=5.0, min=-10.0, max=10.0, step=0.25, description="shift")
    scale = w.FloatSlider(value=2.0, min=0.25, max=4.0, step=0.25, description="scale")
    out = w.Output()

    def draw(*_):
        with out:
            out.clear_output(wait=True)
            plots.normalization_demo(real, real * scale.value + shift.value)
            plt.show()

    shift.observe(draw, names="value")
    scale.observe(draw, names="value")
    draw()
    box = w.VBox([w.HBox([shift, scale]), out])
    _show(box, lambda: plots.normalization_demo(real, real * scale.value + shift.value))
    return box
