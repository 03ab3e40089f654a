"""A model written out as one plain NumPy file: ``model.eject("net.py")``.

The file holds, for this model only, the classes of its layers (each with ``forward(inputs, training)`` and
``backward(dvalues)``, as in the book *Neural Networks from Scratch*), its loss and its optimizer, the list of
its layers made from the weights in ``net.npz`` beside it, and two functions:

    predict(x)          the model's outputs, as ``model.predict(x)``
    train_step(x, y)    one step of the compiled optimizer on the batch, as ``model.train_on_batch(x, y)``;
                        the loss. The optimizer's state starts fresh in the file.

Each kind of layer, loss and optimizer has a template below: the plain formula, written as the library's own
kernels compute it (the same order of operations where that costs no clarity), so that the file's numbers are
the model's. A layer without a template is refused by name, before anything is written.
"""

from __future__ import annotations

import io
import os
import textwrap

import numpy as np

from . import checks, losses, optimizers, saving, version
from .layers import activations, conv, dense, dropout, embedding, flatten, gru, lstm, normalization, pooling, simple_rnn

# -- the templates: what the file says for each kind ------------------------------------------------------------
# Each is a piece of the file, named; a piece may need others (helpers) written before it.

HELPERS = {
    "sigmoid": '''
def sigmoid(x):
    """1 / (1 + exp(-x)), written so that it never overflows."""
    return 0.5 * (1 + np.tanh(0.5 * x))
''',
    "windows": '''
def windows(images, size, stride, dilation=(1, 1)):
    """Every window of images (batch, h, w, c) as (batch, out_h, out_w, k_h * k_w, c):
    element (u, v) of each window is images[:, i * s + u * d, j * s + v * d]."""
    (k_h, k_w), (s_h, s_w), (d_h, d_w) = size, stride, dilation
    out_h = (images.shape[1] - d_h * (k_h - 1) - 1) // s_h + 1
    out_w = (images.shape[2] - d_w * (k_w - 1) - 1) // s_w + 1
    rows = [slice(u * d_h, u * d_h + s_h * (out_h - 1) + 1, s_h) for u in range(k_h)]
    cols = [slice(v * d_w, v * d_w + s_w * (out_w - 1) + 1, s_w) for v in range(k_w)]
    return np.stack([images[:, r, c] for r in rows for c in cols], axis=3)


def add_windows(dwindows, shape, size, stride, dilation=(1, 1)):
    """The reverse of windows: each window's gradient added back onto images of shape."""
    (k_h, k_w), (s_h, s_w), (d_h, d_w) = size, stride, dilation
    out_h, out_w = dwindows.shape[1:3]
    dimages = np.zeros(shape, dtype=dwindows.dtype)
    for k in range(k_h * k_w):
        u, v = divmod(k, k_w)
        r = slice(u * d_h, u * d_h + s_h * (out_h - 1) + 1, s_h)
        c = slice(v * d_w, v * d_w + s_w * (out_w - 1) + 1, s_w)
        dimages[:, r, c] += dwindows[:, :, :, k]
    return dimages
''',
}

