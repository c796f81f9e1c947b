"""The rules of the claims that are not a comparison of two registered experiments: each computes
the per-seed values of its claim's ``"rule:..."`` arms (or a number the runs do not record), so
that the ledger (:mod:`bngan.evidence.ledger`) reads them with the same tests as every other check, in the
same book-wide correction, on every page.

A rule is named by its claim (:attr:`bngan.evidence.claims.Claim.rule`) and called with the claim, the
claim's registered runs (``{experiment: RunSet}``, as the ledger gathered them) and the profile.
It returns ``{arm: values}``: a :class:`bngan.evidence.stats.Measured` per computed arm (or per
registered arm whose metric it computes), or an :class:`Identity` for an :class:`bngan.evidence.claims.Exact`
part. Where its runs, or their files (weights, samples: a claim with ``files``), are not there
yet it raises :class:`Waiting`, and the claim reads *not tested: waits for its runs*. Each
rule's docstring states what it computes and so what would make its claim *reproduced* or
not; the tests (Welch, equivalence within a margin) are the ledger's.
"""

from __future__ import annotations

import hashlib
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..profiles import Profile
from . import rule_records
from .claims import Claim
from .stats import Measured


class Waiting(Exception):
    """A rule's runs, or their files, are not in the run cache yet."""


@dataclass(frozen=True)
class Identity:
    """An :class:`bngan.evidence.claims.Exact` part's result: whether the identity held on every input
    (to ``tolerance``), and the numbers that say so."""

    holds: bool
    numbers: str


def _with_files(runs: Mapping, name: str) -> list:
    """The completed runs of ``name`` whose files are in the run cache, all of them or
    :class:`Waiting` (a recorded run from the committed results has no weights)."""
    found = runs.get(name)
    done = list(found.completed) if found is not None else []
    with_files = [r for r in done if getattr(r, "path", None) is not None]
    if not done or len(with_files) < len(done):
        raise Waiting(f"{name}: {len(with_files)} run(s) with their files in the run cache"
                      f"{'' if done else ', none finished'}")
    return with_files


def _data(config):
    from ..runs.run_data import load_run_data

    return load_run_data(config, torch.device("cpu"), all_test=True)


def _search(generator: nn.Module, images: torch.Tensor, latent_dim: int, steps: int) -> float:
    from ..measure.metrics import reconstruction_error

    return float(reconstruction_error(generator, images, latent_dim=latent_dim, steps=steps).mse)


# --------------------------------------------------------------------------- chapter 4


def checkerboard(claim: Claim, runs: Mapping, profile: Profile) -> dict[str, Measured]:
    """Claim 4.4: the checkerboard score (:func:`bngan.measure.spectra.checkerboard_score`: the share of
    the samples' power at period 2 over the held-out images' share) of 1000 samples (128 at
    ``smoke``) of each seed's final G in eval mode, for each registered arm. The claim is
    reproduced when kernel 4 scores detectably lower than kernels 3 and 5 (after the correction)."""
    from ..measure.spectra import checkerboard_score

    names = claim.registered
    per_arm = {name: _with_files(runs, name) for name in names}
    real = _data(runs[names[0]].config)[1]
    n = 128 if profile.name == "smoke" else 1000
    return {name: Measured(name, {"checkerboard": {r.seed: checkerboard_score(r.mode_samples(n, seed=123)["eval"], real)
                                                   for r in found}}, n_diverged=runs[name].n_diverged)
            for name, found in per_arm.items()}


# --------------------------------------------------------------------------- chapter 7


