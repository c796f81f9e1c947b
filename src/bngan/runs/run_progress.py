"""One progress display over the runs a notebook cell (or one call) trains:
``training: 12/40 runs, about 9 min left``.

The chapters call the runners with ``progress=False`` (no line per seed, no step bar), so a
chapter executed from an empty run cache would train for most of an hour with nothing on
screen. So a call with ``progress=False`` that has runs to train opens (or joins) one display
that counts them (:func:`training`): every later call in the same notebook cell joins it, as does
every call nested in one that counted its runs already (a series' experiments, the workers of a
sweep), and it closes at the end of the cell (outside a notebook: when the call returns). A call
whose runs are all cached opens nothing, so a chapter re-executed from the cache prints nothing
and its committed outputs stay as they were.

How it shows (:func:`display_kind`):

- ``bar``: a tqdm bar (``tqdm.auto``: a widget in Jupyter and Colab) where someone watches the
  output live: a terminal, or a notebook kernel with a front end (a Jupyter server, which sets
  ``JPY_SESSION_NAME`` for its kernels; Colab; VS Code);
- ``text``: elsewhere (``jupyter execute``, nbconvert, nbmake, a pipe, a log file) a line on
  stderr as runs finish, at most every :data:`EVERY` seconds, and a last line when it closes if
  it printed any: a sweep shorter than that prints nothing;
- ``off``: nothing.

``BNGAN_PROGRESS=bar|text|off`` chooses instead. Imports no torch."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator

PROGRESS_ENV = "BNGAN_PROGRESS"
KINDS = ("bar", "text", "off")
EVERY = 30.0  # seconds between two text lines


class RunProgress:
    """The count of runs one display shows: ``done`` of ``total`` trained, and the time left
    at the pace so far (wall time, so runs trained side by side count as such)."""

    def __init__(self, kind: str, cell: tuple[int, int] | None) -> None:
        self.kind, self.cell = kind, cell
        self.total = self.done = 0
        self.started = self.last_line = time.perf_counter()
        self.printed = False
        self.bar = None  # made by the first add, with its total

    def add(self, runs: int) -> None:
        """``runs`` more runs to train join the count."""
        self.total += runs
        if self.kind != "bar":
            return
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, desc="training", unit="run", leave=False, dynamic_ncols=True,
                            bar_format="{desc}: {n_fmt}/{total_fmt} runs |{bar}| {postfix}")
        elif runs:
            self.bar.reset(total=self.total)  # a notebook widget takes a new total only this way
            self.bar.set_postfix_str(self.time_left(time.perf_counter()), refresh=False)
            self.bar.update(self.done)

    def finished(self, runs: int = 1) -> None:
        """``runs`` runs of the count are done (trained, diverged or failed)."""
        self.done += runs
        now = time.perf_counter()
        if self.bar is not None:
            self.bar.set_postfix_str(self.time_left(now), refresh=False)
            self.bar.update(runs)
        elif self.kind == "text" and now - self.last_line >= EVERY:
            self._say(self.line(now), now)

    def line(self, now: float) -> str:
        """``training: 12/40 runs, about 9 min left``."""
        left = self.time_left(now)
        return f"training: {self.done}/{self.total} runs" + (f", {left}" if left else "")

    def time_left(self, now: float) -> str:
        """``about 9 min left`` at the pace so far; empty before the first run is done or after the last."""
        if not self.done or self.done >= self.total:
            return ""
        return f"about {duration((now - self.started) / self.done * (self.total - self.done))} left"

    def close(self) -> None:
        """Take the bar down; in text, a last line if any was printed (a long sweep's log says it ended)."""
        if self.bar is not None:
            self.bar.close()
        elif self.printed:
            now = time.perf_counter()
            self._say(f"training: {self.done}/{self.total} runs in {duration(now - self.started)}", now)

    def _say(self, text: str, now: float) -> None:
        print(text, file=sys.stderr, flush=True)
        self.printed, self.last_line = True, now


def duration(seconds: float) -> str:
    """``40 s``, ``9 min``, ``2 h 5 min``: precise enough for a time left."""
    if seconds < 90:
        return f"{max(seconds, 0):.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 90 else f"{minutes // 60} h {minutes % 60} min"


def display_kind() -> str:
    """``bar``, ``text`` or ``off``: ``$BNGAN_PROGRESS``, else ``bar`` where the output is watched
    live (:func:`watched`) and ``text`` elsewhere."""
    chosen = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if chosen:
        if chosen not in KINDS:
            raise ValueError(f"environment variable {PROGRESS_ENV} must be one of {', '.join(KINDS)}; got {chosen!r}")
        return chosen
    return "bar" if watched() else "text"


def watched() -> bool:
    """Whether someone watches the output as it comes: a terminal, or a notebook kernel with a
    front end (a Jupyter server's kernel has ``JPY_SESSION_NAME``; Colab's has ``google.colab``
    loaded; VS Code's has ``VSCODE_PID``). A kernel driven by ``jupyter execute``, nbconvert or
    nbmake has none of them: its output goes to a file or a log, where a widget is noise."""
    shell = _shell()
    if shell is not None and hasattr(shell, "kernel"):
        return bool(os.environ.get("JPY_SESSION_NAME") or os.environ.get("VSCODE_PID")
                    or "google.colab" in sys.modules)
    return sys.stderr.isatty()


# The open display, and how deep the calls counting on it are nested.
_open: RunProgress | None = None
_depth = 0
_watching: set[int] = set()  # the shells whose cell ends close the display


@contextlib.contextmanager
def training(runs: int | Callable[[], int], *, enabled: bool = True) -> Iterator[RunProgress | None]:
    """The display the runs of a call count on, or ``None``: call ``finished()`` on it for each
    run trained. An outermost call adds its ``runs`` (the runs it will train; a callable is only
    called there) to the display of this notebook cell, opening one when there are any; a
    nested call joins the display of the call around it, which counted its runs already. Not
    ``enabled`` (``progress=True``, where each seed prints its own line): ``None``, nothing shown."""
    global _depth
    if not enabled:
        yield None
        return
    if _depth == 0:
        _join(runs() if callable(runs) else runs)
    _depth += 1
    try:
        yield _open
    finally:
        _depth -= 1
        if _depth == 0 and _open is not None and _open.cell is None:
            close()


def _join(runs: int) -> None:
    """Add ``runs`` to this cell's display, opening one if there are runs and none is open."""
    global _open
    cell = _cell()
    if _open is not None and (_open.cell is None or _open.cell != cell):
        close()  # another cell's, or a call's that ended without closing it
    if _open is None and runs > 0 and (kind := display_kind()) != "off":
        _open = RunProgress(kind, cell)
        _close_at_cell_end()
    if _open is not None:
        _open.add(runs)


def close() -> None:
    """Close the open display, if any."""
    global _open
    display, _open = _open, None
    if display is not None:
        display.close()


def _shell():
    return getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()


def _cell() -> tuple[int, int] | None:
    """This notebook cell: its shell and execution count (``None`` outside IPython)."""
    shell = _shell()
    return None if shell is None else (id(shell), shell.execution_count)


def _close_at_cell_end() -> None:
    """Have IPython close the display when the cell that opened it has run (once per shell)."""
    shell = _shell()
    if shell is not None and id(shell) not in _watching:
        shell.events.register("post_run_cell", lambda result: close())
        _watching.add(id(shell))