LAYERS = {
    "Dense": '''
class Dense:
    """Fully connected: z = x @ W + b.
    Backward: dW = x.T @ dz, db = sum over the batch of dz, dx = dz @ W.T."""

    parameters = ("weights", "biases")

    def __init__(self, weights, biases):
        self.weights = weights  # (n_inputs, n_neurons)
        self.biases = biases  # (n_neurons,)

    def forward(self, inputs, training):  # (batch, n_inputs) -> (batch, n_neurons)
        self.inputs = inputs
        z = inputs @ self.weights
        z += self.biases
        return z

    def backward(self, dvalues):
        n_inputs, n_neurons = self.weights.shape
        x, dz = self.inputs.reshape(-1, n_inputs), dvalues.reshape(-1, n_neurons)
        self.dweights = x.T @ dz
        self.dbiases = dz.sum(axis=0)
        return dvalues @ self.weights.T
''',
    "Conv2D": '''
class Conv2D:
    """2-D convolution of channels-last images, as one product (im2col):
    z[b, i, j, f] = sum over u, v, c of x_pad[b, i*s + u*d, j*s + v*d, c] * W[u, v, c, f] + bias[f].
    Backward: dW = cols.T @ dz, dbias = sum of dz, dx = the windows of dz @ W.T added back."""

    parameters = ("weights", "biases")

    def __init__(self, weights, biases, stride, dilation, padding):
        self.weights = weights  # (k_h, k_w, in_channels, out_channels)
        self.biases = biases  # (out_channels,)
        self.stride, self.dilation = stride, dilation
        self.padding = padding  # ((top, bottom), (left, right))

    def forward(self, inputs, training):  # (batch, h, w, in) -> (batch, out_h, out_w, out)
        k_h, k_w, _, out_channels = self.weights.shape
        self.padded = np.pad(inputs, ((0, 0), *self.padding, (0, 0)))
        cols = windows(self.padded, (k_h, k_w), self.stride, self.dilation)
        self.image = cols.shape[:3]  # (batch, out_h, out_w)
        self.cols = cols.reshape(-1, cols.shape[3] * cols.shape[4])  # (pixels, k_h * k_w * in)
        z = self.cols @ self.weights.reshape(-1, out_channels)  # (pixels, out)
        z += self.biases
        return z.reshape(*self.image, out_channels)

    def backward(self, dvalues):
        k_h, k_w, in_channels, out_channels = self.weights.shape
        dz = dvalues.reshape(-1, out_channels)  # (pixels, out)
        self.dweights = (self.cols.T @ dz).reshape(self.weights.shape)
        self.dbiases = dz.sum(axis=0)
        dcols = dz @ self.weights.reshape(-1, out_channels).T  # (pixels, k_h * k_w * in)
        dcols = dcols.reshape(*self.image, k_h * k_w, in_channels)
        dpadded = add_windows(dcols, self.padded.shape, (k_h, k_w), self.stride, self.dilation)
        (top, bottom), (left, right) = self.padding
        return dpadded[:, top : dpadded.shape[1] - bottom, left : dpadded.shape[2] - right]
''',
    "MaxPool2D": '''
class MaxPool2D:
    """The largest value of each window.  Backward: dy goes to the window's (first) largest."""

    parameters = ()

    def __init__(self, size, stride):
        self.size, self.stride = size, stride

    def forward(self, inputs, training):  # (batch, h, w, c) -> (batch, out_h, out_w, c)
        self.shape = inputs.shape
        self.windows = windows(inputs, self.size, self.stride)  # (batch, out_h, out_w, k, c)
        return self.windows.max(axis=3)

    def backward(self, dvalues):
        first = self.windows.argmax(axis=3)[:, :, :, None]  # where each maximum is
        k = np.arange(self.windows.shape[3])[:, None]
        dwindows = (k == first) * dvalues[:, :, :, None]
        return add_windows(dwindows, self.shape, self.size, self.stride)
''',
    "AvgPool2D": '''
class AvgPool2D:
    """The mean of each window.  Backward: each element of a window gets dy / window size."""

    parameters = ()

    def __init__(self, size, stride):
        self.size, self.stride = size, stride

    def forward(self, inputs, training):  # (batch, h, w, c) -> (batch, out_h, out_w, c)
        self.shape = inputs.shape
        return windows(inputs, self.size, self.stride).mean(axis=3)

    def backward(self, dvalues):
        k = self.size[0] * self.size[1]
        dwindows = np.repeat((dvalues * (1.0 / k))[:, :, :, None], k, axis=3)
        return add_windows(dwindows, self.shape, self.size, self.stride)
''',
    "GlobalMaxPool": '''
class GlobalMaxPool:
    """y[b, c] = the largest x[b, ..., c].  Backward: dy goes to the (first) largest."""

    parameters = ()

    def forward(self, inputs, training):  # (batch, ..., c) -> (batch, c)
        self.shape = inputs.shape
        self.flat = inputs.reshape(inputs.shape[0], -1, inputs.shape[-1])  # (batch, positions, c)
        return self.flat.max(axis=1)

    def backward(self, dvalues):
        first = self.flat.argmax(axis=1)  # (batch, c)
        dflat = np.zeros_like(self.flat)
        b, c = np.indices(first.shape)
        dflat[b, first, c] = dvalues
        return dflat.reshape(self.shape)
''',
    "GlobalAvgPool": '''
class GlobalAvgPool:
    """y[b, c] = the mean of x[b, ..., c].  Backward: dx = dy / positions, everywhere."""

    parameters = ()

    def forward(self, inputs, training):  # (batch, ..., c) -> (batch, c)
        self.shape = inputs.shape
        return inputs.reshape(inputs.shape[0], -1, inputs.shape[-1]).mean(axis=1)

    def backward(self, dvalues):
        positions = int(np.prod(self.shape[1:-1]))
        share = (dvalues * (1.0 / positions))[:, None, :]
        return np.broadcast_to(share, (len(dvalues), positions, dvalues.shape[1])).reshape(self.shape)
''',
    "Flatten": '''
class Flatten:
    """Each sample as one vector.  Backward: the gradient in the input's shape."""

    parameters = ()

    def forward(self, inputs, training):  # (batch, ...) -> (batch, features)
        self.shape = inputs.shape
        return inputs.reshape(len(inputs), -1)

    def backward(self, dvalues):
        return dvalues.reshape(self.shape)
''',
    "Dropout": '''
class Dropout:
    """Inverted dropout: in training, y = x * mask, mask ~ Bernoulli(1 - rate) / (1 - rate);
    in predict, y = x.  Backward: dx = dy * mask.
    The masks come from this file's own generator (seed 0), not neuronet's."""

    parameters = ()

    def __init__(self, rate):
        self.rate = rate
        self.rng = np.random.default_rng(0)

    def forward(self, inputs, training):
        if not training:
            self.mask = 1.0
            return inputs
        keep = self.rng.random(inputs.shape, dtype=inputs.dtype) >= self.rate
        self.mask = keep * inputs.dtype.type(1.0 / (1.0 - self.rate))
        return inputs * self.mask

    def backward(self, dvalues):
        return dvalues * self.mask
''',
    "BatchNormalization": '''
class BatchNormalization:
    """Each feature normalised over the batch, then scaled and shifted:
    x_hat = (x - mean) / sqrt(var + eps),  y = gamma * x_hat + beta
    (in predict, the running mean and variance in place of the batch's).
    Backward: dgamma = sum(dy * x_hat), dbeta = sum(dy),
    dx = gamma / sqrt(var + eps) * (dy - mean(dy) - x_hat * mean(dy * x_hat))."""

    parameters = ("gamma", "beta")

    def __init__(self, gamma, beta, running_mean, running_var, momentum, epsilon):
        self.gamma, self.beta = gamma, beta  # (features,)
        self.running_mean, self.running_var = running_mean, running_var  # (features,)
        self.momentum, self.epsilon = momentum, epsilon

    def forward(self, inputs, training):  # (batch, ..., features), the same shape out
        if not training:
            scale = self.gamma * (1.0 / np.sqrt(self.running_var + self.epsilon))
            return inputs * scale + (self.beta - self.running_mean * scale)
        x = inputs.reshape(-1, inputs.shape[-1])
        m = len(x)
        mean = x.sum(axis=0) / m
        self.centred = inputs - mean
        var = (self.centred * self.centred).reshape(-1, x.shape[1]).sum(axis=0) / m
        keep = self.momentum  # the running statistics: var unbiased, as PyTorch's
        self.running_mean[...] = keep * self.running_mean + (1 - keep) * mean
        self.running_var[...] = keep * self.running_var + (1 - keep) * var * (m / (m - 1))
        self.inv_std = 1.0 / np.sqrt(var + self.epsilon)
        return self.centred * (self.gamma * self.inv_std) + self.beta

    def backward(self, dvalues):
        n = dvalues.shape[-1]
        m = dvalues.size // n
        sum_dy = dvalues.reshape(-1, n).sum(axis=0)
        sum_dy_x_hat = (dvalues * self.centred).reshape(-1, n).sum(axis=0) * self.inv_std
        self.dgamma, self.dbeta = sum_dy_x_hat, sum_dy
        scale = self.gamma * self.inv_std
        dx = dvalues * scale + (-scale * sum_dy / m)
        return dx + self.centred * (-scale * self.inv_std * sum_dy_x_hat / m)
''',
    "Embedding": '''
class Embedding:
    """y[b, t] = W[ids[b, t]], a learned vector per token id.
    Backward: dW[v] = the sum of dy where ids == v; the ids get no gradient."""

    parameters = ("weights",)

    def __init__(self, weights, padding_id=None):
        self.weights = weights  # (vocab_size, embedding_dim)
        self.padding_id = padding_id  # a row that learns nothing

    def forward(self, inputs, training):  # ids (batch, length) -> (batch, length, dim)
        self.ids = np.asarray(inputs).astype(np.int64)
        return self.weights[self.ids]

    def backward(self, dvalues):
        self.dweights = np.zeros_like(self.weights)
        np.add.at(self.dweights, self.ids.reshape(-1), dvalues.reshape(-1, self.weights.shape[1]))
        if self.padding_id is not None:
            self.dweights[self.padding_id] = 0.0
''',
    "SimpleRNN": '''
class SimpleRNN:
    """The plain recurrent cell, h_0 = 0:  h_t = act(x_t W + h_{t-1} U + b).
    Backward, last step first: da_t = (dh_t + da_{t+1} U^T) * act'(.);
    dW = sum x_t^T da_t, dU = sum h_{t-1}^T da_t, db = sum da_t, dx_t = da_t W^T."""

    parameters = ("input_weights", "recurrent_weights", "biases")

    def __init__(self, input_weights, recurrent_weights, biases, activation, return_sequences):
        self.input_weights = input_weights  # (features, hidden)
        self.recurrent_weights = recurrent_weights  # (hidden, hidden)
        self.biases = biases  # (hidden,)
        self.activation, self.return_sequences = activation, return_sequences

    def forward(self, inputs, training):  # (batch, time, features) -> (batch, hidden)
        self.inputs = inputs
        h = np.zeros((len(inputs), len(self.recurrent_weights)), dtype=inputs.dtype)
        self.hs = [h]  # h_0, h_1, ..., h_T: (batch, hidden) each
        for t in range(inputs.shape[1]):
            z = inputs[:, t] @ self.input_weights + h @ self.recurrent_weights + self.biases
            h = np.tanh(z) if self.activation == "tanh" else np.maximum(z, 0)
            self.hs.append(h)
        return np.stack(self.hs[1:], axis=1) if self.return_sequences else h

    def backward(self, dvalues):
        steps = self.inputs.shape[1]
        self.dinput_weights = np.zeros_like(self.input_weights)
        self.drecurrent_weights = np.zeros_like(self.recurrent_weights)
        self.dbiases = np.zeros_like(self.biases)
        dinputs = np.zeros_like(self.inputs)
        dh = np.zeros_like(self.hs[0])  # the gradient reaching h_t from step t + 1
        for t in reversed(range(steps)):
            if self.return_sequences:
                dh = dh + dvalues[:, t]
            elif t == steps - 1:
                dh = dh + dvalues
            h = self.hs[t + 1]
            da = dh * ((1 - h * h) if self.activation == "tanh" else (h > 0))
            self.dinput_weights += self.inputs[:, t].T @ da
            self.drecurrent_weights += self.hs[t].T @ da
            self.dbiases += da.sum(axis=0)
            dinputs[:, t] = da @ self.input_weights.T
            dh = da @ self.recurrent_weights.T
        return dinputs
''',
    "LSTM": '''
class LSTM:
    """Long short-term memory, gates i, f, g, o side by side in W, U and b; h_0 = c_0 = 0:
    [i f g o] = x_t W + h_{t-1} U + b,  i, f, o = sigmoid(.), g = tanh(.)
    c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t).
    Backward, last step first (dh, dc: the gradients reaching h_t and c_t):
    do = dh * tanh(c_t), dc += dh * o * (1 - tanh(c_t)^2), di = dc * g, df = dc * c_{t-1},
    dg = dc * i, dc_{t-1} = dc * f; dz = [di df dg do] times each gate's derivative,
    dh_{t-1} = dz U^T; dW = sum x_t^T dz, dU = sum h_{t-1}^T dz, db = sum dz, dx_t = dz W^T."""

    parameters = ("input_weights", "recurrent_weights", "biases")

    def __init__(self, input_weights, recurrent_weights, biases, return_sequences):
        self.input_weights = input_weights  # (features, 4 * hidden)
        self.recurrent_weights = recurrent_weights  # (hidden, 4 * hidden)
        self.biases = biases  # (4 * hidden,)
        self.return_sequences = return_sequences

    def forward(self, inputs, training):  # (batch, time, features) -> (batch, hidden)
        self.inputs = inputs
        h = np.zeros((len(inputs), len(self.recurrent_weights)), dtype=inputs.dtype)
        c = np.zeros_like(h)
        self.steps, outputs = [], []
        for t in range(inputs.shape[1]):
            z = inputs[:, t] @ self.input_weights + h @ self.recurrent_weights + self.biases
            i, f, g, o = np.split(z, 4, axis=1)  # (batch, hidden) each
            i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
            h_before, c_before = h, c
            c = f * c + i * g
            tanh_c = np.tanh(c)
            h = o * tanh_c
            self.steps.append((h_before, c_before, i, f, g, o, tanh_c))  # what backward needs
            outputs.append(h)
        return np.stack(outputs, axis=1) if self.return_sequences else h

    def backward(self, dvalues):
        steps = len(self.steps)
        self.dinput_weights = np.zeros_like(self.input_weights)
        self.drecurrent_weights = np.zeros_like(self.recurrent_weights)
        self.dbiases = np.zeros_like(self.biases)
        dinputs = np.zeros_like(self.inputs)
        dh = np.zeros_like(self.steps[0][0])
        dc = np.zeros_like(dh)
        for t in reversed(range(steps)):
            if self.return_sequences:
                dh = dh + dvalues[:, t]
            elif t == steps - 1:
                dh = dh + dvalues
            h_before, c_before, i, f, g, o, tanh_c = self.steps[t]
            do = dh * tanh_c
            dc = dc + dh * o * (1 - tanh_c * tanh_c)
            di, df, dg = dc * g, dc * c_before, dc * i
            dc = dc * f
            dz = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g * g), do * o * (1 - o)], axis=1)
            self.dinput_weights += self.inputs[:, t].T @ dz
            self.drecurrent_weights += h_before.T @ dz
            self.dbiases += dz.sum(axis=0)
            dinputs[:, t] = dz @ self.input_weights.T
            dh = dz @ self.recurrent_weights.T
        return dinputs
''',
    "GRU": '''
class GRU:
    """Gated recurrent unit (as torch.nn.GRU), gates r, z, n side by side; h_0 = 0:
    [r z] = sigmoid(x_t W_rz + b_rz + h_{t-1} U_rz + c_rz),  m = h_{t-1} U_n + c_n,
    n = tanh(x_t W_n + b_n + r * m),  h_t = n + z * (h_{t-1} - n).
    Backward, last step first (dh: the gradient reaching h_t):
    dn = dh (1 - z)(1 - n^2), dz = dh (h_{t-1} - n) z (1 - z), dr = dn m r (1 - r);
    da = [dr dz dn] for W and b, de = [dr dz dn * r] for U and c, dh_{t-1} = dh z + de U^T."""

    parameters = ("input_weights", "recurrent_weights", "biases", "recurrent_biases")

    def __init__(self, input_weights, recurrent_weights, biases, recurrent_biases, return_sequences):
        self.input_weights = input_weights  # (features, 3 * hidden)
        self.recurrent_weights = recurrent_weights  # (hidden, 3 * hidden)
        self.biases, self.recurrent_biases = biases, recurrent_biases  # (3 * hidden,) each
        self.return_sequences = return_sequences

    def forward(self, inputs, training):  # (batch, time, features) -> (batch, hidden)
        self.inputs = inputs
        h = np.zeros((len(inputs), len(self.recurrent_weights)), dtype=inputs.dtype)
        self.steps, outputs = [], []
        for t in range(inputs.shape[1]):
            a_r, a_z, a_n = np.split(inputs[:, t] @ self.input_weights + self.biases, 3, axis=1)
            e_r, e_z, m = np.split(h @ self.recurrent_weights + self.recurrent_biases, 3, axis=1)
            r, z = sigmoid(a_r + e_r), sigmoid(a_z + e_z)
            n = np.tanh(a_n + r * m)
            self.steps.append((h, r, z, n, m))
            h = n + z * (h - n)
            outputs.append(h)
        return np.stack(outputs, axis=1) if self.return_sequences else h

    def backward(self, dvalues):
        steps = len(self.steps)
        self.dinput_weights = np.zeros_like(self.input_weights)
        self.drecurrent_weights = np.zeros_like(self.recurrent_weights)
        self.dbiases = np.zeros_like(self.biases)
        self.drecurrent_biases = np.zeros_like(self.recurrent_biases)
        dinputs = np.zeros_like(self.inputs)
        dh = np.zeros_like(self.steps[0][0])
        for t in reversed(range(steps)):
            if self.return_sequences:
                dh = dh + dvalues[:, t]
            elif t == steps - 1:
                dh = dh + dvalues
            h_before, r, z, n, m = self.steps[t]
            dn = dh * (1 - z) * (1 - n * n)
            dz = dh * (h_before - n) * z * (1 - z)
            dr = dn * m * r * (1 - r)
            da = np.concatenate([dr, dz, dn], axis=1)
            de = np.concatenate([dr, dz, dn * r], axis=1)
            self.dinput_weights += self.inputs[:, t].T @ da
            self.dbiases += da.sum(axis=0)
            self.drecurrent_weights += h_before.T @ de
            self.drecurrent_biases += de.sum(axis=0)
            dinputs[:, t] = da @ self.input_weights.T
            dh = dh * z + de @ self.recurrent_weights.T
        return dinputs
''',
    "ReLU": '''
class ReLU:
    """y = max(x, 0).  Backward: dx = dy where x > 0, else 0."""

    parameters = ()

    def forward(self, inputs, training):
        self.output = np.maximum(inputs, 0)
        return self.output

    def backward(self, dvalues):
        return dvalues * (self.output > 0)
''',
    "LeakyReLU": '''
class LeakyReLU:
    """y = x where x > 0, else alpha * x.  Backward: dx = dy, or alpha * dy."""

    parameters = ()

    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, inputs, training):
        self.positive = inputs > 0
        return np.where(self.positive, inputs, self.alpha * inputs)

    def backward(self, dvalues):
        return np.where(self.positive, dvalues, self.alpha * dvalues)
''',
    "Sigmoid": '''
class Sigmoid:
    """y = 1 / (1 + exp(-x)).  Backward: dx = dy * y * (1 - y)."""

    parameters = ()

    def forward(self, inputs, training):
        self.output = sigmoid(inputs)
        return self.output

    def backward(self, dvalues):
        return dvalues * self.output * (1 - self.output)
''',
    "Tanh": '''
class Tanh:
    """y = tanh(x).  Backward: dx = dy * (1 - y^2)."""

    parameters = ()

    def forward(self, inputs, training):
        self.output = np.tanh(inputs)
        return self.output

    def backward(self, dvalues):
        return dvalues * (1 - self.output * self.output)
''',
    "Softmax": '''
class Softmax:
    """y_i = exp(x_i - max x) / sum_j exp(x_j - max x), over the last axis.
    Backward: dx = y * (dy - sum_j dy_j y_j)."""

    parameters = ()

    def forward(self, inputs, training):
        e = np.exp(inputs - inputs.max(axis=-1, keepdims=True))
        self.output = e / e.sum(axis=-1, keepdims=True)
        return self.output

    def backward(self, dvalues):
        y = self.output
        return y * (dvalues - (dvalues * y).sum(axis=-1, keepdims=True))
''',
}
NEEDS = {  # the helpers a template calls
    "Conv2D": ("windows",), "MaxPool2D": ("windows",), "AvgPool2D": ("windows",),
    "Sigmoid": ("sigmoid",), "LSTM": ("sigmoid",), "GRU": ("sigmoid",),
    "BinaryCrossentropy": ("sigmoid",),
}  # fmt: skip

