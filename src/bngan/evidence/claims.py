"""The claims the book tests, as data: every checkable claim of the five sources, the chapter
that tests it, and the comparisons that decide it.

A :class:`Claim` holds one or more :class:`Check` s. A check is a pair of registered
experiments (a baseline and a treatment), a metric, and what the claim predicts of
``treatment - baseline``:

- ``lower`` / ``higher``: a direction, tested two-sided with Welch's 95% interval; with a
  ``size`` (a relative change such as ``-0.10``) the claim is also about how large;
- ``same``: no difference, tested for equivalence within ``± margin`` (a fraction of the
  baseline's mean) by two one-sided tests;
- ``no better``: the treatment does not improve on the baseline by ``margin`` or more
  (non-superiority; "tuning X is futile").

An :class:`Interaction` tests a claim that a change matters more under one condition than
another ("the kernel matters on larger images"): the change's log ratio in each condition,
compared (:func:`bngan.stats.interaction`). An :class:`Agreement` ranks set-ups.

Claims decided by analyses other than a comparison of two settings stay in their chapters;
:data:`ELSEWHERE` names them and the function that decides each. :mod:`bngan.ledger` reads
the claims against the runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Expect = Literal["lower", "higher", "same", "no better"]
EXPECTATIONS = ("lower", "higher", "same", "no better")

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

#: The equivalence margin of an image "no difference" claim, as a fraction of the baseline's
#: mean, and why, in a reader's terms rather than the noise's: the seed paper calls the
#: differences it could not see in its sample grids "trivial", "unnoticeable" and "barely
#: noticeable by human", and calls an effect one that it could see ("significantly improve", BN's
#: collapse). A tenth of the baseline's FID is the line between the two at these scales: every
#: effect the sources call significant moves FID by several tenths in this book (chapter 1: BN with
#: separate batches against combined ones, about -40%), so a claim of "no effect" may not hide a
#: difference as large as a tenth. It is a choice, stated before any run is read, and pinned in
#: ``tests/test_claims_pinned.py``.
IMAGE_MARGIN = 0.10
IMAGE_MARGIN_WHY = ("a tenth of the baseline's value: less than any effect the sources call significant, "
                    "more than the differences they call trivial or unnoticeable")
#: The toy study's margin: its MMD varies several-fold between seeds of one set-up (chapter 7),
#: so half the baseline's MMD is the smallest difference a reader could see in its scatter plots.
TOY_MARGIN = 0.5
TOY_MARGIN_WHY = "half the baseline's MMD, the smallest gap visible in chapter 7's scatter plots"


@dataclass(frozen=True)
class Check:
    """One comparison that tests a claim: ``treatment - baseline`` on ``metric`` over seeds,
    and what the claim predicts of it (see the module's docstring). ``seeds`` asks for that
    many seeds (from 0) where the profile's default is fewer (at ``smoke`` the profile's own
    seeds are always used). ``margin`` is a fraction of the baseline's mean (``same`` and
    ``no better`` need one); ``size`` a claimed relative change, for a claim about how large an
    effect is. Both arms must pass the learning gate (:mod:`bngan.learning`) for the check to
    decide, except the arm named by ``may_fail`` when the claim predicts that this arm fails:
    its not learning is then the predicted outcome, not a reason to withhold the verdict. The
    gate is symmetric: an arm named by ``must_learn`` is one the claim predicts to learn, and its
    not learning counts against the claim (at this budget) instead of withholding the verdict."""

    baseline: str
    treatment: str
    metric: str = "fid"
    expect: Expect = "lower"
    condition: str = ""
    seeds: int | None = None
    margin: float | None = None
    size: float | None = None
    may_fail: str = ""
    must_learn: str = ""

    def __post_init__(self) -> None:
        if self.may_fail not in ("", "baseline", "treatment"):
            raise ValueError(f"may_fail must be one of '', 'baseline', 'treatment'; got {self.may_fail!r}")
        if self.must_learn not in ("", "baseline", "treatment", "both"):
            raise ValueError(f"must_learn must be one of '', 'baseline', 'treatment', 'both'; got {self.must_learn!r}")
        if self.must_learn and self.must_learn in (self.may_fail, "both") and self.may_fail:
            raise ValueError(f"must_learn {self.must_learn!r} contradicts may_fail {self.may_fail!r}")
        if self.expect not in EXPECTATIONS:
            raise ValueError(f"expect must be one of {', '.join(EXPECTATIONS)}; got {self.expect!r}")
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)}; got {self.metric!r}")
        if self.expect in ("same", "no better"):
            if not (isinstance(self.margin, (int, float)) and self.margin > 0):
                raise ValueError(f"margin must be a positive fraction of the baseline's mean for expect "
                                 f"{self.expect!r}; got {self.margin!r}")
        elif self.margin is not None:
            raise ValueError(f"margin is for expect 'same' or 'no better'; got it with {self.expect!r}")
        if self.size is not None:
            if self.expect not in ("lower", "higher") or (self.size < 0) != (self.expect == "lower") or self.size == 0:
                raise ValueError(f"size must be a non-zero relative change in the expected direction "
                                 f"({self.expect!r}); got {self.size!r}")
        if self.seeds is not None and not (isinstance(self.seeds, int) and self.seeds >= 2):
            raise ValueError(f"seeds must be an integer of at least 2; got {self.seeds!r}")

    @property
    def directional(self) -> bool:
        """A test of a direction (counted in the ledger's multiplicity correction)."""
        return self.expect in ("lower", "higher")


@dataclass(frozen=True)
class Agreement:
    """A check across set-ups rather than between two: the Spearman rank correlation of
    ``metric`` with ``reference`` over the named registered ``setups``, one value per set-up
    (its mean over seeds), so the answer depends neither on what else is in the run cache nor
    on treating the seeds of one set-up as independent set-ups. ``min_classes`` keeps only the
    set-ups whose mean coverage reaches it. ``expect`` is ``higher`` for a positive
    correlation."""

    metric: str
    reference: str
    setups: tuple[str, ...]
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
        if len(set(self.setups)) < 3:
            raise ValueError(f"setups must name at least 3 different registered experiments; got {self.setups!r}")

    @property
    def directional(self) -> bool:
        return True


@dataclass(frozen=True)
class Interaction:
    """A change (``baseline`` -> ``treatment``) made under two conditions, ``first`` and
    ``second`` (each a ``(baseline, treatment)`` pair of registered experiments), and the claim
    that it moves ``metric`` more under the second: ``expect`` ``lower`` when the treatment should
    lower the metric by a larger factor there. Read as the difference of the change's log ratios
    with a Welch-Satterthwaite interval (:func:`bngan.stats.interaction`), so conditions whose
    metric has its own scale (FID at two image sizes) can be compared. All four arms must learn."""

    first: tuple[str, str]
    second: tuple[str, str]
    metric: str = "fid"
    expect: Expect = "lower"
    condition: str = ""
    seeds: int | None = None
    # what a Check has and an interaction does not: no margin, no claimed size, no arm predicted to fail
    margin = None
    size = None
    may_fail = ""
    must_learn = ""

    def __post_init__(self) -> None:
        if self.expect not in ("lower", "higher"):
            raise ValueError(f"expect must be one of lower, higher; got {self.expect!r}")
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)}; got {self.metric!r}")
        for name in ("first", "second"):
            pair = getattr(self, name)
            if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
                raise ValueError(f"{name} must be a (baseline, treatment) pair of experiment names; got {pair!r}")

    @property
    def names(self) -> tuple[str, str, str, str]:
        return (*self.first, *self.second)

    @property
    def directional(self) -> bool:
        return True


