"""The claims ledger: every checkable claim of the five sources, the chapter that tests it and
the comparisons that decide it, evaluated on the runs the chapters train (and cache).

A claim holds one or more :class:`Check` s, each a pair of registered experiments, a metric and
what the claim predicts of the difference (``lower``, ``higher`` or ``same``). A check under a
named condition ("combined routine") lets a claim come out as *depends on ...*.
:func:`evaluate` runs (or loads) every experiment the claims name and reads each check with
:func:`bngan.compare`, so the verdicts follow the cached runs: re-executing a chapter after a
library change re-trains its runs under the new config hash, and the ledger reads those.

Claims decided by analyses other than a comparison of two settings (the loss-curve overlap,
the checkerboard score, reconstruction error against known latents) stay in their chapters;
:data:`ELSEWHERE` names them and where they are decided.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .experiments import RunSet, for_profile, run_experiment
from .profiles import Profile, get_profile
from .stats import Comparison, compare, rank_correlation
from .tables import TextTable

Expect = Literal["lower", "higher", "same"]
EXPECTATIONS = ("lower", "higher", "same")
VERDICT_CLASSES = ("reproduced", "not reproduced", "depends", "not enough seeds")

#: How each metric reads: its name in a sentence, and which way is better (``None``: neither).
METRICS: dict[str, tuple[str, bool | None]] = {
    "fid": ("FID", True),
    "kid": ("KID", True),
    "classes_covered": ("classes covered", False),
    "recon_mse": ("reconstruction error", True),
    "final_grad_d_bottom": ("D's bottom-layer gradient", None),
    "final_d_fake": ("D(G(z))", None),
    "shift_x": ("fakes' shift along x", None),
    "shift_norm": ("fakes' location error", True),
    "mmd": ("MMD to the data", True),
}


@dataclass(frozen=True)
class Check:
    """One comparison that tests a claim: ``treatment - baseline`` on ``metric`` over seeds,
    and what the claim predicts of it. ``seeds`` asks for that many seeds (from 0) where the
    profile's default is fewer (at ``smoke`` the profile's own seeds are always used)."""

    baseline: str
    treatment: str
    metric: str = "fid"
    expect: Expect = "lower"
    condition: str = ""
    seeds: int | None = None

    def __post_init__(self) -> None:
        if self.expect not in EXPECTATIONS:
            raise ValueError(f"expect must be one of {', '.join(EXPECTATIONS)}; got {self.expect!r}")
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)}; got {self.metric!r}")


@dataclass(frozen=True)
class Agreement:
    """A check across runs rather than between two settings: the Spearman rank correlation of
    ``metric`` with ``reference`` over every finished image run of the profile (optionally only
    those covering at least ``min_classes`` classes). ``expect`` is ``higher`` for a positive
    correlation (p < 0.05)."""

    metric: str
    reference: str
    expect: Expect = "higher"
    condition: str = ""
    min_classes: int = 0

    def __post_init__(self) -> None:
        if self.expect not in ("lower", "higher"):
            raise ValueError(f"expect must be one of lower, higher (the sign of the correlation); got {self.expect!r}")
        for name in ("metric", "reference"):
            if getattr(self, name) not in METRICS:
                raise ValueError(f"{name} must be one of {', '.join(METRICS)}; got {getattr(self, name)!r}")
        if not isinstance(self.min_classes, int) or self.min_classes < 0:
            raise ValueError(f"min_classes must be a non-negative integer; got {self.min_classes!r}")


@dataclass(frozen=True)
class Claim:
    """A claim of a source, in our words, with the chapter that tests it and its checks."""

    key: str
    claim: str
    source: str
    chapter: int
    checks: tuple[Check | Agreement, ...]


@dataclass(frozen=True)
class CheckResult:
    """A check with what the runs gave: a :class:`Comparison`, or a rank correlation."""

    check: Check | Agreement
    comparison: Comparison | None = None
    correlation: tuple[float, float, int] | None = None  # rho, p, number of runs

    @property
    def outcome(self) -> str:
        """``reproduced``, ``reversed``, ``no detectable difference`` (a directional claim the
        interval does not decide), ``not reproduced`` (a ``same`` claim with a detectable
        difference) or ``not enough seeds``."""
        if self.correlation is not None:
            rho, p, _ = self.correlation
            if not np.isfinite(rho):
                return "not enough seeds"
            if p >= 0.05:
                return "no detectable difference"
            return "reproduced" if (rho > 0) == (self.check.expect == "higher") else "reversed"
        c = self.comparison
        if not np.isfinite(c.difference) or min(c.n_a, c.n_b) < 2:
            return "not enough seeds"
        if self.check.expect == "same":
            return "not reproduced" if c.detectable else "reproduced"
        if not c.detectable:
            return "no detectable difference"
        return "reproduced" if (c.difference < 0) == (self.check.expect == "lower") else "reversed"

    @property
    def numbers(self) -> str:
        """The deciding numbers in one phrase: the means, the difference with its 95% interval
        and the seed-wise count in the predicted direction."""
        where = f"{self.check.condition}: " if self.check.condition else ""
        if self.correlation is not None:
            rho, p, n = self.correlation
            subset = f" covering {self.check.min_classes}+ classes" if self.check.min_classes and not where else ""
            return (f"{where}Spearman rho {rho:+.2f} (p {p:.2g}) between {_name(self.check.metric)} and "
                    f"{_name(self.check.reference)} over {n} runs{subset}")
        c = self.comparison
        direction = "lower" if c.lower_is_better else "higher"  # the way compare counted wins_b
        return (f"{where}{_name(c.metric)} {_fmt(c.mean_a)} → {_fmt(c.mean_b)}, {_signed(c.difference)} "
                f"[{_signed(c.low)}, {_signed(c.high)}], {direction} in {c.wins_b}/{c.n_paired} seeds")


@dataclass(frozen=True)
class Verdict:
    """A claim and the results of its checks, read together."""

    claim: Claim
    results: tuple[CheckResult, ...]

    @property
    def verdict(self) -> str:
        """``reproduced`` when every check is; the common outcome when all agree; otherwise
        ``depends: reproduced (condition, ...); <outcome> (condition, ...)``."""
        outcomes = [r.outcome for r in self.results]
        if len(set(outcomes)) == 1:
            outcome = outcomes[0]
            if outcome in ("reproduced", "not enough seeds"):
                return outcome
            return f"not reproduced ({outcome})" if outcome != "not reproduced" else outcome
        parts: dict[str, list[str]] = {}
        for result, outcome in zip(self.results, outcomes):
            parts.setdefault(outcome, []).append(result.check.condition or _name(result.check.metric))
        order = sorted(parts, key=lambda o: o != "reproduced")
        return "depends: " + "; ".join(f"{o} ({', '.join(parts[o])})" for o in order)

    @property
    def verdict_class(self) -> str:
        """The verdict's class: one of :data:`VERDICT_CLASSES`."""
        word = self.verdict
        return next((k for k in VERDICT_CLASSES[1:] if word.startswith(k)), VERDICT_CLASSES[0])

    @property
    def numbers(self) -> str:
        return "; ".join(r.numbers for r in self.results)

    @property
    def n_seeds(self) -> int:
        counts = [min(r.comparison.n_a, r.comparison.n_b) for r in self.results if r.comparison is not None]
        return min(counts) if counts else 0


