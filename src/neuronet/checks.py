"""Checking arguments: a bad setting is refused where it is given, with a message that says how to fix it.

Every public function and constructor checks its numbers here, so that a
mistake such as ``batch_size="8"``, ``Adam(float("nan"))`` or
``Dense(4.5, 3)`` is reported at once, naming the argument, what was expected
and what came, rather than failing later deep inside NumPy (or, worse, not at
all). The same checks guard model files: a description is rebuilt through the
constructors, so an absurd setting in a file is refused by the code that
would refuse it from a user.
"""

from __future__ import annotations

import math
import numbers
import os

import numpy as np

# sizes, strides and counts above this are absurd, and NumPy's strides and shapes would overflow on them
LARGEST_INT = 2**31 - 1


class ArgumentError(ValueError, TypeError):
    """An argument of the wrong type or value. It is both a ValueError and a TypeError (as scikit-learn's
    InvalidParameterError is), so code that catches either sees it."""


def _shown(value) -> str:
    return f"{value!r} ({type(value).__name__})"


def integer(value, name: str, low: int | None = None, high: int = LARGEST_INT) -> int:
    """``value`` as an int, checked to lie in [low, high]; True/False, floats and strings are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentError(f"{name} must be an int, got {_shown(value)}")
    value = int(value)
    if low is not None and value < low:
        raise ArgumentError(f"{name} must be >= {low}, got {value}")
    if value > high:
        raise ArgumentError(f"{name} must be <= {high:,}, got {value:,}")
    return value


def number(
    value,
    name: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite float, checked to lie between ``low`` and ``high`` (open ends on request)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentError(f"{name} must be a number, got {_shown(value)}")
    value = float(value) + 0.0  # -0.0 is 0.0 (NumPy's uniform(-0.0, 0.0) would call its range negative)
    if not math.isfinite(value):
        raise ArgumentError(f"{name} must be a finite number, got {value}")
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if below or above:
        if low is not None and high is not None:
            allowed = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        elif low is not None:
            allowed = f"{'>' if low_open else '>='} {low:g}"
        else:
            allowed = f"{'<' if high_open else '<='} {high:g}"
        raise ArgumentError(f"{name} must be {allowed}, got {value:g}")
    return value


def optional_number(value, name: str, **limits) -> float | None:
    """None, or a number checked as :func:`number` checks it."""
    return None if value is None else number(value, name, **limits)


def flag(value, name: str) -> bool:
    """``value`` as a bool: True, False (NumPy's too), 0 or 1."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, numbers.Integral) and value in (0, 1)):
        return bool(value)
    raise ArgumentError(f"{name} must be True or False, got {_shown(value)}")


# floats are exact integers up to 2**53: beyond it 2**53 + 1 reads as 2**53, so a whole float there is no id
LARGEST_EXACT_FLOAT_INT = 2**53


def whole_numbers(array: np.ndarray, name: str, low: int | None = None) -> np.ndarray:
    """A numeric array (bools, integers or floats) as int64, refused naming ``name`` unless every value is
    a whole number (2.0 is 2; 2.5, NaN and floats beyond 2**53 are not) of at least ``low``."""
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (array != np.floor(array)) | (np.abs(array) > LARGEST_EXACT_FLOAT_INT)
        if bad.any():
            raise ArgumentError(f"{name} must hold whole numbers, got {array[bad].flat[0]} (at index {_first(bad)})")
    elif array.dtype.kind == "u" and array.size and array.max() > np.iinfo(np.int64).max:
        raise ArgumentError(f"{name} holds {array.max()}, beyond the int64 range")
    elif array.dtype.kind not in "biu":
        raise ArgumentError(f"{name} must hold whole numbers, got values of dtype {array.dtype}")
    array = array.astype(np.int64)
    if low is not None and array.size and array.min() < low:
        raise ArgumentError(f"{name} must hold numbers >= {low}, got {array.min()} (at index {_first(array < low)})")
    return array


def _first(mask: np.ndarray):
    """The index of the first True in ``mask``: an int for 1-D, a tuple of ints otherwise."""
    where = tuple(int(i[0]) for i in np.nonzero(mask))
    return where[0] if len(where) == 1 else where


def file_path(value, name: str) -> str:
    """``value`` (a str, bytes or os.PathLike) as a str naming a file to write; an int (a file descriptor,
    which closing the file would close), an empty name, a NUL byte or a directory is refused."""
    if not isinstance(value, (str, bytes, os.PathLike)):
        raise ArgumentError(f"{name} must be a file name (str, bytes or os.PathLike), got {_shown(value)}")
    path = os.fsdecode(value)
    if not path or "\x00" in path:
        raise ArgumentError(f"{name} must be a file name, got {path!r}")
    if os.path.isdir(path):
        raise ArgumentError(f"{name} {path!r} is a directory; give a file name in it")
    return path


def verbosity(verbose) -> int:
    """``verbose`` as 0, 1 or 2 (True and False count as 1 and 0)."""
    return integer(int(verbose) if isinstance(verbose, bool) else verbose, "verbose", low=0, high=2)


def choice(value, name: str, choices) -> str:
    """``value``, which must be one of ``choices`` (strings)."""
    if not isinstance(value, str) or value not in choices:
        raise ArgumentError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def text(value, name: str) -> str:
    if not isinstance(value, str):
        raise ArgumentError(f"{name} must be a string, got {_shown(value)}")
    return value


# a sample with more axes is no data neuronet knows (images have three); NumPy's own limit is 64 with the batch
MAX_AXES = 16


def sample_shape(value, name: str = "input_shape") -> tuple:
    """``value`` checked as one sample's shape: a tuple or list of sizes >= 1 (None: a free axis)."""
    if not isinstance(value, (tuple, list)):
        raise ArgumentError(f"{name} must be a tuple of sizes for one sample, e.g. (4,) or (28, 28, 1), got {value!r}")
    if not 1 <= len(value) <= MAX_AXES:
        raise ArgumentError(f"{name} must have 1 to {MAX_AXES} axes, got {len(value)}")
    return tuple(None if d is None else integer(d, f"each size in {name}", low=1) for d in value)
