"""Recurrent layers: networks with a memory, reading a sequence one step at a time.

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
``model.py``). A padded step leaves the state as it was, so a padded sequence
ends in the same state as the unpadded one, with pre- or post-padding; its
output in ``return_sequences`` is zero (as PyTorch's packed sequences give),
and it takes no gradient. A sequence of padding only ends in the zero state.
Inside the layer arrays are time-major, (time, batch, ...) and the gates
(gates, time, batch, hidden), so that each step's slice is contiguous; the
input and output are batch-first.
"""

from __future__ import annotations

from .. import checks, initializers
from .base import Layer


class Recurrent(Layer, abstract=True):
    """What SimpleRNN, LSTM and GRU share: the checks, the two loops and the products around them.

    A subclass says how many blocks of ``hidden_size`` columns its weights have (``gates``), which of them
    are sigmoids, and writes one step forwards (``step``) and backwards (``step_back``). Gate k of step t
    is ``self.a[k, t]`` (batch, hidden).
    """

    param_names = ("input_weights", "recurrent_weights", "biases")
    takes_mask = True
    # every sample's sequence is its own; a step is small products and element-wise loops on small blocks,
    # which two halves of a batch run better in two threads than one (parallel.py)
    numpy_bound = True
    gates = 1
    order: tuple[int, ...] = (0,)  # inside the layer, gate k is gate order[k] of the weights' columns
    sigmoids = slice(0, 0)  # the gates (inside the layer) computed by a sigmoid: a range of them
    cells = 1  # states carried from step to step: h, and for an LSTM c

    def __init__(self, input_size: int, hidden_size: int, return_sequences: bool = False) -> None:
        super().__init__()
        self.input_size = checks.integer(input_size, "input_size", low=1)
        self.hidden_size = checks.integer(hidden_size, "hidden_size", low=1)
        self.return_sequences = checks.flag(return_sequences, "return_sequences")
        f, h, k = self.input_size, self.hidden_size, self.gates * self.hidden_size
        # as Keras: Glorot for the input weights, orthogonal recurrent weights, biases at zero
        self.input_weights = self.new_parameter("input_weights", (f, k), lambda s: initializers.glorot_uniform(s, f, k))
        self.recurrent_weights = self.new_parameter("recurrent_weights", (h, k), initializers.orthogonal)
        self.biases = self.new_parameter("biases", (k,), self.initial_biases)
        self.a = None

    def initial_biases(self, shape: tuple):
        return initializers.zeros(shape)

    def by_gate(self, w):
        """``w`` (rows, gates * H), the gates' columns side by side, seen as (gates, rows, H): a view."""
        return w.reshape(w.shape[0], self.gates, self.hidden_size).transpose(1, 0, 2)

    # -- forward ---------------------------------------------------------------------------------------
    def forward(self, x, training=False, mask=None):
        """The last state (batch, hidden), or every state (batch, time, hidden); ``mask`` (batch, time), True
        at real steps, marks padding (see the module's docstring)."""
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
            self.step(t)
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

    def sigmoid(self, z) -> None:
        """z (gates, batch, H) holds tanh(x / 2) in the sigmoid gates: make them (1 + tanh(x / 2)) / 2."""
        part = z[self.sigmoids]
        part *= 0.5
        part += 0.5

    def step(self, t: int) -> None:
        """One step of the cell: from ``self.carried[.][t]`` and ``self.a[:, t]``, write ``self.carried[.][t + 1]``."""
        raise NotImplementedError

    # -- backward --------------------------------------------------------------------------------------
    def backward(self, dy):
        return self.backward_through_time(dy, input_grad=True)

    def backward_params_only(self, dy) -> None:
        self.backward_through_time(dy, input_grad=False)

    def backward_through_time(self, dy, input_grad: bool):
        """BPTT: each step's ``step_back`` from the last to the first, then the weight products once."""
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
            grads = [xp.array(dy, copy=True)] + [xp.zeros_like(dy) for _ in range(self.cells - 1)]
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
            grads = self.step_back(t, grads)
            if kept is not None:
                for g, k in zip(grads, kept):
                    g += k
        return self.weight_gradients(input_grad)

    def step_back(self, t: int, grads: list) -> list:
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
        return (None, None, self.input_size)

    def get_config(self):
        return {
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "return_sequences": self.return_sequences,
        }


