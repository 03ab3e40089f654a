"""While a model file is read: the shapes its tensors have, which each layer's arrays must match before they
are allocated.

A layer declares each array's shape (:func:`declare`) before allocating it,
so a description that would make its layers larger than the file's tensors
(a 2 KB file declaring ``Dense(20000, 20000)``) fails before the first large
allocation, not after it (``model_file.py`` builds a model inside
:func:`shapes_on_file`).
"""

from __future__ import annotations

import contextlib
import contextvars

# while a model file is read: the shapes of the arrays the file holds for the layer being built
_shapes_on_file: contextvars.ContextVar[dict | None] = contextvars.ContextVar("shapes_on_file", default=None)


@contextlib.contextmanager
def shapes_on_file(shapes: dict[str, tuple]):
    """Build a layer whose arrays must have these shapes (by attribute name), as a model file holds them.

    A layer declares each array's shape (:func:`declare`) before allocating
    it, so a description that would make its layers larger than the file's
    tensors (a 2 KB file declaring ``Dense(20000, 20000)``) fails before the
    first large allocation, not after it.
    """
    token = _shapes_on_file.set({name: tuple(shape) for name, shape in shapes.items()})
    try:
        yield
    finally:
        _shapes_on_file.reset(token)


@contextlib.contextmanager
def within(prefix: str):
    """Inside :func:`shapes_on_file`, build a layer held under ``prefix`` (a wrapper's): its arrays are the
    file's "prefix.name"."""
    on_file = _shapes_on_file.get()
    if on_file is None:
        yield
        return
    inner = {name[len(prefix) + 1 :]: shape for name, shape in on_file.items() if name.startswith(prefix + ".")}
    token = _shapes_on_file.set(inner)
    try:
        yield
    finally:
        _shapes_on_file.reset(token)


def declare(name: str, shape: tuple) -> tuple:
    """Announce that an array ``name`` of ``shape`` is about to be allocated; returns the shape.

    Outside :func:`shapes_on_file` this only checks the shape; inside, the file must hold that array with
    exactly that shape, or a ValueError says so.
    """
    shape = tuple(int(d) for d in shape)
    on_file = _shapes_on_file.get()
    if on_file is not None:
        if name not in on_file:
            raise ValueError(f"the description gives it an array {name!r} that the file does not hold")
        if on_file[name] != shape:
            raise ValueError(f"the description makes its {name} of shape {shape}, but the file holds {on_file[name]}")
    return shape