COMBINE = ("all", "conditions")


@dataclass(frozen=True)
class Claim:
    """A claim of a source, in our words, with the chapter that tests it and its checks.
    ``note`` says what the checks leave out or hold together (a confound, a reworded claim).
    ``combine`` says how several checks make one word: ``"all"`` (the default), a conjunction,
    every part must hold; ``"conditions"``, one effect tested under several conditions (both
    routines, two batch sizes), where checks that disagree make the claim *depend* on the
    condition only if the effect differs detectably between them (:mod:`bngan.ledger`)."""

    key: str
    claim: str
    source: str
    chapter: int
    checks: tuple[Check | Interaction | Agreement, ...]
    note: str = ""
    combine: str = "all"

    def __post_init__(self) -> None:
        if self.combine not in COMBINE:
            raise ValueError(f"combine must be one of {', '.join(COMBINE)}; got {self.combine!r}")


SOURCES = ("seed paper (000)", "blind-spot post (001)", "Xiang & Li review (002)", "stabilising-GANs post (003)",
           "DCGAN heuristics (004)")
S000, S001, S002, S003, S004 = SOURCES
TABLE2_SETUPS = tuple(f"table2:{i}" for i in range(1, 15))


def _same(baseline: str, treatment: str, condition: str = "", metric: str = "fid", margin: float = IMAGE_MARGIN,
          **kw) -> Check:
    return Check(baseline, treatment, metric, "same", condition, margin=margin, **kw)


