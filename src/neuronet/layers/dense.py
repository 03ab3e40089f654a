"""The fully connected (dense) layer: every input connected to every neuron."""

from __future__ import annotations

from .. import checks
from .base import given_sizes, optional_size
from .weighted import WeightedLayer


class Dense(WeightedLayer):
    """A layer of ``n_neurons`` neurons, each seeing all ``n_inputs`` inputs.

    Forward:  y = act(z),  z = x @ W + b
    Backward: dz = act'(dy);  dW = x.T @ dz,  db = sum_batch(dz),  dx = dz @ W.T
    Shapes:   x (batch, n_inputs), W (n_inputs, n_neurons), b (n_neurons,),
              y (batch, n_neurons). Extra leading axes are treated as batch.
    ``Dense(n_neurons)`` takes ``n_inputs`` from its input when it is built;
    ``Dense(n_inputs, n_neurons)`` gives both.
    """

    default_name = "dense"
    keeps_mask = True  # on (batch, time, features) it maps each step alone
    positionwise = True
    size_name, layout = "n_inputs", "(batch, ..., n_inputs)"

    def __init__(
        self, *sizes: int, n_inputs: int | None = None, n_neurons: int | None = None, activation=None, **kwargs
    ) -> None:
        given = given_sizes(self, sizes, {"n_inputs": n_inputs, "n_neurons": n_neurons}, ("n_inputs",))
        self.n_inputs = optional_size(given["n_inputs"], "n_inputs")
        self.n_neurons = checks.integer(given["n_neurons"], "n_neurons", low=1)
        super().__init__(activation, **kwargs)

    def weight_shape(self):
        return (self.n_inputs, self.n_neurons)

    def fans(self):
        return self.n_inputs, self.n_neurons

    def linear(self, x):
        if x.ndim < 2 or x.shape[-1] != self.n_inputs:
            raise self.shape_error(f"(batch, {self.n_inputs})", x)
        self.x = x
        self.w = self.effective_weights()
        z = x @ self.w
        z += self.biases.data
        return z

    def backward_linear(self, dz, input_grad: bool = True):
        x2 = self.x.reshape(-1, self.n_inputs)
        dz2 = dz.reshape(-1, self.n_neurons)
        self.weights.accumulate_matmul(x2.T, dz2)
        self.biases.grad += self.ops.column_sums(dz2)
        return dz @ self.w.T if input_grad else None

    def effective_weights(self):
        """The weight matrix the forward pass multiplies by (a sparse layer masks it)."""
        return self.weights.data

    def output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.n_neurons)

    def input_shape(self):
        return (None, self.n_inputs) if self.built else None

    def get_config(self):
        return {"n_inputs": self.n_inputs, "n_neurons": self.n_neurons, **super().get_config()}
