"""Reading a CSV table with a header row into named columns, with errors a person can act on.

The delimiter is found from the header line (comma, semicolon, tab or bar)
unless given. Cells that spreadsheets and pandas read as missing ("", "NA",
"N/A", "NaN", "null", "None", "?") are missing here too: ``missing_rows``
finds them, and ``numeric`` names them rather than reading them as numbers
or as text.

A number is what a spreadsheet reads as one: ASCII digits with an optional
sign, decimal point and exponent (``12``, ``-0.5``, ``+1``, ``01``, ``.5``,
``1e-3``), within float64's range. Other spellings that Python's ``float``
would take are refused, each with its reason: ``inf`` and ``infinity``,
digits grouped with ``_`` (``1_000``), digits other than ASCII 0-9
(Arabic-Indic ``١٢``, full-width ``１２``), a comma in a number (``1,5``,
``1,000``: a decimal comma or a thousands separator, which only the file's
locale tells apart) and values beyond float64 (``1e999``). "nan" is missing.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

DELIMITERS = (",", ";", "\t", "|")
# compared in lower case
MISSING = frozenset({"", "na", "n/a", "nan", "-nan", "+nan", "null", "none", "?", "#n/a", "<na>"})
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
COMMA_NUMBER = re.compile(r"[+-]?[0-9][0-9.]*,[0-9.,]*")  # 1,5 or 1,000 or 1.000,5
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # NUL and the other control characters


def is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING


def number(cell: str) -> float | None:
    """The finite number ``cell`` spells as a spreadsheet writes one, or None if it spells none."""
    cell = cell.strip()
    if not NUMBER.fullmatch(cell):
        return None
    value = float(cell)
    return value if math.isfinite(value) else None


def is_number(cell: str) -> bool:
    return number(cell) is not None


def _looks_numeric(cell: str) -> bool:
    """Whether a reader might take ``cell`` for a number: float() takes it, or it is digits with a comma."""
    try:
        float(cell)
    except ValueError:
        return bool(COMMA_NUMBER.fullmatch(cell))
    return True


def kind(cell: str) -> str:
    """'missing', 'number', 'unread' (a number in a spelling not read as one: '1,5', '１２', 'inf', '1e999')
    or 'text'."""
    cell = cell.strip()
    if cell.lower() in MISSING:
        return "missing"
    if is_number(cell):
        return "number"
    return "unread" if _looks_numeric(cell) else "text"


def not_a_number(cell: str) -> str:
    """Why ``cell`` is not read as a number, worded to follow "line 3, column 'x' "."""
    cell = cell.strip()
    if cell.lower() in MISSING:
        return f"is missing ({cell!r})" if cell else "is empty"
    if NUMBER.fullmatch(cell):
        return f"holds {cell!r}, beyond the largest number float64 holds (about 1.8e308)"
    if cell.lower().lstrip("+-") in ("inf", "infinity"):
        return f"holds {cell!r}, an infinite value"
    if COMMA_NUMBER.fullmatch(cell):
        return (
            f"holds {cell!r}, a number written with a comma (a decimal comma or a thousands separator); numbers "
            "are read with a decimal point and no separator, e.g. 1.5 or 1000: convert the file's decimal commas"
        )
    if _looks_numeric(cell):
        grouped = "digits grouped with '_'" if "_" in cell else "digits other than ASCII 0-9"
        return f"holds {cell!r}, {grouped}, which spreadsheets do not read as a number: write it as 0-9 digits"
    return f"holds {cell!r}, which is not a number"


def label(cell: str) -> str:
    """A class label's one spelling: a number as :func:`spelling` writes it (2, 2.0, +2 and 02 are one class),
    any other text as it is, less surrounding spaces."""
    value = number(cell)
    return cell.strip() if value is None else spelling(value)


def spelling(value: float) -> str:
    """A number's one spelling as a name: whole numbers as integers ('2', '0' for -0), others as repr."""
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


class CellError(ValueError):
    """A cell that cannot be read as the number it should be; names its line and column."""

    def __init__(self, message: str, column: str, line: int, missing: bool) -> None:
        super().__init__(message)
        self.column, self.line, self.missing = column, line, missing


