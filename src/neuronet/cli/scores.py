"""The scores `neuronet train` and `neuronet evaluate` report, a regressor's in the target's own units."""

from __future__ import annotations

import math

import numpy as np

from .. import losses
from ..metrics import accuracy, confusion_matrix, mean_absolute_error, mean_squared_error, r2_score
from .table_settings import TableSettings


def in_target_units(name: str, scale: float, squared: bool):
    """A metric on the standardised target, reported in the target's units."""

    def metric(y_true, y_pred) -> float:
        if squared:  # root mean squared error
            return math.sqrt(mean_squared_error(y_true, y_pred)) * scale
        return mean_absolute_error(y_true, y_pred) * scale

    metric.__name__ = name
    return metric


def scores(settings: TableSettings, out: np.ndarray, ys: np.ndarray) -> dict[str, float]:
    """Accuracy and loss for a classifier; MSE, RMSE, MAE and R^2 in the target's own units for a regressor,
    of the model's outputs ``out`` against the targets ``ys`` (as the network was trained on them)."""
    if settings.classification:
        return {"accuracy": accuracy(ys, out), "loss": losses.CategoricalCrossentropy()(out, ys)}
    # on the standardised values, then in the target's units: the errors of values near 1e308 overflow
    scale = float(settings.target_scaler.scale[0])
    rmse = in_target_units("rmse", scale, squared=True)(ys, out)
    mae = in_target_units("mae", scale, squared=False)(ys, out)
    return {"mse": rmse * rmse, "rmse": rmse, "mae": mae, "r2": r2_score(ys, out)}


def confusion_table(y_true, y_pred, classes: list[str]) -> str:
    """The confusion matrix as text: a row per true class, a column per predicted class."""
    counts = confusion_matrix(y_true, y_pred, num_classes=len(classes))
    width = max(8, *(len(c) for c in classes)) + 1
    lines = [
        "confusion matrix (rows: true class, columns: predicted class)",
        " " * width + "".join(f"{c:>{width}}" for c in classes),
    ]
    lines += [f"{c:>{width}}" + "".join(f"{v:>{width}}" for v in row) for c, row in zip(classes, counts)]
    return "\n".join(lines)
