"""Feature scaling, fitted on training data only so no information leaks from validation or test data."""

from __future__ import annotations

import numpy as np

from .. import arrays, settings
from ..checks import ArgumentError


def _nonzero(scale: np.ndarray) -> np.ndarray:
    return np.where(scale > 0, scale, 1.0)  # a constant feature maps to 0 instead of dividing by 0


class Scaler:
    """x' = (x - shift) / scale per feature; subclasses choose shift and scale in ``statistics``."""

    def statistics(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def fit(self, x):
        name = f"{type(self).__name__}.fit's x"
        x = arrays.as_array(x, name).astype(np.float64)
        if x.ndim < 2 or x.shape[0] == 0:
            raise ArgumentError(
                f"{name} must be (samples, features) with at least one sample, got shape {x.shape}; "
                "one feature is x.reshape(-1, 1)"
            )
        bad = ~np.isfinite(x)
        if bad.any():  # a NaN mean or an infinite std would turn every value of the feature into NaN
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ArgumentError(
                f"{name} holds {int(bad.sum())} NaN or infinite value(s), the first x{list(first)} = {x[first]}; "
                "clean or impute them first"
            )
        self.shift, scale = self.statistics(x)
        self.scale = _nonzero(scale)
        return self

    def transform(self, x) -> np.ndarray:
        if getattr(self, "shift", None) is None:
            raise RuntimeError(f"call {type(self).__name__}.fit on the training data before transform")
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-1] != self.shift.shape[-1]:
            raise ValueError(f"{type(self).__name__} was fitted on {self.shift.shape[-1]} features, got {x.shape[-1]}")
        # not (x - shift) / scale: the difference of two values near +-1.8e308 overflows
        return x / self.scale - self.shift / self.scale

    def fit_transform(self, x) -> np.ndarray:
        return self.fit(x).transform(x)

    def inverse_transform(self, x) -> np.ndarray:
        return np.asarray(x, dtype=np.float64) * self.scale + self.shift


class StandardScaler(Scaler):
    """x' = (x - mean) / std per feature, with the training data's mean and standard deviation."""

    def __init__(self, mean=None, std=None) -> None:
        self.shift = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.scale = None if std is None else _nonzero(np.asarray(std, dtype=np.float64))

    def statistics(self, x):
        return standard_statistics(lambda: iter((x,)))

    def get_config(self) -> dict:
        return {"mean": self.shift.tolist(), "std": self.scale.tolist()}


class MinMaxScaler(Scaler):
    """x' = (x - min) / (max - min) per feature, mapping the training range to [0, 1]."""

    def __init__(self, minimum=None, maximum=None) -> None:
        self.shift = None if minimum is None else np.asarray(minimum, dtype=np.float64)
        self.scale = None if maximum is None else _nonzero(np.asarray(maximum, dtype=np.float64) - self.shift)

    def statistics(self, x):
        low, high = x.min(axis=0), x.max(axis=0)
        with np.errstate(over="ignore"):  # a span beyond float64 is refused just below
            span = high - low
        wide = np.flatnonzero(~np.isfinite(span))
        if wide.size:
            f = wide[0]
            raise ArgumentError(
                f"MinMaxScaler.fit's x: feature {f} spans {low[f]:g}..{high[f]:g}, a range beyond float64's "
                "largest number; scale it down first, or use StandardScaler"
            )
        return low, span

    def get_config(self) -> dict:  # a constant feature is saved with span 1, which transforms the same
        return {"minimum": self.shift.tolist(), "maximum": (self.shift + self.scale).tolist()}


def standard_statistics(parts) -> tuple[np.ndarray, np.ndarray]:
    """Each feature's mean and standard deviation over the rows of ``parts()`` (an iterable of arrays of rows,
    asked for anew in each of three passes: a large array's parts read in turn, or an array whole), as
    ``x.mean(axis=0)`` and ``x.std(axis=0)`` compute them over the rows taken together (exactly, for one part)."""
    # computed on x / unit, unit a power of two near each feature's largest magnitude: dividing by it is
    # exact, and the squares of values near 1e300 (which overflow) become squares of values below 2
    largest = np.maximum.reduce([np.abs(x).max(axis=0) for x in parts()])
    unit = np.ldexp(1.0, np.frexp(largest)[1] - 1)
    total, n = 0.0, 0
    for x in parts():
        total = total + (x / unit).sum(axis=0)
        n += len(x)
    mean = total / n
    squares = 0.0
    for x in parts():
        deviation = x / unit - mean
        squares = squares + (deviation * deviation).sum(axis=0)
    return mean * unit, np.sqrt(squares / n) * unit


def one_hot(labels, num_classes: int | None = None) -> np.ndarray:
    """Integer labels (n,) as rows of zeros with a single one, shape (n, num_classes)."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"one_hot takes a 1-D array of integer labels, got shape {labels.shape} {labels.dtype}")
    k = int(labels.max()) + 1 if num_classes is None else int(num_classes)
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels must be in 0..{k - 1}, found {labels.min()}..{labels.max()}")
    return np.eye(k, dtype=settings.get_dtype())[labels]
