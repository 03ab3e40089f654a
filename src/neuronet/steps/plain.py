"""The plain training step: forward, loss, backward, update, on the whole batch in this thread.

    out  = model(x)                       forward (the layers keep what backward needs)
    L    = loss(out, y) + penalties       loss
    grad = dL/dw for every parameter w    backward, last layer to first
    w   -= optimizer's step(grad)         update

A :class:`Step` holds the model it trains and gives the training loop
(``training.py``) all it asks of a step: ``train_step`` (the four steps on a
batch, returning its logs), ``test_step`` (the loss on a batch, no update),
the epoch's metrics, the smallest batch a step takes. The other strategies
(``threads.py``, ``mpi.py``, ``gan.py``) are subclasses that change how the
gradient of a batch is found; the loop never knows which one it runs.
"""

from __future__ import annotations

from collections.abc import Callable


class Step:
    """One training step of ``model`` on a batch, in one piece (see the module's docstring)."""

    def __init__(self, model) -> None:
        self.model = model

    # -- the gradient ------------------------------------------------------------------------------
    def data_gradients(self, x, y, share: float = 1.0) -> tuple[float, object]:
        """Fill every ``.grad`` with the gradient of the data loss on ``x`` times ``share`` (a part's fraction
        of a batch split over threads or ranks, so that the parts' gradients add up to the batch's). Returns
        the data loss (no penalties) and the outputs."""
        model = self.model
        out = model.call(x, training=True)
        y = model.ops.asarray(y)  # (the batch's targets come from the host with it)
        loss = model.loss_of(out, y)
        model.backward_loss(out, y, share)
        return loss, out

    def gradients(self, x, y) -> tuple[float, object]:
        """The gradient of the batch's whole loss, penalties included, in every ``.grad``; (loss, outputs)."""
        loss, out = self.data_gradients(x, y)
        return loss + self.model.add_regularization_gradients(), out

    # -- what the training loop asks ---------------------------------------------------------------
    def train_step(self, x, y) -> dict[str, float]:
        """The gradient, the optimizer's update, the batch recorded for the epoch's metrics; the batch's logs."""
        loss, out = self.gradients(x, y)
        self.model.apply_gradients()
        self.model.epoch_metrics.record(y, out)
        return {"loss": loss}

    def test_step(self, x, y) -> dict[str, float]:
        """The loss (with the penalties, as in training) on a batch, recorded for the metrics too."""
        model = self.model
        out = model.call(x, training=False)
        y = model.ops.asarray(y)
        model.epoch_metrics.record(y, out)
        return {"loss": model.loss_of(out, y) + model.regularization_loss()}

    def reset_metrics(self) -> None:
        self.model.epoch_metrics.reset()

    def metric_results(self) -> dict[str, float]:
        return self.model.epoch_metrics.results()

    def min_batch(self) -> int:
        """The fewest samples a training batch may hold (BatchNormalization needs two)."""
        return self.model.min_batch()

    # -- around the loop ---------------------------------------------------------------------------
    def start(self, check: Callable):
        """Run ``check`` (fit's checks of its arguments, which return the loop's plan) and return the plan the
        loop runs: here, as it is."""
        return check()

    def abandon(self, error: BaseException) -> None:
        """Called when the loop fails with ``error``, before it is raised: nothing to do in one process."""
