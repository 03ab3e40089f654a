"""A CSV file's rows turned into the network's numbers without holding the table: `neuronet train` reads the file in
chunks of rows (``chunks``, and ``kept_chunks`` for the rows it keeps; `neuronet predict` and `evaluate` too),
once to check it (``table_summary.py``) and once to encode it into a binary file of float64 values, then
standardises that file, chunk by chunk, into a float32 file the training reads memory-mapped (the system reads
the pages a batch touches and may drop them again). Both files are in a folder of the system's temporary
directory, removed when the command ends, whatever happens.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from ..data import StandardScaler
from ..data.csv import Table, read_csv_chunks
from ..data.scaling import standard_statistics
from .arguments import CLIError
from .table_settings import encode, standardise
from .table_summary import TableSummary

CHUNK_CELLS = 2**18  # cells parsed (or numbers standardised) at a time: some MB of strings, or of float64


def rows_per_chunk(columns: int) -> int:
    """How many rows of ``columns`` cells make a chunk."""
    return max(1, CHUNK_CELLS // max(1, columns))


def columns(path: str, delimiter: str | None) -> list[str]:
    """The column names of ``path``'s header (and of its first row, the least a table has)."""
    return next(read_csv_chunks(path, delimiter, 1)).columns


def chunks(path: str, delimiter: str | None) -> Iterator[Table]:
    """The table of ``path`` in chunks of rows, read as they are taken (its header read first for their size)."""
    return read_csv_chunks(path, delimiter, rows_per_chunk(len(columns(path, delimiter))))


@contextmanager
def scratch() -> Iterator[str]:
    """A folder for the binary files, removed when the ``with`` block ends (by an error too)."""
    folder = tempfile.mkdtemp(prefix="neuronet-train-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def kept_chunks(path: str, delimiter: str | None, n: int, kept: np.ndarray, multiple: int = 1) -> Iterator[Table]:
    """The rows ``kept`` (of the ``n`` the file had when it was checked) in chunks of a multiple of ``multiple``
    rows (all but the last), read as they are taken; an error if the file has changed its number of rows since."""
    keep = np.zeros(n, dtype=bool)
    keep[kept] = True
    offset, rows, lines = 0, [], []
    for chunk in chunks(path, delimiter):
        dropped = np.flatnonzero(~keep[offset : offset + len(chunk.rows)])
        offset += len(chunk.rows)
        if len(dropped):
            chunk = chunk.without_rows(dropped)
        rows, lines = rows + chunk.rows, lines + chunk.lines
        cut = len(rows) // multiple * multiple
        if cut:
            yield dataclasses.replace(chunk, rows=rows[:cut], lines=lines[:cut])
            rows, lines = rows[cut:], lines[cut:]
    if offset != n:  # (the file was checked with n rows)
        raise CLIError(f"{path} changed while it was read ({n} rows, then {offset}): use a file left as it is")
    if rows:
        yield dataclasses.replace(chunk, rows=rows, lines=lines)


def encoded(
    path: str,
    delimiter: str | None,
    n: int,
    kept: np.ndarray,
    features: list[str],
    categories: dict[str, list[str]],
    folder: str,
) -> np.memmap:
    """The rows ``kept`` (of its ``n``) of the file, encoded as ``table_settings.encode`` encodes a table
    (float64), written chunk by chunk to ``folder`` and mapped back."""
    name = os.path.join(folder, "encoded.f64")
    width = None
    with open(name, "wb") as f:
        for chunk in kept_chunks(path, delimiter, n, kept):
            x = encode(chunk, features, categories)
            width = x.shape[1]
            x.tofile(f)
    return np.memmap(name, dtype=np.float64, mode="r", shape=(len(kept), width))


def fitted_scaler(x: np.ndarray, train: np.ndarray, one_hot: np.ndarray) -> StandardScaler:
    """Standardisation fitted on the training rows ``train`` of ``x``: their mean and standard deviation, summed
    a chunk of rows at a time (equal to ``StandardScaler().fit(x[train])`` to float64 rounding); one-hot columns
    (``one_hot``) are left as 0 and 1."""
    rows = rows_per_chunk(x.shape[1])

    def parts() -> Iterator[np.ndarray]:
        return (x[train[lo : lo + rows]] for lo in range(0, len(train), rows))

    mean, std = standard_statistics(parts)
    return StandardScaler(np.where(one_hot, 0.0, mean), np.where(one_hot, 1.0, std))


def standardised(
    x: np.ndarray, scaler: StandardScaler, table: TableSummary, columns: list[str], folder: str
) -> np.memmap:
    """``x`` standardised (``table_settings.standardise``: a value that cannot be is an error naming its cell,
    ``table``'s row r being x's row r) into a float32 file in ``folder``, mapped back read-only."""
    name = os.path.join(folder, "standardised.f32")
    out = np.memmap(name, dtype=np.float32, mode="w+", shape=x.shape)
    rows = rows_per_chunk(x.shape[1])
    for lo in range(0, len(x), rows):
        part = dataclasses.replace(table, n=len(x[lo : lo + rows]), lines=table.lines[lo : lo + rows])
        out[lo : lo + rows] = standardise(scaler, x[lo : lo + rows], part, columns)  # (part names its cells)
    out.flush()
    del out
    return np.memmap(name, dtype=np.float32, mode="r", shape=x.shape)
