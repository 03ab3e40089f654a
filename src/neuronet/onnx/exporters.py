"""Which ONNX form each layer kind has (``EXPORTERS``), and which of them take a sequence of any length."""

from __future__ import annotations

from .. import checks
from .. import layers as L
from .attention import attention, positional
from .direct import (
    ACTIVATIONS,
    activation,
    average,
    batchnorm,
    concatenate,
    dense,
    embedding,
    flatten,
    identity,
    layernorm,
    merge,
    reshape,
)
from .recurrent import recurrent
from .spatial import conv, conv_transpose, global_pool, pool, upsampling


def time_distributed(g, layer, x, shape, mask):
    if not isinstance(layer.layer, (L.Dense, *ACTIVATIONS)):  # (MatMul and activations take any leading axes)
        raise checks.ArgumentError(
            f"layer {layer.name!r}: TimeDistributed({type(layer.layer).__name__}) has no ONNX form in neuronet"
        )
    return export_layer(g, layer.layer, x, shape, mask)


def transformer(g, layer, x, shape, mask):
    """The held layers composed, dropout absent: post-norm h = norm1(x + attention(x)), y = norm2(h + ff(h));
    pre-norm h = x + attention(norm1(x)), y = h + ff(norm2(h)); ff = dense2(dense1(.)) (its activation in
    dense1); the padding mask goes to the attention."""

    def held(sublayer, v):
        return export_layer(g, sublayer, v, shape, mask if sublayer.takes_mask else None)

    def ff(v):
        return held(layer.dense2, held(layer.dense1, v))

    if layer.norm_first:
        h = g.op("Add", x, held(layer.attention, held(layer.norm1, x)))
        return g.op("Add", h, ff(held(layer.norm2, h)))
    h = held(layer.norm1, g.op("Add", x, held(layer.attention, x)))
    return held(layer.norm2, g.op("Add", h, ff(h)))


EXPORTERS = {
    L.Dense: dense, L.SparseDense: dense,
    L.Conv1D: conv, L.Conv2D: conv, L.Conv2DTranspose: conv_transpose,
    L.MaxPool2D: pool, L.AvgPool2D: pool, L.MaxPool1D: pool, L.AvgPool1D: pool,
    L.GlobalMaxPool2D: global_pool, L.GlobalAvgPool2D: global_pool,
    L.GlobalMaxPool1D: global_pool, L.GlobalAvgPool1D: global_pool,
    L.UpSampling2D: upsampling, L.BatchNormalization: batchnorm, L.LayerNormalization: layernorm,
    L.Flatten: flatten, L.Reshape: reshape, L.Embedding: embedding,
    L.Dropout: identity, L.GaussianNoise: identity, L.RandomFlip: identity, L.RandomTranslation: identity,
    L.RandomRotation: identity, L.RandomZoom: identity,
    L.SimpleRNN: recurrent, L.LSTM: recurrent, L.GRU: recurrent, L.Bidirectional: recurrent,
    L.TimeDistributed: time_distributed,
    L.Add: merge, L.Subtract: merge, L.Multiply: merge, L.Average: average, L.Concatenate: concatenate,
    L.MultiHeadAttention: attention, L.PositionalEmbedding: positional, L.TransformerEncoder: transformer,
}  # fmt: skip


def export_layer(g, layer, x, shape, mask):
    """The ONNX operators that compute ``layer`` on ``x`` (of ``shape``; a list of each for a layer on a list;
    ``mask`` the padding, ``recurrent.Mask``, or None; a list of them for attention on a list), written into
    ``g``; the output's name."""
    if isinstance(layer, ACTIVATIONS):
        return activation(g, layer, x)
    exporter = EXPORTERS.get(type(layer))
    if exporter is None:
        raise checks.ArgumentError(f"layer {layer.name!r} ({type(layer).__name__}) has no ONNX form in neuronet")
    return exporter(g, layer, x, shape, mask)


# layers whose ONNX form takes a sequence of any length; any other that sees the time axis needs it fixed
ANY_LENGTH = (
    *ACTIVATIONS, L.Dense, L.SparseDense, L.BatchNormalization, L.LayerNormalization, L.Dropout, L.GaussianNoise,
    L.Embedding,
    L.Conv1D, L.MaxPool1D, L.AvgPool1D, L.GlobalMaxPool1D, L.GlobalAvgPool1D,
    L.SimpleRNN, L.LSTM, L.GRU, L.Bidirectional, L.TimeDistributed,
    L.Add, L.Subtract, L.Multiply, L.Average, L.Concatenate,
    L.MultiHeadAttention, L.PositionalEmbedding, L.TransformerEncoder,
)  # fmt: skip
