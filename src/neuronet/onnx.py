"""ONNX export: a model as an ONNX graph that any ONNX runtime can serve.

``export(model, path)`` writes the model's own layout: its input is what
``model.predict`` takes (channels-last images, (batch, time, features)
sequences, int64 token ids), its output what ``predict`` returns. The batch
size is free, and so is a sequence's length ("time"), as in neuronet, unless
a layer needs it fixed (a Flatten after Conv1D) or ``export(...,
input_shape=...)`` fixes it; the other sizes are the model's input shape
(from ``input_shape=``, a first layer that fixes it, or the data it last saw).
Before the graph is built, one zero sample of that shape goes through the
layers, so that a shape the model does not take is an error naming it.

Each layer becomes the ONNX operators that compute it (``EXPORTERS``):
Dense is MatMul and Add; convolutions and pooling transpose to channels-first
around ONNX's Conv, ConvTranspose, MaxPool, AveragePool and Resize, which
work that way; BatchNormalization in inference mode is one Mul and one Add
per channel; Dropout and the augmentation layers are the identity;
Embedding is a Gather; the recurrent layers are ONNX's RNN, LSTM and GRU,
whose gates come in another order (LSTM i, o, f, c against PyTorch's and
neuronet's i, f, g, o; GRU z, r, h against r, z, n) and whose GRU is
PyTorch's with ``linear_before_reset=1``. A padded sequence's padding
(Embedding's ``padding_id``) is skipped as in neuronet: ONNX's recurrent
operators only skip padding at the end of a sequence (``sequence_lens``), so
each recurrent layer gathers a sequence's real steps to its front first and
scatters its outputs back after.

Needs onnx (``pip install "neuronet[onnx]"``); the file is checked with
``onnx.checker`` before it is written (atomically).
"""

from __future__ import annotations

import os

import numpy as np

from . import checks
from . import layers as L
from .backend import as_array, to_numpy
from .model_file import SAMPLE_LIMIT, check_layers_fit, values_per_sample
from .saving import atomic_write_bytes

OPSET, IR_VERSION = 17, 8  # read by onnxruntime 1.14 and later
TIME = "time"  # the graph's name for a sequence's free length, as "batch" names the batch's size

# ONNX's gate order in terms of neuronet's (PyTorch's) blocks
GATE_ORDER = {L.LSTM: (0, 3, 1, 2), L.GRU: (1, 0, 2), L.SimpleRNN: (0,)}


def require_onnx():
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


def _host(array) -> np.ndarray:
    """A Parameter's values, or a state array, on the host."""
    return to_numpy(getattr(array, "data", array))


# -- layer by layer: each takes (graph, layer, x, shape, mask) and returns the output's name ------------
def _activation(g: Graph, act, x: str) -> str:
    if act is None:
        return x
    kind = type(act)
    if kind is L.ReLU:
        return g.op("Relu", x)
    if kind is L.LeakyReLU:
        return g.op("LeakyRelu", x, alpha=float(act.alpha))
    if kind is L.Sigmoid:
        return g.op("Sigmoid", x)
    if kind is L.Tanh:
        return g.op("Tanh", x)
    if kind is L.Softmax:
        return g.op("Softmax", x, axis=-1)
    raise checks.ArgumentError(f"activation {kind.__name__} has no ONNX form here")


def _dense(g, layer, x, shape, mask):
    z = g.op("Add", g.op("MatMul", x, g.const(_host(layer.weights), "weights")), g.const(_host(layer.biases), "bias"))
    return _activation(g, layer.activation, z)


def _channels_first(g, x, rank):
    """(batch, ..., channels) -> (batch, channels, ...)."""
    return g.transpose(x, [0, rank - 1, *range(1, rank - 1)])


def _channels_last(g, x, rank):
    return g.transpose(x, [0, *range(2, rank), 1])


