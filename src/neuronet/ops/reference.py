"""The reference ops: arrays and kernels through ``self.xp`` alone, short and plain.

:class:`Ops` writes every kernel with its array module's functions and the
arrays' methods, so it runs on any module with NumPy's API (CuPy on a GPU,
``tests/strict.py``'s strict arrays). It is what a learner reads: each kernel
is its formula, allocating where the formula does; ``NumpyOps`` and
``CupyOps`` replace some with faster versions of the same numbers.
"""

from __future__ import annotations

import math

import numpy as np

from .. import arrays, settings
from .. import windows as win


class Ops:
    """Arrays and kernels through ``xp`` alone (see the module's docstring)."""

    xp = np
    device = "cpu"  # where the arrays live, as model.to names it
    # whether the CPU's tricks above the kernels pay: a convolution fused with its pooling (fusion.py) and a
    # batch split across threads (steps/threads.py); a model asks before it plans its passes and steps
    tuned_for_cpu = False

    def __init__(self, rng: np.random.Generator | None = None, dtype=None) -> None:
        self._rng = rng  # None: the library's generator
        self._dtype = dtype  # None: the library's float type (nn.set_dtype)

    # -- arrays ----------------------------------------------------------------------------------
    @property
    def dtype(self) -> type:
        """The float type of new parameters and inputs."""
        return self._dtype or settings.get_dtype()

    @property
    def rng(self) -> np.random.Generator:
        """The seeded generator behind shuffling, dropout and augmentation."""
        return self._rng if self._rng is not None else settings.rng()

    def spawn(self) -> Ops:
        """An ops of the same kind with a generator of its own, drawn from the library's (a model's ops)."""
        return type(self)(np.random.default_rng(int(settings.rng().integers(2**63))), self._dtype)

    def same_stream(self, kind: type[Ops]) -> Ops:
        """An ops of ``kind`` drawing from this one's generator, with its float type (a model moving to
        another device keeps its random stream)."""
        return kind(self.rng, self._dtype)

    def asarray(self, x, dtype=None):
        """``x`` (NumPy data, a list, an array of this ops or of another device's) as an array of this ops;
        no copy if it is one."""
        host = isinstance(x, (np.ndarray, np.generic, list, tuple, int, float))
        if not host and arrays.array_module(x) is not self.xp:
            x = arrays.to_numpy(x)  # from another device: through the host
        return self.xp.asarray(x, dtype=dtype)

    def holds_data(self, nbytes: int, batch_nbytes: int) -> bool:
        """Whether training data of ``nbytes``, read in batches of ``batch_nbytes``, is best moved to this ops's
        memory once and each batch gathered there (``samples.InMemory.on``), rather than each batch gathered
        on the host and copied over. On the host, data already is where it is gathered: no."""
        return False

    def to_numpy(self, a) -> np.ndarray:
        """An array of this ops (or a NumPy array) as a NumPy array (a copy off the device, where there is one)."""
        return arrays.to_numpy(a)

    def zeros(self, shape, dtype=None):
        return self.xp.zeros(shape, dtype=dtype or self.dtype)

    def empty(self, shape, dtype=None):
        return self.xp.empty(shape, dtype=dtype or self.dtype)

    def full(self, shape, value: float, dtype=None):
        return self.xp.full(shape, value, dtype=dtype or self.dtype)

    def random(self, shape, dtype=None):
        """Uniform draws in [0, 1) from the seeded generator."""
        return self.asarray(self.rng.random(shape, dtype=dtype or self.dtype))

    def normal(self, shape, dtype=None):
        """Standard normal draws from the seeded generator."""
        return self.asarray(self.rng.standard_normal(shape, dtype=dtype or self.dtype))

    # -- kernels ----------------------------------------------------------------------------------
    def relu(self, x, out=None):
        """max(x, 0), into ``out`` if given."""
        return self.xp.maximum(x, 0, out=out)

    def column_sums(self, a):
        """a.sum(axis=0) of a 2-D array."""
        return a.sum(axis=0)

    def scatter_add(self, target, index, values) -> None:
        """target[index[i]] += values[i] for every i, repeated indices adding up (1-D arrays)."""
        target += self.xp.bincount(self.asarray(index), weights=values, minlength=target.size).astype(target.dtype)

    def pad(self, x, pads):
        """Zero-pad height and width of (batch, h, w, c); no copy when there is nothing to pad."""
        (top, bottom), (left, right) = pads
        if top == bottom == left == right == 0:
            return x
        b, h, w, c = x.shape
        padded = self.xp.zeros((b, h + top + bottom, w + left + right, c), dtype=x.dtype)
        padded[:, top : top + h, left : left + w] = x
        return padded

    def im2col(self, x, kernel, stride, dilation, phases=(1, 1)):
        """Rows of window contents (batch * out_h * out_w, k_h * k_w * channels), rows in image order or
        grouped by ``phases`` (``windows.phase_major``): one slice per kernel offset, stacked."""
        b, h, w, c = x.shape
        out_hw = (
            win.output_size(h, kernel[0], stride[0], dilation[0]),
            win.output_size(w, kernel[1], stride[1], dilation[1]),
        )
        offsets = [
            win.offset_slice(x, u, v, out_hw, stride, dilation) for u in range(kernel[0]) for v in range(kernel[1])
        ]
        rows = self.xp.stack(offsets, axis=3).reshape(b, *out_hw, -1)  # (batch, out_h, out_w, k_h * k_w * c)
        return self.xp.ascontiguousarray(win.phase_major(rows, phases)).reshape(-1, rows.shape[-1])

    def col2im(self, blocks, padded_shape: tuple, kernel, stride, dilation):
        """Sum gradient blocks back onto an image of ``padded_shape``: ``blocks[u * k_w + v]`` (batch, out_h,
        out_w, channels) holds every window's element at kernel offset (u, v); one strided add per offset."""
        out_hw = blocks[0].shape[1:3]
        dx = self.xp.zeros(padded_shape, dtype=blocks[0].dtype)
        # windows that do not overlap (stride >= kernel span) give each pixel at most one value: assign it
        disjoint = all(s >= d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))
        for k in range(kernel[0] * kernel[1]):
            target = win.offset_slice(dx, *divmod(k, kernel[1]), out_hw, stride, dilation)
            if disjoint:
                target[...] = blocks[k]
            else:
                target += blocks[k]
        return dx

    def add_bias(self, z, bias, row: int):
        """z (pixels, channels) += bias in place; ``row`` pixels make one row of the image."""
        z += bias
        return z

    def bias_gradient(self, dz, channels: int, row: int):
        """The sum of dz over every pixel, per channel (dz any shape ending in channels)."""
        return dz.reshape(-1, channels).sum(axis=0)

    def column_dots(self, a, b):
        """sum(a * b) over every axis but the last: one dot product per channel (a, b the same shape)."""
        return (a * b).reshape(-1, a.shape[-1]).sum(axis=0)

    def affine(self, x, scale=None, shift=None, *, row: int = 1):
        """x * scale + shift per channel (the last axis), either left out where None, as a new array; ``row``
        as in :meth:`add_bias`."""
        out = x if scale is None else x * scale
        return out + shift if shift is not None else out.copy() if out is x else out

    def input_gradient_blocks(self, dz, weights, in_channels: int, image: tuple):
        """dcols = dz @ W.T as col2im's blocks: (k_h * k_w, batch, out_h, out_w, in_channels)."""
        b, out_h, out_w, _ = image
        dcols = dz @ weights.T
        return dcols.reshape(b, out_h, out_w, -1, in_channels).transpose(3, 0, 1, 2, 4)

    # -- the recurrent cells: one step's element-wise part, after its matrix products ------------------------
    # The formulas are the layers' (layers/lstm.py, layers/gru.py). Each array of gates is (gates, batch, H),
    # in the layer's order, its sigmoid gates' pre-activations halved: (1 + tanh(x)) / 2 is their sigmoid.
    # Written in place, so that a step allocates little; CupyOps runs each as one kernel, which takes its
    # arrays as __restrict__: no two of them may overlap.
    def lstm_cell(self, z, c_prev, c, tanh_c, h, derivatives=None) -> None:
        """z (i, f, o, g) becomes the gates: i, f, o = (1 + tanh(z)) / 2, g = tanh(z); then c = f c_prev + i g,
        tanh_c = tanh(c), h = o tanh_c; ``derivatives``, where given, gets s(1 - s) and 1 - g^2."""
        xp = self.xp
        xp.tanh(z, out=z)
        _sigmoids_from_tanh(z[:3])
        i, f, o, g = z
        xp.multiply(f, c_prev, out=c)
        c += i * g
        xp.tanh(c, out=tanh_c)
        xp.multiply(o, tanh_c, out=h)
        if derivatives is not None:  # while the gates are in cache
            xp.multiply(z, z, out=derivatives)
            xp.subtract(z[:3], derivatives[:3], out=derivatives[:3])
            xp.subtract(1, derivatives[3], out=derivatives[3])

    def lstm_cell_backward(self, dh, dc, gates, tanh_c, c_prev, derivatives, da) -> None:
        """From dh and dc, the gradients reaching h_t and c_t: da (i, f, o, g) gets the pre-activations'
        gradient and dc becomes dc_{t-1}."""
        xp = self.xp
        i, f, o, g = gates
        xp.multiply(dh, tanh_c, out=da[2])  # do
        carry = tanh_c * tanh_c  # dc += dh * o * (1 - tanh(c)^2)
        xp.subtract(1, carry, out=carry)
        carry *= o
        carry *= dh
        dc += carry
        xp.multiply(dc, g, out=da[0])  # di
        xp.multiply(dc, c_prev, out=da[1])  # df
        xp.multiply(dc, i, out=da[3])  # dg
        dc *= f
        da *= derivatives

    def gru_cell(self, a, e, h_prev, m, h, derivatives=None) -> None:
        """a (r, z, n), x_t W + b, becomes the gates, from e (r, z, n), h_{t-1} U + c: [r z] = (1 + tanh(a + e)) / 2,
        m = e_n, n = tanh(a_n + r m); then h = n + z (h_prev - n); ``derivatives``, where given, gets
        r(1 - r), z(1 - z) and 1 - n^2."""
        xp = self.xp
        m[...] = e[2]
        rz = a[:2]
        rz += e[:2]
        xp.tanh(rz, out=rz)
        _sigmoids_from_tanh(rz)
        r, z, n = a
        n += r * m
        xp.tanh(n, out=n)
        xp.subtract(h_prev, n, out=h)
        h *= z
        h += n
        if derivatives is not None:  # while the gates are in cache
            xp.multiply(a, a, out=derivatives)
            xp.subtract(rz, derivatives[:2], out=derivatives[:2])
            xp.subtract(1, derivatives[2], out=derivatives[2])

    def gru_cell_backward(self, dh, gates, h_prev, m, derivatives, da, de) -> None:
        """From dh, the gradient reaching h_t: da (r, z, n) gets [dr dz dn], the pre-activations' gradient (for
        W and b), and de [dr dz dn r] (for U and c)."""
        xp = self.xp
        r, z, n = gates
        xp.subtract(1, z, out=da[2])  # dn = dh (1 - z) (1 - n^2)
        da[2] *= dh
        da[2] *= derivatives[2]
        xp.subtract(h_prev, n, out=da[1])  # dz = dh (h_{t-1} - n) z (1 - z)
        da[1] *= dh
        da[1] *= derivatives[1]
        xp.multiply(da[2], m, out=da[0])  # dr = dn m r (1 - r)
        da[0] *= derivatives[0]
        de[:2] = da[:2]
        xp.multiply(da[2], r, out=de[2])

    def prepare(self) -> None:
        """Called before a model's passes: a place for a device's one-time set-up."""

    # -- the optimizers' update rules ----------------------------------------------------------
    # Each updates the weights ``w`` (a flat buffer's view) and the optimizer's state arrays in place, from
    # the gradient ``g``. ``scratch`` is a buffer shaped as ``w`` that a kernel may overwrite: NumpyOps
    # computes through it so that a step allocates nothing (an optimizer keeps one per parameter; without
    # it, NumpyOps makes one); the plain math here needs none.
    def sgd(
        self, w, g, velocity=None, *, lr: float, momentum: float = 0.0, nesterov: bool = False, scratch=None
    ) -> None:
        """Stochastic gradient descent, with momentum when ``velocity`` is given.

        plain:    w -= lr * g
        momentum: velocity = momentum * velocity + g;  w -= lr * velocity
        Nesterov: velocity as above;                   w -= lr * (g + momentum * velocity)
        """
        if velocity is None:
            w -= lr * g
            return
        velocity[...] = momentum * velocity + g
        w -= lr * ((g + momentum * velocity) if nesterov else velocity)

    def adagrad(self, w, g, sum_of_squares, *, lr: float, epsilon: float, scratch=None) -> None:
        """Adagrad: s += g**2;  w -= lr * g / (sqrt(s) + epsilon)."""
        sum_of_squares += g * g
        w -= lr * g / (self.xp.sqrt(sum_of_squares) + epsilon)

    def rmsprop(self, w, g, square_avg, *, lr: float, rho: float, epsilon: float, scratch=None) -> None:
        """RMSprop: s = rho * s + (1 - rho) * g**2;  w -= lr * g / (sqrt(s) + epsilon)."""
        square_avg[...] = rho * square_avg + (1 - rho) * g * g
        w -= lr * g / (self.xp.sqrt(square_avg) + epsilon)

    def adam(
        self, w, g, m, v, *, lr: float, beta_1: float, beta_2: float, epsilon: float, t: int, decay: float = 1.0,
        scratch=None,
    ) -> None:  # fmt: skip
        """Adam at step ``t`` (1, 2, ...), the weights first multiplied by ``decay`` (AdamW's decoupled decay).

        m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g**2
        w = decay * w - (lr / (1 - b1**t)) * m / (sqrt(v) / sqrt(1 - b2**t) + epsilon)
        """
        m[...] = beta_1 * m + (1 - beta_1) * g
        v[...] = beta_2 * v + (1 - beta_2) * g * g
        w *= decay
        w -= (lr / (1 - beta_1**t)) * m / (self.xp.sqrt(v) / math.sqrt(1 - beta_2**t) + epsilon)


def _sigmoids_from_tanh(t) -> None:
    """t = tanh(x / 2) becomes sigmoid(x) = (1 + tanh(x / 2)) / 2, in place."""
    t *= 0.5
    t += 0.5