def _name(metric: str) -> str:
    return METRICS.get(metric, (metric, None))[0]


def _fmt(x: float) -> str:
    return f"{x:.4g}".replace("-", "−")


def _signed(x: float) -> str:
    return f"{x:+.3g}".replace("-", "−")


# --------------------------------------------------------------------------- the claims

SOURCES = ("seed paper (000)", "blind-spot post (001)", "Xiang & Li review (002)", "stabilising-GANs post (003)",
           "DCGAN heuristics (004)")
S000, S001, S002, S003, S004 = SOURCES


def _both_routines(baseline: str, treatment: str) -> tuple[Check, Check]:
    """Chapter 2's FID comparison of two noise-label treatments under the combined and the
    separate routine (``noise:<routine>-<treatment>``)."""
    return tuple(Check(f"noise:{r}-{baseline}", f"noise:{r}-{treatment}", "fid", "lower", f"{r} routine")
                 for r in ("combined", "separate"))


CLAIMS: tuple[Claim, ...] = (
    # chapter 1: DCGAN heuristics
    Claim("1.1", "With one combined D batch, adding BN to the seed paper's DCGAN makes it worse",
          f"{S000}, Introduction, Figure 1", 1,
          (Check("heuristics:fig1-no-bn", "heuristics:fig1-bn", "fid", "higher"),)),
    Claim("1.2", "BN helps once D sees real and fake images in separate batches", f"{S000}, Conclusion", 1,
          (Check("heuristics:fig1-bn", "heuristics:dcgan-bn", "fid", "lower", "against BN with combined batches"),
           Check("heuristics:no-bn", "heuristics:dcgan-bn", "fid", "lower", "against no BN, separate batches"))),
    Claim("1.3", "BN in every layer except G's output and D's input", f"{S004}; DCGAN paper", 1,
          (Check("heuristics:bn-everywhere", "heuristics:dcgan-bn", "fid", "lower"),)),
    Claim("1.4", "Adam's beta1 0.5 rather than the default 0.9", f"{S004}; DCGAN paper", 1,
          (Check("heuristics:beta1-0.9", "heuristics:dcgan-bn", "fid", "lower"),)),
    Claim("1.5", "Initial weights from N(0, 0.02)", f"{S004}; DCGAN paper", 1,
          (Check("heuristics:dcgan-bn", "heuristics:dcgan-init", "fid", "lower"),)),
    # chapter 2: noise labels
    Claim("2.1", "Noise labels (smoothing plus 5% flips) have only a minor effect",
          f"{S000}, III (noise label), Figures 2-3", 2,
          (Check("table2:1", "table2:2", "fid", "same", "separate, batch 16 (#1 vs #2)"),
           Check("table2:3", "table2:4", "fid", "same", "combined, batch 128 (#3 vs #4)"))),
    Claim("2.3", "Two-sided smoothing (reals 0.7-1.2, fakes 0-0.3) gives large gains", f"{S003}, label smoothing", 2,
          _both_routines("none-0", "two-sided-0")),
    Claim("2.4", "Flipping 5% of the labels helps further", f"{S003}, label flipping", 2,
          _both_routines("two-sided-0", "two-sided-5")),
    Claim("2.5", "One-sided smoothing (reals at 0.9) helps", f"{S004}; Salimans et al.", 2,
          _both_routines("none-0", "one-sided-0")),
    Claim("2.6", "Instance noise on D's inputs, decayed over training, helps", S004, 2,
          _both_routines("none-0", "instance")),
    # chapter 3: one-sided BN
    Claim("3.2", "BN only in G does not collapse the model", f"{S000}, III and IV", 3,
          (Check("onesided:combined-none", "onesided:combined-g", "classes_covered", "higher", "combined routine"),
           Check("onesided:separate-none", "onesided:separate-g", "classes_covered", "higher", "separate routine"))),
    Claim("3.3", "BN only in G gives less than BN in both networks", f"{S000}, IV (conclusion)", 3,
          (Check("onesided:combined-both", "onesided:combined-g", "fid", "higher", "combined routine"),
           Check("onesided:separate-both", "onesided:separate-g", "fid", "higher", "separate routine"))),
    Claim("3.4", "Figure 5's text: BN in G only (#12) beats BN in both (#10)", f"{S000}, III, Figure 5", 3,
          (Check("table2:10", "table2:12", "fid", "lower"),)),
    Claim("3.5", "Figure 5's caption: BN in both (#10) is the better panel", f"{S000}, caption of Figure 5", 3,
          (Check("table2:12", "table2:10", "fid", "lower"),)),
    Claim("3.7", "G's BN is irrelevant to the blind spot; only D's BN matters", f"{S001}, footnote 1", 3,
          (Check("onesided:combined-d", "onesided:combined-both", "fid", "same", "combined routine"),
           Check("onesided:separate-d", "onesided:separate-both", "fid", "same", "separate routine"))),
    Claim("3.8", "G's BN momentum matters (Keras 0.5 against 0.9)", f"{S000}, Table II #12-#14", 3,
          (Check("table2:14", "table2:12", "fid", "lower"),)),
    # chapter 4: kernel size
    Claim("4.1", "G's kernel 5 instead of 3 makes no noticeable difference (#2 vs #7)",
          f"{S000}, III (kernel size), Figures 12-13", 4,
          (Check("table2:2", "table2:7", "fid", "same"),)),
    Claim("4.2", "A larger kernel improves what the networks learn", f"{S000}, II.C", 4,
          (Check("kernel:k3-wide", "kernel:k5-wide", "fid", "lower", "128 filters"),
           Check("kernel:k3-table1", "kernel:k5-table1", "fid", "lower", "Table I widths"))),
    Claim("4.3", "The kernel matters on larger images", f"{S000}, III (kernel size)", 4,
          (Check("kernel:k3-table1", "kernel:k5-table1", "fid", "lower", "16 px"),
           Check("kernel:k3-table1-32px", "kernel:k5-table1-32px", "fid", "lower", "32 px"))),
    # chapter 5: batch size
    Claim("5.1", "Batch 128 gives slightly worse images than batch 16", f"{S000}, abstract, III and IV", 5,
          (Check("table2:7", "table2:11", "fid", "higher", "same steps (#7 vs #11)"),
           Check("batch:images-16", "batch:images-128", "fid", "higher", "same images seen"))),
    Claim("5.4", "Larger batches cover more modes", f"{S003}, batch size", 5,
          (Check("batch:steps-16", "batch:steps-128", "classes_covered", "higher", "same steps and lr"),
           Check("batch:lr-scaled-16", "batch:lr-scaled-128", "classes_covered", "higher", "lr scaled with the batch"))),
    Claim("5.5", "A larger batch allows a larger learning rate", f"{S003}, learning rate", 5,
          (Check("batch:steps-128", "batch:lr-scaled-128", "fid", "lower", "batch 128"),)),
    Claim("5.6", "BN is not effective for small batches", f"{S001}, It's not over yet", 5,
          (Check("batch:no-bn-16", "batch:steps-16", "fid", "same", "batch 16, BN against none"),)),
    # chapter 6: training routine
    Claim("6.1", "With BN, separate real and fake D batches greatly improve the result", f"{S000}, III-IV; {S003}; {S004}", 6,
          (Check("routine:combined-bn-16", "routine:separate-bn-16", "fid", "lower", "batch 16"),
           Check("routine:combined-bn-128", "routine:separate-bn-128", "fid", "lower", "batch 128"))),
    Claim("6.2", "With BN, one combined D batch fails at batch 128 (#10 vs #11)", f"{S000}, III (training routine)", 6,
          (Check("table2:11", "table2:10", "fid", "higher"),)),
    Claim("6.3", "Without BN both routines converge (here: train as well as BN with separate batches)",
          f"{S000}, III (training routine)", 6,
          (Check("routine:separate-bn-16", "routine:separate-nobn-16", "fid", "same", "separate, no BN"),
           Check("routine:separate-bn-16", "routine:combined-nobn-16", "fid", "same", "combined, no BN"))),
    Claim("6.4", "Under the combined routine D's gradients fall towards zero (Figure 6)", f"{S000}, III, Figure 6", 6,
          (Check("routine:separate-bn-128", "routine:combined-bn-128", "final_grad_d_bottom", "lower", "batch 128"),
           Check("routine:separate-bn-16", "routine:combined-bn-16", "final_grad_d_bottom", "lower", "batch 16"))),
    Claim("6.5", "A joint D batch with eval-mode D in G's step trains as well as pure batches",
          f"{S001} (chapter 7), on images", 6,
          (Check("routine:separate-bn-16", "routine:joint-eval", "fid", "same", "joint + eval"),
           Check("routine:separate-bn-16", "routine:joint-joint", "fid", "same", "joint + joint"))),
    Claim("6.6", "Tuning the G:D step ratio is futile", S003, 6,
          (Check("routine:separate-bn-16", "routine:g2", "fid", "same", "2:1"),
           Check("routine:separate-bn-16", "routine:g5", "fid", "same", "5:1"))),
    Claim("6.7", "The two time-scale rule (G's lr below D's) helps", S003, 6,
          (Check("routine:separate-bn-16", "routine:ttur", "fid", "lower"),)),
    # chapter 7: the BN blind spot (toy 2-D data, five seeds)
    Claim("7.2", "BN with split batches: the fakes get the data's shape but not its place",
          f"{S001}, Introducing Batch Normalization", 7,
          (Check("blindspot:no-bn", "blindspot:bn", "shift_norm", "higher"),)),
    Claim("7.3", "Under a small push, BN with split batches lets the fakes drift", f"{S001}, Encouraging Distribution Shift", 7,
          (Check("blindspot:no-bn-shift", "blindspot:bn-shift", "shift_x", "higher"),)),
    Claim("7.5", "A joint D batch alone fails", f"{S001}, The Issue With Approach 1", 7,
          (Check("blindspot:no-bn", "blindspot:bn-joint", "mmd", "higher"),)),
    Claim("7.6", "Eval-mode D in G's step alone fails", f"{S001}, The Issue With Approach 2", 7,
          (Check("blindspot:no-bn", "blindspot:bn-eval", "mmd", "higher"),)),
    Claim("7.7", "A joint D batch with eval-mode D in G's step fixes both", f"{S001}, How Do We Actually Fix This?", 7,
          (Check("blindspot:bn-shift", "blindspot:bn-joint-eval-shift", "shift_x", "lower", "the drift"),
           Check("blindspot:no-bn-shift", "blindspot:bn-joint-eval-shift", "mmd", "same", "the fit, against no BN"))),
    Claim("7.8", "Faster running averages improve the fix", f"{S001}, It's Not Over Yet", 7,
          (Check("blindspot:bn-joint-eval-shift", "blindspot:bn-joint-eval-fast-shift", "mmd", "lower"),)),
    Claim("7.9", "Joint batches in both steps keep D consistent", f"{S001}, It's Not Over Yet", 7,
          (Check("blindspot:bn-shift", "blindspot:bn-joint-joint-shift", "shift_x", "lower"),)),
    Claim("7.10", "Layer, group and weight normalization see shifts", f"{S001}, It's Not Over Yet", 7,
          (Check("blindspot:bn-shift", "blindspot:layer-shift", "shift_x", "lower", "layer norm"),
           Check("blindspot:bn-shift", "blindspot:group-shift", "shift_x", "lower", "group norm"),
           Check("blindspot:bn-shift", "blindspot:weight-shift", "shift_x", "lower", "weight norm"))),
    Claim("7.11", "No BN in D's first layer keeps shifts visible", f"{S001}, It's Not Over Yet", 7,
          (Check("blindspot:bn-shift", "blindspot:bn-not-first-shift", "shift_x", "lower"),)),
    Claim("7.12", "Matched moments: BN in D's first layer only works, BN everywhere fails", f"{S001}, A Bonus Experiment", 7,
          (Check("blindspot:moments-bn-first", "blindspot:moments-bn-all", "mmd", "higher"),)),
    # chapter 8: weight normalization and TReLU (eight seeds where the claims turn on a small gap)
    Claim("8.1", "WN with TReLU: about 10% lower reconstruction error than the vanilla model", f"{S002}, key findings", 8,
          (Check("wn:vanilla", "wn:wn", "recon_mse", "lower", seeds=8),)),
    Claim("8.2", "WN with TReLU: lower reconstruction error than BN", f"{S002}, abstract", 8,
          (Check("wn:bn", "wn:wn", "recon_mse", "lower", seeds=8),
           Check("wn:bn", "wn:wn", "fid", "lower", seeds=8))),
    Claim("8.5", "TReLU keeps the capacity strict WN loses", f"{S002}, proposed method", 8,
          (Check("wn:wn-relu", "wn:wn", "recon_mse", "lower", seeds=5),)),
    Claim("8.7", "WN stays stable in a deep network", f"{S002}, abstract", 8,
          (Check("wn:deep-vanilla", "wn:deep-wn", "recon_mse", "lower", "against no normalization"),
           Check("wn:deep-bn", "wn:deep-wn", "fid", "lower", "against BN"))),
    # chapter 9: reconstruction error as a metric
    Claim("9.2", "Reconstruction error ranks models as sample quality does", S002, 9,
          (Agreement("recon_mse", "fid", "higher", "all runs"),
           Agreement("recon_mse", "fid", "higher", "runs covering 6+ classes", min_classes=6))),
)

