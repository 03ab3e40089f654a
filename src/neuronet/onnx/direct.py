"""The layers with a direct ONNX form, one to four operators each: the activations (GELU as
x * (1 + Erf(x / sqrt(2))) / 2, SiLU as x * Sigmoid(x), the others ONNX's own), Dense (MatMul and Add),
BatchNormalization in inference mode (Mul and Add), LayerNormalization (ONNX's, opset 17), Embedding (a
Gather), Flatten, Reshape, the merge layers (Add, Sub, Mul, Mean, Concat), and the layers that are the identity
at inference (Dropout, the augmentations).

Each takes (graph, layer, x, shape, mask) and returns the output's name; a merge layer takes its inputs'
names and shapes as lists."""

from __future__ import annotations

import math

import numpy as np

from .. import checks
from .. import layers as L
from .graph import Graph, host

ACTIVATIONS = (L.ReLU, L.LeakyReLU, L.Sigmoid, L.Tanh, L.Softmax, L.GELU, L.SiLU, L.ELU, L.SELU, L.Softplus)


def activation(g: Graph, act, x: str) -> str:
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
    if kind is L.GELU:  # (ONNX's Gelu is opset 20's)
        cdf = g.op("Erf", g.op("Mul", x, g.const(math.sqrt(0.5), "sqrt_half")))
        cdf = g.op("Mul", g.op("Add", cdf, g.const(1.0, "one")), g.const(0.5, "half"))
        return g.op("Mul", x, cdf)
    if kind is L.SiLU:
        return g.op("Mul", x, g.op("Sigmoid", x))
    if kind is L.ELU:
        return g.op("Elu", x, alpha=float(act.alpha))
    if kind is L.SELU:
        return g.op("Selu", x, alpha=float(act.alpha), gamma=float(act.scale))
    if kind is L.Softplus:
        return g.op("Softplus", x)
    raise checks.ArgumentError(f"activation {kind.__name__} has no ONNX form here")


def dense(g, layer, x, shape, mask):
    z = g.op("Add", g.op("MatMul", x, g.const(host(layer.weights), "weights")), g.const(host(layer.biases), "bias"))
    return activation(g, layer.activation, z)


def batchnorm(g, layer, x, shape, mask):
    """Inference: y = x * scale + shift per channel (the last axis), scale = gamma / sqrt(var + eps)."""
    scale = host(layer.gamma) / np.sqrt(host(layer.running_var) + layer.epsilon)
    shift = host(layer.beta) - host(layer.running_mean) * scale
    return g.op("Add", g.op("Mul", x, g.const(scale, "scale")), g.const(shift, "shift"))


def layernorm(g, layer, x, shape, mask):
    """ONNX's LayerNormalization over the last axis: the same formula, with gamma and beta as Scale and B."""
    scale, bias = g.const(host(layer.gamma), "gamma"), g.const(host(layer.beta), "beta")
    return g.op("LayerNormalization", x, scale, bias, axis=-1, epsilon=float(layer.epsilon))


def flatten(g, layer, x, shape, mask):
    return g.op("Flatten", x, axis=1)  # row-major, as neuronet's (channels-last) Flatten


def reshape(g, layer, x, shape, mask):
    return g.op("Reshape", x, g.const([0, *layer.target_shape], "shape", dtype=np.int64))


def embedding(g, layer, x, shape, mask):
    return g.op("Gather", g.const(host(layer.weights), "table"), x, axis=0)


def identity(g, layer, x, shape, mask):
    return x


MERGED_BY = {L.Add: "Add", L.Subtract: "Sub", L.Multiply: "Mul"}


def merge(g, layer, xs, shapes, mask):
    """y = ((x_1 op x_2) op x_3) ...: ONNX's Add, Sub or Mul folded over the inputs in order, as neuronet's."""
    y = xs[0]
    for x in xs[1:]:
        y = g.op(MERGED_BY[type(layer)], y, x)
    return y


def average(g, layer, xs, shapes, mask):
    return g.op("Mean", *xs)


def concatenate(g, layer, xs, shapes, mask):
    # the same axis: between layers the graph's values are channels-last, as neuronet's (the convolutions and
    # pooling transpose to channels-first and back around their own operator only)
    return g.op("Concat", *xs, axis=layer.axis % len(shapes[0]))
