"""Flatten: turn each sample into one vector, e.g. an image into its pixels."""

from __future__ import annotations

from .base import Layer


class Flatten(Layer):
    """Forward: y = x.reshape(batch, -1).  Backward: dx = dy.reshape(x.shape)."""

    default_name = "flatten"

    def forward(self, x, training=False):
        self.in_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self.in_shape)

    def output_shape(self, input_shape):
        size = 1
        for d in input_shape[1:]:
            if d is None:
                return (input_shape[0], None)
            size *= d
        return (input_shape[0], size)
