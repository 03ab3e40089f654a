"""A model as its file describes it, and back: the architecture, compile settings and metadata as JSON, the
weights by their saved names, and a model built from a file that may be damaged, foreign or hostile.

``saving.py`` is the format (safetensors + JSON, checksums, atomic writes); this module is what goes in it.
A loaded description is checked at every step: each layer is built against the shapes of the file's tensors
before it allocates (``file_shapes.shapes_on_file``), the weights must be the architecture's, the arrays ones a
trained model can hold, and one sample of the input shape must pass through the layers within a limit of
values, so that a small file cannot make a large allocation.
"""

from __future__ import annotations

import contextlib
import math
import os

import numpy as np

from . import checks, process
from .arrays import all_finite
from .checks import sample_shape
from .file_shapes import shapes_on_file
from .layers.base import deserialize, serialize
from .losses import LOSSES
from .nodes import Input, named
from .optimizers import OPTIMIZERS
from .saving import ModelFileError, model_path, write_model_file

# the most values one sample may make in any layer of a loaded model (256 MiB in float32)
SAMPLE_LIMIT = 2**26
# the most layers, and nodes of a graph, a model file may describe: a hostile file of a million is refused unread
MAX_LAYERS = MAX_NODES = 10_000
# the most nodes a graph's calls and outputs may name in all (a merge of a million inputs would take minutes)
MAX_REFERENCES = 4 * MAX_NODES

# what building from a description can raise: a bad value or type, a missing key, an absurd number
DESCRIPTION_ERRORS = (KeyError, TypeError, ValueError, OverflowError, RecursionError, AttributeError)


# -- a model to a file ------------------------------------------------------------------------------
def config(model) -> dict:
    """The architecture and compile settings (``model.get_config()``): a Sequential's layers in a row, or a graph
    model's layers and the graph between them (:func:`graph_config`)."""
    if model.layers and not all(layer.built for layer in model.layers):
        unbuilt = [layer.name for layer in model.layers if not layer.built]
        raise ValueError(
            f"layers {unbuilt} have no parameters yet (their sizes come from the first batch): build the model "
            "first (fit or predict on data, or give nn.Input / input_shape=) before saving it"
        )
    described: dict = {"layers": [serialize(layer) for layer in model.layers]}
    if model.kind == "sequential":
        shape = model.known_input_shape()  # saved as known (also from the data seen), so a load can check the fit
        described["input_shape"] = list(shape[1:]) if shape and None not in shape[1:] else None
    else:
        described["graph"] = graph_config(model)
    if model.loss is not None:
        described["loss"], described["optimizer"] = spec(model.loss), spec(model.optimizer)
        if len(model.losses) > 1:
            described["losses"] = [spec(loss) for loss in model.losses]
            described["loss_weights"] = list(model.loss_weights)
        described["metrics"] = [  # names only (a function is code); per output, a list of names for each
            [n for n in m or [] if isinstance(n, str)] if isinstance(m, (list, tuple)) or m is None else m
            for m in model.metric_specs
            if isinstance(m, (str, list, tuple)) or m is None
        ]
    return described


def graph_config(model) -> dict:
    """A graph as a file holds it: the inputs (nodes 0 to k-1), then each layer's call in the order they run (node
    k + j: the layer's index in ``layers`` and the nodes it was called on, all of them earlier nodes), then the
    output nodes. Since a call names only earlier nodes, a file cannot describe a cycle."""
    graph = model.graph
    index = {id(layer): i for i, layer in enumerate(model.layers)}
    numbers = {slot: k for k, slot in enumerate(graph.input_slots)}
    calls = []
    for i, node in enumerate(graph.nodes):
        if not node.is_input:
            numbers[i] = len(graph.inputs) + len(calls)
            calls.append({"layer": index[id(node.layer)], "inputs": [numbers[p] for p in graph.parents[i]]})
    return {
        "inputs": [{"name": node.name, "shape": list(node.shape[1:]), "dtype": node.dtype} for node in graph.inputs],
        "calls": calls,
        "outputs": [numbers[slot] for slot in graph.output_slots],
        "several_inputs": model.several_inputs,
        "several_outputs": model.several_outputs,
    }


def description(model) -> dict:
    """What a model file says of the model besides its weights: architecture, compile settings, metadata."""
    return {"model": model.get_config(), "metadata": model.metadata}