LOSSES = {
    "CategoricalCrossentropy": '''
class CategoricalCrossentropy:
    """L = -mean over rows of sum_k y_k log p_k (a row: the classes of one prediction);
    y as labels (one per row) or one-hot rows.  Backward: dL/dp = -y / (p * rows).
    After a softmax, the gradient with respect to the scores before it is simply
    (p - y) / rows: train_step uses that and skips the softmax's backward."""

    def forward(self, probs, y):
        p, y = rows(probs, y)
        p = np.clip(p, 1e-7, 1 - 1e-7)  # so that log never sees 0
        if y.ndim == 1:
            return float(-np.log(p[np.arange(len(p)), y]).mean())
        return float(-(y * np.log(p)).sum(axis=1).mean())

    def backward(self, probs, y):
        p, y = rows(probs, y)
        p = np.clip(p, 1e-7, 1 - 1e-7)
        if y.ndim == 1:
            y = np.eye(p.shape[1], dtype=p.dtype)[y]
        return (-y / (p * len(p))).reshape(probs.shape)

    def backward_through_softmax(self, probs, y):
        p, y = rows(probs, y)
        dscores = p.copy()
        if y.ndim == 1:
            dscores[np.arange(len(p)), y] -= 1
        else:
            dscores *= y.sum(axis=1, keepdims=True)
            dscores -= y
        dscores *= 1.0 / len(p)
        return dscores.reshape(probs.shape)


def rows(probs, y):
    """The predictions as rows (n, classes); y as n integer labels or n one-hot rows."""
    classes = probs.shape[-1]
    y = np.asarray(y)
    if y.shape == probs.shape:
        return probs.reshape(-1, classes), y.reshape(-1, classes).astype(probs.dtype)
    return probs.reshape(-1, classes), y.reshape(-1).astype(np.int64)
''',
    "BinaryCrossentropy": '''
class BinaryCrossentropy:
    """L = -mean(y log p + (1 - y) log(1 - p)).  Backward: dL/dp = (p - y) / (p (1 - p) N),
    N = all elements.  After a sigmoid, the gradient with respect to the scores before it is
    simply (p - y) / N: train_step uses that and skips the sigmoid's backward."""

    def forward(self, probs, y):
        y = targets(probs, y)
        p = np.clip(probs, 1e-7, 1 - 1e-7)  # so that log never sees 0
        return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())

    def backward(self, probs, y):
        p = np.clip(probs, 1e-7, 1 - 1e-7)
        return (p - targets(probs, y)) / (p * (1 - p)) * (1.0 / probs.size)

    def backward_through_sigmoid(self, probs, y):
        return (probs - targets(probs, y)) * (1.0 / probs.size)
''',
    "MeanSquaredError": '''
class MeanSquaredError:
    """L = mean((y_pred - y)^2).  Backward: dL/dy_pred = 2 (y_pred - y) / N, N = all elements."""

    def forward(self, y_pred, y):
        d = y_pred - targets(y_pred, y)
        return float(np.vdot(d, d)) / d.size

    def backward(self, y_pred, y):
        return (y_pred - targets(y_pred, y)) * (2.0 / y_pred.size)
''',
}
TARGETS = '''
def targets(y_pred, y):
    """y as floats shaped as the predictions (a column of one value per sample reshaped)."""
    return np.asarray(y, dtype=y_pred.dtype).reshape(y_pred.shape)
'''

