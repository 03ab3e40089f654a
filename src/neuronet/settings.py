"""The library's settings: the float type, the seeded generator, the threads a split batch runs on.

Set once at the top of a program (``nn.set_dtype``, ``nn.set_seed``,
``nn.set_threads``) and read where new arrays, draws and threads are made. The
ops new layers and models compute with is ``ops.get_ops``/``ops.use_ops``; the
checks of what users hand in are ``arrays.py``.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

from .checks import integer

_DTYPES = {"float32": np.float32, "float64": np.float64}
_dtype: type = np.float32
_rng: np.random.Generator = np.random.default_rng()
_threads: int | None = None  # None: every core


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
    """Seed the one generator behind initialisation, and behind the generators models draw from it."""
    global _rng
    if seed is not None:
        seed = integer(seed, "seed", low=0, high=2**63 - 1)
    _rng = np.random.default_rng(seed)


@contextlib.contextmanager
def seeded(seed: int | None):
    """Draw from a generator seeded with ``seed`` inside this block (None: a fresh one); the library's own
    generator is as it was after it (an estimator's ``random_state`` does not reseed the library)."""
    global _rng
    saved = _rng
    set_seed(seed)
    try:
        yield _rng
    finally:
        _rng = saved


def rng() -> np.random.Generator:
    """The library's random generator (see :func:`set_seed`)."""
    return _rng


def set_threads(n: int | None) -> None:
    """How many threads run the parts of a batch split across cores (``steps/threads.py``) at once; 1 runs
    them one after another, None uses every core. The results do not depend on it."""
    global _threads
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise ValueError(f"threads must be a positive int or None, got {n!r}")
    _threads = n


def get_threads() -> int:
    """The number of threads that run the parts of a split batch (see :func:`set_threads`)."""
    if _threads is not None:
        return _threads
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
