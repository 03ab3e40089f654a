"""Parameters: the numbers a network learns.

A :class:`Parameter` holds ``data`` and ``grad`` of the same shape. Backward
passes *add* into ``grad`` (as PyTorch does), so ``zero_grad`` must clear it
between steps.
"""

from __future__ import annotations

import numpy as np

from . import backend


class Parameter:
    """A learnable array with its gradient."""

    def __init__(self, data, regularizer=None) -> None:
        self.data = backend.xp.asarray(data, dtype=backend.get_dtype())
        self.grad = backend.xp.zeros_like(self.data)
        self.regularizer = regularizer  # a regularizers.L1L2 or None

    @property
    def shape(self) -> tuple:
        return self.data.shape

    def assign(self, value) -> None:
        """Overwrite the values in place (views into a flat buffer stay valid)."""
        value = np.asarray(value)
        if value.shape != self.data.shape:
            raise ValueError(f"cannot assign shape {value.shape} to a parameter of shape {self.data.shape}")
        self.data[...] = value

    def zero_grad(self) -> None:
        self.grad.fill(0)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


def flatten_parameters(params: list[Parameter]) -> Parameter:
    """Move every parameter into one contiguous buffer and return it as a Parameter.

    Each parameter's ``data`` and ``grad`` become views into the flat ``data``
    and ``grad``, so an optimizer can update the whole model with a few large
    vector operations instead of a Python loop of small ones.
    """
    if not params:
        raise ValueError("there are no parameters to flatten")
    dtype = params[0].data.dtype
    total = sum(p.data.size for p in params)
    flat = Parameter(backend.xp.empty(total, dtype=dtype))
    offset = 0
    for p in params:
        n = p.data.size
        flat.data[offset : offset + n] = p.data.ravel()
        flat.grad[offset : offset + n] = p.grad.ravel()
        p.data = flat.data[offset : offset + n].reshape(p.data.shape)
        p.grad = flat.grad[offset : offset + n].reshape(p.grad.shape)
        offset += n
    return flat