@dataclass
class Table:
    """A CSV file as its column names and its rows of strings; ``lines[i]`` is row i's line in the file."""

    path: str
    columns: list[str]
    rows: list[list[str]]
    lines: list[int]
    delimiter: str = ","

    def _index(self, name: str) -> int:
        if name not in self.columns:
            raise ValueError(f"{self.path}: no column named {name!r}; the columns are {self.columns}")
        return self.columns.index(name)

    def column(self, name: str) -> list[str]:
        i = self._index(name)
        return [row[i].strip() for row in self.rows]

    def missing_rows(self, names: list[str]) -> dict[int, list[str]]:
        """Row index -> the named columns whose cell is missing in that row (rows with none left out)."""
        idx = [(n, self._index(n)) for n in names]
        found = {}
        for r, row in enumerate(self.rows):
            gaps = [n for n, i in idx if is_missing(row[i])]
            if gaps:
                found[r] = gaps
        return found

    def without_rows(self, drop) -> Table:
        drop = set(drop)
        kept = [r for r in range(len(self.rows)) if r not in drop]
        return Table(
            self.path, self.columns, [self.rows[r] for r in kept], [self.lines[r] for r in kept], self.delimiter
        )

    def kinds(self, name: str) -> dict[str, list[int]]:
        """The rows of column ``name`` by the :func:`kind` of their cell (kinds with no row left out)."""
        i = self._index(name)
        found: dict[str, list[int]] = {}
        for r, row in enumerate(self.rows):
            found.setdefault(kind(row[i]), []).append(r)
        return found

    def cell(self, row: int, name: str) -> str:
        return self.rows[row][self._index(name)].strip()

    def where(self, row: int, name: str) -> str:
        """A cell's place, as a person finds it in the file: "line 4, column 'x'"."""
        return f"line {self.lines[row]}, column {name!r}"

    def numeric(self, names: list[str]) -> np.ndarray:
        """The named columns as a float64 matrix; a cell that is not a number is a CellError naming it."""
        idx = [self._index(n) for n in names]
        out = np.empty((len(self.rows), len(idx)), dtype=np.float64)
        for r, row in enumerate(self.rows):
            for c, i in enumerate(idx):
                value = number(row[i])
                if value is None:
                    raise CellError(
                        f"{self.path}, {self.where(r, names[c])} {not_a_number(row[i])}",
                        names[c],
                        self.lines[r],
                        is_missing(row[i]),
                    )
                out[r, c] = value
        return out


def _find_delimiter(first_line: str) -> str:
    """The candidate that cuts the header line into the most fields (a comma when none cuts it)."""
    counts = {d: len(next(csv.reader([first_line], delimiter=d), [])) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties keep the earlier, a comma first
    return best if counts[best] > 1 else ","


def class_order(labels) -> list[str]:
    """Class labels (as :func:`label` spells them) in their order: by value when all are numbers, else as text."""
    if all(is_number(v) for v in labels):
        return sorted(labels, key=float)
    return sorted(labels)


def read_csv(path: str | os.PathLike, delimiter: str | None = None) -> Table:
    """Read a CSV file whose first line names the columns (``delimiter``: found from that line if None)."""
    chunks = list(read_csv_chunks(path, delimiter))
    first = chunks[0]
    rows = [row for chunk in chunks for row in chunk.rows]
    return Table(first.path, first.columns, rows, [n for chunk in chunks for n in chunk.lines], first.delimiter)


def read_csv_chunks(path: str | os.PathLike, delimiter: str | None = None, rows: int | None = None) -> Iterator[Table]:
    """The table of a CSV file (as :func:`read_csv` reads it) in chunks of ``rows`` rows (all in one if None),
    each a :class:`Table` with the header's columns: the file is read as the chunks are taken, never whole."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            first = next((line for line in f if line.strip()), "")
            f.seek(0)
            reader = csv.reader(f, delimiter=delimiter or _find_delimiter(first))
            header = next((row for row in reader if row), None)
            if header is None:
                raise ValueError(f"{path} is empty; it needs a header row and at least one data row")
            delimiter = reader.dialect.delimiter
            columns = _checked_header(path, header, delimiter)
            chunk: list[tuple[int, list[str]]] = []
            found = False
            for row in reader:
                if not row:
                    continue
                if len(row) != len(columns):
                    raise ValueError(
                        f"{path}, line {reader.line_num}: {len(row)} values but the header names {len(columns)} columns"
                    )
                chunk.append((reader.line_num, row))  # the line each row ends on
                if rows is not None and len(chunk) == rows:
                    yield Table(path, columns, [r for _, r in chunk], [n for n, _ in chunk], delimiter)
                    chunk, found = [], True
            if chunk:
                yield Table(path, columns, [r for _, r in chunk], [n for n, _ in chunk], delimiter)
            elif not found:
                raise ValueError(f"{path} has a header but no data rows")
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path} is not a readable CSV text file: {exc}") from None


def _checked_header(path: str, header: list[str], delimiter: str) -> list[str]:
    """The column names of a header row: a row of numbers (data, no header) or repeated names refused."""
    columns = [c.strip() for c in header]
    if all(is_number(c) for c in columns):
        shown = delimiter.join(columns[:4]) + (delimiter + "..." if len(columns) > 4 else "")
        raise ValueError(
            f"{path}: its first line ({shown}) holds only numbers, so the file has no header row naming the "
            "columns; add one as its first line (e.g. x1,x2,label)"
        )
    if len(set(columns)) != len(columns):
        raise ValueError(f"{path}: column names must be unique, got {columns}")
    return columns
