"""The checks of what can be exported, before a graph is built: the inputs' shapes (the model's, or given),
which sequence lengths stay free, a shape the model does not take, and the scaling put around the network.
Shapes follow the model's graph, each node's from its parents' (``node_shapes``)."""

from __future__ import annotations

import numpy as np

from .. import checks
from ..arrays import as_array
from ..model_file import SAMPLE_LIMIT, check_layers_fit, values_per_sample
from .exporters import ANY_LENGTH
from .graph import TIME


def _calls(graph, shapes: dict):
    """Each layer's node in order: its index, its layer and the shape it is given (a list for a merge layer),
    read from ``shapes`` (by node), which the caller fills in as it goes."""
    for i, node in enumerate(graph.nodes):
        if not node.is_input:
            given = [shapes[p] for p in graph.parents[i]]
            yield i, node.layer, given if node.layer.on_list(len(given)) else given[0]


def node_shapes(graph, inputs: list) -> list:
    """Each node's shape, batch first as None (None too on a free length), for inputs of ``inputs``."""
    shapes = dict(zip(graph.input_slots, inputs))
    for i, layer, given in _calls(graph, shapes):
        shapes[i] = tuple(layer.output_shape(given))
    return [shapes[i] for i in range(len(graph.nodes))]


def output_shapes(model, inputs: list) -> list:
    shapes = node_shapes(model.graph, inputs)
    return [shapes[slot] for slot in model.graph.output_slots]


def _given_shapes(model, input_shape) -> list:
    """``input_shape`` as one shape (or None) per input: a list of shapes for a model of several inputs."""
    count = len(model.graph.inputs)
    if input_shape is None or not model.several_inputs:
        return [input_shape] * count
    if (
        not isinstance(input_shape, (tuple, list))
        or len(input_shape) != count
        or not all(isinstance(s, (tuple, list, np.ndarray)) for s in input_shape)
    ):
        raise checks.ArgumentError(
            f"input_shape: the model has {count} inputs, so give a list of {count} shapes, one per input in the "
            f"order of its inputs, each without the batch, e.g. [(28, 28, 1), (4,)]; got {input_shape!r:.80}"
        )
    return list(input_shape)


def _known_shape(model, k: int, given, name: str) -> tuple:
    """Input ``k``'s shape, batch first as None: ``given`` (checked, called ``name``), else the model's (a
    sequence's length None where nothing fixed it)."""
    if given is not None:
        if not isinstance(given, (tuple, list, np.ndarray)) or len(given) == 0:
            raise checks.ArgumentError(
                f"{name} must be a tuple of one sample's sizes, without the batch, e.g. (28, 28, 1); got {given!r}"
            )
        return (None, *(checks.integer(d, f"a size in {name}", low=1) for d in given))
    known = model.known_input_shapes()[k] or ((None, None) if model.input_takes_ids(k) else None)  # ids: (batch, time)
    if known is None or None in known[2:] or (known[1] is None and not _is_sequence(model, k, known)):
        several = model.several_inputs
        which = f"input {k} ('{model.graph.inputs[k].name}')'s shape" if several else "the model's input shape"
        why = "it has not seen data, and its first layer does not fix it" if known is None else (
            f"its nn.Input leaves sizes free, {tuple(known[1:])}, and ONNX needs all but a sequence's length"
        )  # fmt: skip
        example = "[(28, 28, 1), (4,)]" if several else "(28, 28, 1)"
        raise checks.ArgumentError(
            f"{which} is not known ({why}): pass {'them, one per input' if several else 'it'}, e.g. "
            f"nn.onnx.export(model, path, input_shape={example}), or build the model with "
            "Sequential(..., input_shape=...) or nn.Input(shape=...) of known sizes"
        )
    return (None, *(d if d is None else checks.integer(d, "a size in the model's input shape", low=1)
                    for d in known[1:]))  # fmt: skip


def _is_sequence(model, k: int, shape) -> bool:
    """Whether ``shape`` is a sequence's, (batch, time) token ids or (batch, time, features), for input ``k``."""
    return len(shape) == (2 if model.input_takes_ids(k) else 3)


def _fixed_length_layer(graph, inputs: list):
    """The first layer that sees a free time axis (a sequence's length None in ``inputs``) and needs it fixed
    (not one of ANY_LENGTH), or None."""
    shapes = dict(zip(graph.input_slots, inputs))
    for i, layer, given in _calls(graph, shapes):
        if not isinstance(layer, ANY_LENGTH) and any(
            None in shape[1:] for shape in (given if layer.on_list(len(graph.parents[i])) else [given])
        ):
            return layer
        shapes[i] = tuple(layer.output_shape(given))
    return None


