"""L1 and L2 penalties on parameters.

penalty  = l1 * sum(|w|) + l2 * sum(w**2)
gradient = l1 * sign(w)  + 2 * l2 * w

The penalty is added to the reported loss and its gradient to the
parameter's gradient, as in the book (chapter 14) and Keras.
"""

from __future__ import annotations

import numpy as np

from . import arrays, checks


class L1L2:
    """Combined L1/L2 penalty with strengths ``l1`` and ``l2``."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0, name: str = "regularizer") -> None:
        self.l1 = checks.number(l1, f"{name}_l1", low=0.0)
        self.l2 = checks.number(l2, f"{name}_l2", low=0.0)

    def penalty(self, w: np.ndarray) -> float:
        value = 0.0
        if self.l1:
            value += self.l1 * float(abs(w).sum())
        if self.l2:
            value += self.l2 * float(arrays.array_module(w).vdot(w, w))
        return value

    def add_gradient(self, w: np.ndarray, grad: np.ndarray) -> None:
        """grad += l1 * sign(w) + 2 * l2 * w, in place."""
        if self.l1:
            grad += self.l1 * arrays.array_module(w).sign(w)
        if self.l2:
            grad += (2.0 * self.l2) * w

    def __bool__(self) -> bool:
        return bool(self.l1 or self.l2)

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}
