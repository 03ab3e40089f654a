"""What the command's checks need of a CSV table, gathered a chunk of rows at a time: per column, the kinds of
its cells (how many, and the first few with their rows), its missing cells' rows, a text column's distinct
values and each row's value among them, the first cell holding a control character; per row, its line in the
file; for the target, each row's class label (a code) and number.

``reading.py`` checks a table from this summary alone, so a file is checked whole without being held whole:
``summarise(read_csv_chunks(...), target)`` reads it chunk by chunk, ``summarise([table], target)`` a table in
memory. What it keeps grows with the rows by a few numbers a row, not with the cells.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ..data import Table
from ..data.csv import COMMA_NUMBER, CONTROL, kind, label, number

FIRST = 6  # cells kept of each kind: a message names the first and the lines of the next five
MAX_DISTINCT = 10_000  # distinct texts counted in a column; more are "more than" this (an id or free text)
MAX_CATEGORIES = 100  # a text feature with more values than this (or than half the rows) is an id or free text


@dataclass
class Cells:
    """The cells of one kind in a column: how many, the first ``FIRST`` as (row, cell), and whether all of them
    are numbers written with a comma."""

    count: int = 0
    first: list[tuple[int, str]] = field(default_factory=list)
    commas: bool = True

    def add(self, row: int, cell: str) -> None:
        self.count += 1
        if len(self.first) < FIRST:
            self.first.append((row, cell))
        self.commas = self.commas and bool(COMMA_NUMBER.fullmatch(cell))

    def __add__(self, other: Cells) -> Cells:
        """The cells of both kinds (a column's text and unread cells, both not numbers)."""
        first = sorted(self.first + other.first)[:FIRST]
        return Cells(self.count + other.count, first, self.commas and other.commas)

    @property
    def rows(self) -> list[int]:
        return [r for r, _ in self.first]


@dataclass
class Column:
    """One column's summary (see the module's docstring); ``values`` is None once a number is seen (the column
    is no text column then), ``codes`` (each row's index into ``values``, -1 for a missing cell) None once it
    holds more than ``MAX_CATEGORIES`` values."""

    kinds: dict[str, Cells] = field(default_factory=dict)
    missing: list[np.ndarray] = field(default_factory=list)
    control: tuple[int, str] | None = None
    values: dict[str, int] | None = field(default_factory=dict)
    more_values: bool = False  # more than MAX_DISTINCT distinct texts
    codes: list[np.ndarray] | None = field(default_factory=list)
    whole: list[np.ndarray] | None = None  # the first column's cells as whole numbers (a pandas index?)
    labels: dict[str, int] | None = None  # the target's labels, coded in order of first sight
    label_codes: list[np.ndarray] = field(default_factory=list)
    numbers: list[np.ndarray] = field(default_factory=list)  # the target's numbers, NaN where a cell is none

    def rows_coded(self) -> np.ndarray:
        return np.concatenate(self.codes)

    def missing_rows(self) -> np.ndarray:
        return np.concatenate(self.missing) if self.missing else np.zeros(0, dtype=np.int64)


@dataclass
class TableSummary:
    """A CSV table summarised: its ``path``, ``columns``, number of rows ``n``, each row's line ``lines``, and a
    :class:`Column` per column (``column(name)``)."""

    path: str
    columns: list[str]
    n: int
    lines: np.ndarray
    summaries: dict[str, Column]

    def column(self, name: str) -> Column:
        return self.summaries[name]

    def kinds(self, name: str) -> dict[str, Cells]:
        return self.summaries[name].kinds

    def where(self, row: int, name: str) -> str:
        """A cell's place, as a person finds it in the file: "line 4, column 'x'"."""
        return f"line {self.lines[row]}, column {name!r}"

    def labels(self, name: str) -> tuple[dict[str, int], np.ndarray]:
        """The target's labels (coded in order of first sight) and each row's code."""
        column = self.summaries[name]
        return column.labels, np.concatenate(column.label_codes)

    def numbers(self, name: str) -> np.ndarray:
        """The target's cells as float64, NaN where a cell is no number."""
        return np.concatenate(self.summaries[name].numbers)


def summarise(chunks: Iterable[Table], target: str | None = None) -> TableSummary:
    """The summary of a table given as chunks of rows (a single table is one chunk); ``target``: the column
    whose labels and numbers are kept for every row (if the table has it)."""
    summaries: dict[str, Column] = {}
    lines, n, first = [], 0, None
    for chunk in chunks:
        if first is None:
            first = chunk
            summaries = {name: Column() for name in chunk.columns}
            if chunk.columns[0] == "":
                summaries[""].whole = []
            if target in summaries:
                summaries[target].labels = {}
        for i, name in enumerate(chunk.columns):
            _add(summaries[name], [row[i].strip() for row in chunk.rows], n, name == target)
        lines.append(np.asarray(chunk.lines, dtype=np.int64))
        n += len(chunk.rows)
    return TableSummary(first.path, first.columns, n, np.concatenate(lines), summaries)


def _add(column: Column, cells: list[str], offset: int, target: bool) -> None:
    """The chunk's ``cells`` (rows ``offset`` on) added to ``column``'s summary."""
    kinds = [kind(cell) for cell in cells]
    others = [r for r, k in enumerate(kinds) if k != "number"]  # (a number holds no control character)
    if len(others) < len(cells):  # a number column's count and first cell, not each number's row
        found = column.kinds.setdefault("number", Cells())
        if not found.first:
            r = kinds.index("number")
            found.first.append((offset + r, cells[r]))
        found.count += len(cells) - len(others)
    for r in others:
        cell = cells[r]
        column.kinds.setdefault(kinds[r], Cells()).add(offset + r, cell)
        if column.control is None and CONTROL.search(cell):
            column.control = (offset + r, cell)
    missing = [offset + r for r in others if kinds[r] == "missing"]
    if missing:
        column.missing.append(np.array(missing, dtype=np.int64))
    _add_values(column, cells, kinds)
    if column.whole is not None:
        if all(cell.isascii() and cell.isdigit() for cell in cells):
            column.whole.append(np.array([int(cell) for cell in cells], dtype=np.int64))
        else:
            column.whole = None
    if target:
        column.label_codes.append(
            np.array([column.labels.setdefault(label(cell), len(column.labels)) for cell in cells], dtype=np.int64)
        )
        column.numbers.append(np.array([number(cell) if k == "number" else np.nan for cell, k in zip(cells, kinds)]))


def _add_values(column: Column, cells: list[str], kinds: list[str]) -> None:
    """A text column's distinct values and rows' codes (given up when a number shows it is no text column)."""
    if column.values is None:
        return
    if "number" in kinds:
        column.values = column.codes = None
        return
    values = column.values
    codes = []
    for cell, k in zip(cells, kinds):
        if k == "missing":
            codes.append(-1)
        elif cell in values:
            codes.append(values[cell])
        elif len(values) < MAX_DISTINCT:
            codes.append(values.setdefault(cell, len(values)))
        else:
            column.more_values = True
            codes.append(-1)
    if column.codes is not None:
        column.codes = None if len(values) > MAX_CATEGORIES else [*column.codes, np.array(codes, dtype=np.int32)]
