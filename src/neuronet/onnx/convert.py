"""A model as an ONNX graph (``to_onnx``), checked and written to a file (``export``): the model's graph walked
node by node, each layer exported on the ONNX values of the nodes it was called on."""

from __future__ import annotations

import contextlib
import os

import numpy as np

from .. import checks
from .. import layers as L
from ..saving import atomic_write_bytes
from .exporters import export_layer
from .graph import TIME, Graph, require_onnx
from .recurrent import joined_mask, padding_mask
from .shapes import input_layouts, keeps_length, node_shapes, output_shapes, scaling

OPSET, IR_VERSION = 17, 8  # read by onnxruntime 1.14 and later


def to_onnx(model, input_shape=None, input_scaling=None, output_scaling=None):
    """The model as an ``onnx.ModelProto`` (checked); see :func:`export`."""
    onnx = require_onnx()
    if input_scaling is None and "scaler" in model.metadata:  # trained by `neuronet train`, behind its scaling
        raise checks.ArgumentError(
            "this model was trained by `neuronet train` on standardised features, so a graph without that "
            "scaling would read raw values wrongly: run `neuronet export MODEL OUT.onnx` (it puts the scaling "
            "inside the graph), pass input_scaling=(mean, std) from model.metadata['scaler'], or "
            "input_scaling=(0.0, 1.0) for a graph that takes standardised features"
        )
    layouts = input_layouts(model, input_shape)
    graph, outs, dtype = model.graph, output_shapes(model, layouts), np.dtype(model.dtype)
    if input_scaling is not None:
        if len(layouts) > 1:
            raise checks.ArgumentError(
                f"input_scaling is for a model of one input, and this one has {len(layouts)}: scale the inputs "
                "before the graph"
            )
        if model.takes_ids:
            raise checks.ArgumentError("input_scaling: the model takes token ids, which are not scaled; leave it out")
        input_scaling = scaling(input_scaling, "input_scaling", layouts[0], dtype)
    if output_scaling is not None:
        if len(outs) > 1:
            raise checks.ArgumentError(
                f"output_scaling is for a model of one output, and this one has {len(outs)}: scale the outputs "
                "after the graph"
            )
        output_scaling = scaling(output_scaling, "output_scaling", outs[0], dtype)
    inputs, outputs = _names(model)
    g = Graph(onnx, dtype, reserved=[*inputs, *outputs])
    values = [None] * len(graph.nodes)
    for slot, name in zip(graph.input_slots, inputs):
        values[slot] = name
    if input_scaling is not None:  # x' = (x - shift) / scale, as the data was scaled for training
        shift, scale = input_scaling
        slot = graph.input_slots[0]
        values[slot] = g.op("Div", g.op("Sub", values[slot], g.const(shift, "shift")), g.const(scale, "scale"))
    _export_layers(g, graph, values, node_shapes(graph, layouts))
    for slot, name in zip(graph.output_slots, outputs):
        y = values[slot]
        if output_scaling is not None:  # y = out * scale + shift: the target in its own units
            shift, scale = output_scaling
            y = g.op("Add", g.op("Mul", y, g.const(scale, "scale")), g.const(shift, "shift"))
        g.nodes.append(onnx.helper.make_node("Identity", [y], [name]))
    floats, info = onnx.helper.np_dtype_to_tensor_dtype(dtype), onnx.helper.make_tensor_value_info
    in_dims, out_dims = _dims(model, layouts, outs)
    graph_proto = onnx.helper.make_graph(
        g.nodes,
        "neuronet",
        [
            info(name, onnx.TensorProto.INT64 if model.input_takes_ids(k) else floats, dims)
            for k, (name, dims) in enumerate(zip(inputs, in_dims))
        ],
        [info(name, floats, dims) for name, dims in zip(outputs, out_dims)],
        initializer=g.weights,
    )
    proto = onnx.helper.make_model(
        graph_proto, opset_imports=[onnx.helper.make_opsetid("", OPSET)], producer_name="neuronet",
        ir_version=IR_VERSION,
    )  # fmt: skip
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _dims(model, layouts: list, outs: list) -> tuple[list, list]:
    """The sizes of each input and output as the graph names them: the batch's "batch", a free length "time"
    (several: "time", "time_1", ...); an output's free length is its input's where the layers keep it and one
    input has a free length, else one of its own (unnamed)."""
    free = [k for k, layout in enumerate(layouts) if None in layout[1:]]
    times = {k: TIME if n == 0 else f"{TIME}_{n}" for n, k in enumerate(free)}
    named = len(free) == 1 and any(None in out[1:] for out in outs)
    kept = keeps_length(model, layouts) if named else [False] * len(outs)
    in_dims = [["batch", *(times[k] if d is None else d for d in layout[1:])] for k, layout in enumerate(layouts)]
    out_dims = [["batch", *(times[free[0]] if d is None and keep else d for d in out[1:])]
                for out, keep in zip(outs, kept)]  # fmt: skip
    return in_dims, out_dims


