"""Arrays as users hand them in, and arrays of any device: which module an array belongs to, a copy on the
host, and the checks that turn what users pass into numbers neuronet computes with.

Code that only receives arrays (losses, optimizers, regularisers) asks
:func:`array_module` which module they belong to, as Chainer's
``get_array_module`` does. ``as_array`` and ``as_float`` check what users hand
in: host-side NumPy, before anything reaches a device.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from . import settings
from .checks import ArgumentError


def array_module(a):
    """The module of array ``a``: NumPy for NumPy arrays, else the one its ``__array_namespace__`` names
    (CuPy's arrays name none: CuPy for those)."""
    if isinstance(a, np.ndarray):
        return np
    namespace = getattr(a, "__array_namespace__", None)
    if namespace is not None:
        return namespace()
    cupy = sys.modules.get("cupy")  # (imported already if a is one of its arrays)
    return cupy.get_array_module(a) if cupy is not None else np


def to_numpy(a) -> np.ndarray:
    """Any array (NumPy's, a device's) as a NumPy array: a copy off a device, none for NumPy's."""
    if isinstance(a, np.ndarray):
        return a
    xp = array_module(a)
    return xp.asnumpy(a) if xp is not np else np.asarray(a)


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
    dtype = settings.get_dtype()
    if source.dtype == dtype:
        arr = source  # (nothing to cast: no values beyond the type's range)
    else:
        with np.errstate(over="ignore"):  # values beyond the float type's range are reported below
            arr = source.astype(dtype, copy=False)
    if not all_finite(arr):
        if source.dtype.kind == "f" and all_finite(source):  # finite before the cast: too large for the float type
            raise ArgumentError(
                f"{name} holds values up to {float(np.abs(source).max()):.3g}, beyond the range of "
                f"{np.dtype(settings.get_dtype()).name} (+-{float(np.finfo(settings.get_dtype()).max):.3g}); "
                "scale them down, "
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
    xp = array_module(a)
    flat = a.reshape(-1)
    return math.isfinite(float(xp.vdot(flat, flat))) or bool(xp.isfinite(a).all())


def require_finite(arr, name: str = "input") -> None:
    """Raise an error that counts the NaN and infinite values in ``arr``, if there are any."""
    if not all_finite(arr):
        bad = int((~np.isfinite(arr)).sum())
        raise ArgumentError(f"{name} contains {bad} NaN or infinite value(s); clean or impute them before training")
