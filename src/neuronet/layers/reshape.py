"""Reshape: give each sample a new shape with the same number of values."""

from __future__ import annotations

import math

from .. import checks
from .base import Layer


class Reshape(Layer):
    """Forward: y = x.reshape(batch, *target_shape).   Backward: dx = dy.reshape(x.shape).

    One entry of ``target_shape`` may be -1, to be inferred.
    """

    default_name = "reshape"

    def __init__(self, target_shape) -> None:
        super().__init__()
        if not isinstance(target_shape, (list, tuple)):
            raise checks.ArgumentError(f"target_shape must be a tuple of sizes, got {target_shape!r}")
        self.target_shape = tuple(checks.integer(d, "a size in target_shape", low=-1) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1 or 0 in self.target_shape:
            raise checks.ArgumentError(f"target_shape takes positive sizes and at most one -1, got {target_shape}")

    def forward(self, x, training=False):
        known = math.prod(d for d in self.target_shape if d != -1)
        size = math.prod(x.shape[1:])
        if size % known or (-1 not in self.target_shape and size != known):
            raise self.shape_error(f"(batch, ...) with {known}{' x n' if -1 in self.target_shape else ''} values", x)
        self.in_shape = x.shape
        return x.reshape(x.shape[0], *self.target_shape)

    def backward(self, dy):
        return dy.reshape(self.in_shape)

    def output_shape(self, input_shape):
        if -1 in self.target_shape and None not in input_shape[1:]:
            known = math.prod(d for d in self.target_shape if d != -1)
            return (input_shape[0], *(math.prod(input_shape[1:]) // known if d == -1 else d for d in self.target_shape))
        return (input_shape[0], *(None if d == -1 else d for d in self.target_shape))

    def get_config(self):
        return {"target_shape": list(self.target_shape)}
