"""ipywidgets explorers for live notebooks (Colab, Jupyter). The rendered site cannot run
them, so each explorer has a static figure (``plots``) that the chapter shows beside it."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt

from . import plots
from .experiments import RunSet


def sample_browser(results: Mapping[str, RunSet]):
    """Browse sample grids over training: pick a setting, a seed and a snapshot step."""
    import ipywidgets as w
    from IPython.display import display

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
    display(box)
    return box


def normalization_explorer(real=(0.5, 1.5)):
    """Shift and scale a fake batch (a copy of ``real``) and watch split normalization map it
    onto the real batch while joint normalization keeps them apart (static twin:
    :func:`bngan.plots.normalization_demo`)."""
    import ipywidgets as w
    import torch
    from IPython.display import display

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
    display(box)
    return box
