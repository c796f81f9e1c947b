"""The claims ledger: the one place a verdict is decided. It reads every claim of
:mod:`bngan.claims` against the runs the chapters train (and cache), and renders the verdicts
for chapter 10 and for each chapter's own verdict table.

How a check reads (its :class:`bngan.stats.Comparison`, Welch's interval at 95%):

- ``lower`` / ``higher``: *reproduced* when the interval lies on the predicted side of zero,
  *reversed* on the other side, else *no detectable difference* (with the difference these
  seeds could have missed); with a claimed ``size``, *other size* when the relative interval
  excludes it;
- ``same``: *reproduced* when the 90% interval lies inside ``± margin`` (two one-sided tests),
  *not reproduced* when the 95% interval excludes zero, else *inconclusive*: an interval that
  merely straddles zero is never a reproduction;
- ``no better``: *reproduced* when the treatment is shown not to improve by the margin,
  *reversed* when it is shown better, else *inconclusive*.

Every directional check also gets its p-value and whether it survives Holm's correction over
all directional checks evaluated together (:func:`multiplicity` counts them), because with
about 80 checks a few would reach 5% by chance alone.

A check whose arm did not learn at the profile's budget (:mod:`bngan.learning`) reads *not
tested* and decides nothing, unless the claim predicts that arm's failure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .claims import (CLAIMS, ELSEWHERE, EXPECTATIONS, IMAGE_MARGIN, IMAGE_MARGIN_WHY, METRICS, SOURCES,  # noqa: F401
                     TOY_MARGIN, TOY_MARGIN_WHY, S000, S001, S002, S003, S004, Agreement, Check, Claim, Elsewhere, Interaction,
                     chapter_keys)
from .config import ExperimentConfig
from .devices import check_device, default_device
from .registry import for_profile
from .cluster import Ray, Sweep, as_backend, train_on_ray
from .runsets import RunSet, cached_experiment, run_experiment
from .learning import arm_learning
from .plan import experiments_needed, larger, plan, seeds_for as _seeds  # noqa: F401 - ledger.larger and the rest stay
from .profiles import Profile, get_profile
from .results import lacking, recorded, recorded_threshold, say_disagreement
from .train import cached_run
from .workers import all_finished, check_workers, resolve_workers, train_in_processes
from .stats import ALPHA, Comparison, compare, holm, interaction, rank_correlation
from .tables import TextTable

#: The classes a verdict falls in; ``undecided`` holds "no detectable difference" and "inconclusive".
VERDICT_CLASSES = ("reproduced", "not reproduced", "undecided", "depends", "not tested", "not enough seeds")
OUTCOME_CLASS = {"reproduced": "reproduced", "reversed": "not reproduced", "not reproduced": "not reproduced",
                 "other size": "not reproduced", "no detectable difference": "undecided",
                 "inconclusive": "undecided", "not tested": "not tested", "not enough seeds": "not enough seeds"}


@dataclass(frozen=True)
class CheckResult:
    """A check with what the runs gave: a :class:`Comparison`, or a rank correlation over
    set-ups. ``holm`` says whether a directional check's p-value survives Holm's correction
    over the ``family`` directional checks evaluated with it (``None``: not corrected).
    ``not_learned`` holds the gate's reading of each arm that did not learn (the check then
    reads *not tested*)."""

    check: Check | Interaction | Agreement
    comparison: Comparison | None = None
    correlation: tuple[float, float, int] | None = None  # rho, p, number of set-ups
    holm: bool | None = None
    family: int = 0
    not_learned: tuple[str, ...] = ()

    @property
    def p_value(self) -> float:
        if self.correlation is not None:
            return self.correlation[1]
        return self.comparison.p_value

    @property
    def margin(self) -> float:
        """A ``same`` or ``no better`` check's margin in the metric's units: a fraction of the
        baseline's mean, which the test takes as known (with 5 seeds its own error is a few
        percent of the margin)."""
        return self.check.margin * abs(self.comparison.mean_a)

    @property
    def relative(self) -> tuple[float, float, float]:
        """The difference and its 95% interval relative to the baseline's mean (the baseline
        mean taken as known)."""
        c = self.comparison
        return c.difference / abs(c.mean_a), c.low / abs(c.mean_a), c.high / abs(c.mean_a)

    @property
    def outcome(self) -> str:
        """One of :data:`OUTCOME_CLASS` (see the module's docstring)."""
        if self.correlation is not None:
            rho, p, _ = self.correlation
            if not np.isfinite(p):
                return "not enough seeds"
            if p >= ALPHA:
                return "no detectable difference"
            return "reproduced" if (rho > 0) == (self.check.expect == "higher") else "reversed"
        c, expect = self.comparison, self.check.expect
        if self.not_learned:
            return "not tested"
        if not np.isfinite(c.low) or min(c.n_a, c.n_b) < 2:
            return "not enough seeds"
        if expect == "same":
            return {"equivalent": "reproduced", "different": "not reproduced"}.get(c.equivalence(self.margin),
                                                                                "inconclusive")
        if expect == "no better":
            return {"no better": "reproduced", "better": "reversed"}.get(c.no_better(self.margin), "inconclusive")
        if not c.detectable:
            return "no detectable difference"
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
        if self.correlation is not None:
            rho, p, n = self.correlation
            return (f"{where}Spearman rho {rho:+.2f} (p {p:.2g}{self._holm_mark()}) between "
                    f"{_name(self.check.metric)} and {_name(self.check.reference)} over {n} set-ups (means over seeds)")
        c = self.comparison
        if self.not_learned:
            where = f"{where}not tested, {'; '.join(self.not_learned)}: "
        if isinstance(self.check, Interaction):
            return (f"{where}{_name(self.check.metric)} changed ×{math.exp(c.mean_a):.3g} in the first condition, "
                    f"×{math.exp(c.mean_b):.3g} in the second; log-ratio difference "
                    f"{_signed(c.difference)} [{_signed(c.low)}, {_signed(c.high)}], p {c.p_value:.2g}"
                    f"{self._holm_mark()}, {c.n_a} and {c.n_b} seeds per arm")
        head = f"{where}{_name(c.metric)} {_fmt(c.mean_a)} → {_fmt(c.mean_b)}"
        if not np.isfinite(c.low):
            return f"{head}, {min(c.n_a, c.n_b)} completed seed(s)"
        if self.check.expect in ("same", "no better"):
            low, high = c.interval(1 - 2 * ALPHA)
            return (f"{head}, {_signed(c.difference)}, 90% interval [{_signed(low)}, {_signed(high)}] against "
                    f"±{_fmt(self.margin)} ({self.check.margin:.0%} of the baseline), {c.n_a} and {c.n_b} seeds")
        direction = "lower" if c.lower_is_better else "higher"  # the way compare counted wins_b
        text = (f"{head}, {_signed(c.difference)} [{_signed(c.low)}, {_signed(c.high)}], p {c.p_value:.2g}"
                f"{self._holm_mark()}, {direction} in {c.wins_b}/{c.n_paired} seeds")
        if self.check.size is not None:
            rel, low, high = self.relative
            shares = f"; relative {rel:+.0%} [{low:+.0%}, {high:+.0%}] against the claimed {self.check.size:+.0%}"
            text += shares.replace("-", "−")  # the typographic minus the rest of the row uses
        if not c.detectable:
            text += f"; could have missed ±{c.missable:.3g}"
        return text

    def _holm_mark(self) -> str:
        if self.holm is None or not self.p_value < ALPHA:
            return ""
        return ", survives Holm" if self.holm else f", not after Holm over {self.family}"


@dataclass(frozen=True)
class Verdict:
    """A claim and the results of its checks, read together."""

    claim: Claim
    results: tuple[CheckResult, ...]

    @property
    def verdict(self) -> str:
        """The common outcome when every check agrees (``no detectable difference with 5
        seeds``, ``not reproduced (reversed)``, ...), otherwise ``depends: reproduced
        (condition, ...); <outcome> (condition, ...)``."""
        outcomes = [r.outcome for r in self.results]
        if len(set(outcomes)) == 1:
            return self._word(outcomes[0])
        parts: dict[str, list[str]] = {}
        for result, outcome in zip(self.results, outcomes):
            parts.setdefault(outcome, []).append(result.check.condition or _name(result.check.metric))
        untested = parts.pop("not tested", None)
        aside = f"; not tested ({', '.join(untested)})" if untested else ""
        if len(parts) == 1:  # the checks that could decide agree: an untested one does not make it depend
            return self._word(next(iter(parts))) + aside
        order = sorted(parts, key=lambda o: (o != "reproduced", o))
        return "depends: " + "; ".join(f"{o} ({', '.join(parts[o])})" for o in order) + aside

    def _word(self, outcome: str) -> str:
        if outcome in ("reproduced", "not enough seeds"):
            return outcome
        if outcome in ("no detectable difference", "inconclusive"):
            ranked = [r.correlation[2] for r in self.results if r.correlation is not None]
            return f"{outcome} with {min(ranked)} set-ups" if ranked else f"{outcome} with {self.n_seeds} seeds"
        if outcome == "not tested":
            arms = sorted({arm for r in self.results for arm in r.not_learned})
            return f"not tested: {'; '.join(arms)}"
        return f"not reproduced ({outcome})" if outcome != "not reproduced" else "not reproduced (different)"

    @property
    def verdict_class(self) -> str:
        """One of :data:`VERDICT_CLASSES`: the common class of the checks that were tested
        (``not tested`` when none was), else ``depends``."""
        classes = {OUTCOME_CLASS[r.outcome] for r in self.results} - {"not tested"}
        if not classes:
            return "not tested"
        return classes.pop() if len(classes) == 1 else "depends"

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


# --------------------------------------------------------------------------- evaluation


def evaluate(claims: Sequence[Claim] = CLAIMS, *, profile: str | Profile | None = None,
             seeds: Sequence[int] | None = None, root=None, device=None, progress: bool = False,
             group: bool | None = None, graph: bool | None = None, gate: bool = True,
             train: bool = True, backend: str | Ray = "local", workers: int | None = None) -> list[Verdict]:
    """Every claim's verdict from the runs of its checks, with the learning gate on each arm
    (``gate=False`` reads every check as if both arms learned) and Holm's correction over all
    the tested directional checks evaluated together.

    Each run is read from the run cache, else from the committed results (:mod:`bngan.results`;
    a run in both whose numbers differ is named on stderr, and the cache's is used), else
    trained (``train=True``; ``train=False`` reads what exists): on Ray with ``backend="ray"``
    (:mod:`bngan.cluster`), in ``workers`` processes (:mod:`bngan.workers`; default one per core
    on a CPU), or in this process. A recorded run brings the gate's threshold with it, so the
    dataset is not loaded to gate it.

    The experiments are run as their chapters run them (:func:`bngan.experiments.for_profile`),
    with the profile's seeds or as many as a check asks for; ``seeds`` overrides both."""
    if workers is not None:
        check_workers(workers)
    p = get_profile(profile)
    runs = _runs(claims, p, seeds=seeds, root=root, device=device, progress=progress, group=group, graph=graph,
                 train=train, backend=backend, workers=workers)
    learning = _memo(lambda arm: arm_learning(arm, threshold=recorded_threshold(arm))) if gate else None
    read = [[_read(check, runs, learning) for check in claim.checks] for claim in claims]
    flat = [r for results in read for r in results if r.check.directional and not r.not_learned]
    survives = dict(zip(map(id, flat), holm([r.p_value for r in flat])))
    return [Verdict(claim, tuple(replace(r, holm=survives[id(r)], family=len(flat)) if id(r) in survives else r
                                 for r in results))
            for claim, results in zip(claims, read)]


def _plan(claims: Sequence[Claim], p: Profile, seeds=None) -> dict[str, tuple[ExperimentConfig, tuple[int, ...]]]:
    """Each experiment the claims need, as its chapter runs it, with the seeds it gets
    (:func:`bngan.plan.plan`)."""
    return plan(claims, p, seeds, configure=for_profile)


def _runs(claims: Sequence[Claim], p: Profile, *, seeds=None, root=None, device=None, progress=False,
          group=None, graph=None, train=True, backend: str | Ray = "local",
          workers: int | None = None) -> dict[str, RunSet]:
    """Each experiment the claims need: its seeds from the run cache, else from the committed
    results, else (``train``) trained, as :func:`evaluate` says."""
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
            cached = cached_run(config, seed, root)
            if cached is not None:
                say_disagreement(cached, row)
            served[name][seed] = cached or row
        rest[name] = tuple(s for s in chosen if s not in served[name])
    if train and any(rest.values()):
        sweeps = [Sweep(name, planned[name][0], seeds_left) for name, seeds_left in rest.items() if seeds_left]
        if (cluster := as_backend(backend)) is not None:
            train_on_ray(sweeps, cluster, root=root, device=None if device is None else str(device), progress=progress)
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
            found = (run_experiment(config, profile=p, seeds=rest[name], root=root, device=device, progress=progress,
                                    label=name, group=group, graph=graph, workers=1) if train
                     else cached_experiment(config, profile=p, seeds=rest[name], root=root, label=name))
        if not served[name]:
            runs[name] = found
            continue
        order = {seed: i for i, seed in enumerate(chosen)}
        both = [*(found.runs if found is not None else ()), *served[name].values()]
        runs[name] = RunSet(name, config, sorted(both, key=lambda r: order.get(r.seed, len(order))))
    return runs


def _read(check: Check | Interaction | Agreement, runs: Mapping[str, RunSet], learning=None) -> CheckResult:
    """One check read on the runs; ``learning`` (an arm -> :class:`bngan.learning.Learning`
    or ``None``) gates each arm the claim does not predict to fail."""
    if isinstance(check, Agreement):
        return CheckResult(check, correlation=agreement(check, [runs[name] for name in check.setups]))
    if isinstance(check, Interaction):
        arms = [runs[name] for name in check.names]
        readings = [learning(arm) for arm in arms] if learning is not None else []
        return CheckResult(check, interaction(*arms, check.metric, lower_is_better=check.expect == "lower"),
                           not_learned=tuple(str(r) for r in readings if r is not None and not r.learned))
    # wins count seeds moving the predicted way; for "same" and "no better", the better way (or lower)
    better = METRICS[check.metric][1]
    lower_is_better = check.expect == "lower" or (check.expect != "higher" and better is not False)
    not_learned = []
    for side, name in (("baseline", check.baseline), ("treatment", check.treatment)):
        reading = learning(runs[name]) if learning is not None and check.may_fail != side else None
        if reading is not None and not reading.learned:
            not_learned.append(str(reading))
    return CheckResult(check, compare(runs[check.baseline], runs[check.treatment], check.metric,
                                      lower_is_better=lower_is_better), not_learned=tuple(not_learned))


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
    """How many directional checks were made, how many reached 5% in the predicted direction,
    how many of those survive Holm's correction, and how many would reach 5% in the predicted
    direction by chance alone if no claimed effect were real (2.5% of the checks)."""

    checks: int
    reproduced: int
    survive_holm: int
    expected_by_chance: float

    def __str__(self) -> str:
        return (f"{self.checks} directional checks: {self.reproduced} reproduced at 5% "
                f"(about {self.expected_by_chance:.1f} expected by chance alone), {self.survive_holm} of them "
                f"survive Holm's correction over all {self.checks}")


def multiplicity(verdicts: Sequence[Verdict]) -> Multiplicity:
    """The ledger's multiplicity counts (see :class:`Multiplicity`)."""
    directional = [r for v in verdicts for r in v.results
                   if r.check.directional and r.outcome not in ("not enough seeds", "not tested")]
    reproduced = [r for r in directional if r.outcome == "reproduced"]
    return Multiplicity(len(directional), len(reproduced), sum(bool(r.holm) for r in reproduced),
                        ALPHA / 2 * len(directional))


def ledger_table(verdicts: Sequence[Verdict]) -> TextTable:
    """One row per claim: key, claim, source, chapter, verdict and the deciding numbers."""
    rows = [(v.claim.key, v.claim.claim, v.claim.source, str(v.claim.chapter), v.verdict, _with_note(v))
            for v in verdicts]
    return TextTable(("#", "claim", "source", "chapter", "verdict", "deciding numbers"), rows, wrap=(1, 2, 4, 5))


def chapter_table(chapter: int, verdicts: Sequence[Verdict]) -> TextTable:
    """A chapter's verdict table: its ledger rows (from ``verdicts``) and its claims decided
    by other analyses, with the function that decides each, in the chapter's order."""
    by_key = {v.claim.key: v for v in verdicts if v.claim.chapter == chapter}
    missing = [c.key for c in CLAIMS if c.chapter == chapter and c.key not in by_key]
    if missing:
        raise ValueError(f"verdicts must include every ledger claim of chapter {chapter}; missing {', '.join(missing)}")
    elsewhere = {e.key: e for e in ELSEWHERE if e.chapter == chapter}
    rows = []
    for key in chapter_keys(chapter):
        if key in by_key:
            v = by_key[key]
            rows.append((key, v.claim.claim, v.verdict, _with_note(v)))
        else:
            e = elsewhere[key]
            rows.append((key, e.claim, "decided in this chapter's text", f"{e.decided_in} ({e.function})"))
    return TextTable(("#", "claim", "verdict", "deciding numbers"), rows, wrap=(1, 2, 3))


def chapter_verdicts(chapter: int, **evaluate_options) -> TextTable:
    """Evaluate one chapter's ledger claims (as :func:`evaluate`, from the runs the chapter
    cached) and render its verdict table (:func:`chapter_table`). Holm's correction then spans
    this chapter's checks; chapter 10 corrects over the whole ledger."""
    chosen = [c for c in CLAIMS if c.chapter == chapter]
    if not chosen and not any(e.chapter == chapter for e in ELSEWHERE):
        chapters = sorted({c.chapter for c in CLAIMS})
        raise ValueError(f"chapter must be one of {', '.join(map(str, chapters))}; got {chapter!r}")
    return chapter_table(chapter, evaluate(chosen, **evaluate_options))


def _with_note(v: Verdict) -> str:
    return f"{v.numbers} ({v.claim.note})" if v.claim.note else v.numbers


#: The claims chapter 10's advice rests on: the ones a scale check re-decides at a larger budget.
ADVICE_KEYS = ("1.1", "1.3", "1.4", "1.5", "2.3", "2.5", "2.6", "3.8", "4.2", "5.1", "5.5", "5.6", "6.1", "6.5",
               "8.1", "8.5")


def scale_check(claims: Sequence[Claim], *, small: str | Profile | None = None, large: Profile | None = None,
                train: bool = True, **evaluate_options) -> TextTable:
    """Each claim decided at two budgets, ``small`` (the profile) and ``large`` (default
    :func:`larger` of it), side by side with whether the verdict held: does a finding at the
    short budget survive a longer run of wider networks? With ``train=False`` the larger
    budget is read from the cache and the committed results only, and a claim whose larger runs
    have not all finished says how many have, instead of a verdict. ``evaluate_options``
    (``seeds``, ``root``, ``workers``, ...) reach both :func:`evaluate` calls."""
    p = get_profile(small)
    big = larger(p) if large is None else large
    at_small = evaluate(claims, profile=p, **evaluate_options)
    at_large = evaluate(claims, profile=big, train=train, **evaluate_options)
    missing = {} if train else _unfinished(claims, big, evaluate_options)
    rows = []
    for a, b in zip(at_small, at_large):
        if a.claim.key in missing:
            done, wanted = missing[a.claim.key]
            rows.append((a.claim.key, a.claim.claim, a.verdict, f"unfinished ({done} of {wanted} runs)", "unfinished"))
        else:
            rows.append((a.claim.key, a.claim.claim, a.verdict, b.verdict,
                         "same" if a.verdict_class == b.verdict_class else "changed"))
    return TextTable(("#", "claim", f"verdict at {p.name}", f"verdict at {big.name}", "held?"), rows,
                     wrap=(1, 2, 3))


def _unfinished(claims: Sequence[Claim], p: Profile, options: Mapping, missing=None) -> dict[str, tuple[int, int]]:
    """Claims whose runs at ``p`` are in neither the cache nor the committed results: key ->
    (runs there, runs wanted). ``missing`` (:func:`bngan.results.lacking` of the plan) when
    known already."""
    planned = _plan(claims, p, options.get("seeds"))
    missing = lacking(planned, p, options.get("root")) if missing is None else missing
    out = {}
    for claim in claims:
        names = experiments_needed([claim])
        wanted = sum(len(planned[n][1]) for n in names)
        done = wanted - sum(len(missing[n].seeds) for n in names if n in missing)
        if done < wanted:
            out[claim.key] = (done, wanted)
    return out


def table2_table(results: Mapping[int, RunSet], metrics: Sequence[str]) -> TextTable:
    """Table II in full: one row per experiment id with the paper's settings (as its Table II
    lists them), what the paper reported of it, and each metric's mean ± std over seeds."""
    from .table2 import TABLE2, TABLE2_REPORTED

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
