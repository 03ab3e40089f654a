"""Callbacks: code that runs at fixed points of ``fit`` (epoch ends, batch ends).

Subclass :class:`Callback` and override the hooks you need; set
``self.model.stop_training = True`` to end training after this epoch.
"""

from __future__ import annotations

import csv
import inspect
import math
import os

import numpy as np

from . import checks
from .model import Callback, History


def _improved_mode(monitor: str, mode: str) -> str:
    checks.text(monitor, "monitor")
    if checks.choice(mode, "mode", ("auto", "min", "max")) != "auto":
        return mode
    return "min" if "loss" in monitor or "error" in monitor else "max"


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights`` the model ends with the weights of its best epoch, however training
    ends: stopped by this callback, stopped because the loss diverged, or run to its last epoch (so that
    a saved model is the one a plot of the training marks best).
    The direction (lower or higher is better) is inferred from the name unless
    ``mode`` says it: losses and errors go down, accuracies go up.
    """

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, restore_best_weights=True, mode="auto"):
        self.monitor = monitor
        self.patience = checks.integer(patience, "patience", low=0)
        self.min_delta = abs(checks.number(min_delta, "min_delta"))
        self.restore_best_weights = checks.flag(restore_best_weights, "restore_best_weights")
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
        value = _monitored(self, logs)
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
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model to ``path`` after each epoch, or only when ``monitor`` improves.

    ``path`` may name the epoch and any logged value: ``"ckpt-{epoch:02d}-{val_loss:.3f}.nnet"``.

    Saving is atomic (see :mod:`neuronet.saving`), so an interrupted save leaves
    the last checkpoint intact. An epoch whose loss diverged is never saved.
    """

    def __init__(self, path, monitor="val_loss", save_best_only=True, mode="auto"):
        self.path = os.fspath(path)
        self.monitor = monitor
        self.save_best_only = checks.flag(save_best_only, "save_best_only")
        self.mode = _improved_mode(monitor, mode)

    def on_train_begin(self, logs=None):
        self.best = np.inf if self.mode == "min" else -np.inf

    def on_epoch_end(self, epoch, logs=None):
        if not math.isfinite((logs or {}).get("loss", 0.0)):
            return  # the weights are NaN: nothing worth keeping
        path = self.path.format(epoch=epoch + 1, **(logs or {}))
        if not self.save_best_only:
            self.model.save(path)
            return
        value = _monitored(self, logs)
        better = value < self.best if self.mode == "min" else value > self.best
        if better:
            self.best = value
            self.model.save(path)


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at the start of each epoch from ``schedule``.

    ``schedule`` is one of :mod:`neuronet.schedules` or any function
    ``epoch -> lr`` (or ``(epoch, lr) -> lr``, as in Keras). The rate used is
    logged as ``"learning_rate"``.
    """

    def __init__(self, schedule, verbose: int = 0) -> None:
        if not callable(schedule):
            raise checks.ArgumentError(f"schedule must be a function of the epoch, got {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose
        self.takes_lr = len(inspect.signature(schedule).parameters) >= 2

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        lr = self.schedule(epoch, opt.learning_rate) if self.takes_lr else self.schedule(epoch)
        opt.learning_rate = checks.number(lr, f"the learning rate the schedule gave for epoch {epoch}", low=0.0)
        if self.verbose:
            print(f"epoch {epoch + 1}: learning rate {lr:.6g}")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.model.optimizer.learning_rate


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved for ``patience`` epochs.

    After a reduction it waits ``cooldown`` epochs before counting again, and
    never goes below ``min_lr``.
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
        mode="auto",
        verbose: int = 0,
    ):
        self.monitor = monitor
        self.factor = checks.number(factor, "factor", low=0.0, high=1.0, low_open=True, high_open=True)
        self.patience = checks.integer(patience, "patience", low=0)
        self.min_delta = abs(checks.number(min_delta, "min_delta"))
        self.cooldown = checks.integer(cooldown, "cooldown", low=0)
        self.min_lr = checks.number(min_lr, "min_lr", low=0.0)
        self.mode = _improved_mode(monitor, mode)
        self.verbose = verbose

    def on_train_begin(self, logs=None):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.cooldown_left = 0

    def on_epoch_end(self, epoch, logs=None):
        value = _monitored(self, logs)
        better = value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.wait = 0
        if better:
            self.best, self.wait = value, 0
            return
        if self.cooldown_left > 0:
            return
        self.wait += 1
        if self.wait >= self.patience:
            opt = self.model.optimizer
            new = max(opt.learning_rate * self.factor, self.min_lr)
            if new < opt.learning_rate:
                opt.learning_rate = new
                if self.verbose:
                    print(f"epoch {epoch + 1}: {self.monitor} has not improved; learning rate now {new:.6g}")
            self.wait, self.cooldown_left = 0, self.cooldown


class CSVLogger(Callback):
    """Write each epoch's logs as a row of a CSV file (``append=True`` continues an existing file)."""

    def __init__(self, path, separator: str = ",", append: bool = False) -> None:
        self.path, self.separator, self.append = path, separator, append

    def on_train_begin(self, logs=None):
        self.keys = None
        self.file = open(self.path, "a" if self.append else "w", newline="")  # noqa: SIM115 -- open for all of fit
        self.writer = csv.writer(self.file, delimiter=self.separator)
        self.write_header = not (self.append and os.path.getsize(self.path) > 0)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.write_header:
                self.writer.writerow(["epoch", *self.keys])
        self.writer.writerow([epoch, *(logs.get(k, "") for k in self.keys)])
        self.file.flush()

    def on_train_end(self, logs=None):
        self.file.close()


def _monitored(callback, logs) -> float:
    logs = logs or {}
    if callback.monitor not in logs:
        raise KeyError(
            f"{type(callback).__name__} monitors {callback.monitor!r}, but the logs hold {sorted(logs)}; "
            "for val_* values pass validation_data or validation_split to fit"
        )
    return logs[callback.monitor]


__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "History",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
]
