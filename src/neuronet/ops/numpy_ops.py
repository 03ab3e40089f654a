"""NumpyOps: the reference ops for NumPy on a CPU, with every trick that pays there.

Each trick is measured in ``bench/RESULTS.md``: freed memory kept for the
next step (:func:`keep_freed_memory`), ReLU against an array of zeros, column
sums as a matrix-vector product, sums of products in one pass (einsum), im2col
as a strided view (filled transposed for few channels), the bias (and batch
normalisation's scale and shift) added a row of pixels at a time, and the
optimizers' updates in place through one scratch buffer. A model whose ops is
``tuned_for_cpu`` also fuses convolutions with their pooling (``fusion.py``)
and splits a batch across threads (``steps/threads.py``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
import sys

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import windows as win
from .reference import Ops


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
        rows += np.concatenate([bias] * row)  # (the bias of each pixel of a row, side by side)
        return z

    def bias_gradient(self, dz, channels: int, row: int):
        # sums along rows of pixels first, as add_bias adds
        return self.column_sums(dz.reshape(-1, row * channels)).reshape(row, -1).sum(axis=0)

    def column_dots(self, a, b):
        # one pass over both, with no product array (einsum's sum of products)
        channels = a.shape[-1]
        return np.einsum("ij,ij->j", a.reshape(-1, channels), b.reshape(-1, channels))

    def affine(self, x, scale=None, shift=None, *, row: int = 1):
        # along rows of pixels, as add_bias: NumPy's loop then runs over row * channels values
        channels = x.shape[-1]
        rows = x.reshape(-1, row * channels)

        def along_row(v):  # one value per channel, repeated for each pixel of a row
            return np.concatenate([np.broadcast_to(np.asarray(v, dtype=x.dtype), channels)] * row)

        if scale is None:
            out = rows + along_row(shift) if shift is not None else rows.copy()
        else:
            out = np.multiply(rows, along_row(scale))
            if shift is not None:
                out += along_row(shift)
        return out.reshape(x.shape)

    def input_gradient_blocks(self, dz, weights, in_channels: int, image: tuple):
        # one contiguous block per kernel offset, from a batched product: the one product of the plain formula
        # leaves strided blocks whose runs of in_channels values col2im adds slowly
        b, out_h, out_w, _ = image
        by_offset = weights.reshape(-1, in_channels, weights.shape[1]).transpose(0, 2, 1)
        return np.matmul(dz, by_offset).reshape(-1, b, out_h, out_w, in_channels)

    # -- the update rules in place, through the scratch buffer: a step allocates nothing --------------
    def sgd(self, w, g, velocity=None, *, lr, momentum=0.0, nesterov=False, scratch=None):
        scratch = _scratch(w, scratch)
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

    def adagrad(self, w, g, sum_of_squares, *, lr, epsilon, scratch=None):
        scratch = _scratch(w, scratch)
        np.multiply(g, g, out=scratch)
        sum_of_squares += scratch
        self._step_by_root(w, g, sum_of_squares, lr, epsilon, scratch)

    def rmsprop(self, w, g, square_avg, *, lr, rho, epsilon, scratch=None):
        scratch = _scratch(w, scratch)
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

    def adam(self, w, g, m, v, *, lr, beta_1, beta_2, epsilon, t, decay=1.0, scratch=None):
        scratch = _scratch(w, scratch)
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


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)
_memory_kept: bool | None = None  # None: not tried yet


def keep_freed_memory() -> bool:
    """Have the C allocator (glibc) keep freed memory for the next training step; True if it now does.

    Every step allocates and frees the same large arrays. By default glibc hands
    big freed blocks back to the operating system, so the next step's arrays
    start on fresh pages, each zero-filled by the kernel on first touch: hundreds
    of page faults a step in the cnn benchmark. Fixing the mmap threshold at 32
    MiB and the trim threshold at 128 MiB lets freed blocks be reused instead,
    as PyTorch's caching allocator reuses GPU memory (``bench/RESULTS.md``,
    "Freed memory kept", has the figures: faster steps on a virtual machine,
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


def _scratch(w, scratch):
    """The buffer an update kernel works in: the optimizer's (one per parameter, so a step allocates nothing),
    or a new one for a kernel called on its own."""
    return np.empty_like(w) if scratch is None else scratch
