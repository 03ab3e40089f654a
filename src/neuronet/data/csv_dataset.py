"""A CSV table as a dataset, for tables larger than memory.

A CSV file cannot be read at sample ``i`` without reading every line before
it, so :class:`CSVDataset` reads the file once, in chunks of rows
(``read_csv_chunks``), when it is made: every cell is checked as ``read_csv``
and the command line check them (a cell that is no number is an error naming
its line and column, before any training), and the numbers are written to a
binary file beside the system's temporary files, which batches are then read
from, memory-mapped (``NpyDataset``'s way). The file is removed with the
dataset. The process holds one chunk at a time while it reads, one batch at
a time while it trains.

The features are the columns other than the target, in file order (or those
named), stored as float32 (the library's default dtype; a model in float64
computes on them converted); a number beyond float32's range is an error
naming its cell. The target is read as numbers when every cell is one
(float32, for a regression or numeric class indices); as class labels
otherwise, each sample's class an index into ``classes`` (sorted, as the
command line sorts them).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref

import numpy as np

from .. import checks
from .csv import CellError, Table, class_order, kind, label, not_a_number, read_csv_chunks
from .dataset import ArrayDataset

CHUNK_ROWS = 65_536  # rows parsed at a time: a few MB of strings for a table of tens of columns


class CSVDataset(ArrayDataset):
    """The table of ``path`` as a dataset of ``(features, target)`` (see the module's docstring); ``features``
    names the columns to read (default: all but ``target``); ``cache_dir``: where the binary copy goes (the
    system's temporary directory if None)."""

    def __init__(
        self,
        path,
        target: str,
        features: list[str] | None = None,
        delimiter: str | None = None,
        cache_dir=None,
    ) -> None:
        self.path, self.target = os.fspath(path), target
        folder = tempfile.mkdtemp(prefix="neuronet-csv-", dir=cache_dir)
        try:
            self.features, self.classes, n = _convert(self.path, target, features, delimiter, folder)
        except BaseException:  # (now, not when the traceback that holds the dataset goes)
            _remove(folder)
            raise
        weakref.finalize(self, _remove, folder)  # (with the dataset, or at exit)
        x = np.memmap(os.path.join(folder, "x.f32"), dtype=np.float32, mode="r", shape=(n, len(self.features)))
        y_type = np.float32 if self.classes is None else np.int64
        super().__init__(x, np.memmap(os.path.join(folder, "y.bin"), dtype=y_type, mode="r", shape=(n,)))

    def __repr__(self) -> str:
        return f"CSVDataset({self.path!r}, target={self.target!r}: {self.n} samples, {len(self.features)} features)"


def _convert(path: str, target: str, features, delimiter, folder: str) -> tuple[list[str], list[str] | None, int]:
    """Read ``path`` in chunks into ``folder``'s x.f32 (the features) and y.bin (the target: float32, or int64
    class indices); return the feature names, the classes (None for numbers) and the number of rows."""
    n, names, numeric, codes = 0, None, True, {}  # codes: each label's index in order of first sight
    with open(os.path.join(folder, "x.f32"), "wb") as xs, open(os.path.join(folder, "y.bin"), "wb") as ys:
        for chunk in read_csv_chunks(path, delimiter, CHUNK_ROWS):
            if names is None:
                names = _feature_names(chunk.columns, target, features, path)
            cells = chunk.column(target)
            kinds = [kind(c) for c in cells]
            labels = not numeric or "text" in kinds
            try:
                _in_float32(chunk, names).tofile(xs)
                _check_target(chunk, target, cells, kinds)
                if not labels:
                    _in_float32(chunk, [target])[:, 0].tofile(ys)
            except CellError as exc:
                raise checks.ArgumentError(
                    f"{exc}. CSVDataset reads numbers only: fill or drop missing cells and encode text columns as "
                    "numbers (neuronet train does both)"
                ) from None
            if labels:
                if numeric:  # text at last: the numbers written so far were labels too
                    numeric = False
                    codes = _relabel_written(ys, path, delimiter, target, n)
                np.array([codes.setdefault(label(c), len(codes)) for c in cells], dtype=np.int64).tofile(ys)
            n += len(cells)
    classes = None if numeric else class_order(codes)
    if classes is not None:  # the codes of first sight, renumbered in the classes' order
        ys = np.memmap(os.path.join(folder, "y.bin"), dtype=np.int64, mode="r+", shape=(n,))
        order = np.empty(len(codes), dtype=np.int64)
        for name, code in codes.items():
            order[code] = classes.index(name)
        for lo in range(0, n, CHUNK_ROWS):
            ys[lo : lo + CHUNK_ROWS] = order[ys[lo : lo + CHUNK_ROWS]]
        ys.flush()
    return names, classes, n


def _relabel_written(ys, path: str, delimiter, target: str, n: int) -> dict[str, int]:
    """The target of the first ``n`` rows, written as numbers, written again as label codes (a column found to
    hold text after numbers: they were labels), read anew from the file so that each keeps its spelling;
    returns the codes."""
    codes: dict[str, int] = {}
    ys.seek(0)
    ys.truncate()
    for chunk in read_csv_chunks(path, delimiter, CHUNK_ROWS):
        cells = chunk.column(target)[:n]
        np.array([codes.setdefault(label(c), len(codes)) for c in cells], dtype=np.int64).tofile(ys)
        n -= len(cells)
        if not n:
            return codes
    return codes


def _check_target(chunk: Table, target: str, cells: list[str], kinds: list[str]) -> None:
    """A target cell that is missing, or a number in a spelling not read as one, is a CellError naming it (a
    text cell is a class label)."""
    for r, found in enumerate(kinds):
        if found in ("missing", "unread"):
            raise CellError(
                f"{chunk.path}, {chunk.where(r, target)} {not_a_number(cells[r])}", target, chunk.lines[r],
                found == "missing",
            )  # fmt: skip


def _in_float32(chunk: Table, names: list[str]) -> np.ndarray:
    """The named columns of a chunk as float32; a number beyond float32's range is an error naming its cell."""
    values = chunk.numeric(names)
    big = np.argwhere(np.abs(values) > np.finfo(np.float32).max)
    if len(big):
        r, c = big[0]
        raise checks.ArgumentError(
            f"{chunk.path}, {chunk.where(r, names[c])} holds {values[r, c]:g}, beyond float32's range (+-3.4e38): "
            "scale that column down"
        )
    return values.astype(np.float32)


def _feature_names(columns: list[str], target: str, features, path: str) -> list[str]:
    if target not in columns:
        raise checks.ArgumentError(f"CSVDataset: {path} has no column {target!r}; its columns are {columns}")
    if features is None:
        features = [c for c in columns if c != target]
        if not features:
            raise checks.ArgumentError(f"CSVDataset: {path} has no column besides the target {target!r} to learn from")
        return features
    if not features:
        raise checks.ArgumentError("CSVDataset: features=[] names no column to learn from")
    unknown = [c for c in features if c not in columns]
    if unknown or target in features:
        problem = f"has no column(s) {unknown}" if unknown else f"names the target {target!r} among the features"
        raise checks.ArgumentError(f"CSVDataset: features {problem}; the columns of {path} are {columns}")
    return list(features)


def _remove(folder: str) -> None:
    shutil.rmtree(folder, ignore_errors=True)
