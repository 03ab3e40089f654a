"""Parameters: the numbers a network learns.

A :class:`Parameter` holds ``data`` and ``grad`` of the same shape. Backward
passes *add* into ``grad`` (as PyTorch does), so ``zero_grad`` must clear it
between steps.
"""

from __future__ import annotations

import contextlib
import contextvars

import numpy as np

from . import backend


class Parameter:
    """A learnable array with its gradient.

    ``zero_grad`` only marks the gradient as zero; the array is cleared the
    next time ``grad`` is read, unless a backward pass first overwrites it
    whole through :meth:`accumulate_matmul`. That saves a pass over memory
    and a temporary the size of the weights on every training step.
    """

    def __init__(self, data, regularizer=None) -> None:
        self.data = backend.xp.asarray(data, dtype=backend.get_dtype())
        self._grad = backend.xp.zeros_like(self.data)
        self._grad_pending_zero = False
        self.regularizer = regularizer  # a regularizers.L1L2 or None

    @property
    def grad(self):
        self.settle_grad()
        return self._grad

    def settle_grad(self) -> None:
        """Carry out a pending zero_grad now (needed before reading grads through a flat buffer)."""
        if self._grad_pending_zero:
            self._grad.fill(0)
            self._grad_pending_zero = False

    @grad.setter
    def grad(self, value) -> None:
        self._grad = value
        self._grad_pending_zero = False

    @property
    def shape(self) -> tuple:
        return self.data.shape

    def zero_grad(self) -> None:
        self._grad_pending_zero = True

    def accumulate_matmul(self, a, b) -> None:
        """grad += (a @ b) reshaped to grad's shape, written straight into grad when it was just zeroed."""
        if self._grad_pending_zero:
            backend.xp.matmul(a, b, out=self._grad.reshape(a.shape[0], b.shape[1]))
            self._grad_pending_zero = False
        else:
            self._grad += (a @ b).reshape(self._grad.shape)

    def assign(self, value) -> None:
        """Overwrite the values in place (views into a flat buffer stay valid)."""
        value = np.asarray(value)
        if value.shape != self.data.shape:
            raise ValueError(f"cannot assign shape {value.shape} to a parameter of shape {self.data.shape}")
        self.data[...] = value

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


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


def flatten_parameters(params: list[Parameter]) -> Parameter:
    """Move every parameter into one contiguous buffer and return it as a Parameter.

    Each parameter's ``data`` and ``grad`` become views into the flat ``data``
    and ``grad``, so an optimizer can update the whole model with a few large
    vector operations instead of a Python loop of small ones.
    """
    if not params:
        raise ValueError("there are no parameters to flatten")
    dtype = params[0].data.dtype
    total = sum(p.data.size for p in params)
    flat = Parameter(backend.xp.empty(total, dtype=dtype))
    offset = 0
    for p in params:
        n = p.data.size
        flat.data[offset : offset + n] = p.data.ravel()
        flat.grad[offset : offset + n] = p.grad.ravel()
        p.data = flat.data[offset : offset + n].reshape(p.data.shape)
        p.grad = flat.grad[offset : offset + n].reshape(p.grad.shape)
        offset += n
    return flat
