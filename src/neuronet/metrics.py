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

from . import arrays, checks
from .several import Several, listed

AVERAGES = ("binary", "macro", "micro", "weighted")
LARGEST_CONFUSION_BYTES = 2**32  # a confusion matrix larger than 4 GiB of counts is labels that are no class indices


def to_labels(y, name: str = "y") -> np.ndarray:
    """Class labels, one per sample, from labels, one-hot rows, class scores or binary probabilities
    (classes on the last axis, as a model outputs them: (batch, classes), or (batch, ..., classes) for a
    label per position).

    Rows of several scores give the index of the largest. Other values are labels when they are whole
    numbers, floats included (2.0 is class 2; floats 0. and 1. are the labels 0 and 1, which the threshold
    would give too), and probabilities of class 1 when they are fractions in [0, 1] (class 1 above 0.5).
    Fractions outside [0, 1] are neither, and an error.
    """
    return _labels_of(_numbers(y, name), name)


def _numbers(y, name: str) -> np.ndarray:
    """``y`` as a finite, non-empty numeric array with a sample axis, or an error naming ``name``."""
    y = arrays.as_array(y, name)
    if y.ndim == 0:
        raise checks.ArgumentError(f"{name} must hold one label (or row of scores) per sample, got one value, {y}")
    if y.size == 0:
        raise checks.ArgumentError(f"{name} is empty (shape {y.shape}); give at least one sample")
    arrays.require_finite(y, name)
    return y


def _labels_of(y: np.ndarray, name: str) -> np.ndarray:
    if y.ndim >= 2 and y.shape[-1] > 1:
        return y.argmax(axis=-1).reshape(-1)
    return _labels(y.reshape(-1), name)


def _labels(y: np.ndarray, name: str) -> np.ndarray:
    """1-D values as labels: whole numbers as they are, fractions in [0, 1] as probabilities of class 1."""
    if y.dtype.kind == "f" and (y != np.floor(y)).any():
        outside = (y < 0) | (y > 1)
        if outside.any():
            raise checks.ArgumentError(
                f"{name} holds {y[outside][0]:g}, neither a class label (a whole number) nor a probability of "
                "class 1 (in [0, 1]); pass labels, probabilities of class 1, or a row of class scores per sample"
            )
        return (y > 0.5).astype(np.int64)
    return checks.whole_numbers(y, name)


def _labels_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = _numbers(y_true, "y_true"), _numbers(y_pred, "y_pred")
    if y_pred.ndim >= 2 and y_true.shape == y_pred.shape[:-1]:  # a label per row of scores: labels already
        t = _labels(y_true.reshape(-1), "y_true")
    else:
        t = _labels_of(y_true, "y_true")
    p = _labels_of(y_pred, "y_pred")
    if t.shape != p.shape:
        raise checks.ArgumentError(
            f"{t.shape[0]} true labels (y_true) but {p.shape[0]} predictions (y_pred); they must match"
        )
    return t, p


def accuracy(y_true, y_pred) -> float:
    """Fraction of samples whose predicted class equals the true class."""
    t, p = _labels_pair(y_true, y_pred)
    return float((t == p).mean())


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Counts C[i, j] of samples of true class i predicted as class j (classes 0..num_classes - 1; by
    default up to the largest label)."""
    t, p = _labels_pair(y_true, y_pred)
    k = _class_count(t, p, num_classes)
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


def _class_count(t: np.ndarray, p: np.ndarray, num_classes: int | None) -> int:
    """The number of classes of labels that index them (0..k-1): ``num_classes``, or the largest label + 1."""
    if num_classes is not None:
        num_classes = checks.integer(num_classes, "num_classes", low=1)
    smallest, largest = int(min(t.min(), p.min())), int(max(t.max(), p.max()))
    if smallest < 0:
        raise checks.ArgumentError(f"class labels must be non-negative integers (0, 1, 2, ...), found {smallest}")
    k = num_classes or largest + 1
    if largest >= k:
        raise checks.ArgumentError(f"labels must be in 0..{k - 1} for {k} classes, found {largest}")
    if k * k * 8 > LARGEST_CONFUSION_BYTES:
        raise checks.ArgumentError(
            f"labels up to {largest:,} would make a confusion matrix of {k:,} x {k:,} counts "
            f"({k * k * 8 / 2**30:,.0f} GiB); labels are class indices 0..k-1: number the classes from 0 "
            "first (np.unique(y, return_inverse=True))"
        )
    return k


def _per_class(y_true, y_pred, num_classes: int | None = None):
    """The classes, and per class: true positives, predicted positives and actual positives. The classes
    are 0..num_classes - 1 if given, else the labels that occur in either (as scikit-learn's)."""
    t, p = _labels_pair(y_true, y_pred)
    classes = np.union1d(t, p) if num_classes is None else np.arange(_class_count(t, p, num_classes))
    true_index, pred_index = np.searchsorted(classes, t), np.searchsorted(classes, p)

    def count(index):
        return np.bincount(index, minlength=len(classes)).astype(np.float64)

    return classes, count(true_index[t == p]), count(pred_index), count(true_index)


def _ratio(num, den):
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)  # 0 where undefined, as scikit-learn


