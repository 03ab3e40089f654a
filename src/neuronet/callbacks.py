"""Callbacks: code that runs at fixed points of ``fit`` (epoch ends, batch ends).

Subclass :class:`Callback` and override the hooks you need; set
``self.model.stop_training = True`` to end training after this epoch.
"""

from __future__ import annotations

import csv
import inspect
import math
import os
import string

import numpy as np

from . import checks, doctor, plot, process, saving, tensorboard


class Callback:
    """Hook points called by the training loop (``training.fit``); override the ones you need."""

    model = None  # the model being trained, set before training starts
    # does it change what is trained, or when training stops? A distributed fit compares those on every rank;
    # one that only writes (only rank 0 writes) may be given to rank 0 alone, as Horovod's scripts do
    changes_training = True

    def set_model(self, model) -> None:
        self.model = model

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """After each training batch. Keras's name for it, ``on_train_batch_end``, is called from here, so a
        callback written for Keras runs as it would there."""
        self.on_train_batch_end(batch, logs)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None: ...


# Keras's hooks that neuronet's fit has no moment for: a callback defining one is told, not silently ignored
KERAS_HOOKS_NOT_CALLED = (
    "on_batch_begin", "on_train_batch_begin", "on_test_begin", "on_test_end", "on_test_batch_begin",
    "on_test_batch_end", "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end",
)  # fmt: skip


class History(Callback):
    """Records every epoch's logs: ``history.history["loss"]`` is a list, one value per epoch."""

    def on_train_begin(self, logs=None):
        self.epoch: list[int] = []
        self.history: dict[str, list[float]] = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


class MonitorCallback(Callback):
    """A callback that watches one logged value for improvement (EarlyStopping, ModelCheckpoint and
    ReduceLROnPlateau share this one test).

    Better means lower for losses and errors and higher otherwise, unless ``mode``
    says which; only a change of more than ``min_delta`` counts.
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", min_delta: float = 0.0) -> None:
        self.monitor = checks.text(monitor, "monitor")
        if not monitor.strip():
            raise checks.ArgumentError("monitor is empty; name a logged value such as 'val_loss' or 'accuracy'")
        if checks.choice(mode, "mode", ("auto", "min", "max")) == "auto":
            mode = "min" if "loss" in monitor or "error" in monitor else "max"
        self.mode = mode
        self.min_delta = abs(checks.number(min_delta, "min_delta"))

    def on_train_begin(self, logs=None):
        self.best = math.inf if self.mode == "min" else -math.inf

    def improved(self, logs) -> bool:
        """Whether the monitored value beats the best so far (which it then becomes)."""
        logs = logs or {}
        if self.monitor not in logs:
            raise KeyError(
                f"{type(self).__name__} monitors {self.monitor!r}, but the logs hold {sorted(logs)}; "
                "for val_* values pass validation_data or validation_split to fit"
            )
        value = logs[self.monitor]
        better = value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta
        if better:
            self.best = value
        return better


class EarlyStopping(MonitorCallback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights`` the model ends with the weights of its best epoch, however training
    ends: stopped by this callback, stopped because the loss diverged, or run to its last epoch (so that
    a saved model is the one a plot of the training marks best).
    """

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, restore_best_weights=True, mode="auto"):
        super().__init__(monitor, mode, min_delta)
        self.patience = checks.integer(patience, "patience", low=0)
        self.restore_best_weights = checks.flag(restore_best_weights, "restore_best_weights")

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.best_epoch = -1
        self.best_weights = None
        self.wait = 0
        self.stopped_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        if self.improved(logs):
            self.best_epoch, self.wait = epoch, 0
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


