"""The primer's arithmetic: BN by hand equals torch's, the two momentum conventions are one
average, eval mode uses the stored statistics, and a mixed batch moves where the reals land."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bngan import primer


def test_bn_by_hand_is_what_batchnorm_computes():
    found = primer.by_hand([1.0, 2.0, 3.0, 6.0])
    assert found.mean == 3.0 and found.variance == pytest.approx(3.5)  # divided by n = 4, not 3
    assert found.normalized == pytest.approx(found.torch_output, abs=1e-12)
    assert found.normalized[0] == pytest.approx(-2 / np.sqrt(3.5 + 1e-5))
    with pytest.raises(ValueError, match="values must hold at least 2 numbers"):
        primer.by_hand([1.0])


def test_keras_and_pytorch_momentum_are_one_running_average():
    means = np.linspace(0, 5, 50)
    traces = primer.running_means(means, keras_momentum=0.9)
    assert np.allclose(traces["keras"], traces["pytorch"])
    layer = nn.BatchNorm1d(1, momentum=0.1).double().train()  # PyTorch 0.1 = Keras 0.9
    with torch.no_grad():
        for m in means:
            layer(torch.tensor([[m - 1.0], [m + 1.0]], dtype=torch.float64))
    assert layer.running_mean.item() == pytest.approx(traces["pytorch"][-1])
    slow = primer.running_means(means, keras_momentum=0.99)["keras"]
    assert slow[-1] < traces["keras"][-1] < means[-1]  # a larger Keras momentum lags more


def test_eval_mode_uses_the_stored_statistics():
    out = primer.train_and_eval([4.0, 6.0], running_mean=0.0, running_var=1.0)
    assert out["train"] == pytest.approx([-1.0, 1.0], abs=1e-4)
    assert out["eval"] == pytest.approx([4.0, 6.0], abs=1e-4)


def test_a_mixed_batch_moves_where_the_real_images_land():
    torch.manual_seed(0)
    real, fake = torch.randn(16, 3) + 2.0, torch.randn(16, 3) - 2.0
    views = {v.batch: v for v in primer.batch_views(real, fake, nn.Identity())}
    assert views["real only"].real_after_bn == pytest.approx(0.0, abs=1e-6)
    assert views["mixed"].real_after_bn > 0.5  # above the mixture's mean
    assert views["real only"].mean > views["mixed"].mean > views["fake only"].mean


def test_the_primers_figures_draw_what_they_are_given():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bngan import plots

    out = primer.train_and_eval([4.0, 6.0], running_mean=0.0, running_var=1.0)
    ax = plots.mode_outputs([4.0, 6.0], out)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["input", "train mode", "eval mode"]
    assert sorted(t.get_text() for t in ax.texts) == sorted(["+4.00", "+6.00", "−1.00", "+1.00", "+4.00", "+6.00"])
    torch.manual_seed(0)
    views = primer.batch_views(torch.randn(8, 2) + 1.0, torch.randn(8, 2) - 1.0, nn.Identity())
    ax = plots.batch_views(views)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["real only", "mixed"]  # no bar for a batch without reals
    plt.close("all")
