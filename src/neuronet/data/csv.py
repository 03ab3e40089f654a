"""Reading a CSV table with a header row into named columns, with errors a person can act on."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass

import numpy as np


@dataclass
class Table:
    """A CSV file as its column names and its rows of strings."""

    path: str
    columns: list[str]
    rows: list[list[str]]

    def column(self, name: str) -> list[str]:
        if name not in self.columns:
            raise ValueError(f"{self.path}: no column named {name!r}; the columns are {self.columns}")
        i = self.columns.index(name)
        return [row[i].strip() for row in self.rows]

    def numeric(self, names: list[str]) -> np.ndarray:
        """The named columns as a float64 matrix; a blank or non-numeric cell is an error naming it."""
        missing = [n for n in names if n not in self.columns]
        if missing:
            raise ValueError(f"{self.path}: missing column(s) {missing}; the columns are {self.columns}")
        idx = [self.columns.index(n) for n in names]
        out = np.empty((len(self.rows), len(idx)), dtype=np.float64)
        for r, row in enumerate(self.rows):
            for c, i in enumerate(idx):
                cell = row[i].strip()
                try:
                    out[r, c] = float(cell)
                except ValueError:
                    what = "is empty" if not cell else f"holds {cell!r}, which is not a number"
                    raise ValueError(
                        f"{self.path}, line {r + 2}, column {names[c]!r} {what}; "
                        "features must be numeric (encode categories as numbers first)"
                    ) from None
        if not np.isfinite(out).all():
            raise ValueError(f"{self.path}: the columns {names} hold NaN or infinite values; clean them first")
        return out


def read_csv(path: str | os.PathLike) -> Table:
    """Read a CSV file whose first line names the columns."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [row for row in csv.reader(f) if row]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path} is not a readable CSV text file: {exc}") from None
    if not rows:
        raise ValueError(f"{path} is empty; it needs a header row and at least one data row")
    columns = [c.strip() for c in rows[0]]
    if len(set(columns)) != len(columns):
        raise ValueError(f"{path}: column names must be unique, got {columns}")
    body = rows[1:]
    if not body:
        raise ValueError(f"{path} has a header but no data rows")
    for n, row in enumerate(body, start=2):
        if len(row) != len(columns):
            raise ValueError(f"{path}, line {n}: {len(row)} values but the header names {len(columns)} columns")
    return Table(path, columns, body)