def toy_reference(claim: Claim, runs: Mapping, profile: Profile) -> dict[str, Measured]:
    """Claim 7.1, against two references, per seed of ``blindspot:no-bn``: ``rule:the noise
    itself``, the MMD to the held-out points of as many draws of G's input noise (the 2-D normal
    G maps, drawn with the seed) as the runs score, by the same :func:`bngan.measure.metrics.mmd_rbf`;
    and ``rule:ln 2``, the value D's loss takes at the equilibrium. Reproduced when the fakes are
    detectably nearer the data than the noise and D's final loss lies within a tenth of ln 2
    (equivalence); not reproduced when either is shown to fail."""
    from ..measure.metrics import mmd_rbf
    from ..runs.run_data import load_run_data

    rs = runs["blindspot:no-bn"]
    seeds = sorted(rs.by_seed("mmd"))
    test = load_run_data(rs.config, torch.device("cpu"))[1]
    n = min(512, len(test))
    noise = {s: mmd_rbf(torch.randn(n, rs.config.model.latent_dim, generator=torch.Generator().manual_seed(s)),
                        test[:n]) for s in seeds}
    return {"rule:the noise itself": Measured("G's input noise", {"mmd": noise}),
            "rule:ln 2": Measured("ln 2", {"final_loss_d": {s: math.log(2) for s in sorted(rs.by_seed("final_loss_d"))}})}


#: How far two normalized batches may differ and still count as the same values (float64).
IDENTITY_TOLERANCE = 1e-9


def split_identity(claim: Claim, runs: Mapping, profile: Profile, *, draws: int = 1000,
                   normalize: Callable | None = None) -> dict[str, Identity]:
    """Claim 7.4, exact and without training: ``draws`` random batches (2 to 64 samples of 1 to 8
    features, float64), each with a random shift and a positive scale per feature, normalized by
    :func:`bngan.measure.split_norm.split_and_joint` (or ``normalize``, a stand-in for the tests).
    ``rule:split``: reproduced when, on every draw, the batch and its shifted, scaled copy
    normalized each on its own give the same values to :data:`IDENTITY_TOLERANCE`; ``rule:joint``:
    reproduced when, normalized together, the copy differs from the batch on every draw (more
    than the tolerance): what split batches hide, a joint batch shows."""
    from ..measure.split_norm import split_and_joint

    normalize = normalize or split_and_joint
    rng = np.random.default_rng(0)
    split_gap, joint_gap = 0.0, math.inf
    for _ in range(draws):
        n, features = int(rng.integers(2, 65)), int(rng.integers(1, 9))
        x = torch.as_tensor(rng.normal(size=(n, features)))
        shift = torch.as_tensor(rng.normal(0, 5, size=features))
        scale = torch.as_tensor(rng.uniform(0.1, 10, size=features))
        normed = normalize(x, x * scale + shift)
        split_gap = max(split_gap, float((normed.real_split - normed.fake_split).abs().max()))
        joint_gap = min(joint_gap, float((normed.real_joint - normed.fake_joint).abs().max()))
    tol = IDENTITY_TOLERANCE
    return {"rule:split": Identity(split_gap <= tol, f"largest difference {split_gap:.2g} over {draws} draws "
                                                     f"(tolerance {tol:g})"),
            "rule:joint": Identity(joint_gap > tol, f"smallest largest-difference {joint_gap:.3g} over {draws} draws")}


# --------------------------------------------------------------------------- chapter 9

#: The trained generator chapter 9 measures the metric with: chapter 1's DCGAN with BN.
GOOD = "heuristics:dcgan-bn"


def search_converges(claim: Claim, runs: Mapping, profile: Profile, *, n_images: int = 32) -> dict[str, Measured]:
    """Claim 9.1: per seed of :data:`GOOD`, ``n_images`` images its final G (eval mode) made
    from known latents (drawn with seed 7), searched as every run is scored
    (``train.recon_final_steps`` steps from z = 0; ``rule:100 search steps`` at ``quick``) and 5
    times as long (``rule:500 search steps``). Reproduced when the book's search ends within a
    tenth of the longer one's error (equivalence): it has found the z a longer search would; not
    reproduced when it is shown to stop further away than that."""
    found = _with_files(runs, GOOD)
    steps = found[0].config.train.recon_final_steps
    short, long = {}, {}
    for run in found:
        g, _ = run.networks()
        g.eval()
        latent = run.config.model.latent_dim
        with torch.no_grad():
            made = g(torch.randn(n_images, latent, generator=torch.Generator().manual_seed(7)))
        short[run.seed] = _search(g, made, latent, steps)
        long[run.seed] = _search(g, made, latent, 5 * steps)
    return {"rule:100 search steps": Measured(f"{steps} search steps", {"recon_mse": short}),
            "rule:500 search steps": Measured(f"{5 * steps} search steps", {"recon_mse": long})}