def _score(kind: str, y_true, y_pred, average: str) -> float:
    checks.choice(average, "average", AVERAGES)
    classes, tp, pred_pos, true_pos = _per_class(y_true, y_pred)
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
        if not np.isin(classes, (0, 1)).all():
            raise checks.ArgumentError(
                f"average='binary' scores class 1 against class 0 and needs two classes, 0 and 1; found "
                f"{classes[:10].tolist()}: use average='macro' or 'weighted'"
            )
        return float(scores[classes == 1].sum())  # 0 when class 1 never occurs, as scikit-learn
    if average == "weighted":
        return float((scores * true_pos).sum() / true_pos.sum())
    return float(scores.mean())  # macro: over the classes that occur; micro: the one pooled score


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
    """A table of precision, recall, F1 and support per class, with accuracy and averages. The rows are
    the classes 0..len(class_names) - 1 given names, else the labels that occur."""
    classes, tp, pred_pos, true_pos = _per_class(y_true, y_pred, len(class_names) if class_names else None)
    p, r = _ratio(tp, pred_pos), _ratio(tp, true_pos)
    f = _ratio(2 * p * r, p + r)
    names = class_names or [str(c) for c in classes]
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
    t, p = _numbers(y_true, "y_true").astype(np.float64), _numbers(y_pred, "y_pred").astype(np.float64)
    if t.size != p.size:
        raise checks.ArgumentError(f"{t.size} true values (y_true) but {p.size} predictions (y_pred); they must match")
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


class EpochMetrics:
    """The metrics of a model over an epoch: each batch's targets and outputs kept (F1 over an epoch is no
    mean of batch F1s), each metric computed over all of them when asked.

    ``scores_to_probabilities`` turns the outputs into what the metrics read (a sigmoid, for a model trained
    from logits), or is None. A model of several outputs has metrics per output (:meth:`per_output`).
    """

    def __init__(self, chosen: list[tuple[str, callable]], scores_to_probabilities=None) -> None:
        # per output: the prefix of its logged names, its metrics, its conversion, and its loss (logged too)
        self.outputs = [("", chosen, scores_to_probabilities, None)]
        self.batches: list[tuple] = []  # (targets, outputs) as the model gave them, on its device

    @classmethod
    def per_output(cls, names: list[str], chosen: list, converts: list, losses: list) -> EpochMetrics:
        """Metrics for a model of several outputs: output k's loss and metrics (``chosen[k]``) logged as
        "<names[k]>_loss", "<names[k]>_accuracy", as Keras names them."""
        made = cls([])
        made.outputs = [(f"{name}_", *per) for name, *per in zip(names, chosen, converts, losses)]
        return made

    def like(self, batches: list[tuple]) -> EpochMetrics:
        """These metrics over other ``batches`` (every rank's, gathered)."""
        made = EpochMetrics([])
        made.outputs, made.batches = self.outputs, batches
        return made

    def reset(self) -> None:
        self.batches = []

    def record(self, y, out) -> None:
        """Keep a batch's targets and outputs (nothing to keep without metrics)."""
        if self.names():
            self.batches.append((y, out))

    def names(self) -> list[str]:
        """What the results are logged under."""
        return [
            f"{prefix}{name}"
            for prefix, chosen, _, loss in self.outputs
            for name in (["loss"] if loss is not None else []) + [name for name, _ in chosen]
        ]

    def host_batches(self) -> list[tuple]:
        """The recorded batches as NumPy arrays (lists of them for several outputs)."""
        return [(on_host(y), on_host(out)) for y, out in self.batches]

    def results(self) -> dict[str, float]:
        """Each metric over every batch recorded since :meth:`reset` (NaN for none, or for outputs that
        diverged: the loop says so; a metric would refuse NaN outputs)."""
        if not self.batches:
            return dict.fromkeys(self.names(), float("nan"))
        several = len(self.outputs) > 1
        results = {}
        for k, (prefix, chosen, convert, loss) in enumerate(self.outputs):
            y = np.concatenate([arrays.to_numpy(listed(t)[k] if several else t) for t, _ in self.batches])
            out = np.concatenate([arrays.to_numpy(listed(o)[k] if several else o) for _, o in self.batches])
            names = (["loss"] if loss is not None else []) + [name for name, _ in chosen]
            if not arrays.all_finite(out):
                results.update({f"{prefix}{name}": float("nan") for name in names})
                continue
            if loss is not None:
                results[f"{prefix}loss"] = float(loss.value(out, y))
            read = out if convert is None else convert(out)
            results.update({f"{prefix}{name}": fn(y, read) for name, fn in chosen})
        return results


def on_host(value):
    """An array, or several (a model's several outputs or targets), as NumPy."""
    if isinstance(value, (list, tuple, Several)):
        return [arrays.to_numpy(v) for v in listed(value)]
    return arrays.to_numpy(value)
