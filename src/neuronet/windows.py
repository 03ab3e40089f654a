"""Sliding windows over images: the geometry every convolution and pooling layer shares.

A convolution slides a kernel over the (padded) image. Rather than loop over
output pixels, take a strided *view* of all windows at once,

    windows(x)[b, i, j, u, v, c] = x[b, i*stride + u*dilation, j*stride + v*dilation, c]

(shape (batch, out_h, out_w, k_h, k_w, channels); no data is copied), and
flatten it into rows, one row per output pixel (im2col): then the whole
convolution is one matrix product. ``ops.im2col`` and ``ops.col2im`` do
this (``NumpyOps`` with a strided view, ``Ops`` with one slice per kernel
offset); this module holds the geometry they share.

Going back, the gradient of every window element must be added to the pixel
it came from (col2im). Gathered by kernel offset (u, v), those elements form
one image-sized block, ``x[:, u*d::s, v*d::s]``, so col2im is one strided
add per offset (9 for a 3x3 kernel), each over the whole batch at once: no
Python loop over pixels, and no scatter with ``np.add.at``.

1-D layers use the same code on images of height 1.
"""

from __future__ import annotations

import math
import numbers

from . import checks

# a layer that makes images larger (a transposed convolution's stride and dilation, an upsampling factor) grows
# them at most this much per axis: more is no use, and from a hostile model file an image of any size to allocate
GROWTH_LIMIT = 64


def as_pair(value, name: str, high: int = checks.LARGEST_INT) -> tuple[int, int]:
    """An int or a pair of ints as a pair, each checked positive (and at most ``high``)."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise checks.ArgumentError(f"{name} must be a positive int or a pair of them, got {value!r}")
        return tuple(checks.integer(v, name, low=1, high=high) for v in value)
    size = checks.integer(value, name, low=1, high=high)
    return size, size


def check_padding(padding, spans) -> None:
    """Refuse a padding that is not "valid", "same" or an int from 0 to the kernel's span.

    More padding than the span would only add rows and columns of outputs whose
    windows see nothing but zeros (and, from a hostile model file, images of any
    size to allocate).
    """
    if isinstance(padding, str) and padding in ("valid", "same"):
        return
    if isinstance(padding, bool) or not isinstance(padding, numbers.Integral) or not 0 <= padding <= max(spans):
        raise checks.ArgumentError(
            f'padding must be "valid", "same" or an int from 0 to {max(spans)} (the kernel\'s span), got {padding!r}'
        )


def padding_amounts(padding, size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """(before, after) padding of one axis for "valid", "same" or an int."""
    span = dilation * (kernel - 1) + 1
    if padding == "valid":
        return 0, 0
    if padding == "same":  # as TensorFlow: output size ceil(size / stride), extra padding after
        total = max((math.ceil(size / stride) - 1) * stride + span - size, 0)
        return total // 2, total - total // 2
    return padding, padding  # an int (check_padding)


def output_size(padded: int, kernel: int, stride: int, dilation: int) -> int:
    return (padded - dilation * (kernel - 1) - 1) // stride + 1


def phase_major(a, phases: tuple[int, int]):
    """A view of output pixels (batch, out_h, out_w, ...) grouped by phase: (P, Q, batch, out_h / P, out_w / Q, ...).

    Pixel (i * P + p, j * Q + q) lands at [p, q, :, i, j]: for P x Q windows
    that tile the image, block [p, q] holds element (p, q) of every window
    (``fusion.ConvPool`` pools such blocks). (1, 1) changes nothing but the rank.
    """
    b, h, w = a.shape[:3]
    split = a.reshape(b, h // phases[0], phases[0], w // phases[1], phases[1], *a.shape[3:])
    return split.transpose(2, 4, 0, 1, 3, *range(5, split.ndim))


def offset_slice(x, u: int, v: int, out_hw: tuple[int, int], stride, dilation):
    """The view x[:, u*d + i*s, v*d + j*s] over all output pixels (i, j): what kernel offset (u, v) sees."""
    top, left = u * dilation[0], v * dilation[1]
    return x[
        :,
        top : top + stride[0] * (out_hw[0] - 1) + 1 : stride[0],
        left : left + stride[1] * (out_hw[1] - 1) + 1 : stride[1],
    ]


def unpad(dx, pads):
    (top, bottom), (left, right) = pads
    h, w = dx.shape[1], dx.shape[2]
    return dx[:, top : h - bottom, left : w - right]


class ImageAxes:
    """How a 2-D layer sees its input: channels-last images (batch, height, width, channels), as they are."""

    rank = 4  # the input's number of axes
    layout = "(batch, height, width, channels)"

    def pair(self, value, name: str, high: int = checks.LARGEST_INT) -> tuple[int, int]:
        """A window setting (kernel size, stride...) as given, an int or a pair, as (height, width)."""
        return as_pair(value, name, high)

    def unpair(self, pair):
        """The setting as a layer's config saves it: a list of two for images."""
        return list(pair)

    def to_image(self, x):
        """The input as images (batch, height, width, channels)."""
        return x

    def from_image(self, y):
        """Images back in the layer's own layout."""
        return y

    def _image_sizes(self, input_shape) -> list:
        """The (height, width) of an input shape (batch first, channels last)."""
        return list(input_shape[1:-1])

    def _shape_from_image(self, batch, sizes, channels) -> tuple:
        return (batch, *sizes, channels)


class SequenceAxes(ImageAxes):
    """How a 1-D layer sees its input: a sequence (batch, length, channels) is an image of height 1."""

    rank = 3
    layout = "(batch, length, channels)"

    def pair(self, value, name: str, high: int = checks.LARGEST_INT) -> tuple[int, int]:
        return (1, checks.integer(value, name, low=1, high=high))

    def unpair(self, pair):
        """(A single length for sequences.)"""
        return pair[1]

    def to_image(self, x):
        return x[:, None]

    def from_image(self, y):
        return y[:, 0]

    def _image_sizes(self, input_shape) -> list:
        return [1, input_shape[1]]

    def _shape_from_image(self, batch, sizes, channels) -> tuple:
        return (batch, sizes[1], channels)