def _conv(g, layer, x, shape, mask):
    w = _host(layer.weights)  # (kh, kw, in, out) or (k, in, out)
    one_d = isinstance(layer, L.Conv1D)
    kernel = w.transpose(2, 1, 0) if one_d else w.transpose(3, 2, 0, 1)
    rank = len(shape)
    x = _channels_first(g, x, rank)
    if one_d and shape[1] is None and layer.padding == "same" and layer.stride[1] > 1:
        x, pads = g.op("Pad", x, _same_pads(g, x, layer)), [0, 0]  # (it depends on the length: in the graph)
    else:  # a free length pads as any other: "valid" and an int never depend on it, "same" at stride 1 neither
        (top, bottom), (left, right) = layer.padding_for(*([1, shape[1] or 1] if one_d else shape[1:3]))
        pads = [left, right] if one_d else [top, left, bottom, right]
    strides, dilations = (layer.stride[1:], layer.dilation[1:]) if one_d else (layer.stride, layer.dilation)
    y = g.op("Conv", x, g.const(kernel, "kernel"), g.const(_host(layer.biases), "bias"),
             pads=pads, strides=list(strides), dilations=list(dilations))  # fmt: skip
    return _activation(g, layer.activation, _channels_last(g, y, rank))


def _same_pads(g, x, layer):
    """ONNX Pad's pads for a channels-first sequence of any length under "same" padding, as
    ``windows.padding_amounts`` gives them: total = max((ceil(n / s) - 1) s + span - n, 0), half before, the rest
    after. (ONNX's auto_pad="SAME_UPPER" computes the same, but onnxruntime refuses it with a dilation.)"""
    s, span = layer.stride[1], layer.dilation[1] * (layer.kernel[1] - 1) + 1

    def ints(*values):
        return g.const(values, "ints", dtype=np.int64)

    n = g.op("Gather", g.op("Shape", x), ints(2), axis=0)
    steps = g.op("Div", g.op("Add", n, ints(s - 1)), ints(s))  # ceil(n / s): the outputs
    covered = g.op("Add", g.op("Mul", g.op("Sub", steps, ints(1)), ints(s)), ints(span))  # (steps - 1) s + span
    total = g.op("Max", g.op("Sub", covered, n), ints(0))
    before = g.op("Div", total, ints(2))
    return g.op("Concat", ints(0, 0), before, ints(0, 0), g.op("Sub", total, before), axis=0)


def _conv_transpose(g, layer, x, shape, mask):
    kernel = _host(layer.weights).transpose(3, 2, 0, 1)  # (kh, kw, out, in) -> (in, out, kh, kw)
    (frame_h, frame_w), crops = layer.frame(*shape[1:3])
    begins, ends, extras = [], [], []
    for full, (top, out) in zip((frame_h, frame_w), crops):
        end = full - top - out  # ONNX: out = full - begin - end + output_padding
        begins.append(top)
        ends.append(max(end, 0))
        extras.append(max(-end, 0))
    y = g.op("ConvTranspose", _channels_first(g, x, 4), g.const(kernel, "kernel"), g.const(_host(layer.biases), "bias"),
             pads=begins + ends, strides=list(layer.stride), dilations=list(layer.dilation),
             output_padding=extras)  # fmt: skip
    return _activation(g, layer.activation, _channels_last(g, y, 4))


def _pool(g, layer, x, shape, mask):
    one_d = isinstance(layer, (L.MaxPool1D, L.AvgPool1D))
    kind = "MaxPool" if isinstance(layer, L.MaxPool2D) else "AveragePool"
    kernel, strides = (layer.pool[1:], layer.stride[1:]) if one_d else (layer.pool, layer.stride)
    rank = len(shape)
    y = g.op(kind, _channels_first(g, x, rank), kernel_shape=list(kernel), strides=list(strides))
    return _channels_last(g, y, rank)


def _global_pool(g, layer, x, shape, mask):
    kind = "ReduceMax" if isinstance(layer, L.GlobalMaxPool2D) else "ReduceMean"
    return g.op(kind, x, axes=list(range(1, len(shape) - 1)), keepdims=0)


def _upsampling(g, layer, x, shape, mask):
    sh, sw = layer.size
    scales = g.const([1.0, 1.0, sh, sw], "scales", dtype=np.float32)
    if layer.interpolation == "nearest":  # each pixel repeated: source pixel floor(out / size)
        modes = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
    else:  # torch.nn.Upsample(mode="bilinear", align_corners=False)
        modes = {"mode": "linear", "coordinate_transformation_mode": "half_pixel"}
    y = g.op("Resize", _channels_first(g, x, 4), "", scales, **modes)
    return _channels_last(g, y, 4)


