"""MultiHeadAttention and PositionalEmbedding as ONNX operators, for sequences of any length.

Attention is MatMul, Add, Reshape, Transpose and Softmax, head by head in one batch of (batch, heads, T, D)
arrays, as neuronet computes it. The scores a query may not read (a later key when causal, a padded key) are
computed in the graph from the lengths and the padding (``recurrent.Mask``), set to the lowest finite number
before the Softmax and to 0 after it: a query whose keys are all hidden gets weights 0 and outputs the output
biases, as in neuronet (not NaN, as an additive -inf would give). Dropout is absent at inference.

Each takes (graph, layer, x, shape, mask) and returns the output's name; attention on a list takes the
inputs' names, shapes and masks as lists."""

from __future__ import annotations

import math

import numpy as np

from ..layers.positional import sinusoidal_encoding
from .graph import Graph, host


def _ints(g: Graph, *values: int) -> str:
    return g.const(values, "ints", dtype=np.int64)


def _heads(g: Graph, layer, x: str, role: str, perm: list[int]) -> str:
    """``x @ W + b`` for the projection of ``role``, as heads: (batch, T, E) -> (batch, T, H, D), transposed
    by ``perm`` ((batch, H, T, D) for queries and values, (batch, H, D, T) for keys)."""
    w, b = host(getattr(layer, f"{role}_weights")), host(getattr(layer, f"{role}_biases"))
    z = g.op("Add", g.op("MatMul", x, g.const(w, f"{role}_weights")), g.const(b, f"{role}_bias"))
    return g.transpose(g.op("Reshape", z, _ints(g, 0, 0, layer.num_heads, layer.head_dim)), perm)


def _steps(g: Graph, x: str) -> str:
    """The number of steps of ``x`` (batch, T, ...), a scalar."""
    return g.op("Squeeze", g.op("Shape", x, start=1, end=2), _ints(g, 0))


def _hidden(g: Graph, layer, xq: str, xk: str, key_real: str | None) -> str | None:
    """Which scores are hidden, booleans broadcastable to (batch, H, Tq, Tk): key j after query i when causal
    (Tq, Tk); a padded key, (batch, 1, 1, Tk), where ``key_real`` (batch, Tk; 1 at a real step) is given."""
    hide = None
    if layer.causal:  # j > i: Less(i, j) on the rows' and columns' positions
        start, delta = g.const(0, "start", dtype=np.int64), g.const(1, "delta", dtype=np.int64)
        rows, columns = (g.op("Range", start, _steps(g, x), delta) for x in (xq, xk))
        hide = g.op("Less", g.op("Unsqueeze", rows, _ints(g, 1)), columns)
    if key_real is not None:
        padded = g.op("Equal", key_real, g.const(0, "zero", dtype=np.int64))
        padded = g.op("Unsqueeze", padded, _ints(g, 1, 2))
        hide = padded if hide is None else g.op("Or", hide, padded)
    return hide


def _key_real(g: Graph, masks: list) -> str | None:
    """The keys' padding, (batch, Tk) int64 1 at a real step, or None: the one input's in self-attention; in a
    list the key's and the value's joined (a key is real where both say so); the query's hides no key."""
    reals = [m.real for m in (masks if len(masks) == 1 else masks[1:]) if m is not None]
    if not reals:
        return None
    real = reals[0]
    for other in reals[1:]:
        real = g.op("Mul", real, other)
    return real


def attention(g: Graph, layer, x, shape, mask):
    """y = concat_h(softmax(q_h k_h^T / sqrt(D) + M) v_h) @ Wo + bo on x (self-attention), [query, value] or
    [query, key, value]; ``mask`` the input's padding (a list of them for a list, None where none)."""
    xs = list(x) if isinstance(x, list) else [x]
    masks = list(mask) if isinstance(mask, list) else [mask]
    xq, xk, xv = xs * 3 if len(xs) == 1 else [xs[0], xs[1], xs[1]] if len(xs) == 2 else xs
    q = _heads(g, layer, xq, "query", [0, 2, 1, 3])  # (batch, H, Tq, D)
    k = _heads(g, layer, xk, "key", [0, 2, 3, 1])  # (batch, H, D, Tk)
    v = _heads(g, layer, xv, "value", [0, 2, 1, 3])  # (batch, H, Tk, D)
    q = g.op("Mul", q, g.const(1.0 / math.sqrt(layer.head_dim), "scale"))
    scores = g.op("MatMul", q, k)  # (batch, H, Tq, Tk)
    hide = _hidden(g, layer, xq, xk, _key_real(g, masks))
    if hide is None:
        p = g.op("Softmax", scores, axis=-1)
    else:  # the lowest finite score, not -inf: a row hidden throughout stays finite, and is zeroed after
        lowest = g.const(np.finfo(g.dtype).min, "lowest")
        p = g.op("Softmax", g.op("Where", hide, lowest, scores), axis=-1)
        p = g.op("Where", hide, g.const(0.0, "zero"), p)
    o = g.transpose(g.op("MatMul", p, v), [0, 2, 1, 3])  # (batch, Tq, H, D): the heads side by side
    o = g.op("Reshape", o, _ints(g, 0, 0, layer.embed_dim))
    wo, bo = host(layer.output_weights), host(layer.output_biases)
    return g.op("Add", g.op("MatMul", o, g.const(wo, "output_weights")), g.const(bo, "output_bias"))


def positional(g: Graph, layer, x, shape, mask):
    """y = x + P[:time]: the table's first rows, as many as ``x`` has steps (a Slice on the length in the
    graph). A sequence longer than the table is refused by the runtime (the Add's shapes do not fit)."""
    table = sinusoidal_encoding(layer.max_length, layer.embed_dim) if layer.sinusoidal else host(layer.weights)
    table = g.const(table, "positions")
    rows = g.op("Slice", table, _ints(g, 0), g.op("Shape", x, start=1, end=2), _ints(g, 0))
    return g.op("Add", x, rows)
