"""Multi-head attention: each step of a sequence reads a weighted mix of the steps of another (or its own).

Self-attention on ``x`` (batch, time, embed_dim); in a graph model,
cross-attention on ``[query, value]`` (the keys are the values) or
``[query, key, value]``. The heads are consecutive slices of ``embed_dim``.
"""

from __future__ import annotations

import math

import numpy as np

from .. import checks, initializers
from .base import Layer, axes

ROLES = ("query", "key", "value")


class MultiHeadAttention(Layer):
    """Scaled dot-product attention in ``num_heads`` heads of ``head_dim = embed_dim / num_heads`` each.

    Forward, for a query input ``xq`` (batch, Tq, E) and key and value inputs ``xk``, ``xv`` (batch, Tk, E)
    (all three are ``x`` in self-attention):

        q = xq @ Wq + bq,   k = xk @ Wk + bk,   v = xv @ Wv + bv           (batch, T, E)
        head h takes columns h*D .. (h+1)*D - 1 of each: q_h (batch, Tq, D), k_h, v_h (batch, Tk, D)
        s_h = q_h @ k_h^T / sqrt(D) + M                                       (batch, Tq, Tk)
        p_h = softmax(s_h) over the keys                                      the attention weights
        o_h = (p_h * drop) @ v_h                                              (batch, Tq, D)
        y   = [o_1, ..., o_H] @ Wo + bo                                       (batch, Tq, E)

    ``M`` is -inf where a key is hidden from a query: a later step when ``causal`` (key j > query i, counted
    from the first step of each), a padded key (the mask an ``Embedding(padding_id=...)`` carries). A query
    whose keys are all hidden gets weights 0, so its output is ``bo``; padded queries attend as any other
    (they give finite outputs, as in PyTorch, and hand their mask on for the layers after to skip them).
    ``drop`` is dropout's mask, Bernoulli(1 - dropout) / (1 - dropout), drawn in training only.

    Backward, from dy (batch, Tq, E), with ``o`` the heads side by side and ``pd = p * drop``:

        dWo = o^T dy,  dbo = sum dy,  do = dy @ Wo^T
        dv_h = pd_h^T @ do_h,  dp_h = (do_h @ v_h^T) * drop
        ds_h = p_h * (dp_h - sum_k(dp_h * p_h))       the softmax's Jacobian-vector product, row by row
        dq_h = ds_h @ k_h / sqrt(D),  dk_h = ds_h^T @ q_h / sqrt(D)
        dW = x^T dz,  db = sum dz,  dx = dz @ W^T     for each projection z = x @ W + b (q, k and v)

    (``dbk`` is 0, up to rounding: the key bias adds q_i . bk to every score of row i, which the softmax
    ignores. It is kept, as PyTorch keeps it, so that the weights of either library load into the other.)

    In self-attention the three projections are one product, ``x @ [Wq Wk Wv]``, and ``dx`` sums the three
    (the same numbers as the plain formulas; a test holds them equal); ``[query, value]`` projects keys and
    values in one product the same way.

    Shapes: the heads are computed as (batch, heads, T, D) views of the projections, the scores and weights
    (batch, heads, Tq, Tk). ``attention_scores`` holds the last call's weights ``p`` (before dropout).

    A step at a time (``use_cache(True)``, in inference, as ``nn.text.generate`` uses it): each call's keys and
    values are appended to those of the calls before (``cache``), its queries attend over all of them, and the
    causal mask counts the new queries from the step after the cached ones: query i of the call sees keys
    j <= past + i, the rows of the whole sequence's scores that belong to the new steps. One new step costs
    its projections and one row of scores against the cache.
    """

    param_names = (
        "query_weights",
        "key_weights",
        "value_weights",
        "output_weights",
        "query_biases",
        "key_biases",
        "value_biases",
        "output_biases",
    )
    default_name = "multi_head_attention"
    # its softmax and per-head products are NumPy loops, and a sample (a sequence) holds much work: a batch is
    # split across threads, in parts of 32 samples (steps/threads.py; bench/RESULTS.md)
    numpy_bound = True
    part_samples = 32
    may_take_list = True
    takes_mask = True
    keeps_mask = True  # the output has the query's steps: its mask is the query's

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, causal: bool = False) -> None:
        super().__init__()
        self.embed_dim, self.num_heads = checked_heads(embed_dim, num_heads, "MultiHeadAttention")
        self.head_dim = self.embed_dim // self.num_heads
        self.dropout = checks.number(dropout, "MultiHeadAttention dropout", low=0.0, high=1.0, high_open=True)
        self.causal = checks.flag(causal, "MultiHeadAttention causal")
        self.independent_samples = self.dropout == 0.0  # (dropout draws random masks)
        size = (self.embed_dim, self.embed_dim)

        def glorot(shape):  # on each (E, E) matrix, and zero biases, as PyTorch's in_proj
            return initializers.glorot_uniform(shape, *size)

        for role in (*ROLES, "output"):
            setattr(self, f"{role}_weights", self.new_parameter(f"{role}_weights", size, glorot))
        for role in (*ROLES, "output"):
            setattr(self, f"{role}_biases", self.new_parameter(f"{role}_biases", (self.embed_dim,), initializers.zeros))
        self.attention_scores = None
        self.cache = None  # while use_cache is on: the keys, values and key mask of the steps so far

    # -- forward ---------------------------------------------------------------------------------------
    def forward(self, x, training=False, mask=None):
        """``x`` (batch, time, E), or a list ``[query, value]`` / ``[query, key, value]``; ``mask`` the input's
        (batch, time) bools, True on real steps (a list of them, None where an input has none)."""
        xs = self.checked(x)
        key_mask = self.key_mask(mask, xs)
        # the roles each input projects to, in one product per input: x -> (q, k, v) in self-attention
        roles = {1: [ROLES], 2: [ROLES[:1], ROLES[1:]], 3: [(r,) for r in ROLES]}[len(xs)]
        heads, self.projections = [], []  # (roles, x as rows, the weights) of each product, for backward
        for x_i, roles_i in zip(xs, roles):
            z, x2, weights = self.project(x_i, roles_i)
            heads += list(z)
            self.projections.append((roles_i, x2, weights))
        q, k, v = heads
        past = 0
        if self.cache is not None:
            if training:
                raise self.cached_training_error()
            if len(xs) > 1:  # the cache continues one sequence; a fixed memory would be appended at every step
                raise ValueError(
                    f"layer '{self.name}' (MultiHeadAttention): a sequence is generated a step at a time through "
                    "self-attention only, not cross-attention on a list of inputs"
                )
            k, v, key_mask, past = self.cached(k, v, key_mask)
        scale = 1.0 / math.sqrt(self.head_dim)
        self.q = q * q.dtype.type(scale)  # (batch, heads, Tq, D), the scale folded in once
        self.k, self.v = k, v
        self.p = self.softmax(self.q @ k.swapaxes(-1, -2), self.hidden(q.shape[2], k.shape[2], key_mask, past))
        self.attention_scores = self.p
        self.drop = None
        if training and self.dropout > 0.0:
            keep = self.ops.random(self.p.shape, dtype=self.p.dtype) >= self.dropout
            self.drop = keep * self.p.dtype.type(1.0 / (1.0 - self.dropout))
        self.pd = self.p if self.drop is None else self.p * self.drop
        o = self.pd @ v  # (batch, heads, Tq, D)
        batch, t_q = o.shape[0], o.shape[2]
        self.o = o.transpose(0, 2, 1, 3).reshape(batch * t_q, self.embed_dim)  # the heads side by side
        y = self.o @ self.output_weights.data
        y += self.output_biases.data
        return y.reshape(batch, t_q, self.embed_dim)

    def project(self, x, roles: tuple):
        """``x`` (batch, T, E) through the projections of ``roles`` in one product: each one's heads, (batch,
        heads, T, D) views; ``x`` as rows (batch * T, E) and the weights multiplied by, for the backward pass."""
        batch, steps, _ = x.shape
        x2 = x.reshape(batch * steps, self.embed_dim)
        xp = self.ops.xp
        weights = self.joined([getattr(self, f"{r}_weights").data for r in roles], xp)
        z = x2 @ weights
        z += self.joined([getattr(self, f"{r}_biases").data for r in roles], xp)
        z = z.reshape(batch, steps, len(roles), self.num_heads, self.head_dim).transpose(2, 0, 3, 1, 4)
        return z, x2, weights

    @staticmethod
    def joined(arrays: list, xp):
        """The arrays side by side on their last axis; the one array itself, uncopied."""
        return arrays[0] if len(arrays) == 1 else xp.concatenate(arrays, axis=-1)

    def hidden(self, t_q: int, t_k: int, key_mask, past: int = 0):
        """Which scores the mask M hides, broadcastable to (batch, heads, Tq, Tk); None where none is hidden.
        ``past``: the steps cached before the queries, which query i follows (it sees keys j <= past + i)."""
        xp, hide = self.ops.xp, None
        if self.causal:
            hide = ~xp.tri(t_q, t_k, past, dtype=bool)  # key j after query i
        if key_mask is not None:
            padded = ~key_mask[:, None, None, :]
            hide = padded if hide is None else hide | padded
        return hide

    def softmax(self, s, hide):
        """softmax(s + M) over the last axis, in place in ``s``: the row's largest score taken off first (no
        overflow); a row with every key hidden gives zeros, not 0/0."""
        xp = self.ops.xp
        if hide is not None:
            xp.copyto(s, -np.inf, where=hide)
        top = s.max(axis=-1, keepdims=True)
        if hide is not None:  # a row hidden throughout has top -inf, and -inf - -inf is NaN: take a finite top
            xp.maximum(top, np.finfo(s.dtype).min, out=top)
        s -= top
        xp.exp(s, out=s)
        total = s.sum(axis=-1, keepdims=True)
        if hide is not None:  # a row with a real key sums to 1 or more (its top is exp(0)); a hidden row to 0
            xp.maximum(total, 1.0, out=total)
        s /= total
        return s

    # -- a step at a time ------------------------------------------------------------------------------
    def stepwise_problem(self) -> str | None:
        if self.causal:
            return None
        return (
            "it is not causal: each step attends to the steps after it too, which a sequence generated a step at "
            "a time does not have yet; make it (and train it) with causal=True"
        )

    def use_cache(self, on: bool) -> None:
        """While on, each call attends over the keys and values of the calls before it too (see the class)."""
        self.cache = {"keys": None, "values": None, "mask": None} if on else None

    def cached(self, k, v, key_mask):
        """The keys and values (batch, heads, past + T, D) of the cached steps then of this call's, their mask
        (None where no step is hidden), kept for the next call; and ``past``, how many steps were cached."""
        xp, cache = self.ops.xp, self.cache
        past = 0 if cache["keys"] is None else cache["keys"].shape[2]
        if past:
            if k.shape[0] != cache["keys"].shape[0]:
                raise ValueError(
                    f"layer '{self.name}' (MultiHeadAttention) continues {cache['keys'].shape[0]} cached sequences, "
                    f"but this call has {k.shape[0]}: give a step of each, or start again with use_cache(True)"
                )
            # one copy of the cache per call, as long as the call's row of scores: a new step stays linear
            k = xp.concatenate([cache["keys"], k], axis=2)
            v = xp.concatenate([cache["values"], v], axis=2)
        if key_mask is not None or cache["mask"] is not None:
            batch, new = k.shape[0], k.shape[2] - past
            before = cache["mask"] if cache["mask"] is not None else xp.ones((batch, past), dtype=bool)
            now = key_mask if key_mask is not None else xp.ones((batch, new), dtype=bool)
            key_mask = xp.concatenate([before, now], axis=1)
        cache.update(keys=k, values=v, mask=key_mask)
        return k, v, key_mask, past

    # -- backward --------------------------------------------------------------------------------------
    def backward(self, dy):
        return self.backward_all(dy, input_grad=True)

    def backward_params_only(self, dy) -> None:
        self.backward_all(dy, input_grad=False)

    def backward_all(self, dy, input_grad: bool):
        """The parameters' gradients added; the input's gradient (a list of one per input for a list) or None."""
        xp, ops = self.ops.xp, self.ops
        batch, t_q = dy.shape[0], dy.shape[1]
        dy2 = dy.reshape(batch * t_q, self.embed_dim)
        self.output_weights.accumulate_matmul(self.o.T, dy2)
        self.output_biases.grad += ops.column_sums(dy2)
        do = (dy2 @ self.output_weights.data.T).reshape(batch, t_q, self.num_heads, self.head_dim)
        do = do.transpose(0, 2, 1, 3)  # (batch, heads, Tq, D)
        dv = self.pd.swapaxes(-1, -2) @ do
        ds = do @ self.v.swapaxes(-1, -2)  # dpd, then dp, then ds, in place
        if self.drop is not None:
            ds *= self.drop
        ds -= xp.einsum("...k,...k->...", ds, self.p)[..., None]
        ds *= self.p
        dq = ds @ self.k
        dq *= dq.dtype.type(1.0 / math.sqrt(self.head_dim))
        dk = ds.swapaxes(-1, -2) @ self.q  # (q holds the scale already)
        grads = iter((dq, dk, dv))
        dxs = [self.backward_projection(x2, weights, roles, [next(grads) for _ in roles], input_grad)
               for roles, x2, weights in self.projections]  # fmt: skip
        if not input_grad:
            return None
        return dxs[0] if len(dxs) == 1 else dxs

    def backward_projection(self, x2, weights, roles: tuple, dzs: list, input_grad: bool):
        """Backward through z = x @ W + b for the projections of ``roles`` (one product), given each one's
        gradient by heads (batch, heads, T, D): the parameters' gradients added; dx (batch, T, E) or None."""
        batch, _, steps, _ = dzs[0].shape
        dz = self.ops.empty((batch, steps, len(roles), self.num_heads, self.head_dim), dtype=dzs[0].dtype)
        for i, dz_i in enumerate(dzs):
            dz[:, :, i] = dz_i.transpose(0, 2, 1, 3)
        dz = dz.reshape(batch * steps, len(roles) * self.embed_dim)
        for i, role in enumerate(roles):
            part = dz[:, i * self.embed_dim : (i + 1) * self.embed_dim]
            getattr(self, f"{role}_weights").accumulate_matmul(x2.T, part)
            getattr(self, f"{role}_biases").grad += self.ops.column_sums(part)
        return (dz @ weights.T).reshape(batch, steps, self.embed_dim) if input_grad else None

    # -- inputs, shapes, masks -------------------------------------------------------------------------
    def checked(self, x) -> list:
        """The inputs as a list of 1 (self-attention), 2 or 3 arrays of (batch, time, E), else a ValueError."""
        where = f"layer '{self.name}' (MultiHeadAttention)"
        xs = list(x) if isinstance(x, (list, tuple)) else [x]
        stray = [f"input {i} is a {type(v).__name__}" for i, v in enumerate(xs) if not hasattr(v, "shape")]
        if stray:
            raise checks.ArgumentError(f"{where} takes arrays, but {', '.join(stray)}")
        try:
            self.check_input_shape(tuple(xs[0].shape) if len(xs) == 1 else [tuple(v.shape) for v in xs])
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        return xs

    def check_input_shape(self, input_shape) -> None:
        """A ValueError unless the input is one (batch, time, E) shape or a list of 2 or 3, [query, value] or
        [query, key, value], of one batch, the keys and values of one length."""
        shapes, listed = listed_shapes(input_shape)
        if listed and len(shapes) not in (2, 3):
            raise ValueError(
                f"it takes x (self-attention), [query, value] or [query, key, value], not a list of {len(shapes)}"
            )
        names = ["x"] if not listed else ["query", "value"] if len(shapes) == 2 else list(ROLES)
        for name, shape in zip(names, shapes):
            if len(shape) != 3 or shape[-1] not in (None, self.embed_dim):
                raise ValueError(
                    f"its {name} must have shape (batch, time, embed_dim={self.embed_dim}), not {axes(shape)}: "
                    f"{'project it to' if len(shape) == 3 else 'give it'} {self.embed_dim} features per step "
                    "(a Dense or an Embedding of that size)"
                )
        for a in (0, 1):  # the batch of every input; the time of key and value
            sizes = {n: s[a] for n, s in zip(names, shapes) if s[a] is not None and (a == 0 or n != "query")}
            if len(set(sizes.values())) > 1:
                said = ", ".join(f"{n} {d}" for n, d in sizes.items())
                raise ValueError(f"its inputs differ in {'batch size' if a == 0 else 'length'}: {said}")

    def key_mask(self, mask, xs: list):
        """The keys' mask, (batch, Tk) bools True on real steps, or None: the input's in self-attention; the
        key's and the value's joined (a step is real where both say so) in a list."""
        masks = mask if isinstance(mask, (list, tuple)) else [mask] * (1 if mask is not None else len(xs))
        if len(masks) != len(xs):
            raise ValueError(
                f"layer '{self.name}' (MultiHeadAttention) got {len(masks)} masks for {len(xs)} inputs: give one "
                "for each (None where an input has none)"
            )
        found = None
        pairs = list(zip(masks, xs))
        for m, x in pairs if len(pairs) == 1 else pairs[1:]:  # (the query's mask hides no key)
            if m is None:
                continue
            m = self.ops.asarray(m)
            if m.shape != x.shape[:2] or m.dtype.kind != "b":
                raise ValueError(
                    f"layer '{self.name}' (MultiHeadAttention) expects a mask of booleans shaped (batch, time) = "
                    f"{tuple(x.shape[:2])}, got {m.dtype} of shape {tuple(m.shape)}"
                )
            found = m if found is None else found & m
        return found

    def output_mask(self, mask):
        """The query's mask: the output has the query's steps."""
        return mask[0] if isinstance(mask, (list, tuple)) else mask

    def output_shape(self, input_shape):
        query = listed_shapes(input_shape)[0][0]  # (checked by check_input_shape)
        return (*query[:-1], self.embed_dim)

    def get_config(self):
        return {
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "dropout": self.dropout,
            "causal": self.causal,
        }


def checked_heads(embed_dim, num_heads, owner: str) -> tuple[int, int]:
    """``embed_dim`` and ``num_heads`` checked for ``owner`` (a class's name): positive ints, the features
    dividing into the heads."""
    embed_dim = checks.integer(embed_dim, f"{owner} embed_dim", low=1)
    num_heads = checks.integer(num_heads, f"{owner} num_heads", low=1)
    if embed_dim % num_heads:
        raise checks.ArgumentError(
            f"{owner} embed_dim ({embed_dim}) must divide by num_heads ({num_heads}): each head takes "
            "embed_dim / num_heads of the features; choose sizes such as (64, 4) or (64, 8)"
        )
    return embed_dim, num_heads


def listed_shapes(input_shape) -> tuple[list[tuple], bool]:
    """The shapes an attention layer is given, one (batch first) or a list of them, as a list; and whether they
    came as a list."""
    several = isinstance(input_shape, list) or (
        isinstance(input_shape, tuple) and bool(input_shape) and isinstance(input_shape[0], (tuple, list))
    )
    return ([tuple(s) for s in input_shape] if several else [tuple(input_shape)]), several
