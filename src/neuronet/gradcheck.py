"""Checking analytic gradients against central finite differences.

    df/dx_i  ~  (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)

This is how every backward pass in neuronet is verified: run it in float64
(``nn.set_dtype("float64")``), where the finite difference is accurate to
about 1e-10 relative, and the analytic gradient must agree to 1e-6.
The loop over elements is deliberate: it is slow, simple and independent of
the code under test.
"""

from __future__ import annotations

import numpy as np

from . import settings
from .layers.base import Layer


def numerical_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar function ``f`` at ``x`` (``x`` is restored)."""
    grad = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        up = f()
        flat[i] = original - eps
        down = f()
        flat[i] = original
        gflat[i] = (up - down) / (2 * eps)
    return grad


def relative_error(analytic, numeric) -> float:
    """||a - n|| / max(||a|| + ||n||, tiny): 0 when equal, 1 when unrelated."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    return float(np.linalg.norm(a - n) / max(np.linalg.norm(a) + np.linalg.norm(n), 1e-30))


def check_layer(layer: Layer, x: np.ndarray, training: bool = False, seed: int = 0) -> dict[str, float]:
    """Relative errors of a layer's input and parameter gradients.

    The scalar checked is L = sum(layer(x) * r) for a fixed random r, so that
    dL/dy = r. The library's generator is reseeded before every forward pass,
    so random layers (dropout) draw the same mask each time.
    """

    def loss() -> float:
        settings.set_seed(seed)
        return float(np.sum(layer.forward(x, training) * r))

    settings.set_seed(seed)
    y = layer.forward(x, training)
    r = np.random.default_rng(seed + 1).standard_normal(y.shape)
    for p in layer.parameters():
        p.zero_grad()
    settings.set_seed(seed)
    layer.forward(x, training)
    dx = layer.backward(r)
    errors = {}
    if np.issubdtype(x.dtype, np.floating):
        errors["input"] = relative_error(dx, numerical_gradient(loss, x))
    for name, p in layer.named_parameters().items():
        errors[name] = relative_error(p.grad, numerical_gradient(loss, p.data))
    return errors
