"""Summary tables print as aligned text and display as HTML tables in a notebook."""

from __future__ import annotations

import pytest

from bngan.tables import TextTable


def test_text_form_is_aligned_and_still_a_string():
    table = TextTable(["setting", "fid"], [["a", "1 ± 2"], ["longer name", "30 ± 4"]])
    lines = str(table).splitlines()
    assert lines[0].split() == ["setting", "fid"] and set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].index("1 ± 2") == lines[3].index("30 ± 4") == lines[0].index("fid")
    assert isinstance(table, str) and "longer name" in table
    assert all(line == line.rstrip() for line in lines)
    assert repr(table) == str(table)  # a notebook's text/plain form is the table, not a quoted string


def test_html_form_has_every_cell_escaped():
    table = TextTable(["setting", "x<y"], [["a & b", "1"], ["c", "<b>2</b>"]])
    markup = table._repr_html_()
    assert markup.count("<tr>") == 3 and markup.count("<td ") == 4 and markup.count("<th ") == 2
    assert ">x&lt;y</th>" in markup and ">a &amp; b</td>" in markup and "&lt;b&gt;2&lt;/b&gt;" in markup
    # scrolls in its box; no value cell wraps (the two header labels may, between words)
    assert 'overflow-x: auto' in markup and markup.count("nowrap") == 4


def test_rows_must_match_the_header():
    with pytest.raises(ValueError, match="2 cells"):
        TextTable(["a", "b"], [["only one"]])


def test_summary_table_is_a_text_table_of_the_seed_statistics():
    import numpy as np

    from bngan.experiments import RunSet, summary_table
    from types import SimpleNamespace

    runs = [SimpleNamespace(status="complete", metrics={"fid": v}, seed=i) for i, v in enumerate((1.0, 3.0))]
    table = summary_table({"set-up": RunSet("x", None, runs)}, ("fid",))
    assert isinstance(table, TextTable)
    assert table.header == ("setting", "seeds", "diverged", "fid")
    assert table.rows == (("set-up", "2", "0", f"2 ± {np.std([1.0, 3.0], ddof=1):.2g}"),)
    one = summary_table({"one seed": RunSet("x", None, runs[:1])}, ("fid",))
    assert one.rows == (("one seed", "1", "0", "1"),)  # no "± nan": one seed has no spread


def test_only_the_columns_named_in_wrap_may_wrap():
    from bngan.tables import TextTable

    table = TextTable(("claim", "number"), [("a long sentence", "350.8 ± 59")], wrap=(0,))
    cells = table._repr_html_().split("<t")[1:]
    styles = [c for c in cells if c.startswith(("h ", "d ", "h style", "d style"))]
    # header labels may wrap in every column; of the values only the sentence column's do
    assert [("normal" in c, "nowrap" in c) for c in styles] == [(True, False), (True, False), (True, False), (False, True)]
    assert TextTable(("a",), [("x",)], wrap=True).wrap == {0} and TextTable(("a",), [("x",)]).wrap == set()


def test_significant_never_writes_a_large_value_in_exponent_form():
    from bngan.tables import significant

    assert significant(104.2, 2) == "104" and significant(0.00012345, 2) == "0.00012" and significant(7.77, 2) == "7.8"


def test_long_names_break_only_at_underscores_slashes_and_dotted_names():
    """A narrow column must read ``final_grad_d_`` / ``bottom``, never ``final_grad_d_botto`` / ``m``
    (issue 48): header labels and the cells of wrapping columns get a break opportunity after each
    underscore, slash and dot inside a dotted name, and nothing lets the browser break elsewhere."""
    from bngan.tables import breakable

    table = TextTable(("setting", "final_grad_d_bottom", "comparison"),
                      [("BN", "0.2678 ± 0.1", "BN vs no BN: final_grad_d_bottom (higher is better)"),
                       ("no BN", "0.06 ± 0.01", "bngan.histories.overlap of G/D/both, 0.5 apart")], wrap=(2,))
    markup = table._repr_html_()
    assert markup.startswith('<div style="overflow-x: auto"><table')  # what tests/test_book.py checks in chapters
    assert ">final_<wbr>grad_<wbr>d_<wbr>bottom</th>" in markup
    assert ">BN vs no BN: final_<wbr>grad_<wbr>d_<wbr>bottom (higher is better)</td>" in markup
    assert "bngan.<wbr>histories.<wbr>overlap of G/<wbr>D/<wbr>both, 0.5 apart" in markup  # not inside 0.5
    assert ">0.2678 ± 0.1</td>" in markup  # a value column: no break opportunities, and nowrap
    assert "anywhere" not in markup and "break-all" not in markup and "word-break: normal" in markup
    assert markup.count("<wbr>") == 3 + 3 + 4  # header, row 1's comparison, row 2's comparison
    assert breakable("x_") == "x_" and breakable("a_ b") == "a_ b"  # nothing after a trailing one
    assert breakable("a<b_c") == "a&lt;b_<wbr>c"  # still escaped
    assert str(table).splitlines()[0].split() == ["setting", "final_grad_d_bottom", "comparison"]  # text unchanged


def test_the_book_stylesheet_keeps_words_whole_and_tables_in_their_box():
    """The committed chapter outputs hold tables rendered before the break opportunities existed
    (inline ``overflow-wrap: anywhere``): the site's stylesheet overrides that for every bngan table."""
    from pathlib import Path

    css = (Path(__file__).resolve().parents[1] / "_static" / "bngan.css").read_text()
    rules = css.split("}")
    cells = next(r for r in rules if "table.bngan-table td" in r and "word-break" in r)
    assert "word-break: normal !important" in cells and "overflow-wrap: normal !important" in cells
    assert any("div:has(> table.bngan-table)" in r and "overflow-x: auto" in r for r in rules)
    assert any("table.bngan-table th" in r and "white-space: normal !important" in r for r in rules)
