"""Metrics: how good the predictions are, in numbers a person reads.

Each takes ``(y_true, y_pred)``. For classification ``y_pred`` may be labels
or probabilities: 2-D scores become labels by argmax, binary probabilities by
the threshold 0.5. ``average`` works as in scikit-learn:

- ``"binary"``: the score of the positive class (label 1) alone;
- ``"macro"``: the plain mean of the per-class scores;
- ``"micro"``: the score of all decisions pooled (equals accuracy for one label per sample);
- ``"weighted"``: the per-class mean weighted by each class's number of true samples.
"""

from __future__ import annotations

import numpy as np

AVERAGES = ("binary", "macro", "micro", "weighted")


def to_labels(y) -> np.ndarray:
    """Class labels from labels, one-hot rows, class scores or binary probabilities (classes on the last
    axis, as a model outputs them: (batch, classes), or (batch, ..., classes) for a label per position)."""
    y = np.asarray(y)
    if y.ndim >= 2 and y.shape[-1] > 1:
        return y.argmax(axis=-1).reshape(-1)
    y = y.reshape(-1)
    if y.dtype.kind == "f" and y.size and ((y != 0) & (y != 1)).any():
        return (y > 0.5).astype(np.int64)
    return y.astype(np.int64)


def _labels_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_pred.ndim >= 2 and y_true.shape == y_pred.shape[:-1]:  # a label per row of scores: labels already
        return y_true.reshape(-1).astype(np.int64), to_labels(y_pred)
    t, p = to_labels(y_true), to_labels(y_pred)
    if t.shape != p.shape:
        raise ValueError(f"{t.shape[0]} true labels but {p.shape[0]} predictions; they must match")
    return t, p


def accuracy(y_true, y_pred) -> float:
    """Fraction of samples whose predicted class equals the true class."""
    t, p = _labels_pair(y_true, y_pred)
    return float((t == p).mean())


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Counts C[i, j] of samples of true class i predicted as class j."""
    t, p = _labels_pair(y_true, y_pred)
    if t.size and min(t.min(), p.min()) < 0:
        raise ValueError("class labels must be non-negative integers")
    largest = int(max(t.max(initial=0), p.max(initial=0)))
    k = num_classes or largest + 1
    if largest >= k:
        raise ValueError(f"labels must be in 0..{k - 1} for {k} classes, found {largest}")
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


def _per_class(y_true, y_pred, num_classes: int | None = None):
    """True positives, predicted positives and actual positives per class."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    return np.diag(cm).astype(np.float64), cm.sum(axis=0).astype(np.float64), cm.sum(axis=1).astype(np.float64)


def _ratio(num, den):
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)  # 0 where undefined, as scikit-learn


def _score(kind: str, y_true, y_pred, average: str) -> float:
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")
    tp, pred_pos, true_pos = _per_class(y_true, y_pred)
    if average == "micro":
        tp, pred_pos, true_pos = tp.sum(keepdims=True), pred_pos.sum(keepdims=True), true_pos.sum(keepdims=True)
    precision, recall = _ratio(tp, pred_pos), _ratio(tp, true_pos)
    if kind == "precision":
        scores = precision
    elif kind == "recall":
        scores = recall
    else:
        scores = _ratio(2 * precision * recall, precision + recall)
    if average == "binary":
        if len(scores) > 2:
            raise ValueError(f"average='binary' needs two classes, found {len(scores)}; use 'macro' or 'weighted'")
        return float(scores[1]) if len(scores) > 1 else 0.0
    if average == "weighted":
        return float((scores * true_pos).sum() / true_pos.sum())
    if average == "macro":
        present = (true_pos + pred_pos) > 0  # scikit-learn averages over labels that occur
        return float(scores[present].mean())
    return float(scores[0])


def precision(y_true, y_pred, average: str = "binary") -> float:
    """Of the samples predicted as a class, the fraction that truly are: TP / (TP + FP)."""
    return _score("precision", y_true, y_pred, average)


def recall(y_true, y_pred, average: str = "binary") -> float:
    """Of the samples truly of a class, the fraction found: TP / (TP + FN)."""
    return _score("recall", y_true, y_pred, average)


def f1_score(y_true, y_pred, average: str = "binary") -> float:
    """Harmonic mean of precision and recall: 2 P R / (P + R)."""
    return _score("f1", y_true, y_pred, average)


