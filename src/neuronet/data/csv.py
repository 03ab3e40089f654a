"""Reading a CSV table with a header row into named columns, with errors a person can act on.

The delimiter is found from the header line (comma, semicolon, tab or bar)
unless given. Cells that spreadsheets and pandas read as missing ("", "NA",
"N/A", "NaN", "null", "None", "?") are missing here too: ``missing_rows``
finds them, and ``numeric`` names them rather than reading them as numbers
or as text.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass

import numpy as np

DELIMITERS = (",", ";", "\t", "|")
MISSING = frozenset({"", "na", "n/a", "nan", "-nan", "null", "none", "?", "#n/a", "<na>"})  # compared in lower case


def is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING


def is_number(cell: str) -> bool:
    try:
        return math.isfinite(float(cell))
    except ValueError:
        return False


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

    def numeric(self, names: list[str]) -> np.ndarray:
        """The named columns as a float64 matrix; a missing or non-numeric cell is a CellError naming it."""
        idx = [self._index(n) for n in names]
        out = np.empty((len(self.rows), len(idx)), dtype=np.float64)
        for r, row in enumerate(self.rows):
            for c, i in enumerate(idx):
                cell = row[i].strip()
                try:
                    out[r, c] = float(cell)
                except ValueError:
                    missing = is_missing(cell)
                    if missing:
                        what = f"is missing ({cell!r})" if cell else "is empty"
                    else:
                        what = f"holds {cell!r}, which is not a number"
                    raise CellError(
                        f"{self.path}, line {self.lines[r]}, column {names[c]!r} {what}",
                        names[c],
                        self.lines[r],
                        missing,
                    ) from None
                if not math.isfinite(out[r, c]):  # "inf" parses as a number
                    raise CellError(
                        f"{self.path}, line {self.lines[r]}, column {names[c]!r} holds {cell!r}, which is not finite",
                        names[c],
                        self.lines[r],
                        False,
                    )
        return out


def _find_delimiter(first_line: str) -> str:
    """The candidate that cuts the header line into the most fields (a comma when none cuts it)."""
    counts = {d: len(next(csv.reader([first_line], delimiter=d), [])) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties keep the earlier, a comma first
    return best if counts[best] > 1 else ","


def read_csv(path: str | os.PathLike, delimiter: str | None = None) -> Table:
    """Read a CSV file whose first line names the columns (``delimiter``: found from that line if None)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            text = f.read()
        first = next((line for line in text.splitlines() if line.strip()), "")
        reader = csv.reader(io.StringIO(text), delimiter=delimiter or _find_delimiter(first))
        numbered = [(reader.line_num, row) for row in reader if row]  # the line each row ends on
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path} is not a readable CSV text file: {exc}") from None
    if not numbered:
        raise ValueError(f"{path} is empty; it needs a header row and at least one data row")
    delimiter = reader.dialect.delimiter
    _, header = numbered[0]
    columns = [c.strip() for c in header]
    if all(is_number(c) for c in columns):
        shown = delimiter.join(columns[:4]) + (delimiter + "..." if len(columns) > 4 else "")
        raise ValueError(
            f"{path}: its first line ({shown}) holds only numbers, so the file has no header row naming the "
            "columns; add one as its first line (e.g. x1,x2,label)"
        )
    if len(set(columns)) != len(columns):
        raise ValueError(f"{path}: column names must be unique, got {columns}")
    body = numbered[1:]
    if not body:
        raise ValueError(f"{path} has a header but no data rows")
    for n, row in body:
        if len(row) != len(columns):
            raise ValueError(f"{path}, line {n}: {len(row)} values but the header names {len(columns)} columns")
    return Table(path, columns, [row for _, row in body], [n for n, _ in body], delimiter)