def _both_routines(baseline: str, treatment: str) -> tuple[Check, Check]:
    """Chapter 2's FID comparison of two noise-label treatments under the combined and the
    separate routine (``noise:<routine>-<treatment>``)."""
    return tuple(Check(f"noise:{r}-{baseline}", f"noise:{r}-{treatment}", "fid", "lower", f"{r} routine")
                 for r in ("combined", "separate"))


CLAIMS: tuple[Claim, ...] = (
    # chapter 1: DCGAN heuristics
    Claim("1.1", "With one combined D batch, adding BN to the seed paper's DCGAN makes it worse",
          f"{S000}, Introduction, Figure 1", 1,
          (Check("heuristics:fig1-no-bn", "heuristics:fig1-bn", "fid", "higher", may_fail="treatment"),)),
    Claim("1.2", "BN helps once D sees real and fake images in separate batches", f"{S000}, Conclusion", 1,
          (Check("heuristics:fig1-bn", "heuristics:dcgan-bn", "fid", "lower", "FID against BN with combined batches"),
           Check("heuristics:no-bn", "heuristics:dcgan-bn", "fid", "lower", "FID against no BN"),
           Check("heuristics:no-bn", "heuristics:dcgan-bn", "recon_mse", "lower", "reconstruction error against no BN"))),
    Claim("1.3", "BN in every layer except G's output and D's input", f"{S004}; DCGAN paper", 1,
          (Check("heuristics:bn-everywhere", "heuristics:dcgan-bn", "fid", "lower"),)),
    Claim("1.4", "Adam's beta1 0.5 rather than the default 0.9", f"{S004}; DCGAN paper", 1,
          (Check("heuristics:beta1-0.9", "heuristics:dcgan-bn", "fid", "lower"),)),
    Claim("1.5", "Initial weights from N(0, 0.02)", f"{S004}; DCGAN paper", 1,
          (Check("heuristics:dcgan-bn", "heuristics:init-only", "fid", "lower", "the init alone"),
           Check("heuristics:dcgan-bn", "heuristics:dcgan-init", "fid", "lower", "with PyTorch's BN epsilon too")),
          note="the second arm also changes BN's epsilon from Keras' 1e-3 to PyTorch's 1e-5, as switching "
               "frameworks does; the first changes the init alone"),
    # chapter 2: noise labels
    Claim("2.1", "Noise labels (smoothing plus 5% flips) have only a minor effect",
          f"{S000}, III (noise label), Figures 2-3", 2,
          (_same("table2:1", "table2:2", "separate, batch 16 (#1 vs #2)"),
           _same("table2:3", "table2:4", "combined, batch 128 (#3 vs #4)")),
          combine="conditions"),
    Claim("2.2", "Noise labels make training converge faster", f"{S000}, II.A", 2,
          (Check("table2:1-halfway", "table2:2-halfway", "fid", "lower", "separate, batch 16, halfway (#1 vs #2)"),
           Check("table2:3-halfway", "table2:4-halfway", "fid", "lower", "combined, batch 128, halfway (#3 vs #4)")),
          combine="conditions"),
    Claim("2.3", "Two-sided smoothing (reals 0.7-1.2, fakes 0-0.3) gives large gains", f"{S003}, label smoothing", 2,
          _both_routines("none-0", "two-sided-0"),
          combine="conditions"),
    Claim("2.4", "Flipping 5% of the labels helps further", f"{S003}, label flipping", 2,
          _both_routines("two-sided-0", "two-sided-5"),
          combine="conditions"),
    Claim("2.5", "One-sided smoothing (reals at 0.9) helps", f"{S004}; Salimans et al.", 2,
          _both_routines("none-0", "one-sided-0"),
          combine="conditions"),
    Claim("2.6", "Instance noise on D's inputs, decayed over training, helps", S004, 2,
          _both_routines("none-0", "instance"),
          combine="conditions"),
    # chapter 3: one-sided BN
    Claim("3.2", "BN only in G does not collapse the model", f"{S000}, III and IV", 3,
          (Check("onesided:combined-none", "onesided:combined-g", "classes_covered", "higher", "combined routine"),
           Check("onesided:separate-none", "onesided:separate-g", "classes_covered", "higher", "separate routine")),
          combine="conditions"),
    Claim("3.3", "BN only in G gives less than BN in both networks", f"{S000}, IV (conclusion)", 3,
          (Check("onesided:combined-both", "onesided:combined-g", "fid", "higher", "combined routine"),
           Check("onesided:separate-both", "onesided:separate-g", "fid", "higher", "separate routine")),
          combine="conditions"),
    Claim("3.4", "Figure 5's text: BN in G only (#12) beats BN in both (#10)", f"{S000}, III, Figure 5", 3,
          (Check("table2:10", "table2:12", "fid", "lower"),)),
    Claim("3.5", "Figure 5's caption: BN in both (#10) is the better panel", f"{S000}, caption of Figure 5", 3,
          (Check("table2:12", "table2:10", "fid", "lower"),)),
    Claim("3.6", "At batch 128 the combined routine fails once BN is introduced", f"{S000}, III (training routine)", 3,
          (Check("onesided:combined-none", "onesided:combined-both", "fid", "higher", "combined: BN in both against none",
                 may_fail="treatment"),
           Check("onesided:separate-both", "onesided:combined-both", "fid", "higher", "with BN: combined against separate",
                 may_fail="treatment")),
          note="'once BN is introduced' is the first check: the same routine without BN; the second is the "
               "routine's effect with BN"),
    Claim("3.7", "G's BN is irrelevant to the blind spot; only D's BN matters", f"{S001}, footnote 1", 3,
          (_same("onesided:combined-d", "onesided:combined-both", "combined routine"),
           _same("onesided:separate-d", "onesided:separate-both", "separate routine")),
          combine="conditions"),
    Claim("3.8", "G's BN momentum matters (Keras 0.5 against 0.9)", f"{S000}, Table II #12-#14", 3,
          (Check("table2:14", "table2:12", "fid", "lower"),)),
    # chapter 4: kernel size
    Claim("4.1", "G's kernel 5 instead of 3 makes no noticeable difference (#2 vs #7)",
          f"{S000}, III (kernel size), Figures 12-13", 4,
          (_same("table2:2", "table2:7"),),
          note="#7 also has 128 filters in every layer; claim 4.2 separates kernel and width"),
    Claim("4.2", "A larger kernel improves what the networks learn", f"{S000}, II.C", 4,
          (Check("kernel:k3-wide", "kernel:k5-wide", "fid", "lower", "128 filters"),
           Check("kernel:k3-table1", "kernel:k5-table1", "fid", "lower", "Table I widths")),
          combine="conditions"),
    Claim("4.3", "The kernel matters more on larger images", f"{S000}, III (kernel size)", 4,
          (Interaction(("kernel:k3-table1", "kernel:k5-table1"), ("kernel:k3-table1-32px", "kernel:k5-table1-32px"),
                       "fid", "lower", "FID, 16 → 32 px"),
           Interaction(("kernel:k3-table1", "kernel:k5-table1"), ("kernel:k3-table1-32px", "kernel:k5-table1-32px"),
                       "recon_mse", "lower", "reconstruction error, 16 → 32 px")),
          note="kernel 5 against 3 at Table I's widths, as a factor at each size (each size has its own "
               "classifier, so FIDs are not compared across sizes); the claim is that the factor shrinks at 32 px"),
    # chapter 5: batch size
    Claim("5.1", "Batch 128 gives slightly worse images than batch 16", f"{S000}, abstract, III and IV", 5,
          (Check("table2:7", "table2:11", "fid", "higher", "same steps (#7 vs #11)"),
           Check("batch:images-16", "batch:images-128", "fid", "higher", "same images seen")),
          combine="conditions"),
    Claim("5.4", "Larger batches cover more modes", f"{S003}, batch size", 5,
          (Check("batch:steps-16", "batch:steps-128", "classes_covered", "higher", "same steps, lr 2e-4"),
           Check("batch:lr-high-16", "batch:lr-high-128", "classes_covered", "higher", "same steps, lr 5.7e-4")),
          note="both checks hold the learning rate fixed, so only the batch moves",
          combine="conditions"),
    Claim("5.5", "A larger batch allows a larger learning rate", f"{S003}, learning rate", 5,
          (Check("batch:steps-128", "batch:lr-high-128", "fid", "lower", "the high rate at batch 128"),
           Interaction(("batch:steps-16", "batch:lr-high-16"), ("batch:steps-128", "batch:lr-high-128"), "fid",
                       "lower", "the high rate's gain, batch 16 → 128")),
          note="'allows' is read as: the rate that helps batch 128 helps it more than it helps batch 16"),
    Claim("5.6", "BN is not effective for small batches", f"{S001}, It's not over yet", 5,
          (Check("batch:no-bn-16", "batch:steps-16", "fid", "no better", "batch 16, BN against none",
                 margin=IMAGE_MARGIN, must_learn="baseline"),),
          note="'not effective' is read as: BN does not improve FID by a tenth or more, so the arm without BN "
               "must learn too; one that does not counts against the claim at this budget"),
    # chapter 6: training routine
    Claim("6.1", "With BN, separate real and fake D batches greatly improve the result", f"{S000}, III-IV; {S003}; {S004}", 6,
          (Check("routine:combined-bn-16", "routine:separate-bn-16", "fid", "lower", "batch 16"),
           Check("routine:combined-bn-128", "routine:separate-bn-128", "fid", "lower", "batch 128")),
          combine="conditions"),
    Claim("6.2", "With BN, one combined D batch fails at batch 128 (#10 vs #11)", f"{S000}, III (training routine)", 6,
          (Check("table2:11", "table2:10", "fid", "higher", may_fail="treatment"),)),
    Claim("6.3", "Without BN both routines converge (here: train as well as BN with separate batches)",
          f"{S000}, III (training routine)", 6,
          (_same("routine:separate-bn-16", "routine:separate-nobn-16", "separate, no BN", must_learn="treatment"),
           _same("routine:separate-bn-16", "routine:combined-nobn-16", "combined, no BN", must_learn="treatment")),
          note="'converge' is read as: the arm without BN learns (the gate) and fits as well as BN with separate "
               "batches; an arm without BN that does not learn counts against the claim at this budget"),
    Claim("6.4", "Under the combined routine D's gradients fall to near zero (Figure 6)", f"{S000}, III, Figure 6", 6,
          (Check("routine:separate-bn-128", "routine:combined-bn-128", "final_grad_d_bottom", "lower", "batch 128",
                 may_fail="treatment", size=-0.9),
           Check("routine:separate-bn-16", "routine:combined-bn-16", "final_grad_d_bottom", "lower", "batch 16",
                 may_fail="treatment", size=-0.9)),
          note="'near zero' is read as: D's final bottom-layer gradient at a tenth or less of the separate "
               "routine's (a change of -90%); the direction alone shows in the relative interval",
          combine="conditions"),
    Claim("6.5", "A joint D batch with eval-mode D in G's step trains as well as pure batches",
          f"{S001} (chapter 7), on images", 6,
          (_same("routine:separate-bn-16", "routine:joint-eval", "joint + eval"),
           _same("routine:separate-bn-16", "routine:joint-joint", "joint + joint"))),
    Claim("6.6", "Tuning the G:D step ratio is futile", S003, 6,
          (Check("routine:separate-bn-16", "routine:g2", "fid", "no better", "2:1", margin=IMAGE_MARGIN),
           Check("routine:separate-bn-16", "routine:g5", "fid", "no better", "5:1", margin=IMAGE_MARGIN)),
          note="'futile' is read as: no ratio improves FID by a tenth or more (a ratio that hurts is futile too)"),
    Claim("6.7", "The two time-scale rule (G's lr below D's) helps", S003, 6,
          (Check("routine:separate-bn-16", "routine:ttur", "fid", "lower"),)),
    # chapter 7: the BN blind spot (toy 2-D data)
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
           _same("blindspot:no-bn-shift", "blindspot:bn-joint-eval-shift", "the fit, against no BN", "mmd",
                 margin=TOY_MARGIN))),
    Claim("7.8", "Faster running averages improve the fix", f"{S001}, It's Not Over Yet", 7,
          (Check("blindspot:bn-joint-eval-shift", "blindspot:bn-joint-eval-fast-shift", "mmd", "lower"),),
          note="chapter 7 also shows the lag of the running averages shrinking; the claim is about the result"),
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
          (Check("wn:vanilla", "wn:wn", "recon_mse", "lower", seeds=8, size=-0.10),),
          note="a claim of size: reproduced when the relative difference's 95% interval holds -10% and not 0"),
    Claim("8.2", "WN with TReLU: lower reconstruction error than BN", f"{S002}, abstract", 8,
          (Check("wn:bn", "wn:wn", "recon_mse", "lower", "reconstruction error", seeds=8),
           Check("wn:bn", "wn:wn", "fid", "lower", "FID", seeds=8))),
    Claim("8.5", "TReLU keeps the capacity strict WN loses", f"{S002}, proposed method", 8,
          (Check("wn:wn-relu", "wn:wn", "fid", "lower", seeds=5),),
          note="on FID: a strict WN layer has no bias, so a ReLU generator's output and its gradient are exactly "
               "zero at z = 0, where the reconstruction search starts; its reconstruction error measures the "
               "search's start, not the model (chapter 8)"),
    Claim("8.7", "WN stays stable in a deep network", f"{S002}, abstract", 8,
          (Check("wn:deep-vanilla", "wn:deep-wn", "fid", "lower", "against no normalization"),
           Check("wn:deep-bn", "wn:deep-wn", "fid", "lower", "against BN"))),
    # chapter 9: reconstruction error as a metric
    Claim("9.2", "Reconstruction error ranks models as sample quality does", S002, 9,
          (Agreement("recon_mse", "fid", TABLE2_SETUPS, "higher", "Table II's 14 set-ups"),
           Agreement("recon_mse", "fid", TABLE2_SETUPS, "higher", "set-ups covering 6+ classes", min_classes=6)),
          note="one value per set-up (its mean over seeds), over the seed paper's 14 Table II set-ups"),
)


