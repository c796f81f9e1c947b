"""Which runs the claims ledger reads: each experiment its checks name, as its chapter runs it,
with the seeds it gets, at a profile or at the larger budget of a scale check.

The ledger (:mod:`bngan.evidence.ledger`) decides verdicts from these runs, the committed results
(:mod:`bngan.evidence.results`) record them, and the command line counts the missing ones before it
trains anything; the plan lives here, below all three, so they share it without an import
circle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..config import ExperimentConfig
from ..profiles import Profile, get_profile
from ..catalog.registry import config_at
from ..runs.folders import safe_run_name
from .budget import Budget
from .claims import CLAIMS, RULE_ARM, Agreement, Check, Claim, Exact, Interaction

#: The budgets whose runs are committed (:mod:`bngan.evidence.results`): ``quick``, and ``larger``, the
#: scale check's budget of ``quick`` (:func:`larger`).
BUDGETS = ("quick", "larger")


def experiments_needed(claims: Sequence[Claim] = CLAIMS) -> dict[str, int | None]:
    """Each experiment the claims compare, rank or read by their rules (``Claim.reads``), with
    the most seeds any check asks of it; an arm a rule computes (``"rule:..."``) is none."""
    needed: dict[str, int | None] = {}
    for claim in claims:
        for check in (*claim.checks, *(Check(name, name) for name in claim.reads)):
            if isinstance(check, Exact):
                continue
            names = (check.setups if isinstance(check, Agreement) else check.names if isinstance(check, Interaction)
                     else (check.baseline, check.treatment))
            asked = None if isinstance(check, Agreement) else check.seeds
            for name in names:
                if name.startswith(RULE_ARM):  # computed by the claim's rule, not trained
                    continue
                wanted = [n for n in (needed.get(name), asked) if n is not None]
                needed[name] = max(wanted) if wanted else None
    return needed


def seeds_for(profile: Profile, toy: bool, wanted: int | None) -> tuple[int, ...]:
    """The seeds an experiment gets: the profile's (its toy seeds for toy data), or as many as a
    check asks for where that is more (never at ``smoke``)."""
    default = profile.toy_seeds if toy else profile.seeds
    if profile.name == "smoke" or wanted is None or wanted <= len(default):
        return tuple(default)
    return tuple(range(wanted))


def plan(claims: Sequence[Claim], p: Profile, seeds: Sequence[int] | None = None, *,
         configure: Callable[[str, Profile], ExperimentConfig] = config_at
         ) -> dict[str, tuple[ExperimentConfig, tuple[int, ...]]]:
    """Each experiment the claims need, as its chapter runs it (``configure``, by default
    :func:`bngan.catalog.registry.for_profile`), with the seeds it gets (``seeds`` overrides them)."""
    found = {}
    for name, wanted in experiments_needed(claims).items():
        config = configure(name, p)
        found[name] = config, tuple(seeds) if seeds is not None else seeds_for(p, config.data.kind == "toy", wanted)
    return found


def larger(profile: str | Profile | None = None, *, steps: int = 4, width: float = 2.0) -> Profile:
    """``profile`` at :class:`bngan.evidence.budget.Budget` (``steps``, ``width``), the width at most the
    paper's, named for what changed: the second budget of a scale check."""
    p = get_profile(profile)
    budget = Budget(steps, min(width, 1.0 / p.width_scale))
    return budget.apply(p).with_overrides(name=f"{p.name} x{steps} steps x{width:g} width")


def budget_profile(budget: str | Profile) -> Profile:
    """The profile a results file is for: ``larger`` (:func:`larger` of ``quick``), a profile's
    name (``quick``, ...; a one-line ValueError for another), or a :class:`Profile` as given."""
    if isinstance(budget, Profile):
        return budget
    if budget == "larger":
        return larger("quick")
    try:
        return get_profile(budget)
    except ValueError:
        raise ValueError(f"budget must be one of {', '.join(BUDGETS)} (or a profile's name); got {budget!r}") from None


def budget_name(profile: Profile) -> str:
    """The name of ``profile``'s results file: ``larger`` for the scale check's budget of
    ``quick``, else the profile's name made a file name (``quick``, ``smoke``, ...)."""
    if profile.name == larger("quick").name:
        return "larger"
    return safe_run_name(profile.name)