def _batchnorm(g, layer, x, shape, mask):
    """Inference: y = x * scale + shift per channel (the last axis), scale = gamma / sqrt(var + eps)."""
    scale = _host(layer.gamma) / np.sqrt(_host(layer.running_var) + layer.epsilon)
    shift = _host(layer.beta) - _host(layer.running_mean) * scale
    return g.op("Add", g.op("Mul", x, g.const(scale, "scale")), g.const(shift, "shift"))


def _flatten(g, layer, x, shape, mask):
    return g.op("Flatten", x, axis=1)  # row-major, as neuronet's (channels-last) Flatten


def _reshape(g, layer, x, shape, mask):
    return g.op("Reshape", x, g.const([0, *layer.target_shape], "shape", dtype=np.int64))


def _embedding(g, layer, x, shape, mask):
    return g.op("Gather", g.const(_host(layer.weights), "table"), x, axis=0)


def _identity(g, layer, x, shape, mask):
    return x


def _time_distributed(g, layer, x, shape, mask):
    if not isinstance(layer.layer, (L.Dense, *ACTIVATIONS)):  # (MatMul and activations take any leading axes)
        raise checks.ArgumentError(
            f"layer {layer.name!r}: TimeDistributed({type(layer.layer).__name__}) has no ONNX form in neuronet"
        )
    return _export_layer(g, layer.layer, x, shape, mask)


def _gates(a, order, h):
    """The blocks of ``h`` along ``a``'s last axis, in ONNX's ``order``."""
    return np.concatenate([a[..., k * h : (k + 1) * h] for k in order], axis=-1)


def _cell_weights(cells):
    """ONNX's W (dirs, G*H, in), R (dirs, G*H, H) and B (dirs, 2*G*H) for one or two cells."""
    W, R, B = [], [], []
    for cell in cells:
        order, h = GATE_ORDER[type(cell)], cell.hidden_size
        W.append(_gates(_host(cell.input_weights), order, h).T)
        R.append(_gates(_host(cell.recurrent_weights), order, h).T)
        second = _host(cell.recurrent_biases) if isinstance(cell, L.GRU) else np.zeros_like(_host(cell.biases))
        B.append(np.concatenate([_gates(_host(cell.biases), order, h), _gates(second, order, h)]))
    return np.stack(W), np.stack(R), np.stack(B)


def _recurrent(g, layer, x, shape, mask):
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
        positions, lengths = mask
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


def _mask(g, ids, padding_id):
    """From token ids (batch, time): each sequence's real steps first, in order, then its padding (the
    positions, ascending keys: position for a real step, time + position for padding), and its length."""
    real = g.op("Cast", g.op("Not", g.op("Equal", ids, g.const(padding_id, "padding", dtype=np.int64))), to=7)
    steps = g.op("Gather", g.op("Shape", ids), g.const(1, "axis", dtype=np.int64), axis=0)
    position = g.op("Range", g.const(0, "start", dtype=np.int64), steps, g.const(1, "delta", dtype=np.int64))
    keys = g.op("Add", position, g.op("Mul", g.op("Sub", g.const(1, "one", dtype=np.int64), real), steps))
    _, order = g.op("TopK", keys, g.op("Reshape", steps, g.const([1], "shape", dtype=np.int64)), outputs=2,
                    axis=1, largest=0, sorted=1)  # fmt: skip
    lengths = g.op("Cast", g.op("ReduceSum", real, g.const([1], "axes", dtype=np.int64), keepdims=0), to=6)
    return order, lengths


