"""Loss functions: how wrong the predictions are, and in which direction to move.

``loss(y_pred, y_true)`` is the mean over the batch (a Python float) and
``loss.backward(y_pred, y_true)`` its gradient with respect to ``y_pred``.
Each loss writes its formula per sample in ``sample_values`` (``value`` is their
mean; ``weighted_value`` is Keras's weighted loss sum_i w_i L_i / n, whose
gradient is ``backward``'s with sample i's rows times w_i); ``forward`` first checks that the
predictions are what the loss takes (a cross-entropy of probabilities refuses
raw scores, which would train to a tiny loss and a wrong model, silently).

When a model ends in Softmax and is trained with categorical cross-entropy
(or Sigmoid with binary cross-entropy), the model skips the activation's
backward pass and uses :meth:`Loss.backward_through_activation`, the fused
gradient ``(p - y) / n`` with respect to the scores before the activation.
"""

from __future__ import annotations

import numpy as np

from . import arrays, checks
from .layers.activations import sigmoid, softmax

LOSSES: dict[str, type] = {}
EPS = 1e-7  # probabilities are clipped to [EPS, 1 - EPS] so log never sees 0
# how far from 1 a row of probabilities may sum (float32 rounding over many classes) before it is no distribution
ROW_SUM_TOLERANCE = 1e-3


class Loss:
    """Base class: subclasses implement ``forward`` (per-batch mean) and ``backward``."""

    fuses_with: str | None = None  # name of the activation whose backward this loss can absorb
    # for a loss of probabilities: the last activations whose outputs it takes (unless from_logits)
    probability_activations: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        LOSSES[cls.__name__] = cls

    def __call__(self, y_pred, y_true) -> float:
        y_pred = arrays.as_array(y_pred, "y_pred")
        return self.forward(y_pred, self.prepare_targets(arrays.as_array(y_true, "y_true"), y_pred))

    def prepare_targets(self, y_true, y_pred):
        """Check ``y_true`` against ``y_pred`` and convert it once to the form the loss uses."""
        xp = arrays.array_module(y_pred)
        y = xp.asarray(y_true, dtype=y_pred.dtype)
        if y.ndim == 1 and y_pred.ndim == 2 and y_pred.shape[1] == 1:
            y = y.reshape(-1, 1)
        if y.shape != y_pred.shape:
            raise ValueError(f"{type(self).__name__}: targets have shape {y.shape} but predictions {y_pred.shape}")
        return y

    def forward(self, y_pred, y_true, sample_weight=None) -> float:
        """The loss (the mean over the batch, or ``weighted_value``) of predictions checked to be what the loss
        takes."""
        if self.takes_probabilities():
            self.check_predictions(y_pred)
        return self.weighted_value(y_pred, y_true, sample_weight)

    def value(self, y_pred, y_true) -> float:
        """The loss (the mean of the samples' losses), on predictions already known to be what it takes (a model
        whose last activation the loss absorbs: softmax outputs are probabilities)."""
        return float(self.sample_values(y_pred, y_true).mean())

    def weighted_value(self, y_pred, y_true, weights) -> float:
        """sum_i w_i L_i / n, Keras's "sum_over_batch_size": ``weights`` (n,) times each sample's loss (None:
        ``value``)."""
        if weights is None:
            return self.value(y_pred, y_true)
        xp = arrays.array_module(y_pred)
        return float(xp.vdot(self.sample_values(y_pred, y_true), weights)) / len(weights)

    def sample_values(self, y_pred, y_true):
        """Each sample's loss, shape (n,): the loss's formula averaged over the sample's own elements."""
        raise NotImplementedError(f"{type(self).__name__} gives no per-sample losses")

    def check_predictions(self, y_pred) -> None:
        """A ValueError if ``y_pred`` cannot be this loss's input (a loss of probabilities given scores)."""

    def backward(self, y_pred, y_true):
        raise NotImplementedError

    def backward_through_activation(self, y_act, y_true):
        """Gradient with respect to the activation's input, given its output ``y_act``."""
        raise NotImplementedError(f"{type(self).__name__} has no fused gradient")

    def get_config(self) -> dict:
        return {}

    def sample_classes(self, y):
        """Each sample's class, from targets in this loss's form (``prepare_targets``), for a loss that
        classifies samples; None for any other (a regression, a label per step of a sequence)."""
        return None

    def takes_probabilities(self) -> bool:
        """Must the predictions be probabilities (a cross-entropy not given logits)?"""
        return bool(self.probability_activations) and not getattr(self, "from_logits", False)

    def check_last_layer(self, layer) -> None:
        """At compile: a loss of probabilities refuses a last layer that shows it outputs raw scores."""
        shown = layer.output_activation()
        if not self.takes_probabilities() or shown is None or shown in self.probability_activations:
            return
        ends = "no activation" if shown == "linear" else f"activation {shown!r}"
        raise ValueError(
            f"{type(self).__name__} expects probabilities, but the last layer '{layer.name}' "
            f"({type(layer).__name__}) has {ends}, so it outputs raw scores. {self._probability_advice()}"
        )

    def _probability_advice(self) -> str:
        name = type(self).__name__
        return (
            f'Give the last layer activation="{self.probability_activations[0]}", or compile with '
            f"loss=nn.losses.{name}(from_logits=True) to train on the raw scores; to predict numbers "
            '(regression) compile with loss="mse"'
        )

    def _refuse_predictions(self, what: str):
        return ValueError(
            f"{type(self).__name__} expects probabilities, but the predictions {what}. {self._probability_advice()}"
        )


