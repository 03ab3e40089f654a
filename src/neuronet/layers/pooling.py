"""Pooling: shrink an image or a sequence by keeping one summary value per window.

Windows are sized as the convolutions' are (``windows.output_size``);
windows that do not fit at the edge are dropped ("valid"), as in PyTorch and
Keras by default.
"""

from __future__ import annotations

from .. import windows as win
from .base import Layer


class Pool2D(win.ImageAxes, Layer, abstract=True):
    """Base class: one value per (pool_h x pool_w) window, stride defaulting to the pool size.

    A max or a mean over a 2-D window is a max or mean over its rows of a max or
    mean over its columns, so pooling runs in two 1-D stages: over the height,
    then over the width of that smaller result. Each stage takes ``pool``
    strided views, the k-th holding the k-th element of every window. Along the
    width, it computes on copies of them: NumPy's arithmetic on such views of
    channels-last images, whose contiguous runs are one pixel's few channels,
    measured 8x slower than on contiguous arrays, while copying them is fast.

    ``reduce`` and ``shares`` are the kernel on arrays of window elements: the
    two passes here use them, and so does ``fusion.ConvPool``, which gets the
    elements from a convolution that computed them so.
    """

    numpy_bound = True

    def __init__(self, pool_size=2, stride=None) -> None:
        super().__init__()
        self.pool = self.pair(pool_size, "pool_size")
        self.stride = self.pool if stride is None else self.pair(stride, "stride")

    def forward(self, x, training=False):
        if x.ndim != self.rank:
            raise self.shape_error(self.layout, x)
        image = self.to_image(x)
        if image.shape[1] < self.pool[0] or image.shape[2] < self.pool[1]:
            raise ValueError(
                f"layer '{self.name}' ({type(self).__name__}): pool {self.unpair(self.pool)} is larger than the "
                f"input {tuple(x.shape[1:-1])}"
            )
        self.stages = []  # (axis, input shape, window elements, output) for the backward pass
        for axis, pool, stride in zip((1, 2), self.pool, self.stride):
            if pool == stride == 1:
                continue  # nothing to pool along this axis (1-D layers: the height of 1)
            elements = _window_elements(image, axis, pool, stride)
            if axis == 2:  # runs of one pixel's channels: copy them (along the height, views are whole rows)
                elements = [self.ops.xp.ascontiguousarray(view) for view in elements]
            pooled = self.reduce(elements)
            self.stages.append((axis, image.shape, elements, pooled))
            image = pooled
        return self.from_image(image)

    def backward(self, dy):
        grad = self.to_image(dy)
        for axis, in_shape, elements, out in reversed(self.stages):
            pool, stride = self.pool[axis - 1], self.stride[axis - 1]
            # windows that tile the input exactly leave no pixel unwritten: skip clearing the array first
            exact = pool == stride and in_shape[axis] % pool == 0
            dx = (self.ops.empty if exact else self.ops.zeros)(in_shape, dtype=grad.dtype)
            targets = _window_elements(dx, axis, pool, stride)
            for target, weight in zip(targets, self.shares(elements, out)):
                if stride < pool:  # overlapping windows: a pixel collects shares from several
                    target += grad * weight
                else:  # straight into its place in dx (measured faster than through a temporary)
                    self.ops.xp.multiply(grad, weight, out=target)
            grad = dx
        return self.from_image(grad)

    def tiles(self, input_shape) -> bool:
        """Whether the windows tile an input of ``input_shape`` exactly (stride = pool, sizes divisible)."""
        sizes = self._image_sizes(input_shape)
        return self.stride == self.pool and all(n is not None and n % p == 0 for n, p in zip(sizes, self.pool))

    def reduce(self, elements):
        """One value per window from arrays of its elements: ``elements[k]`` holds element k of every window."""
        raise NotImplementedError

    def shares(self, elements, out):
        """Element by element, the factor by which each window element gets the gradient of the output ``out``."""
        raise NotImplementedError

    def output_shape(self, input_shape):
        sizes = self._image_sizes(input_shape)
        out = [None if n is None else win.output_size(n, p, s, 1) for n, p, s in zip(sizes, self.pool, self.stride)]
        return self._shape_from_image(input_shape[0], out, input_shape[-1])

    def get_config(self):
        return {"pool_size": self.unpair(self.pool), "stride": self.unpair(self.stride)}


