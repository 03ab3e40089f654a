"""The Transformer encoder block: self-attention and a feed-forward network, each inside a residual connection
with layer normalisation, as ``torch.nn.TransformerEncoderLayer(batch_first=True)``."""

from __future__ import annotations

from .. import checks
from ..file_shapes import within
from . import activations
from .attention import MultiHeadAttention, checked_heads
from .base import Layer, axes
from .dense import Dense
from .dropout import Dropout
from .normalization import LayerNormalization

HELD = ("attention", "dense1", "dense2", "norm1", "norm2", "dropout1", "dropout", "dropout2")


class TransformerEncoder(Layer):
    """One encoder block of ``embed_dim`` features: attention over the sequence, then a network applied to
    each step alone, each added to its input (a residual connection) and normalised.

    The layers it holds: ``attention`` = MultiHeadAttention(embed_dim, num_heads, dropout, causal), ``dense1``
    (E to ff_dim, then the activation), ``dense2`` (ff_dim to E), ``norm1``, ``norm2`` (LayerNormalization,
    epsilon 1e-5), and dropout of rate ``dropout`` after the attention (``dropout1``), after the activation
    (``dropout``) and after dense2 (``dropout2``), PyTorch's names. With ``attn`` = dropout1(attention(.)) and
    ``ff`` = dropout2(dense2(dropout(act(dense1(.))))):

    Forward (post-norm, norm_first=False, the original Transformer's and PyTorch's default):
        h = norm1(x + attn(x));         y = norm2(h + ff(h))
    Forward (pre-norm, norm_first=True):
        h = x + attn(norm1(x));         y = h + ff(norm2(h))

    Backward: each held layer's own backward, in reverse; where a residual connection and its branch meet, the
    gradients add. Post-norm, from dy:
        dg = norm2'(dy);   dh = ff'(dg) + dg;   da = norm1'(dh);   dx = attn'(da) + da
    Pre-norm:
        dh = norm2'(ff'(dy)) + dy;   dx = norm1'(attn'(dh)) + dh
    (f'(d) is the held layer's backward of d: the gradient at its input, its parameters' gradients added.)

    Shapes: x, y (batch, time, embed_dim). A padding mask (from ``Embedding(padding_id=...)``) goes to the
    attention, where padded keys get no weight, and is handed on with the output (each step keeps its place).
    ``causal=True`` hides later steps from each step. Dropout acts in training only.
    """

    default_name = "transformer_encoder"
    held_stepwise = True  # (residual sums and position-wise layers around the attention)
    numpy_bound, part_samples = MultiHeadAttention.numpy_bound, MultiHeadAttention.part_samples  # (its attention's)
    takes_mask = True
    keeps_mask = True

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        ff_dim: int,
        dropout: float = 0.1,
        activation="relu",
        norm_first: bool = False,
        causal: bool = False,
    ) -> None:
        super().__init__()
        self.embed_dim, self.num_heads = checked_heads(embed_dim, num_heads, "TransformerEncoder")
        self.ff_dim = checks.integer(ff_dim, "TransformerEncoder ff_dim", low=1)
        self.dropout_rate = checks.number(dropout, "TransformerEncoder dropout", low=0.0, high=1.0, high_open=True)
        self.norm_first = checks.flag(norm_first, "TransformerEncoder norm_first")
        self.causal = checks.flag(causal, "TransformerEncoder causal")
        if activation is None:
            raise checks.ArgumentError(
                "TransformerEncoder activation must be an activation between dense1 and dense2, such as 'relu' "
                "(PyTorch's default) or 'gelu'; got None"
            )
        try:
            act = activations.get(activation)
        except ValueError as exc:
            raise checks.ArgumentError(f"TransformerEncoder activation: {exc}") from None
        self.independent_samples = self.dropout_rate == 0.0  # (dropout draws random masks)
        e, rate = self.embed_dim, self.dropout_rate
        # each held layer made under its name, so that a model file's "attention.query_weights" is its array
        with within("attention"):
            self.attention = MultiHeadAttention(e, self.num_heads, rate, self.causal)
        with within("dense1"):
            self.dense1 = Dense(e, self.ff_dim, activation=act)
        with within("dense2"):
            self.dense2 = Dense(self.ff_dim, e)
        with within("norm1"):
            self.norm1 = LayerNormalization(e, epsilon=1e-5)
        with within("norm2"):
            self.norm2 = LayerNormalization(e, epsilon=1e-5)
        self.dropout1, self.dropout, self.dropout2 = Dropout(rate), Dropout(rate), Dropout(rate)

    def sublayers(self) -> dict[str, Layer]:
        return {name: getattr(self, name) for name in HELD}

    # -- forward ---------------------------------------------------------------------------------------
    def forward(self, x, training=False, mask=None):
        if x.ndim != 3 or x.shape[-1] != self.embed_dim:
            raise self.shape_error(f"(batch, time, embed_dim={self.embed_dim})", x)
        # (the branches' outputs are fresh arrays, the residual added into them in place)
        if self.norm_first:
            h = self.attention_branch(self.norm1.forward(x, training), training, mask)
            h += x
            y = self.feed_forward(self.norm2.forward(h, training), training)
            y += h
            return y
        g = self.attention_branch(x, training, mask)
        g += x
        h = self.norm1.forward(g, training)
        g = self.feed_forward(h, training)
        g += h
        return self.norm2.forward(g, training)

    def attention_branch(self, x, training: bool, mask):
        """dropout1(attention(x)), the padding mask handed to the attention."""
        return self.dropout1.forward(self.attention.forward(x, training, mask=mask), training)

    def feed_forward(self, x, training: bool):
        """dropout2(dense2(dropout(act(dense1(x))))): the same network on every step."""
        f = self.dropout.forward(self.dense1.forward(x, training), training)
        return self.dropout2.forward(self.dense2.forward(f, training), training)

    # -- backward --------------------------------------------------------------------------------------
    def backward(self, dy):
        return self.backward_all(dy, input_grad=True)

    def backward_params_only(self, dy) -> None:
        self.backward_all(dy, input_grad=False)

    def backward_all(self, dy, input_grad: bool):
        """The held layers' parameter gradients added; dx, or None without ``input_grad``."""
        if self.norm_first:
            dh = self.norm2.backward(self.feed_forward_backward(dy))
            dh += dy
            da = self.attention.backward(self.dropout1.backward(dh))
            if not input_grad:
                self.norm1.backward_params_only(da)
                return None
            dx = self.norm1.backward(da)
            dx += dh
            return dx
        dg = self.norm2.backward(dy)
        dh = self.feed_forward_backward(dg)
        dh += dg
        da = self.norm1.backward(dh)
        if not input_grad:
            self.attention.backward_params_only(self.dropout1.backward(da))
            return None
        dx = self.attention.backward(self.dropout1.backward(da))
        dx += da
        return dx

    def feed_forward_backward(self, dy):
        """The gradient at the feed-forward network's input, from its output's ``dy`` (a fresh array)."""
        df = self.dense2.backward(self.dropout2.backward(dy))
        return self.dense1.backward(self.dropout.backward(df))

    # -- shapes, settings ------------------------------------------------------------------------------
    def input_shape(self):
        return (None, None, self.embed_dim)

    def check_input_shape(self, input_shape) -> None:
        shape = tuple(input_shape)
        if len(shape) != 3 or shape[-1] not in (None, self.embed_dim):
            raise ValueError(
                f"it takes sequences of shape (batch, time, embed_dim={self.embed_dim}), not {axes(shape)}: "
                f"give it {self.embed_dim} features per step (an Embedding or a Dense of that size before it)"
            )

    def get_config(self):
        return {
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "dropout": self.dropout_rate,
            "activation": activations.spec(self.dense1.activation),
            "norm_first": self.norm_first,
            "causal": self.causal,
        }

    @classmethod
    def from_config(cls, config: dict) -> TransformerEncoder:
        expected = {"embed_dim", "num_heads", "ff_dim", "dropout", "activation", "norm_first", "causal"}
        if set(config) != expected:
            raise ValueError(f"TransformerEncoder takes the settings {sorted(expected)}; got {sorted(config)}")
        return cls(**config)
