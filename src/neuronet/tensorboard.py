"""Training written as TensorBoard event files (through tensorboardX, the ``tensorboard`` extra).

The hooks of ``nn.callbacks.TensorBoard`` (as ``doctor.Doctor`` holds ``TrainingDoctor``'s). Each epoch
it writes, at step ``epoch`` (counted from 0):

- every logged number under its History name as a scalar (``loss``, ``accuracy``, ``val_loss``, ...);
- ``learning_rate``: the logged one where a callback logs it (``LearningRateScheduler``), else the
  optimizer's rate for the epoch's last step (read after that step, before epoch-end callbacks change it);
- every ``histogram_freq`` epochs, a histogram of each parameter's values, ``weights/<name>``, and of its
  gradient, ``gradients/<name>``: the gradient of the epoch's last training step (not an average over the
  epoch), read after that step. ``<name>`` is the parameter's name in the model file
  (``"0.dense.weights"``).

Only the writer process writes (rank 0 under mpiexec); the files are closed when training ends.
"""

from __future__ import annotations

import math
import os

import numpy as np

from . import checks, process

INSTALL = 'pip install "neuronet[tensorboard]"'


def summary_writer_class():
    """tensorboardX's SummaryWriter, or an ImportError that says how to install it."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError(f"nn.callbacks.TensorBoard writes through tensorboardX, not installed: {INSTALL}") from None
    return SummaryWriter


def folder(log_dir) -> str:
    """``log_dir`` as a str naming a folder (made by the writer if missing); a file there is refused now."""
    if not isinstance(log_dir, (str, os.PathLike)) or not os.fspath(log_dir):
        raise checks.ArgumentError(f"log_dir must name a folder for the event files (a str or a Path), got {log_dir!r}")
    path = os.fspath(log_dir)
    if os.path.exists(path) and not os.path.isdir(path):
        raise checks.ArgumentError(f"log_dir {path!r} is a file; TensorBoard's event files go in a folder: name one")
    return path


class EventLog:
    """The hooks of ``nn.callbacks.TensorBoard(log_dir, histogram_freq=1)`` (see the module's docstring)."""

    changes_training = False  # it only writes

    def __init__(self, log_dir, histogram_freq: int = 1) -> None:
        self.log_dir = folder(log_dir)
        self.histogram_freq = checks.integer(histogram_freq, "histogram_freq", low=0)
        self.writer_class = summary_writer_class()  # when made, not after the first epoch
        self.writer = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.close()  # (a fit stopped by an error left its file open)
        self.rate = None
        if process.is_writer():  # (under mpiexec, rank 0 writes for all)
            self.writer = self.writer_class(logdir=self.log_dir)

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        optimizer = getattr(self.model, "optimizer", None)  # (a GAN has two, under their own names)
        if optimizer is not None:
            self.rate = optimizer.current_learning_rate

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.writer is None:
            return
        logs = dict(logs or {})
        if "learning_rate" not in logs and self.rate is not None:
            logs["learning_rate"] = self.rate
        for name, value in logs.items():
            self.writer.add_scalar(name, float(value), epoch)
        if self.histogram_freq and (epoch + 1) % self.histogram_freq == 0:
            self.write_histograms(epoch)
        self.writer.flush()

    def write_histograms(self, epoch: int) -> None:
        """Each parameter's values and the gradient of the epoch's last step, as histograms."""
        to_numpy = self.model.ops.to_numpy
        for i, layer in enumerate(getattr(self.model, "layers", [])):
            for path, parameter in layer.named_parameters().items():
                name = f"{i}.{layer.name}.{path}"
                for kind, array in (("weights", parameter.data), ("gradients", parameter.grad)):
                    values = to_numpy(array).astype(np.float64, copy=False).ravel()
                    if values.size and all(math.isfinite(v) for v in (values.min(), values.max())):
                        self.writer.add_histogram(f"{kind}/{name}", values, epoch)  # (NaN has no bins)

    def on_train_end(self, logs: dict | None = None) -> None:
        self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