def _names(model) -> tuple[list[str], list[str]]:
    """The graph's inputs' names (the nn.Inputs': "input" for one) and its outputs' ("output" for one; the
    output layers' names for a model of several outputs), none taken twice."""
    inputs = [node.name for node in model.graph.inputs]
    outputs = model.output_names if model.several_outputs else ["output"]
    twice = sorted({name for name in inputs if inputs.count(name) > 1 or name in outputs})
    if twice:
        raise checks.ArgumentError(
            f"the graph's inputs and outputs need names of their own, but {twice} names two of them: give each "
            "nn.Input a name of its own (nn.Input(shape, name=...)), other than the output layers' names"
        )
    return inputs, outputs


def _export_layers(g, graph, values: list, shapes: list) -> None:
    """Each layer's node exported on its parents' ONNX values (``values`` by node, the inputs' given; ``shapes``
    each node's), in the graph's order: a shared layer at each of its nodes, its constants stored once. The
    padding masks go beside the values, as in the model's passes, where a layer takes one: a merge layer's
    output joins its inputs' masks, attention's on a list has its query's."""
    masked = any(layer.takes_mask for layer in graph.layers)
    masks = [None] * len(graph.nodes)
    for i, node in enumerate(graph.nodes):
        if node.is_input:
            continue
        layer, parents = node.layer, graph.parents[i]
        x, shape, mask = [values[p] for p in parents], [shapes[p] for p in parents], [masks[p] for p in parents]
        several = layer.on_list(len(parents))
        given = mask  # (attention on a list takes each input's: it hides the keys' padding, not the query's)
        if several:
            mask = joined_mask(g, layer, mask, x, shape) if isinstance(layer, L.Merge) else layer.output_mask(mask)
        else:
            x, shape, mask = x[0], shape[0], mask[0]
            if masked and isinstance(layer, L.Embedding) and layer.padding_id is not None:
                mask = padding_mask(g, x, layer.padding_id)
            given = mask
        with g.sharing(layer) if graph.shared[i] else contextlib.nullcontext():
            values[i] = export_layer(g, layer, x, shape, given if layer.takes_mask else None)
        if not (several or isinstance(layer, L.Embedding)) and layer.output_mask(mask) is None:
            mask = None
        masks[i] = mask


def export(model, path, input_shape=None, input_scaling=None, output_scaling=None) -> tuple | list[tuple]:
    """Write ``model`` to ``path`` as an ONNX model (see the module's docstring); ``input_shape`` (without
    the batch; a list of them, one per input, for a model of several inputs) where the model does not know it,
    or to fix a sequence's length. ``input_scaling=(shift, scale)`` puts (x - shift) / scale before the network,
    ``output_scaling=(shift, scale)`` out * scale + shift after it (a standardisation the model was trained
    behind, as ``neuronet train``'s; for a model of one input and one output). Returns the input's sizes as the
    graph names them, e.g. ("batch", "time", 4), or a list of them for several inputs."""
    path = checks.file_path(path, "path")
    if os.path.splitext(path)[1].lower() == ".nnet":
        raise checks.ArgumentError(
            f"path {path!r}: an ONNX graph under a .nnet name would be taken for a neuronet model; name it .onnx"
        )
    proto = to_onnx(model, input_shape, input_scaling, output_scaling)
    atomic_write_bytes(path, proto.SerializeToString())
    dims = [tuple(d.dim_param or d.dim_value for d in x.type.tensor_type.shape.dim) for x in proto.graph.input]
    return dims if model.several_inputs else dims[0]
