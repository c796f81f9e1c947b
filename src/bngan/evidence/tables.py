"""Tables that read well in both places a chapter is read: as aligned plain text in a
terminal or a ``print``, and as an HTML table when a notebook displays it (a table wider than its
column scrolls inside its own box instead of being cut off or widening the page)."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # annotations only: reading tables needs no torch
    from ..runs.runsets import RunSet


def significant(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits, never in exponent form for large values
    (a spread of 104 reads ``104``, not ``1e+02``); small values keep ``g``'s form."""
    text = f"{x:.{digits}g}"
    return f"{x:.0f}" if "e+" in text else text


class TextTable(str):
    """An aligned plain-text table that is also a ``str`` (so existing ``print`` calls and
    string checks keep working) and renders as HTML when a notebook displays it."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    wrap: frozenset[int]

    def __new__(cls, header: Sequence[str], rows: Sequence[Sequence[str]], *,
                wrap: bool | Sequence[int] = False) -> "TextTable":
        """``wrap`` lets the HTML cells of some columns wrap (``True``: every column; or the
        column indices), for tables of sentences; by default no cell wraps."""
        header = tuple(map(str, header))
        rows = tuple(tuple(map(str, row)) for row in rows)
        if any(len(row) != len(header) for row in rows):
            raise ValueError(f"every row must have {len(header)} cells, one per header column")
        widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in (header, *rows)]
        lines.insert(1, "  ".join("-" * w for w in widths))
        table = super().__new__(cls, "\n".join(lines))
        columns = range(len(header)) if wrap is True else () if wrap is False else wrap
        table.header, table.rows, table.wrap = header, rows, frozenset(columns)
        return table

    def __repr__(self) -> str:  # the aligned text, not a quoted string, wherever a table is shown as text
        return str(self)

    def _repr_html_(self) -> str:
        # Value cells never wrap unless their column is in ``wrap`` ("350.8 ± 59" stays on one line);
        # header labels and the cells of ``wrap`` columns wrap between words and at the marked
        # places in long names (after ``_``, ``/`` and a dot inside a dotted name: see
        # :func:`breakable`), never inside a word. A table wider than its column scrolls in its own
        # box, not the page. The book's stylesheet (``_static/bngan.css``) makes it compact.
        def style(column: int, *, head: bool = False) -> str:
            white_space = ("normal; min-width: 8em; overflow-wrap: normal; word-break: normal"
                           if column in self.wrap else "normal; word-break: normal" if head else "nowrap")
            return (f' style="white-space: {white_space}; vertical-align: {"bottom" if head else "top"}; '
                    'padding: 0.1em 0.8em 0.1em 0; text-align: left"')

        head = "".join(f"<th{style(i, head=True)}>{breakable(cell)}</th>" for i, cell in enumerate(self.header))
        body = "".join("<tr>" + "".join(f"<td{style(i)}>{breakable(cell) if i in self.wrap else html.escape(cell)}</td>"
                                        for i, cell in enumerate(row)) + "</tr>" for row in self.rows)
        return (f'<div style="overflow-x: auto"><table class="bngan-table"><thead><tr>{head}</tr>'
                f"</thead><tbody>{body}</tbody></table></div>")


# where a long name may break: after an underscore or a slash, and after a dot between two
# letters (``bngan.histories.overlap``, not ``0.5``); ``<wbr>`` is a break opportunity that shows
# nothing when the line does not break there
_BREAK_AFTER = re.compile(r"(_|/|(?<=[A-Za-z])\.(?=[A-Za-z]))(?=\S)")


def breakable(text: str) -> str:
    """``text`` escaped for HTML with a ``<wbr>`` (a line-break opportunity) after each underscore,
    slash, and dot between letters that is followed by more of the same word, so that a narrow
    column breaks ``final_grad_d_bottom`` as ``final_grad_d_`` / ``bottom`` and never inside a word."""
    return "".join(html.escape(part) + ("<wbr>" if i % 2 else "")
                   for i, part in enumerate(_BREAK_AFTER.split(text)))


def summary_table(results: dict[str, RunSet] | Sequence[RunSet],
                  metrics: Sequence[str] = ("recon_mse", "final_loss_d", "final_loss_g"), *,
                  robust: bool = False) -> TextTable:
    """One row per set-up: mean ± std over seeds for each metric, or with ``robust=True`` the
    median and [min, max] (for heavy tails, such as a few seeds whose fakes run away). Prints
    as aligned plain text; a notebook that displays it shows an HTML table.

    Rows are labelled by the dict's keys (RunSets of varied configs may share a name), or by
    each RunSet's ``label`` for a sequence.
    """
    sets = list(results.items()) if isinstance(results, dict) else [(rs.label, rs) for rs in results]
    header = ["setting", "seeds", "diverged"] + list(metrics)
    rows = [header]
    for label, rs in sets:
        row = [label, str(len(rs)), str(rs.n_diverged)]
        for metric in metrics:
            if robust:
                values = rs.values(metric)
                values = values[~np.isnan(values)]
                row.append(f"{np.median(values):.3g} [{values.min():.3g}, {values.max():.3g}]" if values.size else "nan")
            else:
                mean, std = rs.mean_std(metric)
                spread = f" ± {significant(std, 2)}" if np.isfinite(std) else ""  # one seed has no spread
                row.append(f"{significant(mean, 4)}{spread}")
        rows.append(row)
    return TextTable(header, rows[1:])
