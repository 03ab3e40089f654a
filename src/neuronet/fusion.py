"""Fusion: a convolution and the pooling layer after it, run as one step.

A pooling layer whose windows tile its input exactly (stride = pool size,
sizes divisible: the usual MaxPool2D(2) after a "same" convolution) reads
each pixel of the convolution's output once, as element (p, q) of one window.
The convolution may compute its output pixels in any order (they are the rows
of its im2col matrix), so it computes them grouped by that place in the window
(``windows.phase_major``). Then the (p, q) elements of all windows form one
contiguous array, and pooling is an element-wise max or mean of P x Q arrays,
with none of the strided views of a channels-last image that make the
stand-alone pooling layers slow (the benchmark cnn's convolutions and pools
measured 17% faster: 3.36 ms against 4.05 ms for 64 images on one core).

A global max pool keeps one position per sample and channel, so only those
positions of the convolution's output get a gradient: dW needs only the
windows under the maxima, batch x channels rows of the im2col matrix, rather
than a product with all of it, and dx only the pixels holding a maximum
(``Conv2D.backward_at``); the forward pass need keep nothing but where the
maxima are.

Max pooling also commutes with any activation that never decreases (ReLU,
leaky ReLU, sigmoid, tanh): max(relu(z)) = relu(max(z)), and so do their
gradients. After a max pool, the activation then runs on the pooled output,
on far fewer values.

A model runs its layers through :func:`steps`. Every layer still works on
its own, and a fused pair computes what the two layers compute one after
the other, down to which element of a window gets the gradient on ties.
"""

from __future__ import annotations

from .backend import xp
from .layers import windows as win
from .layers.base import Layer
from .layers.conv import Conv2D
from .layers.pooling import GlobalMaxPool2D, MaxPool2D, Pool2D

SLICE_BYTES = 1 << 21  # im2col rows computed at once before a global max pool: about one core's L2 cache


class FusedPair:
    """A convolution and the pooling layer after it; where its activation runs (see the module's docstring)."""

    def __init__(self, conv: Conv2D, pool: Layer) -> None:
        self.conv, self.pool = conv, pool
        act = conv.activation
        # after a max pool, an activation that never decreases runs on the pooled values instead
        after = act is not None and act.monotone and isinstance(pool, (MaxPool2D, GlobalMaxPool2D))
        self.act_before = act if act is not None and not after else None
        self.act_after = act if after else None

    def backward(self, dy):
        return self._backward(dy, input_grad=True)

    def backward_params_only(self, dy) -> None:
        self._backward(dy, input_grad=False)

    def _backward(self, dy, input_grad: bool):
        raise NotImplementedError


class ConvPool(FusedPair):
    """Conv2D (or Conv1D) and the MaxPool/AvgPool layer after it, fused where the pool's windows tile the output."""

    def forward(self, x, training: bool = False):
        conv, pool = self.conv, self.pool
        if not pool.tiles(conv.output_shape(x.shape)):  # windows that overlap or leave pixels out
            return pool.forward(conv.forward(x, training), training)
        z = conv.linear(x, phases=pool.pool)  # (P, Q, batch, h / P, w / Q, channels): z[p, q] = elements (p, q)
        if self.act_before is not None:
            z = self.act_before.forward_inplace(z, training)
        # column by column, the order in which the pooling layer's two passes meet a window's elements,
        # so that on ties the same element gets the gradient
        pooled = pool.forward_elements([z[p, q] for q in range(z.shape[1]) for p in range(z.shape[0])])
        if self.act_after is not None:
            pooled = self.act_after.forward(pooled, training)
        return pool._from_image(pooled)

    def _backward(self, dy, input_grad: bool):
        conv, pool = self.conv, self.pool
        if conv.phases == (1, 1):  # the forward pass ran the two layers one after the other
            dz = pool.backward(dy)
            return conv.backward(dz) if input_grad else conv.backward_params_only(dz)
        grad = pool._to_image(dy)
        if self.act_after is not None:
            grad = self.act_after.backward(grad)
        P, Q = conv.phases
        dz = xp.empty((P, Q, *grad.shape), dtype=grad.dtype)
        pool.backward_elements(grad, into=[dz[p, q] for q in range(Q) for p in range(P)])  # the forward's order
        if self.act_before is not None:
            dz = self.act_before.backward(dz)
        return conv.backward_linear(dz, input_grad)


class ConvGlobalMaxPool(FusedPair):
    """Conv2D (or Conv1D), without activation or with one that never decreases, and the GlobalMaxPool after it.

    The maxima are found a slice of samples at a time, and nothing else of the convolution's output is
    kept; the bias is added to the maxima alone. The activation runs after the pool, so the gradient of
    the convolution's output is zero but at the maxima (``Conv2D.backward_at``).
    """

    def forward(self, x, training: bool = False):
        conv = self.conv
        padded = conv.pad_input(x)
        weights = conv.weights.data.reshape(-1, conv.out_channels)
        b, out_h, out_w, channels = conv.out_image
        found = []
        # a slice of samples at a time, so that its im2col matrix and output stay in cache while the max
        # reads them, and neither is kept (textcnn: 7.1 ms against 8.4 ms for 64 sequences)
        step = max(1, SLICE_BYTES // (out_h * out_w * weights.nbytes // channels))
        for a in range(0, b, step):
            z = win.im2col(padded[a : a + step], conv.kernel, conv.stride, conv.dilation) @ weights
            z = z.reshape(-1, out_h * out_w, channels)
            first = z.argmax(axis=1)  # the first maximum, as GlobalMaxPool2D (and PyTorch)
            found.append((xp.take_along_axis(z, first[:, None, :], axis=1)[:, 0], first))
        self.pool.found(xp.concatenate([first for _, first in found]))
        y = xp.concatenate([y for y, _ in found])
        y += conv.biases.data  # max(z + bias) = max(z) + bias: the bias is added to the maxima alone
        return self.act_after.forward(y, training) if self.act_after is not None else y

    def _backward(self, dy, input_grad: bool):
        if self.act_after is not None:
            dy = self.act_after.backward(dy)
        return self.conv.backward_at(self.pool.maxima(), dy, input_grad)  # dz is zero but at the maxima


def steps(layers: list[Layer]) -> list:
    """The layers as a model's passes run them: each Conv2D/Conv1D followed by a pooling layer of its rank
    becomes one step, a :class:`ConvPool` (pool stride = pool size) or a :class:`ConvGlobalMaxPool`."""
    out, i = [], 0
    while i < len(layers):
        layer, following = layers[i], layers[i + 1] if i + 1 < len(layers) else None
        fused = None
        if isinstance(layer, Conv2D) and getattr(following, "rank", None) == layer.rank:
            if isinstance(following, Pool2D) and following.stride == following.pool != (1, 1):
                fused = ConvPool(layer, following)
            elif isinstance(following, GlobalMaxPool2D) and (layer.activation is None or layer.activation.monotone):
                fused = ConvGlobalMaxPool(layer, following)
        out.append(fused or layer)
        i += 2 if fused else 1
    return out
