"""Mini-batches: cutting a data set into batches, freshly shuffled each epoch."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from . import checks, settings


def batch_bounds(n: int, batch_size: int, min_last: int = 1) -> list[tuple[int, int]]:
    """Where each batch of ``n`` samples starts and ends: ``batch_size`` samples each, the last one what is
    left, unless that is fewer than ``min_last`` samples, which then join the batch before it."""
    bounds = [(lo, min(lo + batch_size, n)) for lo in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < min_last:
        _, end = bounds.pop()
        bounds[-1] = (bounds[-1][0], end)
    return bounds


def batch_rows(
    n: int, batch_size: int, shuffle: bool, rng: np.random.Generator | None = None, min_last: int = 1
) -> Iterator[slice | np.ndarray]:
    """The rows of each batch of one pass over ``n`` samples: slices in order, or with ``shuffle`` the parts of
    one permutation drawn from ``rng`` (by default the library's seeded generator)."""
    order = (rng or settings.rng()).permutation(n) if shuffle else None
    for lo, hi in batch_bounds(n, batch_size, min_last):
        yield slice(lo, hi) if order is None else order[lo:hi]


def count(rows: slice | np.ndarray) -> int:
    """The number of samples of a batch's rows (a slice, or an index array)."""
    return rows.stop - rows.start if isinstance(rows, slice) else len(rows)


def part_of(rows: slice | np.ndarray, part: slice) -> slice | np.ndarray:
    """The rows ``part`` of a batch whose rows are ``rows`` (a slice of a slice stays a slice)."""
    if isinstance(rows, slice):
        return slice(rows.start + part.start, rows.start + part.stop)
    return rows[part]


def batches(
    x,
    y=None,
    batch_size: int = 32,
    shuffle: bool = True,
    rng: np.random.Generator | None = None,
    min_last: int = 1,
    sample_weight=None,
) -> Iterator:
    """Yield ``(x_batch, y_batch)`` (or ``x_batch`` when ``y`` is None; ``(x_batch, y_batch, w_batch)`` with
    ``sample_weight``, the weights following their samples) covering the data once.

    Unshuffled batches are views (no copy); shuffled ones are one gather each.
    The order comes from ``rng``, by default the library's seeded generator.
    A last batch of fewer than ``min_last`` samples is folded into the one before.
    """
    batch_size = checks.integer(batch_size, "batch_size", low=1)
    # a slice gives a view; shuffled, one fancy-index gather per batch (np.take with out= is slower)
    for part in batch_rows(len(x), batch_size, shuffle, rng, min_last):
        if sample_weight is not None:
            yield x[part], y[part], sample_weight[part]
        else:
            yield x[part] if y is None else (x[part], y[part])
