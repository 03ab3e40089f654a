"""Convolutions, pooling and upsampling: neuronet keeps images and sequences channels-last, ONNX's Conv,
ConvTranspose, MaxPool, AveragePool and Resize take them channels-first, so each transposes around them.

Each takes (graph, layer, x, shape, mask) and returns the output's name."""

from __future__ import annotations

import numpy as np

from .. import layers as L
from .direct import activation
from .graph import host


def conv(g, layer, x, shape, mask):
    w = host(layer.weights)  # (kh, kw, in, out) or (k, in, out)
    one_d = isinstance(layer, L.Conv1D)
    kernel = w.transpose(2, 1, 0) if one_d else w.transpose(3, 2, 0, 1)
    rank = len(shape)
    x = g.channels_first(x, rank)
    if one_d and shape[1] is None and layer.padding == "same" and layer.stride[1] > 1:
        x, pads = g.op("Pad", x, _same_pads(g, x, layer)), [0, 0]  # (it depends on the length: in the graph)
    else:  # a free length pads as any other: "valid" and an int never depend on it, "same" at stride 1 neither
        (top, bottom), (left, right) = layer.padding_for(*([1, shape[1] or 1] if one_d else shape[1:3]))
        pads = [left, right] if one_d else [top, left, bottom, right]
    strides, dilations = (layer.stride[1:], layer.dilation[1:]) if one_d else (layer.stride, layer.dilation)
    y = g.op("Conv", x, g.const(kernel, "kernel"), g.const(host(layer.biases), "bias"),
             pads=pads, strides=list(strides), dilations=list(dilations))  # fmt: skip
    return activation(g, layer.activation, g.channels_last(y, rank))


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


def conv_transpose(g, layer, x, shape, mask):
    kernel = host(layer.weights).transpose(3, 2, 0, 1)  # (kh, kw, out, in) -> (in, out, kh, kw)
    (frame_h, frame_w), crops = layer.frame(*shape[1:3])
    begins, ends, extras = [], [], []
    for full, (top, out) in zip((frame_h, frame_w), crops):
        end = full - top - out  # ONNX: out = full - begin - end + output_padding
        begins.append(top)
        ends.append(max(end, 0))
        extras.append(max(-end, 0))
    y = g.op("ConvTranspose", g.channels_first(x, 4), g.const(kernel, "kernel"), g.const(host(layer.biases), "bias"),
             pads=begins + ends, strides=list(layer.stride), dilations=list(layer.dilation),
             output_padding=extras)  # fmt: skip
    return activation(g, layer.activation, g.channels_last(y, 4))


def pool(g, layer, x, shape, mask):
    one_d = isinstance(layer, (L.MaxPool1D, L.AvgPool1D))
    kind = "MaxPool" if isinstance(layer, L.MaxPool2D) else "AveragePool"
    kernel, strides = (layer.pool[1:], layer.stride[1:]) if one_d else (layer.pool, layer.stride)
    rank = len(shape)
    y = g.op(kind, g.channels_first(x, rank), kernel_shape=list(kernel), strides=list(strides))
    return g.channels_last(y, rank)


def global_pool(g, layer, x, shape, mask):
    kind = "ReduceMax" if isinstance(layer, L.GlobalMaxPool2D) else "ReduceMean"
    return g.op(kind, x, axes=list(range(1, len(shape) - 1)), keepdims=0)


def upsampling(g, layer, x, shape, mask):
    sh, sw = layer.size
    scales = g.const([1.0, 1.0, sh, sw], "scales", dtype=np.float32)
    if layer.interpolation == "nearest":  # each pixel repeated: source pixel floor(out / size)
        modes = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
    else:  # torch.nn.Upsample(mode="bilinear", align_corners=False)
        modes = {"mode": "linear", "coordinate_transformation_mode": "half_pixel"}
    y = g.op("Resize", g.channels_first(x, 4), "", scales, **modes)
    return g.channels_last(y, 4)
