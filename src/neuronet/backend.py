"""The array backend: which array module, which float type, which random generator.

Every array the library creates goes through this module, so that a GPU
backend (CuPy) can later be swapped in here without touching the layers, as
Chainer does with its ``xp`` module. Layers write ``xp.exp(x)`` rather than
``np.exp(x)``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
import sys

import numpy as np

from .checks import ArgumentError

xp = np  # the array module; CuPy would replace it here

_DTYPES = {"float32": np.float32, "float64": np.float64}
_dtype: type = np.float32
_rng: np.random.Generator = np.random.default_rng()


def set_dtype(name: str) -> None:
    """Choose the float type of new parameters and inputs: "float32" (default) or "float64"."""
    global _dtype
    if str(name) not in _DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {name!r}")
    _dtype = _DTYPES[str(name)]


def get_dtype() -> type:
    """The float type in use (``np.float32`` unless :func:`set_dtype` said otherwise)."""
    return _dtype


def set_seed(seed: int | None) -> None:
    """Seed the one generator behind initialisation, shuffling, dropout and augmentation."""
    global _rng
    _rng = np.random.default_rng(seed)


def rng() -> np.random.Generator:
    """The library's random generator (see :func:`set_seed`)."""
    return _rng


def zeros(shape, dtype=None) -> np.ndarray:
    return xp.zeros(shape, dtype=dtype or _dtype)


def empty(shape, dtype=None) -> np.ndarray:
    return xp.empty(shape, dtype=dtype or _dtype)


_ones_cache: dict = {}
_zero_buffers: dict = {}


def zeros_view(shape, dtype) -> np.ndarray:
    """A read-only array of zeros: a view of one cached buffer per dtype, grown as needed, so it costs nothing.

    NumPy's element-wise ``maximum(x, 0)`` is not vectorised for a scalar
    operand; against an array of zeros it runs about 3x faster (ReLU uses this).
    """
    size = math.prod(shape)
    buffer = _zero_buffers.get(np.dtype(dtype))
    if buffer is None or buffer.size < size:
        buffer = _zero_buffers[np.dtype(dtype)] = xp.zeros(size, dtype=dtype)
        buffer.flags.writeable = False
    return buffer[:size].reshape(shape)


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
    ``GLIBC_TUNABLES``) themselves. A model's forward pass calls this (it acts
    once per process).
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


def column_sums(a):
    """a.sum(axis=0) of a 2-D array as a matrix-vector product: several times faster for tall, narrow arrays."""
    key = (a.shape[0], a.dtype)
    ones = _ones_cache.get(key)
    if ones is None:
        _ones_cache.clear()  # keep one vector: batch sizes rarely change within a run
        ones = _ones_cache[key] = xp.ones(a.shape[0], dtype=a.dtype)
    return ones @ a


def as_array(x, name: str = "input") -> np.ndarray:
    """``x`` as a NumPy array of bools, integers or floats, or an ArgumentError saying what it holds instead.

    NumPy would turn None into NaN, drop the imaginary part of complex numbers
    (with only a warning) and count dates in days; each of these is refused here.
    """
    if x is None:
        raise ArgumentError(f"{name} is None; pass an array of numbers")
    if isinstance(x, (str, bytes, dict, set)):
        raise ArgumentError(f"{name} must be an array (or nested lists) of numbers, got a {type(x).__name__}")
    try:
        arr = np.asarray(x)
    except ValueError:  # nested lists of unequal lengths
        raise ArgumentError(
            f"{name} is ragged: its rows have different lengths; pad or cut them to one length first "
            "(for token ids, nn.text.pad_sequences)"
        ) from None
    kind = arr.dtype.kind
    if kind == "O":  # Python objects (a pandas column of mixed values): numbers convert, anything else is named
        if any(value is None for value in arr.flat):  # astype would make None a NaN
            raise ArgumentError(f"{name} holds None values (missing data); fill or drop them first")
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ArgumentError(f"{name} holds values that are not numbers ({exc}); convert them first") from None
    elif kind == "c":
        raise ArgumentError(
            f"{name} holds complex numbers (dtype {arr.dtype}); neuronet computes with real numbers: "
            "pass x.real, abs(x), or the real and imaginary parts as two features"
        )
    elif kind in "mM":
        raise ArgumentError(
            f"{name} holds dates or times (dtype {arr.dtype}); convert them to numbers first, "
            "e.g. seconds since a start date, or day of the year as a feature"
        )
    elif kind not in "biuf":
        raise ArgumentError(
            f"{name} holds {'text' if kind in 'SU' else 'values'} of dtype {arr.dtype}; neuronet computes with "
            "numbers: encode them as numbers first (class labels as 0, 1, 2, ...)"
        )
    return arr


def as_float(x, name: str = "input") -> np.ndarray:
    """``x`` as a float array of the current dtype, copying only if needed.

    Raises a clear error for what is not numbers, for empty data, and for NaN,
    infinite, or too large values.
    """
    source = as_array(x, name)
    if source.size == 0:
        raise ArgumentError(f"{name} is empty (shape {source.shape}); give at least one sample")
    with np.errstate(over="ignore"):  # values beyond the float type's range are reported below
        arr = source.astype(_dtype, copy=False)
    if not all_finite(arr):
        if source.dtype.kind == "f" and all_finite(source):  # finite before the cast: too large for the float type
            raise ArgumentError(
                f"{name} holds values up to {float(np.abs(source).max()):.3g}, beyond the range of "
                f"{np.dtype(_dtype).name} (+-{float(np.finfo(_dtype).max):.3g}); scale them down, "
                'or compute in float64 with nn.set_dtype("float64")'
            )
        require_finite(source, name)
    return arr


def all_finite(a) -> bool:
    """Whether every value of ``a`` is finite.

    One fast pass first: a dot product of ``a`` with itself, which any NaN or
    infinity makes non-finite (BLAS runs it at memory speed, with no mask the
    size of ``a`` to allocate, as ``isfinite(a).all()`` has); the exact test
    only when that product comes out non-finite, which it also does when it
    merely overflows.
    """
    if a.dtype.kind != "f":
        return True
    flat = a.reshape(-1)
    return math.isfinite(float(np.vdot(flat, flat))) or bool(np.isfinite(a).all())


def require_finite(arr, name: str = "input") -> None:
    """Raise an error that counts the NaN and infinite values in ``arr``, if there are any."""
    if not all_finite(arr):
        bad = int((~np.isfinite(arr)).sum())
        raise ArgumentError(f"{name} contains {bad} NaN or infinite value(s); clean or impute them before training")
