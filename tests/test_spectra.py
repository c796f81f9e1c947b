"""The checkerboard score: power at a stride's period, relative to the data's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bngan import models, spectra


def smooth_images(n: int = 64, size: int = 16, seed: int = 0) -> torch.Tensor:
    """Random low-frequency images: blurred noise, no period-2 pattern to speak of."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, size // 4, size // 4, generator=g)
    return torch.nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False)


def checkerboard(size: int = 16) -> torch.Tensor:
    i = torch.arange(size)
    return ((i[:, None] + i[None, :]) % 2).float() * 2 - 1


def test_pure_checkerboard_puts_all_power_at_period_two():
    board = checkerboard().expand(4, 1, 16, 16)
    assert spectra.periodic_power(board, 2) == pytest.approx(1.0)
    # stripes of period 2 count too; stripes of period 4 only at period 4
    stripes4 = (torch.arange(16) // 2 % 2).float().expand(16, 16)[None].repeat(3, 1, 1)
    assert spectra.periodic_power(stripes4, 2) == pytest.approx(0.0, abs=1e-6)
    assert spectra.periodic_power(stripes4, 4) == pytest.approx(1.0)


def test_score_grows_with_the_checkerboard_added_and_is_one_against_itself():
    data = smooth_images(seed=0)
    assert spectra.checkerboard_score(data, data) == pytest.approx(1.0)
    scores = [spectra.checkerboard_score(smooth_images(seed=1) + a * checkerboard(), data) for a in (0.0, 0.05, 0.2)]
    assert scores[0] == pytest.approx(1.0, rel=0.5)
    assert scores[0] < scores[1] < scores[2] and scores[2] > 20


def test_score_ignores_brightness_offset_scale_and_dtype():
    data = smooth_images(seed=0)
    fakes = smooth_images(seed=1) + 0.1 * checkerboard()
    base = spectra.checkerboard_score(fakes, data)
    assert spectra.checkerboard_score(3 * fakes + 5, data) == pytest.approx(base, rel=1e-4)
    as_uint8 = ((fakes.clamp(-3, 3) + 3) * 40).round().to(torch.uint8)
    assert spectra.checkerboard_score(as_uint8, data) == pytest.approx(base, rel=0.05)
    rgb = fakes.repeat(1, 3, 1, 1)
    assert spectra.checkerboard_score(rgb, data) == pytest.approx(base, rel=1e-4)


def test_transposed_conv_at_init_scores_far_above_upsampling():
    """Odena et al.'s observation, on a random Keras-style generator: stride-2 transposed
    convs leave a checkerboard, nearest upsampling + conv does not."""
    data = smooth_images(n=256)
    scores = {}
    for upsample in ("nearest", "transposed"):
        torch.manual_seed(0)
        g = models.init_weights_(models.keras_generator(image_size=16, channels=1, filters=(16, 8), kernel_size=3,
                                                        upsample=upsample), "glorot").eval()
        with torch.no_grad():
            scores[upsample] = spectra.checkerboard_score(g(torch.randn(256, 100)), data)
    assert scores["transposed"] > 10 * scores["nearest"]


def test_constant_images_have_no_share_and_bad_input_is_refused():
    assert np.isnan(spectra.periodic_power(torch.ones(4, 1, 8, 8)))
    with pytest.raises(ValueError, match="period"):
        spectra.periodic_mask(16, 3)
    with pytest.raises(ValueError, match="square"):
        spectra.periodic_power(torch.zeros(2, 1, 8, 6))
    with pytest.raises(ValueError, match="shape"):
        spectra.periodic_power(torch.zeros(8, 8))
    with pytest.raises(ValueError, match="same image size"):
        spectra.checkerboard_score(torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 16, 16))


def test_over_training_scores_each_snapshot(tmp_path):
    from bngan import experiments
    from bngan.train import train_run

    config = experiments.get_experiment("kernel:k3-table1-transposed", "smoke").vary(
        g_filters=(8, 8), d_filters=(8,) * 4, steps=4, sample_every=2, log_every=2, n_test=8, recon_final_steps=2)
    run = train_run(config, 0, root=tmp_path, progress=False)
    data = smooth_images(n=32)
    steps, scores = spectra.checkerboard_over_training(run, data)
    assert list(steps) == [0, 2, 4] and scores.shape == (3,)
    assert scores[0] == pytest.approx(spectra.checkerboard_score(run.samples[0], data))
    toy = experiments.get_experiment("blindspot:no-bn", "smoke").vary(steps=2)
    with pytest.raises(ValueError, match="image run"):
        spectra.checkerboard_over_training(train_run(toy, 0, root=tmp_path, progress=False), data)
