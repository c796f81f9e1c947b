"""What checking a cached run's files against its record costs (issue 46): the seconds to load
N cached ``smoke`` runs with ``cached_run`` as it is (every file's size and sha256 checked
against the record, each file read once, the weights not unpickled), as before the check (no
digests, the weights unpickled to prove they load) and with no check at all (the floor), and
the time of reading and hashing every listed file alone.

    python benchmarks/cache_check.py [--runs 50] [--rounds 7] [--threads 1] [--root DIR]

Half the runs are an image experiment (``table2:10``), half a toy one (``blindspot:bn``), each
at ``smoke`` as every runner runs them (``for_profile``) with seeds 0, 1, ...; they are trained once into ``--root`` (default: a temporary
folder, removed after) and loaded ``--rounds`` times each way, the two ways alternating so that
a load on the machine shifts both alike; the medians are printed. The files are in the page
cache after the first round, as a re-executed chapter finds them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its OpenMP runtime

import torch  # noqa: E402

from bngan.catalog.registry import for_profile  # noqa: E402
from bngan.runs import folders, train  # noqa: E402


def the_runs(n: int) -> list[tuple]:
    """(config, seed) of the N runs: table2:10 and blindspot:bn at smoke, seeds 0, 1, ..."""
    image, toy = for_profile("table2:10", "smoke"), for_profile("blindspot:bn", "smoke")  # as `bngan run` runs them
    return [(image, s) for s in range((n + 1) // 2)] + [(toy, s) for s in range(n // 2)]


def cached_as_before(config, seed, root):
    """``cached_run`` as it was before the file digests: nothing hashed, the final weights
    unpickled to prove they load (the types of history and samples are checked as now)."""
    rd = folders.run_dir(config, seed, root)
    if not (rd.finished and folders.cached_run_matches(rd, config, seed)):
        return None
    run = folders.Run.load(rd.path, verify=False)
    if run.status == "complete":
        folders.load_dict(rd.weights_file, ("g", "d"))
    return run


def cached_unchecked(config, seed, root):
    """``cached_run`` with no check of the files at all: no digests, the weights not read (the
    floor the check's cost is measured from)."""
    rd = folders.run_dir(config, seed, root)
    if not (rd.finished and folders.cached_run_matches(rd, config, seed)):
        return None
    return folders.Run.load(rd.path, verify=False)


def load_all(pairs, root, load) -> float:
    start = time.perf_counter()
    for config, seed in pairs:
        if load(config, seed, root) is None:
            raise SystemExit(f"{config.name} seed {seed} is not cached in {root}")
    return time.perf_counter() - start


def listed_files(pairs, root) -> list:
    """Every file the records of the runs list."""
    found = []
    for config, seed in pairs:
        rd = folders.run_dir(config, seed, root)
        found += [rd.path / name for name in rd.read_record()["files"]]
    return found


def hashing_seconds(files) -> float:
    """The time of reading and hashing each listed file once, nothing else."""
    start = time.perf_counter()
    for path in files:
        folders.file_entry(path)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--root", default=None, help="runs folder to train into and load from (default: temporary)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    root = args.root or tempfile.mkdtemp(prefix="bngan-cache-check-")
    pairs = the_runs(args.runs)
    try:
        start = time.perf_counter()
        for config, seed in pairs:
            train.train_run(config, seed, root=root, device="cpu", progress=False)
        print(f"{len(pairs)} smoke runs cached in {root} ({time.perf_counter() - start:.0f} s); torch "
              f"{torch.__version__}, {args.threads} thread(s)")
        sizes = [f.stat().st_size for f in os.scandir(root) if f.is_dir() for f in os.scandir(f.path) if f.is_file()]
        print(f"their files: {len(sizes)}, {sum(sizes) / 1e6:.2f} MB in all")
        files = listed_files(pairs, root)
        checked, before, bare, hashing = [], [], [], []
        for _ in range(args.rounds):
            checked.append(load_all(pairs, root, train.cached_run))
            before.append(load_all(pairs, root, cached_as_before))
            bare.append(load_all(pairs, root, cached_unchecked))
            hashing.append(hashing_seconds(files))
        a, b, c, h = (statistics.median(x) for x in (checked, before, bare, hashing))
        print(f"load of {len(pairs)} cached runs, median of {args.rounds} rounds: with the file check {a:.3f} s; "
              f"as before it (weights unpickled, nothing hashed) {b:.3f} s; no check at all {c:.3f} s")
        print(f"the check costs {(a - c) * 1000:.0f} ms over no check ({(a - c) / a * 100:.1f}% of the checked load), "
              f"and the load takes {(a / b - 1) * 100:+.1f}% against before it; reading and hashing the {len(files)} "
              f"listed files alone takes {h * 1000:.0f} ms ({h / a * 100:.1f}% of the checked load)")
    finally:
        if args.root is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
