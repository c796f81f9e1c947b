"""The learning gate: a run learned when its FID is at most that of real images of two classes
(calibrated on reference generators that need no training); an arm learned when at least half
its seeds did."""

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


def test_the_gate_sits_between_the_references_that_have_not_learned_and_those_that_have():
    """On the bundled digits, before any run is read: the mean image, one repeated image and one
    class fail the gate; ten repeated images, two or more classes, blurred images and the held-out
    images pass; a generator that was never trained fails. (A changed rule or reference moves some
    of these across.)"""
    import torch

    from bngan import quality
    from bngan.train import build_networks, load_run_data

    config = experiments.get_experiment("heuristics:dcgan-bn", "smoke")
    refs = learning.reference_fids(config)
    limit = learning.threshold_for(config)
    assert limit == refs[learning.LEARNED_REFERENCE] == refs["3 real images repeated"]
    for name in ("mean image", "1 real image repeated", "real images of 1 class"):
        assert refs[name] > limit, name
    for name in ("real images of 2 classes", "real images of 3 classes", "real images of every class",
                 "held-out images", "10 real images repeated", "blurred real images (sigma 1 px)"):
        assert refs[name] < limit, name
    assert refs["real images of every class"] < refs["real images of 3 classes"] < refs["real images of 1 class"]
    assert learning.mean_image_fid(config) == refs["mean image"]
    _, test = load_run_data(config, "cpu", all_test=True)
    torch.manual_seed(0)
    g, _ = build_networks(config)
    with torch.no_grad():
        untrained = quality.sample_quality(g.eval()(torch.randn(512, config.model.latent_dim)), test,
                                           dataset=config.data.dataset)["fid"]
    assert untrained > limit
    table = learning.reference_table(config)
    assert [row[2] for row in table.rows] == sorted([row[2] for row in table.rows], key=lambda x: x == "fails")