ACTIVATIONS = (L.ReLU, L.LeakyReLU, L.Sigmoid, L.Tanh, L.Softmax)
EXPORTERS = {
    L.Dense: _dense, L.SparseDense: _dense,
    L.Conv1D: _conv, L.Conv2D: _conv, L.Conv2DTranspose: _conv_transpose,
    L.MaxPool2D: _pool, L.AvgPool2D: _pool, L.MaxPool1D: _pool, L.AvgPool1D: _pool,
    L.GlobalMaxPool2D: _global_pool, L.GlobalAvgPool2D: _global_pool,
    L.GlobalMaxPool1D: _global_pool, L.GlobalAvgPool1D: _global_pool,
    L.UpSampling2D: _upsampling, L.BatchNormalization: _batchnorm,
    L.Flatten: _flatten, L.Reshape: _reshape, L.Embedding: _embedding,
    L.Dropout: _identity, L.GaussianNoise: _identity, L.RandomFlip: _identity, L.RandomTranslation: _identity,
    L.RandomRotation: _identity, L.RandomZoom: _identity,
    L.SimpleRNN: _recurrent, L.LSTM: _recurrent, L.GRU: _recurrent, L.Bidirectional: _recurrent,
    L.TimeDistributed: _time_distributed,
}  # fmt: skip


def _export_layer(g, layer, x, shape, mask):
    if isinstance(layer, ACTIVATIONS):
        return _activation(g, layer, x)
    exporter = EXPORTERS.get(type(layer))
    if exporter is None:
        raise checks.ArgumentError(f"layer {layer.name!r} ({type(layer).__name__}) has no ONNX form in neuronet")
    return exporter(g, layer, x, shape, mask)


# layers whose ONNX form takes a sequence of any length; any other that sees the time axis needs it fixed
ANY_LENGTH = (
    *ACTIVATIONS, L.Dense, L.SparseDense, L.BatchNormalization, L.Dropout, L.GaussianNoise, L.Embedding,
    L.Conv1D, L.MaxPool1D, L.AvgPool1D, L.GlobalMaxPool1D, L.GlobalAvgPool1D,
    L.SimpleRNN, L.LSTM, L.GRU, L.Bidirectional, L.TimeDistributed,
)  # fmt: skip


def _known_shape(model, input_shape) -> tuple:
    """The input's shape, batch first as None: ``input_shape``, else the model's (a sequence's length None
    where nothing fixed it)."""
    if input_shape is not None:
        if not isinstance(input_shape, (tuple, list, np.ndarray)) or len(input_shape) == 0:
            raise checks.ArgumentError(
                f"input_shape must be a tuple of one sample's sizes, without the batch, e.g. (28, 28, 1); "
                f"got {input_shape!r}"
            )
        return (None, *(checks.integer(d, "a size in input_shape", low=1) for d in input_shape))
    known = model.known_input_shape() or ((None, None) if model.takes_ids else None)  # token ids: (batch, time)
    if known is None or None in known[2:] or (known[1] is None and not _is_sequence(model, known)):
        raise checks.ArgumentError(
            "the model's input shape is not known (it has not seen data, and its first layer does not fix it): "
            "pass it, e.g. nn.onnx.export(model, path, input_shape=(28, 28, 1)), or build the model with "
            "Sequential(..., input_shape=...)"
        )
    return (None, *(d if d is None else checks.integer(d, "a size in the model's input shape", low=1)
                    for d in known[1:]))  # fmt: skip


def _is_sequence(model, shape) -> bool:
    """Whether ``shape`` is a sequence's, (batch, time) token ids or (batch, time, features)."""
    return len(shape) == (2 if model.takes_ids else 3)


def _fixed_length_layer(model, shape):
    """The first layer that sees the time axis of ``shape`` (a sequence's, its length None) and needs it fixed
    (not one of ANY_LENGTH), or None."""
    for layer in model.layers:
        if None in shape[1:] and not isinstance(layer, ANY_LENGTH):
            return layer
        shape = layer.output_shape(shape)
    return None


def _output_shape(model, shape) -> tuple:
    for layer in model.layers:
        shape = layer.output_shape(shape)
    return shape


