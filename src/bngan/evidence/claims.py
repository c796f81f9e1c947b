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

A claim that is not a comparison of two registered experiments names arms that a *rule*
computes (``"rule:..."``, :data:`RULE_ARM`): a function of :mod:`bngan.rules`, named by the
claim's ``rule``, that reads the claim's registered runs (their files where ``files`` is set:
weights, samples) or computes without training, and returns each arm's per-seed values, read by
the same tests as every other check; an :class:`Exact` part (an identity) reads *reproduced* or
*not reproduced* outside the correction. So every claim gets a word from one rule, in every
table. :mod:`bngan.ledger` reads the claims against the runs.
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
    "final_loss_d": ("D's final loss", None),
    "loss_overlap": ("overlap of D's and G's loss bands", None),
    "final_bn_gap": ("D's BN batch-vs-running gap", None),
    "early_recon_mse": ("reconstruction error at the first evaluation", True),
    "recon_rise": ("rise of the reconstruction error after its lowest evaluation", True),
    "checkerboard": ("checkerboard score", True),
}
#: The name of an arm that is not a registered experiment: values a claim's rule computes
#: (:mod:`bngan.rules`), e.g. ``"rule:ln 2"``.
RULE_ARM = "rule:"

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


@dataclass(frozen=True)
class Exact:
    """A part of a claim that holds exactly or not at all and needs no training (an algebraic
    identity): its claim's rule (:mod:`bngan.rules`) checks it on many inputs and says whether
    it held everywhere, to a stated tolerance. It has no sampling error, so it reads *reproduced*
    or *not reproduced* and stays out of the book-wide correction. ``arm`` names the rule's
    result (``"rule:..."``)."""

    arm: str
    condition: str = ""
    metric: str = ""
    # what a Check has and an exact part does not
    expect = "exact"
    seeds = None
    margin = None
    size = None
    may_fail = ""
    must_learn = ""

    def __post_init__(self) -> None:
        if not self.arm.startswith(RULE_ARM):
            raise ValueError(f"arm must name a rule's result ({RULE_ARM}...); got {self.arm!r}")

    @property
    def directional(self) -> bool:
        return False


COMBINE = ("all", "conditions")


@dataclass(frozen=True)
class Claim:
    """A claim of a source, in our words, with the chapter that tests it and its checks.
    ``note`` says what the checks leave out or hold together (a confound, a reworded claim).
    ``combine`` says how several checks make one word: ``"all"`` (the default), a conjunction,
    every part must hold; ``"conditions"``, one effect tested under several conditions (both
    routines, two batch sizes), where checks that disagree make the claim *depend* on the
    condition only if the effect differs detectably between them (:mod:`bngan.ledger`).
    ``rule`` names the function of :mod:`bngan.rules` that computes the claim's ``"rule:..."``
    arms (or, for its checks between registered experiments, a number the runs do not record);
    ``files`` says that it reads the runs' files (weights, samples), which the committed results
    do not hold: such a claim waits for its runs in the run cache; ``reads`` names registered
    experiments the rule reads besides its checks' arms."""

    key: str
    claim: str
    source: str
    chapter: int
    checks: tuple[Check | Interaction | Agreement | Exact, ...]
    note: str = ""
    combine: str = "all"
    rule: str = ""
    files: bool = False
    reads: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.combine not in COMBINE:
            raise ValueError(f"combine must be one of {', '.join(COMBINE)}; got {self.combine!r}")
        computed = [n for c in self.checks for n in _arm_names(c) if n.startswith(RULE_ARM)]
        if computed and not self.rule:
            raise ValueError(f"claim {self.key} names computed arms ({', '.join(computed)}) but no rule to compute them")
        if (self.files or self.reads) and not self.rule:
            raise ValueError(f"files and reads are for a claim with a rule (claim {self.key})")

    @property
    def registered(self) -> tuple[str, ...]:
        """The registered experiments the claim reads (its checks' arms that a rule does not
        compute), in order."""
        found = [n for c in self.checks for n in _arm_names(c) if not n.startswith(RULE_ARM)]
        return tuple(dict.fromkeys([*found, *self.reads]))


