"""LSTM, long short-term memory: gates that decide what a cell ``c`` keeps, takes in and shows.

The layer runs the cell through ``Recurrent``'s loops (``recurrent.py``);
``lstm_reference`` beside it is the same forward pass written plainly.
"""

from __future__ import annotations

import numpy as np

from .. import checks, initializers
from .recurrent import Recurrent, sigmoid, unroll


class LSTM(Recurrent):
    """Long short-term memory (Hochreiter & Schmidhuber 1997), gates in PyTorch's order i, f, g, o.

    Forward:  [i f g o] = x_t W + h_{t-1} U + b,  then i, f, o = sigmoid(.), g = tanh(.)
              c_t = f * c_{t-1} + i * g
              h_t = o * tanh(c_t)
    Backward: (dh, dc: the gradients reaching h_t and c_t, from step t + 1 and the output)
              do = dh * tanh(c_t)
              dc = dc + dh * o * (1 - tanh(c_t)^2)
              di = dc * g,  df = dc * c_{t-1},  dg = dc * i,  then dc_{t-1} = dc * f
              da_t = [di df dg do] * [i(1-i) f(1-f) 1-g^2 o(1-o)],  dh_{t-1} = da_t U^T
              dW, dU, db, dx as SimpleRNN's, over all four gates
    Shapes:   W (input_size, 4H), U (H, 4H), b (4H,): one bias, PyTorch's b_ih + b_hh.
    Inside the layer the gates are in the order i, f, o, g: the three sigmoids are one block.
    ``unit_forget_bias=True`` starts the forget gate's bias at 1 (as Keras), so that the cell remembers
    from the first step of training (Jozefowicz et al. 2015).
    """

    default_name = "lstm"
    gates, order, sigmoids, cells = 4, (0, 1, 3, 2), slice(0, 3), 2  # i, f, o, g: as Ops.lstm_cell takes them

    def __init__(
        self,
        *sizes: int,
        input_size: int | None = None,
        hidden_size: int | None = None,
        return_sequences=False,
        unit_forget_bias=True,
    ) -> None:
        self.unit_forget_bias = checks.flag(unit_forget_bias, "unit_forget_bias")
        super().__init__(sizes, input_size, hidden_size, return_sequences)

    def initial_biases(self, shape):
        b = initializers.zeros(shape)
        if self.unit_forget_bias:
            b[self.hidden_size : 2 * self.hidden_size] = 1.0
        return b

    def prepare(self, steps, batch, dtype):
        super().prepare(steps, batch, dtype)
        self.tanh_c = self.ops.empty((steps, batch, self.hidden_size), dtype)

    def forward_step(self, t):
        z, (hs, cs) = self.a[:, t], self.carried
        z += self.recurrent_product(t)
        derivatives = self.derivatives[:, t] if self.training else None
        self.ops.lstm_cell(z, cs[t], cs[t + 1], self.tanh_c[t], hs[t + 1], derivatives)

    def backward_step(self, t, grads):
        dh, dc = grads
        da, c_before = self.da[:, t], self.carried[1][t]
        self.ops.lstm_cell_backward(dh, dc, self.a[:, t], self.tanh_c[t], c_before, self.derivatives[:, t], da)
        return [self.back_through_u(t, da), dc]

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


def lstm_reference(
    x: np.ndarray,
    input_weights: np.ndarray,
    recurrent_weights: np.ndarray,
    biases: np.ndarray,
    return_sequences: bool = False,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """The LSTM's forward pass as its equations read, one step at a time in plain NumPy, from the layer's
    parameters (each one's columns the gates i, f, g, o side by side): the last state (batch, hidden), or
    every step's; ``mask`` marks padding as for the layer."""
    W_i, W_f, W_g, W_o = np.split(input_weights, 4, axis=1)
    U_i, U_f, U_g, U_o = np.split(recurrent_weights, 4, axis=1)
    b_i, b_f, b_g, b_o = np.split(biases, 4)

    def step(x_t, h, c):
        i = sigmoid(x_t @ W_i + h @ U_i + b_i)  # input gate: how much of g to take in
        f = sigmoid(x_t @ W_f + h @ U_f + b_f)  # forget gate: how much of c to keep
        g = np.tanh(x_t @ W_g + h @ U_g + b_g)  # the candidate
        o = sigmoid(x_t @ W_o + h @ U_o + b_o)  # output gate: how much of c to show
        c = f * c + i * g
        h = o * np.tanh(c)
        return h, c

    return unroll(step, x, 2, U_i.shape[0], return_sequences, mask)
