"""Embedding: a learned vector for each token id, the usual first layer of a text model."""

from __future__ import annotations

import numpy as np

from .. import arrays, checks, settings
from .base import Layer


class Embedding(Layer):
    """Look up row ``id`` of a table for each token id.

    Forward:  y[b, t] = W[ids[b, t]]
    Backward: dW[v] = sum of dy[b, t] over every position where ids[b, t] == v (a scatter-add);
              the row of ``padding_id`` gets no gradient, so padding stays meaningless.
    Shapes:   ids (batch, length) integers in 0..vocab_size-1, W (vocab_size, embedding_dim),
              y (batch, length, embedding_dim). There is no gradient for integer ids.
    Mask:     with a ``padding_id``, ``output_mask`` marks the real tokens, and recurrent layers after
              this one skip the padded steps (``layers/recurrent.py``).
    """

    numpy_bound = True  # a gather forward, a scatter-add backward

    param_names = ("weights",)
    default_name = "embedding"
    takes_ids = True
    positionwise = True

    def __init__(self, vocab_size: int, embedding_dim: int, padding_id: int | None = None) -> None:
        super().__init__()
        self.vocab_size = checks.integer(vocab_size, "vocab_size", low=1)
        self.embedding_dim = checks.integer(embedding_dim, "embedding_dim", low=1)
        if padding_id is not None:
            checks.integer(padding_id, "padding_id", low=0, high=self.vocab_size - 1)
        self.padding_id = padding_id

        def uniform(shape):  # as Keras, with the padding row at zero
            table = settings.rng().uniform(-0.05, 0.05, shape)
            if padding_id is not None:
                table[padding_id] = 0.0
            return table

        self.weights = self.new_parameter("weights", (self.vocab_size, self.embedding_dim), uniform)

    def forward(self, x, training=False):
        if not hasattr(x, "dtype"):  # lists and the like: checked as any input (None, ragged, ...)
            x = arrays.as_array(x, f"the input of layer '{self.name}' (Embedding)")
        ids, xp = self.ops.asarray(x), self.ops.xp
        if ids.dtype.kind == "f":  # ids that came as floats: whole numbers only
            whole = xp.isfinite(ids) & (ids == xp.round(ids))
            if not whole.all():
                raise ValueError(f"layer '{self.name}' (Embedding) expects integer token ids, found {ids[~whole][0]}")
            ids = ids.astype(np.int64)
        if ids.dtype.kind not in "iu":
            raise ValueError(f"layer '{self.name}' (Embedding) expects integer token ids, got dtype {ids.dtype}")
        if ids.ndim < 1:
            raise self.shape_error("(batch, length)", ids)
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(
                f"layer '{self.name}' (Embedding): token ids must be in 0..{self.vocab_size - 1}, found "
                f"{int(ids.min())}..{int(ids.max())}; is vocab_size large enough for the tokenizer?"
            )
        self.ids = ids
        return self.weights.data[ids]

    def backward(self, dy):
        self.backward_params_only(dy)
        return None  # token ids are not differentiable

    def backward_params_only(self, dy) -> None:
        dim = self.embedding_dim
        # one flat index per gradient value: a 1-D scatter-add handles repeated ids (a batch holds thousands)
        flat = (self.ids.reshape(-1, 1) * dim + self.ops.xp.arange(dim)).reshape(-1)
        grad = self.weights.grad
        self.ops.scatter_add(grad.reshape(-1), flat, dy.reshape(-1))
        if self.padding_id is not None:
            grad[self.padding_id] = 0.0

    def output_mask(self, mask):
        """True where the last input's token is not ``padding_id`` (None without one): the steps a recurrent
        layer after this one reads."""
        if self.padding_id is None or self.ids.ndim != 2:
            return None
        return self.ids != self.padding_id

    def output_shape(self, input_shape):
        return (*input_shape, self.embedding_dim)

    def get_config(self):
        return {"vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim, "padding_id": self.padding_id}
