"""Splitting data to measure generalisation: hold-out sets, k folds, cross-validation.

A model is judged on data it never trained on. ``train_val_test_split`` holds
two parts out; ``KFold`` and ``StratifiedKFold`` rotate which part is held
out, and ``cross_validate`` trains one fresh model per fold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from .. import checks, settings


def _rng(seed: int | None) -> np.random.Generator:
    return np.random.default_rng(seed) if seed is not None else settings.rng()


def _class_labels(y) -> np.ndarray:
    y = np.asarray(y)
    return y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(len(y))


def _stratified_parts(y, fractions: list[float], rng) -> list[np.ndarray]:
    """Split indices into parts of the given fractions, each class spread proportionally."""
    labels = _class_labels(y)
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    # each class's rows in increasing order, found by one sort (not one pass over all rows per class)
    order = np.argsort(labels, kind="stable")
    starts = np.unique(labels[order], return_index=True)[1]
    for members in np.split(order, starts[1:]):
        idx = rng.permutation(members)
        cuts = np.round(np.cumsum(fractions)[:-1] * len(idx)).astype(int)
        for part, chunk in zip(parts, np.split(idx, cuts)):
            part.append(chunk)
    return [rng.permutation(np.concatenate(p)) for p in parts]


def train_val_test_split(
    x, y, val_size: float = 0.15, test_size: float = 0.15, stratify: bool = False, seed: int | None = None
):
    """Shuffle and split into ``(x_train, y_train), (x_val, y_val), (x_test, y_test)``.

    With ``stratify=True`` each part keeps the class proportions of ``y``.
    """
    if x is None or y is None:
        raise checks.ArgumentError("train_val_test_split needs x and y (None was given)")
    x, y = np.asarray(x), np.asarray(y)  # any values: labels may be text here
    if x.ndim == 0 or y.ndim == 0 or len(x) != len(y):
        raise checks.ArgumentError(f"x and y must hold one entry per sample, got shapes {x.shape} and {y.shape}")
    val_size = checks.number(val_size, "val_size", low=0.0, high=1.0, high_open=True)
    test_size = checks.number(test_size, "test_size", low=0.0, high=1.0, high_open=True)
    stratify = checks.flag(stratify, "stratify")
    if val_size + test_size >= 1:
        raise ValueError(f"val_size and test_size must be >= 0 and sum below 1, got {val_size} and {test_size}")
    fractions = [1 - val_size - test_size, val_size, test_size]
    rng = _rng(seed)
    if stratify:
        parts = _stratified_parts(y, fractions, rng)
    else:
        order = rng.permutation(len(x))
        cuts = np.round(np.cumsum(fractions)[:-1] * len(x)).astype(int)
        parts = np.split(order, cuts)
    if len(parts[0]) == 0:
        raise ValueError(f"{len(x)} samples leave no training data with val_size={val_size}, test_size={test_size}")
    return tuple((x[p], y[p]) for p in parts)


class KFold:
    """``split(x)`` yields ``k`` pairs (train indices, validation indices); each sample is validated once."""

    def __init__(self, n_splits: int = 5, shuffle: bool = True, seed: int | None = None) -> None:
        self.n_splits = checks.integer(n_splits, "n_splits", low=2)
        self.shuffle = checks.flag(shuffle, "shuffle")
        self.seed = seed if seed is None else checks.integer(seed, "seed", low=0)

    def _folds(self, x, y) -> list[np.ndarray]:
        n = len(x)
        order = _rng(self.seed).permutation(n) if self.shuffle else np.arange(n)
        return np.array_split(order, self.n_splits)

    def split(self, x, y=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if len(x) < self.n_splits:
            raise ValueError(f"cannot make {self.n_splits} folds from {len(x)} samples")
        folds = self._folds(x, y)
        for i, val in enumerate(folds):
            yield np.concatenate([f for j, f in enumerate(folds) if j != i]), val


class StratifiedKFold(KFold):
    """Like KFold, but every fold keeps the class proportions of ``y``."""

    def _folds(self, x, y) -> list[np.ndarray]:
        if y is None:
            raise ValueError("StratifiedKFold.split needs the labels y")
        labels = _class_labels(y)
        rng = _rng(self.seed)
        folds: list[list[int]] = [[] for _ in range(self.n_splits)]
        start = 0
        for label in np.unique(labels):
            idx = np.flatnonzero(labels == label)
            if self.shuffle:
                idx = rng.permutation(idx)
            for i, sample in enumerate(idx):  # deal the class out like cards, continuing where the last ended
                folds[(start + i) % self.n_splits].append(sample)
            start += len(idx)
        return [np.sort(np.array(f, dtype=np.int64)) for f in folds]


def cross_validate(
    build_model: Callable,
    x,
    y,
    k: int = 5,
    fit_kwargs: dict | None = None,
    stratify: bool = False,
    seed: int | None = None,
) -> dict:
    """Train ``build_model()`` (a fresh, compiled model) on each of ``k`` folds and score it on the rest.

    Returns ``{"folds": [scores per fold], "mean": {...}, "std": {...}}`` where
    the scores are what ``model.evaluate`` reports on the held-out fold.
    """
    x, y = np.asarray(x), np.asarray(y)
    splitter = (StratifiedKFold if stratify else KFold)(k, shuffle=True, seed=seed)
    fit_kwargs = {"verbose": 0, **(fit_kwargs or {})}
    folds = []
    for train, val in splitter.split(x, y):
        model = build_model()
        model.fit(x[train], y[train], **fit_kwargs)
        folds.append(model.evaluate(x[val], y[val]))
    keys = folds[0].keys()
    return {
        "folds": folds,
        "mean": {key: float(np.mean([f[key] for f in folds])) for key in keys},
        "std": {key: float(np.std([f[key] for f in folds])) for key in keys},
    }
