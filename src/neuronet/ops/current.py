"""The ops new layers and models are made with: a NumpyOps unless a ``use_ops`` block says otherwise."""

from __future__ import annotations

import contextlib
import contextvars

from .numpy_ops import NumpyOps
from .reference import Ops

_ops: contextvars.ContextVar[Ops | None] = contextvars.ContextVar("ops", default=None)  # None: the default
_default_ops: Ops | None = None


def get_ops():
    """The ops new layers and models are made with: a NumpyOps unless :func:`use_ops` says otherwise."""
    global _default_ops
    ops = _ops.get()
    if ops is None:
        if _default_ops is None:
            _default_ops = NumpyOps()
        ops = _default_ops
    return ops


@contextlib.contextmanager
def use_ops(ops):
    """Make the layers and models built inside this block with ``ops`` (another device, another kind)."""
    token = _ops.set(ops)
    try:
        yield ops
    finally:
        _ops.reset(token)
