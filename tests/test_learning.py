"""The learning gate: a run learned when its FID is well below that of a generator that draws
the data's mean image; an arm learned when at least half its seeds did."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from bngan import experiments, learning


def arm(fids, label="arm", experiment="table2:1", statuses=None):
    statuses = statuses or ["complete"] * len(fids)
    runs = [NS(seed=s, metrics={"fid": f}, status=st) for s, (f, st) in enumerate(zip(fids, statuses))]
    return experiments.RunSet(label, experiments.get_experiment(experiment, "smoke"), runs)


def test_an_arm_learned_when_half_its_seeds_reach_the_threshold():
    assert learning.arm_learning(arm([100, 120, 500]), threshold=400).learned  # 2 of 3
    assert learning.arm_learning(arm([100, 500, 500, 120]), threshold=400).learned  # 2 of 4: half
    failed = learning.arm_learning(arm([553, 553, 405, 553, 553], label="no BN"), threshold=400)
    assert not failed.learned and (failed.learned_seeds, failed.completed) == (0, 5)
    assert str(failed) == "no BN did not learn at this profile (0 of 5 seeds reached FID ≤ 400)"


def test_diverged_seeds_do_not_count_and_an_arm_with_none_completed_did_not_learn():
    reading = learning.arm_learning(arm([100, 100], statuses=["complete", "diverged"]), threshold=400)
    assert (reading.learned_seeds, reading.completed) == (1, 1) and reading.learned
    none = learning.arm_learning(arm([100, 100], statuses=["diverged", "diverged"]), threshold=400)
    assert not none.learned


def test_toy_runs_are_not_gated():
    assert learning.arm_learning(arm([1.0], experiment="blindspot:bn"), threshold=400) is None


@pytest.mark.slow
def test_the_threshold_is_a_fraction_of_the_mean_images_fid_and_an_untrained_g_fails_it():
    """On the bundled digits: the mean image is far from the data, and a generator that was
    never trained does not reach the gate."""
    import torch

    from bngan import quality
    from bngan.train import build_networks, load_run_data

    config = experiments.get_experiment("heuristics:dcgan-bn", "smoke")
    limit = learning.threshold_for(config)
    d = config.data
    assert limit == pytest.approx(learning.LEARNED_FRACTION * learning.mean_image_fid(config))
    _, test = load_run_data(config, "cpu", all_test=True)
    torch.manual_seed(0)
    g, _ = build_networks(config)
    with torch.no_grad():
        untrained = quality.sample_quality(g.eval()(torch.randn(512, config.model.latent_dim)), test,
                                           dataset=d.dataset)["fid"]
    assert untrained > limit
    assert quality.sample_quality(test[:512], test, dataset=d.dataset)["fid"] < limit  # the data itself passes
