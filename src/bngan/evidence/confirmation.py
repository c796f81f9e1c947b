"""The confirmation stage: seeds for the claims the 5-seed pilot could not decide, planned from
the pilot's spread and decided on the new seeds alone.

Five seeds decide large effects; they cannot show two settings equivalent within a margin of
about one seed-to-seed spread (the two one-sided tests then succeed about 5% of the time even
when the true difference is zero), nor detect an effect of the size a source claims when it is
smaller than about two spreads. So each claim the pilot left *undecided* gets a plan:

- a ``same`` or ``no better`` check: the seeds per arm at which its test succeeds 80% of the
  time if the true difference is zero (:func:`bngan.evidence.stats.seeds_for_equivalence`, or the
  one-sided bound for ``no better``), against the claim's own margin;
- a directional check: the seeds per arm that detect, 80% of the time, the size the source
  claims (``Check.size``) or else a change a reader would care about, the image margin (a tenth
  of the baseline) or the toy margin (half of it), at two-sided 5%
  (:func:`bngan.evidence.stats.seeds_needed`).

The spread is the pilot's (the two arms' standard deviations pooled): it is a noise estimate,
not the effect, so planning from it does not bias the confirmation's result. The seeds asked
for are capped (``cap``, default 20); a claim whose need exceeds the cap says it is
*inconclusive by design* and how many seeds it would need.

The rule: a claim the pilot left undecided is decided again on the new seeds only (seed
numbers after the pilot's), its checks corrected together with the other confirmed claims'
(Benjamini-Hochberg at 5% over the confirmation's own family), and that word replaces the
pilot's, marked as the confirmation's. The family is the whole plan's from the first claim
read: a claim whose confirmation runs have not all finished holds its places in it as
comparisons that found nothing (p = 1), so a word read while the stage is under way is never
more lenient than it will be when the stage ends. The pilot's decided words stand. A claim with no effect
therefore has two chances of a false word, one per stage: the book states it, and
``tests/test_confirmation.py`` measures the two-stage error by simulation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..profiles import Profile, get_profile
from .claims import CLAIMS, IMAGE_MARGIN, METRICS, TOY_MARGIN, Agreement, Check, Claim, Interaction
from .ledger import CheckResult, Verdict, chapter_pilot, chapter_table, evaluate, recorrect
from .stats import ALPHA, seeds_for_equivalence, seeds_needed
from .tables import TextTable

#: The most seeds per arm the confirmation stage asks for.
CAP = 20
#: The toy metrics (chapter 7's 2-D runs), whose reader-relevant change is the toy margin.
TOY_METRICS = ("shift_x", "shift_norm", "mmd")


@dataclass(frozen=True)
class Planned:
    """One check's plan: what it must show (``kind``: ``equivalence``, ``non-superiority`` or
    ``detection``), the target in the metric's units and why, the pilot's pooled spread, the
    seeds per arm that give 80% power (``needed``; ``None`` where no number of seeds helps:
    an agreement over a fixed set of set-ups) and the cap."""

    claim: str
    condition: str
    metric: str
    kind: str
    target: float
    why: str
    spread: float
    needed: int | None
    cap: int = CAP

    @property
    def feasible(self) -> bool:
        return self.needed is not None and self.needed <= self.cap

    @property
    def seeds(self) -> int:
        """Seeds per arm the stage trains: the need, capped."""
        return min(self.needed, self.cap) if self.needed is not None else 0


def pooled_spread(result: CheckResult) -> float:
    """The two arms' seed-to-seed standard deviations pooled: sqrt((sd_a^2 + sd_b^2) / 2)."""
    c = result.comparison
    if c is None or not (np.isfinite(c.var_a) and np.isfinite(c.var_b)):
        return math.nan
    return math.sqrt((c.var_a * c.n_a + c.var_b * c.n_b) / 2)


