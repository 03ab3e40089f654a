"""Dropout: randomly silence neurons during training so none can be relied on alone."""

from __future__ import annotations

from .. import checks
from .base import Layer


class Dropout(Layer):
    """Inverted dropout with drop probability ``rate``.

    Forward (training): m ~ Bernoulli(1 - rate) / (1 - rate),  y = x * m
    Forward (inference): y = x
    Backward: dx = dy * m
    Scaling by 1 / (1 - rate) during training keeps the expected output equal
    to the input, so nothing changes at inference.
    """

    independent_samples = False  # draws random masks
    keeps_mask = True
    positionwise = True  # (the identity in inference)

    default_name = "dropout"

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = checks.number(rate, "Dropout rate", low=0.0, high=1.0, high_open=True)
        self.mask = None

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self.mask = None
            return x
        keep = self.ops.random(x.shape, dtype=x.dtype) >= self.rate
        self.mask = keep * x.dtype.type(1.0 / (1.0 - self.rate))
        return x * self.mask

    def backward(self, dy):
        return dy if self.mask is None else dy * self.mask

    def get_config(self):
        return {"rate": self.rate}
