"""Feature scaling, fitted on training data only so no information leaks from validation or test data."""

from __future__ import annotations

import numpy as np


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