class SimpleRNN(Recurrent):
    """The plain recurrent cell (Elman's network).

    Forward:  h_t = act(x_t W + h_{t-1} U + b),   act = tanh (or relu)
    Backward: da_t = (dh_t + da_{t+1} U^T) * act'(.)    (dh_t: the output's gradient at t, if any)
              dW = sum_t x_t^T da_t,  dU = sum_t h_{t-1}^T da_t,  db = sum_t da_t,  dx_t = da_t W^T
    Shapes:   x (batch, time, input_size), W (input_size, H), U (H, H), b (H,)
    """

    default_name = "simple_rnn"

    def __init__(self, input_size: int, hidden_size: int, activation: str = "tanh", return_sequences=False) -> None:
        self.activation = checks.choice(activation, "activation", ("tanh", "relu"))
        super().__init__(input_size, hidden_size, return_sequences)

    def step(self, t):
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

    def step_back(self, t, grads):
        da = self.da[:, t]
        self.ops.xp.multiply(grads[0], self.derivatives[0, t], out=da[0])
        return [self.back_through_u(t, da)]

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


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
    gates, order, sigmoids, cells = 4, (0, 1, 3, 2), slice(0, 3), 2

    def __init__(self, input_size: int, hidden_size: int, return_sequences=False, unit_forget_bias=True) -> None:
        self.unit_forget_bias = checks.flag(unit_forget_bias, "unit_forget_bias")
        super().__init__(input_size, hidden_size, return_sequences)

    def initial_biases(self, shape):
        b = initializers.zeros(shape)
        if self.unit_forget_bias:
            b[self.hidden_size : 2 * self.hidden_size] = 1.0
        return b

    def prepare(self, steps, batch, dtype):
        super().prepare(steps, batch, dtype)
        self.tanh_c = self.ops.empty((steps, batch, self.hidden_size), dtype)

    def step(self, t):
        xp, z = self.ops.xp, self.a[:, t]
        hs, cs = self.carried
        z += self.recurrent_product(t)
        xp.tanh(z, out=z)  # g, and tanh(x / 2) for the sigmoid gates (their columns were halved)
        self.sigmoid(z)
        i, f, o, g = z
        c, tanh_c = cs[t + 1], self.tanh_c[t]
        xp.multiply(f, cs[t], out=c)
        c += i * g
        xp.tanh(c, out=tanh_c)
        xp.multiply(o, tanh_c, out=hs[t + 1])
        if self.training:  # each gate's derivative while the gates are in cache: s(1 - s), 1 - g^2
            d = self.derivatives[:, t]
            xp.multiply(z, z, out=d)
            xp.subtract(z[:3], d[:3], out=d[:3])
            xp.subtract(1, d[3], out=d[3])

    def step_back(self, t, grads):
        xp = self.ops.xp
        dh, dc = grads
        (i, f, o, g), tanh_c, da = self.a[:, t], self.tanh_c[t], self.da[:, t]
        xp.multiply(dh, tanh_c, out=da[2])  # do
        carry = tanh_c * tanh_c  # dc += dh * o * (1 - tanh(c)^2)
        xp.subtract(1, carry, out=carry)
        carry *= o
        carry *= dh
        dc += carry
        xp.multiply(dc, g, out=da[0])  # di
        xp.multiply(dc, self.carried[1][t], out=da[1])  # df
        xp.multiply(dc, i, out=da[3])  # dg
        dc *= f
        da *= self.derivatives[:, t]
        return [self.back_through_u(t, da), dc]

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


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
    gates, order, sigmoids = 3, (0, 1, 2), slice(0, 2)

    def __init__(self, input_size: int, hidden_size: int, return_sequences=False) -> None:
        super().__init__(input_size, hidden_size, return_sequences)
        self.recurrent_biases = self.new_parameter("recurrent_biases", (3 * self.hidden_size,), initializers.zeros)

    def prepare(self, steps, batch, dtype):
        super().prepare(steps, batch, dtype)
        self.m = self.ops.empty((steps, batch, self.hidden_size), dtype)  # h_{t-1} U_n + c_n
        self.c = self.recurrent_biases.data.reshape(3, 1, -1)[list(self.order)] * self.half(dtype)

    def step(self, t):
        xp, a, hs, m = self.ops.xp, self.a[:, t], self.carried[0], self.m[t]
        e = self.recurrent_product(t)
        e += self.c
        m[...] = e[2]
        rz = a[:2]
        rz += e[:2]
        xp.tanh(rz, out=rz)
        self.sigmoid(a)
        r, z, n = a
        n += r * m
        xp.tanh(n, out=n)
        h = hs[t + 1]
        xp.subtract(hs[t], n, out=h)  # h_t = n + z * (h_{t-1} - n)
        h *= z
        h += n
        if self.training:  # r(1-r), z(1-z), 1-n^2 while the gates are in cache
            d = self.derivatives[:, t]
            xp.multiply(a, a, out=d)
            xp.subtract(rz, d[:2], out=d[:2])
            xp.subtract(1, d[2], out=d[2])

    def backward_through_time(self, dy, input_grad):
        self.de = self.ops.xp.empty_like(self.a)  # the gradients for U and c
        return super().backward_through_time(dy, input_grad)

    def step_back(self, t, grads):
        xp = self.ops.xp
        (dh,) = grads
        (r, z, n), d, da, de = self.a[:, t], self.derivatives[:, t], self.da[:, t], self.de[:, t]
        xp.subtract(1, z, out=da[2])  # dn = dh (1 - z) (1 - n^2)
        da[2] *= dh
        da[2] *= d[2]
        xp.subtract(self.carried[0][t], n, out=da[1])  # dz = dh (h_{t-1} - n) z (1 - z)
        da[1] *= dh
        da[1] *= d[1]
        xp.multiply(da[2], self.m[t], out=da[0])  # dr = dn m r (1 - r)
        da[0] *= d[0]
        de[:2] = da[:2]
        xp.multiply(da[2], r, out=de[2])
        dh_before = self.back_through_u(t, de)
        dh_before += dh * z
        return [dh_before]

    def recurrent_gradients(self, hs_t):
        order = list(self.order)
        du = self.ops.xp.matmul(hs_t, self.de[:, 1:].reshape(3, hs_t.shape[1], self.hidden_size))
        self.by_gate(self.recurrent_weights.grad)[order] += du
        de = self.de.reshape(3, -1, self.hidden_size)  # c's gradient: every step's, the first's too
        self.recurrent_biases.grad.reshape(3, -1)[order] += self.ops.xp.stack([self.ops.column_sums(g) for g in de])