def arrays_to_save(model, path) -> dict[str, np.ndarray]:
    """The weights as NumPy arrays by their saved names; NaN or infinite ones refuse the save to ``path``."""
    arrays = {key: model.ops.to_numpy(array) for key, array in model.named_arrays().items()}
    diverged = [key for key, array in arrays.items() if not all_finite(array)]
    if diverged:
        raise ValueError(
            f"not saved to {os.fspath(path)}: {', '.join(diverged[:3])} hold NaN or infinite values "
            "(training diverged); retrain with a lower learning rate"
        )
    return arrays


def save(model, path) -> None:
    """``model.save(path)``: the file written atomically, by rank 0 alone under mpiexec."""
    path = model_path(path)  # on every rank, so that all refuse alike
    if process.is_writer():
        write_model_file(path, description(model), arrays_to_save(model, path))


def spec(obj) -> dict:
    """A loss or optimizer as a file describes it: its class name and its config."""
    return {"class": type(obj).__name__, "config": obj.get_config()}


# -- a file to a model ------------------------------------------------------------------------------
def restore(description, tensors: dict[str, np.ndarray], path: str, make_model, make_graph_model=None):
    """The model a file's description and tensors (already read and checked) describe, built as
    ``make_model()`` (an empty Sequential) or, for a graph, ``make_graph_model(inputs, outputs)``; ModelFileError
    if they do not make one."""
    try:
        model = build(description, {key: tensor.shape for key, tensor in tensors.items()}, make_model, make_graph_model)
    except DESCRIPTION_ERRORS as exc:
        raise ModelFileError(f"{path!r} has a model description this neuronet cannot build: {exc}") from None
    expected = model.named_arrays()
    if set(expected) != set(tensors):
        raise ModelFileError(
            f"{path!r}: weights do not match the architecture "
            f"(missing {sorted(set(expected) - set(tensors))}, unexpected {sorted(set(tensors) - set(expected))})"
        )
    for key, target in expected.items():
        if tensors[key].shape != target.shape:  # each layer declared its shapes; this catches one that did not
            raise ModelFileError(f"{path!r}: weight {key} has shape {tensors[key].shape}, expected {target.shape}")
        target[...] = tensors[key]
    try:
        for layer in model.layers:
            layer.check_loaded()
    except ValueError as exc:
        raise ModelFileError(f"{path!r} holds arrays no trained model has: {exc}") from None
    try:
        check_layers_fit(model, limit=SAMPLE_LIMIT)
    except DESCRIPTION_ERRORS as exc:
        raise ModelFileError(f"{path!r}: its layers do not fit together: {exc}") from None
    return model


def build(description, shapes: dict[str, tuple], make_model, make_graph_model=None):
    """The model a file's description describes, each layer checked against the file's tensor ``shapes``."""
    described = field(description, "model", dict, "the description")
    specs = field(described, "layers", list, "the model")
    if len(specs) > MAX_LAYERS:
        raise ValueError(f"it has {len(specs):,} layers; neuronet loads models of at most {MAX_LAYERS:,}")
    layers = []
    for i, layer_spec in enumerate(specs):
        name = field(layer_spec, "name", str, f"layer {i}")
        prefix = f"{i}.{name}."
        on_file = {key[len(prefix) :]: shape for key, shape in shapes.items() if key.startswith(prefix)}
        try:
            with shapes_on_file(on_file):
                layer = deserialize(layer_spec, f"layer {i}")
        except DESCRIPTION_ERRORS as exc:
            raise ValueError(f"layer {i} ({layer_spec.get('class')!r}, {name!r}): {exc}") from None
        if not layer.built:  # a saved model's layers have every size: building one now would allocate unchecked
            raise ValueError(f"layer {i} ({name!r}) lacks its input size")
        layers.append(layer)
    if "graph" in described:
        if make_graph_model is None:
            raise ValueError("it holds a graph model where a chain of layers (Sequential) is expected")
        model = make_graph_model(*graph_nodes(field(described, "graph", dict, "the model"), layers))
    else:
        input_shape = described.get("input_shape")
        if input_shape is not None and (not isinstance(input_shape, list) or None in input_shape):
            raise ValueError(f"input_shape must be a list of sizes, got {input_shape!r}")
        # (set once the layers are in: their fit is checked at load with a limit, before a sample is made)
        shape = None if input_shape is None else (None, *sample_shape(input_shape))
        model = make_model()
        for layer in layers:
            model.add(layer)
        model.input_shape = shape
    if model.layers != layers:  # (a graph's layers are those its calls use, in order: none left out)
        unused = [
            f"{i} ({layer.name!r})" for i, layer in enumerate(layers) if all(layer is not m for m in model.layers)
        ]
        raise ValueError(
            f"no output is computed by layers {', '.join(unused)}"
            if unused
            else "the graph's calls do not use its layers in the order of the file"
        )
    for layer, layer_spec in zip(model.layers, specs):
        layer.name = layer_spec["name"]
    if "loss" in described:
        metrics = field(described, "metrics", list, "the model")

        def name(metric):  # (a file holds metric names, each output's in a list of its own)
            return checks.text(metric, "a metric name")

        if "losses" in described:
            chosen = [from_spec(LOSSES, one, "a loss") for one in field(described, "losses", list, "the model")]
        else:
            chosen = from_spec(LOSSES, described["loss"], "the loss")
        model.compile(
            loss=chosen,
            optimizer=from_spec(OPTIMIZERS, described["optimizer"], "the optimizer"),
            metrics=[[name(n) for n in m] if isinstance(m, list) else name(m) for m in metrics],
            loss_weights=described.get("loss_weights"),
        )
    metadata = description.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ValueError(f"the metadata must be a JSON object, got {type(metadata).__name__}")
    model.metadata = metadata
    return model


