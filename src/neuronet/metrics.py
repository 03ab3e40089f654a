"""Metrics: how good the predictions are, in numbers a person reads.

Each takes ``(y_true, y_pred)``. ``y_pred`` may be labels or probabilities:
2-D scores are turned into labels by argmax, binary probabilities by the
threshold 0.5.
"""

from __future__ import annotations

import numpy as np


def to_labels(y) -> np.ndarray:
    """Class labels from labels, one-hot rows, class scores or binary probabilities."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    y = y.reshape(len(y))
    if y.dtype.kind == "f" and y.size and ((y != 0) & (y != 1)).any():
        return (y > 0.5).astype(np.int64)
    return y.astype(np.int64)


def accuracy(y_true, y_pred) -> float:
    """Fraction of samples whose predicted class equals the true class."""
    t, p = to_labels(y_true), to_labels(y_pred)
    if t.shape != p.shape:
        raise ValueError(f"accuracy: {t.shape[0]} true labels but {p.shape[0]} predictions")
    return float((t == p).mean())


METRICS = {"accuracy": accuracy}


def get(metric):
    """A metric function from a name or a callable; returns (name, function)."""
    if callable(metric):
        return metric.__name__, metric
    if isinstance(metric, str) and metric.lower() in ("accuracy", "acc"):
        return "accuracy", accuracy
    raise ValueError(f"unknown metric {metric!r}; use one of {sorted(METRICS)} or a function (y_true, y_pred)")
