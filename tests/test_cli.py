"""The command line: `bngan list`, `run` (its options reach the code) and `show`, and one
error line with exit code 2."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest

from bngan import cli, experiments


def test_list_aligns_names_and_tells_table2_12_to_14_apart(capsys):
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.startswith("  ")]
    experiment_rows = rows[: len(experiments.EXPERIMENTS)]
    starts = {line.index(" steps  ") + len(" steps  ") for line in experiment_rows}
    assert len(starts) == 1  # every description starts in the same column, after the steps
    start = starts.pop()
    described = {line.split()[0]: line[start:] for line in experiment_rows}
    assert all(d and not d[0].isspace() for d in described.values())
    assert len({described[f"table2:{i}"] for i in (12, 13, 14)}) == 3


@pytest.mark.parametrize("profile", ["quick", "smoke"])
def test_list_gives_step_counts_at_the_profile_a_run_would_use(profile, capsys):
    assert cli.main(["list", "--profile", profile]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.split()[:1] == ["batch:images-16"])
    steps = experiments.get_experiment("batch:images-16", profile).train.steps
    assert f"({steps} steps)" in row and f"at profile {profile}" in out


@pytest.mark.parametrize("profile", ["quick", "smoke"])
def test_every_experiment_line_of_list_shows_the_steps_a_run_trains(profile, capsys):
    assert cli.main(["list", "--profile", profile]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line for line in lines[1: len(experiments.EXPERIMENTS) + 1]}
    assert set(rows) == set(experiments.EXPERIMENTS)
    for name, row in rows.items():  # the table2:* rows too, whose descriptions give no steps
        steps = experiments.for_profile(name, profile).train.steps
        assert row.split()[1:3] == [str(steps), "steps"], row
    assert len({row.index(" steps  ") for row in rows.values()}) == 1  # the counts are aligned on "steps"


def test_run_passes_its_options_to_the_experiment(monkeypatch, tmp_path, capsys):
    seen = {}

    def fake_run_experiment(name, **kwargs):
        seen.update(kwargs, name=name)
        return []

    monkeypatch.setattr(experiments, "run_experiment", fake_run_experiment)
    code = cli.main(["run", "table2:3", "--profile", "quick", "--seeds", "4", "5", "--root", str(tmp_path),
                     "--device", "cpu"])
    assert code == 0
    assert seen["name"] == "table2:3" and seen["seeds"] == [4, 5] and seen["root"] == str(tmp_path)
    # quick, not the session's default (smoke under pytest): --profile is what reached it
    assert seen["device"] == "cpu" and seen["profile"].name == "quick" and seen["group"] is None
    cli.main(["run", "table2:3", "--profile", "smoke", "--group"])
    assert seen["group"] is True
    cli.main(["run", "table2:3", "--profile", "smoke", "--no-group"])
    assert seen["group"] is False


def test_run_and_show_a_tiny_run(tmp_path, capsys):
    assert cli.main(["run", "blindspot:no-bn", "--profile", "smoke", "--seeds", "0", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert str(run_dir) in out and "status=complete" in out
    figure = tmp_path / "summary.png"
    assert cli.main(["show", str(run_dir), "--save", str(figure)]) == 0
    assert figure.stat().st_size > 1000 and "blindspot:no-bn" in capsys.readouterr().out
    # by its folder name alone, found in the runs folder
    assert cli.main(["show", run_dir.name, "--root", str(tmp_path), "--save", str(figure)]) == 0
    assert "blindspot:no-bn" in capsys.readouterr().out
    assert cli.main(["show", "no-such-run-seed0", "--root", str(tmp_path)]) == 2
    assert "neither a folder here nor one in the runs folder" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["run", "table2:99", "--profile", "smoke"], "unknown experiment"),
    (["run", "table2:1", "--profile", "smoke", "--seeds", "-1"], "seeds must be"),
    (["show", "/no/such/run"], "no run record"),
])
def test_errors_are_one_line_with_exit_code_2(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("bngan: error:") and message in err


def test_an_unknown_name_suggests_the_closest_and_points_to_list(capsys):
    assert cli.main(["run", "table2:99", "--profile", "smoke"]) == 2
    err = capsys.readouterr().err
    assert err == (f"bngan: error: unknown experiment 'table2:99'; did you mean 'table2:9', 'table2:8' or "
                   f"'table2:7'?; `bngan list` shows all {len(experiments.EXPERIMENTS)} experiments\n")
    assert cli.main(["run", "blindspot:no-bm"]) == 2
    assert "did you mean 'blindspot:no-bn'" in capsys.readouterr().err  # one close name is enough
    assert cli.main(["run", "zzz"]) == 2
    err = capsys.readouterr().err
    assert "did you mean" not in err and "`bngan list` shows all" in err and len(err) < 100  # none is close


# What `--help`, `list` and a misspelt `run` must not load: seconds of CPU on a small machine.
HEAVY = ("torch", "torchvision", "matplotlib", "scipy")
IMPORTS_PROBE = """
import contextlib, io, json, sys
import bngan.cli
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    codes = [bngan.cli.main(["list"]), bngan.cli.main(["list", "--profile", "quick"]),
             bngan.cli.main(["run", "table2:99"])]
    try:
        bngan.cli.main(["--help"])
    except SystemExit as done:
        codes.append(done.code)
