"""A model as an ONNX graph (``to_onnx``), checked and written to a file (``export``)."""

from __future__ import annotations

import os

import numpy as np

from .. import checks
from .. import layers as L
from ..saving import atomic_write_bytes
from .exporters import export_layer
from .graph import TIME, Graph, require_onnx
from .recurrent import padding_mask
from .shapes import input_layout, keeps_length, output_shape, scaling

OPSET, IR_VERSION = 17, 8  # read by onnxruntime 1.14 and later


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
    layout = input_layout(model, input_shape)
    out, dtype = output_shape(model, layout), np.dtype(model.dtype)
    if input_scaling is not None:
        if model.takes_ids:
            raise checks.ArgumentError("input_scaling: the model takes token ids, which are not scaled; leave it out")
        input_scaling = scaling(input_scaling, "input_scaling", layout, dtype)
    if output_scaling is not None:
        output_scaling = scaling(output_scaling, "output_scaling", out, dtype)
    g = Graph(onnx, dtype)
    x, shape, mask, masked = "input", layout, None, any(layer.takes_mask for layer in model.layers)
    if input_scaling is not None:  # x' = (x - shift) / scale, as the data was scaled for training
        shift, scale = input_scaling
        x = g.op("Div", g.op("Sub", x, g.const(shift, "shift")), g.const(scale, "scale"))
    for layer in model.layers:
        if masked and isinstance(layer, L.Embedding) and layer.padding_id is not None:
            mask = padding_mask(g, x, layer.padding_id)  # (the positions and lengths of the real steps)
        y = export_layer(g, layer, x, shape, mask if layer.takes_mask else None)
        if not isinstance(layer, L.Embedding) and layer.output_mask(mask) is None:
            mask = None
        x, shape = y, layer.output_shape(shape)
    if output_scaling is not None:  # y = out * scale + shift: the target in its own units
        shift, scale = output_scaling
        x = g.op("Add", g.op("Mul", x, g.const(scale, "scale")), g.const(shift, "shift"))
    g.nodes.append(onnx.helper.make_node("Identity", [x], ["output"]))
    # an output's free length is the input's where the layers keep it, else one of its own (unnamed)
    kept = None in out[1:] and keeps_length(model, layout)
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
