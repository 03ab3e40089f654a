"""Upsampling: an image made larger by repeating or interpolating its pixels (no weights)."""

from __future__ import annotations

import numpy as np

from .. import checks
from .. import windows as win
from .base import Layer


def interpolation_matrix(size: int, factor: int) -> np.ndarray:
    """A (size * factor, size) matrix of linear interpolation weights along one axis, as PyTorch's
    ``Upsample(mode="bilinear", align_corners=False)`` and Keras's bilinear resize: output pixel o sits at
    input position (o + 0.5) / factor - 0.5 (clamped at 0) and mixes the two input pixels around it."""
    out = np.arange(size * factor)
    where = np.maximum((out + 0.5) / factor - 0.5, 0.0)
    low = np.floor(where).astype(np.int64)
    high = np.minimum(low + 1, size - 1)
    weight = where - low
    matrix = np.zeros((size * factor, size))
    np.add.at(matrix, (out, low), 1.0 - weight)
    np.add.at(matrix, (out, high), weight)
    return matrix


class UpSampling2D(win.ImageAxes, Layer):
    """Make channels-last images ``size`` times larger in height and width.

    nearest:  y[b, i, j, c] = x[b, i // s_h, j // s_w, c];  dx = the sum of dy over each s_h x s_w block
    bilinear: y = A_h x A_w^T along height and width, A the interpolation matrices
              (``interpolation_matrix``);  dx = A_h^T dy A_w
    Shapes:   x (batch, h, w, channels), y (batch, h * s_h, w * s_w, channels)
    """

    default_name = "up_sampling2d"

    def __init__(self, size=2, interpolation: str = "nearest") -> None:
        super().__init__()
        self.size = win.as_pair(size, "size", high=win.GROWTH_LIMIT)
        self.interpolation = checks.choice(interpolation, "interpolation", ("nearest", "bilinear"))

    def forward(self, x, training=False):
        if x.ndim != 4:
            raise self.shape_error("(batch, height, width, channels)", x)
        (sh, sw), (b, h, w, c) = self.size, x.shape
        self.in_shape = x.shape
        if self.interpolation == "nearest":
            return self.ops.xp.repeat(self.ops.xp.repeat(x, sh, axis=1), sw, axis=2)
        self.rows = self.ops.asarray(interpolation_matrix(h, sh), dtype=x.dtype)
        self.cols = self.ops.asarray(interpolation_matrix(w, sw), dtype=x.dtype)
        y = self.rows @ x.reshape(b, h, w * c)  # along the height: (b, h * s_h, w * c)
        return (self.cols @ y.reshape(-1, w, c)).reshape(b, h * sh, w * sw, c)  # then along the width

    def backward(self, dy):
        (sh, sw), (b, h, w, c) = self.size, self.in_shape
        if self.interpolation == "nearest":
            return dy.reshape(b, h, sh, w, sw, c).sum(axis=(2, 4))
        dx = (self.cols.T @ dy.reshape(-1, w * sw, c)).reshape(b, h * sh, w * c)
        return (self.rows.T @ dx).reshape(b, h, w, c)

    def output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, None if h is None else h * self.size[0], None if w is None else w * self.size[1], c)

    def get_config(self):
        return {"size": self.unpair(self.size), "interpolation": self.interpolation}
