"""Normalisation layers: keep activations centred and scaled, over the batch (BatchNormalization) or over each
sample's features (LayerNormalization)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import checks
from .base import SizedByInput, optional_size


class BatchNormalization(SizedByInput):
    """Normalise each feature (the last axis) over the batch, then scale and shift it.

    Forward (training):  mu, var = mean and variance over all axes but the last
                         x_hat = (x - mu) / sqrt(var + eps);   y = gamma * x_hat + beta
                         running_mean <- momentum * running_mean + (1 - momentum) * mu (likewise the variance)
    Forward (inference): the same with running_mean and running_var in place of mu and var
    Backward (training): dgamma = sum(dy * x_hat),  dbeta = sum(dy),
                         dx = gamma / sqrt(var + eps) * (dy - mean(dy) - x_hat * mean(dy * x_hat))
    Shapes: x (batch, ..., n_features); gamma, beta, running statistics (n_features,).
    As in PyTorch, the running variance uses the unbiased batch variance (m / (m - 1) var).
    ``momentum`` follows Keras: 0.99 keeps 99% of the running value each step
    (PyTorch's ``momentum=0.01``).

    A training batch needs two samples or more: one sample has no variance to
    normalise by. ``fit`` therefore folds a last batch of a single sample into
    the batch before it (33 samples at ``batch_size=32`` train as one batch of
    33), rather than take a step on a variance of zero, as PyTorch refuses to.

    ``synchronized=True`` (SyncBatchNorm): in training under ``fit(distributed=True)`` on several MPI ranks,
    the sums behind the statistics (forward: sum(x) and the count m, then sum((x - mu)^2); backward: sum(dy) and
    sum(dy * x_hat)) are summed over the ranks, so mu, var and the two means of the backward pass are the whole
    global batch's, and N ranks with batch b train as one process with batch N * b. Sums, not means: ranks
    with parts of unequal sizes (a last partial batch) still give the whole batch's statistics. dgamma and dbeta
    stay this rank's part's (the MPI step sums the gradients). Outside a distributed step it computes as
    ``synchronized=False``.

    ``BatchNormalization()`` takes ``n_features`` from its input when it is built.
    """

    independent_samples = False  # statistics over the whole batch
    min_batch = 2
    positionwise = True  # in inference (a sequence generated a step at a time): a scale and shift per feature

    param_names = ("gamma", "beta")
    state_names = ("running_mean", "running_var")
    default_name = "batch_normalization"
    size_name = "n_features"

    def __init__(
        self, n_features: int | None = None, momentum: float = 0.99, epsilon: float = 1e-3, synchronized: bool = False
    ) -> None:
        super().__init__()
        self.n_features = optional_size(n_features, "n_features")
        self.momentum = checks.number(momentum, "momentum", low=0.0, high=1.0, high_open=True)
        self.epsilon = checks.number(epsilon, "epsilon", low=0.0, low_open=True)
        self.synchronized = checks.flag(synchronized, "BatchNormalization synchronized")
        self.over_ranks: Callable | None = None  # while a distributed step runs: see synchronize_over
        self.build_if_sized()

    def synchronize_over(self, sum_over_ranks: Callable[[list, str], None] | None) -> None:
        """Sum the batch statistics with ``sum_over_ranks(arrays, step)`` from now on, which sums each array
        in place over the ranks (with a deadline, naming ``step`` if it passes): the MPI step hands it over
        for a training step, then None (this process's batch alone). Ignored unless ``synchronized``."""
        self.over_ranks = sum_over_ranks if self.synchronized else None

    def summed(self, arrays: list, what: str) -> None:
        """``arrays`` summed over the ranks in place, while a distributed step has handed over its ranks."""
        if self.over_ranks is not None:
            self.over_ranks(arrays, f"the {what} of layer '{self.name}' (BatchNormalization(synchronized=True))")

    def make_parameters(self) -> None:
        self.gamma = self.new_parameter("gamma", (self.n_features,), np.ones)
        self.beta = self.new_parameter("beta", (self.n_features,), np.zeros)
        self.running_mean = self.new_state("running_mean", (self.n_features,), 0.0)
        self.running_var = self.new_state("running_var", (self.n_features,), 1.0)

    def forward(self, x, training=False):
        if not self.built:
            raise self.unbuilt_error()
        if x.ndim < 2 or x.shape[-1] != self.n_features:
            raise self.shape_error(f"(batch, ..., {self.n_features})", x)
        ops, m = self.ops, x.size // self.n_features
        self.row = x.shape[-2] if x.ndim > 2 else 1  # (ops.affine works a row of pixels or steps at a time)
        self.training = training
        if not training:  # one pass; the backward pass, if one follows, centres x then
            self.inputs, self.mean, self.centred = x, self.running_mean, None
            self.inv_std = 1.0 / ops.xp.sqrt(self.running_var + self.epsilon)
            scale = self.gamma.data * self.inv_std
            return ops.affine(x, scale, self.beta.data - self.mean * scale, row=self.row)
        if m < 2:
            raise ValueError(
                f"layer '{self.name}' (BatchNormalization) needs at least 2 values per feature "
                "in a training batch; use a larger batch_size"
            )
        sums, count = ops.column_sums(x.reshape(-1, self.n_features)), np.array([float(m)])
        self.summed([sums, count], "batch sums")
        m = self.count = float(count[0])  # (the whole batch's, over the ranks when synchronized)
        mean = sums / m
        self.centred = ops.affine(x, shift=-mean, row=self.row)
        squares = ops.column_dots(self.centred, self.centred)
        self.summed([squares], "batch sums of squares")
        var = squares / m
        keep = self.momentum
        self.running_mean *= keep
        self.running_mean += (1 - keep) * mean
        self.running_var *= keep
        self.running_var += (1 - keep) * var * (m / (m - 1))
        self.inv_std = 1.0 / ops.xp.sqrt(var + self.epsilon)
        # y = gamma * x_hat + beta, with x_hat = centred * inv_std
        return ops.affine(self.centred, self.gamma.data * self.inv_std, self.beta.data, row=self.row)

    def backward(self, dy):
        if not self.built:
            raise self.unbuilt_error()
        ops = self.ops
        centred = self.centred
        if centred is None:  # after an inference pass
            centred = ops.affine(self.inputs, shift=-self.mean, row=self.row)
        sum_dy = ops.column_sums(dy.reshape(-1, self.n_features))
        sum_dy_x_hat = ops.column_dots(dy, centred) * self.inv_std
        self.gamma.grad += sum_dy_x_hat
        self.beta.grad += sum_dy
        scale = self.gamma.data * self.inv_std
        if not self.training:  # the statistics are constants
            return ops.affine(dy, scale, row=self.row)
        # the means over the whole batch (the gradients above stay this part's: the MPI step sums those)
        self.summed([sum_dy, sum_dy_x_hat], "backward sums")
        # scale * (dy - mean(dy) - x_hat * mean(dy * x_hat)), regrouped per channel as dy * scale + centred * b
        # + c (x_hat = centred * inv_std): two passes over the batch
        m = self.count
        dx = ops.affine(dy, scale, -scale * sum_dy / m, row=self.row)
        dx += ops.affine(centred, -scale * self.inv_std * sum_dy_x_hat / m, row=self.row)
        return dx

    def check_loaded(self) -> None:
        super().check_loaded()
        if not self.built:
            return
        low = float(self.running_var.min())
        if low < 0:
            raise ValueError(f"layer '{self.name}': its running_var holds {low:g}, but a variance is never negative")

    def get_config(self):
        return {
            "n_features": self.n_features,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "synchronized": self.synchronized,
        }


class LayerNormalization(SizedByInput):
    """Normalise each sample's features (the last axis) to mean 0 and variance 1, then scale and shift them.

    Forward:  mu, var = mean and (biased) variance of x over its last axis, for each sample (each step of a
              sequence) alone
              x_hat = (x - mu) / sqrt(var + eps);   y = gamma * x_hat + beta
    Backward: dgamma = sum(dy * x_hat),  dbeta = sum(dy)   (over all axes but the last)
              g = dy * gamma;  dx = (g - mean(g) - x_hat * mean(g * x_hat)) / sqrt(var + eps)   (means over the
              last axis)
    Shapes: x (batch, ..., n_features); gamma, beta (n_features,).
    As ``torch.nn.LayerNorm(n_features, eps=epsilon)``. No batch statistics: training and inference compute the
    same, and one sample's output depends on that sample alone.

    ``LayerNormalization()`` takes ``n_features`` from its input when it is built.
    """

    param_names = ("gamma", "beta")
    default_name = "layer_normalization"
    size_name = "n_features"
    keeps_mask = True  # each step normalised alone: padded steps stay where they were
    positionwise = True

    def __init__(self, n_features: int | None = None, epsilon: float = 1e-5) -> None:
        super().__init__()
        self.n_features = optional_size(n_features, "n_features")
        self.epsilon = checks.number(epsilon, "LayerNormalization epsilon", low=0.0, low_open=True)
        self.build_if_sized()

    def make_parameters(self) -> None:
        self.gamma = self.new_parameter("gamma", (self.n_features,), np.ones)
        self.beta = self.new_parameter("beta", (self.n_features,), np.zeros)

    def forward(self, x, training=False):
        if not self.built:
            raise self.unbuilt_error()
        if x.ndim < 2 or x.shape[-1] != self.n_features:
            raise self.shape_error(f"(batch, ..., {self.n_features})", x)
        x_hat = x - x.mean(axis=-1, keepdims=True)
        y = x_hat * x_hat  # (a buffer the output reuses)
        var = y.mean(axis=-1, keepdims=True)
        var += self.epsilon
        self.inv_std = 1.0 / self.ops.xp.sqrt(var)
        x_hat *= self.inv_std
        self.x_hat = x_hat
        self.ops.xp.multiply(x_hat, self.gamma.data, out=y)
        y += self.beta.data
        return y

    def backward(self, dy):
        if not self.built:
            raise self.unbuilt_error()
        axes = tuple(range(dy.ndim - 1))
        x_hat, gamma = self.x_hat, self.gamma.data
        dy_x_hat = dy * x_hat
        self.gamma.grad += dy_x_hat.sum(axis=axes)
        self.beta.grad += dy.sum(axis=axes)
        # mean(g) and mean(g * x_hat) over the last axis, g = dy * gamma: products with gamma / n (BLAS)
        gamma_mean = gamma / self.n_features
        mean_g = (dy @ gamma_mean)[..., None]
        mean_g_x_hat = (dy_x_hat @ gamma_mean)[..., None]
        dx = dy * gamma
        dx -= mean_g
        self.ops.xp.multiply(x_hat, mean_g_x_hat, out=dy_x_hat)
        dx -= dy_x_hat
        dx *= self.inv_std
        return dx

    def get_config(self):
        return {"n_features": self.n_features, "epsilon": self.epsilon}