def graph_nodes(described: dict, layers: list) -> tuple:
    """The inputs and outputs (nodes, or lists of them) of the graph :func:`graph_config` wrote, every reference
    checked before any node is made (:func:`wiring`), and the sizes of the inputs against the values one sample
    may make before any sample is made."""
    given = field(described, "inputs", list, "the graph")
    calls, outputs = wiring(described, len(given), len(layers))
    several = [
        flag_on_file(described, "several_inputs", len(given)),
        flag_on_file(described, "several_outputs", len(outputs)),
    ]
    nodes = []
    for k, spec_k in enumerate(given):
        shape = sample_shape(field(spec_k, "shape", list, f"input {k}"), f"input {k}'s shape")
        if math.prod(d for d in shape if d is not None) > SAMPLE_LIMIT:
            raise ValueError(f"input {k}'s shape {list(shape)} holds more than {SAMPLE_LIMIT:,} values per sample")
        nodes.append(Input(shape, dtype=spec_k.get("dtype"), name=field(spec_k, "name", str, f"input {k}")))
    for j, (number, sources) in enumerate(calls):
        layer = layers[number]
        if len(sources) != 1 and not layer.on_list(len(sources)):
            raise ValueError(
                f"call {j} of the graph calls layer {number} ({type(layer).__name__}) on {len(sources)} nodes, not 1"
            )
        parents = [nodes[n] for n in sources]
        nodes.append(
            layer(parents if layer.on_list(len(parents)) else parents[0])
        )  # (its shapes checked as a user's call)
    ins, outs = nodes[: len(given)], [nodes[n] for n in outputs]
    return (ins if several[0] else ins[0]), (outs if several[1] else outs[0])


def wiring(described: dict, inputs: int, layers: int) -> tuple[list[tuple[int, list[int]]], list[int]]:
    """The graph's calls as (layer index, the node numbers it is called on) and its output node numbers, checked
    as numbers alone: within the limits on nodes and references, each call naming a layer on file and nodes made
    before it (so no cycle and nothing dangling), each call used by an output."""
    calls = field(described, "calls", list, "the graph")
    outputs = field(described, "outputs", list, "the graph")
    if not inputs or not outputs:
        raise ValueError(f"a graph needs an input and an output; it has {inputs} inputs, {len(outputs)} outputs")
    if inputs + len(calls) > MAX_NODES:
        raise ValueError(
            f"its graph has {inputs + len(calls):,} nodes ({inputs:,} inputs, {len(calls):,} calls of layers); "
            f"neuronet loads graphs of at most {MAX_NODES:,}"
        )
    named = sum(len(c["inputs"]) for c in calls if isinstance(c, dict) and isinstance(c.get("inputs"), list))
    if named + len(outputs) > MAX_REFERENCES:
        raise ValueError(
            f"its graph's calls and outputs name {named + len(outputs):,} nodes in all; neuronet loads graphs of at "
            f"most {MAX_REFERENCES:,} such references"
        )

    def node(number, where: str, made: int) -> int:
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number < made:
            raise ValueError(f"{where} names node {number!r}; it may name only a node made before it, 0 to {made - 1}")
        return number

    checked = []
    for j, call in enumerate(calls):
        where, made = f"call {j} of the graph (node {inputs + j})", inputs + j
        number = field(call, "layer", int, where)
        if isinstance(number, bool) or not 0 <= number < layers:
            raise ValueError(f"{where} names layer {number!r}; there are layers 0 to {layers - 1}")
        sources = [node(n, where, made) for n in field(call, "inputs", list, where)]
        if not sources:
            raise ValueError(f"{where} names no node to call layer {number} on")
        checked.append((number, sources))
    outputs = [node(n, "the graph's outputs", inputs + len(calls)) for n in outputs]
    used = set(outputs)
    for j in reversed(range(len(checked))):  # (a call names earlier nodes only: one pass back finds every use)
        if inputs + j in used:
            used.update(checked[j][1])
    unused = [j for j in range(len(checked)) if inputs + j not in used]
    if unused:
        raise ValueError(f"call {unused[0]} of the graph (node {inputs + unused[0]}) feeds none of its outputs")
    return checked, outputs


