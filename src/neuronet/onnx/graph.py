"""The graph being built: its nodes and weights, each value under a fresh name."""

from __future__ import annotations

import contextlib

import numpy as np

from ..arrays import to_numpy

TIME = "time"  # the graph's name for a sequence's free length, as "batch" names the batch's size


def require_onnx():
    """The onnx package, or an ImportError that says how to install it."""
    try:
        import onnx
    except ImportError:
        raise ImportError('ONNX export needs onnx: pip install "neuronet[onnx]"') from None
    return onnx


class Graph:
    """The nodes and weights of the graph being built; every value gets a fresh name, none of ``reserved``
    (the graph's inputs and outputs)."""

    def __init__(self, onnx, dtype, reserved=()) -> None:
        self.onnx, self.dtype, self.nodes, self.weights, self.count = onnx, dtype, [], [], 0
        self.reserved = set(reserved)
        self.kept: dict[int, dict] = {}  # a shared layer's constants by their values, under its id
        self.reused: dict | None = None  # those of the shared layer being exported, and those it makes now
        self.made: dict | None = None

    def name(self, hint: str) -> str:
        self.count += 1
        while f"{hint}_{self.count}" in self.reserved:
            self.count += 1
        return f"{hint}_{self.count}"

    def const(self, values, hint: str = "const", dtype=None) -> str:
        array = np.ascontiguousarray(np.asarray(values, dtype=dtype or self.dtype))
        key = None
        if self.reused is not None:  # (a shared layer's: the same values made at an earlier node are read again)
            key = (array.dtype.str, array.shape, array.tobytes())
            if key in self.reused:
                return self.reused[key]
        name = self.name(hint)
        self.weights.append(self.onnx.numpy_helper.from_array(array, name))
        if key is not None:
            self.made.setdefault(key, name)
        return name

    @contextlib.contextmanager
    def sharing(self, layer):
        """Export a layer used at several nodes (shared) at one of them: a constant it made at an earlier node
        (its weights) is that initializer again, so each is stored once."""
        self.reused, self.made = self.kept.setdefault(id(layer), {}), {}
        try:
            yield
        finally:
            self.reused.update(self.made)
            self.reused = self.made = None

    def op(self, kind: str, *inputs: str, outputs: int = 1, **attributes):
        names = [self.name(kind.lower()) for _ in range(outputs)]
        self.nodes.append(self.onnx.helper.make_node(kind, list(inputs), names, **attributes))
        return names[0] if outputs == 1 else names

    def transpose(self, x: str, perm) -> str:
        return self.op("Transpose", x, perm=list(perm))

    def channels_first(self, x: str, rank: int) -> str:
        """(batch, ..., channels) -> (batch, channels, ...), as ONNX's convolutions and pooling take it."""
        return self.transpose(x, [0, rank - 1, *range(1, rank - 1)])

    def channels_last(self, x: str, rank: int) -> str:
        """(batch, channels, ...) -> (batch, ..., channels), neuronet's layout."""
        return self.transpose(x, [0, *range(2, rank), 1])


def host(array) -> np.ndarray:
    """A Parameter's values, or a state array, on the host."""
    return to_numpy(getattr(array, "data", array))
