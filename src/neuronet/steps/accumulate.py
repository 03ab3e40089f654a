"""Gradient accumulation (``fit(..., accumulate=k)``): k batches, one update, as one batch k times as large.

A batch's loss is a mean over its samples, so the gradient of a group of
batches B_1..B_k taken as one batch of N = sum |B_j| samples is

    g = sum_j |B_j| g_j / N        (g_j: batch j's mean gradient)

Each batch's gradient is found by the model's own step (plain or split over
threads) scaled by |B_j| and added to a running sum; after the k-th batch the
sum over N, plus the penalties' gradient (once, as for one batch), goes to the
optimizer in one update. Only memory for one batch's activations is needed.
An epoch's last group, fewer than k batches, is applied at the epoch's end as
one update of the samples it holds (as the last, smaller batch of an epoch
is). Exact where samples are independent: BatchNormalization normalises each
batch by its own statistics, and Dropout draws its masks batch by batch.
"""

from __future__ import annotations

from .base import Step
from .plain import PlainStep


class AccumulatingStep(Step):
    """``inner``'s gradients summed over ``k`` batches, then one update (see the module's docstring)."""

    def __init__(self, inner: PlainStep, k: int) -> None:
        super().__init__(inner.model)
        self.inner, self.k = inner, k
        self.total = None  # the running sum of |B_j| g_j (the flat gradient's shape), kept between groups
        self.samples = self.batches = 0

    def train_step(self, x, y, sample_weight=None) -> dict[str, float]:
        """Batch j's gradient times |B_j| added to the group's; the update after the k-th; the batch's logs."""
        model = self.model
        weighted = {} if sample_weight is None else {"sample_weight": sample_weight}
        loss, out = self.inner.data_gradients(x, y, float(len(x)), **weighted)
        flat = model.flat_parameter()
        if flat is not None:
            if self.batches == 0:
                if self.total is None or self.total.shape != flat.grad.shape:
                    self.total = flat.grad.copy()
                else:
                    self.total[...] = flat.grad
            else:
                self.total += flat.grad
        self.samples += len(x)
        self.batches += 1
        model.epoch_metrics.record(y, out)
        if self.batches == self.k:
            self.end_epoch()
        return {"loss": loss + model.regularization_loss()}

    def end_epoch(self) -> None:
        """Apply the group held (a full one, or the epoch's last, shorter one): its mean gradient, then the
        penalties' gradient, in one update."""
        if not self.batches:
            return
        model, flat = self.model, self.model.flat_parameter()
        if flat is not None:
            grad = flat.grad
            grad[...] = self.total
            grad *= 1.0 / self.samples
            model.add_regularization_gradients()
            model.apply_gradients()
        self.samples = self.batches = 0

    def test_step(self, x, y) -> dict[str, float]:
        return self.inner.test_step(x, y)

    def min_batch(self) -> int:
        return self.inner.min_batch()