OPTIMIZERS = {
    "SGD": '''
class SGD:
    """Stochastic gradient descent with momentum: v = momentum * v + g, w -= lr * v
    (v starts at 0; Nesterov: w -= lr * (g + momentum * v); no momentum: w -= lr * g)."""

    def __init__(self, learning_rate, momentum=0.0, nesterov=False):
        self.learning_rate, self.momentum, self.nesterov = learning_rate, momentum, nesterov
        self.velocities = None

    def update(self, params):
        if self.velocities is None:
            self.velocities = [np.zeros_like(w) for w, _ in params]
        for (w, g), v in zip(params, self.velocities):
            if not self.momentum:
                w -= g * self.learning_rate
                continue
            v[...] = self.momentum * v + g
            w -= (g + self.momentum * v if self.nesterov else v) * self.learning_rate
''',
    "RMSprop": '''
class RMSprop:
    """s = rho * s + (1 - rho) * g^2,  w -= lr * g / (sqrt(s) + epsilon); s starts at 0."""

    def __init__(self, learning_rate, rho, epsilon):
        self.learning_rate, self.rho, self.epsilon = learning_rate, rho, epsilon
        self.squares = None

    def update(self, params):
        if self.squares is None:
            self.squares = [np.zeros_like(w) for w, _ in params]
        for (w, g), s in zip(params, self.squares):
            s[...] = self.rho * s + (1 - self.rho) * (g * g)
            w -= g / (np.sqrt(s) + self.epsilon) * self.learning_rate
''',
    "Adagrad": '''
class Adagrad:
    """s += g^2,  w -= lr * g / (sqrt(s) + epsilon); s starts at initial_accumulator_value."""

    def __init__(self, learning_rate, epsilon, initial_accumulator_value):
        self.learning_rate, self.epsilon = learning_rate, epsilon
        self.initial = initial_accumulator_value
        self.sums = None

    def update(self, params):
        if self.sums is None:
            self.sums = [np.full_like(w, self.initial) for w, _ in params]
        for (w, g), s in zip(params, self.sums):
            s += g * g
            w -= g / (np.sqrt(s) + self.epsilon) * self.learning_rate
''',
    "Adam": '''
class Adam:
    """Adaptive moments, with bias correction at step t = 1, 2, ...:
    m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2  (both start at 0),
    w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + epsilon)
    (AdamW: first w *= 1 - lr * weight_decay.)"""

    def __init__(self, learning_rate, beta_1, beta_2, epsilon, weight_decay=0.0):
        self.learning_rate, self.beta_1, self.beta_2 = learning_rate, beta_1, beta_2
        self.epsilon, self.weight_decay = epsilon, weight_decay
        self.t, self.m, self.v = 0, None, None

    def update(self, params):
        if self.m is None:
            self.m = [np.zeros_like(w) for w, _ in params]
            self.v = [np.zeros_like(w) for w, _ in params]
        self.t += 1
        step = self.learning_rate / (1 - self.beta_1**self.t)
        root = 1 / np.sqrt(1 - self.beta_2**self.t)
        for (w, g), m, v in zip(params, self.m, self.v):
            if self.weight_decay:
                w *= 1 - self.learning_rate * self.weight_decay
            m[...] = self.beta_1 * m + (1 - self.beta_1) * g
            v[...] = self.beta_2 * v + (1 - self.beta_2) * (g * g)
            w -= m / (np.sqrt(v) * root + self.epsilon) * step
''',
}

