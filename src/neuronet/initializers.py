"""Weight initialisers.

- ``glorot_uniform`` (default for Dense): U(-a, a), a = sqrt(6 / (fan_in + fan_out)).
- ``he_normal``: N(0, 2 / fan_in), suited to ReLU.
- ``small_normal``: 0.01 * N(0, 1), the book's choice.
- ``orthogonal``: a random matrix with orthonormal rows or columns (Saxe et al. 2014), for
  recurrent weights: multiplying a state by it over many steps neither blows it up nor shrinks it.
- ``zeros``: for biases.
"""

from __future__ import annotations

import numpy as np

from . import settings


def glorot_uniform(shape: tuple, fan_in: int, fan_out: int) -> np.ndarray:
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return settings.rng().uniform(-limit, limit, size=shape)


def he_normal(shape: tuple, fan_in: int, fan_out: int) -> np.ndarray:
    return settings.rng().standard_normal(shape) * np.sqrt(2.0 / fan_in)


def small_normal(shape: tuple, fan_in: int, fan_out: int) -> np.ndarray:
    return 0.01 * settings.rng().standard_normal(shape)


def orthogonal(shape: tuple, fan_in: int = 0, fan_out: int = 0) -> np.ndarray:
    """Q of the QR decomposition of a normal matrix, signs fixed so that Q is uniformly distributed."""
    rows, cols = shape[0], int(np.prod(shape[1:]))
    normal = settings.rng().standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(normal)
    q *= np.sign(np.diag(r))  # without it, QR's sign convention would bias the draw
    return np.ascontiguousarray(q if rows >= cols else q.T).reshape(shape)


def zeros(shape: tuple, fan_in: int = 0, fan_out: int = 0) -> np.ndarray:
    return np.zeros(shape)


INITIALIZERS = {f.__name__: f for f in (glorot_uniform, he_normal, small_normal, orthogonal, zeros)}


def get(name: str):
    """Look an initialiser up by name."""
    if not isinstance(name, str) or name not in INITIALIZERS:
        raise ValueError(f"unknown initializer {name!r}; choose one of {sorted(INITIALIZERS)}")
    return INITIALIZERS[name]
