"""One run count over what a notebook cell trains (bngan.run_progress): the runners called with
``progress=False``, as the chapters call them, show ``training: k/n runs`` while runs train and
nothing at all when every run is cached (so a chapter re-executed from the cache keeps its
committed outputs); a bar where the output is watched, lines at most every 30 s elsewhere."""

from __future__ import annotations

import re
import types

import pytest

from bngan import run_progress, workers
from bngan.cluster import Sweep
from bngan.runsets import run_experiment, run_series

from test_cluster import tiny


@pytest.fixture
def lines_at_once(monkeypatch):
    """Text lines as runs finish, without waiting 30 s between two, and no display left open."""
    monkeypatch.setenv(run_progress.PROGRESS_ENV, "text")
    monkeypatch.setattr(run_progress, "EVERY", 0.0)
    run_progress.close()
    yield
    run_progress.close()


def count_lines(err: str) -> list[tuple[int, int]]:
    return [(int(k), int(n)) for k, n in re.findall(r"^training: (\d+)/(\d+) runs", err, re.MULTILINE)]


def test_a_sweep_that_trains_counts_its_runs_and_a_cached_one_prints_nothing(tmp_path, capsys, lines_at_once):
    series = {"a": tiny(name="tiny-count-a", steps=4), "b": tiny(name="tiny-count-b", steps=3)}
    run_series(series, seeds=[0, 1], root=tmp_path, progress=False)
    out, err = capsys.readouterr()
    assert out == ""  # nothing per seed
    assert count_lines(err) == [(1, 4), (2, 4), (3, 4), (4, 4), (4, 4)]  # one count over the series, then its end
    assert re.search(r"^training: 1/4 runs, about \d+ s left$", err, re.MULTILINE)
    assert err.splitlines()[-1].startswith("training: 4/4 runs in ")
    run_series(series, seeds=[0, 1], root=tmp_path, progress=False)  # every run cached
    assert capsys.readouterr() == ("", "")
    run_experiment(series["a"], seeds=[0, 1, 2], root=tmp_path, progress=False)  # one new seed of three
    assert count_lines(capsys.readouterr().err) == [(1, 1), (1, 1)]


def test_the_runs_of_one_notebook_cell_count_on_one_display(tmp_path, capsys, lines_at_once, monkeypatch):
    cell = [7]
    monkeypatch.setattr(run_progress, "_cell", lambda: (1, cell[0]))
    monkeypatch.setattr(run_progress, "_close_at_cell_end", lambda: None)
    for steps in (3, 4):  # `{name: run_experiment(name, ...) for name in ...}`
        run_experiment(tiny(name=f"tiny-cell-{steps}", steps=steps), seeds=[0], root=tmp_path, progress=False)
    assert count_lines(capsys.readouterr().err) == [(1, 1), (2, 2)]  # still open: the cell has not ended
    cell[0] = 8  # the next cell: a new count
    run_experiment(tiny(name="tiny-cell-5", steps=5), seeds=[0], root=tmp_path, progress=False)
    assert count_lines(capsys.readouterr().err) == [(2, 2), (1, 1)]  # the last cell's end line, then this one's
    run_progress.close()  # IPython's post_run_cell
    assert count_lines(capsys.readouterr().err) == [(1, 1)]


def test_workers_count_on_the_display_of_the_call_that_counted_them(tmp_path, capsys, lines_at_once):
    config = tiny(name="tiny-count-workers", steps=3)
    failed = workers.train_in_processes([Sweep("x", config, (0, 1))], 1, root=tmp_path, progress=False)
    assert failed == {} and count_lines(capsys.readouterr().err) == [(1, 2), (2, 2), (2, 2)]
    with run_progress.training(3) as count:  # a caller that counted these runs and one more
        workers.train_in_processes([Sweep("x", config, (2, 3))], 1, root=tmp_path, progress=False)
        assert count is not None and (count.done, count.total) == (2, 3)
    assert count_lines(capsys.readouterr().err) == [(1, 3), (2, 3), (2, 3)]


def test_progress_true_shows_its_own_lines_and_no_count(tmp_path, capsys, lines_at_once):
    run_experiment(tiny(name="tiny-count-progress", steps=3), seeds=[0], root=tmp_path, progress=True)
    out, err = capsys.readouterr()
    assert "seed 0: trained" in out and "training:" not in err


def test_text_lines_come_at_most_every_30_seconds_and_a_short_sweep_prints_none(monkeypatch, capsys):
    monkeypatch.setenv(run_progress.PROGRESS_ENV, "text")
    clock = [100.0]
    monkeypatch.setattr(run_progress.time, "perf_counter", lambda: clock[0])
    display = run_progress.RunProgress("text", None)
    display.add(40)
    for seconds in (5, 10, 40, 50, 75):
        clock[0] = 100.0 + seconds
        display.finished()
    assert capsys.readouterr().err.splitlines() == ["training: 3/40 runs, about 8 min left",  # at 40 s
                                                    "training: 5/40 runs, about 9 min left"]  # at 75 s
    display.close()
    assert capsys.readouterr().err == "training: 5/40 runs in 75 s\n"
    quiet = run_progress.RunProgress("text", None)
    quiet.add(2)
    quiet.finished(2)
    quiet.close()
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("seconds,said", [(0, "0 s"), (89, "89 s"), (95, "2 min"), (540, "9 min"), (5300, "88 min"),
                                          (5400, "1 h 30 min"), (7500, "2 h 5 min")])
def test_durations_read_as_a_person_says_them(seconds, said):
    assert run_progress.duration(seconds) == said


def test_where_it_shows_a_bar_lines_or_nothing(monkeypatch):
    monkeypatch.delenv(run_progress.PROGRESS_ENV, raising=False)
    for variable in ("JPY_SESSION_NAME", "VSCODE_PID"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(run_progress.sys.stderr, "isatty", lambda: False, raising=False)
    assert run_progress.display_kind() == "text"  # a pipe, a log, pytest
    kernel = types.SimpleNamespace(kernel=object(), execution_count=3)
    monkeypatch.setattr(run_progress, "_shell", lambda: kernel)
    assert run_progress.display_kind() == "text"  # a kernel no one watches: jupyter execute, nbconvert, nbmake
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/book/01_dcgan_heuristics.ipynb")
    assert run_progress.display_kind() == "bar"  # JupyterLab, Notebook 7
    monkeypatch.setenv(run_progress.PROGRESS_ENV, "off")
    assert run_progress.display_kind() == "off"
    monkeypatch.setenv(run_progress.PROGRESS_ENV, "loud")
    with pytest.raises(ValueError, match="BNGAN_PROGRESS must be one of bar, text, off; got 'loud'"):
        run_progress.display_kind()


def test_off_shows_nothing_even_while_runs_train(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(run_progress.PROGRESS_ENV, "off")
    monkeypatch.setattr(run_progress, "EVERY", 0.0)
    run_experiment(tiny(name="tiny-count-off", steps=3), seeds=[0, 1], root=tmp_path, progress=False)
    assert capsys.readouterr() == ("", "")


def test_a_bar_counts_the_runs_where_someone_watches(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(run_progress.PROGRESS_ENV, "bar")
    run_experiment(tiny(name="tiny-count-bar", steps=3), seeds=[0, 1], root=tmp_path, progress=False)
    out, err = capsys.readouterr()
    assert out == "" and re.search(r"training: [12]/2 runs \|", err)
    run_experiment(tiny(name="tiny-count-bar", steps=3), seeds=[0, 1], root=tmp_path, progress=False)
    assert capsys.readouterr() == ("", "")  # cached: no bar at all
