"""The checks of what can be exported, before a graph is built: the input's shape (the model's, or one
given), which sequence lengths stay free, a shape the model does not take, and the scaling put around the
network."""

from __future__ import annotations

import numpy as np

from .. import checks
from ..arrays import as_array
from ..model_file import SAMPLE_LIMIT, check_layers_fit, values_per_sample
from .exporters import ANY_LENGTH
from .graph import TIME


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


def output_shape(model, shape) -> tuple:
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
        values = values_per_sample(model.graph, [sample])
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


def input_layout(model, input_shape) -> tuple:
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


def keeps_length(model, shape) -> bool:
    """Whether the model's output has as many steps as its input sequence of ``shape``: at two lengths (a
    window's output size, floor((n + padding - span) / stride) + 1, equals n at two lengths only where it
    keeps every length)."""
    return all(output_shape(model, (None, n, *shape[2:]))[1] == n for n in (8, 9))


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
