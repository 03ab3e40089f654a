"""The graph being built: its nodes and weights, each value under a fresh name."""

from __future__ import annotations

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
    """The nodes and weights of the graph being built; every value gets a fresh name."""

    def __init__(self, onnx, dtype) -> None:
        self.onnx, self.dtype, self.nodes, self.weights, self.count = onnx, dtype, [], [], 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, values, hint: str = "const", dtype=None) -> str:
        name = self.name(hint)
        array = np.ascontiguousarray(np.asarray(values, dtype=dtype or self.dtype))
        self.weights.append(self.onnx.numpy_helper.from_array(array, name))
        return name

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
