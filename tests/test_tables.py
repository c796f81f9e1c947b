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
    assert 'overflow-x: auto' in markup and markup.count("nowrap") == 6  # scrolls, never wraps a cell


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


def test_only_the_columns_named_in_wrap_may_wrap():
    from bngan.tables import TextTable

    table = TextTable(("claim", "number"), [("a long sentence", "350.8 ± 59")], wrap=(0,))
    cells = table._repr_html_().split("<t")[1:]
    styles = [c for c in cells if c.startswith(("h ", "d ", "h style", "d style"))]
    assert [("normal" in c, "nowrap" in c) for c in styles] == [(True, False), (False, True)] * 2
    assert TextTable(("a",), [("x",)], wrap=True).wrap == {0} and TextTable(("a",), [("x",)]).wrap == set()


def test_significant_never_writes_a_large_value_in_exponent_form():
    from bngan.tables import significant

    assert significant(104.2, 2) == "104" and significant(0.00012345, 2) == "0.00012" and significant(7.77, 2) == "7.8"