def plan_check(key: str, result: CheckResult, cap: int = CAP) -> Planned:
    """The confirmation plan of one undecided check (see the module's docstring)."""
    check = result.check
    condition = check.condition or METRICS.get(check.metric, (check.metric,))[0]
    if isinstance(check, Agreement):
        return Planned(key, condition, check.metric, "detection", math.nan,
                       "a rank correlation over a fixed set of set-ups: more seeds do not add set-ups",
                       math.nan, None, cap)
    spread = pooled_spread(result)
    baseline = abs(result.comparison.mean_a)
    if isinstance(check, Interaction):
        target = math.log(1 + IMAGE_MARGIN)
        why = "the change's factor differing by a tenth between the conditions"
        spread_log = math.sqrt(result.comparison.se ** 2 * min(result.comparison.n_a, result.comparison.n_b) / 4)
        need = seeds_needed(spread_log * math.sqrt(2), target) if spread_log > 0 else 2
        return Planned(key, condition, check.metric, "detection", target, why, spread_log, need, cap)
    if check.expect in ("same", "no better"):
        margin = check.margin * baseline
        why = f"the claim's margin, {check.margin:.0%} of the baseline"
        if not spread > 0:
            return Planned(key, condition, check.metric, "equivalence", margin, why, spread, 2, cap)
        if check.expect == "same":
            need = seeds_for_equivalence(spread, margin)
            return Planned(key, condition, check.metric, "equivalence", margin, why, spread, need, cap)
        need = seeds_needed(spread, margin, alpha=2 * ALPHA)  # one-sided at 5% = two-sided at 10%
        return Planned(key, condition, check.metric, "non-superiority", margin, why, spread, need, cap)
    if check.size is not None:
        target, why = abs(check.size) * baseline, f"the size the source claims, {check.size:+.0%}"
    elif check.metric in TOY_METRICS:
        target, why = TOY_MARGIN * baseline, f"a change of {TOY_MARGIN:.0%} of the baseline, the toy margin"
    else:
        target, why = IMAGE_MARGIN * baseline, f"a change of {IMAGE_MARGIN:.0%} of the baseline, the image margin"
    if not target > 0:  # a baseline of 0 (no seed's error rose, say): a share of it sets no size
        why = "the baseline's mean is 0, so a share of it sets no size to detect; a size in the metric's own units must be stated"
        return Planned(key, condition, check.metric, "detection", target, why, spread, None, cap)
    if not spread > 0:
        return Planned(key, condition, check.metric, "detection", target, why, spread, 2, cap)
    return Planned(key, condition, check.metric, "detection", target, why.replace("-", "−"), spread,
                   seeds_needed(spread, target), cap)


def realized_power(effect: float = 1.0, *, pilot: int = 5, cap: int = CAP, trials: int = 2000,
                   seed: int = 0) -> float:
    """How often a directional confirmation planned by this module's rule detects a true
    ``effect`` (in seed-to-seed spreads), by simulation: a pilot of ``pilot`` seeds per arm
    estimates the spread, :func:`bngan.evidence.stats.seeds_needed` sizes the new seeds for 80%
    from that estimate (capped), and Welch's two-sided test at 5% reads them. Below 80% because
    a spread estimated from few seeds is as often too small as too large (and the plan's normal
    approximation needs a seed or two more under Welch's t): the chance the book states."""
    from .stats import Welch

    rng = np.random.default_rng(seed)
    found = 0
    for _ in range(trials):
        a, b = rng.normal(0.0, 1.0, pilot), rng.normal(effect, 1.0, pilot)
        spread = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
        n = min(seeds_needed(spread, effect), cap)
        found += Welch.of(rng.normal(0.0, 1.0, n), rng.normal(effect, 1.0, n)).p_value < ALPHA
    return found / trials


def confirmation_plan(verdicts: Sequence[Verdict], cap: int = CAP) -> list[Planned]:
    """The plan for every check of every claim the pilot left undecided (class ``undecided``)
    whose own outcome is undecided: the checks already decided are not re-run."""
    plans = []
    for v in verdicts:
        if v.verdict_class != "undecided":
            continue
        for r in v.results:
            if r.outcome in ("no detectable difference", "no detectable agreement", "inconclusive", "unresolved", "suggestive"):
                plans.append(plan_check(v.claim.key, r, cap))
    return plans


def plan_table(plans: Sequence[Planned]) -> TextTable:
    """The plan as a table: claim, check, what it must show, target, pilot spread, seeds."""
    rows = []
    for p in plans:
        if p.needed is None:
            seeds = "inconclusive by design: " + p.why
        elif p.feasible:
            seeds = f"{p.needed}"
        else:
            seeds = f"inconclusive by design: needs about {p.needed} seeds per arm (cap {p.cap})"
        target = f"{p.target:.3g}".replace("-", "−") if np.isfinite(p.target) else "—"  # a minus, not a word's hyphen
        spread = f"{p.spread:.3g}".replace("-", "−") if np.isfinite(p.spread) else "—"
        rows.append((p.claim, p.condition, p.kind, f"{target} ({p.why})", spread, seeds))
    return TextTable(("#", "check", "must show", "target", "pilot spread", "seeds per arm"), rows,
                     wrap=(1, 3, 5))