RUN = '''

def parameters(layers):
    """Every (array, gradient) pair of the network, in order; the arrays are updated in place."""
    return [(getattr(layer, name), getattr(layer, "d" + name)) for layer in layers for name in layer.parameters]


def predict(x):
    """The network's outputs for a batch x: every layer's forward pass, in inference mode."""
    outputs = {cast}
    for layer in layers:
        outputs = layer.forward(outputs, training=False)
    return outputs


def train_step(x, y):
    """One step of {optimizer} on the batch (x, y): forward, loss, backward, update. Returns the loss."""
    outputs = {cast}
    for layer in layers:
        outputs = layer.forward(outputs, training=True)
    loss = loss_function.forward(outputs, y)
{backward}
    optimizer.update(parameters(layers))
    return loss
'''


class Piece:
    """One object of the file's list of layers: its template's name, the call that makes it, its shapes."""

    def __init__(self, kind: str, call: str, shapes: str) -> None:
        self.kind, self.call, self.shapes = kind, call, shapes


WIDTH = 100  # the file's longest line: within ruff's limits, the repository's (120) and its own (88) less so


def listed(piece: Piece) -> str:
    """The piece's line in the list of layers, its shapes as a comment (lines broken where they would be long)."""
    line = f"    {piece.call},  # {piece.shapes}"
    if len(line) <= WIDTH:
        return line
    name, args = piece.call.split("(", 1)
    call = f"    {piece.call},"
    if len(call) > WIDTH:  # one argument a line (top-level commas only: the arguments hold tuples)
        parts, depth, start = [], 0, 0
        for i, ch in enumerate(args[:-1]):
            depth += (ch in "([") - (ch in ")]")
            if ch == "," and depth == 0:
                parts.append(args[start:i].strip())
                start = i + 1
        parts.append(args[start:-1].strip())
        call = f"    {name}(\n" + "".join(f"        {part},\n" for part in parts) + "    ),"
    return f"    # {piece.shapes}\n{call}"


