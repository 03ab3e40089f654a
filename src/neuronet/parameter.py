"""Parameters: the numbers a network learns.

A :class:`Parameter` holds ``data`` and ``grad`` of the same shape. Backward
passes *add* into ``grad`` (as PyTorch does), so ``zero_grad`` must clear it
between steps.
"""

from __future__ import annotations

import numpy as np

from . import arrays
from .ops import get_ops


class Parameter:
    """A learnable array with its gradient.

    ``zero_grad`` only marks the gradient as zero; the array is cleared the
    next time ``grad`` is read, unless a backward pass first overwrites it
    whole through :meth:`accumulate_matmul`. That saves a pass over memory
    and a temporary the size of the weights on every training step.
    """

    def __init__(self, data, regularizer=None, ops=None, constraint=None, dtype=None) -> None:
        ops = ops or get_ops()
        self.data = ops.asarray(data, dtype=dtype or ops.dtype)
        self._grad = ops.xp.zeros_like(self.data)
        self._grad_pending_zero = False
        self.regularizer = regularizer  # a regularizers.L1L2 or None
        # applied to the values in place after every optimizer step (as Keras's constraints): SparseDense keeps
        # its absent connections at zero with one
        self.constraint = constraint

    @property
    def grad(self):
        self.settle_grad()
        return self._grad

    def settle_grad(self) -> None:
        """Carry out a pending zero_grad now (reading ``grad`` does; a flat buffer does it for its members)."""
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
            arrays.array_module(a).matmul(a, b, out=self._grad.reshape(a.shape[0], b.shape[1]))
            self._grad_pending_zero = False
        else:
            self._grad += (a @ b).reshape(self._grad.shape)

    def move(self, ops) -> None:
        """Hold the values (and the gradient) as arrays of ``ops``; no copy where they already are."""
        self.settle_grad()
        self.data, self._grad = ops.asarray(self.data), ops.asarray(self._grad)

    def assign(self, value) -> None:
        """Overwrite the values in place (views into a flat buffer stay valid)."""
        if np.shape(value) != self.data.shape:
            raise ValueError(f"cannot assign shape {np.shape(value)} to a parameter of shape {self.data.shape}")
        self.data[...] = value

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class FlatParameter(Parameter):
    """Every parameter of a model in one contiguous buffer: each one's ``data`` and ``grad`` are views into
    this one's, so an optimizer updates the whole model with a few long vector operations instead of a
    Python loop of small ones.

    Reading ``grad`` carries out each member's pending ``zero_grad`` first (see :class:`Parameter`): a
    backward pass that left some member untouched still hands the optimizer zeros there, and no caller
    must remember to settle them.
    """

    def __init__(self, params: list[Parameter], ops=None) -> None:
        if not params:
            raise ValueError("there are no parameters to flatten")
        first = params[0].data
        total = sum(p.data.size for p in params)
        super().__init__(arrays.array_module(first).empty(total, dtype=first.dtype), ops=ops, dtype=first.dtype)
        self.members = list(params)
        ends = np.cumsum([p.data.size for p in params])
        self.slices = [slice(int(end) - p.data.size, int(end)) for p, end in zip(params, ends)]
        for p, data, grad in zip(params, self.pieces(self.data), self.pieces(self._grad)):
            data[...], grad[...] = p.data, p.grad
        self.point_members()

    def pieces(self, buffer) -> list:
        """Each member's part of ``buffer`` (a flat array of this one's size), shaped as the member: views."""
        return [buffer[part].reshape(p.data.shape) for p, part in zip(self.members, self.slices)]

    def point_members(self) -> None:
        """Make each member's ``data`` and ``grad`` its views into this buffer."""
        for p, data, grad in zip(self.members, self.pieces(self.data), self.pieces(self._grad)):
            p.data, p.grad = data, grad

    def __setstate__(self, state: dict) -> None:
        # a copy (copy.deepcopy of a model) copies each member's views as arrays of their own: the optimizer
        # would step the copied buffer and leave the copied members' weights where they were
        self.__dict__.update(state)
        self.point_members()

    def settle_grad(self) -> None:
        super().settle_grad()
        for p in self.members:
            p.settle_grad()

    def move(self, ops) -> None:
        """Hold the buffer on ``ops``'s device, the members views into it as before."""
        super().move(ops)
        self.point_members()


class ModelParameters:
    """A model's parameters by path ("<index>.<layer name>.<path in the layer>") and the flat buffer behind
    them, made again when the layers change (pruning, a layer added after training), the optimizer's state of
    the parameters kept carried over to the new buffer (``Optimizer.carry_state``)."""

    def __init__(self) -> None:
        self.flat: FlatParameter | None = None
        self.slices: dict[str, tuple[Parameter, slice]] = {}  # what the buffer holds, by path

    def holds(self, params: list[Parameter]) -> bool:
        """Whether the buffer holds exactly ``params``, in order."""
        return len(params) == len(self.slices) and all(p is was for p, (was, _) in zip(params, self.slices.values()))

    def buffer(self, named: dict[str, Parameter], ops, optimizer=None) -> FlatParameter | None:
        """The flat buffer of the parameters ``named`` (by path), None if there are none."""
        if self.holds(list(named.values())):
            return self.flat
        old, old_slices = self.flat, self.slices
        self.flat = FlatParameter(list(named.values()), ops) if named else None
        parts = self.flat.slices if named else []
        self.slices = {path: (p, part) for (path, p), part in zip(named.items(), parts)}
        if old is not None and self.flat is not None and optimizer is not None:
            pieces = [
                (old_slices[path][1], now)
                for path, (p, now) in self.slices.items()
                if path in old_slices and old_slices[path][0].data.shape == p.data.shape
            ]
            optimizer.carry_state(old, self.flat, pieces)
        return self.flat

    def constrain(self) -> None:
        """Each parameter's constraint, after an optimizer step (SparseDense's mask)."""
        for p, _ in self.slices.values():
            if p.constraint is not None:
                p.constraint(p.data)
