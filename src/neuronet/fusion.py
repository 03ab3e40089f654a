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
measured faster fused: ``bench/RESULTS.md``).

A global max pool keeps one position per sample and channel, so only those
positions of the convolution's output get a gradient: dW needs only the
windows under the maxima, batch x channels rows of the im2col matrix, rather
than a product with all of it, and dx only the pixels holding a maximum
(``ConvGlobalMaxPool``); the forward pass need keep nothing but where the
maxima are.

Max pooling also commutes with any activation that never decreases (ReLU,
leaky ReLU, sigmoid, tanh): max(relu(z)) = relu(max(z)), and so do their
gradients. After a max pool, the activation then runs on the pooled output,
on far fewer values.

:func:`plan` rewrites a model's list of layers once (a model whose ops is
``tuned_for_cpu`` asks for it, and keeps it until its layers change): a
convolution followed by a pooling layer, with its activation inline
(``Conv2D(..., activation="relu")``) or as a layer between them (``Conv2D``,
``ReLU``, ``MaxPool2D``), becomes one step. Every layer still works on its
own, and a fused step computes what the layers compute one after the other,
down to which element of a window gets the gradient on ties. It uses the
layers' public interface alone, and the layers know nothing of it: the
convolution's ``prepare_input``, ``convolve``, ``accumulate_gradients`` and
``input_gradient`` (the pieces of its own passes) and the attributes its
forward pass sets, the ops's kernels (``im2col`` in phase order,
``windows``), and the pool's ``tiles``/``reduce``/``shares``.
"""

from __future__ import annotations

from . import windows as win
from .layers.activations import Activation
from .layers.base import Layer
from .layers.conv import Conv2D
from .layers.pooling import GlobalMaxPool2D, MaxPool2D, Pool2D

SLICE_BYTES = 1 << 21  # im2col rows computed at once before a global max pool: about one core's L2 cache


class FusedStep:
    """A convolution, its activation (inline or a layer of its own) and the pooling layer after them.

    An activation that never decreases runs after a max pool, on the pooled values (see the module's
    docstring); any other runs before it.
    """

    def __init__(self, conv: Conv2D, pool: Layer, activation: Activation | None = None) -> None:
        self.conv, self.pool = conv, pool
        self.layers = [conv, activation, pool] if activation is not None else [conv, pool]
        act = activation or conv.activation
        after = act is not None and act.monotone and isinstance(pool, (MaxPool2D, GlobalMaxPool2D))
        self.act_before = act if act is not None and not after else None
        self.act_after = act if after else None

    takes_mask = False

    def output_mask(self, mask):
        return None  # a convolution mixes neighbouring steps: none of its outputs is a padded step

    def backward(self, dy):
        return self._backward(dy, input_grad=True)

    def backward_params_only(self, dy) -> None:
        self._backward(dy, input_grad=False)

    def _backward(self, dy, input_grad: bool):
        raise NotImplementedError


class ConvPool(FusedStep):
    """Conv2D (or Conv1D), its activation and the MaxPool/AvgPool after it, fused where the pool's windows
    tile the convolution's output (else the layers run one after the other)."""

    def forward(self, x, training: bool = False):
        conv, pool = self.conv, self.pool
        self.tiled = pool.tiles(conv.output_shape(x.shape))
        if not self.tiled:  # windows that overlap or leave pixels out
            for layer in self.layers:
                x = layer.forward(x, training)
            return x
        padded = conv.prepare_input(x)
        (P, Q), (b, out_h, out_w, channels) = pool.pool, conv.out_image
        # the output pixels grouped by phase: (P, Q, batch, h / P, w / Q, channels), z[p, q] = elements (p, q)
        self.cols = conv.ops.im2col(padded, conv.kernel, conv.stride, conv.dilation, pool.pool)
        z = conv.convolve(self.cols, row=out_w // Q).reshape(P, Q, b, out_h // P, out_w // Q, channels)
        if self.act_before is not None:
            z = self.act_before.forward_inplace(z, training)
        # column by column, the order in which the pooling layer's two passes meet a window's elements,
        # so that on ties the same element gets the gradient
        self.elements = [z[p, q] for q in range(z.shape[1]) for p in range(z.shape[0])]
        self.pooled = pool.reduce(self.elements)
        pooled = self.pooled
        if self.act_after is not None:
            pooled = self.act_after.forward(pooled, training)
        return pool.from_image(pooled)

    def _backward(self, dy, input_grad: bool):
        conv, pool = self.conv, self.pool
        if not self.tiled:
            for layer in self.layers[:0:-1]:
                dy = layer.backward(dy)
            return conv.backward(dy) if input_grad else conv.backward_params_only(dy)
        grad = pool.to_image(dy)
        if self.act_after is not None:
            grad = self.act_after.backward(grad)
        P, Q = pool.pool
        dz = conv.ops.empty((P, Q, *grad.shape), dtype=grad.dtype)
        into = [dz[p, q] for q in range(Q) for p in range(P)]  # the forward's order
        for target, share in zip(into, pool.shares(self.elements, self.pooled)):
            conv.ops.xp.multiply(grad, share, out=target)
        if self.act_before is not None:
            dz = self.act_before.backward(dz)
        conv.accumulate_gradients(self.cols, dz)  # dz's pixels in the order of the rows of cols
        if not input_grad:
            return None
        image = conv.ops.empty(conv.out_image, dtype=dz.dtype)  # col2im adds blocks laid out as the image:
        win.phase_major(image, pool.pool)[...] = dz  # put the pixels back in place
        return conv.input_gradient(image.reshape(-1, conv.out_channels))


class ConvGlobalMaxPool(FusedStep):
    """Conv2D (or Conv1D), without activation or with one that never decreases, and the GlobalMaxPool after it.

    The maxima are found a slice of samples at a time, and nothing else of the convolution's output is
    kept; the bias is added to the maxima alone. The activation runs after the pool, so the gradient of
    the convolution's output is zero but at the maxima (:meth:`backward_at`).
    """

    def forward(self, x, training: bool = False):
        conv = self.conv
        xp = conv.ops.xp
        padded = conv.prepare_input(x)
        weights = conv.weights.data.reshape(-1, conv.out_channels)
        b, out_h, out_w, channels = conv.out_image
        found = []
        # a slice of samples at a time, so that its im2col matrix and output stay in cache while the max
        # reads them, and neither is kept
        step = max(1, SLICE_BYTES // (out_h * out_w * weights.nbytes // channels))
        for a in range(0, b, step):
            z = conv.ops.im2col(padded[a : a + step], conv.kernel, conv.stride, conv.dilation) @ weights
            z = z.reshape(-1, out_h * out_w, channels)
            first = z.argmax(axis=1)  # the first maximum, as GlobalMaxPool2D (and PyTorch)
            found.append((xp.take_along_axis(z, first[:, None, :], axis=1)[:, 0], first))
        self.positions = xp.concatenate([first for _, first in found])
        y = xp.concatenate([y for y, _ in found])
        y += conv.biases.data  # max(z + bias) = max(z) + bias: the bias is added to the maxima alone
        return self.act_after.forward(y, training) if self.act_after is not None else y

    def _backward(self, dy, input_grad: bool):
        if self.act_after is not None:
            dy = self.act_after.backward(dy)
        return self.backward_at(self.positions, dy, input_grad)  # dz is zero but at the maxima

    def backward_at(self, positions, values, input_grad: bool = True):
        """The convolution's backward pass where dz is zero but at one output pixel per sample and channel:
        dz[b, positions[b, f], f] = values[b, f], positions flat over out_h x out_w (image order).

        dW[:, f] = sum_b window(b, positions[b, f]) * values[b, f]: batch x out_channels windows rather
        than a product with all of cols (``bench/RESULTS.md`` measures both in textcnn). dx comes from the
        output pixels holding some maximum only (in textcnn many hold none), each pixel's dcols row added
        back offset by offset.
        """
        conv = self.conv
        b, out_h, out_w, channels = conv.out_image
        xp = conv.ops.xp
        every = conv.ops.windows(conv.padded, conv.kernel, conv.stride, conv.dilation)  # the padded input: in cache
        i, j = xp.divmod(positions.T, out_w)  # (out_channels, batch)
        windows = every[xp.arange(b), i, j].reshape(channels, b, -1)
        conv.weights.grad += (values.T[:, None, :] @ windows)[:, 0].T.reshape(conv.weights.data.shape)
        conv.biases.grad += values.sum(axis=0)
        if not input_grad:
            return None
        pixels = xp.arange(b)[:, None] * (out_h * out_w) + positions  # (batch, out_channels)
        held, which = xp.unique(pixels, return_inverse=True)
        dz = xp.zeros((held.size, channels), dtype=values.dtype)
        dz[which.reshape(b, channels), xp.arange(channels)] = values  # one value per (pixel, channel)
        dcols = dz @ conv.weights.data.reshape(-1, channels).T  # (held pixels, k_h * k_w * in_channels)
        dx = xp.zeros(conv.padded.shape, dtype=values.dtype)
        _, h, w, c = dx.shape
        n, rest = xp.divmod(held, out_h * out_w)
        i, j = xp.divmod(rest, out_w)
        (s_h, s_w), (d_h, d_w) = conv.stride, conv.dilation
        for k in range(conv.kernel[0] * conv.kernel[1]):
            u, v = divmod(k, conv.kernel[1])
            # the input pixel that element (u, v) of each held pixel's window came from
            pixel = (n * h + i * s_h + u * d_h) * w + j * s_w + v * d_w
            dx.reshape(-1, c)[pixel] += dcols[:, k * c : (k + 1) * c]  # distinct pixels for one offset: no add.at
        return conv.from_image(win.unpad(dx, conv.pads))


def plan(layers: list[Layer]) -> list:
    """The layers as a model's passes run them: each Conv2D/Conv1D followed by a pooling layer of its rank,
    perhaps with an activation layer between them, becomes one step, a :class:`ConvPool` (pool stride =
    pool size) or a :class:`ConvGlobalMaxPool`."""
    out, i = [], 0
    while i < len(layers):
        fused, used = _fuse(layers[i : i + 3]), 1
        if fused is not None:
            used = len(fused.layers)
        out.append(fused or layers[i])
        i += used
    return out


def _fuse(window: list[Layer]):
    """A fused step for the layers at the start of ``window``, or None."""
    conv = window[0]
    if not isinstance(conv, Conv2D) or len(window) < 2:
        return None
    act, pool = None, window[1]
    if isinstance(pool, Activation) and conv.activation is None and len(window) == 3:
        act, pool = pool, window[2]
    if getattr(pool, "rank", None) != conv.rank:
        return None
    if isinstance(pool, Pool2D) and pool.stride == pool.pool != (1, 1):
        return ConvPool(conv, pool, act)
    monotone = (act or conv.activation) is None or (act or conv.activation).monotone
    if isinstance(pool, GlobalMaxPool2D) and monotone:
        return ConvGlobalMaxPool(conv, pool, act)
    return None