def classification_report(y_true, y_pred, class_names: list[str] | None = None) -> str:
    """A table of precision, recall, F1 and support per class, with accuracy and averages."""
    tp, pred_pos, true_pos = _per_class(y_true, y_pred, len(class_names) if class_names else None)
    p, r = _ratio(tp, pred_pos), _ratio(tp, true_pos)
    f = _ratio(2 * p * r, p + r)
    names = class_names or [str(i) for i in range(len(tp))]
    width = max(12, *(len(n) for n in names))
    lines = [f"{'':>{width}} {'precision':>9} {'recall':>9} {'f1-score':>9} {'support':>9}", ""]
    for i, name in enumerate(names):
        lines.append(f"{name:>{width}} {p[i]:9.4f} {r[i]:9.4f} {f[i]:9.4f} {int(true_pos[i]):9d}")
    n = int(true_pos.sum())
    lines += ["", f"{'accuracy':>{width}} {'':>9} {'':>9} {tp.sum() / n:9.4f} {n:9d}"]
    for avg in ("macro", "weighted"):
        scores = [fn(y_true, y_pred, average=avg) for fn in (precision, recall, f1_score)]
        lines.append(f"{avg + ' avg':>{width}} " + " ".join(f"{s:9.4f}" for s in scores) + f" {n:9d}")
    return "\n".join(lines)


# -- regression ---------------------------------------------------------------------------
def _values_pair(y_true, y_pred):
    t, p = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    if t.size != p.size:
        raise ValueError(f"{t.size} true values but {p.size} predictions; they must match")
    return t.reshape(p.shape) if t.shape != p.shape else t, p


def mean_squared_error(y_true, y_pred) -> float:
    t, p = _values_pair(y_true, y_pred)
    return float(((t - p) ** 2).mean())


def mean_absolute_error(y_true, y_pred) -> float:
    t, p = _values_pair(y_true, y_pred)
    return float(np.abs(t - p).mean())


def r2_score(y_true, y_pred) -> float:
    """1 - SS_res / SS_tot: 1 is perfect, 0 is no better than predicting the mean."""
    t, p = _values_pair(y_true, y_pred)
    ss_tot = float(((t - t.mean(axis=0)) ** 2).sum())
    return 1.0 - float(((t - p) ** 2).sum()) / ss_tot if ss_tot > 0 else 0.0


# names usable in compile(metrics=[...]); the *_macro forms average over classes
METRICS = {
    "accuracy": accuracy,
    "precision": precision,
    "recall": recall,
    "f1": f1_score,
    "mse": mean_squared_error,
    "mae": mean_absolute_error,
    "r2": r2_score,
}
CLASSIFICATION = {"accuracy", "precision", "recall", "f1"}
ALIASES = {"acc": "accuracy", "f1_score": "f1", "mean_squared_error": "mse", "mean_absolute_error": "mae"}


def get(metric):
    """A metric from a name or a callable; returns (name, function of (y_true, y_pred)).

    The name is the one given (``"f1_score"`` is logged as ``"f1_score"``, as in Keras), or a function's
    ``__name__``.

    ``"precision"``, ``"recall"`` and ``"f1"`` average as ``"binary"`` for one
    or two classes and ``"macro"`` for more; a suffix picks the average:
    ``"f1_macro"``, ``"precision_weighted"``, ``"recall_micro"``.
    """
    if callable(metric):
        return metric.__name__, metric
    if not isinstance(metric, str):
        raise ValueError(f"a metric is a name or a function (y_true, y_pred), got {metric!r}")
    name = _canonical(metric)
    base, _, average = name.rpartition("_")
    if name in ("precision", "recall", "f1"):
        base, average = name, None
    elif base not in ("precision", "recall", "f1") or average not in AVERAGES:
        if name in METRICS:
            return metric, METRICS[name]
        choices = [*sorted(METRICS), "f1_macro", "precision_weighted", "recall_micro", "..."]
        raise ValueError(f"unknown metric {metric!r}; use one of {choices} or a function (y_true, y_pred)")
    score = METRICS[base]

    def averaged(y_true, y_pred):
        chosen = average or ("macro" if np.ndim(y_pred) == 2 and np.shape(y_pred)[1] > 2 else "binary")
        return score(y_true, y_pred, average=chosen)

    averaged.__name__ = name
    return metric, averaged


def _canonical(name: str) -> str:
    """The metric's own name for a name or an alias ("acc" -> "accuracy")."""
    return ALIASES.get(name.lower(), name.lower())


def is_classification(name: str) -> bool:
    return _canonical(name).split("_")[0] in CLASSIFICATION