def _window_elements(x, axis: int, pool: int, stride: int) -> list:
    """Views of ``x`` along ``axis``: the k-th holds element k of every window (windows that do not fit are dropped)."""
    out = win.output_size(x.shape[axis], pool, stride, 1)
    index = [slice(None)] * x.ndim
    views = []
    for k in range(pool):
        index[axis] = slice(k, k + stride * (out - 1) + 1, stride)
        views.append(x[tuple(index)])
    return views


class MaxPool2D(Pool2D):
    """Forward: y = max over each window.   Backward: dy goes to the window's largest element.

    On ties the gradient goes to one element only: the top one in the first
    column holding the maximum (PyTorch takes the first in row order; both are
    valid subgradients, and they differ only where distinct window positions
    hold exactly equal maxima).
    """

    default_name = "max_pooling2d"

    def reduce(self, elements):
        xp = self.ops.xp
        y = xp.maximum(elements[0], elements[1]) if len(elements) > 1 else elements[0].copy()
        for candidate in elements[2:]:
            xp.maximum(y, candidate, out=y)
        return y

    def shares(self, elements, out):
        # [x_k is the window's first maximum]: x_k == max in a window whose maximum has not come yet
        # (a mask of the windows still waiting); the last element takes the windows that remain
        waiting = None
        for element in elements[:-1]:
            first = element == out
            if waiting is None:
                waiting = ~first
            else:
                first &= waiting
                waiting ^= first  # first holds only waiting windows
            yield first
        yield True if waiting is None else waiting  # a window of one element


class AvgPool2D(Pool2D):
    """Forward: y = mean over each window.   Backward: each window element gets dy / window size."""

    default_name = "average_pooling2d"

    def reduce(self, elements):
        total = elements[0].copy()
        for element in elements[1:]:
            total += element
        total *= 1.0 / len(elements)
        return total

    def shares(self, elements, out):
        for _ in elements:
            yield 1.0 / len(elements)


class MaxPool1D(win.SequenceAxes, MaxPool2D):
    """Max over windows of ``pool_size`` steps of a sequence (batch, length, channels)."""

    default_name = "max_pooling1d"


class AvgPool1D(win.SequenceAxes, AvgPool2D):
    """Mean over windows of ``pool_size`` steps of a sequence (batch, length, channels)."""

    default_name = "average_pooling1d"


class GlobalPool(win.ImageAxes, Layer, abstract=True):
    """Base class: one value per channel over all positions (all axes between batch and channels)."""

    numpy_bound = True

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
        self.first = None  # where the maxima are: found when the backward pass asks
        return self.y

    def backward(self, dy):
        xp = self.ops.xp
        dx = self.ops.zeros((dy.shape[0], self.positions, dy.shape[1]), dtype=dy.dtype)
        b, c = dy.shape
        dx[xp.arange(b)[:, None], self.maxima(), xp.arange(c)] = dy  # one value per sample and channel
        return dx.reshape(self.in_shape)

    def maxima(self):
        """(batch, channels): the first position holding each maximum (as PyTorch), flat over the positions."""
        if self.first is None:
            # argmax over a boolean mask measured 2x faster than argmax over the values along this middle axis
            self.first = (self.flat == self.y[:, None, :]).argmax(axis=1)
        return self.first


class GlobalAvgPool2D(GlobalPool):
    """Forward: y[b, c] = mean over positions of x[b, ..., c].   Backward: dx = dy / positions, everywhere."""

    default_name = "global_average_pooling2d"

    def forward(self, x, training=False):
        return self._flat(x).mean(axis=1)

    def backward(self, dy):
        share = (dy * (1.0 / self.positions))[:, None, :]
        return self.ops.xp.broadcast_to(share, (dy.shape[0], self.positions, dy.shape[1])).reshape(self.in_shape)


class GlobalMaxPool1D(win.SequenceAxes, GlobalMaxPool2D):
    """Max over the whole sequence (batch, length, channels) -> (batch, channels)."""

    default_name = "global_max_pooling1d"


class GlobalAvgPool1D(win.SequenceAxes, GlobalAvgPool2D):
    """Mean over the whole sequence (batch, length, channels) -> (batch, channels)."""

    default_name = "global_average_pooling1d"
