"""The registry: every experiment and series the book runs, by name.

An experiment is a function of the settings profile returning an :class:`ExperimentConfig`
(:mod:`bngan.catalog.table2`, :mod:`bngan.catalog.designs`); a series is an ordered mapping from a label to
an experiment, for side-by-side comparisons. ``bngan list`` prints both;
:func:`for_profile` gives an experiment as the chapters run it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable

from ..config import ExperimentConfig
from ..profiles import Profile, get_profile
from .designs import (BATCH_ARMS, BATCH_IDS, BATCH_SIZES, BLIND_SPOT, HEURISTICS, KERNEL_WIDTHS, NOISE_ROUTINES,
                      NOISE_TREATMENTS, ONE_SIDED_BN, ONE_SIDED_ROUTINES, ROUTINE_ARMS, ROUTINE_BASES, ROUTINES,
                      WEIGHT_NORM, batch_size, blind_spot, heuristics, kernel_size, noise_labels, one_sided,
                      routine_arm, training_routine, weight_norm)
from .table2 import TABLE2, table2, table2_halfway

Factory = Callable[[Profile], ExperimentConfig]

# --------------------------------------------------------------------------- the registry

EXPERIMENTS: dict[str, Factory] = {f"table2:{i}": (lambda p, i=i: table2(i, p)) for i in TABLE2}
EXPERIMENTS.update({f"table2:{i}-halfway": (lambda p, i=i: table2_halfway(i, p)) for i in (1, 2, 3, 4)})
EXPERIMENTS.update({f"heuristics:{v}": (lambda p, v=v: heuristics(v, p)) for v in HEURISTICS})
EXPERIMENTS.update({f"blindspot:{v}": (lambda p, v=v: blind_spot(v, p)) for v in BLIND_SPOT})
EXPERIMENTS.update({f"noise:{r}-{t}": (lambda p, r=r, t=t: noise_labels(r, t, p))
                    for r in NOISE_ROUTINES for t in NOISE_TREATMENTS})
EXPERIMENTS.update({f"onesided:{r}-{b}": (lambda p, r=r, b=b: one_sided(r, b, p))
                    for r in ONE_SIDED_ROUTINES for b in ONE_SIDED_BN})
EXPERIMENTS.update({f"kernel:k{k}-{w}": (lambda p, k=k, w=w: kernel_size(k, w, profile=p))
                    for k in (3, 4, 5) for w in KERNEL_WIDTHS})
EXPERIMENTS.update({f"kernel:k{k}-table1-transposed": (lambda p, k=k: kernel_size(k, upsample="transposed", profile=p))
                    for k in (3, 4, 5)})
EXPERIMENTS.update({f"kernel:k{k}-table1-{px}px": (lambda p, k=k, px=px: kernel_size(k, image_size=px, profile=p))
                    for k in (3, 5) for px in (32, 64)})
EXPERIMENTS.update({f"routine:{r}-{'bn' if bn else 'nobn'}-{b}": (lambda p, r=r, bn=bn, b=b: training_routine(r, bn, b, p))
                    for r in ROUTINES for bn in (True, False) for b in ROUTINE_BASES})
EXPERIMENTS.update({f"routine:{arm}": (lambda p, arm=arm: routine_arm(arm, p)) for arm in ROUTINE_ARMS})
EXPERIMENTS.update({f"wn:{v}": (lambda p, v=v: weight_norm(v, p)) for v in WEIGHT_NORM})
EXPERIMENTS.update({f"batch:{a}-{b}": (lambda p, a=a, b=b: batch_size(a, b, p))
                    for a in BATCH_ARMS for b in BATCH_SIZES})
SERIES: dict[str, dict[str, str]] = {
    "table2:noise-labels": {"no noise labels (#1)": "table2:1", "noise labels (#2)": "table2:2"},
    "table2:one-sided-bn": {"BN in both (#10)": "table2:10", "G only, Keras 0.5 (#12)": "table2:12",
                            "G only, Keras 0.7 (#13)": "table2:13", "G only, Keras 0.9 (#14)": "table2:14"},
    "table2:kernel": {"kernel 3 (#2)": "table2:2", "kernel 5 (#7)": "table2:7"},
    "table2:batch-size": {f"batch {TABLE2[i][3]} (#{i})": f"table2:{i}" for i in (5, 7, 8, 9, 11)},
    "table2:routine-16": {"combined (#6)": "table2:6", "separate (#7)": "table2:7"},
    "table2:routine-128": {"combined (#10)": "table2:10", "separate (#11)": "table2:11"},
    "kernel:widths": {"kernel 3, Table I widths (#2)": "kernel:k3-table1", "kernel 5, Table I widths": "kernel:k5-table1",
                      "kernel 3, 128 filters": "kernel:k3-wide", "kernel 5, 128 filters (#7)": "kernel:k5-wide"},
    "kernel:upsampling": {**{f"upsample + conv, kernel {k}": f"kernel:k{k}-table1" for k in (3, 4, 5)},
                          **{f"transposed, kernel {k}": f"kernel:k{k}-table1-transposed" for k in (3, 4, 5)}},
    **{f"routine:{'bn' if bn else 'nobn'}-{b}": {r: f"routine:{r}-{'bn' if bn else 'nobn'}-{b}" for r in ROUTINES}
       for bn in (True, False) for b in ROUTINE_BASES},
    "routine:g-step": {"separate (#7)": "routine:separate-bn-16", "combined (#6)": "routine:combined-bn-16",
                       "split, eval-mode D in G step": "routine:split-eval",
                       "joint D batch, eval-mode D in G step": "routine:joint-eval",
                       "joint batches in both steps": "routine:joint-joint"},
    "routine:ratios": {"G:D 1:1 (#7)": "routine:separate-bn-16", "G:D 2:1": "routine:g2", "G:D 5:1": "routine:g5",
                       "TTUR (G 1e-4, D 4e-4)": "routine:ttur"},
    "heuristics:figure1": {"no BN": "heuristics:fig1-no-bn", "BN": "heuristics:fig1-bn"},
    "heuristics:placement": {"DCGAN placement": "heuristics:dcgan-bn", "every layer": "heuristics:bn-everywhere"},
    "heuristics:beta1": {"beta1 0.5": "heuristics:dcgan-bn", "beta1 0.9": "heuristics:beta1-0.9"},
    "heuristics:init": {"Keras init (Glorot, eps 1e-3)": "heuristics:dcgan-bn",
                        "DCGAN init (N(0, 0.02), eps 1e-3)": "heuristics:init-only",
                        "DCGAN init (N(0, 0.02), eps 1e-5)": "heuristics:dcgan-init"},
    **{f"noise:{r}": {t: f"noise:{r}-{t}" for t in NOISE_TREATMENTS} for r in NOISE_ROUTINES},
    **{f"onesided:{r}": {label: f"onesided:{r}-{b}" for b, label in ONE_SIDED_BN.items()}
       for r in ONE_SIDED_ROUTINES},
    "onesided:momentum": {f"G only, Keras {TABLE2[i][5]} (#{i})": f"table2:{i}" for i in (12, 13, 14)},
    "wn:main": {"vanilla": "wn:vanilla", "BN": "wn:bn", "WN + TPReLU": "wn:wn", "WN + ReLU": "wn:wn-relu",
                "spectral (D)": "wn:spectral"},
    "wn:deep": {"vanilla, deep": "wn:deep-vanilla", "BN, deep": "wn:deep-bn", "WN + TPReLU, deep": "wn:deep-wn"},
    "blindspot:bn": {"no BN": "blindspot:no-bn", "BN, split batches": "blindspot:bn"},
    "blindspot:shift": {"no BN": "blindspot:no-bn-shift", "BN, split batches": "blindspot:bn-shift"},
    "blindspot:failures": {"joint D batch": "blindspot:bn-joint", "eval-mode D in G step": "blindspot:bn-eval"},
    "blindspot:fixes": {"joint D batch + eval-mode G step": "blindspot:bn-joint-eval-shift",
                        "same, faster running averages": "blindspot:bn-joint-eval-fast-shift",
                        "joint batches in both steps": "blindspot:bn-joint-joint-shift"},
    "blindspot:alternatives": {"BN, split batches": "blindspot:bn-shift",
                               "no BN in first layer": "blindspot:bn-not-first-shift",
                               "layer norm": "blindspot:layer-shift", "group norm": "blindspot:group-shift",
                               "weight norm": "blindspot:weight-shift", "spectral norm": "blindspot:spectral-shift"},
    "blindspot:moments": {"BN in first layer only": "blindspot:moments-bn-first",
                          "BN in every layer": "blindspot:moments-bn-all"},
}


SERIES.update({f"batch:{a}": {f"batch {b}": f"batch:{a}-{b}" for b in BATCH_SIZES} for a in BATCH_ARMS})
SERIES["batch:figure9"] = {f"batch {b} (#{i})": f"table2:{i}" for b, i in BATCH_IDS.items() if b != 128}
SERIES["batch:figure9"]["batch 128, combined (#10)"] = "table2:10"


def register(name: str, factory: Factory) -> None:
    """Add a named experiment (chapters register theirs so the CLI can run them)."""
    EXPERIMENTS[name] = factory


def get_experiment(name: str, profile: str | Profile | None = None) -> ExperimentConfig:
    """The config of a named experiment at ``profile``."""
    check_experiment(name)
    return EXPERIMENTS[name](get_profile(profile))


def check_experiment(name: str) -> str:
    """``name`` if it is a registered experiment, else a one-line ValueError with the closest
    names (the registry holds about 140: listing them all made a line nobody reads)."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}{_closest(name, EXPERIMENTS)}; `bngan list` shows all "
                         f"{len(EXPERIMENTS)} experiments")
    return name


