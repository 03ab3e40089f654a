"""SimpleRNN, the plain recurrent cell: ``h_t = act(x_t W + h_{t-1} U + b)``.

The layer runs the cell through ``Recurrent``'s loops (``recurrent.py``);
``simple_rnn_reference`` beside it is the same forward pass written plainly.
"""

from __future__ import annotations

import numpy as np

from .. import checks
from .recurrent import Recurrent, unroll


class SimpleRNN(Recurrent):
    """The plain recurrent cell (Elman's network).

    Forward:  h_t = act(x_t W + h_{t-1} U + b),   act = tanh (or relu)
    Backward: da_t = (dh_t + da_{t+1} U^T) * act'(.)    (dh_t: the output's gradient at t, if any)
              dW = sum_t x_t^T da_t,  dU = sum_t h_{t-1}^T da_t,  db = sum_t da_t,  dx_t = da_t W^T
    Shapes:   x (batch, time, input_size), W (input_size, H), U (H, H), b (H,)
    """

    default_name = "simple_rnn"

    def __init__(
        self,
        *sizes: int,
        input_size: int | None = None,
        hidden_size: int | None = None,
        activation: str = "tanh",
        return_sequences=False,
    ) -> None:
        self.activation = checks.choice(activation, "activation", ("tanh", "relu"))
        super().__init__(sizes, input_size, hidden_size, return_sequences)

    def forward_step(self, t):
        xp, (z,), hs = self.ops.xp, self.a[:, t], self.carried[0]
        z += self.recurrent_product(t)[0]
        if self.activation == "tanh":
            xp.tanh(z, out=z)
        else:
            self.ops.relu(z, out=z)
        hs[t + 1] = z
        if self.training:  # act'(.): 1 - h^2 for tanh, [h > 0] for relu
            d = self.derivatives[0, t]
            if self.activation == "tanh":
                xp.multiply(z, z, out=d)
                xp.subtract(1, d, out=d)
            else:
                xp.greater(z, 0, out=d)

    def backward_step(self, t, grads):
        da = self.da[:, t]
        self.ops.xp.multiply(grads[0], self.derivatives[0, t], out=da[0])
        return [self.back_through_u(t, da)]

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


def simple_rnn_reference(
    x: np.ndarray,
    input_weights: np.ndarray,
    recurrent_weights: np.ndarray,
    biases: np.ndarray,
    activation: str = "tanh",
    return_sequences: bool = False,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """SimpleRNN's forward pass as its equations read, one step at a time in plain NumPy, from the layer's
    parameters: the last state (batch, hidden), or every step's; ``mask`` marks padding as for the layer."""
    W, U, b = input_weights, recurrent_weights, biases
    act = np.tanh if activation == "tanh" else (lambda z: np.maximum(z, 0))

    def step(x_t, h):
        h = act(x_t @ W + h @ U + b)
        return (h,)

    return unroll(step, x, 1, U.shape[0], return_sequences, mask)
