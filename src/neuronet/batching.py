"""Mini-batches: cutting a data set into batches, freshly shuffled each epoch."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from . import backend


def batches(x, y=None, batch_size: int = 32, shuffle: bool = True, rng: np.random.Generator | None = None) -> Iterator:
    """Yield ``(x_batch, y_batch)`` (or ``x_batch`` when ``y`` is None) covering the data once.

    Unshuffled batches are views (no copy); shuffled ones are one gather each.
    The order comes from ``rng``, by default the library's seeded generator.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n = len(x)
    order = (rng or backend.rng()).permutation(n) if shuffle else None
    for lo in range(0, n, batch_size):
        # a slice gives a view; shuffled, one fancy-index gather per batch (np.take with out= measured 3x slower)
        part = slice(lo, lo + batch_size) if order is None else order[lo : lo + batch_size]
        yield x[part] if y is None else (x[part], y[part])
