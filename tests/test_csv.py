"""Reading CSV cells: numbers as a spreadsheet reads them, other spellings refused with their reason, one
spelling per numeric class label (issue 20, items 3 and 4)."""

import pytest

from neuronet.data import read_csv
from neuronet.data.csv import CellError, kind, label, not_a_number, number


@pytest.mark.parametrize(
    "cell, value",
    [("12", 12.0), ("-0.5", -0.5), ("+1", 1.0), ("01", 1.0), (".5", 0.5), ("1.", 1.0), ("1e-3", 1e-3),
     ("1E5", 1e5), (" 7 ", 7.0), ("-0", 0.0), ("1.7e308", 1.7e308)],
)  # fmt: skip
def test_numbers_a_spreadsheet_reads_are_numbers(cell, value):
    assert number(cell) == value and kind(cell) == "number"


@pytest.mark.parametrize(
    "cell, reason",
    [
        ("1_000", "digits grouped with '_'"),
        ("١٢", "digits other than ASCII 0-9"),
        ("１２", "digits other than ASCII 0-9"),
        ("inf", "an infinite value"),
        ("-Infinity", "an infinite value"),
        ("1e999", "beyond the largest number float64 holds"),
        ("1,5", "a number written with a comma"),
        ("1.000,5", "a number written with a comma"),
    ],
)
def test_spellings_only_pythons_float_reads_are_not_numbers(cell, reason):
    """float() takes each of these; a spreadsheet does not, and neither does neuronet."""
    assert number(cell) is None and kind(cell) == "unread"
    assert not_a_number(cell).startswith(f"holds {cell!r}, ") and reason in not_a_number(cell)


@pytest.mark.parametrize("cell", ["tall", "0x10", "1 000", "12 kg", "\x00"])
def test_text_is_text(cell):
    assert number(cell) is None and kind(cell) == "text"
    assert not_a_number(cell).endswith("which is not a number")


@pytest.mark.parametrize("cell", ["", "NA", "nan", "+nan", "?"])
def test_missing_is_missing(cell):
    assert kind(cell) == "missing" and number(cell) is None


@pytest.mark.parametrize(
    "cells, spelt",
    [(["2", "2.0", "+2", "02", "2e0", " 2 "], "2"), (["0", "-0", "0.0"], "0"), (["1", "+1", "01", "1e0"], "1"),
     (["0.5", ".5", "5e-1"], "0.5"), (["-3", "-3.00"], "-3"), (["1e20"], "1e+20")],
)  # fmt: skip
def test_a_numeric_label_has_one_spelling(cells, spelt):
    assert {label(c) for c in cells} == {spelt}


def test_text_labels_keep_their_spelling():
    assert [label(c) for c in ["cat ", "Cat", "١٢", "1_000"]] == ["cat", "Cat", "١٢", "1_000"]


def test_a_table_names_the_cell_it_cannot_read(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n3,١٢\n", encoding="utf-8")
    table = read_csv(path)
    with pytest.raises(CellError, match=r"line 3, column 'b' holds '١٢', digits other than ASCII") as info:
        table.numeric(["a", "b"])
    assert (info.value.column, info.value.line, info.value.missing) == ("b", 3, False)
    assert table.numeric(["a"]).tolist() == [[1.0], [3.0]]
    assert table.kinds("b") == {"number": [0], "unread": [1]}