def flag_on_file(described: dict, key: str, count: int) -> bool:
    """``described[key]``: whether the model was given a list of its ``count`` inputs or outputs (then fit and
    predict take lists); absent, whether there are several. False for several is a file that would drop some."""
    value = described.get(key, count > 1)
    if not isinstance(value, bool):
        raise ValueError(f"the graph's {key!r} must be true or false, got {value!r}")
    if not value and count > 1:
        raise ValueError(f"the graph's {key!r} is false, but it has {count} of them")
    return value


def field(described, key: str, kind: type, where: str):
    """``described[key]``, which must be of ``kind`` (a JSON object, list or string)."""
    if not isinstance(described, dict):
        raise ValueError(f"{where} must be a JSON object, got {type(described).__name__}")
    value = described.get(key)
    if not isinstance(value, kind):
        raise ValueError(f"{where}: {key!r} must be a {kind.__name__}, got {type(value).__name__}")
    return value


def from_spec(registry: dict, described, where: str):
    """An instance of the class ``described["class"]`` from ``registry``, built with its ``"config"``."""
    name = field(described, "class", str, where)
    if name not in registry:
        raise ValueError(f"{where}: unknown class {name!r}")
    return registry[name](**field(described, "config", dict, where))


# -- the layers' fit, checked before a sample is made -----------------------------------------------
def check_layers_fit(model, shape=None, limit: int | None = None) -> None:
    """One zero sample of ``shape`` (batch first; a list of shapes for several inputs; by default the model's
    input shapes) through every layer: a layer that does not take it raises a ValueError naming it now, rather
    than at the first predict. With ``limit``, a layer that would make more values per sample is refused before
    the sample allocates them (a model file's hostile ``input_shape``). The model is left as it was."""
    shapes = model.known_input_shapes() if shape is None else [shape] if isinstance(shape, tuple) else list(shape)
    graph = model.graph
    if graph is None or any(not s or None in s[1:] for s in shapes):
        return
    known = sample_shapes(graph, shapes)
    past = [i for i, shape in known.items() if limit is not None and math.prod(shape[1:]) > limit]
    if past:
        first = min(past)  # (the nodes in order: where the values grow past the limit)
        node, shape = graph.nodes[first], known[first][1:]
        where = f"input {graph.input_slots.index(first)}" if node.is_input else named(node.layer)
        shown = tuple(shapes[0][1:]) if len(shapes) == 1 else [tuple(s[1:]) for s in shapes]
        raise ValueError(
            f"one sample of its input shape {shown} makes {math.prod(shape):,} values in a layer ({where}, of "
            f"shape {shape}); neuronet takes models of at most {limit:,} values per sample and layer"
        )
    xs = [
        model.ops.asarray(np.zeros((1, *s[1:]), dtype=np.int64 if model.input_takes_ids(k) else model.dtype))
        for k, s in enumerate(shapes)
    ]
    with np.errstate(all="ignore"):  # only the shapes matter
        graph.forward(graph.plan(fuse=False), xs, training=False, masked=False)


def values_per_sample(graph, shapes: list[tuple]) -> int:
    """The most values one sample of ``shapes`` (one per input) makes in an input or a layer's output, as far as
    the layers' shapes follow it (a layer it does not fit ends the count: its forward pass says why)."""
    return max(math.prod(shape[1:]) for shape in sample_shapes(graph, shapes).values())


def sample_shapes(graph, shapes: list[tuple]) -> dict[int, tuple]:
    """The shape of each of the graph's nodes (by its index) for inputs of ``shapes``, as far as the layers'
    shapes follow them."""
    known = dict(zip(graph.input_slots, shapes))
    with contextlib.suppress(*DESCRIPTION_ERRORS):
        for i, node in enumerate(graph.nodes):
            if i not in known:
                given = [known[p] for p in graph.parents[i]]
                known[i] = tuple(node.layer.output_shape(given if node.layer.on_list(len(given)) else given[0]))
    return known
