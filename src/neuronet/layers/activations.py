"""Activation functions as layers: each has no parameters and one line of math.

Each caches its output ``y`` (or input) from forward, which backward needs.
"""

from __future__ import annotations

import math

from .. import arrays, checks
from .base import Layer


class Activation(Layer, abstract=True):
    """Base class for element-wise (or row-wise) activations."""

    default_name = "activation"
    keeps_mask = True  # element-wise: padded steps stay where they were
    positionwise = True
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


class GELU(Activation):
    """Gaussian error linear unit, exact (with erf), as ``torch.nn.GELU()``.

    Forward:  y = x * Phi(x),   Phi(x) = (1 + erf(x / sqrt(2))) / 2   (the standard normal's distribution function)
    Backward: dx = dy * (Phi(x) + x * phi(x)),   phi(x) = exp(-x**2 / 2) / sqrt(2 pi)   (its density)
    """

    default_name = "gelu"

    def forward(self, x, training=False):
        self.x = x
        self.cdf = erf(x * _SQRT_HALF)
        self.cdf += 1
        self.cdf *= 0.5
        return x * self.cdf

    def backward(self, dy):
        x = self.x
        dx = x * x
        dx *= -0.5
        self.ops.xp.exp(dx, out=dx)
        dx *= x
        dx *= _INV_SQRT_2PI  # x * phi(x)
        dx += self.cdf
        dx *= dy
        return dx


class SiLU(Activation):
    """Sigmoid linear unit (swish): the input weighted by its own sigmoid.

    Forward:  y = x * s,   s = sigmoid(x) = 1 / (1 + exp(-x))   (computed as (1 + tanh(x/2)) / 2, no overflow)
    Backward: dx = dy * s * (1 + x * (1 - s))
    """

    default_name = "silu"

    def forward(self, x, training=False):
        self.x = x
        self.s = sigmoid(x)
        return x * self.s

    def backward(self, dy):
        s = self.s
        dx = 1 - s
        dx *= self.x
        dx += 1
        dx *= s
        dx *= dy
        return dx


class ELU(Activation):
    """Exponential linear unit, ``alpha`` the value it tends to for large negative inputs (as ``torch.nn.ELU``).

    Forward:  y = scale * (x if x > 0 else alpha * (exp(x) - 1))
    Backward: dx = dy * scale * (1 if x > 0 else alpha * exp(x))
    ``scale`` is 1 here (SELU sets it); exp(x) - 1 is expm1 of min(x, 0): exact near 0, no overflow for large x.
    """

    default_name = "elu"
    scale = 1.0

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = checks.number(alpha, f"{type(self).__name__} alpha")
        self.monotone = self.alpha >= 0

    def forward(self, x, training=False):
        xp = self.ops.xp
        self.positive = x > 0
        self.e = xp.expm1(xp.minimum(x, 0))  # exp(x) - 1 where x <= 0 (0 elsewhere)
        y = xp.where(self.positive, x, self.alpha * self.e)
        if self.scale != 1:
            y *= self.scale
        return y

    def backward(self, dy):
        slope = self.e + 1  # exp(x) where x <= 0
        slope *= self.alpha
        slope = self.ops.xp.where(self.positive, 1.0, slope)
        slope *= dy
        if self.scale != 1:
            slope *= self.scale
        return slope

    def get_config(self):
        return {"alpha": self.alpha}


class SELU(ELU):
    """Scaled ELU, with the constants that keep activations near mean 0 and variance 1 (as ``torch.nn.SELU``).

    Forward:  y = scale * (x if x > 0 else alpha * (exp(x) - 1))
    Backward: dx = dy * scale * (1 if x > 0 else alpha * exp(x))
    alpha = 1.6732632423543772, scale = 1.0507009873554805 (Klambauer et al., 2017).
    """

    default_name = "selu"
    scale = 1.0507009873554804934193349852946

    def __init__(self) -> None:
        super().__init__(alpha=1.6732632423543772848170429916717)

    def get_config(self):
        return {}


