"""Callbacks: code that runs at fixed points of ``fit`` (epoch ends, batch ends).

Subclass :class:`Callback` and override the hooks you need; set
``self.model.stop_training = True`` to end training after this epoch.
"""

from __future__ import annotations

import math

import numpy as np

from .model import Callback, History


def _improved_mode(monitor: str, mode: str) -> str:
    if mode in ("min", "max"):
        return mode
    if mode != "auto":
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    return "min" if "loss" in monitor or "error" in monitor else "max"


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights`` the model ends with the weights of its best epoch.
    The direction (lower or higher is better) is inferred from the name unless
    ``mode`` says it: losses and errors go down, accuracies go up.
    """

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, restore_best_weights=True, mode="auto"):
        self.monitor = monitor
        self.patience = int(patience)
        self.min_delta = abs(float(min_delta))
        self.restore_best_weights = restore_best_weights
        self.mode = _improved_mode(monitor, mode)

    def on_train_begin(self, logs=None):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = -1
        self.best_weights = None
        self.wait = 0
        self.stopped_epoch = None

    def _is_improvement(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise KeyError(
                f"EarlyStopping monitors {self.monitor!r}, but the logs hold {sorted(logs)}; "
                "for val_* values pass validation_data or validation_split to fit"
            )
        value = logs[self.monitor]
        if self._is_improvement(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch is not None and self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model to ``path`` after each epoch, or only when ``monitor`` improves.

    Saving is atomic (see :mod:`neuronet.saving`), so an interrupted save leaves
    the last checkpoint intact.
    """

    def __init__(self, path, monitor="val_loss", save_best_only=True, mode="auto"):
        self.path = path
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.mode = _improved_mode(monitor, mode)

    def on_train_begin(self, logs=None):
        self.best = np.inf if self.mode == "min" else -np.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if not self.save_best_only:
            self.model.save(self.path)
            return
        if self.monitor not in logs:
            raise KeyError(f"ModelCheckpoint monitors {self.monitor!r}, but the logs hold {sorted(logs)}")
        value = logs[self.monitor]
        better = value < self.best if self.mode == "min" else value > self.best
        if better:
            self.best = value
            self.model.save(self.path)


__all__ = ["Callback", "EarlyStopping", "History", "ModelCheckpoint"]
