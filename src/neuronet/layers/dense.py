"""The fully connected (dense) layer: every input connected to every neuron."""

from __future__ import annotations

from .. import initializers
from ..parameter import Parameter
from ..regularizers import L1L2
from . import activations
from .base import Layer


class Dense(Layer):
    """A layer of ``n_neurons`` neurons, each seeing all ``n_inputs`` inputs.

    Forward:  y = act(z),  z = x @ W + b
    Backward: dz = act'(dy);  dW = x.T @ dz,  db = sum_batch(dz),  dx = dz @ W.T
    Shapes:   x (batch, n_inputs), W (n_inputs, n_neurons), b (n_neurons,),
              y (batch, n_neurons). Extra leading axes are treated as batch.
    """

    param_names = ("weights", "biases")
    default_name = "dense"

    def __init__(
        self,
        n_inputs: int,
        n_neurons: int,
        activation=None,
        weight_regularizer_l1: float = 0.0,
        weight_regularizer_l2: float = 0.0,
        bias_regularizer_l1: float = 0.0,
        bias_regularizer_l2: float = 0.0,
        weight_initializer: str = "glorot_uniform",
    ) -> None:
        super().__init__()
        if int(n_inputs) < 1 or int(n_neurons) < 1:
            raise ValueError(f"Dense needs n_inputs >= 1 and n_neurons >= 1, got {n_inputs} and {n_neurons}")
        self.n_inputs, self.n_neurons = int(n_inputs), int(n_neurons)
        self.activation = activations.get(activation)
        self.weight_initializer = weight_initializer
        init = initializers.get(weight_initializer)
        self.weights = Parameter(
            init((self.n_inputs, self.n_neurons), self.n_inputs, self.n_neurons),
            L1L2(weight_regularizer_l1, weight_regularizer_l2) or None,
        )
        self.biases = Parameter(
            initializers.zeros((self.n_neurons,)),
            L1L2(bias_regularizer_l1, bias_regularizer_l2) or None,
        )

    def forward(self, x, training=False):
        if x.ndim < 2 or x.shape[-1] != self.n_inputs:
            raise self.shape_error(f"(batch, {self.n_inputs})", x)
        self.x = x
        self.w = self.effective_weights()
        z = x @ self.w
        z += self.biases.data
        return self.activation.forward(z, training) if self.activation else z

    def backward(self, dy):
        dz = self.activation.backward(dy) if self.activation else dy
        return self.backward_linear(dz)

    def backward_params_only(self, dy) -> None:
        dz = self.activation.backward(dy) if self.activation else dy
        self.backward_linear(dz, input_grad=False)

    def backward_linear(self, dz, input_grad: bool = True):
        """Backward through z = x @ W + b alone (the activation already handled)."""
        x2 = self.x.reshape(-1, self.n_inputs)
        dz2 = dz.reshape(-1, self.n_neurons)
        self.weights.accumulate_matmul(x2.T, dz2)
        self.biases.grad += dz2.sum(axis=0)
        return dz @ self.w.T if input_grad else None

    def effective_weights(self):
        """The weight matrix the forward pass multiplies by (a sparse layer masks it)."""
        return self.weights.data

    def output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.n_neurons)

    def input_shape(self):
        return (None, self.n_inputs)

    def get_config(self):
        w, b = self.weights.regularizer, self.biases.regularizer
        return {
            "n_inputs": self.n_inputs,
            "n_neurons": self.n_neurons,
            "activation": activations.spec(self.activation),
            **({"weight_regularizer_l1": w.l1, "weight_regularizer_l2": w.l2} if w else {}),
            **({"bias_regularizer_l1": b.l1, "bias_regularizer_l2": b.l2} if b else {}),
            "weight_initializer": self.weight_initializer,
        }
