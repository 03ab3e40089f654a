"""What Dense and the convolutions share: weights and biases, L1/L2 penalties, an optional activation."""

from __future__ import annotations

from inspect import Parameter, signature

from .. import checks, initializers
from ..regularizers import L1L2
from . import activations
from .base import SizedByInput


class WeightedLayer(SizedByInput, abstract=True):
    """A layer computing z = linear(x; weights, biases) and then y = activation(z).

    Subclasses set their sizes (the input size None when it is to come from
    the input, see ``SizedByInput``), say the weights' shape and fans
    (``weight_shape``, ``fans``), and implement ``linear(x)`` and
    ``backward_linear(dz, input_grad)``; this class makes the parameters and
    adds the activation around them, so a model can also step past the
    activation when the loss absorbs it (softmax with cross-entropy).
    """

    param_names = ("weights", "biases")

    def __init__(
        self,
        activation=None,
        weight_regularizer_l1: float = 0.0,
        weight_regularizer_l2: float = 0.0,
        bias_regularizer_l1: float = 0.0,
        bias_regularizer_l2: float = 0.0,
        weight_initializer: str = "glorot_uniform",
        **unknown,
    ) -> None:
        if unknown:  # (Dense and the convolutions hand their keywords on: name the layer, not this class)
            own = [c for c in type(self).__mro__ if issubclass(c, WeightedLayer) and "__init__" in vars(c)]
            takes = [p for c in own for p in signature(c.__init__).parameters.values()]
            keywords = (Parameter.POSITIONAL_OR_KEYWORD, Parameter.KEYWORD_ONLY)
            options = dict.fromkeys(p.name for p in takes if p.kind in keywords and p.name != "self")
            raise checks.ArgumentError(
                f"{type(self).__name__} takes no argument {', '.join(map(repr, unknown))}; it takes "
                f"{', '.join(options)}"
            )
        super().__init__()
        self.activation = activations.get(activation)
        self.weight_initializer = checks.choice(weight_initializer, "weight_initializer", initializers.INITIALIZERS)
        self.weight_regularizer = L1L2(weight_regularizer_l1, weight_regularizer_l2, "weight_regularizer") or None
        self.bias_regularizer = L1L2(bias_regularizer_l1, bias_regularizer_l2, "bias_regularizer") or None
        self.build_if_sized()

    def make_parameters(self) -> None:
        shape, (fan_in, fan_out) = self.weight_shape(), self.fans()
        init = initializers.get(self.weight_initializer)
        self.weights = self.new_parameter("weights", shape, lambda s: init(s, fan_in, fan_out), self.weight_regularizer)
        self.biases = self.new_parameter("biases", self.bias_shape(shape), initializers.zeros, self.bias_regularizer)

    def weight_shape(self) -> tuple:
        raise NotImplementedError

    def fans(self) -> tuple[int, int]:
        """The weights' (fan_in, fan_out), which initialisers scale by."""
        raise NotImplementedError

    def bias_shape(self, weight_shape: tuple) -> tuple:
        """One bias per output: the weights' last axis (a transposed convolution's is its second to last)."""
        return (weight_shape[-1],)

    def use_ops(self, ops) -> None:
        super().use_ops(ops)
        if self.activation is not None:  # part of this layer's function (no arrays to save), with the same ops
            self.activation.use_ops(ops)

    def forward(self, x, training=False):
        if not self.built:
            raise self.unbuilt_error()
        z = self.linear(x)
        return self.activation.forward_inplace(z, training) if self.activation else z  # z is ours to overwrite

    def backward(self, dy):
        if not self.built:
            raise self.unbuilt_error()
        return self.backward_linear(self.activation.backward(dy) if self.activation else dy)

    def backward_params_only(self, dy) -> None:
        if not self.built:
            raise self.unbuilt_error()
        self.backward_linear(self.activation.backward(dy) if self.activation else dy, input_grad=False)

    def output_activation(self) -> str:
        return self.activation.default_name if self.activation else "linear"

    def linear(self, x):
        raise NotImplementedError

    def backward_linear(self, dz, input_grad: bool = True):
        """Backward through z = linear(x) alone (the activation already handled)."""
        raise NotImplementedError

    def get_config(self) -> dict:
        w, b = self.weight_regularizer, self.bias_regularizer
        return {
            "activation": activations.spec(self.activation),
            **({"weight_regularizer_l1": w.l1, "weight_regularizer_l2": w.l2} if w else {}),
            **({"bias_regularizer_l1": b.l1, "bias_regularizer_l2": b.l2} if b else {}),
            "weight_initializer": self.weight_initializer,
        }