def eject(model, path) -> str:
    """Write ``model`` as a plain NumPy file at ``path`` (``.py``) and its weights beside it (the same name with
    ``.npz``); return the path. See the module's docstring."""
    path = os.fspath(path)
    if not isinstance(path, str) or not path.endswith(".py"):
        raise checks.ArgumentError(f"eject writes a Python file: give a path ending in .py, got {path!r}")
    if model.optimizer is None or not model.losses:
        raise RuntimeError("eject writes the model's training step too: compile the model first")
    layers = chain(model)
    shape = model.known_input_shape()
    if shape is None or not all(layer.built for layer in layers):
        raise RuntimeError(
            "eject needs the model's input shape: give it (nn.Input(shape=...), or Sequential(..., "
            "input_shape=...)), or call model.predict on one batch first"
        )
    pieces, weights = [], {}
    for layer in layers:
        refuse_penalties(layer)
        out = tuple(layer.output_shape(shape))
        for piece in pieces_of(layer, shape, out, layers):
            pieces.append(piece)
        weights.update({f"{layer.name}.{name}": model.ops.to_numpy(a) for name, a in layer.named_arrays().items()})
        shape = out
    text = source(model, pieces, layers, os.path.basename(path))
    buffer = io.BytesIO()
    np.savez(buffer, **weights)
    saving.atomic_write_bytes(path[: -len(".py")] + ".npz", buffer.getvalue())
    saving.atomic_write_bytes(path, text.encode())
    return path