#: Claims decided in their chapters by analyses that are not a comparison of two settings.
ELSEWHERE: tuple[tuple[str, str, str], ...] = (
    ("2.2", "Noise labels make training converge faster", "chapter 2: KID of the sample snapshots over training"),
    ("3.1", "BN may break either network", "chapter 3: the BN-in-G/D/both/none design under both routines"),
    ("4.4", "A kernel the stride divides avoids checkerboard artifacts", "chapter 4: the checkerboard score of samples"),
    ("5.2", "Loss curves overlap less as the batch grows", "chapter 5: the overlap of the loss bands"),
    ("5.3", "The batch acts through BN's batch statistics", "chapter 5: BN's batch-vs-running gap"),
    ("7.1", "Without BN the toy GAN fits and D's loss ends near ln 2", "chapter 7: step 1's losses"),
    ("7.4", "Split normalization maps any shifted and scaled batch to the same values", "chapter 7: step 4, exact"),
    ("8.3", "BN speeds up early training but hurts long-term stability", "chapter 8: the error over training"),
    ("8.4", "WN trains faster and more stably than BN", "chapter 8: the error over training"),
    ("8.6", "BN can cause instability; unnormalized GANs may collapse", "chapter 8: divergences and coverage"),
    ("9.1", "The latent search finds a good z when one exists", "chapter 9: search on known latents"),
    ("9.3", "Reconstruction error punishes mode dropping", "chapter 9: baseline generators"),
    ("9.4", "Held-out images keep it honest about memorization", "chapter 9: training vs held-out images"),
    ("9.5", "Cheap and stable enough to track during training", "chapter 9: variance and cost"),
)