class Softplus(Activation):
    """A smooth ReLU: log(1 + exp(x)).

    Forward:  y = max(x, 0) + log1p(exp(-|x|))   (equal to log(1 + exp(x)), and never overflows)
    Backward: dx = dy * sigmoid(x)
    (``torch.nn.Softplus`` returns x itself above x = 20, which differs from this by less than 2.1e-9.)
    """

    default_name = "softplus"
    monotone = True

    def forward(self, x, training=False):
        xp = self.ops.xp
        self.x = x
        y = xp.abs(x)
        y *= -1
        xp.exp(y, out=y)
        xp.log1p(y, out=y)
        y += xp.maximum(x, 0)
        return y

    def backward(self, dy):
        return dy * sigmoid(self.x)


def softmax(x):
    """Numerically stable softmax over the last axis (one temporary array)."""
    e = x - x.max(axis=-1, keepdims=True)
    arrays.array_module(x).exp(e, out=e)
    e /= e.sum(axis=-1, keepdims=True)
    return e


def sigmoid(x):
    """Overflow-free logistic sigmoid."""
    return 0.5 * (1 + arrays.array_module(x).tanh(0.5 * x))


_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)

# W. J. Cody's rational approximations of erf and erfc (Math. Comp. 23, 1969; Netlib specfun's CALERF), accurate to
# float64's rounding, each as (numerator, denominator) coefficients from the highest power down:
# erf(x) = x P(x^2) / Q(x^2) for |x| <= 0.46875
_ERF_SMALL = (
    (1.85777706184603153e-1, 3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
     3.20937758913846947e03),
    (1.0, 2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03),
)  # fmt: skip
# erfc(a) = exp(-a^2) P(a) / Q(a) for 0.46875 < a <= 4
_ERFC_MIDDLE = (
    (2.15311535474403846e-8, 5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
     2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03, 2.05107837782607147e03,
     1.23033935479799725e03),
    (1.0, 1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03,
     3.29079923573345963e03, 4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03),
)  # fmt: skip
# erfc(a) = exp(-a^2) / a * (1/sqrt(pi) - z P(z) / Q(z)), z = 1 / a^2, for a > 4
_ERFC_LARGE = (
    (1.63153871373020978e-2, 3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
     1.60837851487422766e-2, 6.58749161529837803e-4),
    (1.0, 2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1, 6.05183413124413191e-2,
     2.33520497626869185e-3),
)  # fmt: skip
_INV_SQRT_PI = 1 / math.sqrt(math.pi)
_ERF_IS_ONE = 27.0  # erfc(27) is below the smallest float64: erf is +-1 exactly from there on


def _rational(coefficients, t):
    """P(t) / Q(t) for ``coefficients`` (P's, Q's), each polynomial by Horner's rule."""
    p, q = ((c[0] * t + c[1]) for c in coefficients)
    for a, b in zip(*(c[2:] for c in coefficients)):
        p *= t
        p += a
        q *= t
        q += b
    p /= q
    return p


def erf(x):
    """The error function, element-wise, in ``x``'s float type (NumPy has none): Cody's approximations above,
    each range's formula computed on that range's entries only."""
    xp = arrays.array_module(x)
    a = xp.abs(x)
    y = xp.empty_like(x)
    small = a <= 0.46875
    s = x[small]
    y[small] = s * _rational(_ERF_SMALL, s * s)
    middle = ~small & (a <= 4)
    m = a[middle]
    erfc = _rational(_ERFC_MIDDLE, m)
    erfc *= xp.exp(-(m * m))
    y[middle] = xp.copysign(1 - erfc, x[middle])
    large = ~(small | middle)  # (NaN too, which stays NaN)
    b = xp.minimum(a[large], _ERF_IS_ONE)  # (and b * b cannot overflow)
    z = 1 / (b * b)
    erfc = _INV_SQRT_PI - z * _rational(_ERFC_LARGE, z)
    erfc *= xp.exp(-(b * b))
    erfc /= b
    y[large] = xp.copysign(1 - erfc, x[large])
    return y


def spec(activation: Activation | None):
    """How an activation is written in a saved config: its name, or class and settings."""
    if activation is None:
        return None
    config = activation.get_config()
    return {"class": type(activation).__name__, "config": config} if config else activation.default_name


ACTIVATIONS = {
    "relu": ReLU, "leaky_relu": LeakyReLU, "sigmoid": Sigmoid, "tanh": Tanh, "softmax": Softmax,
    "gelu": GELU, "silu": SiLU, "elu": ELU, "selu": SELU, "softplus": Softplus,
}  # fmt: skip


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