def _closest(name: str, known: Iterable[str]) -> str:
    """``; did you mean 'a', 'b' or 'c'?`` with the known names most like ``name`` (difflib's
    ratio, at least 0.6), or nothing when none is close."""
    close = difflib.get_close_matches(str(name), list(known), n=3)
    if not close:
        return ""
    quoted = [repr(c) for c in close]
    return "; did you mean " + (" or ".join(quoted) if len(quoted) < 3 else f"{', '.join(quoted[:-1])} or {quoted[-1]}") + "?"


SMOKE_FILTERS = 8  # conv filters per layer at ``smoke``
SMOKE_WIDTH = 4  # Radford base width at ``smoke``


def for_profile(name: str, profile: str | Profile | None = None) -> ExperimentConfig:
    """A registered experiment as the chapters run it: as registered at ``quick`` and ``full``;
    at ``smoke`` (CI only: it proves the code runs) image networks are narrowed to a few
    filters and no run is longer than the profile's steps, so that a chapter executes in
    seconds. Toy experiments are never changed."""
    return config_at(name, get_profile(profile))


def config_at(name: str, p: Profile) -> ExperimentConfig:
    """:func:`for_profile` at a profile resolved already: the runners resolve a profile once,
    at their entry, and pass the :class:`~bngan.profiles.Profile` down."""
    config = EXPERIMENTS[check_experiment(name)](p)
    if p.name != "smoke" or config.data.kind != "image":
        return config
    config = config.vary(steps=min(config.train.steps, p.steps))  # arms that scale the steps stay short
    if config.model.arch == "radford":
        return config.vary(width=SMOKE_WIDTH)
    return config.vary(g_filters=(SMOKE_FILTERS,) * len(config.model.g_filters),
                       d_filters=(SMOKE_FILTERS,) * len(config.model.d_filters))


def series_configs(series: str | dict[str, str], profile: str | Profile | None = None) -> dict[str, ExperimentConfig]:
    """``{label: config}`` of a registered series (or a ``{label: registered name}`` dict), each as
    :func:`for_profile` gives it."""
    p = get_profile(profile)
    return {label: config_at(name, p) for label, name in series_entries(series).items()}


def series_entries(series: str | dict) -> dict:
    if isinstance(series, str):
        if series not in SERIES:
            raise ValueError(f"unknown series {series!r}{_closest(series, SERIES)}; `bngan list` shows all "
                             f"{len(SERIES)} series")
        return SERIES[series]
    return series


def _natural(name: str) -> tuple:
    head, _, tail = name.partition(":")
    return (head, int(tail)) if tail.isdigit() else (head, 0, tail)