def chain(model) -> list:
    """The model's layers, refused unless they make one chain from one input to one output."""
    graph = model.graph
    nodes = graph.nodes
    in_a_row = all(parents == (i - 1,) for i, parents in enumerate(graph.parents[1:], 1))
    if len(graph.inputs) != 1 or len(graph.outputs) != 1 or not in_a_row:
        raise NotImplementedError(
            "eject writes models whose layers form one chain (a Sequential); this graph model, with merges, "
            "several inputs or outputs, cannot be ejected yet"
        )
    layers = [node.layer for node in nodes[1:]]
    if len({id(layer) for layer in layers}) != len(layers):
        raise NotImplementedError("a layer called twice (shared weights) cannot be ejected yet")
    return layers


def refuse_penalties(layer) -> None:
    """A NotImplementedError for a layer with an L1/L2 penalty (the file has no template for them yet)."""
    if any(p.regularizer for p in layer.parameters()):
        raise NotImplementedError(
            f"layer '{layer.name}' has an L1/L2 penalty, which eject cannot write yet: compile a copy without it"
        )


def weight(layer, name: str) -> str:
    """How the file reads one of ``layer``'s arrays from its .npz."""
    return f'WEIGHTS["{layer.name}.{name}"]'


def shape_text(shape) -> str:
    """A shape as the file's comments write it: (batch, 28, 28, 1)."""
    return "(" + ", ".join("batch" if d is None else str(d) for d in shape) + ")"


ACTIVATIONS = {activations.ReLU: "ReLU", activations.Sigmoid: "Sigmoid", activations.Tanh: "Tanh",
               activations.Softmax: "Softmax", activations.LeakyReLU: "LeakyReLU"}  # fmt: skip


def activation_piece(act, shape: str, owner) -> Piece:
    """The piece of an activation (``owner``: the layer it belongs to, named if it cannot be written)."""
    kind = ACTIVATIONS.get(type(act))
    if kind is None:
        raise NotImplementedError(
            f"layer '{owner.name}': the activation {act.default_name!r} cannot be ejected yet; eject writes "
            f"{', '.join(sorted(ACTIVATIONS.values()))}"
        )
    call = f"LeakyReLU({act.alpha!r})" if kind == "LeakyReLU" else f"{kind}()"
    return Piece(kind, call, shape)


def pieces_of(layer, shape: tuple, out: tuple, layers: list) -> list[Piece]:
    """What the file's list of layers holds for ``layer`` (a weighted layer and its activation: two)."""
    kind, shapes = type(layer), f"{shape_text(shape)} -> {shape_text(out)}"
    if kind is dense.Dense or kind is conv.Conv2D:
        if kind is dense.Dense:
            call = f"Dense({weight(layer, 'weights')}, {weight(layer, 'biases')})"
        else:
            pads = layer.padding_for(shape[1], shape[2])
            call = (
                f"Conv2D({weight(layer, 'weights')}, {weight(layer, 'biases')}, stride={layer.stride}, "
                f"dilation={layer.dilation}, padding={pads})"
            )
        made = [Piece(kind.__name__, call, shapes)]
        if layer.activation is not None:
            made.append(activation_piece(layer.activation, shape_text(out), layer))
        return made
    if isinstance(layer, activations.Activation) and kind in ACTIVATIONS:
        return [activation_piece(layer, shape_text(out), layer)]
    if kind in (pooling.MaxPool2D, pooling.AvgPool2D):
        return [Piece(kind.__name__, f"{kind.__name__}(size={layer.pool}, stride={layer.stride})", shapes)]
    if kind in (pooling.GlobalMaxPool2D, pooling.GlobalMaxPool1D):
        return [Piece("GlobalMaxPool", "GlobalMaxPool()", shapes)]
    if kind in (pooling.GlobalAvgPool2D, pooling.GlobalAvgPool1D):
        return [Piece("GlobalAvgPool", "GlobalAvgPool()", shapes)]
    if kind is flatten.Flatten:
        return [Piece("Flatten", "Flatten()", shapes)]
    if kind is dropout.Dropout:
        return [Piece("Dropout", f"Dropout({layer.rate!r})", shapes)]
    if kind is normalization.BatchNormalization:
        names = ", ".join(weight(layer, n) for n in ("gamma", "beta", "running_mean", "running_var"))
        call = f"BatchNormalization({names}, momentum={layer.momentum!r}, epsilon={layer.epsilon!r})"
        return [Piece("BatchNormalization", call, shapes)]
    if kind is embedding.Embedding:
        if layer.padding_id is not None and any(later.takes_mask for later in layers):
            raise NotImplementedError(
                f"layer '{layer.name}' (Embedding) has a padding_id, whose mask the recurrent layers after it "
                "read: masks cannot be ejected yet; eject a copy with padding_id=None"
            )
        padding = "" if layer.padding_id is None else f", padding_id={layer.padding_id}"
        return [Piece("Embedding", f"Embedding({weight(layer, 'weights')}{padding})", shapes)]
    if kind in (simple_rnn.SimpleRNN, lstm.LSTM, gru.GRU):
        arrays = ", ".join(weight(layer, n) for n in layer.param_names)
        extra = f", activation={layer.activation!r}" if kind is simple_rnn.SimpleRNN else ""
        call = f"{kind.__name__}({arrays}{extra}, return_sequences={layer.return_sequences})"
        return [Piece(kind.__name__, call, shapes)]
    raise NotImplementedError(
        f"layer '{layer.name}' ({kind.__name__}) cannot be ejected yet: eject writes Dense, Conv2D, MaxPool2D, "
        "AvgPool2D, the global pools, Flatten, Dropout, BatchNormalization, Embedding, SimpleRNN, LSTM, GRU "
        "and the activations ReLU, LeakyReLU, Sigmoid, Tanh, Softmax"
    )


