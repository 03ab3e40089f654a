"""The learning-rate finder: Leslie Smith's range test, as fastai's ``lr_find`` runs it.

On a copy of the model (the model and its optimizer are left exactly as they were), ``steps`` training steps
(one epoch, or the data again until there are ``steps``, 100 by default, as fastai takes) in which the
learning rate grows exponentially from ``start`` to ``end``, rate_i = start * (end / start)^(i / (n - 1)) at
step i of n. The batch losses are noisy, so they are smoothed with an exponential moving average,
bias-corrected as Adam's moments are,

    avg_i = beta * avg_(i-1) + (1 - beta) * loss_i,    smoothed_i = avg_i / (1 - beta^(i+1)),

and the sweep stops when the smoothed loss passes ``4`` times its lowest (or is no longer finite): the rate
has become too high. Two rules read a rate off the curve: the rate of the lowest smoothed loss divided by 10
(``minimum_tenth``), and the rate where the smoothed loss falls fastest on its way down to its lowest point
(``steepest``, the most negative d smoothed / d ln(rate)). The suggestion is ``minimum_tenth``: the loss at a
step of the sweep shows all the steps before it too, so the steepest fall comes late, at rates too high to
train with for long (on the digits MLP, ``steepest`` trained to lower accuracy than the best of a grid of
rates, ``minimum_tenth`` to the best's).
"""

from __future__ import annotations

import copy
import math

import numpy as np

from . import checks, plot
from .batching import batch_bounds, batches

DIVERGED = 4.0  # the sweep stops when the smoothed loss passes this many times its lowest


class LearningRateSweep:
    """What :func:`find` measured: the rates tried (``learning_rates``), the batch losses (``losses``) and their
    smoothed curve (``smoothed``); the rate of the lowest smoothed loss divided by 10 (``minimum_tenth``), the
    rate of its steepest descent (``steepest``), and the ``suggestion``, ``minimum_tenth`` (see the module's
    docstring)."""

    def __init__(self, learning_rates: np.ndarray, losses: np.ndarray, smoothed: np.ndarray) -> None:
        self.learning_rates, self.losses, self.smoothed = learning_rates, losses, smoothed
        lowest = int(np.argmin(smoothed))
        self.minimum_tenth = float(learning_rates[lowest] / 10)
        if lowest < 2:  # (the loss rose from the first steps: the smallest rate is the safest)
            self.steepest = float(learning_rates[0])
        else:
            slope = np.gradient(smoothed[: lowest + 1], np.log(learning_rates[: lowest + 1]))
            self.steepest = float(learning_rates[int(np.argmin(slope))])
        self.suggestion = self.minimum_tenth

    def plot(self, path=None):
        """The smoothed loss against the rate (a log axis), the suggestion marked; a matplotlib Figure, written
        as a PNG to ``path`` if given (needs matplotlib)."""
        return plot.learning_rate_sweep(self.learning_rates, self.smoothed, self.suggestion, path=path)

    def __repr__(self) -> str:
        return (
            f"LearningRateSweep({len(self.learning_rates)} rates from {self.learning_rates[0]:.3g} to "
            f"{self.learning_rates[-1]:.3g}, suggestion={self.suggestion:.3g}, steepest={self.steepest:.3g})"
        )


def find(
    model,
    x,
    y,
    start: float = 1e-7,
    end: float = 10.0,
    batch_size: int = 32,
    steps: int = 100,
    smoothing: float = 0.9,
    plot=None,
) -> LearningRateSweep:
    """Sweep the learning rate over ``steps`` batches of ``(x, y)`` (at least one epoch) on a copy of ``model``
    (see the module's docstring); ``smoothing``: the moving average's beta; ``plot``: a PNG path for the curve."""
    start = checks.number(start, "start", low=0.0, low_open=True)
    end = checks.number(end, "end", low=start, low_open=True)
    batch_size = checks.integer(batch_size, "batch_size", low=1)
    smoothing = checks.number(smoothing, "smoothing", low=0.0, high=1.0, high_open=True)
    if model.optimizer is None:
        raise checks.ArgumentError(
            "find_learning_rate trains with the model's optimizer and loss: call model.compile(...) first"
        )
    twin = copy.deepcopy(model)  # its own weights, optimizer state and random stream: the model's stay as they are
    x, y = twin.check_data(x, y)
    per_epoch = len(batch_bounds(len(x), batch_size, twin.min_batch()))
    count = max(per_epoch, checks.integer(steps, "steps", low=5))
    rates = start * (end / start) ** (np.arange(count) / (count - 1))
    losses, smoothed, average, lowest = [], [], 0.0, math.inf
    epochs = (count + per_epoch - 1) // per_epoch  # (an epoch of fewer batches than steps: the data again, reshuffled)
    order = (b for _ in range(epochs) for b in batches(x, y, batch_size, True, twin.ops.rng, twin.min_batch()))
    for i, (rate, (xb, yb)) in enumerate(zip(rates, order)):
        twin.optimizer.learning_rate = float(rate)
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging loss ends the sweep below
            loss = twin.train_step(xb, yb)["loss"]
        if not math.isfinite(loss):
            break
        average = smoothing * average + (1 - smoothing) * loss
        value = average / (1 - smoothing ** (i + 1))
        losses.append(loss)
        smoothed.append(value)
        lowest = min(lowest, value)
        if value > DIVERGED * lowest:
            break
    if len(smoothed) < 2:
        raise ValueError(
            f"the loss diverged at the first steps of the sweep, at rates from {start:.3g}: give a smaller start"
        )
    sweep = LearningRateSweep(rates[: len(smoothed)], np.array(losses), np.array(smoothed))
    if plot is not None:
        sweep.plot(plot)
    return sweep
