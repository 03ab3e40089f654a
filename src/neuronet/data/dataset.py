"""Datasets: samples read a batch at a time, for data larger than memory.

A dataset is any object with ``__len__()``, its number of samples, and
``__getitem__(indices)``, which for an array of sample indices (sorted, as
fit asks) returns ``(x, y)`` for those samples, ``(x, y, sample_weight)``, or
``x`` alone for prediction; ``x`` is a list of arrays for a model of several
inputs. It is PyTorch's map-style ``Dataset`` and Keras's ``PyDataset``, asked
for a whole batch at once, so that a file is read in one sweep rather than
sample by sample. ``fit``, ``evaluate`` and ``predict`` take one where they
take arrays (``samples.py`` reads it for them).

- :class:`ArrayDataset`: arrays or ``np.memmap``s, read one batch at a time;
- :class:`NpyDataset`: ``.npy`` files, memory-mapped: the system reads the
  pages a batch touches and may drop them again, so the process holds one
  batch, whatever the file's size;
- :class:`Subset`: some samples of a dataset (``validation_split`` cuts one
  this way);
- ``CSVDataset`` (``csv_dataset.py``): a CSV table, read in chunks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from .. import checks
from ..several import Several


def is_dataset(data) -> bool:
    """Whether ``data`` is a dataset rather than an array: it has ``__len__`` and ``__getitem__`` but no
    ``__array__`` (which arrays, memmaps, tensors and data frames have) and is no list, tuple or ``Several`` of
    arrays, no text, range or mapping."""
    if isinstance(data, (np.ndarray, list, tuple, Several, str, bytes, range, Mapping)) or hasattr(data, "__array__"):
        return False
    return hasattr(data, "__len__") and hasattr(data, "__getitem__")


class ArrayDataset:
    """Samples held in arrays (or ``np.memmap``s, or lists of them for several inputs or outputs), read one
    batch at a time: ``dataset[indices]`` is ``(x[indices], y[indices])``."""

    sources = ("x", "y")  # what an error calls the inputs and the targets

    def __init__(self, x, y=None) -> None:
        self.x, self.y = x, y
        owner, (x_name, y_name) = type(self).__name__, self.sources
        self.n = _length(x, x_name, owner)
        if y is not None and _length(y, y_name, owner) != self.n:
            raise checks.ArgumentError(
                f"{owner}: {x_name} holds {self.n} samples but {y_name} holds {_length(y, y_name, owner)}: give one "
                "target per sample"
            )

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, indices) -> tuple:
        return _take(self.x, indices), None if self.y is None else _take(self.y, indices)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.n} samples)"


class NpyDataset(ArrayDataset):
    """Samples in ``.npy`` files (``x_path``, and ``y_path`` with the targets), memory-mapped, never loaded
    whole: ``np.save(path, array)`` writes one. Files holding Python objects are refused (they would be
    unpickled)."""

    def __init__(self, x_path, y_path=None) -> None:
        self.x_path, self.y_path = os.fspath(x_path), None if y_path is None else os.fspath(y_path)
        self.sources = (f"x_path {self.x_path!r}", f"y_path {self.y_path!r}")
        super().__init__(_mapped(self.x_path, "x_path"), None if y_path is None else _mapped(self.y_path, "y_path"))

    def __repr__(self) -> str:
        return f"NpyDataset({self.x_path!r}, {self.y_path!r}: {self.n} samples)"


class Subset:
    """The samples ``indices`` (in that order) of ``dataset``, as a dataset of their own."""

    def __init__(self, dataset, indices) -> None:
        if not is_dataset(dataset):
            raise checks.ArgumentError(
                f"Subset takes a dataset (an object with __len__ and __getitem__(indices)), got a "
                f"{type(dataset).__name__}"
            )
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)
        n = len(dataset)
        if self.indices.ndim != 1 or (self.indices.size and not 0 <= self.indices.min() <= self.indices.max() < n):
            raise checks.ArgumentError(f"Subset: indices must be a 1-D array of sample indices in [0, {n})")

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, indices):
        return self.dataset[self.indices[indices]]

    def __repr__(self) -> str:
        return f"Subset({self.dataset!r}, {len(self)} samples)"


def _length(data, name: str, owner: str) -> int:
    """The number of samples of an array or of a list of arrays that agree (``owner``: the dataset's class, for
    an error)."""
    parts = data if isinstance(data, (list, tuple)) else [data]
    counts = []
    for k, part in enumerate(parts):
        shape = getattr(part, "shape", None)
        if not shape:
            what = f"{name}[{k}]" if isinstance(data, (list, tuple)) else name
            raise checks.ArgumentError(
                f"{owner}: {what} must be an array with a batch axis first (a NumPy array or np.memmap), got "
                f"{type(part).__name__}{' of shape ()' if shape == () else ''}"
            )
        counts.append(shape[0])
    if not counts or len(set(counts)) > 1:
        raise checks.ArgumentError(f"{owner}: the arrays of {name} must hold as many samples each, got {counts}")
    return counts[0]


def _take(data, indices):
    """The rows ``indices`` of an array, or of each array of a list."""
    if isinstance(data, (list, tuple)):
        return [part[indices] for part in data]
    return data[indices]


def _mapped(path: str, name: str) -> np.memmap:
    """The array of a ``.npy`` file, memory-mapped read-only; a clear error for a file that holds none."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"NpyDataset: {name} {path!r} does not exist")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise checks.ArgumentError(
            f"NpyDataset: {name} {path!r} is not an .npy file of numbers (np.save writes one): {exc}"
        ) from None
    if not isinstance(array, np.ndarray) or array.ndim < 1:
        raise checks.ArgumentError(f"NpyDataset: {name} {path!r} must hold an array with a batch axis first")
    return array