# --------------------------------------------------------------------------- evaluation


def experiments_needed(claims: Iterable[Claim] = CLAIMS) -> dict[str, int | None]:
    """Each experiment the claims compare, with the most seeds any check asks of it."""
    needed: dict[str, int | None] = {}
    for claim in claims:
        for check in claim.checks:
            if isinstance(check, Check):
                for name in (check.baseline, check.treatment):
                    wanted = [n for n in (needed.get(name), check.seeds) if n is not None]
                    needed[name] = max(wanted) if wanted else None
    return needed


def _seeds(profile: Profile, toy: bool, wanted: int | None) -> tuple[int, ...]:
    default = profile.toy_seeds if toy else profile.seeds
    if profile.name == "smoke" or wanted is None or wanted <= len(default):
        return tuple(default)
    return tuple(range(wanted))


def evaluate(claims: Sequence[Claim] = CLAIMS, *, profile: str | Profile | None = None,
             seeds: Sequence[int] | None = None, root=None, device=None, progress: bool = False,
             group: bool | None = None, graph: bool | None = None) -> list[Verdict]:
    """Every claim's verdict from the runs of its checks (trained where the cache lacks them).

    The experiments are run as their chapters run them (:func:`bngan.experiments.for_profile`),
    with the profile's seeds or as many as a check asks for; ``seeds`` overrides both for every
    experiment. An :class:`Agreement` reads every finished image run of this profile under the
    runs root."""
    p = get_profile(profile)
    runs: dict[str, RunSet] = {}
    for name, wanted in experiments_needed(claims).items():
        config = for_profile(name, p)
        chosen = tuple(seeds) if seeds is not None else _seeds(p, config.data.kind == "toy", wanted)
        runs[name] = run_experiment(config, profile=p, seeds=chosen, root=root, device=device, progress=progress,
                                    label=name, group=group, graph=graph)
    verdicts = []
    for claim in claims:
        results = []
        for check in claim.checks:
            if isinstance(check, Agreement):
                results.append(CheckResult(check, correlation=_agreement(check, p, root)))
                continue
            # wins count seeds moving the predicted way; for "same", the better way (or lower)
            lower_is_better = check.expect == "lower" or (check.expect == "same" and METRICS[check.metric][1] is not False)
            results.append(CheckResult(check, compare(runs[check.baseline], runs[check.treatment], check.metric,
                                                      lower_is_better=lower_is_better)))
        verdicts.append(Verdict(claim, tuple(results)))
    return verdicts


