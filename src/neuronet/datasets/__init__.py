"""Small datasets that ship with neuronet: nothing is ever downloaded."""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np

from .. import backend


def spiral(samples: int = 100, classes: int = 3, noise: float = 0.2, seed: int | None = 0):
    """The spiral of *Neural Networks from Scratch*: ``classes`` arms of ``samples`` points each.

    Returns ``X`` of shape (samples * classes, 2) and integer labels ``y``.
    A fixed ``seed`` gives the same data every time; ``seed=None`` uses the
    library's generator (see :func:`neuronet.set_seed`).
    """
    if samples < 1 or classes < 1:
        raise ValueError(f"spiral needs samples >= 1 and classes >= 1, got {samples} and {classes}")
    rng = np.random.default_rng(seed) if seed is not None else backend.rng()
    X = np.zeros((samples * classes, 2), dtype=backend.get_dtype())
    y = np.zeros(samples * classes, dtype=np.int64)
    for k in range(classes):
        rows = slice(samples * k, samples * (k + 1))
        r = np.linspace(0.0, 1.0, samples)
        t = np.linspace(k * 4, (k + 1) * 4, samples) + rng.standard_normal(samples) * noise
        X[rows] = np.c_[r * np.sin(t * 2.5), r * np.cos(t * 2.5)]
        y[rows] = k
    return X, y


def load_digits():
    """The 8x8 handwritten digits (1,797 images, UCI, via scikit-learn's bundled copy).

    Returns ``X`` of shape (1797, 64) with pixel values 0..16 and labels ``y`` (0..9).
    Source and licence: see ``datasets/data/README.md``.
    """
    with resources.files(__package__).joinpath("data/digits.csv.gz").open("rb") as raw, gzip.open(raw) as text:
        data = np.loadtxt(text, delimiter=",", dtype=np.float64)
    return data[:, :-1].astype(backend.get_dtype()), data[:, -1].astype(np.int64)


__all__ = ["load_digits", "spiral"]