print(json.dumps([codes, sorted(m for m in sys.modules if m.split(".")[0] in {heavy})]))
"""


@pytest.mark.parametrize("profile", ["smoke", ""])  # "": the default, which asks whether there is a GPU
def test_help_list_and_an_unknown_name_load_no_torch(profile, monkeypatch):
    import json

    monkeypatch.setenv("BNGAN_PROFILE", profile)
    probe = IMPORTS_PROBE.format(heavy=set(HEAVY))
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    codes, loaded = json.loads(result.stdout)
    assert codes == [0, 0, 2, 0]
    from bngan.profiles import GPU_DEVICE_FILES

    if profile or not any(path.exists() for path in GPU_DEVICE_FILES):  # with a GPU, the default asks torch
        assert loaded == []


def test_import_bngan_loads_no_torch_and_its_names_load_on_first_use():
    probe = ("import sys, bngan; before = 'torch' in sys.modules; f = bngan.run_experiment; "
             "print(before, 'torch' in sys.modules, f.__module__, bngan.compare.__module__, bngan.plots.__name__)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True", "bngan.runs.runsets", "bngan.evidence.stats", "bngan.book.plots"]


@pytest.mark.slow
def test_the_installed_command_exits_2_without_a_traceback():
    result = subprocess.run([sys.executable, "-m", "bngan.cli", "run", "table2:99"], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "unknown experiment" in result.stderr


def interrupt_cli_runs_at(monkeypatch, step: int) -> None:
    """Make every training the CLI starts raise KeyboardInterrupt (Ctrl-C) after ``step``."""
    from bngan import train

    original = train.Trainer.run

    def ctrl_c(trainer):
        if trainer.step == step:
            raise KeyboardInterrupt

    monkeypatch.setattr(train.Trainer, "run", lambda self, callback=None: original(self, ctrl_c))


def test_ctrl_c_is_one_line_saying_where_to_resume_and_exit_130(tmp_path, monkeypatch, capsys):
    from bngan.runs import RunDir

    interrupt_cli_runs_at(monkeypatch, 13)  # blindspot:no-bn at smoke checkpoints every 10 steps
    argv = ["run", "blindspot:no-bn", "--profile", "smoke", "--seeds", "1", "--root", str(tmp_path)]
    assert cli.main(argv) == 130
    captured = capsys.readouterr()
    assert captured.err == ("bngan: interrupted at step 13 of seed 1 of blindspot:no-bn; "
                            "run the same command to resume from step 10\n")
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert RunDir(run_dir).read_record()["steps_done"] == 10
    monkeypatch.undo()
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "seed 1: resumed at step 10 (40 steps, " in out
    assert out.index("resuming blindspot:no-bn seed 1 at step 10") < out.index("seed 1: resumed")  # said first
    record = RunDir(run_dir).read_record()
    assert 0 < record["session_s"] <= record["elapsed_s"]  # this attempt's time, within the total


def test_run_prints_a_status_line_per_seed_and_explains_the_metrics(tmp_path, capsys):
    argv = ["run", "blindspot:no-bn", "--profile", "smoke", "--seeds", "0", "1", "--root", str(tmp_path)]
    assert cli.main(argv) == 0
    first = capsys.readouterr()
    lines = first.out.splitlines()
    assert lines[0].startswith("blindspot:no-bn seed 0: trained (40 steps, ")
    assert lines[1].startswith("blindspot:no-bn seed 1: trained (40 steps, ")
    assert "metrics:" in lines and "  mmd: kernel MMD to held-out points, lower is better" in lines
    assert cli.main(argv) == 0
    again = capsys.readouterr()
    assert again.out.splitlines()[:2] == ["blindspot:no-bn seed 0: cached", "blindspot:no-bn seed 1: cached"]
    assert "0/2" not in again.err and again.err == ""  # no bar for cached runs (nor outside a terminal)


def test_show_says_an_unfinished_run_is_unfinished_instead_of_drawing_empty_axes(tmp_path, monkeypatch, capsys):
    interrupt_cli_runs_at(monkeypatch, 1)  # before anything was checkpointed
    assert cli.main(["run", "blindspot:no-bn", "--profile", "smoke", "--seeds", "0", "--root", str(tmp_path)]) == 130
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no matplotlib warning either
        assert cli.main(["show", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "not finished (interrupted, 1 of 40 steps): no figure" in out and "from step 0" in out
    assert not (run_dir / "summary.png").exists()


@pytest.mark.parametrize("name", ["record.json", "history.pt"])
def test_show_names_a_damaged_file_on_one_line(tmp_path, capsys, name):
    assert cli.main(["run", "blindspot:no-bn", "--profile", "smoke", "--seeds", "0", "--root", str(tmp_path)]) == 0
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    (run_dir / name).write_bytes((run_dir / name).read_bytes()[:20])
    capsys.readouterr()
    assert cli.main(["show", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"bngan: error: {run_dir / name} is damaged")
    assert "run the experiment again" in err


def test_a_runs_folder_that_is_a_file_is_one_line_naming_it(tmp_path, capsys):
    not_a_folder = tmp_path / "runs"
    not_a_folder.write_text("")
    assert cli.main(["run", "blindspot:no-bn", "--profile", "smoke", "--root", str(not_a_folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"runs folder {not_a_folder} is a file" in err


def test_a_locked_run_is_one_line_naming_the_lock(tmp_path, capsys):
    import json
    import os
    import socket

    from bngan import experiments as ex
    from bngan.runs import run_dir

    config = ex.get_experiment("blindspot:no-bn", "smoke")
    rd = run_dir(config, 0, tmp_path)
    rd.path.mkdir(parents=True)
    rd.lock_file.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    assert cli.main(["run", "blindspot:no-bn", "--profile", "smoke", "--seeds", "0", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{rd.lock_file} is held by process {os.getpid()}" in err


def test_verdicts_prints_the_ledger_of_the_chapters_asked_for(tmp_path, capsys):
    from bngan import ledger

    assert cli.main(["verdicts", "--chapter", "7", "--profile", "smoke", "--root", str(tmp_path), "--train"]) == 0
    out = capsys.readouterr().out
    keys = [c.key for c in ledger.CLAIMS if c.chapter == 7]
    rows = [line.split()[0] for line in out.splitlines() if line[:1].isdigit() and "." in line.split()[0]]
    assert rows == keys  # chapter 7's claims, in order, and no other chapter's
    assert f"{len(keys)} claims: " in out and "at profile smoke" in out
    assert "distinct directional comparisons:" in out and "false discovery rate correction" in out
    assert sum(name.startswith("blindspot_") for name in (p.name for p in tmp_path.iterdir())) > 0  # ran there


def test_verdicts_refuses_an_unknown_chapter_on_one_line(tmp_path, capsys):
    assert cli.main(["verdicts", "--chapter", "11", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--chapter must be among 1, 2" in err and "got 11" in err
    assert not any(tmp_path.iterdir())  # refused before any training


def test_graph_on_a_cpu_says_once_that_the_steps_run_eagerly(monkeypatch, capsys):
    monkeypatch.setattr(experiments, "run_experiment", lambda name, **kwargs: [])
    assert cli.main(["run", "table2:3", "--profile", "smoke", "--device", "cpu", "--graph"]) == 0
    assert capsys.readouterr().err == "--graph needs a CUDA GPU; on cpu the steps run eagerly\n"
    assert cli.main(["run", "table2:3", "--profile", "smoke", "--device", "cpu"]) == 0
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- show checks what it shows (issue 46)


@pytest.fixture
def two_seeds(tmp_path):
    """blindspot:no-bn at smoke, seeds 0 and 1, trained once into ``tmp_path``: (seed 0's folder, seed 1's)."""
    assert cli.main(["run", "blindspot:no-bn", "--profile", "smoke", "--seeds", "0", "1", "--root",
                     str(tmp_path)]) == 0
    zero, one = (next(p for p in tmp_path.iterdir() if p.name.endswith(f"-seed{k}")) for k in (0, 1))
    return zero, one


def show_fails_naming(run_dir, name, capsys, *extra) -> str:
    capsys.readouterr()
    assert cli.main(["show", str(run_dir), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"bngan: error: {run_dir / name} ")
    return err


def test_show_reads_the_weights_and_names_damaged_ones(two_seeds, capsys):
    zero, _ = two_seeds
    (zero / "weights.pt").write_bytes((zero / "weights.pt").read_bytes()[:40])
    show_fails_naming(zero, "weights.pt", capsys)


def test_show_reads_weights_of_the_wrong_shape_in_an_older_run_as_damage(two_seeds, capsys):
    import json

    import torch

    zero, _ = two_seeds
    record = json.loads((zero / "record.json").read_text())
    del record["files"]  # as written before file digests
    (zero / "record.json").write_text(json.dumps(record))
    state = torch.load(zero / "weights.pt", weights_only=True)
    key = next(iter(state["g"]))
    state["g"][key] = torch.zeros(2, 2, 2)
    torch.save(state, zero / "weights.pt")
    show_fails_naming(zero, "weights.pt", capsys)


def test_show_names_a_history_of_the_wrong_types_without_a_traceback(two_seeds, capsys):
    import torch

    zero, _ = two_seeds
    torch.save({"columns": ["step"], "values": "not a tensor"}, zero / "history.pt")
    show_fails_naming(zero, "history.pt", capsys)


@pytest.mark.parametrize("name", ["history.pt", "samples.pt"])
def test_show_names_a_missing_history_or_samples_file(two_seeds, capsys, name):
    zero, _ = two_seeds
    (zero / name).unlink()
    assert "missing" in show_fails_naming(zero, name, capsys)


@pytest.mark.parametrize("name", ["record.json", "config.json", "weights.pt"])
def test_show_names_a_file_swapped_in_from_another_run(two_seeds, tmp_path, capsys, name):
    import shutil

    zero, one = two_seeds
    if name == "config.json":  # another config's run
        assert cli.main(["run", "blindspot:bn", "--profile", "smoke", "--seeds", "0", "--root", str(tmp_path)]) == 0
        one = next(p for p in tmp_path.iterdir() if p.name.startswith("blindspot_bn-"))
    shutil.copyfile(one / name, zero / name)
    show_fails_naming(zero, name, capsys)


def test_show_save_into_a_folder_writes_inside_it(two_seeds, tmp_path, capsys):
    zero, _ = two_seeds
    figures = tmp_path / "figures"
    figures.mkdir()
    assert cli.main(["show", str(zero), "--save", str(figures)]) == 0
    written = figures / f"{zero.name}.png"
    assert written.stat().st_size > 1000 and f"figure: {written}" in capsys.readouterr().out
    assert not (tmp_path / "figures.png").exists()
    assert cli.main(["show", str(zero), "--save", str(tmp_path / "plain")]) == 0  # no suffix: the file it wrote
    assert (tmp_path / "plain.png").exists() and f"figure: {tmp_path / 'plain.png'}" in capsys.readouterr().out


# --------------------------------------------------------------------------- bngan clean --damaged


def test_clean_lists_and_removes_only_the_set_aside_folders(two_seeds, tmp_path, capsys):
    zero, one = two_seeds
    (zero / "history.pt").write_bytes(b"damaged")
    assert cli.main(["run", "blindspot:no-bn", "--profile", "smoke", "--seeds", "0", "--root", str(tmp_path)]) == 0
    aside = [p for p in tmp_path.iterdir() if ".damaged-" in p.name]
    assert len(aside) == 1
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    decoys = [tmp_path / "notes.damaged-later", tmp_path / f"{zero.name}.damaged-20260101-000000.txt"]
    decoys[0].mkdir()
    decoys[1].write_text("a file, not a folder")
    link = tmp_path / f"{one.name}.damaged-20260101-000000"
    link.symlink_to(outside, target_is_directory=True)
    capsys.readouterr()
    assert cli.main(["clean", "--damaged", "--dry-run", "--root", str(tmp_path)]) == 0
    listed = capsys.readouterr().out
    assert aside[0].name in listed and "kB" in listed and "1 set-aside folder" in listed
    assert all(d.name not in listed for d in decoys) and link.name not in listed
    assert aside[0].exists()  # a dry run removes nothing
    assert cli.main(["clean", "--damaged", "--root", str(tmp_path)]) == 0
    assert "removed" in capsys.readouterr().out
    assert not aside[0].exists()
    assert all(d.exists() for d in decoys) and link.is_symlink() and (outside / "keep.txt").read_text() == "keep"
    assert zero.is_dir() and one.is_dir()  # the runs themselves are untouched
    assert cli.main(["clean", "--damaged", "--root", str(tmp_path)]) == 0
    assert "no set-aside folders" in capsys.readouterr().out


def test_clean_without_what_to_clean_is_one_line(tmp_path, capsys):
    assert cli.main(["clean", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--damaged" in err


def test_clean_does_not_make_a_missing_runs_folder(tmp_path, capsys):
    assert cli.main(["clean", "--damaged", "--root", str(tmp_path / "missing")]) == 0
    assert not (tmp_path / "missing").exists()