def confirmation_claims(plans: Sequence[Planned], claims: Sequence[Claim] = CLAIMS) -> dict[str, int]:
    """Each planned claim with the seeds per arm its confirmation trains (the most any of its
    feasible checks needs): ``{claim key: seeds}``; claims whose checks are all beyond the cap
    are left out (inconclusive by design)."""
    wanted: dict[str, int] = {}
    for p in plans:
        if p.feasible:
            wanted[p.claim] = max(wanted.get(p.claim, 0), p.seeds)
    known = {c.key for c in claims}
    return {k: n for k, n in wanted.items() if k in known}


def confirmation_seeds(pilot_seeds: int, n: int) -> tuple[int, ...]:
    """The new seeds of a confirmation of ``n`` seeds per arm: the numbers after the pilot's."""
    return tuple(range(pilot_seeds, pilot_seeds + n))


def pilot_seeds(claim: Claim, profile: Profile) -> int:
    """How many seeds the pilot gave ``claim``'s arms (the profile's, or more where a check
    asks): its confirmation seeds are numbered after them."""
    toy = any(check.metric in TOY_METRICS for check in claim.checks if not isinstance(check, Agreement))
    return max([len(profile.toy_seeds if toy else profile.seeds)]
               + [check.seeds for check in claim.checks if isinstance(check, Check) and check.seeds])


def evaluate_confirmation(plans: Sequence[Planned], *, profile: str | Profile | None = None,
                          claims: Sequence[Claim] = CLAIMS, **evaluate_options) -> list[Verdict]:
    """Decide each planned claim on its confirmation seeds alone (after the pilot's seeds of its
    own checks), corrected together over the confirmation's family. Options as
    :func:`bngan.evidence.ledger.evaluate` (``train=False`` reads only what is cached or recorded)."""
    p = get_profile(profile)
    by_key = {c.key: c for c in claims}
    found = []
    for key, n in confirmation_claims(plans, claims).items():
        claim = by_key[key]
        found.extend(evaluate([claim], profile=p, seeds=confirmation_seeds(pilot_seeds(claim, p), n),
                              **evaluate_options))
    waiting = sum(comparisons_of(v.claim) for v in found if v.verdict_class == "unfinished")
    return recorrect(found, reserved=waiting)


def comparisons_of(claim: Claim) -> int:
    """The most comparisons ``claim`` adds to a correction's family: one per directional check,
    and the interaction of a claim of two conditions (two checks of the same runs would count
    once, so this can only overstate the family: the conservative side)."""
    directional = sum(check.directional for check in claim.checks)
    return directional + (claim.combine == "conditions" and len(claim.checks) == 2)


def with_confirmation(pilot: Sequence[Verdict], confirmed: Sequence[Verdict]) -> list[Verdict]:
    """The ledger's final verdicts: each claim the confirmation decided (any class but
    ``not enough seeds`` or ``unfinished``) takes that verdict, marked by :attr:`Verdict.stage`; the rest keep the
    pilot's."""
    decided = {v.claim.key: replace(v, stage="confirmation") for v in confirmed
               if v.verdict_class not in ("not enough seeds", "unfinished")}
    return [decided.get(v.claim.key, v) for v in pilot]


def final_verdicts(pilot: Sequence[Verdict], *, profile: str | Profile | None = None, cap: int = CAP,
                   **reading) -> tuple[list[Planned], list[Verdict]]:
    """The plan for ``pilot`` (the whole ledger's pilot verdicts, corrected book-wide) and the
    ledger's final verdicts: each planned claim whose confirmation seeds have all been trained
    takes the word those seeds decide (:func:`with_confirmation`), read from the run cache and
    the committed results only, never trained here (the background trainer trains them).
    ``reading``: ``root``, ``gate``, as :func:`bngan.evidence.ledger.evaluate` takes them."""
    plans = confirmation_plan(pilot, cap=cap)
    confirmed = evaluate_confirmation(plans, profile=profile, train=False, mark_unfinished=True, **reading)
    return plans, with_confirmation(pilot, confirmed)


def chapter_verdicts(chapter: int, *, profile: str | Profile | None = None, seeds: Sequence[int] | None = None,
                     **evaluate_options) -> TextTable:
    """One chapter's verdict table with the book's final words: the pilot's, corrected
    book-wide (:func:`bngan.evidence.ledger.chapter_pilot`: its own runs trained where missing),
    and for each claim the pilot left undecided whose confirmation seeds have all been trained,
    the confirmation's word, marked as such (:func:`final_verdicts`). Every chapter's table and
    chapter 10 therefore show the same words for the same runs."""
    p = get_profile(profile)
    pilot = chapter_pilot(chapter, profile=p, seeds=seeds, **evaluate_options)
    reading = {k: v for k, v in evaluate_options.items() if k in ("root", "gate")}
    return chapter_table(chapter, final_verdicts(pilot, profile=p, **reading)[1])
