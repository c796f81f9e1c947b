"""The wiring of a run that decides the book's numbers: instance noise reaches both halves of
D's batch in D's own step, and the final metrics score G in eval mode (issue 23, item 2)."""

from __future__ import annotations

import pytest
import torch

from bngan import experiments
from bngan.train import Trainer, build_networks, train_run

from test_fidelity import make_step, tiny_image


def one_d_update(cfg):
    """One D update of a fresh step: (the clean batch, reals then fakes, and what D was fed)."""
    s = make_step(cfg)
    real_batches, fake_batches, seen = [], [], []
    original = s.step.sample_real
    s.step.sample_real = lambda: real_batches.append(original()) or real_batches[-1]
    s.g.register_forward_hook(lambda m, i, o: fake_batches.append(o.detach().clone()))
    s.d.register_forward_pre_hook(lambda m, i: seen.append(i[0].detach().clone()))
    s.step.d_update(step=1, monitor=False)
    return torch.cat([real_batches[0], fake_batches[0]]), torch.cat(seen)


@pytest.mark.parametrize("routine", ["combined", "split", "separate"])
def test_instance_noise_reaches_reals_and_fakes_in_d_step(routine):
    cfg = tiny_image(routine=routine, instance_noise=0.5, instance_noise_decay=0, norm_in="none")
    clean, seen = one_d_update(cfg)
    n = cfg.train.batch_size
    assert len(seen) == 2 * n
    # D sees every real and every fake with noise of the configured std (no decay) on top
    for part in (slice(0, n), slice(n, 2 * n)):
        gap = (seen[part] - clean[part]).std()
        assert 0.45 < float(gap) < 0.55


def test_without_instance_noise_d_sees_exactly_the_batches():
    clean, seen = one_d_update(tiny_image(routine="combined", norm_in="none"))
    assert torch.equal(seen, clean)


def test_final_metrics_score_g_in_eval_mode(tmp_path, monkeypatch):
    modes = []
    original = Trainer.final_metrics

    def spy(self):
        handle = self.g.register_forward_hook(lambda m, i, o: modes.append(m.training))
        try:
            return original(self)
        finally:
            handle.remove()

    monkeypatch.setattr(Trainer, "final_metrics", spy)
    cfg = experiments.table2(2, "smoke").vary(g_filters=(8, 8), d_filters=(8,) * 4, steps=2, n_test=8,
                                              recon_final_steps=2, sample_every=2, eval_every=0, log_every=1)
    run = train_run(cfg, 0, root=tmp_path, progress=False)
    assert run.status == "complete" and modes
    # the samples scored for FID/KID come from G in eval mode (the reconstruction's own forward
    # passes are checked in test_metrics)
    assert modes[0] is False


def test_eval_mode_samples_differ_from_train_mode_ones_so_the_mode_matters():
    """Guards the test above: with BN in G, the two modes give different samples, so a G left
    in train mode would be caught."""
    cfg = tiny_image(norm_in="g")
    torch.manual_seed(0)
    g, _ = build_networks(cfg)
    z = torch.randn(16, cfg.model.latent_dim)
    g.train()
    train_out = g(z)
    g.eval()
    assert not torch.allclose(train_out, g(z), atol=1e-3)


@pytest.mark.parametrize("toy", ["gaussian", "ring"])
def test_the_toy_held_out_set_is_another_draw_of_the_same_distribution(toy):
    from bngan.config import DataConfig, ExperimentConfig, ModelConfig
    from bngan.run_data import load_run_data

    cfg = ExperimentConfig(name="toy-held-out", data=DataConfig(kind="toy", toy=toy, toy_samples=512),
                           model=ModelConfig(arch="mlp", latent_dim=2))
    train, test = load_run_data(cfg, torch.device("cpu"))
    assert train.shape == test.shape == (512, 2)
    shared = (torch.cdist(train, test, compute_mode="donot_use_mm_for_euclid_dist") < 1e-6).any(dim=1).sum()
    assert int(shared) == 0  # no training point is scored as held out
    assert torch.allclose(train.mean(0), test.mean(0), atol=0.3) and torch.allclose(train.std(0), test.std(0), rtol=0.2)
