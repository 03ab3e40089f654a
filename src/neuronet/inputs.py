"""What a model is given, checked before any of it is computed: data with a batch axis in the model's float
type, one target per sample in the loss's form, and shapes of one sample.

A mistake here is named with the data's own shape and what to do, rather than surfacing as a shape error
deep inside a layer (``checks.py`` checks settings; this module checks data against a model).
"""

from __future__ import annotations

import numpy as np

from . import arrays, checks
from .several import Several, listed

DIVERGED_OUTPUTS = (
    "the model's outputs hold NaN or infinite values although X is finite: its weights have diverged "
    "(retrain with a lower learning rate) or X holds extreme values (scale it)"
)


def check_x(model, x, name: str = "X") -> np.ndarray | Several:
    """``x`` checked (see ``arrays.as_float``), in the model's float type: a NumPy array, which the passes
    move to the model's device one batch at a time, or for a model of several inputs a list of them (one per
    input, in the order of its inputs), checked each and returned as a ``Several``. Token ids (an Embedding
    first) stay integers."""
    if not model.several_inputs:
        return check_one_x(model, x, name, 0)
    count = len(model.graph.inputs)
    if not isinstance(x, (list, tuple, Several)) or len(listed(x)) != count:
        got = f"a list of {len(x)}" if isinstance(x, (list, tuple)) else type(x).__name__
        raise checks.ArgumentError(f"the model has {count} inputs: give {name} as a list of {count} arrays, got {got}")
    xs = [check_one_x(model, v, f"{name}[{k}]", k) for k, v in enumerate(listed(x))]
    counts = [len(v) for v in xs]
    if len(set(counts)) > 1:
        raise checks.ArgumentError(f"the arrays of {name} hold {counts} samples: each input needs one per sample")
    return Several(xs)


def check_one_x(model, x, name: str, k: int) -> np.ndarray:
    """Input ``k``'s array checked (see :func:`check_x`)."""
    ids = model.input_takes_ids(k)
    if ids:  # the Embedding layer checks the ids
        x = arrays.as_array(x, name)
        if x.size == 0:
            raise checks.ArgumentError(f"{name} is empty (shape {x.shape}); give at least one sample")
    else:
        x = arrays.as_float(x, name)
        if x.dtype != model.dtype:
            x = x.astype(model.dtype)
    if x.ndim < 1 or (x.ndim < 2 and not ids):
        raise checks.ArgumentError(
            f"{name} must have a batch axis first, e.g. shape (samples, features); got {x.shape}"
        )
    return x


def check_data(model, x, y, name: str = "X", y_name: str = "y"):
    """``x`` and its targets checked and in the loss's form (``Loss.prepare_targets``), on the host; for a model
    of several outputs ``y`` is a list of targets, one per output (returned as a ``Several``)."""
    if model.loss is None:
        raise RuntimeError("call model.compile(loss=..., optimizer=...) before fit or evaluate")
    x = check_x(model, x, name)
    ys = _target_arrays(model, x, y, name, y_name)
    return x, _prepared(model, x, ys, output_samples(model, x, name))


def output_samples(model, x, name: str = "X") -> list[np.ndarray]:
    """The model's outputs for the first sample of checked ``x``, on the host: the forward checks every layer's
    input shape, and targets must fit the outputs' shapes."""
    try:
        outs = listed(model.call(x[:1], training=False))
    except ValueError as exc:  # (it names the one sample's shape: say the data's)
        shape = x.shape if not isinstance(x, Several) else [v.shape for v in x]
        raise ValueError(f"{name} of shape {shape} does not fit the model (its first sample: {exc})") from None
    return [model.ops.to_numpy(out) for out in outs]


def check_targets(model, x, y, outs: list[np.ndarray], name: str = "X", y_name: str = "y"):
    """The targets ``y`` of checked ``x`` checked and in the loss's form, against ``outs`` (``output_samples``
    of data of the same shapes): no forward pass, so that a thread reading batches ahead may check them."""
    return _prepared(model, x, _target_arrays(model, x, y, name, y_name), outs)


def _target_arrays(model, x, y, name: str, y_name: str) -> list[np.ndarray]:
    """``y`` as one finite array per output, each with one target per sample of ``x``."""
    if y is None:
        raise checks.ArgumentError(f"{y_name} is None; pass the targets (labels or values) for {name}")
    if model.several_outputs:
        count = len(model.graph.outputs)
        if not isinstance(y, (list, tuple, Several)) or len(listed(y)) != count:
            raise checks.ArgumentError(f"the model has {count} outputs: give {y_name} as a list of {count} targets")
        ys = [arrays.as_array(v, f"{y_name}[{k}]") for k, v in enumerate(listed(y))]
        names = [f"{y_name}[{k}]" for k in range(count)]
    else:
        ys, names = [arrays.as_array(y, y_name)], [y_name]
    for t, t_name in zip(ys, names):
        if t.ndim == 0 or len(t) != len(x):
            raise checks.ArgumentError(
                f"{name} has {len(x)} samples but {t_name} has {len(t) if t.ndim else 'a single value'}; "
                "give one target per sample"
            )
        arrays.require_finite(t, t_name)
    return ys


def _prepared(model, x, ys: list[np.ndarray], outs: list[np.ndarray]):
    """Each output's targets in its loss's form (one array, or a ``Several`` for several outputs)."""
    prepared = [
        loss.prepare_targets(t, np.broadcast_to(out, (len(x), *out.shape[1:])))
        for loss, t, out in zip(model.losses, ys, outs)
    ]
    return Several(prepared) if model.several_outputs else prepared[0]
