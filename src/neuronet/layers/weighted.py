"""What Dense and the convolutions share: weights and biases, L1/L2 penalties, an optional activation."""

from __future__ import annotations

import inspect

from .. import checks, initializers
from ..regularizers import L1L2
from . import activations
from .base import Layer


class WeightedLayer(Layer, abstract=True):
    """A layer computing z = linear(x; weights, biases) and then y = activation(z).

    Subclasses implement ``linear(x)`` and ``backward_linear(dz, input_grad)``;
    this class adds the activation around them, so a model can also step past
    the activation when the loss absorbs it (softmax with cross-entropy).
    """

    param_names = ("weights", "biases")

    def __init__(
        self,
        weight_shape: tuple,
        fan_in: int,
        fan_out: int,
        activation=None,
        weight_regularizer_l1: float = 0.0,
        weight_regularizer_l2: float = 0.0,
        bias_regularizer_l1: float = 0.0,
        bias_regularizer_l2: float = 0.0,
        weight_initializer: str = "glorot_uniform",
        **unknown,
    ) -> None:
        if unknown:  # (Dense and the convolutions hand their keywords on: name the layer, not this class)
            takes = [*inspect.signature(type(self).__init__).parameters, *inspect.signature(WeightedLayer).parameters]
            internal = ("self", "kwargs", "unknown", "weight_shape", "fan_in", "fan_out")  # (the subclass gives these)
            options = [n for n in dict.fromkeys(takes) if n not in internal]
            raise checks.ArgumentError(
                f"{type(self).__name__} takes no argument {', '.join(map(repr, unknown))}; it takes "
                f"{', '.join(options)}"
            )
        super().__init__()
        self.activation = activations.get(activation)
        self.weight_initializer = checks.choice(weight_initializer, "weight_initializer", initializers.INITIALIZERS)
        init = initializers.get(weight_initializer)
        self.weights = self.new_parameter(
            "weights",
            weight_shape,
            lambda shape: init(shape, fan_in, fan_out),
            L1L2(weight_regularizer_l1, weight_regularizer_l2, "weight_regularizer") or None,
        )
        self.biases = self.new_parameter(
            "biases",
            self.bias_shape(weight_shape),
            initializers.zeros,
            L1L2(bias_regularizer_l1, bias_regularizer_l2, "bias_regularizer") or None,
        )

    def bias_shape(self, weight_shape: tuple) -> tuple:
        """One bias per output: the weights' last axis (a transposed convolution's is its second to last)."""
        return (weight_shape[-1],)

    def use_ops(self, ops) -> None:
        super().use_ops(ops)
        if self.activation is not None:  # part of this layer's function (no arrays to save), with the same ops
            self.activation.use_ops(ops)

    def forward(self, x, training=False):
        z = self.linear(x)
        return self.activation.forward_inplace(z, training) if self.activation else z  # z is ours to overwrite

    def backward(self, dy):
        return self.backward_linear(self.activation.backward(dy) if self.activation else dy)

    def backward_params_only(self, dy) -> None:
        self.backward_linear(self.activation.backward(dy) if self.activation else dy, input_grad=False)

    def output_activation(self) -> str:
        return self.activation.default_name if self.activation else "linear"

    def linear(self, x):
        raise NotImplementedError

    def backward_linear(self, dz, input_grad: bool = True):
        """Backward through z = linear(x) alone (the activation already handled)."""
        raise NotImplementedError

    def get_config(self) -> dict:
        w, b = self.weights.regularizer, self.biases.regularizer
        return {
            "activation": activations.spec(self.activation),
            **({"weight_regularizer_l1": w.l1, "weight_regularizer_l2": w.l2} if w else {}),
            **({"bias_regularizer_l1": b.l1, "bias_regularizer_l2": b.l2} if b else {}),
            "weight_initializer": self.weight_initializer,
        }
