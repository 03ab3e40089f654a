"""Per-sample loss weights for ``fit``: ``sample_weight=`` and ``class_weight=``, as Keras defines them.

Sample i's loss L_i is multiplied by its weight w_i and the batch's loss is
sum_i w_i L_i / n over the batch's n samples (Keras's default reduction,
"sum_over_batch_size"): a weight of 2 counts a sample twice, 0 leaves it out,
and the gradient is the unweighted one with sample i's rows times w_i
(``Model.backward_loss``). ``class_weight`` ({class index: weight}) gives each
sample its class's weight; with ``sample_weight`` too the two multiply. The
weights travel with their samples: cut by ``validation_split`` alike (the
validation part is scored unweighted, as Keras scores it without
``validation_data``'s own weights), shuffled alike, split alike over threads
and ranks.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import checks


def weights(model, y, sample_weight, class_weight) -> np.ndarray | None:
    """The weight of every sample of the checked targets ``y`` (float64, shape (n,)), or None when neither
    ``sample_weight`` nor ``class_weight`` is given; a clear error for weights that cannot be."""
    if sample_weight is None and class_weight is None:
        return None
    if y is None:
        raise checks.ArgumentError("sample_weight and class_weight weight each sample's loss: they need targets y")
    n = len(y)
    w = np.ones(n) if sample_weight is None else given_weights(sample_weight, n)
    if class_weight is not None:
        w = w * class_weights(model, y, class_weight)
    return w


def given_weights(sample_weight, n: int) -> np.ndarray:
    """``sample_weight`` checked: one finite weight >= 0 per sample."""
    try:
        w = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise checks.ArgumentError(
            f"sample_weight must be an array of numbers, one per sample, got a {type(sample_weight).__name__}"
        ) from None
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]  # (a column, as Keras accepts)
    if w.shape != (n,):
        raise checks.ArgumentError(
            f"sample_weight must hold one weight per training sample, shape ({n},), got shape {w.shape}"
        )
    return checked(w, "sample_weight")


def checked(w: np.ndarray, name: str) -> np.ndarray:
    """Weights finite and not negative, or an error naming the first bad one."""
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise checks.ArgumentError(
            f"{name} must be finite and >= 0 (0 leaves a sample out), but sample {i}'s weight is {w[i]}"
        )
    return w


def class_weights(model, y, class_weight) -> np.ndarray:
    """Each sample's weight from ``class_weight`` ({class index: weight}) and its class in ``y``."""
    if not isinstance(class_weight, dict):
        raise checks.ArgumentError(
            f"class_weight must be a dict {{class index: weight}}, got a {type(class_weight).__name__}"
        )
    if model.several_outputs:
        raise checks.ArgumentError(
            "class_weight applies to a model of one output; for several, give sample_weight (one weight a sample)"
        )
    loss = model.losses[0]
    classes = loss.sample_classes(y)
    if classes is None:
        raise checks.ArgumentError(
            f"class_weight needs a loss that classifies samples, but {type(loss).__name__} here gives no class per "
            "sample (a regression, or a label per step of a sequence): give sample_weight instead"
        )
    table = {}
    for key, value in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, numbers.Integral):
            raise checks.ArgumentError(f"class_weight's keys must be class indices (ints), got {key!r}")
        table[int(key)] = checks.number(value, f"class_weight[{key}]", low=0.0)
    present = np.unique(classes)
    missing = [int(c) for c in present if int(c) not in table]
    if missing:
        raise checks.ArgumentError(
            f"class_weight gives no weight for classes {missing[:10]}, which the training targets hold: give every "
            f"class a weight (it has {sorted(table)})"
        )
    lookup = np.array([table.get(int(c), 0.0) for c in range(int(present.max()) + 1)])
    return lookup[np.asarray(classes)]


def balanced(classes: np.ndarray) -> dict[int, float]:
    """scikit-learn's "balanced" class weights: n_samples / (n_classes * count of the class), for the classes
    present in ``classes`` (one class index per sample)."""
    present, counts = np.unique(np.asarray(classes), return_counts=True)
    return {int(c): len(classes) / (len(present) * int(k)) for c, k in zip(present, counts)}
