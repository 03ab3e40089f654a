"""What the training loop asks of a step, whatever the strategy behind it.

A :class:`Step` holds the model it trains and answers the loop
(``training.py``): which part of each batch this process takes (``part``:
the loop reads only that), ``train_step`` on it (returning its logs),
``test_step`` (the loss on a batch, no update), the epoch's metrics, the
smallest batch it takes, and what to do at the start of ``fit`` and when it
fails. The strategies are its subclasses: ``plain.py`` (forward, loss,
backward, update), ``threads.py``, ``mpi.py``, ``gan.py``; the loop never
knows which one it runs.
"""

from __future__ import annotations

from collections.abc import Callable


class Step:
    """The loop's side of a training step for ``model`` (see the module's docstring)."""

    def __init__(self, model) -> None:
        self.model = model

    def train_step(self, x, y) -> dict[str, float]:
        """One training step on a batch; its logs (``{"loss": ...}``)."""
        raise NotImplementedError(f"{type(self).__name__} must say how it trains on a batch")

    def test_step(self, x, y) -> dict[str, float]:
        """The loss on a batch of validation data, recorded for the metrics too."""
        raise NotImplementedError(f"{type(self).__name__} scores no validation data")

    def reset_metrics(self) -> None:
        self.model.epoch_metrics.reset()

    def metric_results(self) -> dict[str, float]:
        return self.model.epoch_metrics.results()

    def part(self, n: int) -> slice:
        """The rows of a batch of ``n`` samples that this process trains on (and reads): all of them here."""
        return slice(0, n)

    def begin_batch(self, n: int) -> None:
        """Called before ``train_step`` or ``test_step`` is given its part (``part(n)``) of a batch of ``n``."""

    def min_batch(self) -> int:
        """The fewest samples a training batch may hold (BatchNormalization needs two)."""
        return self.model.min_batch()

    def end_epoch(self) -> None:
        """Called after an epoch's last batch: a step that holds back an update (accumulation) applies it."""

    def close(self) -> None:
        """Let go of what this step holds beyond memory (the split step's worker processes) when the model
        makes a new one; a closed step makes them again if it is used."""

    def start(self, check: Callable):
        """Run ``check`` (fit's checks of its arguments, which return them checked) and return the arguments the
        loop runs with: here, as they are."""
        return check()

    def abandon(self, error: BaseException) -> None:
        """Called when the loop fails with ``error``, before it is raised: nothing to do in one process."""
