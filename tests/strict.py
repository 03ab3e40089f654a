"""A strict array type and its ops, as a GPU array module would be: the proof that the ops seam holds.

``StrictArray`` wraps a NumPy array but refuses what CuPy refuses and more:
turning it into a NumPy array without asking (``np.asarray``, ``__array__``),
mixing it with NumPy arrays in arithmetic, and NumPy's array functions
(``np.concatenate(strict)``). Its operators and methods work, and the module
``strict`` (its ``__array_namespace__``) offers NumPy's functions for it. A
model whose layers compute with :class:`StrictOps` can only work if every
array it touches came through its ops, and left through ``ops.to_numpy``.
"""

from __future__ import annotations

import operator
import types

import numpy as np

from neuronet.ops import Ops


def _unwrap(value):
    if isinstance(value, StrictArray):
        return value.a
    if isinstance(value, tuple):
        return tuple(_unwrap(v) for v in value)
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _wrap(value):
    if isinstance(value, np.ndarray):
        return StrictArray(value) if value.ndim else value[()]
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    return value


def _refuse_host(values) -> None:
    for v in values:
        if isinstance(v, np.ndarray) and v.ndim:
            raise TypeError("a NumPy array mixed with a device array: move it there with ops.asarray first")


class StrictArray:
    """A NumPy array that refuses implicit conversion, as a GPU array does."""

    __array_priority__ = 100

    def __init__(self, a: np.ndarray) -> None:
        self.a = a

    def __array__(self, *args, **kwargs):
        raise TypeError("implicit conversion of a device array to NumPy: use ops.to_numpy")

    def __array_namespace__(self, api_version=None):
        return strict

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):  # np.exp(x) and np scalars * x, as CuPy allows
        _refuse_host(inputs)
        if "out" in kwargs:
            kwargs["out"] = _unwrap(kwargs["out"])
        return _wrap(getattr(ufunc, method)(*_unwrap(inputs), **kwargs))

    def __array_function__(self, func, types, args, kwargs):
        raise TypeError(f"np.{func.__name__} on a device array: call it through ops.xp")

    def __getattr__(self, name):
        if name.startswith("__array"):  # __array_interface__ and the like would let NumPy read the memory
            raise AttributeError(name)
        value = getattr(self.a, name)
        if callable(value):
            return lambda *args, **kwargs: _wrap(value(*_unwrap(args), **_unwrap(kwargs)))
        return _wrap(value)

    @property
    def T(self):  # noqa: N802
        return StrictArray(self.a.T)

    @property
    def shape(self):
        return self.a.shape

    @property
    def dtype(self):
        return self.a.dtype

    @property
    def flat(self):
        raise TypeError("iterating over a device array element by element")

    def __len__(self):
        return len(self.a)

    def __iter__(self):
        return (_wrap(row) for row in self.a)

    def __getitem__(self, key):  # host index arrays are allowed, as CuPy allows them
        return _wrap(self.a[_unwrap(key)])

    def __setitem__(self, key, value):  # a host array may be copied in (host -> device is allowed)
        self.a[_unwrap(key)] = _unwrap(value)

    def __float__(self):
        return float(self.a)

    def __int__(self):
        return int(self.a)

    def __bool__(self):
        return bool(self.a)

    def __repr__(self):
        return f"StrictArray({self.a!r})"


def _binary(op, reflected=False, inplace=False):
    def method(self, other):
        _refuse_host([other])
        if inplace:
            op(self.a, _unwrap(other))
            return self
        a, b = (_unwrap(other), self.a) if reflected else (self.a, _unwrap(other))
        return _wrap(op(a, b))

    return method


for _name, _op in [
    ("add", operator.add), ("sub", operator.sub), ("mul", operator.mul), ("truediv", operator.truediv),
    ("floordiv", operator.floordiv), ("mod", operator.mod), ("pow", operator.pow), ("matmul", operator.matmul),
    ("and", operator.and_), ("or", operator.or_), ("xor", operator.xor),
]:  # fmt: skip
    setattr(StrictArray, f"__{_name}__", _binary(_op))
    setattr(StrictArray, f"__r{_name}__", _binary(_op, reflected=True))
    setattr(StrictArray, f"__i{_name}__", _binary(getattr(operator, f"i{_name}"), inplace=True))
for _name in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(StrictArray, f"__{_name}__", _binary(getattr(operator, _name)))
StrictArray.__neg__ = lambda self: StrictArray(-self.a)
StrictArray.__abs__ = lambda self: StrictArray(abs(self.a))
StrictArray.__invert__ = lambda self: StrictArray(~self.a)
StrictArray.__hash__ = None


class _StrictModule(types.ModuleType):
    """NumPy's functions for strict arrays: arguments unwrapped, array results wrapped."""

    def __getattr__(self, name):
        value = getattr(np, name)
        if isinstance(value, type) or not callable(value):  # dtypes, constants
            return value

        def call(*args, **kwargs):
            return _wrap(value(*_unwrap(args), **_unwrap(kwargs)))

        return call

    def asarray(self, x, dtype=None):
        if isinstance(x, StrictArray):
            return x if dtype is None or x.dtype == dtype else StrictArray(x.a.astype(dtype))
        return StrictArray(np.array(x, dtype=dtype))  # a copy: the device holds its own memory

    def asnumpy(self, a):
        """A copy on the host, as ``cupy.asnumpy``: the one way out."""
        return a.a.copy() if isinstance(a, StrictArray) else np.asarray(a)


strict = _StrictModule("strict")


class StrictOps(Ops):
    """The generic ops over strict arrays: what a CupyOps would be, with no device to need. ``fit`` moves its
    arrays to it first, as to a GPU with room for them, unless ``holds`` is False."""

    xp = strict
    holds = True

    def holds_data(self, nbytes: int, batch_nbytes: int) -> bool:
        return self.holds
