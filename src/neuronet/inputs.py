"""What a model is given, checked before any of it is computed: data with a batch axis in the model's float
type, one target per sample in the loss's form, and shapes of one sample.

A mistake here is named with the data's own shape and what to do, rather than surfacing as a shape error
deep inside a layer (``checks.py`` checks settings; this module checks data against a model).
"""

from __future__ import annotations

import numpy as np

from . import arrays, checks

DIVERGED_OUTPUTS = (
    "the model's outputs hold NaN or infinite values although X is finite: its weights have diverged "
    "(retrain with a lower learning rate) or X holds extreme values (scale it)"
)


def check_x(model, x, name: str = "X") -> np.ndarray:
    """``x`` checked (see ``arrays.as_float``), in the model's float type: a NumPy array, which the passes
    move to the model's device one batch at a time. Token ids (an Embedding first) stay integers."""
    if model.takes_ids:  # the Embedding layer checks the ids
        x = arrays.as_array(x, name)
        if x.size == 0:
            raise checks.ArgumentError(f"{name} is empty (shape {x.shape}); give at least one sample")
    else:
        x = arrays.as_float(x, name)
        if x.dtype != model.dtype:
            x = x.astype(model.dtype)
    if x.ndim < 1 or (x.ndim < 2 and not model.takes_ids):
        raise checks.ArgumentError(
            f"{name} must have a batch axis first, e.g. shape (samples, features); got {x.shape}"
        )
    return x


def check_data(model, x, y, name: str = "X", y_name: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """``x`` and its targets checked and in the loss's form (``Loss.prepare_targets``), on the host."""
    if model.loss is None:
        raise RuntimeError("call model.compile(loss=..., optimizer=...) before fit or evaluate")
    x = check_x(model, x, name)
    if y is None:
        raise checks.ArgumentError(f"{y_name} is None; pass the targets (labels or values) for {name}")
    y = arrays.as_array(y, y_name)
    if y.ndim == 0 or len(y) != len(x):
        raise checks.ArgumentError(
            f"{name} has {len(x)} samples but {y_name} has {len(y) if y.ndim else 'a single value'}; "
            "give one target per sample"
        )
    arrays.require_finite(y, y_name)
    try:
        out = model.ops.to_numpy(model.call(x[:1], training=False))  # checks every layer's input shape
    except ValueError as exc:  # (it names the one sample's shape: say the data's)
        raise ValueError(f"{name} of shape {x.shape} does not fit the model (its first sample: {exc})") from None
    y = model.loss.prepare_targets(y, np.broadcast_to(out, (len(x), *out.shape[1:])))
    return x, y