def _check_fits(model, shape, name: str) -> None:
    """One zero sample of ``shape`` through the layers, so that a shape the model does not take is an error
    naming ``name`` (and the layer that refuses it) now, not ONNX's shape inference later. A sequence of
    unknown length is tried at 1, 2, 4, ... 1024 steps (a short one may be too short for a kernel)."""
    lengths = [shape[1]] if shape[1] is not None else [2**k for k in range(11)]
    for steps in lengths:
        sample = (None, steps, *shape[2:])
        values = values_per_sample(model.layers, sample)
        if values > SAMPLE_LIMIT:  # (before one sample allocates it)
            raise checks.ArgumentError(
                f"{name} {_shown(sample)}: one sample of it makes {values:,} values in a layer; neuronet exports "
                f"models of at most {SAMPLE_LIMIT:,} values per sample and layer (as it loads them)"
            )
        try:
            check_layers_fit(model, sample)
            return
        except (ValueError, TypeError) as exc:
            error = exc
    first = model.layers[0].input_shape() if model.layers else None
    hint = f"; its first layer takes input_shape={tuple(first[1:])}" if first and None not in first[1:] else ""
    raise checks.ArgumentError(f"{name} {_shown(shape)} does not fit the model: {error}{hint}") from None


def _shown(shape) -> str:
    """One sample's shape as the graph names it: (time, 4)."""
    return "(" + ", ".join(TIME if d is None else str(d) for d in shape[1:]) + ("," if len(shape) == 2 else "") + ")"


def _input_layout(model, input_shape) -> tuple:
    """The graph's input shape, batch first as None and a sequence's length None where it is free: everywhere
    but where ``input_shape`` fixes it or a layer needs it fixed (then the length the model knows)."""
    shape = _known_shape(model, input_shape)
    name = "input_shape" if input_shape is not None else "the model's input shape"
    free = input_shape is None and _is_sequence(model, shape)
    if free:
        needs = _fixed_length_layer(model, (None, None, *shape[2:]))
        if needs is not None and shape[1] is None:
            raise checks.ArgumentError(
                f"layer {needs.name!r} ({type(needs).__name__}) needs a fixed number of time steps (the size of "
                "its output depends on it), and the model does not know it: pass it, e.g. "
                f"nn.onnx.export(model, path, input_shape={(32, *shape[2:])}) for sequences of 32 steps"
            )
        free = needs is None
    _check_fits(model, shape, name)
    return (None, None, *shape[2:]) if free else shape


def _keeps_length(model, shape) -> bool:
    """Whether the model's output has as many steps as its input sequence of ``shape``: at two lengths (a
    window's output size, floor((n + padding - span) / stride) + 1, equals n at two lengths only where it
    keeps every length)."""
    return all(_output_shape(model, (None, n, *shape[2:]))[1] == n for n in (8, 9))