def _arm_names(check) -> tuple[str, ...]:
    if isinstance(check, Agreement):
        return tuple(check.setups)
    if isinstance(check, Interaction):
        return check.names
    if isinstance(check, Exact):
        return (check.arm,)
    return (check.baseline, check.treatment)


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
    Claim("3.1", "BN may break either network", f"{S000}, II.B", 3,
          (Check("onesided:combined-g", "onesided:combined-both", "fid", "higher",
                 "adding BN to D, with BN in G (#14 → #10), combined routine", may_fail="treatment"),),
          note="the paper's diagnosis asked which network BN breaks, and its one-sided runs answer with #10 (BN in "
               "both) against #14 (BN in G only) under the combined routine where its collapse appeared: does adding "
               "BN to D break the model? (3.3's first comparison, read the other way; BN in G alone is 3.2's question)"),
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
    Claim("4.4", "A kernel the stride divides avoids checkerboard artifacts", f"{S004}, after Odena et al.", 4,
          (Check("kernel:k3-table1-transposed", "kernel:k4-table1-transposed", "checkerboard", "lower",
                 "transposed, kernel 4 against 3"),
           Check("kernel:k5-table1-transposed", "kernel:k4-table1-transposed", "checkerboard", "lower",
                 "transposed, kernel 4 against 5")),
          rule="checkerboard", files=True,
          note="the checkerboard score (bngan.spectra) of 1000 samples of each seed's final G against the held-out "
               "images, computed from the runs' weights by bngan.rules.checkerboard"),
    # chapter 5: batch size
    Claim("5.1", "Batch 128 gives slightly worse images than batch 16", f"{S000}, abstract, III and IV", 5,
          (Check("table2:7", "table2:11", "fid", "higher", "same steps (#7 vs #11)"),
           Check("batch:images-16", "batch:images-128", "fid", "higher", "same images seen")),
          combine="conditions"),
    Claim("5.2", "Loss curves overlap less as the batch grows", f"{S000}, III (batch size), Figure 8", 5,
          (Check("batch:steps-16", "batch:steps-128", "loss_overlap", "lower", "batch 16 → 128"),
           Check("batch:steps-8", "batch:steps-128", "loss_overlap", "lower", "batch 8 → 128")),
          note="the overlap of D's and G's loss bands over the whole run (bngan.histories), at a fixed number of "
               "steps as Figure 8 has it: from 16, where the paper's text starts its sweep, and from 8, the sweep's end"),
    Claim("5.3", "The batch acts through BN's batch statistics", f"{S000}, II.D", 5,
          (Check("batch:steps-16", "batch:steps-128", "final_bn_gap", "lower", "batch 16 → 128"),),
          note="'the batch size will affect how the mini-batch mean/variance are estimated in BN': D's BN gap between "
               "batch and running statistics at the end of training (mean over its BN layers, real and fake batches; "
               "bngan.probes) must shrink at the larger batch; what that does to the images is 5.1's question"),
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
    Claim("7.1", "Without BN the toy GAN fits and D's loss ends near ln 2", f"{S001}, Setting The Stage", 7,
          (Check("rule:the noise itself", "blindspot:no-bn", "mmd", "lower", "fits: MMD against G's own noise"),
           Check("rule:ln 2", "blindspot:no-bn", "final_loss_d", "same", "D's final loss against ln 2",
                 margin=IMAGE_MARGIN)),
          rule="toy_reference",
          note="'fits' is read as: the fakes are detectably nearer the data (MMD) than G's input noise, the 2-D "
               "normal it maps, scored the same way per seed: the data are standardized, so the noise already has "
               "their mean and spread and only their shape is left to learn; 'near ln 2' as: within a tenth of ln 2 "
               "(bngan.rules.toy_reference)"),
    Claim("7.2", "BN with split batches: the fakes get the data's shape but not its place",
          f"{S001}, Introducing Batch Normalization", 7,
          (Check("blindspot:no-bn", "blindspot:bn", "shift_norm", "higher"),)),
    Claim("7.3", "Under a small push, BN with split batches lets the fakes drift", f"{S001}, Encouraging Distribution Shift", 7,
          (Check("blindspot:no-bn-shift", "blindspot:bn-shift", "shift_x", "higher"),)),
    Claim("7.4", "Split normalization maps any shifted and scaled batch to the same values",
          f"{S001}, Oh God, What Is Going On", 7,
          (Exact("rule:split", "split batches: a shifted, scaled copy gives the same values"),
           Exact("rule:joint", "joint batch: the copy is kept apart")),
          rule="split_identity",
          note="exact, without training: 1000 random batches, shifts and positive scales, to a tolerance of 1e-9 "
               "(bngan.rules.split_identity)"),
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
          note="the claim is about the fit; chapter 7 also measures the lag of the running averages, smaller in most seeds with the faster ones but not detectably at ten"),
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
    Claim("8.3", "BN speeds up early training but hurts long-term stability", f"{S002}, abstract; key findings", 8,
          (Check("wn:vanilla", "wn:bn", "early_recon_mse", "lower", "early: BN against vanilla", seeds=8),
           Check("wn:wn", "wn:bn", "recon_rise", "higher", "late: BN's rise against WN's", seeds=8)),
          note="on the reconstruction error measured during training: 'early' is its value at the first evaluation; "
               "'long-term stability' the rise from a run's lowest evaluation to its last, against WN + TPReLU, "
               "which the source compares BN with"),
    Claim("8.4", "WN trains faster and more stably than BN", f"{S002}, key findings", 8,
          (Check("wn:bn", "wn:wn", "early_recon_mse", "lower", "faster: error at the first evaluation", seeds=8),
           Check("wn:bn", "wn:wn", "recon_rise", "lower", "more stably: rise after the lowest evaluation", seeds=8)),
          note="read from the reconstruction error measured during training, as 8.3"),
    Claim("8.5", "TReLU keeps the capacity strict WN loses", f"{S002}, proposed method", 8,
          (Check("wn:wn-relu", "wn:wn", "fid", "lower", seeds=5),),
          note="on FID: a strict WN layer has no bias, so a ReLU generator's output and its gradient are exactly "
               "zero at z = 0, where the reconstruction search starts; its reconstruction error measures the "
               "search's start, not the model (chapter 8)"),
    Claim("8.6", "BN can cause instability; unnormalized GANs may collapse", f"{S002}, key findings", 8,
          (Check("wn:wn", "wn:bn", "recon_rise", "higher", "BN's rise against WN's", seeds=8),
           Check("wn:wn", "wn:vanilla", "classes_covered", "lower", "vanilla's classes covered against WN's",
                 seeds=8, may_fail="treatment")),
          note="instability as in 8.3 (the error's late rise; no run diverged at quick); collapse as fewer classes "
               "covered, where the vanilla arm's not learning is the predicted collapse, not a reason to withhold"),
    Claim("8.7", "WN stays stable in a deep network", f"{S002}, abstract", 8,
          (Check("wn:deep-vanilla", "wn:deep-wn", "fid", "lower", "against no normalization"),
           Check("wn:deep-bn", "wn:deep-wn", "fid", "lower", "against BN"))),
    # chapter 9: reconstruction error as a metric
    Claim("9.1", "The latent search finds a good z when one exists", f"{S002} (the method)", 9,
          (Check("rule:500 search steps", "rule:100 search steps", "recon_mse", "same",
                 "G's own images: the book's search against one 5 times as long", margin=IMAGE_MARGIN),),
          rule="search_converges", files=True, reads=("heuristics:dcgan-bn",),
          note="on images each seed of heuristics:dcgan-bn made from known latents, where an exact answer exists: "
               "the book's 100-step search from z = 0 must end within a tenth of what 500 steps reach "
               "(bngan.rules.search_converges)"),
    Claim("9.2", "Reconstruction error ranks models as sample quality does", S002, 9,
          (Agreement("recon_mse", "fid", TABLE2_SETUPS, "higher", "Table II's 14 set-ups"),
           Agreement("recon_mse", "fid", TABLE2_SETUPS, "higher", "set-ups covering 6+ classes", min_classes=6)),
          note="one value per set-up (its mean over seeds), over the seed paper's 14 Table II set-ups"),
    Claim("9.3", "Reconstruction error punishes mode dropping", S002, 9,
          (Check("heuristics:dcgan-bn", "routine:combined-nobn-16", "recon_mse", "higher",
                 "a collapsed run against a trained G", may_fail="treatment"),
           Check("routine:combined-nobn-16", "rule:mean image", "recon_mse", "higher",
                 "a G that drops every mode (the data's mean image) against the collapsed run", may_fail="baseline")),
          rule="mode_dropping", files=True,
          note="a conjunction: dropping modes must cost error, and dropping every mode must cost more than keeping "
               "one; the mean image is scored on the held-out images the runs are scored on (bngan.rules.mode_dropping)"),
    Claim("9.4", "Held-out images keep it honest about memorization", S002, 9,
          (Check("rule:training images", "rule:held-out images", "recon_mse", "higher",
                 "a memorizing G: its held-out against its training images"),),
          rule="memorization", files=True, reads=("heuristics:dcgan-bn",),
          note="a generator that can draw exactly its 64 stored training images and blends of them (one per seed "
               "of heuristics:dcgan-bn's data and search) must score detectably worse on held-out images than on "
               "the images it stored (bngan.rules.memorization)"),
    Claim("9.5", "Cheap and stable enough to track during training", S002, 9,
          (Check("rule:first half", "rule:second half", "recon_mse", "same",
                 "stable: two random halves of 200 held-out images", margin=IMAGE_MARGIN),),
          rule="stability", files=True, reads=("heuristics:dcgan-bn",),
          note="'stable' is read as: one evaluation of each seed of heuristics:dcgan-bn on two random halves of the "
               "held-out images agrees within a tenth; 'cheap' is a timing of the machine at hand, shown in chapter 9 "
               "and not decided here (bngan.rules.stability)"),
)


@dataclass(frozen=True)
class Elsewhere:
    """A claim decided in its chapter's text rather than by the ledger, with the library function
    that decides it (none is left: see :data:`ELSEWHERE`)."""

    key: str
    claim: str
    decided_in: str
    function: str

    @property
    def chapter(self) -> int:
        return int(self.key.split(".")[0])


#: Claims decided in their chapters' text and not by the ledger: none. Every claim of the book is a
#: :class:`Claim` of :data:`CLAIMS`, those that are not a comparison of two registered experiments
#: with a rule (:mod:`bngan.rules`) that computes their arms, so that every verdict table and
#: chapter 10 read them in one book-wide correction. Kept (empty) for code that lists them.
ELSEWHERE: tuple[Elsewhere, ...] = ()


def chapter_keys(chapter: int) -> list[str]:
    """Every claim key of one chapter, ledger rows and claims decided elsewhere, in order."""
    keys = [c.key for c in CLAIMS if c.chapter == chapter] + [e.key for e in ELSEWHERE if e.chapter == chapter]
    return sorted(keys, key=lambda k: tuple(int(x) for x in k.split(".")))
