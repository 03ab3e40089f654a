"""Ops: the array module, new arrays, the seeded generator and the heavy kernels, behind one object.

As thinc's ``Ops`` and Chainer's ``xp``: a model and its layers reach arrays
only through their ``ops``, so one body of layer code serves NumPy on a CPU
and any array module with NumPy's API (CuPy on a GPU) through another ops.

- :class:`Ops` writes every kernel with ``self.xp`` and array methods alone,
  so it runs on any such module. It is the reference: short and plain.
- :class:`NumpyOps` (the default) keeps every trick that pays on a CPU, each
  measured in ``bench/RESULTS.md``: freed memory kept for the next step,
  ReLU against an array of zeros, column sums as a matrix-vector product,
  im2col as a strided view (filled transposed for few channels), the bias
  added a row of pixels at a time, the thread split of a batch
  (``parallel.py``) and convolutions fused with their pooling (``fusion.py``).

A model owns an ops of its own (:meth:`Ops.spawn`), whose generator is drawn
from the library's seeded one (``nn.set_seed``): shuffling, dropout and
augmentation of two models trained at once in two threads stay apart, and
each run repeats. Host-side work (CSV files, metrics, shapes) stays in NumPy;
``ops.asarray`` and ``ops.to_numpy`` are the two crossings.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
import sys

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import backend, checks
from . import windows as win


class Ops:
    """Arrays and kernels through ``xp`` alone (see the module's docstring)."""

    xp = np
    device = "cpu"  # where the arrays live, as model.to names it
    # whether the CPU's tricks above the kernels pay: a convolution fused with its pooling (fusion.py) and a
    # batch split across threads (parallel.py); a model asks before it plans its passes and steps
    tuned_for_cpu = False

    def __init__(self, rng: np.random.Generator | None = None, dtype=None) -> None:
        self._rng = rng  # None: the library's generator
        self._dtype = dtype  # None: the library's float type (nn.set_dtype)

    # -- arrays ----------------------------------------------------------------------------------
    @property
    def dtype(self) -> type:
        """The float type of new parameters and inputs."""
        return self._dtype or backend.get_dtype()

    @property
    def rng(self) -> np.random.Generator:
        """The seeded generator behind shuffling, dropout and augmentation."""
        return self._rng if self._rng is not None else backend.rng()

    def spawn(self) -> Ops:
        """An ops of the same kind with a generator of its own, drawn from the library's (a model's ops)."""
        return type(self)(np.random.default_rng(int(backend.rng().integers(2**63))), self._dtype)

    def asarray(self, x, dtype=None):
        """``x`` (NumPy data, a list, an array of this ops or of another device's) as an array of this ops;
        no copy if it is one."""
        host = isinstance(x, (np.ndarray, np.generic, list, tuple, int, float))
        if not host and backend.array_module(x) is not self.xp:
            x = backend.to_numpy(x)  # from another device: through the host
        return self.xp.asarray(x, dtype=dtype)

    def to_numpy(self, a) -> np.ndarray:
        """An array of this ops (or a NumPy array) as a NumPy array (a copy off the device, where there is one)."""
        return backend.to_numpy(a)

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

    def input_gradient_blocks(self, dz, weights, in_channels: int, image: tuple):
        """dcols = dz @ W.T as col2im's blocks: (k_h * k_w, batch, out_h, out_w, in_channels)."""
        b, out_h, out_w, _ = image
        dcols = dz @ weights.T
        return dcols.reshape(b, out_h, out_w, -1, in_channels).transpose(3, 0, 1, 2, 4)

    def prepare(self) -> None:
        """Called before a model's passes: a place for a device's one-time set-up."""

    # -- the optimizers' update rules ----------------------------------------------------------
    # Each updates the weights ``w`` (a flat buffer's view) and the optimizer's state arrays in place, from
    # the gradient ``g``. ``scratch`` is a buffer shaped as ``w`` that a kernel may overwrite: NumpyOps
    # computes through it so that a step allocates nothing; the plain math here needs none.
    def sgd(self, w, g, velocity=None, *, lr: float, momentum: float = 0.0, nesterov: bool = False, scratch) -> None:
        """Stochastic gradient descent, with momentum when ``velocity`` is given.

        plain:    w -= lr * g
        momentum: velocity = momentum * velocity + g;  w -= lr * velocity
        Nesterov: velocity as above;                   w -= lr * (g + momentum * velocity)
        """
        if velocity is None:
            w -= lr * g
            return
        velocity[...] = momentum * velocity + g
        w -= lr * (g + momentum * velocity if nesterov else velocity)

    def adagrad(self, w, g, sum_of_squares, *, lr: float, epsilon: float, scratch) -> None:
        """Adagrad: s += g**2;  w -= lr * g / (sqrt(s) + epsilon)."""
        sum_of_squares += g * g
        w -= lr * g / (self.xp.sqrt(sum_of_squares) + epsilon)

    def rmsprop(self, w, g, square_avg, *, lr: float, rho: float, epsilon: float, scratch) -> None:
        """RMSprop: s = rho * s + (1 - rho) * g**2;  w -= lr * g / (sqrt(s) + epsilon)."""
        square_avg[...] = rho * square_avg + (1 - rho) * g * g
        w -= lr * g / (self.xp.sqrt(square_avg) + epsilon)

    def adam(
        self, w, g, m, v, *, lr: float, beta_1: float, beta_2: float, epsilon: float, t: int, decay: float = 1.0,
        scratch,
    ) -> None:  # fmt: skip
        """Adam at step ``t`` (1, 2, ...), the weights first multiplied by ``decay`` (AdamW's decoupled decay).

        m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g**2
        w = decay * w - (lr / (1 - b1**t)) * m / (sqrt(v) / sqrt(1 - b2**t) + epsilon)
        """
        m[...] = beta_1 * m + (1 - beta_1) * g
        v[...] = beta_2 * v + (1 - beta_2) * g * g
        w *= decay
        w -= (lr / (1 - beta_1**t)) * m / (self.xp.sqrt(v) / math.sqrt(1 - beta_2**t) + epsilon)


class NumpyOps(Ops):
    """Ops for NumPy on a CPU, with every measured trick (see the module's docstring)."""

    tuned_for_cpu = True

    def __init__(self, rng=None, dtype=None) -> None:
        super().__init__(rng, dtype)
        self._ones: dict = {}
        self._zeros: dict = {}

    def prepare(self) -> None:
        keep_freed_memory()  # each batch reuses the last one's memory (acts once per process)

    def relu(self, x, out=None):
        # NumPy's maximum(x, 0) is not vectorised for a scalar operand; against an array of zeros it is
        return self.xp.maximum(x, self._zeros_like(x), out=out)

    def _zeros_like(self, x):
        """A read-only array of zeros shaped as x: a view of one cached buffer per dtype, grown as needed."""
        size = math.prod(x.shape)
        buffer = self._zeros.get(x.dtype)
        if buffer is None or buffer.size < size:
            buffer = self._zeros[x.dtype] = np.zeros(size, dtype=x.dtype)
            buffer.flags.writeable = False
        return buffer[:size].reshape(x.shape)

    def column_sums(self, a):
        """As a matrix-vector product with a cached vector of ones: several times faster for tall arrays."""
        key = (a.shape[0], a.dtype)
        ones = self._ones.get(key)
        if ones is None:
            self._ones.clear()  # keep one vector: batch sizes rarely change within a run
            ones = self._ones[key] = np.ones(a.shape[0], dtype=a.dtype)
        return ones @ a

    def scatter_add(self, target, index, values) -> None:
        # a 1-D add.at handles repeated indices and measured faster than a sort + reduceat or bincount per row
        np.add.at(target, index, values)

    def windows(self, x, kernel, stride, dilation):
        """A read-only strided view (batch, out_h, out_w, k_h, k_w, channels) of every window: no copy."""
        b, h, w, c = x.shape
        out_h = win.output_size(h, kernel[0], stride[0], dilation[0])
        out_w = win.output_size(w, kernel[1], stride[1], dilation[1])
        sb, sh, sw, sc = x.strides
        return as_strided(
            x,
            shape=(b, out_h, out_w, kernel[0], kernel[1], c),
            strides=(sb, sh * stride[0], sw * stride[1], sh * dilation[0], sw * dilation[1], sc),
            writeable=False,
        )

    def im2col(self, x, kernel, stride, dilation, phases=(1, 1)):
        """One copy of the windows view; for few channels (an input image), filled transposed."""
        view = win.phase_major(self.windows(x, kernel, stride, dilation), phases)
        kh, kw, c = view.shape[-3:]
        if c >= 4:  # copying the window view reads runs of k_w * c contiguous values: fast enough
            return view.reshape(-1, kh * kw * c)
        # runs of c values are too short to copy well: fill the transposed matrix, whose rows (one per kernel
        # offset and channel) are read from whole image rows, and return its transpose, which a matrix
        # product reads as fast
        cols_t = np.empty((kh, kw, c, *view.shape[:5]), dtype=x.dtype)
        cols_t[...] = view.transpose(5, 6, 7, 0, 1, 2, 3, 4)
        return cols_t.reshape(kh * kw * c, -1).T

    def add_bias(self, z, bias, row: int):
        # along rows of pixels: NumPy's loop then runs over row * channels values instead of channels
        rows = z.reshape(-1, row * bias.size)
        rows += np.tile(bias, row)
        return z

    def bias_gradient(self, dz, channels: int, row: int):
        # sums along rows of pixels first, as add_bias adds
        return self.column_sums(dz.reshape(-1, row * channels)).reshape(row, -1).sum(axis=0)

    def input_gradient_blocks(self, dz, weights, in_channels: int, image: tuple):
        if in_channels >= 16:  # one product; each block a strided view with runs of in_channels values
            return super().input_gradient_blocks(dz, weights, in_channels, image)
        # runs of so few values add slowly: one contiguous block per kernel offset, from a batched product
        b, out_h, out_w, _ = image
        by_offset = weights.reshape(-1, in_channels, weights.shape[1]).transpose(0, 2, 1)
        return np.matmul(dz, by_offset).reshape(-1, b, out_h, out_w, in_channels)

    # -- the update rules in place, through the scratch buffer: a step allocates nothing --------------
    def sgd(self, w, g, velocity=None, *, lr, momentum=0.0, nesterov=False, scratch):
        if velocity is not None:
            velocity *= momentum
            velocity += g
            if nesterov:
                np.multiply(velocity, momentum, out=scratch)
                scratch += g
                g = scratch
            else:
                g = velocity
        np.multiply(g, lr, out=scratch)
        w -= scratch

    def adagrad(self, w, g, sum_of_squares, *, lr, epsilon, scratch):
        np.multiply(g, g, out=scratch)
        sum_of_squares += scratch
        self._step_by_root(w, g, sum_of_squares, lr, epsilon, scratch)

    def rmsprop(self, w, g, square_avg, *, lr, rho, epsilon, scratch):
        square_avg *= rho
        np.multiply(g, g, out=scratch)
        scratch *= 1.0 - rho
        square_avg += scratch
        self._step_by_root(w, g, square_avg, lr, epsilon, scratch)

    def _step_by_root(self, w, g, s, lr, epsilon, scratch):
        """w -= lr * g / (sqrt(s) + epsilon): Adagrad's and RMSprop's step."""
        np.sqrt(s, out=scratch)
        scratch += epsilon
        np.divide(g, scratch, out=scratch)
        scratch *= lr
        w -= scratch

    def adam(self, w, g, m, v, *, lr, beta_1, beta_2, epsilon, t, decay=1.0, scratch):
        if decay != 1.0:
            w *= decay
        m *= beta_1
        np.multiply(g, 1.0 - beta_1, out=scratch)
        m += scratch
        v *= beta_2
        np.multiply(g, g, out=scratch)
        scratch *= 1.0 - beta_2
        v += scratch
        np.sqrt(v, out=scratch)
        scratch *= 1.0 / math.sqrt(1.0 - beta_2**t)
        scratch += epsilon
        np.divide(m, scratch, out=scratch)
        scratch *= lr / (1.0 - beta_1**t)
        w -= scratch


def for_device(device, like: Ops) -> Ops:
    """A new ops for ``device`` ("cpu", "gpu", or an Ops itself) with the generator and float type of ``like``
    (a model moving there keeps its random stream)."""
    if isinstance(device, Ops):
        return device
    if checks.choice(device, "device", ("cpu", "gpu")) == "cpu":
        return NumpyOps(like.rng, like._dtype)
    from .gpu import CupyOps  # CuPy only where it is asked for

    return CupyOps(like.rng, like._dtype)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)