def _check_fits(model, shapes: list, name: str) -> None:
    """One zero sample of ``shapes`` (one per input) through the layers, so that a shape the model does not
    take is an error naming ``name`` (and the layer that refuses it) now, not ONNX's shape inference later. A
    sequence of unknown length is tried at 1, 2, 4, ... 1024 steps (a short one may be too short for a kernel;
    several sequences alike, as a merge of them needs)."""
    free = any(shape[1] is None for shape in shapes)
    for steps in [2**k for k in range(11)] if free else [None]:
        samples = [(None, steps, *shape[2:]) if shape[1] is None else shape for shape in shapes]
        values = values_per_sample(model.graph, samples)
        if values > SAMPLE_LIMIT:  # (before one sample allocates it)
            raise checks.ArgumentError(
                f"{name} {_shown(samples)}: one sample of it makes {values:,} values in a layer; neuronet exports "
                f"models of at most {SAMPLE_LIMIT:,} values per sample and layer (as it loads them)"
            )
        try:
            check_layers_fit(model, samples)
            return
        except (ValueError, TypeError) as exc:
            error = exc
    first = model.layers[0].input_shape() if len(shapes) == 1 else None  # (the layer reading the one input)
    hint = f"; its first layer takes input_shape={tuple(first[1:])}" if first and None not in first[1:] else ""
    raise checks.ArgumentError(f"{name} {_shown(shapes)} does not fit the model: {error}{hint}") from None


def _shown(shapes: list) -> str:
    """Samples' shapes as the graph names them: (time, 4), or [(time, 4), (3,)] for several inputs."""
    shown = [
        "(" + ", ".join(TIME if d is None else str(d) for d in shape[1:]) + ("," if len(shape) == 2 else "") + ")"
        for shape in shapes
    ]
    return shown[0] if len(shown) == 1 else "[" + ", ".join(shown) + "]"


def input_layouts(model, input_shape) -> list[tuple]:
    """Each input's shape in the graph, batch first as None and a sequence's length None where it is free:
    everywhere but where ``input_shape`` fixes it or a layer needs it fixed (then the length the model knows)."""
    graph = model.graph
    if graph is None:
        raise checks.ArgumentError("the model has no layers: add some before exporting it")
    count, several = len(graph.inputs), model.several_inputs
    given = _given_shapes(model, input_shape)
    shapes = [_known_shape(model, k, s, f"input_shape[{k}]" if several else "input_shape") for k, s in enumerate(given)]
    name = "input_shape" if input_shape is not None else f"the model's input shape{'s' if several else ''}"
    free = [input_shape is None and _is_sequence(model, k, s) for k, s in enumerate(shapes)]
    if any(free):
        needs = _fixed_length_layer(graph, [(None, None, *s[2:]) if f else s for f, s in zip(free, shapes)])
        unknown = [k for k, s in enumerate(shapes) if free[k] and s[1] is None]
        if needs is not None and unknown:
            example = [(32, *s[2:]) if k in unknown else tuple(s[1:]) for k, s in enumerate(shapes)]
            raise checks.ArgumentError(
                f"layer {needs.name!r} ({type(needs).__name__}) needs a fixed number of time steps (the size of "
                "its output depends on it), and the model does not know it: pass it, e.g. "
                f"nn.onnx.export(model, path, input_shape={example if several else example[0]}) for sequences "
                "of 32 steps"
            )
        if needs is not None:
            free = [False] * count
    _check_fits(model, shapes, name)
    return [(None, None, *s[2:]) if f else s for f, s in zip(free, shapes)]


def keeps_length(model, layouts: list) -> list[bool]:
    """For each output, whether it has as many steps as the input sequences of ``layouts`` (their free lengths
    set alike): at two lengths (a window's output size, floor((n + padding - span) / stride) + 1, equals n at
    two lengths only where it keeps every length)."""
    at = {n: output_shapes(model, [(None, n, *s[2:]) if s[1] is None else s for s in layouts]) for n in (8, 9)}
    return [all(at[n][j][1] == n for n in at) for j in range(len(model.graph.outputs))]


def scaling(value, name: str, sample: tuple, dtype) -> tuple[np.ndarray, np.ndarray]:
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
                f"{label} has shape {array.shape}, which does not fit one {side} sample of shape {_shown([sample])}: "
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
