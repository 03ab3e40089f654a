"""Learning-rate schedules: the learning rate as a function of the epoch.

Each schedule is called as ``schedule(epoch)`` (epochs count from 0) and
returns the learning rate for that epoch. Pass one to
``callbacks.LearningRateScheduler``.
"""

from __future__ import annotations

import math

from . import checks


class Schedule:
    def __call__(self, epoch: int) -> float:
        raise NotImplementedError


class StepDecay(Schedule):
    """lr = initial * factor ** floor(epoch / every): drop by ``factor`` every ``every`` epochs."""

    def __init__(self, initial: float, factor: float = 0.5, every: int = 10) -> None:
        self.initial = checks.number(initial, "initial", low=0.0)
        self.factor = checks.number(factor, "factor", low=0.0)
        self.every = checks.integer(every, "every", low=1)

    def __call__(self, epoch):
        return self.initial * self.factor ** (epoch // self.every)


class ExponentialDecay(Schedule):
    """lr = initial * rate ** epoch."""

    def __init__(self, initial: float, rate: float = 0.95) -> None:
        self.initial = checks.number(initial, "initial", low=0.0)
        self.rate = checks.number(rate, "rate", low=0.0)

    def __call__(self, epoch):
        return self.initial * self.rate**epoch


class TimeBasedDecay(Schedule):
    """lr = initial / (1 + decay * epoch), the book's decay counted in epochs."""

    def __init__(self, initial: float, decay: float = 0.01) -> None:
        self.initial = checks.number(initial, "initial", low=0.0)
        self.decay = checks.number(decay, "decay", low=0.0)

    def __call__(self, epoch):
        return self.initial / (1 + self.decay * epoch)


class CosineDecay(Schedule):
    """lr = minimum + (initial - minimum) * (1 + cos(pi * epoch / epochs)) / 2, then ``minimum``."""

    def __init__(self, initial: float, epochs: int, minimum: float = 0.0) -> None:
        self.initial = checks.number(initial, "initial", low=0.0)
        self.epochs = checks.integer(epochs, "epochs", low=1)
        self.minimum = checks.number(minimum, "minimum", low=0.0)

    def __call__(self, epoch):
        progress = min(epoch, self.epochs) / self.epochs
        return self.minimum + (self.initial - self.minimum) * (1 + math.cos(math.pi * progress)) / 2
