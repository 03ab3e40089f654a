"""Pooling: shrink an image or a sequence by keeping one summary value per window.

Windows come from the same sliding-window view the convolutions use
(``windows.py``); windows that do not fit at the edge are dropped ("valid"),
as in PyTorch and Keras by default.
"""

from __future__ import annotations

from ..backend import xp
from . import windows as win
from .base import Layer


class Pool2D(win.ImageAxes, Layer):
    """Base class: one value per (pool_h x pool_w) window, stride defaulting to the pool size."""

    def __init__(self, pool_size=2, stride=None) -> None:
        super().__init__()
        self.pool = self._pair(pool_size, "pool_size")
        self.stride = self.pool if stride is None else self._pair(stride, "stride")

    def _offsets(self, x):
        """For each window offset, the strided view of the input it reads (see windows.offset_slice)."""
        if x.ndim != self.rank:
            raise self.shape_error(self.layout, x)
        image = self._to_image(x)
        if image.shape[1] < self.pool[0] or image.shape[2] < self.pool[1]:
            raise ValueError(
                f"layer '{self.name}' ({type(self).__name__}): pool {self._unpair(self.pool)} is larger than the "
                f"input {tuple(x.shape[1:-1])}"
            )
        self.in_shape = image.shape
        self.out_hw = tuple(win.output_size(n, p, s, 1) for n, p, s in zip(image.shape[1:3], self.pool, self.stride))
        return [
            win.offset_slice(image, u, v, self.out_hw, self.stride, (1, 1))
            for u in range(self.pool[0])
            for v in range(self.pool[1])
        ]

    def _scatter(self, blocks):
        """Per-offset gradient blocks back onto the input, then into the caller's layout."""
        return self._from_image(win.col2im(blocks, self.in_shape, self.pool, self.stride, (1, 1)))

    def output_shape(self, input_shape):
        sizes = self._image_sizes(input_shape)
        out = [None if n is None else win.output_size(n, p, s, 1) for n, p, s in zip(sizes, self.pool, self.stride)]
        return self._shape_from_image(input_shape[0], out, input_shape[-1])

    def get_config(self):
        return {"pool_size": self._unpair(self.pool), "stride": self._unpair(self.stride)}


class MaxPool2D(Pool2D):
    """Forward: y = max over each window.   Backward: dy goes to the window's largest element (the first, on ties)."""

    default_name = "max_pooling2d"

    def forward(self, x, training=False):
        self.slices = self._offsets(x)  # views of x: the backward pass finds the maxima again from them
        self.y = self.slices[0].copy()
        for candidate in self.slices[1:]:
            xp.maximum(self.y, candidate, out=self.y)
        return self._from_image(self.y)

    def backward(self, dy):
        dy = self._to_image(dy)
        taken = xp.zeros(dy.shape, dtype=bool)
        blocks = []
        for candidate in self.slices:  # the first offset equal to the maximum wins, as in PyTorch
            winner = candidate == self.y
            winner &= ~taken
            taken |= winner
            blocks.append(winner * dy)
        return self._scatter(blocks)


class AvgPool2D(Pool2D):
    """Forward: y = mean over each window.   Backward: each window element gets dy / window size."""

    default_name = "average_pooling2d"

    def forward(self, x, training=False):
        slices = self._offsets(x)
        total = slices[0].copy()
        for s in slices[1:]:
            total += s
        total *= 1.0 / len(slices)
        return self._from_image(total)

    def backward(self, dy):
        k = self.pool[0] * self.pool[1]
        share = self._to_image(dy) * (1.0 / k)
        return self._scatter(xp.broadcast_to(share, (k, *share.shape)))


class MaxPool1D(win.SequenceAxes, MaxPool2D):
    """Max over windows of ``pool_size`` steps of a sequence (batch, length, channels)."""

    default_name = "max_pooling1d"


class AvgPool1D(win.SequenceAxes, AvgPool2D):
    """Mean over windows of ``pool_size`` steps of a sequence (batch, length, channels)."""

    default_name = "average_pooling1d"


class GlobalPool(win.ImageAxes, Layer):
    """Base class: one value per channel over all positions (all axes between batch and channels)."""

    def _flat(self, x):
        if x.ndim != self.rank:
            raise self.shape_error(self.layout, x)
        self.in_shape = x.shape
        flat = x.reshape(x.shape[0], -1, x.shape[-1])
        self.positions = flat.shape[1]
        return flat

    def output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


class GlobalMaxPool2D(GlobalPool):
    """Forward: y[b, c] = max over positions of x[b, ..., c].   Backward: dy goes to the (first) maximum."""

    default_name = "global_max_pooling2d"

    def forward(self, x, training=False):
        self.flat = self._flat(x)
        self.y = self.flat.max(axis=1)
        return self.y

    def backward(self, dy):
        # the first position holding the maximum (as PyTorch); argmax over a boolean mask measured
        # 2x faster than argmax over the values along this middle axis
        first = (self.flat == self.y[:, None, :]).argmax(axis=1)[:, None, :]
        dx = xp.zeros((dy.shape[0], self.positions, dy.shape[1]), dtype=dy.dtype)
        xp.put_along_axis(dx, first, dy[:, None, :], axis=1)
        return dx.reshape(self.in_shape)


class GlobalAvgPool2D(GlobalPool):
    """Forward: y[b, c] = mean over positions of x[b, ..., c].   Backward: dx = dy / positions, everywhere."""

    default_name = "global_average_pooling2d"

    def forward(self, x, training=False):
        return self._flat(x).mean(axis=1)

    def backward(self, dy):
        share = (dy * (1.0 / self.positions))[:, None, :]
        return xp.broadcast_to(share, (dy.shape[0], self.positions, dy.shape[1])).reshape(self.in_shape)


class GlobalMaxPool1D(win.SequenceAxes, GlobalMaxPool2D):
    """Max over the whole sequence (batch, length, channels) -> (batch, channels)."""

    default_name = "global_max_pooling1d"


class GlobalAvgPool1D(win.SequenceAxes, GlobalAvgPool2D):
    """Mean over the whole sequence (batch, length, channels) -> (batch, channels)."""

    default_name = "global_average_pooling1d"