@dataclass(frozen=True)
class Elsewhere:
    """A claim decided in its chapter by an analysis that is not a comparison of two settings,
    with the library function that decides it."""

    key: str
    claim: str
    decided_in: str
    function: str

    @property
    def chapter(self) -> int:
        return int(self.key.split(".")[0])


ELSEWHERE: tuple[Elsewhere, ...] = (
    Elsewhere("3.1", "BN may break either network", "chapter 3: the BN-in-G/D/both/none design under both routines",
              "bngan.experiments.run_series('onesided:combined' / 'onesided:separate')"),
    Elsewhere("4.4", "A kernel the stride divides avoids checkerboard artifacts",
              "chapter 4: the checkerboard score of samples", "bngan.spectra.checkerboard_score"),
    Elsewhere("5.2", "Loss curves overlap less as the batch grows", "chapter 5: the overlap of the loss bands",
              "bngan.histories.add_loss_overlap"),
    Elsewhere("5.3", "The batch acts through BN's batch statistics", "chapter 5: BN's batch-vs-running gap",
              "bngan.probes.GBNProbe (the g_bn gap columns)"),
    Elsewhere("7.1", "Without BN the toy GAN fits and D's loss ends near ln 2", "chapter 7: step 1's losses",
              "bngan.experiments.summary_table (final_loss_d, mmd)"),
    Elsewhere("7.4", "Split normalization maps any shifted and scaled batch to the same values",
              "chapter 7: step 4, exact", "bngan.blindspot.split_and_joint"),
    Elsewhere("8.3", "BN speeds up early training but hurts long-term stability", "chapter 8: the error over training",
              "bngan.plots.eval_curves (recon_mse at each evaluation)"),
    Elsewhere("8.4", "WN trains faster and more stably than BN", "chapter 8: the error over training",
              "bngan.plots.eval_curves (recon_mse at each evaluation)"),
    Elsewhere("8.6", "BN can cause instability; unnormalized GANs may collapse", "chapter 8: divergences and coverage",
              "bngan.experiments.RunSet.n_diverged and classes_covered"),
    Elsewhere("9.1", "The latent search finds a good z when one exists", "chapter 9: search on known latents",
              "bngan.metrics.reconstruction_error"),
    Elsewhere("9.3", "Reconstruction error punishes mode dropping", "chapter 9: baseline generators",
              "bngan.baselines.MeanImage, bngan.baselines.Blurred"),
    Elsewhere("9.4", "Held-out images keep it honest about memorization", "chapter 9: training vs held-out images",
              "bngan.metrics.reconstruction_error"),
    Elsewhere("9.5", "Cheap and stable enough to track during training", "chapter 9: variance and cost",
              "bngan.metrics.reconstruction_error"),
)


def chapter_keys(chapter: int) -> list[str]:
    """Every claim key of one chapter, ledger rows and claims decided elsewhere, in order."""
    keys = [c.key for c in CLAIMS if c.chapter == chapter] + [e.key for e in ELSEWHERE if e.chapter == chapter]
    return sorted(keys, key=lambda k: tuple(int(x) for x in k.split(".")))
