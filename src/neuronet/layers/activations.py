"""Activation functions as layers: each has no parameters and one line of math.

Each caches its output ``y`` (or input) from forward, which backward needs.
"""

from __future__ import annotations

from .. import arrays, checks
from .base import Layer


class Activation(Layer, abstract=True):
    """Base class for element-wise (or row-wise) activations."""

    default_name = "activation"
    keeps_mask = True  # element-wise: padded steps stay where they were
    # never decreasing, so that act(max(z)) = max(act(z)) (fusion.ConvPool then applies it after max pooling)
    monotone = False

    def forward_inplace(self, x, training=False):
        """``forward`` that may overwrite ``x``: for a layer applying the activation to its own fresh output."""
        return self.forward(x, training)

    def output_activation(self) -> str:
        return self.default_name


class ReLU(Activation):
    """Rectified linear unit.

    Forward:  y = max(x, 0)
    Backward: dx = dy * [x > 0]
    """

    default_name = "relu"
    monotone = True

    def forward(self, x, training=False):
        self.y = self.ops.relu(x)
        return self.y

    def forward_inplace(self, x, training=False):
        self.y = self.ops.relu(x, out=x)
        return self.y

    def backward(self, dy):
        return dy * (self.y > 0)


class LeakyReLU(Activation):
    """ReLU with a small slope ``alpha`` for negative inputs.

    Forward:  y = x if x > 0 else alpha * x
    Backward: dx = dy if x > 0 else alpha * dy
    """

    default_name = "leaky_relu"

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__()
        self.alpha = checks.number(alpha, "alpha")
        self.monotone = self.alpha >= 0

    def forward(self, x, training=False):
        xp = self.ops.xp
        self.positive = x > 0
        if not 0 <= self.alpha <= 1:
            return xp.where(self.positive, x, self.alpha * x)
        y = self.alpha * x
        return xp.maximum(x, y, out=y)  # the same for 0 <= alpha <= 1, in two fast passes (where is slow)

    def backward(self, dy):
        dx = self.ops.xp.multiply(~self.positive, self.alpha, dtype=dy.dtype)  # the slope: alpha where x <= 0,
        dx += self.positive  # exactly 1 where x > 0
        dx *= dy
        return dx

    def get_config(self):
        return {"alpha": self.alpha}


class Sigmoid(Activation):
    """Logistic sigmoid.

    Forward:  y = 1 / (1 + exp(-x))   (computed as (1 + tanh(x/2)) / 2, which never overflows)
    Backward: dx = dy * y * (1 - y)
    """

    default_name = "sigmoid"
    monotone = True

    def forward(self, x, training=False):
        self.y = self.ops.xp.tanh(x * 0.5)
        self.y += 1
        self.y *= 0.5
        return self.y

    def backward(self, dy):
        return dy * self.y * (1 - self.y)


class Tanh(Activation):
    """Hyperbolic tangent.

    Forward:  y = tanh(x)
    Backward: dx = dy * (1 - y**2)
    """

    default_name = "tanh"
    monotone = True

    def forward(self, x, training=False):
        self.y = self.ops.xp.tanh(x)
        return self.y

    def backward(self, dy):
        return dy * (1 - self.y * self.y)


class Softmax(Activation):
    """Softmax over the last axis: turns scores into probabilities.

    Forward:  y_i = exp(x_i - max(x)) / sum_j exp(x_j - max(x))
    Backward: dx = y * (dy - sum_j(dy_j * y_j))
    (Followed by categorical cross-entropy, the model skips this backward and
    uses the fused gradient (y - target) / n, which is simpler and faster.)
    """

    default_name = "softmax"

    def forward(self, x, training=False):
        if x.shape[-1] == 1:  # exp(x) / exp(x): a constant, and a model that learns nothing
            raise ValueError(
                f"'{self.name}': a softmax over one value is always 1, so this output can learn nothing: for one "
                'output (a yes/no) use activation="sigmoid"; for classes, one output per class'
            )
        self.y = softmax(x)
        return self.y

    def backward(self, dy):
        y = self.y
        return y * (dy - (dy * y).sum(axis=-1, keepdims=True))


def softmax(x):
    """Numerically stable softmax over the last axis (one temporary array)."""
    e = x - x.max(axis=-1, keepdims=True)
    arrays.array_module(x).exp(e, out=e)
    e /= e.sum(axis=-1, keepdims=True)
    return e


def sigmoid(x):
    """Overflow-free logistic sigmoid."""
    return 0.5 * (1 + arrays.array_module(x).tanh(0.5 * x))


def spec(activation: Activation | None):
    """How an activation is written in a saved config: its name, or class and settings."""
    if activation is None:
        return None
    config = activation.get_config()
    return {"class": type(activation).__name__, "config": config} if config else activation.default_name


ACTIVATIONS = {"relu": ReLU, "leaky_relu": LeakyReLU, "sigmoid": Sigmoid, "tanh": Tanh, "softmax": Softmax}


def get(activation) -> Activation | None:
    """An activation layer from a name, a layer, a saved spec ``{"class": ..., "config": ...}``, or None."""
    if activation is None or isinstance(activation, Activation):
        return activation
    if isinstance(activation, dict):
        by_class = {cls.__name__: cls for cls in ACTIVATIONS.values()}
        name, config = activation.get("class"), activation.get("config", {})
        if not isinstance(name, str) or name not in by_class or not isinstance(config, dict):
            raise ValueError(f"unknown activation {activation!r}; use one of {sorted(by_class)}")
        return by_class[name](**config)
    if isinstance(activation, str) and activation.lower() in ACTIVATIONS:
        return ACTIVATIONS[activation.lower()]()
    raise ValueError(f"unknown activation {activation!r}; use one of {sorted(ACTIVATIONS)}, None, or a layer")