def _scaling(value, name: str, sample: tuple, dtype) -> tuple[np.ndarray, np.ndarray]:
    """``(shift, scale)`` checked: arrays of finite numbers in ``dtype`` that broadcast over one sample of
    ``sample`` (batch first; None a free length) without growing it, the scale > 0 (a standard deviation)."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise checks.ArgumentError(
            f"{name} must be a pair (shift, scale), e.g. the training data's (mean, std); got {value!r:.80}"
        )
    arrays, side = [], name.removesuffix("_scaling")  # (input or output)
    for part, given in zip(("shift", "scale"), value):
        label = f"{name}'s {part}"
        array = as_array(given, label)
        sizes = sample[len(sample) - array.ndim :] if array.ndim < len(sample) else None
        if sizes is None or any(n not in (1, size) for n, size in zip(array.shape, sizes)):
            raise checks.ArgumentError(
                f"{label} has shape {array.shape}, which does not fit one {side} sample of shape {_shown(sample)}: "
                f"give one value per feature ({sample[-1]} of them), or one value for all"
            )
        with np.errstate(over="ignore"):
            array = array.astype(dtype)
        if not np.isfinite(array).all():
            raise checks.ArgumentError(f"{label} holds NaN or infinite values (as {dtype.name}); give finite numbers")
        arrays.append(array)
    shift, scale = arrays
    if not (scale > 0).all():
        raise checks.ArgumentError(
            f"{name}'s scale must be > 0 everywhere (it is a standard deviation), got {float(scale.min()):g}: "
            "a constant feature has std 0, for which nn.data.StandardScaler uses 1"
        )
    return shift, scale


def to_onnx(model, input_shape: tuple | None = None, input_scaling=None, output_scaling=None):
    """The model as an ``onnx.ModelProto`` (checked); see :func:`export`."""
    onnx = require_onnx()
    if input_scaling is None and "scaler" in model.metadata:  # trained by `neuronet train`, behind its scaling
        raise checks.ArgumentError(
            "this model was trained by `neuronet train` on standardised features, so a graph without that "
            "scaling would read raw values wrongly: run `neuronet export MODEL OUT.onnx` (it puts the scaling "
            "inside the graph), pass input_scaling=(mean, std) from model.metadata['scaler'], or "
            "input_scaling=(0.0, 1.0) for a graph that takes standardised features"
        )
    layout = _input_layout(model, input_shape)
    out, dtype = _output_shape(model, layout), np.dtype(model.dtype)
    if input_scaling is not None:
        if model.takes_ids:
            raise checks.ArgumentError("input_scaling: the model takes token ids, which are not scaled; leave it out")
        input_scaling = _scaling(input_scaling, "input_scaling", layout, dtype)
    if output_scaling is not None:
        output_scaling = _scaling(output_scaling, "output_scaling", out, dtype)
    g = Graph(onnx, dtype)
    x, shape, mask, masked = "input", layout, None, any(layer.takes_mask for layer in model.layers)
    if input_scaling is not None:  # x' = (x - shift) / scale, as the data was scaled for training
        shift, scale = input_scaling
        x = g.op("Div", g.op("Sub", x, g.const(shift, "shift")), g.const(scale, "scale"))
    for layer in model.layers:
        if masked and isinstance(layer, L.Embedding) and layer.padding_id is not None:
            mask = _mask(g, x, layer.padding_id)  # (the positions and lengths of the real steps)
        y = _export_layer(g, layer, x, shape, mask if layer.takes_mask else None)
        if not isinstance(layer, L.Embedding) and layer.output_mask(mask) is None:
            mask = None
        x, shape = y, layer.output_shape(shape)
    if output_scaling is not None:  # y = out * scale + shift: the target in its own units
        shift, scale = output_scaling
        x = g.op("Add", g.op("Mul", x, g.const(scale, "scale")), g.const(shift, "shift"))
    g.nodes.append(onnx.helper.make_node("Identity", [x], ["output"]))
    # an output's free length is the input's where the layers keep it, else one of its own (unnamed)
    kept = None in out[1:] and _keeps_length(model, layout)
    inputs = ["batch", *(TIME if d is None else d for d in layout[1:])]
    outputs = ["batch", *(TIME if d is None and kept else d for d in out[1:])]
    floats = onnx.helper.np_dtype_to_tensor_dtype(dtype)
    graph = onnx.helper.make_graph(
        g.nodes,
        "neuronet",
        [onnx.helper.make_tensor_value_info("input", onnx.TensorProto.INT64 if model.takes_ids else floats,
                                            inputs)],
        [onnx.helper.make_tensor_value_info("output", floats, outputs)],
        initializer=g.weights,
    )  # fmt: skip
    proto = onnx.helper.make_model(
        graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)], producer_name="neuronet", ir_version=IR_VERSION
    )
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export(model, path, input_shape: tuple | None = None, input_scaling=None, output_scaling=None) -> tuple:
    """Write ``model`` to ``path`` as an ONNX model (see the module's docstring); ``input_shape`` (without
    the batch) where the model does not know it, or to fix a sequence's length. ``input_scaling=(shift,
    scale)`` puts (x - shift) / scale before the network, ``output_scaling=(shift, scale)`` out * scale + shift
    after it (a standardisation the model was trained behind, as ``neuronet train``'s). Returns the input's
    sizes as the graph names them, e.g. ("batch", "time", 4)."""
    path = checks.file_path(path, "path")
    if os.path.splitext(path)[1].lower() == ".nnet":
        raise checks.ArgumentError(
            f"path {path!r}: an ONNX graph under a .nnet name would be taken for a neuronet model; name it .onnx"
        )
    proto = to_onnx(model, input_shape, input_scaling, output_scaling)
    atomic_write_bytes(path, proto.SerializeToString())
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    return tuple(d.dim_param or d.dim_value for d in dims)


__all__ = ["export", "to_onnx"]