_memory_kept: bool | None = None  # None: not tried yet


def keep_freed_memory() -> bool:
    """Have the C allocator (glibc) keep freed memory for the next training step; True if it now does.

    Every step allocates and frees the same large arrays. By default glibc hands
    big freed blocks back to the operating system, so the next step's arrays
    start on fresh pages, each zero-filled by the kernel on first touch: in the
    cnn benchmark, 400-600 page faults and about 1.3 ms of system time a step
    (out of 6-9 ms). Fixing the mmap threshold at 32 MiB and the trim threshold
    at 128 MiB lets freed blocks be reused instead, as PyTorch's caching
    allocator reuses GPU memory: measured 10-15% faster steps (and a max-pool
    backward pass alone 0.45 ms instead of 2.7 ms on this virtual machine,
    where a page fault is dear). Peak memory is unchanged; up to 128 MiB of
    freed memory is kept per arena rather than returned. Does nothing off
    glibc, or where the user set glibc's malloc tunables (``MALLOC_*_`` or
    ``GLIBC_TUNABLES``) themselves. ``NumpyOps.prepare`` calls this before a
    model's passes (it acts once per process).
    """
    global _memory_kept
    if _memory_kept is None:
        _memory_kept = False
        user_set = any(k.startswith("MALLOC_") and k.endswith("_") for k in os.environ)
        if (
            sys.platform.startswith("linux")
            and not user_set
            and "glibc.malloc" not in os.environ.get("GLIBC_TUNABLES", "")
        ):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                # both at once: setting either one turns off glibc's own adjustment of the other
                _memory_kept = bool(
                    libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20) and libc.mallopt(_M_TRIM_THRESHOLD, 128 << 20)
                )
            except (OSError, AttributeError):  # not glibc (musl has no mallopt)
                pass
    return _memory_kept
