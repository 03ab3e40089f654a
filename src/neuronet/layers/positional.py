"""Positional embedding: tell each step of a sequence where it stands, which attention alone cannot see."""

from __future__ import annotations

import numpy as np

from .. import checks, initializers
from .base import Layer


class PositionalEmbedding(Layer):
    """Add the vector of position t to step t of a sequence.

    Forward:  y[b, t] = x[b, t] + P[t]          for t = 0 ... time - 1
    Backward: dx = dy;  dP[t] += sum_b dy[b, t]  (learned positions only)
    P is the learned ``weights`` (max_length, embed_dim), Glorot-uniform at first (as Keras's
    PositionEmbedding); with ``sinusoidal=True`` it is the fixed encoding of Vaswani et al. (2017), no
    parameters:  P[t, 2i] = sin(t / 10000^(2i / E)),  P[t, 2i + 1] = cos(t / 10000^(2i / E)).
    Shapes:   x, y (batch, time, embed_dim) with time <= max_length.
    Mask:     handed on (each step keeps its place).
    A step at a time (``use_cache(True)``, in inference): each call continues the positions of the calls
    before, y[b, t] = x[b, t] + P[past + t], ``past`` the steps already taken, which stay within max_length.
    """

    default_name = "positional_embedding"
    keeps_mask = True

    def __init__(self, max_length: int, embed_dim: int, sinusoidal: bool = False) -> None:
        super().__init__()
        self.max_length = checks.integer(max_length, "PositionalEmbedding max_length", low=1)
        self.embed_dim = checks.integer(embed_dim, "PositionalEmbedding embed_dim", low=1)
        self.sinusoidal = checks.flag(sinusoidal, "PositionalEmbedding sinusoidal")
        self.fixed = None  # the sinusoidal table as the last input's arrays: made at the first forward pass
        self.position = None  # while use_cache is on: the steps taken so far
        if self.sinusoidal:
            self.param_names = ()
        else:
            shape = (self.max_length, self.embed_dim)
            init = initializers.glorot_uniform
            self.weights = self.new_parameter("weights", shape, lambda s: init(s, *shape))
            self.param_names = ("weights",)

    def forward(self, x, training=False):
        if x.ndim != 3 or x.shape[-1] != self.embed_dim:
            raise self.shape_error(f"(batch, time, embed_dim={self.embed_dim})", x)
        steps, past = x.shape[1], self.position or 0
        if self.position is not None and past + steps > self.max_length:
            raise ValueError(
                f"layer '{self.name}' (PositionalEmbedding) has positions for sequences of up to max_length="
                f"{self.max_length} steps, but the sequence taken a step at a time reached {past + steps}: "
                "generate fewer steps, or make the layer with a larger max_length"
            )
        if steps > self.max_length:
            raise ValueError(
                f"layer '{self.name}' (PositionalEmbedding) has positions for sequences of up to max_length="
                f"{self.max_length} steps, but received {steps}: cut the sequences to {self.max_length} steps "
                "(nn.text's padding to a maxlen), or make the layer with a larger max_length"
            )
        if self.position is not None:
            if training:
                raise self.cached_training_error()
            self.position = past + steps
        self.steps = steps
        return x + self.table(x.dtype)[past : past + steps]

    def table(self, dtype):
        """P, (max_length, embed_dim): the learned weights, or the sinusoidal encoding in ``dtype``."""
        if not self.sinusoidal:
            return self.weights.data
        if self.fixed is None or self.fixed.dtype != dtype:
            self.fixed = self.ops.asarray(sinusoidal_encoding(self.max_length, self.embed_dim), dtype=dtype)
        return self.fixed

    def backward(self, dy):
        self.backward_params_only(dy)
        return dy

    def backward_params_only(self, dy) -> None:
        if not self.sinusoidal:
            self.weights.grad[: self.steps] += dy.sum(axis=0)

    def stepwise_problem(self) -> str | None:
        return None  # (it counts the steps it has taken while use_cache is on)

    def use_cache(self, on: bool) -> None:
        """While on, each call continues the positions of the calls before (see the class)."""
        self.position = 0 if on else None

    def use_ops(self, ops) -> None:
        super().use_ops(ops)
        self.fixed = None  # (made again on the new device)

    def input_shape(self):
        return (None, None, self.embed_dim)

    def check_input_shape(self, input_shape) -> None:
        super().check_input_shape(input_shape)
        steps = tuple(input_shape)[1]
        if steps is not None and steps > self.max_length:
            raise ValueError(f"it has positions for up to max_length={self.max_length} steps, not {steps}")

    def get_config(self):
        return {"max_length": self.max_length, "embed_dim": self.embed_dim, "sinusoidal": self.sinusoidal}


def sinusoidal_encoding(length: int, dim: int) -> np.ndarray:
    """The fixed positional encoding of Vaswani et al. (2017), (length, dim) in float64: column 2i is
    sin(t / 10000^(2i / dim)), column 2i + 1 its cosine."""
    t = np.arange(length, dtype=np.float64)[:, None]
    frequencies = 10000.0 ** (-(np.arange(dim) // 2 * 2) / dim)  # 2i / dim for both columns of pair i
    angles = t * frequencies
    return np.where(np.arange(dim) % 2 == 0, np.sin(angles), np.cos(angles))
