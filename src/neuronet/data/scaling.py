"""Feature scaling, fitted on training data only so no information leaks from validation or test data."""

from __future__ import annotations

import numpy as np

from .. import backend


def _nonzero(scale: np.ndarray) -> np.ndarray:
    return np.where(scale > 0, scale, 1.0)  # a constant feature maps to 0 instead of dividing by 0


class Scaler:
    """x' = (x - shift) / scale per feature; subclasses choose shift and scale in ``statistics``."""

    def statistics(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def fit(self, x):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 0 or x.shape[0] == 0:
            raise ValueError(f"{type(self).__name__}.fit needs at least one sample")
        self.shift, scale = self.statistics(x)
        self.scale = _nonzero(scale)
        return self

    def transform(self, x) -> np.ndarray:
        if getattr(self, "shift", None) is None:
            raise RuntimeError(f"call {type(self).__name__}.fit on the training data before transform")
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-1] != self.shift.shape[-1]:
            raise ValueError(f"{type(self).__name__} was fitted on {self.shift.shape[-1]} features, got {x.shape[-1]}")
        return (x - self.shift) / self.scale

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
        return x.mean(axis=0), x.std(axis=0)

    def get_config(self) -> dict:
        return {"mean": self.shift.tolist(), "std": self.scale.tolist()}


class MinMaxScaler(Scaler):
    """x' = (x - min) / (max - min) per feature, mapping the training range to [0, 1]."""

    def __init__(self, minimum=None, maximum=None) -> None:
        self.shift = None if minimum is None else np.asarray(minimum, dtype=np.float64)
        self.scale = None if maximum is None else _nonzero(np.asarray(maximum, dtype=np.float64) - self.shift)

    def statistics(self, x):
        return x.min(axis=0), x.max(axis=0) - x.min(axis=0)

    def get_config(self) -> dict:  # a constant feature is saved with span 1, which transforms the same
        return {"minimum": self.shift.tolist(), "maximum": (self.shift + self.scale).tolist()}


def one_hot(labels, num_classes: int | None = None) -> np.ndarray:
    """Integer labels (n,) as rows of zeros with a single one, shape (n, num_classes)."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"one_hot takes a 1-D array of integer labels, got shape {labels.shape} {labels.dtype}")
    k = int(labels.max()) + 1 if num_classes is None else int(num_classes)
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels must be in 0..{k - 1}, found {labels.min()}..{labels.max()}")
    return np.eye(k, dtype=backend.get_dtype())[labels]
