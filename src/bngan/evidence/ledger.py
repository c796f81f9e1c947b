"""The claims ledger: the one place a verdict is decided. It reads every claim of
:mod:`bngan.evidence.claims` against the runs the chapters train (and cache), and renders the verdicts
for chapter 10 and for each chapter's own verdict table. One rule decides every word:

- **Directional checks** (``lower`` / ``higher``, interactions, rank agreements) are tested
  two-sided (Welch's 95% interval) and then corrected together, book-wide: the distinct
  comparisons of the whole ledger form one family (a comparison made twice, or mirrored, counts
  once), and Benjamini and Hochberg's procedure keeps the false discovery rate at 5%: of the
  checks the book calls *reproduced* or *reversed*, at most one in twenty is expected to be
  chance. Why the false discovery rate and not Holm's family-wise error: the ledger is a
  screen of many claims, and the error a reader meets is a wrong word in a row; Holm would
  guard against a single wrong word anywhere in the book, at the price of missing most real
  effects at five seeds, and would make each verdict hostage to how many other claims the book
  happens to test. A check significant before the correction but not after reads
  *suggestive, not after correction* and decides nothing. With a claimed ``size``, a detected
  effect is *reproduced* when the ratio interval holds the size, *other size* otherwise.
- **"same"**: *reproduced* when the 90% interval lies inside ``± margin`` (two one-sided
  tests); *not reproduced* only when the difference is shown to exceed the margin (the 95%
  interval wholly outside it); otherwise *inconclusive*, and a difference that is real but not
  resolved against the margin says so.
- **"no better"**: *reproduced* when the treatment is shown not to gain the margin or more
  (non-superiority; a real gain smaller than the margin is "no better"); *reversed* only when
  its gain is shown to exceed the margin; else *inconclusive*.
- **A claim of several checks** is a conjunction (``combine="all"``: every part must hold; one
  part not reproduced makes the claim not reproduced; an untested part leaves it not tested),
  or one effect under several conditions (``combine="conditions"``): checks that agree give
  their word; checks that disagree make the claim *depend* on the condition only when the effect
  differs between the conditions: the difference of the two effects (Welch-Satterthwaite over
  the four arms, on the log scale for a positive metric) must be a discovery after the same
  book-wide correction. That interaction enters the family for every claim of two conditions
  whose checks were both tested, whatever the checks say, so which tests are counted does not
  depend on their results; a disagreement whose interaction fails the correction is *undecided*.
- **A claim with a rule** (:mod:`bngan.evidence.rules`: a checkerboard score, a search on known latents,
  a memorizing generator, ...) has its computed arms read by the same tests and in the same
  family, wherever it is evaluated; an :class:`bngan.evidence.claims.Exact` part (an identity) reads
  *reproduced* or *not reproduced* outside the correction; a rule whose runs (or their files)
  are not in the run cache reads *not tested: waits for its runs*.
- **The gate**: a check whose arm did not learn at the profile's budget (:mod:`bngan.evidence.learning`)
  reads *not tested* and leaves the family, unless the claim predicts that arm's failure
  (``may_fail``); when the claim predicts that an arm learns (``must_learn``) and it does not,
  the check reads *not reproduced* at this budget. An arm a rule computes is not gated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..config import ExperimentConfig
from ..devices import check_device, default_device
from ..profiles import Profile, get_profile
from ..catalog.registry import config_at
from ..catalog.table2 import TABLE2, TABLE2_REPORTED
from ..runs.cluster import Ray, Sweep, as_backend, train_on_ray
from ..runs.run_progress import training
from ..runs.runsets import RunSet, cached_experiment, run_experiment
from ..runs.train import cached_run
from ..runs.workers import all_finished, check_workers, resolve_workers, train_in_processes, untrained
from .claims import (CLAIMS, ELSEWHERE, EXPECTATIONS, IMAGE_MARGIN, IMAGE_MARGIN_WHY, METRICS, RULE_ARM,  # noqa: F401
                     SOURCES, TOY_MARGIN, TOY_MARGIN_WHY, S000, S001, S002, S003, S004, Agreement, Check, Claim, Elsewhere,
                     Exact, Interaction, chapter_keys)
from .learning import arm_learning
from .plan import budget_profile, experiments_needed, larger, plan, seeds_for as _seeds  # noqa: F401 - ledger.larger and the rest stay
from .results import lacking, recorded, recorded_threshold, say_disagreement
from .stats import ALPHA, Comparison, Welch, benjamini_hochberg, compare, interaction, rank_correlation
from .tables import TextTable
from . import rule_records, rules

#: The classes a verdict falls in; ``undecided`` holds "no detectable difference" (its rank
#: correlation's form: "no detectable agreement"), "suggestive" and "inconclusive".
VERDICT_CLASSES = ("reproduced", "not reproduced", "undecided", "depends", "not tested", "not enough seeds",
                   "unfinished")
OUTCOME_CLASS = {"reproduced": "reproduced", "reversed": "not reproduced", "not reproduced": "not reproduced",
                 "other size": "not reproduced", "did not learn": "not reproduced",
                 "no detectable difference": "undecided", "no detectable agreement": "undecided", "suggestive": "undecided", "inconclusive": "undecided",
                 "unresolved": "undecided", "not tested": "not tested", "not applicable": "not tested",
                 "not enough seeds": "not enough seeds"}
#: How an outcome reads in a verdict (those not listed read as their name).
OUTCOME_WORDS = {"suggestive": "suggestive, not after correction",
                 "unresolved": "inconclusive: a real difference, its size against the margin unresolved"}


@dataclass(frozen=True)
class CheckResult:
    """A check with what the runs gave: a :class:`Comparison`, or a rank correlation over
    set-ups. ``corrected`` says whether a directional check is a discovery after the book-wide
    false discovery rate correction over ``family`` distinct comparisons (``None``: not
    corrected, read at 5% alone); ``key`` names the comparison (two checks of the same runs share
    it). ``not_learned`` holds the gate's reading of each arm that did not learn and may not
    fail (the check then reads *not tested*), ``failed_to_learn`` of each arm the claim says
    learns and that did not (*did not learn*). ``arms`` keeps each arm's per-seed values, for
    the interaction a claim of several conditions needs; ``not_applicable`` says why a check
    could not be computed."""

    check: Check | Interaction | Agreement
    comparison: Comparison | None = None
    correlation: tuple[float, float, int] | None = None  # rho, p, number of set-ups
    corrected: bool | None = None
    family: int = 0
    not_learned: tuple[str, ...] = ()
    failed_to_learn: tuple[str, ...] = ()
    key: tuple = ()
    arms: tuple[tuple[float, ...], ...] = ()
    not_applicable: str = ""
    identity: rules.Identity | None = None
    #: (baseline, treatment) arm ids of a two-arm check, in order (the interaction of two
    #: conditions is keyed by them, so the same four arms count once in the family)
    arm_ids: tuple = ()

    @property
    def p_value(self) -> float:
        if self.correlation is not None:
            return self.correlation[1]
        return self.comparison.p_value if self.comparison is not None else math.nan

    @property
    def in_family(self) -> bool:
        """Whether this check enters the book-wide correction: a directional check both of whose
        arms were tested and that could be computed."""
        return (self.check.directional and not self.not_learned and not self.failed_to_learn
                and not self.not_applicable and np.isfinite(self.p_value))

    @property
    def margin(self) -> float:
        """A ``same`` or ``no better`` check's margin in the metric's units: a fraction of the
        baseline's mean, which the test takes as known (with 5 seeds its own error is a few
        percent of the margin)."""
        return self.check.margin * abs(self.comparison.mean_a)

    @property
    def relative(self) -> tuple[float, float, float]:
        """The change as a share of the baseline, ``mean_b / mean_a - 1``, and its 95% interval
        (on the log of the ratio, so it never falls below -100% for a positive metric)."""
        return self.comparison.relative_interval()

    def _significant(self) -> bool:
        """Detectable at 5% and, where the check was corrected, a discovery after it."""
        detectable = (self.p_value < ALPHA) if self.correlation is not None else self.comparison.detectable
        return detectable and self.corrected is not False

    @property
    def outcome(self) -> str:
        """One of :data:`OUTCOME_CLASS` (see the module's docstring)."""
        if self.not_applicable:
            return "not applicable"
        if self.identity is not None:
            return "reproduced" if self.identity.holds else "not reproduced"
        if self.failed_to_learn:
            return "did not learn"
        if self.correlation is not None:
            rho, p, _ = self.correlation
            if not np.isfinite(p):
                return "not enough seeds"
            if p >= ALPHA:  # a ranking tests agreement, not a difference between two arms
                return "no detectable agreement"
            if not self._significant():
                return "suggestive"
            return "reproduced" if (rho > 0) == (self.check.expect == "higher") else "reversed"
        c, expect = self.comparison, self.check.expect
        if self.not_learned:
            return "not tested"
        if not np.isfinite(c.p_value) or min(c.n_a, c.n_b) < 2:
            return "not enough seeds"
        if expect == "same":
            reading = c.equivalence(self.margin)
            if reading == "inconclusive" and c.detectable:
                return "unresolved"
            return {"equivalent": "reproduced", "different": "not reproduced"}.get(reading, "inconclusive")
        if expect == "no better":
            return {"no better": "reproduced", "better": "reversed"}.get(c.no_better(self.margin), "inconclusive")
        if not c.detectable:
            return "no detectable difference"
        if not self._significant():
            return "suggestive"
        if (c.difference < 0) != (expect == "lower"):
            return "reversed"
        if self.check.size is not None:
            _, low, high = self.relative
            return "reproduced" if low <= self.check.size <= high else "other size"
        return "reproduced"

    @property
    def numbers(self) -> str:
        """The deciding numbers in one phrase."""
        where = f"{self.check.condition}: " if self.check.condition else ""
        if self.not_applicable:
            return f"{where}not applicable: {self.not_applicable}"
        if self.identity is not None:
            return f"{where}{'holds' if self.identity.holds else 'fails'}: {self.identity.numbers}"
        if self.correlation is not None:
            rho, p, n = self.correlation
            return (f"{where}Spearman rho {rho:+.2f} (p {_p(p)}{self._correction_mark()}) between "
                    f"{_name(self.check.metric)} and {_name(self.check.reference)} over {n} set-ups (means over seeds)")
        c = self.comparison
        if self.not_learned:
            where = f"{where}not tested, {'; '.join(self.not_learned)}: "
        if self.failed_to_learn:
            where = f"{where}{'; '.join(self.failed_to_learn)}, where the claim says it learns: "
        if isinstance(self.check, Interaction):
            return (f"{where}{_name(self.check.metric)} changed ×{math.exp(c.mean_a):.3g} in the first condition, "
                    f"×{math.exp(c.mean_b):.3g} in the second; log-ratio difference "
                    f"{_signed(c.difference)} [{_signed(c.low)}, {_signed(c.high)}], p {_p(c.p_value)}"
                    f"{self._correction_mark()}, {c.n_a} and {c.n_b} seeds per arm")
        head = f"{where}{_name(c.metric)} {_fmt(c.mean_a)} → {_fmt(c.mean_b)}"
        if not np.isfinite(c.p_value):
            return f"{head}, {min(c.n_a, c.n_b)} completed seed(s)"
        if self.check.expect in ("same", "no better"):
            low, high = c.interval(1 - 2 * ALPHA)
            return (f"{head}, {_signed(c.difference)}, 90% interval [{_signed(low)}, {_signed(high)}] against "
                    f"±{_fmt(self.margin)} ({self.check.margin:.0%} of the baseline), {c.n_a} and {c.n_b} seeds")
        direction = "lower" if c.lower_is_better else "higher"  # the way compare counted wins_b
        interval = f"[{_signed(c.low)}, {_signed(c.high)}]" if c.se > 0 else "(no spread in either arm: exact test)"
        text = (f"{head}, {_signed(c.difference)} {interval}, p {_p(c.p_value)}"
                f"{self._correction_mark()}, {direction} in {c.wins_b}/{c.n_paired} seeds")
        if self.check.size is not None:
            rel, low, high = self.relative
            shares = f"; relative {rel:+.0%} [{low:+.0%}, {high:+.0%}] against the claimed {self.check.size:+.0%}"
            text += shares.replace("-", "−")  # the typographic minus the rest of the row uses
        if not c.detectable:
            text += f"; could have missed ±{c.missable:.3g}"
        return text

    def _correction_mark(self) -> str:
        if self.corrected is None or not self.p_value < ALPHA:
            return ""
        return (f", a discovery after correction over {self.family}" if self.corrected
                else f", not after correction over {self.family}")


def _differs(a: CheckResult, b: CheckResult) -> Comparison | None:
    """Whether two conditions' effects differ: the difference of the two checks' effects, (b2 -
    a2) - (b1 - a1) on the log scale where every value is positive (a factor, so conditions with
    their own scale compare) and raw otherwise, with a Welch-Satterthwaite interval over the four
    arms. ``None`` where either check lacks its arms' values."""
    if len(a.arms) != 2 or len(b.arms) != 2 or any(len(arm) < 2 for arm in (*a.arms, *b.arms)):
        return None
    groups = [np.asarray(arm, dtype=float) for arm in (*a.arms, *b.arms)]
    on_log = all(np.all(g > 0) for g in groups)
    if on_log:
        groups = [np.log(g) for g in groups]
    w = Welch.combination(groups, (1.0, -1.0, -1.0, 1.0))
    low, high = w.interval()
    return Comparison(metric=("log " if on_log else "") + a.check.metric, a=a.check.condition, b=b.check.condition,
                      mean_a=float(groups[1].mean() - groups[0].mean()),
                      mean_b=float(groups[3].mean() - groups[2].mean()), difference=w.difference, low=low, high=high,
                      p_value=w.p_value, se=w.se, df=w.df, n_a=min(map(len, a.arms)), n_b=min(map(len, b.arms)),
                      diverged_a=0, diverged_b=0, wins_b=0, ties=0, n_paired=0, lower_is_better=True)


@dataclass(frozen=True)
class ConditionTest:
    """Whether a claim's effect differs between its two conditions: the interaction of its two
    checks (:func:`_differs`), with its book-wide decision (``corrected``: a discovery after the
    correction over ``family`` comparisons; ``None``: not corrected, read at 5% alone)."""

    comparison: Comparison
    key: tuple
    corrected: bool | None = None
    family: int = 0

    @property
    def p_value(self) -> float:
        return self.comparison.p_value

    @property
    def differs(self) -> bool:
        """Detectable at 5% and, where corrected, a discovery after the correction."""
        return self.comparison.detectable and self.corrected is not False

    def mark(self) -> str:
        if self.corrected is None or not self.comparison.detectable:
            return ""
        return (f", a discovery after correction over {self.family}" if self.corrected
                else f", not after correction over {self.family}")


def condition_test(claim: Claim, results: Sequence[CheckResult]) -> ConditionTest | None:
    """The interaction a claim of two conditions (``combine="conditions"``) is read with, where
    both checks were tested and computed (``None`` otherwise): asked whatever the checks say, so
    the family does not depend on their outcomes."""
    if claim.combine != "conditions" or len(results) != 2:
        return None
    if any(r.comparison is None or len(r.arm_ids) != 2 or r.not_learned or r.failed_to_learn or r.not_applicable
           for r in results):
        return None
    a, b = results
    found = _differs(a, b)
    if found is None or not np.isfinite(found.p_value):
        return None
    return ConditionTest(found, ("interaction", a.arm_ids + b.arm_ids, a.check.metric))


@dataclass(frozen=True)
class Verdict:
    """A claim and the results of its checks, read together by the claim's ``combine`` rule
    (see the module's docstring). ``stage`` says which seeds decided it: the ``pilot`` (the
    profile's seeds) or the ``confirmation`` (:mod:`bngan.evidence.confirmation`: new seeds only)."""

    claim: Claim
    results: tuple[CheckResult, ...]
    stage: str = "pilot"
    #: (runs there, runs wanted) for a claim read without training whose runs are not all in the
    #: cache or the committed results: it is *unfinished*, decides nothing and stays out of the
    #: correction (a check on part of its seeds would change the family as runs finish).
    waiting: tuple[int, int] | None = None
    #: the interaction of a claim of two conditions, with its book-wide decision
    condition: ConditionTest | None = None

    def _outcomes(self) -> list[tuple[CheckResult, str]]:
        return [(r, r.outcome) for r in self.results]

    def _tested(self) -> list[tuple[CheckResult, str]]:
        return [(r, o) for r, o in self._outcomes() if OUTCOME_CLASS[o] != "not tested"]

    def _untested_aside(self) -> str:
        untested = [_label(r) for r, o in self._outcomes() if OUTCOME_CLASS[o] == "not tested"]
        return f"; not tested ({', '.join(untested)})" if untested else ""

    @property
    def interaction(self) -> Comparison | None:
        """For a claim of conditions whose tested checks disagree: the difference between the
        effects of the first two that disagree (``None`` when they agree or it cannot be made)."""
        if self.claim.combine != "conditions":
            return None
        tested = self._tested()
        for i, (a, oa) in enumerate(tested):
            for b, ob in tested[i + 1:]:
                if OUTCOME_CLASS[oa] != OUTCOME_CLASS[ob]:
                    return _differs(a, b)
        return None

    @property
    def verdict_class(self) -> str:
        """One of :data:`VERDICT_CLASSES`."""
        if self.waiting is not None:
            return "unfinished"
        tested = self._tested()
        classes = {OUTCOME_CLASS[o] for _, o in tested}
        if self.claim.combine == "all" and len(self.results) > 1:
            if "not reproduced" in classes:
                return "not reproduced"
            if len(tested) < len(self.results):
                return "not tested"
            if classes == {"reproduced"}:
                return "reproduced"
            return "not enough seeds" if classes == {"not enough seeds"} else "undecided"
        if not classes:
            return "not tested"
        if len(classes) == 1:
            return classes.pop()
        inter = self.interaction
        differs = inter is not None and inter.detectable and (self.condition is None or self.condition.differs)
        return "depends" if differs else "undecided"

    @property
    def verdict(self) -> str:
        """The claim's word: the common outcome when the checks agree (``reproduced``, ``no
        detectable difference with 5 seeds``, ...), otherwise the class with each part named:
        ``depends: reproduced (batch 16); no detectable difference (batch 128)``."""
        if self.waiting is not None:
            return f"unfinished ({self.waiting[0]} of {self.waiting[1]} runs)"
        outcomes = self._outcomes()
        tested = self._tested()
        cls = self.verdict_class
        if len({o for _, o in outcomes}) == 1:
            return self._word(outcomes[0][1])
        if not tested:
            return self._word("not tested")
        if len({o for _, o in tested}) == 1 and cls == OUTCOME_CLASS[tested[0][1]]:
            return self._word(tested[0][1]) + self._untested_aside()
        parts: dict[str, list[str]] = {}
        for result, outcome in tested:
            parts.setdefault(outcome, []).append(_label(result))
        order = sorted(parts, key=lambda o: (o != "reproduced", o))
        listed = "; ".join(f"{OUTCOME_WORDS.get(o, o)} ({', '.join(parts[o])})" for o in order)
        inter = self.interaction
        if inter is not None:
            mark = self.condition.mark() if self.condition is not None else ""
            if not inter.detectable:
                said = "does not differ detectably between the conditions"
            elif self.condition is not None and not self.condition.differs:
                said = "differs between the conditions only before the correction"
            else:
                said = "differs between the conditions"
            listed += f"; the effect {said} (p {_p(inter.p_value)}{mark})"
        if cls == "not tested":  # a conjunction with a part that could not be tested
            return f"{self._word('not tested')}; {listed}"
        return f"{cls}: {listed}{self._untested_aside()}"

    def _word(self, outcome: str) -> str:
        if outcome in ("reproduced", "not enough seeds"):
            return outcome
        if outcome in ("no detectable difference", "no detectable agreement", "inconclusive"):
            ranked = [r.correlation[2] for r in self.results if r.correlation is not None]
            if ranked:  # each ranking's own count (row 9.2: all 14 set-ups, and the 8 covering 6+ classes)
                return f"{outcome} with {' and '.join(str(n) for n in sorted(set(ranked), reverse=True))} set-ups"
            return f"{outcome} with {self.n_seeds} seeds"
        if outcome in ("suggestive", "unresolved"):
            return OUTCOME_WORDS[outcome]
        if outcome == "not tested":
            arms = sorted({arm for r in self.results for arm in r.not_learned})
            reasons = sorted({r.not_applicable for r in self.results if r.not_applicable})
            return f"not tested: {'; '.join(arms + reasons)}"
        if outcome == "not applicable":
            return f"not tested: {'; '.join(sorted({r.not_applicable for r in self.results}))}"
        if outcome == "did not learn":
            arms = sorted({arm for r in self.results for arm in r.failed_to_learn})
            return f"not reproduced: {'; '.join(arms)}, where the claim says it learns"
        return f"not reproduced ({outcome})" if outcome != "not reproduced" else "not reproduced (different)"

    @property
    def numbers(self) -> str:
        if self.waiting is not None:
            return ("waits for its runs' files in the run cache (its rule reads their weights)" if self.claim.files
                    else "waits for its runs (`python -m bngan.background` trains them)")
        text = "; ".join(r.numbers for r in self.results)
        inter = self.interaction
        if inter is not None:
            scale = " on the log scale" if inter.metric.startswith("log") else ""
            mark = self.condition.mark() if self.condition is not None else ""
            text += (f"; difference between the conditions' effects {_signed(inter.difference)} "
                     f"[{_signed(inter.low)}, {_signed(inter.high)}]{scale}, p {_p(inter.p_value)}{mark}")
        return text

    @property
    def n_seeds(self) -> int:
        counts = [min(r.comparison.n_a, r.comparison.n_b) for r in self.results if r.comparison is not None]
        return min(counts) if counts else 0


def _label(result: CheckResult) -> str:
    return result.check.condition or _name(result.check.metric)


def _name(metric: str) -> str:
    return METRICS.get(metric, (metric, None))[0]


def _fmt(x: float) -> str:
    return f"{x:.4g}".replace("-", "−")


def _signed(x: float) -> str:
    return f"{x:+.3g}".replace("-", "−")


def _p(x: float) -> str:
    """A p-value with the typographic minus the rest of a row uses (``2e−05``)."""
    return f"{x:.2g}".replace("-", "−")


# --------------------------------------------------------------------------- evaluation


def evaluate(claims: Sequence[Claim] = CLAIMS, *, profile: str | Profile | None = None,
             seeds: Sequence[int] | None = None, root=None, device=None, progress: bool = False,
             group: bool | None = None, graph: bool | None = None, gate: bool = True,
             train: bool = True, backend: str | Ray = "local", workers: int | None = None,
             recorded_first: bool = False, mark_unfinished: bool = False) -> list[Verdict]:
    """Every claim's verdict from the runs of its checks, with the learning gate on each arm
    (``gate=False`` reads every check as if both arms learned) and the false discovery rate
    correction over the distinct directional comparisons evaluated together (:func:`correct`).

    Each run is read from the run cache, else from the committed results (:mod:`bngan.evidence.results`;
    a run in both whose numbers differ is named on stderr, and the cache's is used), else
    trained (``train=True``; ``train=False`` reads what exists): on Ray with ``backend="ray"``
    (:mod:`bngan.runs.cluster`), in ``workers`` processes (:mod:`bngan.runs.workers`; default one per core
    on a CPU), or in this process. A recorded run brings the gate's threshold with it, so the
    dataset is not loaded to gate it.

    The experiments are run as their chapters run them (:func:`bngan.experiments.for_profile`),
    with the profile's seeds or as many as a check asks for; ``seeds`` overrides both.

    With ``train=False`` and ``mark_unfinished=True`` (what chapter 10 and the chapter tables
    read) a claim whose runs are not all there reads *unfinished* (``Verdict.waiting``) and stays
    out of the correction, instead of being read on the seeds there are. ``recorded_first=True`` takes a run the committed results hold from them without opening
    its run folder (no comparison with the cache): seconds instead of minutes for the whole
    ledger, for reading claims whose runs another page or the background trainer recorded."""
    if workers is not None:
        check_workers(workers)
    p = get_profile(profile)
    waiting = _unfinished(claims, p, {"seeds": seeds, "root": root}) if mark_unfinished and not train else {}
    if waiting:
        ready = [c for c in claims if c.key not in waiting]
        decided = {v.claim.key: v for v in evaluate(
            ready, profile=p, seeds=seeds, root=root, device=device, progress=progress, group=group, graph=graph,
            gate=gate, train=False, backend=backend, workers=workers, recorded_first=recorded_first)} if ready else {}
        return [decided.get(c.key) or Verdict(c, (), waiting=waiting[c.key]) for c in claims]
    runs = _runs(claims, p, seeds=seeds, root=root, device=device, progress=progress, group=group, graph=graph,
                 train=train, backend=backend, workers=workers, recorded_first=recorded_first)
    learning = _memo(lambda arm: arm_learning(arm, threshold=recorded_threshold(arm))) if gate else None
    return correct(claims, [_read_claim(claim, runs, p, learning) for claim in claims])


def _read_claim(claim: Claim, runs: Mapping[str, RunSet], p: Profile, learning=None) -> list[CheckResult]:
    """A claim's checks read on the runs; a claim with a rule has its computed arms added first
    (:func:`bngan.evidence.rules.computed`), and reads *not tested: waits for its runs* where the rule
    cannot run yet (its runs, or their files, not in the run cache)."""
    if not claim.rule:
        return [_read(check, runs, learning) for check in claim.checks]
    try:
        values = {**runs, **rules.computed(claim, runs, p)}
    except rules.Waiting as err:
        return [CheckResult(check, not_applicable=f"waits for its runs ({err})") for check in claim.checks]
    return [_read(check, values, learning, gated=runs) for check in claim.checks]


def correct(claims: Sequence[Claim], read: Sequence[Sequence[CheckResult]], *, reserved: int = 0) -> list[Verdict]:
    """The claims' verdicts from their checks' results, each directional check marked with the
    book-wide decision: Benjamini-Hochberg at 5% over the distinct comparisons (one p-value per
    :attr:`CheckResult.key`: the same runs compared twice, or mirrored, count once) of the checks
    that entered the family (:attr:`CheckResult.in_family`), and the interaction of every claim
    of two tested conditions (:func:`condition_test`). ``reserved``: comparisons the family
    holds places for whose runs have not finished, counted as not significant (p = 1), so that a
    reading made before they finish is never more lenient than the final one's family size."""
    tests = [condition_test(claim, results) for claim, results in zip(claims, read)]
    distinct: dict[tuple, float] = {}
    for results in read:
        for r in results:
            if r.in_family:
                distinct.setdefault(r.key or (id(r),), r.p_value)
    for test in tests:
        if test is not None:
            distinct.setdefault(test.key, test.p_value)
    reserved_places = [1.0] * reserved
    decided = dict(zip(distinct, benjamini_hochberg(list(distinct.values()) + reserved_places)))
    family = len(distinct) + reserved
    return [Verdict(claim, tuple(replace(r, corrected=decided[r.key or (id(r),)], family=family)
                                 if r.in_family else r for r in results),
                    condition=replace(test, corrected=decided[test.key], family=family) if test is not None else None)
            for claim, results, test in zip(claims, read, tests)]


def _plan(claims: Sequence[Claim], p: Profile, seeds=None) -> dict[str, tuple[ExperimentConfig, tuple[int, ...]]]:
    """Each experiment the claims need, as its chapter runs it, with the seeds it gets
    (:func:`bngan.evidence.plan.plan`)."""
    return plan(claims, p, seeds, configure=config_at)


def _runs(claims: Sequence[Claim], p: Profile, *, seeds=None, root=None, device=None, progress=False,
          group=None, graph=None, train=True, backend: str | Ray = "local",
          workers: int | None = None, recorded_first: bool = False) -> dict[str, RunSet]:
    """Each experiment the claims need: its seeds from the run cache, else from the committed
    results, else (``train``) trained, as :func:`evaluate` says (``recorded_first``: the
    committed results' row without opening the cache)."""
    planned = _plan(claims, p, seeds)
    book = recorded(p)
    served: dict[str, dict[int, object]] = {}  # the seeds the committed results hold: cached or recorded
    rest: dict[str, tuple[int, ...]] = {}  # the others: read from the cache, or trained
    for name, (config, chosen) in planned.items():
        served[name] = {}
        for seed in chosen:
            row = book.get((config.hash(), seed))
            if row is None:
                continue
            cached = None if recorded_first else cached_run(config, seed, root)
            if cached is not None:
                say_disagreement(cached, row)
            served[name][seed] = cached or row
        rest[name] = tuple(s for s in chosen if s not in served[name])
    sweeps = [Sweep(name, planned[name][0], seeds_left) for name, seeds_left in rest.items() if seeds_left]
    # one run count over all the claims' runs: the workers and the experiments below join it
    with training(lambda: untrained(sweeps, root) if train else 0,
                  enabled=not progress and as_backend(backend) is None):
        if train and sweeps:
            if (cluster := as_backend(backend)) is not None:
                train_on_ray(sweeps, cluster, root=root, device=None if device is None else str(device),
                             progress=progress)
                train = False  # everything the cluster could train is in the cache now
            else:
                on = check_device(device) if device is not None else default_device()
                n = resolve_workers(workers, on)
                if n > 1 and on.type == "cpu" and not group and not all_finished(sweeps, root):
                    train_in_processes(sweeps, n, root=root, device=on, progress=progress)
                    train = False  # what the workers could train is in the cache now
        runs = {}
        for name, (config, chosen) in planned.items():
            found = None
            if rest[name]:
                found = (run_experiment(config, profile=p, seeds=rest[name], root=root, device=device,
                                        progress=progress, label=name, group=group, graph=graph, workers=1) if train
                         else cached_experiment(config, profile=p, seeds=rest[name], root=root, label=name))
            if not served[name]:
                runs[name] = found
                continue
            order = {seed: i for i, seed in enumerate(chosen)}
            both = [*(found.runs if found is not None else ()), *served[name].values()]
            runs[name] = RunSet(name, config, sorted(both, key=lambda r: order.get(r.seed, len(order))))
        return runs


def _arm_id(results, metric: str) -> tuple:
    """What makes two arms the same runs: the config's hash (experiment names that share a
    config share its runs) and the seeds that have the metric; a label where there is no config."""
    config = getattr(results, "config", None)
    seeds = tuple(sorted(results.by_seed(metric)))
    return (config.hash(), seeds) if config is not None else (results.label, seeds)


def _read(check: Check | Interaction | Agreement | Exact, runs: Mapping[str, RunSet], learning=None,
          gated: Mapping[str, RunSet] | None = None) -> CheckResult:
    """One check read on the runs; ``learning`` (an arm -> :class:`bngan.evidence.learning.Learning`
    or ``None``) gates each arm the claim does not predict to fail, and reads an arm the claim
    says learns (``must_learn``) as evidence against it when it did not. ``gated`` holds the
    registered runs the gate reads where ``runs`` holds a rule's values in their place (an arm
    a rule computes is not gated)."""
    if isinstance(check, Exact):
        return CheckResult(check, identity=runs[check.arm])
    gated = runs if gated is None else gated
    if learning is not None:
        gate = learning
        learning = lambda arm, name: gate(gated[name]) if name in gated and not name.startswith(RULE_ARM) else None  # noqa: E731
    if isinstance(check, Agreement):
        key = ("agreement", tuple(_arm_id(runs[n], check.metric) for n in check.setups), check.metric,
               check.reference, check.min_classes)
        return CheckResult(check, correlation=agreement(check, [runs[name] for name in check.setups]), key=key)
    if isinstance(check, Interaction):
        arms = [runs[name] for name in check.names]
        readings = [learning(arm, name) for arm, name in zip(arms, check.names)] if learning is not None else []
        not_learned = tuple(str(r) for r in readings if r is not None and not r.learned)
        key = ("interaction", tuple(_arm_id(arm, check.metric) for arm in arms), check.metric)
        try:
            found = interaction(*arms, check.metric, lower_is_better=check.expect == "lower")
        except ValueError as err:  # a metric that is not positive has no log ratio
            return CheckResult(check, not_learned=not_learned, key=key, not_applicable=str(err))
        return CheckResult(check, found, not_learned=not_learned, key=key)
    # wins count seeds moving the predicted way; for "same" and "no better", the better way (or lower)
    better = METRICS[check.metric][1]
    lower_is_better = check.expect == "lower" or (check.expect != "higher" and better is not False)
    not_learned, failed = [], []
    for side, name in (("baseline", check.baseline), ("treatment", check.treatment)):
        reading = learning(runs[name], name) if learning is not None and check.may_fail != side else None
        if reading is not None and not reading.learned:
            (failed if check.must_learn in (side, "both") else not_learned).append(str(reading))
    a, b = runs[check.baseline], runs[check.treatment]
    key = ("check", frozenset((_arm_id(a, check.metric), _arm_id(b, check.metric))), check.metric)
    arms = (tuple(a.by_seed(check.metric).values()), tuple(b.by_seed(check.metric).values()))
    return CheckResult(check, compare(a, b, check.metric, lower_is_better=lower_is_better),
                       not_learned=tuple(not_learned), failed_to_learn=tuple(failed), key=key, arms=arms,
                       arm_ids=(_arm_id(a, check.metric), _arm_id(b, check.metric)))


def _memo(gate):
    """``gate`` computed once per arm (an arm is read by several checks)."""
    found: dict[int, object] = {}

    def read(results):
        if id(results) not in found:
            found[id(results)] = gate(results)
        return found[id(results)]

    return read


def agreement(check: Agreement, setups: Sequence[RunSet]) -> tuple[float, float, int]:
    """Spearman's rho and p between ``check.metric`` and ``check.reference`` over the set-ups'
    means over seeds (those covering ``check.min_classes`` classes on average), and how many
    set-ups entered: NaN when fewer than 3 did."""
    means = [(rs.mean_std(check.metric)[0], rs.mean_std(check.reference)[0], rs.mean_std("classes_covered")[0])
             for rs in setups if len(rs)]
    kept = [(x, y) for x, y, classes in means if not check.min_classes or classes >= check.min_classes]
    kept = [(x, y) for x, y in kept if np.isfinite(x) and np.isfinite(y)]
    if len(kept) < 3:
        return math.nan, math.nan, len(kept)
    rho, p = rank_correlation([x for x, _ in kept], [y for _, y in kept])
    return rho, p, len(kept)


# --------------------------------------------------------------------------- summaries


@dataclass(frozen=True)
class Multiplicity:
    """The book-wide correction in numbers: how many distinct directional comparisons entered
    it, how many reached 5% alone, how many are discoveries after the false discovery rate
    correction (and of those, how many point the way the claim predicts), and how many reached
    5% in the predicted direction by chance alone if no claimed effect were real (2.5% of the
    comparisons)."""

    checks: int
    significant: int
    discoveries: int
    reproduced: int
    expected_by_chance: float

    def __str__(self) -> str:
        return (f"{self.checks} distinct directional comparisons: {self.significant} reach 5% on their own "
                f"(about {self.expected_by_chance:.1f} would in the predicted direction by chance alone); "
                f"{self.discoveries} remain after the false discovery rate correction over all {self.checks}, "
                f"{self.reproduced} of them in the predicted direction")


def distinct_comparisons(claims: Sequence[Claim] = CLAIMS, profile: str | Profile | None = None) -> int:
    """How many distinct directional comparisons the claims make at ``profile``, before any run
    is read: checks whose arms are the same configs (experiment names that share a config) on the
    same metric count once, mirrored or not. The correction's family is this many, less those
    whose arms turn out not to have learned."""
    p = get_profile(profile)

    def arm(name: str) -> str:  # an arm a rule computes is its own
        return name if name.startswith(RULE_ARM) else config_at(name, p).hash()

    found = set()
    for claim in claims:
        for check in claim.checks:
            if not check.directional:
                continue
            if isinstance(check, Agreement):
                found.add(("agreement", tuple(arm(n) for n in check.setups), check.metric, check.reference,
                           check.min_classes))
            elif isinstance(check, Interaction):
                found.add(("interaction", tuple(arm(n) for n in check.names), check.metric))
            else:
                found.add(("check", frozenset((arm(check.baseline), arm(check.treatment))), check.metric))
        if claim.combine == "conditions" and len(claim.checks) == 2:  # the interaction of its two conditions
            first, second = claim.checks
            found.add(("interaction", (arm(first.baseline), arm(first.treatment), arm(second.baseline),
                                       arm(second.treatment)), first.metric))
    return len(found)


def multiplicity(verdicts: Sequence[Verdict]) -> Multiplicity:
    """The ledger's multiplicity counts (see :class:`Multiplicity`), each distinct comparison once."""
    distinct: dict[tuple, CheckResult | ConditionTest] = {}
    for v in verdicts:
        for r in v.results:
            if r.in_family and r.corrected is not None:
                distinct.setdefault(r.key or (id(r),), r)
        if v.condition is not None and v.condition.corrected is not None:
            distinct.setdefault(v.condition.key, v.condition)
    found = list(distinct.values())
    significant = [r for r in found if r.p_value < ALPHA]
    discoveries = [r for r in found if r.corrected]
    reproduced = [r for v in verdicts for r in v.results if r.corrected and r.outcome in ("reproduced", "other size")]
    reproduced_keys = {r.key or (id(r),) for r in reproduced}
    return Multiplicity(len(found), len(significant), len(discoveries), len(reproduced_keys),
                        ALPHA / 2 * len(found))


def ledger_table(verdicts: Sequence[Verdict]) -> TextTable:
    """One row per claim: key, claim, source, chapter, verdict and the deciding numbers."""
    rows = [(v.claim.key, v.claim.claim, v.claim.source, str(v.claim.chapter), _staged(v), _with_note(v))
            for v in verdicts]
    return TextTable(("#", "claim", "source", "chapter", "verdict", "deciding numbers"), rows, wrap=(1, 2, 4, 5))


def chapter_table(chapter: int, verdicts: Sequence[Verdict]) -> TextTable:
    """A chapter's verdict table: its ledger rows (from ``verdicts``), in the chapter's order,
    and any claim still decided in its chapter's text (:data:`bngan.evidence.claims.ELSEWHERE`: none
    now), named with the function that decides it."""
    by_key = {v.claim.key: v for v in verdicts if v.claim.chapter == chapter}
    missing = [c.key for c in CLAIMS if c.chapter == chapter and c.key not in by_key]
    if missing:
        raise ValueError(f"verdicts must include every ledger claim of chapter {chapter}; missing {', '.join(missing)}")
    elsewhere = {e.key: e for e in ELSEWHERE if e.chapter == chapter}
    rows = []
    for key in chapter_keys(chapter):
        if key in by_key:
            v = by_key[key]
            deciding = _with_note(v) if key not in elsewhere else f"{v.numbers} ({elsewhere[key].decided_in})"
            rows.append((key, v.claim.claim, _staged(v), deciding))
        else:
            e = elsewhere[key]
            rows.append((key, e.claim, "decided in this chapter's text", f"{e.decided_in} ({e.function})"))
    return TextTable(("#", "claim", "verdict", "deciding numbers"), rows, wrap=(1, 2, 3))


def chapter_pilot(chapter: int, *, profile: str | Profile | None = None, seeds: Sequence[int] | None = None,
                  **evaluate_options) -> list[Verdict]:
    """The whole ledger's pilot verdicts, corrected book-wide, as one chapter's page reads them:
    its own claims evaluated as :func:`evaluate` does (its runs trained where missing, with
    ``seeds`` if given), every other chapter's read from what is already cached or recorded
    (never trained here), at their own seeds, so a chapter's table and chapter 10 show the same
    words. A claim with a rule (:mod:`bngan.evidence.rules`) is read like any other, here and in
    every other chapter's table, so the family is the same on every page. The other chapters'
    runs that the committed results hold are read from them (``recorded_first``), except for a
    rule that reads run files. :func:`bngan.evidence.confirmation.chapter_verdicts` renders a
    chapter's table from these with the confirmation's words."""
    chosen = [c for c in CLAIMS if c.chapter == chapter]
    if not chosen and not any(e.chapter == chapter for e in ELSEWHERE):
        chapters = sorted({c.chapter for c in CLAIMS})
        raise ValueError(f"chapter must be one of {', '.join(map(str, chapters))}; got {chapter!r}")
    p = get_profile(profile)
    own = evaluate(chosen, profile=p, seeds=seeds, **evaluate_options)
    reading = {k: v for k, v in evaluate_options.items() if k in ("root", "gate")}
    others = [c for c in CLAIMS if c.chapter != chapter]
    files = [c for c in others if c.files]  # a rule that reads run files needs the cache
    rest = evaluate([c for c in others if c not in files], profile=p, train=False, recorded_first=True,
                    mark_unfinished=True, **reading)
    rest += evaluate(files, profile=p, train=False, mark_unfinished=True, **reading) if files else []
    return book_wide(own + rest)


def book_wide(verdicts: Sequence[Verdict]) -> list[Verdict]:
    """``verdicts`` (of the whole ledger, evaluated in parts) corrected together, in the ledger's
    order: the decision chapter 10 shows."""
    by_key = {v.claim.key: v for v in verdicts}
    order = [c.key for c in CLAIMS]
    return recorrect([by_key[k] for k in order if k in by_key])


def recorrect(verdicts: Sequence[Verdict], *, reserved: int = 0) -> list[Verdict]:
    """``verdicts`` corrected afresh as one family (:func:`correct`, ``reserved`` places for
    comparisons still to come), keeping each one's stage and whether it waits for runs."""
    corrected = correct([v.claim for v in verdicts],
                        [[replace(r, corrected=None, family=0) for r in v.results] for v in verdicts],
                        reserved=reserved)
    return [replace(c, stage=v.stage, waiting=v.waiting) for c, v in zip(corrected, verdicts)]


def _staged(v: Verdict) -> str:
    """The verdict, marked when the confirmation stage decided it."""
    return v.verdict if v.stage == "pilot" else f"{v.verdict} (confirmation, {v.n_seeds} new seeds)"


def _with_note(v: Verdict) -> str:
    return f"{v.numbers} ({v.claim.note})" if v.claim.note else v.numbers


#: The claims chapter 10's advice rests on: the ones a scale check re-decides at a larger budget.
ADVICE_KEYS = ("1.1", "1.3", "1.4", "1.5", "2.3", "2.5", "2.6", "3.8", "4.2", "5.1", "5.5", "5.6", "6.1", "6.5",
               "8.1", "8.5")


def scale_check(claims: Sequence[Claim], *, small: str | Profile | None = None, large: Profile | None = None,
                train: bool = True, train_small: bool = True, decided: Sequence[Verdict] | None = None,
                **evaluate_options) -> TextTable:
    """Each claim decided at two budgets, ``small`` (the profile) and ``large`` (default
    :func:`larger` of it), side by side with whether the verdict held: does a finding at the
    short budget survive a longer run of wider networks? With ``train=False`` the larger
    budget is read from the cache and the committed results only, and a claim whose larger runs
    have not all finished says how many have, instead of a verdict (``train_small=False``: the
    small budget is read too, never trained). ``decided``: the book-wide verdicts at ``small``
    (:func:`evaluate` of every claim), shown in the small column so that it carries the same
    words and marks as the ledger; without it the small budget is evaluated over ``claims``
    alone, a family of its own. The larger budget is always its own family: a separate
    experiment. ``evaluate_options`` (``seeds``, ``root``, ``workers``, ...) reach both
    :func:`evaluate` calls."""
    p = get_profile(small)
    big = larger(p) if large is None else large
    if decided is not None:
        by_key = {v.claim.key: v for v in decided}
        if any(c.key not in by_key for c in claims):
            raise ValueError("decided must hold a verdict for every claim of the scale check; missing "
                             + ", ".join(c.key for c in claims if c.key not in by_key))
        at_small = [by_key[c.key] for c in claims]
    else:
        at_small = evaluate(claims, profile=p, train=train_small, **evaluate_options)
    at_large = evaluate(claims, profile=big, train=train, **evaluate_options)
    missing = {} if train else _unfinished(claims, big, evaluate_options)
    rows = []
    for a, b in zip(at_small, at_large):
        if a.claim.key in missing:
            done, wanted = missing[a.claim.key]
            rows.append((a.claim.key, a.claim.claim, a.verdict, f"unfinished ({done} of {wanted} runs)", "unfinished"))
        elif a.waiting is not None:  # the small budget's own runs are not all there yet
            rows.append((a.claim.key, a.claim.claim, a.verdict, b.verdict, "unfinished"))
        else:
            rows.append((a.claim.key, a.claim.claim, a.verdict, b.verdict,
                         "same" if a.verdict_class == b.verdict_class else "changed"))
    return TextTable(("#", "claim", f"verdict at {p.name}", f"verdict at {big.name}", "held?"), rows,
                     wrap=(1, 2, 3))


def export_rules(profile: str | Profile = "quick", root=None, folder=None):
    """Compute every rule that reads run files (:attr:`Claim.files`) from the run cache and record
    its per-seed values with the runs it read (:mod:`bngan.evidence.rule_records`), so a checkout
    without the files decides those claims as chapter 10 does. A claim whose files are not all in
    the cache is named and left as it was recorded. Returns the records file."""
    p = budget_profile(profile)
    records, skipped = {}, []
    for claim in (c for c in CLAIMS if c.rule and c.files):
        runs = _runs([claim], p, root=root, train=False)
        try:
            values = rules.RULES[claim.rule](claim, runs, p)  # from the files, never from an older record
        except rules.Waiting as err:
            skipped.append(f"{claim.key} ({err})")
            continue
        records[claim.key] = {"rule": claim.rule, "code": rules.code_of(claim.rule), "runs": rules.read_from(claim, runs),
                              "values": rules.to_record(values)}
    path = rule_records.write(records, p, folder)
    print(f"{path}: {len(records)} rule(s) recorded from the run cache"
          + (f"; not recorded, their files are not all cached: {'; '.join(skipped)}" if skipped else ""))
    return path


def _unfinished(claims: Sequence[Claim], p: Profile, options: Mapping, missing=None) -> dict[str, tuple[int, int]]:
    """Claims whose runs at ``p`` are in neither the cache nor the committed results (in the
    cache, for a claim whose rule reads the runs' files): key -> (runs there, runs wanted). ``missing`` (:func:`bngan.evidence.results.lacking` of the plan) when
    known already."""
    planned = _plan(claims, p, options.get("seeds"))
    missing = lacking(planned, p, options.get("root")) if missing is None else missing
    out = {}
    for claim in claims:
        names = experiments_needed([claim])
        wanted = sum(len(planned[n][1]) for n in names)
        if claim.files:  # its rule reads the runs' files: only the run cache has them, or a record of its values
            done = sum(cached_run(planned[n][0], seed, options.get("root")) is not None
                       for n in names for seed in planned[n][1])
            if done < wanted and not any(n in missing for n in names) and rule_records.lookup(
                    claim.key, rule_records.signature((n, planned[n][0].hash(), seed) for n in claim.registered
                                                      for seed in planned[n][1]), p,
                    code=rules.code_of(claim.rule)) is not None:
                done = wanted
        else:
            done = wanted - sum(len(missing[n].seeds) for n in names if n in missing)
        if done < wanted:
            out[claim.key] = (done, wanted)
    return out


def table2_table(results: Mapping[int, RunSet], metrics: Sequence[str]) -> TextTable:
    """Table II in full: one row per experiment id with the paper's settings (as its Table II
    lists them), what the paper reported of it, and each metric's mean ± std over seeds."""
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
    """How many claims fall in each of :data:`VERDICT_CLASSES`."""
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
