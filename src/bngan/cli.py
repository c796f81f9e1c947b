"""Command line: ``bngan list``, ``bngan run NAME``, ``bngan show RUN_DIR``, ``bngan verdicts``,
``bngan results export``.

Each command imports what it uses when it runs: torch, torchvision and matplotlib take seconds
of CPU to load, which ``bngan --help``, ``bngan list`` and a misspelt name do not need
(``tests/test_cli.py`` checks that this module loads no torch)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__

LOCAL_RAY = "local"  # what a bare --ray stands for: a Ray started for the call

# What each recorded metric measures and which way is better, for the summary `bngan run`
# prints (short: the chapters and the README explain them).
METRIC_MEANINGS = {
    "recon_mse": "reconstruction error of held-out images, lower is better",
    "recon_mse_std": "its spread over the images",
    "fid": "Frechet distance to held-out images on a classifier's features, lower is better",
    "kid": "kernel distance on the same features, lower is better",
    "classes_covered": "classes the fakes cover, higher is better",
    "class_kl": "KL of the fakes' class mix from the data's, lower is better (0 = same mix)",
    "classifier_accuracy": "held-out accuracy of the classifier behind fid/kid/classes",
    "fid_inception": "FID on Inception features, lower is better",
    "kid_inception": "KID on Inception features, lower is better",
    "swd": "sliced Wasserstein distance to held-out samples, lower is better",
    "diversity": "mean distance between fakes, higher is more varied (0 = collapsed)",
    "mmd": "kernel MMD to held-out points, lower is better",
    "mean_shift": "fakes' mean minus the data's, closer to 0 is better",
    "shift_x": "its x part, closer to 0 is better",
    "shift_norm": "its length, lower is better",
    "final_loss_d": "D's loss over the last 10% of steps (no better direction)",
    "final_loss_g": "G's loss over the last 10% of steps (no better direction)",
    "final_d_real": "mean D output on reals at the end",
    "final_d_fake": "mean D output on fakes (D's step) at the end",
    "final_d_fake_g": "mean D output on fakes (G's step) at the end",
}


def metric_legend(names) -> list[str]:
    """One ``name: meaning`` line per metric in ``names`` that has a known meaning."""
    return [f"  {name}: {METRIC_MEANINGS[name]}" for name in sorted(set(names)) if name in METRIC_MEANINGS]


def _list(args: argparse.Namespace) -> int:
    from .catalog.registry import EXPERIMENTS, SERIES, _natural, config_at
    from .profiles import get_profile

    profile = get_profile(args.profile)
    names = sorted(EXPERIMENTS, key=_natural)
    configs = {name: config_at(name, profile) for name in names}  # as `bngan run` trains them
    steps = {name: f"{config.train.steps} steps" for name, config in configs.items()}
    width, steps_width = max(map(len, names)), max(map(len, steps.values()))
    print(f"experiments (steps at profile {profile.name}; --profile shows another):")
    for name in names:
        print(f"  {name:<{width}}  {steps[name]:>{steps_width}}  {configs[name].description}")
    print("series (run each member with `bngan run`):")
    width = max(map(len, SERIES))
    for name, members in sorted(SERIES.items()):
        print(f"  {name:<{width}}  {', '.join(members.values())}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from .profiles import get_profile
    from .catalog.registry import check_experiment

    check_experiment(args.name)  # a misspelt name is told before torch loads
    from .book.experiments import run_experiment

    profile = get_profile(args.profile)
    _say_if_graph_cannot_apply(args)
    runs = run_experiment(args.name, profile=profile, seeds=args.seeds, root=args.root, device=args.device,
                          group=args.group, graph=args.graph, backend=_backend(args), workers=args.workers)
    print(f"{args.name} at profile {profile.name}:")
    for run in runs:
        print(f"  {run.path}\n    {run.summary()}")
    legend = metric_legend(name for run in runs for name in run.metrics)
    if legend:
        print("metrics:", *legend, sep="\n")
    return 0


def _show(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from .book.plots import run_summary
    from .runs.folders import FINISHED, Run

    run = Run.load(_run_folder(args.run_dir, args.root))  # its files as its record lists them, of the right types
    if run.status == "complete":
        run.networks()  # the final weights read back and fit the config's networks, or a line naming weights.pt
    print(run.summary())
    _say_if_config_hash_moved(run)
    if run.status not in FINISHED:
        print(f"  not finished ({run.status}, {run.record.get('steps_run', run.steps_done)} of "
              f"{run.record.get('steps')} steps): no figure; run its experiment again to resume it from step "
              f"{run.steps_done}")
        return 0
    print(f"  config: {run.config.name} ({run.config.hash()}) {run.config.description}")
    record = run.record
    print(f"  device: {record.get('device')}, {record.get('elapsed_s')} s, {record.get('steps_per_s')} steps/s")
    print(f"  versions: {record.get('versions')}")
    if len(run.evals.get('step', [])):
        pairs = ", ".join(f"{int(s)}: {v:.4f}" for s, v in zip(run.evals["step"], run.evals["recon_mse"]))
        print(f"  reconstruction error during training: {pairs}")
    if not len(run.history.get("step", [])):
        print("  no figure: nothing was logged")
        return 0
    out = _figure_path(args.save, Path(run.path))
    run_summary(run).savefig(out, dpi=110)
    print(f"  figure: {out}")
    return 0


def _say_if_config_hash_moved(run) -> None:
    """One stderr line when ``config.json`` no longer hashes to the hash the record was made
    under: the config of another run (a record without file digests cannot tell), or a run
    trained before an engine change, which ``bngan run`` would train again."""
    recorded, now = run.record.get("hash"), run.config.hash()
    if recorded is None or recorded == now:
        return
    listed = "config.json" in (run.record.get("files") or {})  # checked against its digest already
    why = ("the run was trained by an earlier engine; `bngan run` would train it again" if listed else
           "config.json is another run's, or the run was trained by an earlier engine")
    print(f"bngan: warning: {Path(run.path) / 'config.json'} hashes to {now} and its record to {recorded}: {why}",
          file=sys.stderr)


def _figure_path(save: str | None, run_path: Path) -> Path:
    """Where ``show --save`` writes: ``RUN/summary.png`` by default; inside ``save`` as
    ``<run folder>.png`` when it is a folder (or ends in ``/``); else ``save``, with ``.png``
    added when it has no suffix (what matplotlib writes then)."""
    import os

    if not save:
        return run_path / "summary.png"
    out = Path(save).expanduser()
    if out.is_dir() or save.endswith(("/", os.sep)):
        out.mkdir(parents=True, exist_ok=True)
        return out / f"{run_path.name}.png"
    return out if out.suffix else out.with_name(out.name + ".png")


def _clean(args: argparse.Namespace) -> int:
    """``bngan clean --damaged [--dry-run]``: list the run folders set aside as damaged
    (``<run>.damaged-<time>`` in the runs folder) with their sizes, and remove them unless
    ``--dry-run``. Nothing else is ever touched, and a missing runs folder is not made."""
    from .runs.folders import human_bytes, remove_set_aside_folder, runs_root_path, set_aside_folders

    if not args.damaged:
        raise ValueError("clean needs --damaged: it removes only run folders set aside as damaged "
                         "(<run>.damaged-<time> in the runs folder); --dry-run lists them first")
    root = runs_root_path(args.root)
    found = set_aside_folders(root)
    if not found:
        print(f"no set-aside folders in {root}")
        return 0
    total = human_bytes(sum(size for _, size in found))
    print(f"{len(found)} set-aside folder{'s' if len(found) != 1 else ''} in {root}, {total} in all:")
    for folder, size in found:
        if not args.dry_run:
            remove_set_aside_folder(folder, root)
        print(f"  {'would remove' if args.dry_run else 'removed'} {folder.name} ({human_bytes(size)})")
    print("dry run: nothing removed; `bngan clean --damaged` removes them" if args.dry_run else f"removed {total}")
    return 0


def _add_clean_parser(sub) -> None:
    """``bngan clean --damaged [--dry-run] [--root DIR]``."""
    clean = sub.add_parser("clean", help="list and remove the run folders set aside as damaged")
    clean.add_argument("--damaged", action="store_true",
                       help="the run folders set aside as damaged or replaced (<run>.damaged-<time>): the only kind "
                            "clean removes")
    clean.add_argument("--dry-run", action="store_true", help="list them with their sizes, remove nothing")
    clean.add_argument("--root", default=None, help="runs folder (default: as for run)")
    clean.set_defaults(func=_clean)


def _say_if_graph_cannot_apply(args: argparse.Namespace) -> None:
    """``--graph`` needs CUDA: say once that a CPU run trains eagerly instead of ignoring it."""
    if args.graph:
        from .devices import check_device, default_device

        device = check_device(args.device) if args.device is not None else default_device()
        if device.type != "cuda":
            print(f"--graph needs a CUDA GPU; on {device.type} the steps run eagerly", file=sys.stderr)


def _backend(args: argparse.Namespace):
    """``local``, or the :class:`bngan.runs.cluster.Ray` that ``--ray [ADDRESS]`` and ``--ray-results`` ask for."""
    if args.ray is None:
        if args.ray_results is not None:
            raise ValueError("--ray-results needs --ray")
        return "local"
    from .runs.cluster import Ray

    return Ray(address=None if args.ray == LOCAL_RAY else args.ray, results=args.ray_results or "auto")


def _run_folder(name: str, root: str | None) -> Path:
    """A run folder given as a path, or as a folder name in the runs folder
    (``table2_10-<hash>-seed0``)."""
    from .runs.folders import runs_root

    given = Path(name).expanduser()
    if given.is_dir() or given.is_absolute() or len(given.parts) > 1:
        return given
    found = runs_root(root) / name
    if found.is_dir():
        return found
    raise ValueError(f"run folder {name!r} is neither a folder here nor one in the runs folder {runs_root(root)}")


def _verdicts(args: argparse.Namespace) -> int:
    from .evidence import ledger
    from .devices import check_device, default_device
    from .profiles import get_profile
    from .evidence.results import lacking, training_note
    from .evidence.tables import TextTable
    from .runs.workers import resolve_workers

    chapters = sorted({c.chapter for c in ledger.CLAIMS})
    wanted = args.chapter or chapters
    unknown = sorted(set(wanted) - set(chapters))
    if unknown:
        raise ValueError(f"--chapter must be among {', '.join(map(str, chapters))}; got {', '.join(map(str, unknown))}")
    claims = [c for c in ledger.CLAIMS if c.chapter in wanted]
    profile = get_profile(args.profile)
    _say_if_graph_cannot_apply(args)
    backend = _backend(args)
    workers = (resolve_workers(args.workers, check_device(args.device) if args.device is not None else default_device())
               if backend == "local" else 1)
    missing = lacking(ledger._plan(claims, profile, args.seeds), profile, args.root)
    if missing:
        print(training_note(missing, profile, workers) + ("; training them now" if args.train else
                                                          "; `bngan verdicts --train` trains them"), flush=True)
    # without training, a claim waits for runs in neither the cache nor the results, and a rule that
    # reads run files waits for them in the cache even when the results hold every run's numbers
    unfinished = {} if args.train else ledger._unfinished(claims, profile, {"seeds": args.seeds, "root": args.root},
                                                          missing)
    ready = [c for c in claims if c.key not in unfinished]
    verdicts = ledger.evaluate(ready, profile=profile, seeds=args.seeds, root=args.root, device=args.device,
                               progress=True, group=args.group, graph=args.graph, backend=backend,
                               workers=args.workers, train=args.train) if ready else []
    pilot = verdicts
    if verdicts and args.seeds is None:  # the confirmation's words where its new seeds are all there
        from .evidence import confirmation

        verdicts = confirmation.final_verdicts(pilot, profile=profile, root=args.root)[1]
    print(f"claims ledger at profile {profile.name} (chapter 10 explains how a verdict is made):")
    table = ledger.ledger_table(verdicts)
    decided = {row[0]: row for row in table.rows}
    rows = [decided[c.key] if c.key in decided else
            (c.key, c.claim, c.source, str(c.chapter), f"unfinished ({unfinished[c.key][0]} of {unfinished[c.key][1]} "
             f"runs)", "waits for its runs' files in the run cache (its rule reads their weights; the chapter "
             "trains them)" if c.files else "waits for its runs (`--train`)") for c in claims]
    print(TextTable(table.header, rows, wrap=tuple(sorted(table.wrap))))

    def tally(read: list) -> str:
        counts = ledger.tally(read)
        counts["unfinished"] += len(unfinished)
        return f"{len(claims)} claims: " + ", ".join(f"{n} {outcome}" for outcome, n in counts.items())

    print(tally(verdicts))
    if pilot is not verdicts:
        print(f"on the pilot seeds alone, {tally(pilot)}")
    confirmed = sum(v.stage == "confirmation" for v in verdicts)
    if confirmed:
        print(f"{confirmed} claim(s) read on their confirmation seeds (chapter 10's plan)")
    print(ledger.multiplicity(pilot) if not unfinished else
          f"{ledger.multiplicity(pilot)} (over the {len(pilot)} claims whose runs have all finished)")
    return 0


def _results_export(args: argparse.Namespace) -> int:
    from .evidence.results import export

    export(profile=args.profile, root=args.root, path=args.path)
    if args.rules:
        from .evidence.ledger import export_rules

        export_rules(profile=args.profile, root=args.root)
    return 0


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options of every command that trains or loads runs."""
    parser.add_argument("--profile", choices=("smoke", "quick", "full"), default=None,
                        help="settings profile (default: $BNGAN_PROFILE, else full on CUDA, else quick)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds (default: the profile's)")
    parser.add_argument("--root", default=None, help="runs folder (default: $BNGAN_RUNS, else runs/ in the dataset "
                                                     "cache: $BNGAN_DATA/runs, else ~/.cache/bngan/runs)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    parser.add_argument("--group", action=argparse.BooleanOptionalAction, default=None,
                        help="train an experiment's seeds together, one batched step for all (default: on a GPU)")
    parser.add_argument("--graph", action=argparse.BooleanOptionalAction, default=None,
                        help="replay each training step as a CUDA graph (default: on a GPU; needs one)")
    parser.add_argument("--ray", nargs="?", const=LOCAL_RAY, default=None, metavar="ADDRESS",
                        help="train the missing runs as Ray tasks: on a local Ray started for the call (no "
                             "ADDRESS), or on a running cluster ('auto', 'ray://host:port'); needs bngan[ray]")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="train the missing runs in N worker processes, each run with cores/N torch threads "
                             "(default: $BNGAN_WORKERS, else one per core on a CPU, 1 on a GPU)")
    parser.add_argument("--ray-results", choices=("auto", "shared", "ship"), default=None,
                        help="with --ray: workers write into the runs folder (shared, the same path on every node) "
                             "or send their runs back (ship); auto: shared on a local Ray, else ship")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bngan", description="Batch normalization in GANs: run and inspect experiments.")
    parser.add_argument("--version", action="version", version=f"bngan {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="list the named experiments and series")
    listing.add_argument("--profile", choices=("smoke", "quick", "full"), default=None,
                         help="the profile whose step counts to show (default: the one a run would use)")
    listing.set_defaults(func=_list)
    run = sub.add_parser("run", help="train a named experiment (or load its cached runs)")
    run.add_argument("name", help="experiment name, e.g. table2:10 (see `bngan list`)")
    _add_run_options(run)
    run.set_defaults(func=_run)
    verdicts = sub.add_parser("verdicts", help="the claims ledger: each claim's verdict from the cached runs and the "
                                                "committed results (--train trains the runs neither holds)")
    verdicts.add_argument("--chapter", type=int, nargs="+", default=None, help="only these chapters' claims")
    verdicts.add_argument("--train", action="store_true",
                          help="train the runs neither the run cache nor the committed results hold (default: say "
                               "how many and about how long, and mark their claims unfinished)")
    _add_run_options(verdicts)
    verdicts.set_defaults(func=_verdicts)
    show = sub.add_parser("show", help="summarise a run directory and draw its figure")
    show.add_argument("run_dir", help="a run folder, or its name in the runs folder (e.g. table2_10-<hash>-seed0)")
    show.add_argument("--save", default=None, help="figure path, or a folder to write <run folder>.png into "
                                                   "(default: RUN_DIR/summary.png)")
    show.add_argument("--root", default=None, help="runs folder to find RUN_DIR's name in (default: as for run)")
    show.set_defaults(func=_show)
    _add_clean_parser(sub)
    results = sub.add_parser("results", help="the committed run results (results/quick.jsonl, results/larger.jsonl)")
    actions = results.add_subparsers(dest="action", required=True)
    export = actions.add_parser("export", help="write the finished runs the ledger reads from the run cache into the "
                                               "results file, merged with the rows already there")
    export.add_argument("--profile", choices=("quick", "larger"), default="quick",
                        help="quick, or larger: the scale check's budget (4x the steps, 2x the widths)")
    export.add_argument("--path", default=None, help="results file (default: results/<profile>.jsonl in the "
                                                     "repository, or in $BNGAN_RESULTS)")
    export.add_argument("--root", default=None, help="runs folder to read (default: as for run)")
    export.add_argument("--rules", action="store_true",
                        help="also record what the rules that read run files compute (claims 4.4, 9.1, 9.3-9.5), so a "
                             "checkout without those files decides them too (minutes)")
    export.set_defaults(func=_results_export)
    return parser


# The library's errors the command line reports on one line, besides ValueError and OSError:
# (module, class), each looked up only if its module is loaded, since only then can it have been
# raised (and importing bngan.data or bngan.runs.cluster to look would load torch).
LIBRARY_ERRORS = (("bngan.data", "DatasetUnavailableError"), ("bngan.runs.cluster", "ClusterError"))


def _reported_errors() -> tuple[type[BaseException], ...]:
    """The errors :func:`main` turns into one ``bngan: error:`` line: bad input, files, data, cluster."""
    loaded = [getattr(sys.modules[module], name) for module, name in LIBRARY_ERRORS if module in sys.modules]
    return (ValueError, OSError, *loaded)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except _reported_errors() as err:  # input, files, data, cluster
        print(f"bngan: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:  # Ctrl-C: where it stopped and how to resume, not a traceback
        print(f"bngan: {str(err) or 'interrupted'}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
