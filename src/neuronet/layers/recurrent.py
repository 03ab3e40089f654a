"""Recurrent layers' shared machinery: the loops over time, the products around them, and padding.

A recurrent layer carries a state ``h`` (an LSTM also a cell ``c``) along a
sequence, updating it at each step from that step's input and the state
before, with the same weights at every step:

    h_t = cell(x_t, h_{t-1}),   h_0 = 0,   t = 1 .. T

Its output is the last state ``h_T`` (batch, hidden), or with
``return_sequences=True`` every state (batch, time, hidden), which is what a
second recurrent layer stacked on it reads. Training unrolls the loop and
backpropagates through time (BPTT): from the last step back to the first,
the gradient reaching a state is split between the weights, that step's
input and the state before it.

Each cell has a module of its own (``simple_rnn.py``, ``lstm.py``,
``gru.py``): its layer, whose docstring gives the forward and backward
equations, and beside it a plain reference of its forward pass, the
equations as a textbook writes them, one step at a time in plain NumPy,
run by ``unroll`` below (``tests/test_recurrent.py`` checks that the layer
and its reference agree). The layers themselves run the same math in a form
tuned for speed.

How the code keeps to the speed of the math (``bench/RESULTS.md``):

- the input's part of every gate, ``x_t W + b`` for all steps, is one matrix
  product before the loop (b as the weight of a constant input of 1, so
  that no pass adds it and dW's product also gives db); the loop adds one
  ``h_{t-1} U`` per step;
- inside the layer the gates are kept apart, (gates, time, batch, hidden):
  each gate of a step is then one contiguous block, and the element-wise
  work of the cell runs on whole blocks (the weights keep the columns of the
  gates side by side, as PyTorch's do; ``by_gate`` views them gate by gate),
  and in an order of the layer's choosing (an LSTM's i, f, o, g, so that its
  three sigmoid gates are one block);
- ``sigmoid(x) = (1 + tanh(x / 2)) / 2``: the sigmoid gates' columns of W, U
  and b are halved once per pass, so one ``tanh`` call serves every gate of
  a step, in place;
- each step's activation derivatives are taken in the forward pass, while the
  gates are in cache; the backward loop does only what depends on the step;
- after the loop, dW (with db), dU and dx are products over all steps at
  once (``dU = sum_t h_{t-1}^T da_t`` is, for each gate, one product of
  (H, T*B) by (T*B, H)), not one per step.

Padding. A layer fed by ``Embedding(padding_id=p)`` gets a mask, True where
a step holds a real token (``Layer.output_mask``; the model hands it on, see
``sequential.py``). A padded step leaves the state as it was, so a padded sequence
ends in the same state as the unpadded one, with pre- or post-padding; its
output in ``return_sequences`` is zero (as PyTorch's packed sequences give),
and it takes no gradient. A sequence of padding only ends in the zero state.
Inside the layer arrays are time-major, (time, batch, ...) and the gates
(gates, time, batch, hidden), so that each step's slice is contiguous; the
input and output are batch-first.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import checks, initializers
from .base import SizedByInput, given_sizes, optional_size


class Recurrent(SizedByInput, abstract=True):
    """What SimpleRNN, LSTM and GRU share: the checks, the two loops and the products around them.

    A subclass says how many blocks of ``hidden_size`` columns its weights have (``gates``), which of them
    are sigmoids, and writes one step forwards (``forward_step``) and backwards (``backward_step``). Gate k of step t
    is ``self.a[k, t]`` (batch, hidden). ``LSTM(hidden_size)`` takes ``input_size`` from its input when it
    is built; ``LSTM(input_size, hidden_size)`` gives both.
    """

    param_names = ("input_weights", "recurrent_weights", "biases")
    takes_mask = True
    # every sample's sequence is its own; a step is small products and element-wise loops on small blocks,
    # which two halves of a batch run better in two threads than one (steps/threads.py)
    numpy_bound = True
    gates = 1
    order: tuple[int, ...] = (0,)  # inside the layer, gate k is gate order[k] of the weights' columns
    sigmoids = slice(0, 0)  # the gates (inside the layer) computed by a sigmoid: a range of them
    cells = 1  # states carried from step to step: h, and for an LSTM c
    size_name, layout, rank = "input_size", "(batch, time, features)", 3

    def __init__(self, sizes: tuple, input_size: int | None, hidden_size: int | None, return_sequences: bool) -> None:
        """``sizes``: the sizes given by position, which ``given_sizes`` reads with the keywords."""
        super().__init__()
        given = given_sizes(self, sizes, {"input_size": input_size, "hidden_size": hidden_size}, ("input_size",))
        self.input_size = optional_size(given["input_size"], "input_size")
        self.hidden_size = checks.integer(given["hidden_size"], "hidden_size", low=1)
        self.return_sequences = checks.flag(return_sequences, "return_sequences")
        self.a = None
        self.build_if_sized()

    def make_parameters(self) -> None:
        f, h, k = self.input_size, self.hidden_size, self.gates * self.hidden_size
        # as Keras: Glorot for the input weights, orthogonal recurrent weights, biases at zero
        self.input_weights = self.new_parameter("input_weights", (f, k), lambda s: initializers.glorot_uniform(s, f, k))
        self.recurrent_weights = self.new_parameter("recurrent_weights", (h, k), initializers.orthogonal)
        self.biases = self.new_parameter("biases", (k,), self.initial_biases)

    def initial_biases(self, shape: tuple):
        return initializers.zeros(shape)

    def by_gate(self, w):
        """``w`` (rows, gates * H), the gates' columns side by side, seen as (gates, rows, H): a view."""
        return w.reshape(w.shape[0], self.gates, self.hidden_size).transpose(1, 0, 2)

    # -- forward ---------------------------------------------------------------------------------------
    def forward(self, x, training=False, mask=None):
        """The last state (batch, hidden), or every state (batch, time, hidden); ``mask`` (batch, time), True
        at real steps, marks padding (see the module's docstring)."""
        if not self.built:
            raise self.unbuilt_error()
        xp, h = self.ops.xp, self.hidden_size
        self.check_input(x)
        batch, steps = x.shape[:2]
        self.mask = self.check_mask(mask, x)
        # the inputs step by step, with a constant 1 after each step's features: the bias is then the weight
        # of that input, added by the product below and its gradient found by the product for dW
        x1 = self.ops.empty((steps, batch, self.input_size + 1), x.dtype)
        x1[..., :-1] = x.transpose(1, 0, 2)
        x1[..., -1] = 1
        self.x = x1.reshape(steps * batch, -1)
        wb, self.u = self.forward_weights(x.dtype)
        # x_t W + b for every step and gate at once: (gates, T * B, H)
        self.a = xp.matmul(self.x, wb).reshape(self.gates, steps, batch, h)
        self.r = self.ops.empty((batch, self.gates * h), x.dtype)  # each step's h_{t-1} U
        self.r_by_gate = self.r.reshape(batch, self.gates, h).transpose(1, 0, 2)
        self.carried = [self.ops.zeros((steps + 1, batch, h), x.dtype) for _ in range(self.cells)]
        self.training = training
        self.prepare(steps, batch, x.dtype)
        for t in range(steps):
            self.forward_step(t)
            if self.padded[t]:  # a padded step keeps the state it found
                for s in self.carried:
                    xp.copyto(s[t + 1], s[t], where=~self.mask[t])
        hs = self.carried[0]
        if not self.return_sequences:
            return hs[steps].copy()
        y = hs[1:] if self.mask is None else hs[1:] * self.mask
        return xp.ascontiguousarray(y.transpose(1, 0, 2))

    def prepare(self, steps: int, batch: int, dtype) -> None:
        """Allocate what a subclass's steps write, before the loop."""
        shape = (self.gates, steps, batch, self.hidden_size)
        self.derivatives = self.ops.empty(shape, dtype) if self.training else None

    def check_input(self, x) -> None:
        if x.ndim != 3 or x.shape[2] != self.input_size:
            raise self.shape_error(f"(batch, time, {self.input_size})", x)
        if x.shape[1] == 0:
            raise ValueError(
                f"layer '{self.name}' ({type(self).__name__}) received sequences of length 0 (shape "
                f"{tuple(x.shape)}); give every sequence at least one step"
            )

    def check_mask(self, mask, x):
        """The mask time-major, (T, B, 1) bools, or None; ``self.padded[t]``: does step t pad any sample?"""
        steps = x.shape[1]
        if mask is None:
            self.padded = [False] * steps
            return None
        mask = self.ops.asarray(mask)
        if mask.shape != x.shape[:2] or mask.dtype.kind != "b":
            raise ValueError(
                f"layer '{self.name}' ({type(self).__name__}) expects a mask of booleans shaped (batch, time) = "
                f"{tuple(x.shape[:2])}, got {mask.dtype} of shape {tuple(mask.shape)}"
            )
        mask = self.ops.xp.ascontiguousarray(mask.T)[:, :, None]
        self.padded = (~mask).any(axis=(1, 2)).tolist()
        return mask

    def half(self, dtype):
        """(gates, 1, H): 1/2 for the sigmoid gates, 1 for the others (see the module's docstring)."""
        half = self.ops.full((self.gates, 1, self.hidden_size), 1.0, dtype)
        half[self.sigmoids] = 0.5
        return half

    def inside(self, w):
        """The columns of ``w`` (rows, gates * H) as the layer orders its gates, (gates, rows, H): a copy."""
        return self.by_gate(w)[list(self.order)]

    def forward_weights(self, dtype) -> tuple:
        """[W; b] (b as one more row), gate by gate, and U, as the forward pass multiplies by them: gates in
        the layer's order, the sigmoid gates halved, so that ``tanh`` of a step's pre-activations gives every
        gate. Keeps U in the layer's order, not halved, for the backward pass (``self.u_back``)."""
        xp, half, h = self.ops.xp, self.half(dtype), self.hidden_size
        wb = self.inside(xp.concatenate([self.input_weights.data, self.biases.data[None]]))
        wb *= half
        u = self.inside(self.recurrent_weights.data)  # (gates, H, H)
        self.u_back = u.transpose(1, 0, 2).reshape(h, -1)
        return wb, (u * half).transpose(1, 0, 2).reshape(h, -1)

    def recurrent_product(self, t: int):
        """h_{t-1} U as (gates, batch, H): one product into a buffer of the step, seen gate by gate
        (none for the first step, whose h_0 is zero)."""
        if t == 0:
            self.r.fill(0)
        else:
            self.ops.xp.matmul(self.carried[0][t], self.u, out=self.r)
        return self.r_by_gate

    def forward_step(self, t: int) -> None:
        """One step of the cell: from ``self.carried[.][t]`` and ``self.a[:, t]``, write ``self.carried[.][t + 1]``."""
        raise NotImplementedError

    # -- backward --------------------------------------------------------------------------------------
    def backward(self, dy):
        return self.backward_through_time(dy, input_grad=True)

    def backward_params_only(self, dy) -> None:
        self.backward_through_time(dy, input_grad=False)

    def backward_through_time(self, dy, input_grad: bool):
        """BPTT: each step's ``backward_step`` from the last to the first, then the weight products once."""
        if not self.built:
            raise self.unbuilt_error()
        if self.a is None or self.derivatives is None:
            raise RuntimeError(
                f"layer '{self.name}' ({type(self).__name__}): backward needs a forward pass with training=True "
                "first (the forward pass keeps the derivatives only when training)"
            )
        xp = self.ops.xp
        steps, batch = self.a.shape[1:3]
        dys = None
        if self.return_sequences:
            dys = xp.ascontiguousarray(dy.transpose(1, 0, 2))  # (T, B, H)
            if self.mask is not None:
                dys *= self.mask  # a padded step's output was zero: it passes no gradient
            grads = [xp.zeros_like(dys[0]) for _ in range(self.cells)]
        else:
            # (C order whatever dy's: each step's gradient a contiguous block, as the GPU's cell kernels take it)
            grads = [xp.array(dy, copy=True, order="C")] + [xp.zeros(dy.shape, dy.dtype) for _ in range(self.cells - 1)]
        self.da = xp.empty_like(self.a)  # the gradient of every step's pre-activations, gate by gate
        self.q = self.ops.empty((batch, self.gates * self.hidden_size), self.a.dtype)
        for t in range(steps - 1, -1, -1):
            if dys is not None:
                grads[0] += dys[t]
            kept = None
            if self.padded[t]:  # the padded samples' state went through unchanged: so does its gradient
                kept = [g * ~self.mask[t] for g in grads]
                for g in grads:
                    g *= self.mask[t]
            grads = self.backward_step(t, grads)
            if kept is not None:
                for g, k in zip(grads, kept):
                    g += k
        return self.weight_gradients(input_grad)

    def backward_step(self, t: int, grads: list) -> list:
        """Given dL/d(states at t + 1) (the cell's own part, padding removed), fill ``self.da[:, t]`` and
        return dL/d(states at t)."""
        raise NotImplementedError

    def back_through_u(self, t: int, da):
        """dL/dh_{t-1} = da_t U^T, from da_t (gates, batch, H): the gates side by side in a buffer, then one
        product (none for the first step: h_0 is no parameter)."""
        q = self.q
        if t == 0:
            return self.ops.xp.zeros((q.shape[0], self.hidden_size), q.dtype)
        q.reshape(q.shape[0], self.gates, self.hidden_size)[...] = da.transpose(1, 0, 2)
        return q @ self.u_back.T

    def weight_gradients(self, input_grad: bool):
        """dW = x^T da and db = sum(da) (one product with the constant input), dU = h_{t-1}^T da over all steps
        at once (a product per gate); dx = da W^T."""
        xp, h = self.ops.xp, self.hidden_size
        steps, batch = self.a.shape[1:3]
        da = self.da.reshape(self.gates, steps * batch, h)
        dwb = xp.matmul(self.x.T, da)  # (gates, F + 1, H): dW, and db from the constant input's row
        order = list(self.order)  # back to the weights' order of gates
        self.by_gate(self.input_weights.grad)[order] += dwb[:, :-1]
        self.biases.grad.reshape(self.gates, h)[order] += dwb[:, -1]
        hs = self.carried[0][1:-1].reshape(-1, h)  # h_{t-1} of every step but the first (h_0 = 0 adds nothing)
        self.recurrent_gradients(hs.T)
        if not input_grad:
            return None
        w = self.inside(self.input_weights.data)  # dx = sum over gates of da_k W_k^T
        dx = da[0] @ w[0].T
        for k in range(1, self.gates):
            dx += da[k] @ w[k].T
        return dx.reshape(steps, batch, -1).transpose(1, 0, 2)

    def recurrent_gradients(self, hs_t) -> None:
        """dU = sum over steps t >= 2 of h_{t-1}^T da_t: ``hs_t`` is (H, (T-1)*B)."""
        du = self.ops.xp.matmul(hs_t, self.da[:, 1:].reshape(self.gates, hs_t.shape[1], self.hidden_size))
        self.by_gate(self.recurrent_weights.grad)[list(self.order)] += du

    # -- the rest of the layer contract ------------------------------------------------------------------
    def output_mask(self, mask):
        return mask if self.return_sequences else None

    def output_shape(self, input_shape):
        batch, steps = tuple(input_shape)[:2]
        return (batch, steps, self.hidden_size) if self.return_sequences else (batch, self.hidden_size)

    def input_shape(self):
        return (None, None, self.input_size) if self.built else None

    def get_config(self):
        return {
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "return_sequences": self.return_sequences,
        }


# -- the plain reference ---------------------------------------------------------------------------------------
def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, as the textbook writes it."""
    return 1 / (1 + np.exp(-z))


def unroll(
    step: Callable,
    x: np.ndarray,
    states: int,
    hidden: int,
    return_sequences: bool = False,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """The loop of a plain reference: ``step(x_t, *states) -> states`` at each step of ``x`` (batch, time,
    features), from ``states`` zero states of (batch, hidden), h first. A padded step (``mask`` (batch, time)
    False) keeps the states it found and outputs zero, as the layers do. The last h, or every step's
    (batch, time, hidden) with ``return_sequences``."""
    batch, steps = x.shape[:2]
    carried = [np.zeros((batch, hidden), x.dtype) for _ in range(states)]
    outputs = []
    for t in range(steps):
        new = step(x[:, t], *carried)
        real = np.ones((batch, 1), bool) if mask is None else mask[:, t, None]
        carried = [np.where(real, n, old) for n, old in zip(new, carried)]
        outputs.append(np.where(real, carried[0], 0))
    return np.stack(outputs, axis=1) if return_sequences else carried[0]