def _agreement(check: Agreement, profile: Profile, root) -> tuple[float, float, int]:
    from .profiles import dataset_name
    from .runs import finished_runs, runs_root

    found = [r for r in finished_runs(runs_root(root), kind="image")
             if r.config.data.dataset == dataset_name(profile) and r.config.data.image_size == profile.image_size
             and r.config.train.steps == profile.steps and r.metrics.get("classes_covered", 0) >= check.min_classes]
    x = [float(r.metrics.get(check.metric, np.nan)) for r in found]
    y = [float(r.metrics.get(check.reference, np.nan)) for r in found]
    try:
        rho, p = rank_correlation(x, y)
    except ValueError:
        return float("nan"), float("nan"), len(found)
    return rho, p, int(np.sum(~(np.isnan(x) | np.isnan(y))))


def ledger_table(verdicts: Sequence[Verdict]) -> TextTable:
    """One row per claim: key, claim, source, chapter, verdict and the deciding numbers."""
    rows = [(v.claim.key, v.claim.claim, v.claim.source, str(v.claim.chapter), v.verdict, v.numbers)
            for v in verdicts]
    return TextTable(("#", "claim", "source", "chapter", "verdict", "deciding numbers"), rows, wrap=(1, 2, 4, 5))


def table2_table(results: Mapping[int, RunSet], metrics: Sequence[str]) -> TextTable:
    """Table II in full: one row per experiment id with the paper's settings (as its Table II
    lists them), what the paper reported of it, and each metric's mean ± std over seeds."""
    from .experiments import TABLE2, TABLE2_REPORTED

    rows = []
    for exp_id, rs in results.items():
        if exp_id not in TABLE2_REPORTED:
            raise ValueError(f"results keys must be Table II ids 1-14; got {exp_id!r}")
        noise, bn_in, kernel, batch, routine, momentum = TABLE2[exp_id]
        bn = "both" if bn_in == "both" else f"G ({momentum})"
        cells = [f"{m:.4g} ± {s:.2g}" for m, s in (rs.mean_std(metric) for metric in metrics)]
        rows.append([f"#{exp_id}", "yes" if noise else "no", bn, str(kernel), str(batch), routine,
                     TABLE2_REPORTED[exp_id], f"{len(rs)} ({rs.n_diverged})", *cells])
    header = ("#", "noise labels", "BN", "kernel", "batch", "routine", "the paper reported", "seeds (diverged)")
    return TextTable((*header, *metrics), rows, wrap=(6,))


def tally(verdicts: Sequence[Verdict]) -> dict[str, int]:
    """How many claims came out reproduced, not reproduced, depends, or undecided."""
    counts = dict.fromkeys(VERDICT_CLASSES, 0)
    for v in verdicts:
        counts[v.verdict_class] += 1
    return counts


def tally_table(verdicts: Sequence[Verdict]) -> TextTable:
    """The verdicts counted per source (a claim several sources make counts for each) and in all."""
    outcomes = VERDICT_CLASSES
    rows = []
    for source in SOURCES:
        counts = tally([v for v in verdicts if source in v.claim.source])
        rows.append([source, str(sum(counts.values()))] + [str(counts[o]) for o in outcomes])
    counts = tally(verdicts)
    rows.append(["all claims", str(len(verdicts))] + [str(counts[o]) for o in outcomes])
    return TextTable(("source", "claims", *outcomes), rows)
