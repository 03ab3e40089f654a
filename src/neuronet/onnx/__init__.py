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

A model's graph (``model.graph``) is walked node by node: each layer is exported on the ONNX values of the
nodes it was called on (a shared layer at each of its nodes, its weights stored once), the merge layers as Add,
Sub, Mul, Mean and Concat, the padding masks joined where branches meet. Each input takes its ``nn.Input``'s
name ("input" unless named, a Sequential's too); one output is "output", several take their layers' names.

Each layer becomes the ONNX operators that compute it (``EXPORTERS``):
Dense is MatMul and Add; convolutions and pooling transpose to channels-first
around ONNX's Conv, ConvTranspose, MaxPool, AveragePool and Resize, which
work that way; BatchNormalization in inference mode is one Mul and one Add
per channel; LayerNormalization is ONNX's own (opset 17); GELU is
x * (1 + Erf(x / sqrt(2))) / 2 and SiLU x * Sigmoid(x); Dropout and the augmentation layers are the identity;
Embedding is a Gather; the recurrent layers are ONNX's RNN, LSTM and GRU,
whose gates come in another order (LSTM i, o, f, c against PyTorch's and
neuronet's i, f, g, o; GRU z, r, h against r, z, n) and whose GRU is
PyTorch's with ``linear_before_reset=1``. A padded sequence's padding
(Embedding's ``padding_id``) is skipped as in neuronet: ONNX's recurrent
operators only skip padding at the end of a sequence (``sequence_lens``), so
each recurrent layer gathers a sequence's real steps to its front first and
scatters its outputs back after. MultiHeadAttention is MatMul, Add, Reshape,
Transpose and Softmax on (batch, heads, time, head_dim) arrays; its causal and
padding masks are computed in the graph (any length), a hidden score set to
the lowest finite number before the Softmax and its weight to 0 after, so a
query whose keys are all hidden outputs the output biases, as in neuronet.
PositionalEmbedding adds the first rows of its table, as many as the sequence
has steps (a Slice on the graph's length).

Needs onnx (``pip install "neuronet[onnx]"``); the file is checked with
``onnx.checker`` before it is written (atomically).

The modules, bottom up: ``graph`` (the graph being built), ``direct``, ``spatial``, ``recurrent`` and
``attention`` (each kind of layer as ONNX operators), ``exporters`` (which layer takes which form), ``shapes``
(the checks of what can be exported) and ``convert`` (``to_onnx``, ``export``).
"""

from .convert import IR_VERSION, OPSET, export, to_onnx

__all__ = ["IR_VERSION", "OPSET", "export", "to_onnx"]
