"""The recurrent layers as ONNX's RNN, LSTM and GRU, and the padding mask they skip.

ONNX orders the gates otherwise (LSTM i, o, f, c against PyTorch's and neuronet's i, f, g, o; GRU z, r, h
against r, z, n), and its GRU is PyTorch's with ``linear_before_reset=1``. Its recurrent operators only skip
padding at the end of a sequence (``sequence_lens``), so each recurrent layer gathers a sequence's real steps
to its front first and scatters its outputs back after. Where a graph's branches join, their masks are joined
as neuronet's merge layers join them (``joined_mask``)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import checks
from .. import layers as L
from .graph import host

# ONNX's gate order in terms of neuronet's (PyTorch's) blocks
GATE_ORDER = {L.LSTM: (0, 3, 1, 2), L.GRU: (1, 0, 2), L.SimpleRNN: (0,)}


def _gates(a, order, h):
    """The blocks of ``h`` along ``a``'s last axis, in ONNX's ``order``."""
    return np.concatenate([a[..., k * h : (k + 1) * h] for k in order], axis=-1)


def _cell_weights(cells):
    """ONNX's W (dirs, G*H, in), R (dirs, G*H, H) and B (dirs, 2*G*H) for one or two cells."""
    W, R, B = [], [], []
    for cell in cells:
        order, h = GATE_ORDER[type(cell)], cell.hidden_size
        W.append(_gates(host(cell.input_weights), order, h).T)
        R.append(_gates(host(cell.recurrent_weights), order, h).T)
        second = host(cell.recurrent_biases) if isinstance(cell, L.GRU) else np.zeros_like(host(cell.biases))
        B.append(np.concatenate([_gates(host(cell.biases), order, h), _gates(second, order, h)]))
    return np.stack(W), np.stack(R), np.stack(B)


def recurrent(g, layer, x, shape, mask):
    """ONNX's RNN/LSTM/GRU on (time, batch, features); with a mask, on each sequence's real steps moved to
    its front (``sequence_lens``), the outputs scattered back to where the steps were."""
    if isinstance(layer, L.Bidirectional):
        cells = [layer.forward_layer, layer.backward_layer]
        if type(cells[0]) is not type(cells[1]) or cells[0].hidden_size != cells[1].hidden_size:
            raise checks.ArgumentError(f"layer {layer.name!r}: ONNX's bidirectional operators need two cells alike")
        sequences, merge = layer.return_sequences, layer.merge_mode
    else:
        cells, sequences, merge = [layer], layer.return_sequences, None
    cell, h = cells[0], cells[0].hidden_size
    W, R, B = _cell_weights(cells)
    attributes = {"hidden_size": h, "direction": "bidirectional" if merge else "forward"}
    if isinstance(cell, L.GRU):
        attributes["linear_before_reset"] = 1
    if isinstance(cell, L.SimpleRNN):
        attributes["activations"] = ["Tanh" if cell.activation == "tanh" else "Relu"] * len(cells)
    lengths = ""
    if mask is not None:
        positions, lengths = mask.positions, mask.lengths
        x = g.op("GatherElements", x, _along(g, positions, x), axis=1)
    kind = {L.SimpleRNN: "RNN", L.LSTM: "LSTM", L.GRU: "GRU"}[type(cell)]
    outputs = g.op(kind, g.transpose(x, [1, 0, 2]), g.const(W, "W"), g.const(R, "R"), g.const(B, "B"), lengths,
                   outputs=2, **attributes)  # fmt: skip
    dirs = len(cells)
    # Y (time, dirs, batch, H) -> (batch, time, dirs, H); or the last states Y_h (dirs, batch, H) -> (batch, dirs, H)
    y = g.transpose(outputs[0], [2, 0, 1, 3]) if sequences else g.transpose(outputs[1], [1, 0, 2])
    axis = 2 if sequences else 1  # the directions' axis
    if merge in (None, "concat"):
        y = g.op("Reshape", y, g.const([0, 0, dirs * h] if sequences else [0, dirs * h], "shape", dtype=np.int64))
    elif merge == "sum":  # (opset 17: ReduceSum takes its axes as an input, the others as an attribute)
        y = g.op("ReduceSum", y, g.const([axis], "axes", dtype=np.int64), keepdims=0)
    else:
        y = g.op({"mul": "ReduceProd", "ave": "ReduceMean"}[merge], y, axes=[axis], keepdims=0)
    if sequences and mask is not None:  # step j of the front-packed sequence back to position positions[j]
        y = g.op("ScatterElements", g.op("Mul", y, g.const(0.0, "zero")), _along(g, positions, y), y, axis=1)
    return y


def _along(g, positions, like) -> str:
    """The (batch, time) positions repeated along ``like``'s last axis, for GatherElements/ScatterElements."""
    return g.op("Expand", g.op("Unsqueeze", positions, g.const([2], "axes", dtype=np.int64)), g.op("Shape", like))


class Mask(NamedTuple):
    """A sequence's padding in the graph: which steps are real, and the order that puts them first."""

    real: str  # (batch, time) int64: 1 at a real step, 0 at padding
    positions: str  # (batch, time): each sequence's real steps first, in order, then its padding
    lengths: str  # (batch,) int32: how many steps are real


def padding_mask(g, ids, padding_id) -> Mask:
    """The mask of token ids (batch, time): real where a token is not ``padding_id``."""
    real = g.op("Cast", g.op("Not", g.op("Equal", ids, g.const(padding_id, "padding", dtype=np.int64))), to=7)
    return _packed(g, real, ids)


def _packed(g, real, like) -> Mask:
    """From the real steps (batch, time) of a sequence shaped as ``like``: each sequence's real steps first, in
    order, then its padding (the positions, ascending keys: position for a real step, time + position for
    padding), and its length."""
    steps = g.op("Gather", g.op("Shape", like), g.const(1, "axis", dtype=np.int64), axis=0)
    position = g.op("Range", g.const(0, "start", dtype=np.int64), steps, g.const(1, "delta", dtype=np.int64))
    keys = g.op("Add", position, g.op("Mul", g.op("Sub", g.const(1, "one", dtype=np.int64), real), steps))
    _, order = g.op("TopK", keys, g.op("Reshape", steps, g.const([1], "shape", dtype=np.int64)), outputs=2,
                    axis=1, largest=0, sorted=1)  # fmt: skip
    lengths = g.op("Cast", g.op("ReduceSum", real, g.const([1], "axes", dtype=np.int64), keepdims=0), to=6)
    return Mask(real, order, lengths)


def joined_mask(g, layer, masks: list, xs: list, shapes: list) -> Mask | None:
    """A merge layer's output mask from its inputs' (None: all steps real), as ``Merge.output_mask`` makes it:
    on a Concatenate's time axis the inputs' masks one after another; else a step is real where it is real in
    every input that has a mask. None where none has one."""
    present = list({m.real: m for m in masks if m is not None}.values())  # (one sequence's, read twice, once)
    if not present:
        return None
    if isinstance(layer, L.Concatenate) and layer.axis % len(shapes[0]) == 1:
        ones = g.const([[1]], "one", dtype=np.int64)
        reals = [g.op("Expand", ones, g.op("Shape", x, end=2)) if m is None else m.real for m, x in zip(masks, xs)]
        real = g.op("Concat", *reals, axis=1)
    elif len(present) == 1:
        return present[0]
    else:
        real = present[0].real
        for m in present[1:]:
            real = g.op("Mul", real, m.real)
    return _packed(g, real, real)
