"""Optimizers: turn gradients into parameter updates.

``opt.step(params, ops)`` updates each Parameter from its ``.grad``. State
(momenta, running averages) is kept per Parameter. An optimizer holds the
settings and the state; the arithmetic of its rule is a kernel of the ops it
is given (``ops.adam``, ``ops.rmsprop``, ...): plain in ``Ops``, in place
through one scratch buffer per parameter in ``NumpyOps`` (a step allocates
nothing), one fused kernel in ``CupyOps``. A model hands the optimizer its
parameters as one flat buffer, which makes a step a few long vector
operations.

The rules follow ``torch.optim`` for the same hyper-parameters. Every
optimizer also takes:

- ``decay``: time-based learning-rate decay, lr_t = lr / (1 + decay * t), t = steps taken;
- ``clipnorm``: if the gradients of all parameters in a step together have an
  L2 norm above it, scale them down to it (as ``torch.nn.utils.clip_grad_norm_``);
- ``clipvalue``: clip every gradient element to [-clipvalue, clipvalue].
"""

from __future__ import annotations

import math

from . import arrays, checks
from .ops import get_ops
from .parameter import Parameter

OPTIMIZERS: dict[str, type] = {}


class Optimizer:
    """Base class: subclasses implement ``update(param, state, lr, ops)``, which calls their rule's kernel.

    ``state[p]`` holds arrays shaped as ``p`` (momenta, running averages) under
    names, each made by :meth:`slot` at ``initial_state(name)`` (0 but for
    Adagrad's sum), and the kernels' ``"scratch"`` buffer.
    """

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        OPTIMIZERS[cls.__name__] = cls

    def __init__(
        self, learning_rate: float, decay: float = 0.0, clipnorm: float | None = None, clipvalue: float | None = None
    ) -> None:
        self.learning_rate = checks.number(learning_rate, "learning_rate", low=0.0, low_open=True)
        self.decay = checks.number(decay, "decay", low=0.0)
        self.clipnorm = checks.optional_number(clipnorm, "clipnorm", low=0.0, low_open=True)
        self.clipvalue = checks.optional_number(clipvalue, "clipvalue", low=0.0, low_open=True)
        self.iterations = 0
        self.state: dict[Parameter, dict] = {}

    @property
    def current_learning_rate(self) -> float:
        return self.learning_rate / (1.0 + self.decay * self.iterations)

    def step(self, params: list[Parameter], ops=None) -> None:
        """Update every parameter once from its gradient (clipped first, if asked), through the kernels of
        ``ops``: a model passes its own; None takes the library's current ops (``get_ops()``, a
        NumpyOps unless ``use_ops`` says otherwise), so parameters on another device need theirs."""
        params = list(params)
        ops = get_ops() if ops is None else ops
        self.clip_gradients(params)
        lr = self.current_learning_rate
        for p in params:
            state = self.state.get(p)
            if state is None:
                state = self.state[p] = {"scratch": arrays.array_module(p.data).empty_like(p.data)}
            self.update(p, state, lr, ops)
        self.iterations += 1

    def move_state(self, p: Parameter, ops) -> None:
        """Hold the state kept for ``p`` as arrays of ``ops`` (a model moving to another device)."""
        for name, values in self.state.get(p, {}).items():
            self.state[p][name] = ops.asarray(values)

    def clip_gradients(self, params: list[Parameter]) -> None:
        """Clip in place: each element to +-clipvalue, then the global norm to clipnorm."""
        if not params:
            return
        xp = arrays.array_module(params[0].grad)
        if self.clipvalue is not None:
            for p in params:
                xp.clip(p.grad, -self.clipvalue, self.clipvalue, out=p.grad)
        if self.clipnorm is not None:
            norm = math.sqrt(sum(float(xp.vdot(p.grad, p.grad)) for p in params))
            scale = self.clipnorm / (norm + 1e-6)
            if scale < 1.0:
                for p in params:
                    p.grad *= scale

    def update(self, p: Parameter, state: dict, lr: float, ops) -> None:
        """Update ``p`` once through this rule's kernel of ``ops``, with ``state``, the arrays kept for ``p``."""
        raise NotImplementedError

    def initial_state(self, name: str) -> float:
        """The value a state array named ``name`` starts from."""
        return 0.0

    def slot(self, p: Parameter, state: dict, name: str):
        """The state array ``name`` kept for ``p``, made at ``initial_state(name)`` the first time it is asked for."""
        values = state.get(name)
        if values is None:
            values = state[name] = arrays.array_module(p.data).full_like(p.data, self.initial_state(name))
        return values

    def carry_state(self, old: Parameter, new: Parameter, pieces: list[tuple[slice, slice]]) -> None:
        """Move the state kept for ``old`` to ``new``, which holds some of the same values elsewhere.

        A model re-flattens its parameters when its layers change (pruning, a layer added after
        training); ``pieces`` pairs each kept parameter's slice in the old flat buffer with its slice in
        the new one. The rest of ``new`` starts as at a first step.
        """
        xp = arrays.array_module(new.data)
        state = self.state.pop(old, None)
        if state is None:
            return
        carried = {"scratch": xp.empty_like(new.data)}
        for name, values in state.items():
            if name == "scratch":
                continue
            fresh = carried[name] = xp.full_like(new.data, self.initial_state(name))
            for was, now in pieces:
                fresh[now] = values[was]
        self.state[new] = carried

    def get_config(self) -> dict:
        return {
            "learning_rate": self.learning_rate,
            "decay": self.decay,
            "clipnorm": self.clipnorm,
            "clipvalue": self.clipvalue,
        }


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    plain:    w -= lr * g
    momentum: v = momentum * v + g (v starts at 0: v = g at the first step);  w -= lr * v
    Nesterov: w -= lr * (g + momentum * v)
    """

    def __init__(
        self, learning_rate=0.01, momentum=0.0, nesterov=False, decay=0.0, clipnorm=None, clipvalue=None
    ) -> None:
        super().__init__(learning_rate, decay, clipnorm=clipnorm, clipvalue=clipvalue)
        self.momentum = checks.number(momentum, "momentum", low=0.0, high=1.0, high_open=True)
        self.nesterov = checks.flag(nesterov, "nesterov")
        if self.nesterov and self.momentum == 0:
            raise checks.ArgumentError("Nesterov momentum needs momentum > 0")

    def update(self, p, state, lr, ops):
        velocity = self.slot(p, state, "velocity") if self.momentum else None
        ops.sgd(
            p.data, p.grad, velocity, lr=lr, momentum=self.momentum, nesterov=self.nesterov, scratch=state["scratch"]
        )

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adagrad(Optimizer):
    """Adaptive gradient: each weight's step shrinks with its history of gradients.

    s += g**2;  w -= lr * g / (sqrt(s) + epsilon)
    """

    def __init__(
        self, learning_rate=0.01, epsilon=1e-7, decay=0.0, initial_accumulator_value=0.0, clipnorm=None, clipvalue=None
    ) -> None:
        super().__init__(learning_rate, decay, clipnorm=clipnorm, clipvalue=clipvalue)
        self.epsilon = _epsilon(epsilon)
        self.initial_accumulator_value = checks.number(initial_accumulator_value, "initial_accumulator_value", low=0.0)

    def initial_state(self, name):
        return self.initial_accumulator_value if name == "sum" else 0.0

    def update(self, p, state, lr, ops):
        sums = self.slot(p, state, "sum")
        ops.adagrad(p.data, p.grad, sums, lr=lr, epsilon=self.epsilon, scratch=state["scratch"])

    def get_config(self):
        return {
            **super().get_config(),
            "epsilon": self.epsilon,
            "initial_accumulator_value": self.initial_accumulator_value,
        }


class RMSprop(Optimizer):
    """Root mean square propagation: a decaying average of squared gradients.

    s = rho * s + (1 - rho) * g**2;  w -= lr * g / (sqrt(s) + epsilon)
    """

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-7, decay=0.0, clipnorm=None, clipvalue=None) -> None:
        super().__init__(learning_rate, decay, clipnorm=clipnorm, clipvalue=clipvalue)
        self.rho = checks.number(rho, "rho", low=0.0, high=1.0, high_open=True)
        self.epsilon = _epsilon(epsilon)

    def update(self, p, state, lr, ops):
        square_avg = self.slot(p, state, "square_avg")
        ops.rmsprop(p.data, p.grad, square_avg, lr=lr, rho=self.rho, epsilon=self.epsilon, scratch=state["scratch"])

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Adam(Optimizer):
    """Adaptive moment estimation, with bias correction.

    m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g**2
    w -= (lr / (1 - b1**t)) * m / (sqrt(v) / sqrt(1 - b2**t) + epsilon)
    """

    def __init__(
        self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, decay=0.0, clipnorm=None, clipvalue=None
    ) -> None:
        super().__init__(learning_rate, decay, clipnorm=clipnorm, clipvalue=clipvalue)
        self.beta_1 = checks.number(beta_1, "beta_1", low=0.0, high=1.0, high_open=True)
        self.beta_2 = checks.number(beta_2, "beta_2", low=0.0, high=1.0, high_open=True)
        self.epsilon = _epsilon(epsilon)

    def update(self, p, state, lr, ops):
        m, v = self.slot(p, state, "m"), self.slot(p, state, "v")
        ops.adam(
            p.data, p.grad, m, v, lr=lr, beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
            t=self.iterations + 1, decay=self.decay_factor(lr), scratch=state["scratch"],
        )  # fmt: skip

    def decay_factor(self, lr: float) -> float:
        """What the weights are multiplied by before each step: 1 (AdamW decays them)."""
        return 1.0

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter): shrink the weights, then step.

    w *= 1 - lr * weight_decay;  then the Adam update.
    Unlike an L2 penalty, the decay does not pass through Adam's per-weight
    scaling, so every weight decays at the same rate.
    """

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=0.01,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        decay=0.0,
        clipnorm=None,
        clipvalue=None,
    ) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, decay, clipnorm, clipvalue)
        self.weight_decay = checks.number(weight_decay, "weight_decay", low=0.0)

    def decay_factor(self, lr):
        return 1.0 - lr * self.weight_decay

    def get_config(self):
        return {**super().get_config(), "weight_decay": self.weight_decay}


def _epsilon(value) -> float:
    """The epsilon added to a denominator: > 0, so that a weight whose gradients were all zero gets 0/eps, not 0/0."""
    return checks.number(value, "epsilon", low=0.0, low_open=True)


def get(optimizer) -> Optimizer:
    """An optimizer from an instance or a name ("sgd", "adam", ...), with default settings."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    by_name = {name.lower(): cls for name, cls in OPTIMIZERS.items()}
    if isinstance(optimizer, str) and optimizer.lower() in by_name:
        return by_name[optimizer.lower()]()
    raise ValueError(f"unknown optimizer {optimizer!r}; use one of {sorted(by_name)} or an Optimizer instance")
