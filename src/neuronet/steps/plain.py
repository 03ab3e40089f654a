"""The plain training step: forward, loss, backward, update, on the whole batch in this thread.

    out  = model(x)                       forward (the layers keep what backward needs)
    L    = loss(out, y) + penalties       loss
    grad = dL/dw for every parameter w    backward, last layer to first
    w   -= optimizer's step(grad)         update

The thread split (``threads.py``) is this step with another way of finding a
batch's gradient (``data_gradients``); the MPI step (``mpi.py``) takes a
rank's part through it.
"""

from __future__ import annotations

from .base import Step


class PlainStep(Step):
    """One training step of ``model`` on a batch, in one piece (see the module's docstring)."""

    def data_gradients(self, x, y, share: float = 1.0, sample_weight=None) -> tuple[float, object]:
        """Set every ``.grad`` to the gradient of the data loss on ``x`` times ``share`` (a part's fraction
        of a batch split over threads or ranks, so that the parts' gradients add up to the batch's). Returns
        the data loss (no penalties) and the outputs. ``sample_weight``: each sample's weight (Keras's)."""
        model = self.model
        out = model.call(x, training=True)  # (answered at once, below: a pass the user made before stays theirs)
        y = model.on_device(y)  # (the batch's targets come from the host with it)
        if sample_weight is not None:
            sample_weight = model.ops.asarray(sample_weight)
        loss = model.loss_of(out, y, sample_weight)
        model.backward_loss(out, y, share, sample_weight)
        return loss, out

    def gradients(self, x, y, sample_weight=None) -> tuple[float, object]:
        """The gradient of the batch's whole loss, penalties included, in every ``.grad``; (loss, outputs)."""
        # (weights passed only when given: a subclass's data_gradients may not take them)
        weighted = {} if sample_weight is None else {"sample_weight": sample_weight}
        loss, out = self.data_gradients(x, y, **weighted)
        return loss + self.model.add_regularization_gradients(), out

    def train_step(self, x, y, sample_weight=None) -> dict[str, float]:
        """The gradient, the optimizer's update, the batch recorded for the epoch's metrics (unweighted); the
        batch's logs."""
        loss, out = self.gradients(x, y, sample_weight)
        self.model.apply_gradients()
        self.model.epoch_metrics.record(y, out)
        return {"loss": loss}

    def test_step(self, x, y) -> dict[str, float]:
        """The loss (with the penalties, as in training) on a batch, recorded for the metrics too."""
        model = self.model
        out = model.call(x, training=False)
        y = model.on_device(y)
        model.epoch_metrics.record(y, out)
        return {"loss": model.loss_of(out, y) + model.regularization_loss()}


class ModelsOwnStep(Step):
    """The step of a model whose class overrides ``train_step`` or ``test_step`` (as Keras allows): the loop
    calls the model's own methods for those, and ``inner`` (the step the model would take) for the rest."""

    def __init__(self, model, inner: PlainStep, own: set[str]) -> None:
        super().__init__(model)
        self.inner, self.own = inner, own

    def train_step(self, x, y, sample_weight=None) -> dict[str, float]:
        if "train_step" not in self.own:
            return self.inner.train_step(x, y, sample_weight)
        if sample_weight is not None:
            raise TypeError(
                f"{type(self.model).__name__} has its own train_step, which takes no sample weights: fit it without "
                "sample_weight and class_weight, or weight the loss inside that train_step"
            )
        return self.model.train_step(x, y)

    def test_step(self, x, y) -> dict[str, float]:
        return self.model.test_step(x, y) if "test_step" in self.own else self.inner.test_step(x, y)

    def data_gradients(self, x, y, share: float = 1.0, sample_weight=None) -> tuple[float, object]:
        return self.inner.data_gradients(x, y, share, sample_weight)