class MeanSquaredError(Loss):
    """L = mean((y_pred - y)**2);  dL/dy_pred = 2 (y_pred - y) / N  (N = all elements)."""

    def sample_values(self, y_pred, y_true):
        d = y_pred - y_true
        return _per_sample(d * d)

    def backward(self, y_pred, y_true):
        y_true = self.prepare_targets(y_true, y_pred)
        return (y_pred - y_true) * (2.0 / y_pred.size)


class MeanAbsoluteError(Loss):
    """L = mean(|y_pred - y|);  dL/dy_pred = sign(y_pred - y) / N."""

    def sample_values(self, y_pred, y_true):
        xp = arrays.array_module(y_pred)
        return _per_sample(xp.abs(y_pred - y_true))

    def backward(self, y_pred, y_true):
        xp = arrays.array_module(y_pred)
        y_true = self.prepare_targets(y_true, y_pred)
        return xp.sign(y_pred - y_true) * (1.0 / y_pred.size)


class BinaryCrossentropy(Loss):
    """L = -mean(y log p + (1 - y) log(1 - p)),  dL/dp = (p - y) / (p (1 - p) N).

    With ``from_logits=True`` the predictions are scores z, p = sigmoid(z), and
    L = mean(max(z, 0) - z y + log(1 + exp(-|z|))),  dL/dz = (p - y) / N.
    Targets are 0/1 labels or soft targets in [0, 1]; ``label_smoothing`` e moves
    them towards 1/2 first: y <- y (1 - e) + e / 2.
    """

    fuses_with = "sigmoid"
    probability_activations = ("sigmoid", "softmax")

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0) -> None:
        self.from_logits = checks.flag(from_logits, "from_logits")
        self.label_smoothing = checks.number(label_smoothing, "label_smoothing", low=0.0, high=1.0)

    def prepare_targets(self, y_true, y_pred):
        y = super().prepare_targets(y_true, y_pred)
        if ((y < 0) | (y > 1)).any():
            raise ValueError("BinaryCrossentropy: targets must be in [0, 1] (labels 0 or 1, or soft targets)")
        return y

    def sample_classes(self, y):
        if y.ndim != 2:
            return None
        return (y[:, 0] > 0.5).astype(int) if y.shape[1] == 1 else y.argmax(axis=1)  # 0/1, or one-hot columns

    def check_predictions(self, p) -> None:
        """Probabilities lie in [0, 1]: anything else is a raw score given to a loss of probabilities."""
        if p.size and (float(p.min()) < 0 or float(p.max()) > 1):
            raise self._refuse_predictions(f"range over [{float(p.min()):.4g}, {float(p.max()):.4g}], not [0, 1]")

    def _smooth(self, y):
        return y * (1.0 - self.label_smoothing) + self.label_smoothing / 2 if self.label_smoothing else y

    def sample_values(self, y_pred, y_true):
        xp = arrays.array_module(y_pred)
        y_true = self._smooth(y_true)
        if self.from_logits:
            z = y_pred
            return _per_sample(xp.maximum(z, 0) - z * y_true + xp.log1p(xp.exp(-xp.abs(z))))
        p = xp.clip(y_pred, EPS, 1 - EPS)
        return _per_sample(-(y_true * xp.log(p) + (1 - y_true) * xp.log(1 - p)))

    def backward(self, y_pred, y_true):
        xp = arrays.array_module(y_pred)
        y_true = self._smooth(self.prepare_targets(y_true, y_pred))
        if self.from_logits:
            return (sigmoid(y_pred) - y_true) * (1.0 / y_pred.size)
        p = xp.clip(y_pred, EPS, 1 - EPS)
        return (p - y_true) / (p * (1 - p)) * (1.0 / y_pred.size)

    def backward_through_activation(self, y_act, y_true):
        return (y_act - self._smooth(y_true)) * (1.0 / y_act.size)

    def get_config(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(Loss):
    """L = -mean over rows of sum_k y_k log p_k, a row being one prediction (classes on the last axis).

    Backward: dL/dp = -y / (p n), n rows.  With ``from_logits=True``, p = softmax(z) and
    L = mean(logsumexp(z) - z_label),  dL/dz = (p - y) / n.
    Shapes: predictions (batch, ..., classes); targets integer labels (batch, ...), one per row, or
    one-hot (or soft) rows of the predictions' shape. Most models have one row per sample, (batch, classes).
    ``label_smoothing`` e moves the targets towards the uniform distribution first,
    y <- y (1 - e) + e / classes, as Keras and PyTorch do.
    """

    fuses_with = "softmax"
    probability_activations = ("softmax",)

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0) -> None:
        self.from_logits = checks.flag(from_logits, "from_logits")
        self.label_smoothing = checks.number(label_smoothing, "label_smoothing", low=0.0, high=1.0)

    def prepare_targets(self, y_true, y_pred):
        """Integer labels stay integer, shaped as the rows ``y_pred.shape[:-1]``; one-hot targets become floats."""
        xp = arrays.array_module(y_pred)
        y = xp.asarray(y_true)
        if y.dtype == bool:
            y = y.astype(np.int64)  # True and False are the labels 1 and 0
        if y.shape == y_pred.shape:
            y = super().prepare_targets(y, y_pred)
            if y.size and (float(y.min()) < 0 or float(y.max()) > 1):
                raise ValueError(
                    f"CategoricalCrossentropy: one-hot or soft targets must lie in [0, 1], found "
                    f"{float(y.min()):.4g}..{float(y.max()):.4g}; give integer labels or rows of probabilities"
                )
            return y
        rows, k = y_pred.shape[:-1], y_pred.shape[-1]
        if y.shape == (*rows, 1):
            y = y.reshape(rows)  # a column of labels
        if y.shape != rows:
            raise ValueError(
                f"CategoricalCrossentropy: targets of shape {y.shape} do not fit predictions of shape "
                f"{y_pred.shape}: give one integer label per prediction, shape {rows}, or one-hot targets of "
                f"shape {y_pred.shape}"
            )
        if y.dtype.kind == "f":
            if not xp.all(y == xp.round(y)):
                fraction = float(y[y != xp.round(y)].reshape(-1)[0])
                raise ValueError(
                    f"CategoricalCrossentropy: integer class labels expected, found fractions such as {fraction:g}. "
                    "This loss (the default of compile) classifies; to predict numbers (regression) compile with "
                    'loss="mse" and end the model in one neuron per value, with no activation'
                )
            y = y.astype(np.int64)
        elif y.dtype.kind not in "iu":
            raise ValueError(f"CategoricalCrossentropy: labels must be integers, got dtype {y.dtype}")
        if y.size and (y.min() < 0 or y.max() >= k):
            raise ValueError(
                f"CategoricalCrossentropy: labels must be in 0..{k - 1} for {k} outputs, "
                f"found {int(y.min())}..{int(y.max())}; does the last layer have one neuron per class?"
            )
        return y

    def sample_classes(self, y):
        if y.dtype.kind in "iu":  # labels: one per sample, or one per step of a sequence (then no sample's class)
            return y if y.ndim == 1 else None
        return y.argmax(axis=1) if y.ndim == 2 else None  # one-hot rows

    def check_predictions(self, p) -> None:
        """Each row of probabilities is at least 0 and sums to 1: anything else is a raw score."""
        if not p.size:
            return
        rows = p.reshape(-1, p.shape[-1])
        if float(rows.min()) < 0:
            raise self._refuse_predictions(f"hold negative values (as low as {float(rows.min()):.4g})")
        off = arrays.array_module(p).abs(rows.sum(axis=1) - 1)
        worst = int(off.argmax())
        if float(off[worst]) > ROW_SUM_TOLERANCE:
            total = float(rows[worst].sum())
            raise self._refuse_predictions(f"have rows that do not sum to 1 (row {worst} sums to {total:.4g})")

    def _rows(self, y_pred, y_true):
        """The predictions as rows (n, classes), and the targets as n labels or n one-hot rows (smoothed, if
        asked: then always rows)."""
        xp = arrays.array_module(y_pred)
        k = y_pred.shape[-1]
        z, t = y_pred.reshape(-1, k), y_true.reshape(-1) if y_true.ndim < y_pred.ndim else y_true.reshape(-1, k)
        if self.label_smoothing:
            rows = xp.eye(k, dtype=z.dtype)[t] if t.ndim == 1 else t
            t = rows * (1.0 - self.label_smoothing) + self.label_smoothing / k
        return z, t

    def sample_values(self, y_pred, y_true):
        xp = arrays.array_module(y_pred)
        z, t = self._rows(y_pred, y_true)
        labels = t.ndim == 1
        if self.from_logits:
            m = z.max(axis=1, keepdims=True)
            lse = xp.log(xp.exp(z - m).sum(axis=1)) + m[:, 0]
            picked = z[xp.arange(len(z)), t] if labels else (z * t).sum(axis=1)
            norm = 1.0 if labels else t.sum(axis=1)
            rows = lse * norm - picked
        else:
            p = xp.clip(z, EPS, 1 - EPS)
            rows = -xp.log(p[xp.arange(len(z)), t]) if labels else -(t * xp.log(p)).sum(axis=1)
        return _per_sample(rows.reshape(len(y_pred), -1))  # (a label per step of a sequence: its mean)

    def backward(self, y_pred, y_true):
        xp = arrays.array_module(y_pred)
        y_true = self.prepare_targets(y_true, y_pred)
        if self.from_logits:
            return self.backward_through_activation(softmax(y_pred), y_true)
        z, t = self._rows(y_pred, y_true)
        n = len(z)
        p = xp.clip(z, EPS, 1 - EPS)
        if t.ndim == 1:
            grad = xp.zeros_like(z)
            rows = xp.arange(n)
            grad[rows, t] = -1.0 / (p[rows, t] * n)
        else:
            grad = -t / (p * n)
        return grad.reshape(y_pred.shape)

    def backward_through_activation(self, y_act, y_true):
        """(p * sum(y) - y) / n, which is (p - y) / n for labels and one-hot targets."""
        xp = arrays.array_module(y_act)
        p, t = self._rows(y_act, y_true)
        grad = p.copy()
        n = len(grad)
        if t.ndim == 1:
            grad[xp.arange(n), t] -= 1
        else:
            grad *= t.sum(axis=1, keepdims=True)  # soft targets need not sum to 1
            grad -= t
        grad *= 1.0 / n
        return grad.reshape(y_act.shape)

    def get_config(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


def _per_sample(values):
    """The mean of ``values`` over every axis but the first: each sample's loss."""
    return values.reshape(len(values), -1).mean(axis=1)


def get(loss) -> Loss:
    """A loss from an instance or a name ("mse", "categorical_crossentropy", ...)."""
    if isinstance(loss, Loss):
        return loss
    aliases = {
        "mse": MeanSquaredError,
        "mean_squared_error": MeanSquaredError,
        "mae": MeanAbsoluteError,
        "mean_absolute_error": MeanAbsoluteError,
        "binary_crossentropy": BinaryCrossentropy,
        "categorical_crossentropy": CategoricalCrossentropy,
        "sparse_categorical_crossentropy": CategoricalCrossentropy,
    }
    if isinstance(loss, str) and loss.lower() in aliases:
        return aliases[loss.lower()]()
    raise ValueError(f"unknown loss {loss!r}; use one of {sorted(aliases)} or a Loss instance")
