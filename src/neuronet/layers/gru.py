"""GRU, the gated recurrent unit: an update gate mixes the old state with a new candidate.

The layer runs the cell through ``Recurrent``'s loops (``recurrent.py``);
``gru_reference`` beside it is the same forward pass written plainly.
"""

from __future__ import annotations

import numpy as np

from .. import initializers
from .recurrent import Recurrent, sigmoid, unroll


class GRU(Recurrent):
    """Gated recurrent unit (Cho et al. 2014), as ``torch.nn.GRU``: gates r, z, n.

    Forward:  [r z] = sigmoid(x_t W_rz + b_rz + h_{t-1} U_rz + c_rz)
              m = h_{t-1} U_n + c_n
              n = tanh(x_t W_n + b_n + r * m)
              h_t = (1 - z) * n + z * h_{t-1}  =  n + z * (h_{t-1} - n)
    Backward: (dh: the gradient reaching h_t)
              dn = dh * (1 - z) * (1 - n^2),  dz = dh * (h_{t-1} - n) * z(1-z),  dr = dn * m * r(1-r)
              da_t = [dr dz dn] (for W, b),  de_t = [dr dz dn * r] (for U, c)
              dh_{t-1} = dh * z + de_t U^T
              dW = sum_t x_t^T da_t, db = sum_t da_t, dU = sum_t h_{t-1}^T de_t, dc = sum_t de_t
    Shapes:   W (input_size, 3H), U (H, 3H), b (3H,) input biases, c (3H,) recurrent biases
    (PyTorch's b_ih and b_hh, one to one: the reset gate multiplies h U_n + c_n, so c_n is no b_n).
    """

    default_name = "gru"
    param_names = ("input_weights", "recurrent_weights", "biases", "recurrent_biases")
    gates, order, sigmoids = 3, (0, 1, 2), slice(0, 2)  # r, z, n: as Ops.gru_cell takes them

    def __init__(
        self, *sizes: int, input_size: int | None = None, hidden_size: int | None = None, return_sequences=False
    ) -> None:
        super().__init__(sizes, input_size, hidden_size, return_sequences)

    def make_parameters(self):
        super().make_parameters()
        self.recurrent_biases = self.new_parameter("recurrent_biases", (3 * self.hidden_size,), initializers.zeros)

    def prepare(self, steps, batch, dtype):
        super().prepare(steps, batch, dtype)
        self.m = self.ops.empty((steps, batch, self.hidden_size), dtype)  # h_{t-1} U_n + c_n
        self.e = self.ops.empty((3, batch, self.hidden_size), dtype)  # each step's h_{t-1} U + c, gate by gate
        self.c = self.recurrent_biases.data.reshape(3, 1, -1)[list(self.order)] * self.half(dtype)

    def forward_step(self, t):
        hs = self.carried[0]
        e = self.ops.xp.add(self.recurrent_product(t), self.c, out=self.e)
        derivatives = self.derivatives[:, t] if self.training else None
        self.ops.gru_cell(self.a[:, t], e, hs[t], self.m[t], hs[t + 1], derivatives)

    def backward_through_time(self, dy, input_grad):
        self.de = self.ops.xp.empty_like(self.a)  # the gradients for U and c
        return super().backward_through_time(dy, input_grad)

    def backward_step(self, t, grads):
        (dh,) = grads
        gates, de = self.a[:, t], self.de[:, t]
        self.ops.gru_cell_backward(dh, gates, self.carried[0][t], self.m[t], self.derivatives[:, t], self.da[:, t], de)
        dh_before = self.back_through_u(t, de)
        dh_before += dh * gates[1]  # dh_{t-1} = dh z + de_t U^T
        return [dh_before]

    def recurrent_gradients(self, hs_t):
        order = list(self.order)
        du = self.ops.xp.matmul(hs_t, self.de[:, 1:].reshape(3, hs_t.shape[1], self.hidden_size))
        self.by_gate(self.recurrent_weights.grad)[order] += du
        de = self.de.reshape(3, -1, self.hidden_size)  # c's gradient: every step's, the first's too
        self.recurrent_biases.grad.reshape(3, -1)[order] += self.ops.xp.stack([self.ops.column_sums(g) for g in de])


def gru_reference(
    x: np.ndarray,
    input_weights: np.ndarray,
    recurrent_weights: np.ndarray,
    biases: np.ndarray,
    recurrent_biases: np.ndarray,
    return_sequences: bool = False,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """The GRU's forward pass as its equations read, one step at a time in plain NumPy, from the layer's
    parameters (each one's columns the gates r, z, n side by side): the last state (batch, hidden), or every
    step's; ``mask`` marks padding as for the layer."""
    W_r, W_z, W_n = np.split(input_weights, 3, axis=1)
    U_r, U_z, U_n = np.split(recurrent_weights, 3, axis=1)
    b_r, b_z, b_n = np.split(biases, 3)
    c_r, c_z, c_n = np.split(recurrent_biases, 3)

    def step(x_t, h):
        r = sigmoid(x_t @ W_r + b_r + h @ U_r + c_r)  # reset gate: how much of h the candidate sees
        z = sigmoid(x_t @ W_z + b_z + h @ U_z + c_z)  # update gate: how much of h to keep
        n = np.tanh(x_t @ W_n + b_n + r * (h @ U_n + c_n))  # the candidate
        h = (1 - z) * n + z * h
        return (h,)

    return unroll(step, x, 1, U_r.shape[0], return_sequences, mask)