class ModelCheckpoint(MonitorCallback):
    """Save the model to ``path`` after each epoch, or only when ``monitor`` improves.

    ``path`` may name the epoch and any logged value: ``"ckpt-{epoch:02d}-{val_loss:.3f}.nnet"``.

    Saving is atomic (see :mod:`neuronet.saving`), so an interrupted save leaves
    the last checkpoint intact. An epoch whose loss diverged is never saved.
    """

    changes_training = False

    def __init__(self, path, monitor="val_loss", save_best_only=True, mode="auto"):
        super().__init__(monitor, mode)
        self.path = _in_a_folder(_template(saving.model_path(path, "path"), logged=True))
        self.save_best_only = checks.flag(save_best_only, "save_best_only")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if not math.isfinite(logs.get("loss", 0.0)):
            return  # the weights are NaN: nothing worth keeping
        if not self.save_best_only or self.improved(logs):
            try:
                path = self.path.format(epoch=epoch + 1, **logs)
            except KeyError as exc:
                raise checks.ArgumentError(
                    f"ModelCheckpoint path {self.path!r} names {{{exc.args[0]}}}, which is not logged; "
                    f"the logs hold {sorted(logs)}"
                ) from None
            self.model.save(path)
            process.record_checkpoint(path, epoch + 1)


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at the start of each epoch from ``schedule``.

    ``schedule`` is one of :mod:`neuronet.schedules` or any function
    ``epoch -> lr`` (or ``(epoch, lr) -> lr``, as in Keras). The rate used is
    logged as ``"learning_rate"``.
    """

    def __init__(self, schedule, verbose: int = 0) -> None:
        self.takes_lr = _takes_learning_rate(schedule)
        self.schedule = schedule
        self.verbose = checks.verbosity(verbose)

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        lr = self.schedule(epoch, opt.learning_rate) if self.takes_lr else self.schedule(epoch)
        # 0 is a rate: a warm-up starts there, CosineDecay ends there
        what = f"the learning rate that schedule {_name(self.schedule)} gave for epoch {epoch}"
        opt.learning_rate = checks.number(lr, what, low=0.0)
        if self.verbose:
            print(f"epoch {epoch + 1}: learning rate {lr:.6g}")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.model.optimizer.learning_rate


class ReduceLROnPlateau(MonitorCallback):
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
        super().__init__(monitor, mode, min_delta)
        self.factor = checks.number(factor, "factor", low=0.0, high=1.0, low_open=True, high_open=True)
        self.patience = checks.integer(patience, "patience", low=0)
        self.cooldown = checks.integer(cooldown, "cooldown", low=0)
        self.min_lr = checks.number(min_lr, "min_lr", low=0.0)
        self.verbose = checks.verbosity(verbose)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.wait = 0
        self.cooldown_left = 0

    def on_epoch_end(self, epoch, logs=None):
        better = self.improved(logs)
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.wait = 0
        if better:
            self.wait = 0
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

    changes_training = False

    def __init__(self, path, separator: str = ",", append: bool = False) -> None:
        self.path = _in_a_folder(checks.file_path(path, "path"))
        self.separator = checks.text(separator, "separator")
        if len(separator) != 1 or separator in '"\r\n':
            raise checks.ArgumentError(
                f"separator must be one character other than a quote or a line break (',', ';', '\\t'), "
                f"got {separator!r}"
            )
        self.append = checks.flag(append, "append")

    def on_train_begin(self, logs=None):
        self.keys = None
        target = self.path if process.is_writer() else os.devnull  # (under mpiexec, rank 0 writes for all)
        self.file = open(target, "a" if self.append else "w", newline="")  # noqa: SIM115 -- open for all of fit
        self.writer = csv.writer(self.file, delimiter=self.separator)
        self.write_header = not (self.append and os.path.getsize(target) > 0)

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


class SampleGrid(Callback):
    """A GAN's callback: every ``every`` epochs (and after the last), a PNG grid of the generator's samples
    for the same ``n`` latent vectors, titled with the epoch, so that the grids show how training changes
    one set of samples.

    ``path`` may hold ``{epoch}`` (as in ``"samples_{epoch:03d}.png"``) for one file per grid; otherwise
    each grid replaces the last. Samples must be images (see :func:`neuronet.plot.image_grid`). Needs
    matplotlib, checked when training starts.
    """

    changes_training = False

    def __init__(self, path, every: int = 5, n: int = 64, cols: int = 8, seed: int = 0) -> None:
        self.path = _in_a_folder(_template(checks.file_path(path, "path"), logged=False))
        self.every = checks.integer(every, "every", low=1)
        self.n = checks.integer(n, "n", low=1)
        self.cols = checks.integer(cols, "cols", low=1)
        self.seed = checks.integer(seed, "seed", low=0)
        self.paths: list[str] = []  # the files written, in order

    def set_model(self, model) -> None:
        if not hasattr(model, "generator"):
            raise checks.ArgumentError(f"SampleGrid draws a GAN's samples; it was given a {type(model).__name__}")
        super().set_model(model)

    def on_train_begin(self, logs=None):
        plot.require_matplotlib()  # before training, not after the first epochs
        # the grid's own random stream: the same vectors each time, and the GAN's draws left as they were
        z = np.random.default_rng(self.seed).standard_normal((self.n, self.model.latent_dim))
        self.z, self.epochs, self.paths = z, 0, []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs = epoch + 1
        if self.epochs % self.every == 0:
            self.write()

    def on_train_end(self, logs=None):
        if self.epochs % self.every:  # the last epoch, unless it was just drawn
            self.write()

    def write(self) -> None:
        samples = self.model.generator.predict(self.z.astype(self.model.generator.dtype))
        path = self.path.format(epoch=self.epochs)
        plot.image_grid(samples, path=path, cols=self.cols, title=f"epoch {self.epochs}")
        self.paths.append(path)


class TrainingDoctor(doctor.Doctor, Callback):
    """Watches training and names what goes wrong: inputs not scaled, a learning rate too high, gradients
    that explode or vanish, dead ReLUs, a network not learning or overfitting (``neuronet.doctor`` holds
    the statistics and the rules). ``doctor.findings`` lists them as dicts (``epoch``, ``code``, ``layer``,
    ``message``: what to change); each is printed once, and "no findings" at the end if there were none
    (``verbose=0``: none printed). It reads the step training takes anyway, on the first batch of each
    epoch."""


class TensorBoard(tensorboard.EventLog, Callback):
    """Writes training as TensorBoard event files in ``log_dir`` (``tensorboard --logdir log_dir`` shows
    them): each epoch's logged numbers under their History names and the learning rate, and every
    ``histogram_freq`` epochs (0: never) each parameter's weights and its gradient after the epoch's last
    step as histograms (``neuronet.tensorboard`` says what exactly). Needs tensorboardX
    (``pip install "neuronet[tensorboard]"``), checked when it is made."""


def _template(path: str, logged: bool) -> str:
    """``path``, a file name that may hold ``{epoch}`` (and, if ``logged``, logged values such as
    ``{val_loss:.3f}``), filled now with stand-in values so that a mistake shows before training, not after
    an epoch."""
    try:
        fields = {field for _, field, _, _ in string.Formatter().parse(path) if field is not None}
        names = {field.partition(".")[0].partition("[")[0] for field in fields}
        path.format(**{name: 1 if name == "epoch" else 0.0 for name in names if logged or name == "epoch"})
    except (ValueError, KeyError, IndexError, AttributeError) as exc:
        allowed = "{epoch} and logged values such as {val_loss:.3f}" if logged else "{epoch}"
        raise checks.ArgumentError(
            f"path {path!r} is no file name neuronet can fill in ({type(exc).__name__}: {exc}); it may hold "
            f"{allowed}, and {{{{ or }}}} for a brace"
        ) from None
    return path


def _in_a_folder(path: str) -> str:
    """``path``, whose folder must exist (unless it is filled in per epoch): a typo there is found where the
    path is given, not when the first file is written, after training began."""
    folder = os.path.dirname(os.path.abspath(path))
    if "{" not in folder and not os.path.isdir(folder):
        raise checks.ArgumentError(f"path {path!r}: the folder {folder} does not exist; create it or give another")
    return path


def _takes_learning_rate(schedule) -> bool:
    """Whether ``schedule`` takes (epoch, lr) rather than (epoch); refused if it is neither."""
    expected = "a function epoch -> lr or (epoch, lr) -> lr, such as nn.schedules.StepDecay(0.1)"
    if not callable(schedule):
        raise checks.ArgumentError(f"schedule must be {expected}, got {schedule!r}")
    try:
        parameters = list(inspect.signature(schedule).parameters.values())
    except (TypeError, ValueError):  # a built-in such as max: what it takes cannot be read
        raise checks.ArgumentError(
            f"schedule must be {expected}; {_name(schedule)} has no signature to say what it takes: "
            "wrap it in a function of the epoch"
        ) from None
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    varargs = any(p.kind == p.VAR_POSITIONAL for p in parameters)
    required = [p for p in parameters if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if len(required) > 2 or any(p.kind == p.KEYWORD_ONLY for p in required) or not (positional or varargs):
        raise checks.ArgumentError(
            f"schedule must be {expected}; {_name(schedule)} takes {inspect.signature(schedule)}"
        )
    return len(positional) >= 2 or varargs


def _name(function) -> str:
    return getattr(function, "__name__", type(function).__name__)


__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "History",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "MonitorCallback",
    "ReduceLROnPlateau",
    "SampleGrid",
    "TensorBoard",
    "TrainingDoctor",
]