def loss_code(loss, last: Piece) -> tuple[str, str, bool]:
    """The loss's template name, the call that makes it, and whether it absorbs the last activation."""
    kind = type(loss)
    if kind not in (losses.CategoricalCrossentropy, losses.BinaryCrossentropy, losses.MeanSquaredError):
        raise NotImplementedError(
            f"the loss {kind.__name__} cannot be ejected yet: eject writes CategoricalCrossentropy, "
            "BinaryCrossentropy and MeanSquaredError"
        )
    if getattr(loss, "from_logits", False) or getattr(loss, "label_smoothing", 0.0):
        raise NotImplementedError(
            f"{kind.__name__} with from_logits or label_smoothing cannot be ejected yet: compile a copy with "
            "the loss's defaults, its last layer ending in the activation (softmax or sigmoid)"
        )
    fused = loss.fuses_with is not None and last.kind.lower() == loss.fuses_with
    return kind.__name__, f"{kind.__name__}()", fused


def optimizer_code(opt) -> tuple[str, str]:
    """The optimizer's template name and the call that makes it with the compiled settings."""
    kind = type(opt)
    if opt.decay or opt.clipnorm is not None or opt.clipvalue is not None:
        raise NotImplementedError(
            f"{kind.__name__} with decay, clipnorm or clipvalue cannot be ejected yet: compile a copy without them"
        )
    if kind is optimizers.SGD:
        return "SGD", f"SGD({opt.learning_rate!r}, momentum={opt.momentum!r}, nesterov={opt.nesterov})"
    if kind is optimizers.RMSprop:
        return "RMSprop", f"RMSprop({opt.learning_rate!r}, rho={opt.rho!r}, epsilon={opt.epsilon!r})"
    if kind is optimizers.Adagrad:
        return "Adagrad", (
            f"Adagrad({opt.learning_rate!r}, epsilon={opt.epsilon!r}, "
            f"initial_accumulator_value={opt.initial_accumulator_value!r})"
        )
    if kind in (optimizers.Adam, optimizers.AdamW):
        decay = f", weight_decay={opt.weight_decay!r}" if kind is optimizers.AdamW else ""
        return "Adam", (
            f"Adam({opt.learning_rate!r}, beta_1={opt.beta_1!r}, beta_2={opt.beta_2!r}, epsilon={opt.epsilon!r}{decay})"
        )
    raise NotImplementedError(
        f"the optimizer {kind.__name__} cannot be ejected yet: eject writes SGD, RMSprop, Adagrad, Adam, AdamW"
    )


def source(model, pieces: list[Piece], layers: list, filename: str) -> str:
    """The text of the file."""
    loss_kind, loss_call, fused = loss_code(model.loss, pieces[-1])
    opt_kind, opt_call = optimizer_code(model.optimizer)
    kinds = list(dict.fromkeys(piece.kind for piece in pieces))
    helpers = list(dict.fromkeys(h for kind in [*kinds, loss_kind] for h in NEEDS.get(kind, ())))
    parts = [HELPERS[h] for h in helpers] + [LAYERS[kind] for kind in kinds] + [LOSSES[loss_kind]]
    if loss_kind != "CategoricalCrossentropy":
        parts.append(TARGETS)
    parts.append(OPTIMIZERS[opt_kind])
    dtype = np.dtype(model.dtype).name
    listing = "\n".join(listed(piece) for piece in pieces)
    if fused:
        last = pieces[-1].kind.lower()
        backward = (
            f"    # the {last} and the loss together: dL/d(the scores before the {last})\n"
            f"    dvalues = loss_function.backward_through_{last}(outputs, y)\n"
            "    for layer in reversed(layers[:-1]):\n"
            "        dvalues = layer.backward(dvalues)"
        )
    else:
        backward = (
            "    dvalues = loss_function.backward(outputs, y)\n"
            "    for layer in reversed(layers):\n"
            "        dvalues = layer.backward(dvalues)"
        )
    takes_ids = isinstance(layers[0], embedding.Embedding)
    cast = "np.asarray(x)  # token ids" if takes_ids else "np.asarray(x, dtype=DTYPE)"
    stem = filename[: -len(".py")]
    head = f'''"""A neuronet {version.__version__} {type(model).__name__}, written out as plain NumPy.

Every layer is a class with forward(inputs, training) and backward(dvalues), as in the book
Neural Networks from Scratch: forward keeps what backward needs; backward sets the gradients
of the layer's parameters (dweights, dbiases, ...) and returns the gradient of its inputs.

    predict(x)         the outputs for a batch x of shape {shape_text(model.known_input_shape())}
    train_step(x, y)   one step of {opt_kind} on the batch (x, y); returns the loss

The weights are read from {stem}.npz beside this file. Change anything: it is yours.
"""

import numpy as np

WEIGHTS = dict(np.load(__file__.removesuffix(".py") + ".npz"))
DTYPE = np.{dtype}
'''
    network = (
        "\n\n# -- the network: its layers in order, made from the weights "
        + "-" * 40
        + f"\nlayers = [\n{listing}\n]\nloss_function = {loss_call}\noptimizer = {opt_call}\n"
    )
    run = RUN.format(cast=cast, optimizer=opt_kind, backward=backward)
    return head + "".join("\n" + textwrap.dedent(part) for part in parts) + network + run
