"""Feature scaling, fitted on training data only so no information leaks from validation or test data."""

from __future__ import annotations

import numpy as np

from .. import backend


class StandardScaler:
    """x' = (x - mean) / std per feature; a constant feature gets std 1 (it stays 0 after centring)."""

    def __init__(self, mean=None, std=None) -> None:
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.std = None if std is None else np.asarray(std, dtype=np.float64)

    def fit(self, x) -> StandardScaler:
        x = np.asarray(x, dtype=np.float64)
        if x.shape[0] == 0:
            raise ValueError("StandardScaler.fit needs at least one sample")
        self.mean = x.mean(axis=0)
        std = x.std(axis=0)
        self.std = np.where(std > 0, std, 1.0)
        return self

    def transform(self, x) -> np.ndarray:
        if self.mean is None:
            raise RuntimeError("call StandardScaler.fit on the training data before transform")
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-1] != self.mean.shape[-1]:
            raise ValueError(f"StandardScaler was fitted on {self.mean.shape[-1]} features, got {x.shape[-1]}")
        return (x - self.mean) / self.std

    def fit_transform(self, x) -> np.ndarray:
        return self.fit(x).transform(x)

    def inverse_transform(self, x) -> np.ndarray:
        return np.asarray(x, dtype=np.float64) * self.std + self.mean

    def get_config(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}


class MinMaxScaler:
    """x' = (x - min) / (max - min) per feature, mapping the training range to [0, 1]."""

    def __init__(self, minimum=None, maximum=None) -> None:
        self.minimum = None if minimum is None else np.asarray(minimum, dtype=np.float64)
        self.maximum = None if maximum is None else np.asarray(maximum, dtype=np.float64)

    def fit(self, x) -> MinMaxScaler:
        x = np.asarray(x, dtype=np.float64)
        if x.shape[0] == 0:
            raise ValueError("MinMaxScaler.fit needs at least one sample")
        self.minimum, self.maximum = x.min(axis=0), x.max(axis=0)
        return self

    def _span(self):
        span = self.maximum - self.minimum
        return np.where(span > 0, span, 1.0)  # a constant feature maps to 0

    def transform(self, x) -> np.ndarray:
        if self.minimum is None:
            raise RuntimeError("call MinMaxScaler.fit on the training data before transform")
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-1] != self.minimum.shape[-1]:
            raise ValueError(f"MinMaxScaler was fitted on {self.minimum.shape[-1]} features, got {x.shape[-1]}")
        return (x - self.minimum) / self._span()

    def fit_transform(self, x) -> np.ndarray:
        return self.fit(x).transform(x)

    def inverse_transform(self, x) -> np.ndarray:
        return np.asarray(x, dtype=np.float64) * self._span() + self.minimum

    def get_config(self) -> dict:
        return {"minimum": self.minimum.tolist(), "maximum": self.maximum.tolist()}


def one_hot(labels, num_classes: int | None = None) -> np.ndarray:
    """Integer labels (n,) as rows of zeros with a single one, shape (n, num_classes)."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"one_hot takes a 1-D array of integer labels, got shape {labels.shape} {labels.dtype}")
    k = int(labels.max()) + 1 if num_classes is None else int(num_classes)
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels must be in 0..{k - 1}, found {labels.min()}..{labels.max()}")
    return np.eye(k, dtype=backend.get_dtype())[labels]