def mode_dropping(claim: Claim, runs: Mapping, profile: Profile) -> dict[str, Measured]:
    """Claim 9.3's second part: ``rule:mean image``, the reconstruction error of a G that always
    draws the training images' mean (:class:`bngan.measure.baselines.MeanImage`: it drops every mode),
    scored as the runs are (their held-out images, ``train.recon_final_steps`` steps), one value
    for each seed of the collapsed run it is compared with. The first part compares two
    registered experiments' recorded errors. Reproduced when a collapsed run's error is
    detectably above the trained G's, and the mean image's detectably above the collapsed run's."""
    from ..measure.baselines import MeanImage
    from ..runs.run_data import load_run_data

    collapsed = "routine:combined-nobn-16"
    _with_files(runs, collapsed)  # the data these runs were trained on is then in its cache
    rs = runs[collapsed]
    train, test = load_run_data(rs.config, torch.device("cpu"))
    latent = rs.config.model.latent_dim
    error = _search(MeanImage(train.mean(0), latent), test, latent, rs.config.train.recon_final_steps)
    return {"rule:mean image": Measured("the data's mean image", {"recon_mse": {s: error for s in rs.by_seed("recon_mse")}})}


class Memorizer(nn.Module):
    """A generator that has memorized ``images``: ``G(z) = sum_k softmax(W z)_k images_k`` with a
    fixed random ``W`` (seeded), so a latent search can reach each stored image (and blends of
    them), and nothing else."""

    def __init__(self, images: torch.Tensor, latent_dim: int, seed: int) -> None:
        super().__init__()
        self.register_buffer("images", images.detach().clone())
        self.register_buffer("w", torch.randn(len(images), latent_dim, generator=torch.Generator().manual_seed(seed)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(z @ self.w.T, dim=1)
        return torch.einsum("nk,kchw->nchw", weights, self.images)


def memorization(claim: Claim, runs: Mapping, profile: Profile, *, n_images: int = 64) -> dict[str, Measured]:
    """Claim 9.4: per seed of :data:`GOOD` (its data and its search), a :class:`Memorizer` of
    ``n_images`` training images drawn with the seed, scored on those images
    (``rule:training images``) and on as many held-out images drawn with the seed
    (``rule:held-out images``), ``train.recon_final_steps`` steps from z = 0. Reproduced when its
    held-out error is detectably higher: a generator that memorized its training set could not
    pass the held-out test the metric uses."""
    found = _with_files(runs, GOOD)
    config = found[0].config
    train, test = _data(config)
    latent, steps = config.model.latent_dim, config.train.recon_final_steps
    on_train, held_out = {}, {}
    for run in found:
        pick = torch.Generator().manual_seed(run.seed)
        stored = train[torch.randperm(len(train), generator=pick)[:n_images]]
        unseen = test[torch.randperm(len(test), generator=pick)[:n_images]]
        g = Memorizer(stored, latent, run.seed)
        on_train[run.seed] = _search(g, stored, latent, steps)
        held_out[run.seed] = _search(g, unseen, latent, steps)
    return {"rule:training images": Measured("its training images", {"recon_mse": on_train}),
            "rule:held-out images": Measured("held-out images", {"recon_mse": held_out})}


def stability(claim: Claim, runs: Mapping, profile: Profile, *, n_images: int = 200) -> dict[str, Measured]:
    """Claim 9.5: per seed of :data:`GOOD`, ``n_images`` held-out images drawn with the seed and
    split into two random halves, each half's error found by the same search
    (``train.recon_final_steps`` steps from z = 0, the final G in eval mode). The check is paired
    by seed: ``rule:second half`` is each seed's second-half error in units of its own first-half
    error, against ``rule:first half``, the unit (1 for every seed, so the margin is a tenth). Welch's test against a
    constant arm is then the one-sample test of those ratios, so the interval carries the spread
    of the seeds' own half-to-half differences. (Comparing the halves' shares of their sum as two
    independent arms would narrow it about sqrt 2: the two shares of a seed always sum to 2.)
    Reproduced when the ratio is shown within a tenth of 1 (equivalence): one evaluation on half
    as many images gives the same number; not reproduced when it is shown to differ by more."""
    found = _with_files(runs, GOOD)
    test = _data(found[0].config)[1]
    ratio, unit = {}, {}
    for run in found:
        g, _ = run.networks()
        g.eval()
        pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(run.seed))[:n_images]
        half = len(pick) // 2
        latent, steps = run.config.model.latent_dim, run.config.train.recon_final_steps
        a, b = _search(g, test[pick[:half]], latent, steps), _search(g, test[pick[half:]], latent, steps)
        unit[run.seed], ratio[run.seed] = 1.0, b / a
    return {"rule:first half": Measured("first half (the unit)", {"recon_mse": unit}),
            "rule:second half": Measured("second half, in units of the first", {"recon_mse": ratio})}


#: Every rule by the name a claim gives it.
RULES: dict[str, Callable] = {f.__name__: f for f in (checkerboard, toy_reference, split_identity, search_converges,
                                                      mode_dropping, memorization, stability)}

_DONE: dict[tuple, dict] = {}


def computed(claim: Claim, runs: Mapping, profile: Profile) -> dict:
    """The claim's rule applied to its runs (:data:`RULES`), once per claim, profile and set of
    runs in a process (a chapter's table and chapter 10 read the same values). Where the rule
    waits for run files that are not in the cache, the committed record of the same runs
    (:mod:`bngan.evidence.rule_records`) stands in for it; without one it raises
    :class:`Waiting` as the rule does."""
    if claim.rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}; got {claim.rule!r} (claim {claim.key})")
    key = (claim.key, RULES[claim.rule], profile.name,
           tuple((name, r.seed, str(getattr(r, "path", None)), r.status, getattr(r, "steps_done", None))
                 for name in claim.registered if runs.get(name) is not None for r in runs[name]))
    if key not in _DONE:
        try:
            _DONE[key] = RULES[claim.rule](claim, runs, profile)
        except Waiting:
            kept = (rule_records.lookup(claim.key, read_from(claim, runs), profile, code=code_of(claim.rule))
                    if claim.files else None)
            if kept is None:
                raise
            _DONE[key] = from_record(kept)
    return _DONE[key]


def code_of(rule: str) -> str:
    """A digest of the rule function's source: a record made by an older rule is not read."""
    return hashlib.sha256(inspect.getsource(RULES[rule]).encode()).hexdigest()[:16]


def read_from(claim: Claim, runs: Mapping) -> rule_records.Signature:
    """The runs a claim's rule reads: ``(experiment, config hash, seed)`` of each registered run."""
    return rule_records.signature((name, runs[name].config.hash(), r.seed)
                                  for name in claim.registered if runs.get(name) is not None for r in runs[name])


def to_record(values: Mapping) -> dict:
    """A rule's result as JSON: per arm its per-seed values (a :class:`Measured`) or an
    :class:`Identity`'s outcome."""
    out = {}
    for arm, value in values.items():
        if isinstance(value, Identity):
            out[arm] = {"identity": {"holds": value.holds, "numbers": value.numbers}}
        else:
            out[arm] = {"label": value.label, "n_diverged": value.n_diverged,
                        "metrics": {m: {str(seed): float(v) if math.isfinite(v) else None for seed, v in by_seed.items()}
                                    for m, by_seed in value.metrics.items()}}
    return out


def from_record(record: Mapping) -> dict:
    """:func:`to_record` read back."""
    out = {}
    for arm, value in record.items():
        if "identity" in value:
            out[arm] = Identity(bool(value["identity"]["holds"]), str(value["identity"]["numbers"]))
        else:
            out[arm] = Measured(value["label"], {m: {int(seed): math.nan if v is None else float(v)
                                                     for seed, v in by_seed.items()}
                                                 for m, by_seed in value["metrics"].items()},
                                n_diverged=int(value.get("n_diverged", 0)))
    return out
