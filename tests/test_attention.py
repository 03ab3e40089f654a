"""MultiHeadAttention and PositionalEmbedding: finite differences, a plain per-head reference, PyTorch parity
(plain, causal, padded keys, cross-attention), masks, dropout, files, errors, and a task that needs attention."""

import numpy as np
import pytest
from finite_differences import gradient_errors, listed
from splitting import assert_split_equals_whole

import neuronet as nn
from neuronet.gradcheck import numerical_gradient, relative_error
from neuronet.layers.positional import sinusoidal_encoding

L = nn.layers
E, H = 6, 2


def attention(seed=0, **kwargs):
    """A MultiHeadAttention(E, H) with random nonzero weights and biases."""
    layer = L.MultiHeadAttention(E, H, **kwargs)
    rng = np.random.default_rng(seed)
    for p in layer.parameters():
        p.data[...] = rng.uniform(-0.8, 0.8, p.shape)
    return layer


def inputs(form, batch=2, t_q=4, t_k=5, seed=1):
    """The inputs of a call: x (self-attention), [query, value] or [query, key, value]."""
    rng = np.random.default_rng(seed)
    if form == "self":
        return rng.standard_normal((batch, t_q, E))
    return [rng.standard_normal((batch, t, E)) for t in (t_q, t_k, t_k)[: 2 if form == "qv" else 3]]


def padding(batch, steps, lengths):
    """(batch, steps) True on each sequence's first ``lengths[b]`` steps."""
    return np.arange(steps)[None, :] < np.asarray(lengths)[:, None]


def assert_gradients_match_finite_differences(layer, x, mask=None, training=False, tol=1e-7):
    """Each input's gradient and the 7 parameters' with a gradient against central differences."""
    errors = gradient_errors(layer, x, mask, training)
    assert len(errors) == len(listed(x)) + 7
    assert max(errors.values()) < tol, errors


# -- finite differences --------------------------------------------------------------------------------
CASES = {
    "self": ("self", {}, None),
    "causal": ("self", {"causal": True}, None),
    "padded keys": ("self", {}, [4, 2]),
    "causal, padded keys": ("self", {"causal": True}, [3, 4]),
    "query, value": ("qv", {}, None),
    "query, key, value": ("qkv", {}, None),
    "query, value, padded": ("qv", {}, [5, 3]),
    "query, key, value, causal": ("qkv", {"causal": True}, None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_gradients_match_finite_differences(float64, case):
    form, options, lengths = CASES[case]
    x = inputs(form)
    mask = None
    if lengths is not None:
        steps = listed(x)[-1].shape[1]
        keys = padding(2, steps, lengths)
        mask = keys if form == "self" else [None, keys] if form == "qv" else [None, keys, keys]
    assert_gradients_match_finite_differences(attention(**options), x, mask)


def test_gradients_with_dropout_match_finite_differences(float64):
    assert_gradients_match_finite_differences(attention(dropout=0.3), inputs("self"), training=True)


# -- a plain reference, head by head -------------------------------------------------------------------
def plain_attention(layer, q_in, k_in, v_in, hidden=None):
    """The docstring's formulas, one sample and one head at a time: (output, weights)."""
    w = {n: p.data for n, p in layer.named_parameters().items()}
    q, k, v = (x @ w[f"{r}_weights"] + w[f"{r}_biases"] for x, r in zip((q_in, k_in, v_in), ("query", "key", "value")))
    batch, t_q, t_k, d = q.shape[0], q.shape[1], k.shape[1], E // H
    o, weights = np.zeros_like(q), np.zeros((batch, H, t_q, t_k))
    for b in range(batch):
        for h in range(H):
            cols = slice(h * d, (h + 1) * d)
            s = q[b, :, cols] @ k[b, :, cols].T / np.sqrt(d)
            if hidden is not None:
                s = np.where(hidden[b], -np.inf, s)
            e = np.exp(s - s.max(axis=1, keepdims=True))
            weights[b, h] = e / e.sum(axis=1, keepdims=True)
            o[b, :, cols] = weights[b, h] @ v[b, :, cols]
    return o @ w["output_weights"] + w["output_biases"], weights


@pytest.mark.parametrize("form", ["self", "qv", "qkv"])
@pytest.mark.parametrize("causal", [False, True])
def test_the_layer_computes_the_plain_formulas(float64, form, causal):
    layer, x = attention(causal=causal), inputs(form)
    xs = [x] * 3 if form == "self" else [x[0], x[1], x[1]] if form == "qv" else x
    hidden = np.triu(np.ones((xs[0].shape[1], xs[1].shape[1]), bool), 1)[None] if causal else None
    expected, weights = plain_attention(layer, *xs, np.broadcast_to(hidden, (2, *hidden.shape[1:])) if causal else None)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.attention_scores, weights, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("form", ["self", "qv"])
def test_the_fused_projections_give_the_separate_ones(float64, form):
    """x (one product x @ [Wq Wk Wv]) and [q, v] (one for keys and values) against [query, key, value] as three
    arrays: the same outputs and parameter gradients; dx the sum of the gradients of the inputs it stands for."""
    layer, x = attention(), inputs(form)
    three = [x, x, x] if form == "self" else [x[0], x[1], x[1]]
    dy = np.random.default_rng(3).standard_normal((2, 4, E))
    grads = []
    for given in (x, three):
        layer.zero_grad()
        y = layer.forward(given)
        grads.append((y, listed(layer.backward(dy)), [p.grad.copy() for p in layer.parameters()]))
    (y1, dx1, g1), (y2, dx2, g2) = grads
    np.testing.assert_allclose(y1, y2, rtol=1e-13, atol=1e-13)
    for a, b in zip(g1, g2, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    summed = [dx2[0] + dx2[1] + dx2[2]] if form == "self" else [dx2[0], dx2[1] + dx2[2]]
    for a, b in zip(dx1, summed, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


# -- PyTorch -------------------------------------------------------------------------------------------
def torch_twin(layer):
    """torch.nn.MultiheadAttention(E, H, batch_first=True) holding ``layer``'s weights: its packed
    in_proj_weight is [Wq; Wk; Wv] as (out, in), so neuronet's query_weights is its first block transposed."""
    torch = pytest.importorskip("torch")
    module = torch.nn.MultiheadAttention(E, H, batch_first=True, bias=True, dtype=torch.float64)
    w = {n: torch.tensor(p.data) for n, p in layer.named_parameters().items()}
    with torch.no_grad():
        module.in_proj_weight.copy_(torch.cat([w[f"{r}_weights"].T for r in ("query", "key", "value")]))
        module.in_proj_bias.copy_(torch.cat([w[f"{r}_biases"] for r in ("query", "key", "value")]))
        module.out_proj.weight.copy_(w["output_weights"].T)
        module.out_proj.bias.copy_(w["output_biases"])
    return module


def torch_gradients(module):
    """Its parameters' gradients in neuronet's names and layouts."""
    e = E
    wq, wk, wv = (module.in_proj_weight.grad[i * e : (i + 1) * e].T for i in range(3))
    bq, bk, bv = (module.in_proj_bias.grad[i * e : (i + 1) * e] for i in range(3))
    found = {
        "query_weights": wq,
        "key_weights": wk,
        "value_weights": wv,
        "output_weights": module.out_proj.weight.grad.T,
    }
    found.update({"query_biases": bq, "key_biases": bk, "value_biases": bv, "output_biases": module.out_proj.bias.grad})
    return {n: g.numpy() for n, g in found.items()}


PARITY = {
    "plain": ("self", False, None),
    "causal": ("self", True, None),
    "padded keys": ("self", False, [4, 2]),
    "causal, padded keys": ("self", True, [4, 3]),
    "cross [q, v]": ("qv", False, None),
    "cross [q, v], padded keys": ("qv", False, [5, 2]),
    "cross [q, k, v]": ("qkv", False, None),
    "cross [q, k, v], causal": ("qkv", True, None),
}


@pytest.mark.parametrize("case", list(PARITY))
def test_parity_with_torch(float64, case):
    torch = pytest.importorskip("torch")
    form, causal, lengths = PARITY[case]
    layer, x = attention(causal=causal), inputs(form)
    module = torch_twin(layer)
    xs = listed(x)
    t_q, t_k = xs[0].shape[1], xs[-1].shape[1]
    keys = None if lengths is None else padding(2, t_k, lengths)
    mask = None if keys is None else keys if form == "self" else [None, keys] if form == "qv" else [None, keys, keys]
    tensors = [torch.tensor(v, requires_grad=True) for v in xs]
    q, k, v = (tensors * 3) if form == "self" else [tensors[0], tensors[1], tensors[1]] if form == "qv" else tensors
    out, weights = module(
        q, k, v,
        key_padding_mask=None if keys is None else torch.tensor(~keys),  # (True: padding, in torch)
        attn_mask=torch.triu(torch.ones(t_q, t_k, dtype=torch.bool), 1) if causal else None,
        need_weights=True, average_attn_weights=False,
    )  # fmt: skip
    dy = np.random.default_rng(4).standard_normal(out.shape)
    out.backward(torch.tensor(dy))
    tol = 1e-8
    np.testing.assert_allclose(layer.forward(x, mask=mask), out.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(layer.attention_scores, weights.detach().numpy(), rtol=tol, atol=tol)
    layer.zero_grad()
    for ours, theirs in zip(listed(layer.backward(dy)), tensors, strict=True):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=tol, atol=tol)
    for name, grad in torch_gradients(module).items():
        np.testing.assert_allclose(getattr(layer, name).grad, grad, rtol=tol, atol=tol, err_msg=name)


# -- masks ---------------------------------------------------------------------------------------------
def test_hidden_keys_get_no_weight_and_each_row_sums_to_one(float64):
    layer, x = attention(causal=True), inputs("self", t_q=5)
    layer.forward(x, mask=padding(2, 5, [5, 3]))
    p = layer.attention_scores
    assert p.shape == (2, H, 5, 5)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)
    assert (p[..., np.triu_indices(5, 1)[0], np.triu_indices(5, 1)[1]] == 0).all()  # no later step
    assert (p[1, :, :, 3:] == 0).all()  # no padded key


def test_a_query_with_every_key_hidden_gives_the_output_bias_not_nan(float64):
    """All of sample 1's keys are padding; with left padding and causal, sample 0's first two queries see only
    padding: their weights are 0, their outputs the output bias, their gradients finite."""
    x = inputs("self")
    mask = np.array([[False, False, True, True], [False, False, False, False]])
    layer = attention(causal=True)
    y = layer.forward(x, mask=mask)
    assert np.isfinite(y).all()
    assert (layer.attention_scores[1] == 0).all() and (layer.attention_scores[0, :, :2] == 0).all()
    np.testing.assert_allclose(y[1], np.broadcast_to(layer.output_biases.data, (4, E)), rtol=1e-14)
    np.testing.assert_allclose(y[0, :2], np.broadcast_to(layer.output_biases.data, (2, E)), rtol=1e-14)
    layer.zero_grad()
    dx = layer.backward(np.ones_like(y))
    assert np.isfinite(dx).all() and all(np.isfinite(p.grad).all() for p in layer.parameters())
    assert_gradients_match_finite_differences(layer, x, mask)


def test_padded_queries_attend_as_any_other_and_hand_their_mask_on(float64):
    """A padded query's output is what it would be unpadded (finite, PyTorch's); the output's mask is the
    query's; the real steps' outputs do not depend on what the padded keys hold."""
    layer, (q, v) = attention(), inputs("qv")
    q_mask, v_mask = padding(2, 4, [2, 4]), padding(2, 5, [3, 5])
    y = layer.forward([q, v], mask=[q_mask, v_mask])
    assert np.isfinite(y).all()
    assert layer.output_mask([q_mask, v_mask]) is q_mask
    v2 = v.copy()
    v2[0, 3:] = 100.0  # what sample 0's padded steps hold
    np.testing.assert_allclose(layer.forward([q, v2], mask=[q_mask, v_mask]), y, rtol=1e-12)


# -- dropout -------------------------------------------------------------------------------------------
def test_dropout_acts_in_training_only_and_zero_dropout_is_none(float64):
    x = inputs("self")
    with_dropout, without = attention(dropout=0.5), attention(dropout=0.0)
    inference = without.forward(x)
    np.testing.assert_array_equal(with_dropout.forward(x), inference)
    np.testing.assert_array_equal(without.forward(x, training=True), inference)
    nn.set_seed(1)
    first = with_dropout.forward(x, training=True)
    assert not np.allclose(first, inference)
    assert not np.allclose(with_dropout.forward(x, training=True), first)  # a new draw
    # attention_scores are the weights before dropout, as at inference
    np.testing.assert_allclose(with_dropout.attention_scores, without.attention_scores, rtol=1e-13)
    assert with_dropout.independent_samples is False and without.independent_samples is True


def test_dropout_draws_from_the_layers_ops_generator(float64):
    layer, x = attention(dropout=0.5), inputs("self")
    layer.use_ops(nn.ops.NumpyOps(np.random.default_rng(3)))
    a = layer.forward(x, training=True)
    layer.use_ops(nn.ops.NumpyOps(np.random.default_rng(3)))
    np.testing.assert_array_equal(layer.forward(x, training=True), a)


# -- float32 ---------------------------------------------------------------------------------------------
def test_float32_stays_float32_and_agrees_with_float64():
    layer, x = attention(), inputs("self").astype(np.float32)
    y = layer.forward(x)
    dx = layer.backward(np.ones_like(y))
    assert y.dtype == dx.dtype == layer.attention_scores.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())
    nn.set_dtype("float64")
    try:
        exact = attention()
        np.testing.assert_allclose(y, exact.forward(x.astype(np.float64)), rtol=1e-4, atol=1e-5)
    finally:
        nn.set_dtype("float32")


def test_large_scores_do_not_overflow():
    layer, x = attention(), 1e3 * inputs("self").astype(np.float32)
    y = layer.forward(x)
    assert np.isfinite(y).all() and np.isfinite(layer.backward(np.ones_like(y))).all()


# -- PositionalEmbedding -------------------------------------------------------------------------------
def test_positional_embedding_adds_the_row_of_each_step_and_matches_finite_differences(float64):
    layer = L.PositionalEmbedding(6, E)
    x = np.random.default_rng(0).standard_normal((3, 4, E))
    np.testing.assert_array_equal(layer.forward(x), x + layer.weights.data[:4])
    errors = nn.gradcheck.check_layer(layer, x)
    assert max(errors.values()) < 1e-7, errors
    assert (layer.weights.grad[4:] == 0).all()  # the positions it did not see


def test_the_sinusoidal_encoding_is_vaswanis_and_has_no_parameters(float64):
    layer = L.PositionalEmbedding(50, 8, sinusoidal=True)
    assert layer.parameters() == [] and layer.named_arrays() == {}
    angle = [[t / 10000 ** (2 * (i // 2) / 8) for i in range(8)] for t in range(50)]  # pair i // 2 of columns
    table = np.array([[np.sin(a) if i % 2 == 0 else np.cos(a) for i, a in enumerate(row)] for row in angle])
    np.testing.assert_allclose(sinusoidal_encoding(50, 8), table, rtol=1e-12, atol=1e-15)
    x = np.random.default_rng(0).standard_normal((2, 7, 8))
    np.testing.assert_allclose(layer.forward(x), x + table[:7], rtol=1e-12)
    dy = np.random.default_rng(1).standard_normal(x.shape)
    np.testing.assert_array_equal(layer.backward(dy), dy)
    assert sinusoidal_encoding(4, 5).shape == (4, 5)  # an odd size: its last column a sine


def test_a_sequence_longer_than_max_length_is_a_clear_error():
    layer = L.PositionalEmbedding(5, E)
    with pytest.raises(ValueError, match=r"'positional_embedding'.*max_length=5 steps, but received 6"):
        layer.forward(np.zeros((2, 6, E), np.float32))
    with pytest.raises(ValueError, match=r"max_length=5 steps, not 6"):
        layer(nn.Input(shape=(6, E)))
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, time, embed_dim=6\).*\(2, 5, 4\)"):
        layer.forward(np.zeros((2, 5, 4), np.float32))


# -- models, files, summary --------------------------------------------------------------------------------
def text_model(steps=7, vocab=12, sinusoidal=False):
    """ids -> Embedding (padding 0) -> PositionalEmbedding -> x + MultiHeadAttention(x) -> mean -> softmax."""
    ids = nn.Input(shape=(steps,), dtype="int64")
    x = L.PositionalEmbedding(steps, 8, sinusoidal=sinusoidal)(L.Embedding(vocab, 8, padding_id=0)(ids))
    h = L.Add()([x, L.MultiHeadAttention(8, 2, dropout=0.1, causal=True)(x)])
    return nn.Model(ids, L.Dense(3, activation="softmax")(L.GlobalAvgPool1D()(h)))


def cross_model():
    """A query sequence attending over a padded token sequence, [query, value] and [query, key, value]."""
    q, ids = nn.Input(shape=(3, 8)), nn.Input(shape=(5,), dtype="int64")
    v = L.Embedding(10, 8, padding_id=0)(ids)
    h = L.MultiHeadAttention(8, 4)([q, v])
    h = L.MultiHeadAttention(8, 2)([h, L.Dense(8)(v), v])
    return nn.Model([q, ids], L.Dense(2)(L.GlobalAvgPool1D()(h)))


def ids_of(n, steps, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 10, (n, steps))
    ids[::2, steps // 2 :] = 0  # padding
    return ids


@pytest.mark.parametrize("sinusoidal", [False, True])
def test_a_text_model_trains_saves_and_loads(tmp_path, sinusoidal):
    model = text_model(sinusoidal=sinusoidal)
    model.compile(optimizer=nn.optimizers.Adam(0.01), metrics=["accuracy"])
    ids, y = ids_of(64, 7), np.random.default_rng(1).integers(0, 3, 64)
    history = model.fit(ids, y, epochs=3, batch_size=16, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    model.save(tmp_path / "m.nnet")
    loaded = nn.load_model(tmp_path / "m.nnet")
    np.testing.assert_array_equal(loaded.predict(ids), model.predict(ids))
    attention_layer = next(layer for layer in loaded.layers if isinstance(layer, L.MultiHeadAttention))
    assert attention_layer.get_config() == {"embed_dim": 8, "num_heads": 2, "dropout": 0.1, "causal": True}


def test_the_summary_counts_the_attention_parameters():
    shown = capture_summary(text_model())
    assert "MultiHeadAttention" in shown and f"{4 * 8 * 8 + 4 * 8:,}" in shown  # four (E, E) and four (E,)
    assert "PositionalEmbedding" in shown and f"{7 * 8:,}" in shown


def test_a_cross_attention_model_trains_saves_and_loads(tmp_path):
    model = cross_model()
    model.compile(loss="mse", optimizer=nn.optimizers.Adam(0.01))
    rng = np.random.default_rng(0)
    xs, y = [rng.standard_normal((32, 3, 8)), ids_of(32, 5)], rng.standard_normal((32, 2))
    history = model.fit(xs, y, epochs=3, batch_size=8, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    model.save(tmp_path / "cross.nnet")
    loaded = nn.load_model(tmp_path / "cross.nnet")
    np.testing.assert_array_equal(loaded.predict(xs), model.predict(xs))
    assert "Fed by" in capture_summary(loaded)


def capture_summary(model):
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model.summary()
    return out.getvalue()


def test_attention_first_in_a_graph_still_learns_its_parameters(float64):
    """Called on two of the model's inputs, nothing needs their gradient; its parameters' still come."""
    q, v = nn.Input(shape=(3, E)), nn.Input(shape=(4, E))
    model = nn.Model([q, v], L.MultiHeadAttention(E, H)([q, v]))
    xs = inputs("qv", t_q=3, t_k=4)
    model.forward(xs, training=True)
    model.zero_grad()
    model.backward(np.ones((2, 3, E)), input_grad=False)
    assert all(p.grad.any() for p in model.parameters())


def test_one_layer_shared_by_self_and_cross_attention_matches_finite_differences(float64):
    """The same layer on a (alone) and on [b, a] in one graph: each call takes its own form, and the parameters'
    gradient is the sum over both."""
    a, b = nn.Input(shape=(4, E)), nn.Input(shape=(3, E))
    shared = attention()
    model = nn.Model([a, b], L.Concatenate(axis=1)([shared(a), shared([b, a])]))
    xs = inputs("qv", t_q=4, t_k=3)[::-1]  # a (2, 4, E), b (2, 3, E)
    r = np.random.default_rng(2).standard_normal((2, 7, E))

    def loss():
        return float(np.sum(model.forward(xs) * r))

    model.forward(xs, training=True)
    model.zero_grad()
    dxs = model.backward(r)
    for dx, x in zip(dxs, xs, strict=True):
        assert relative_error(dx, numerical_gradient(loss, x)) < 1e-7
    for name, p in shared.named_parameters().items():
        if name != "key_biases":
            assert relative_error(p.grad, numerical_gradient(loss, p.data)) < 1e-7, name


def test_a_sequential_model_hands_the_padding_mask_to_attention(float64):
    """A padded batch gives each sequence's real steps the outputs of that sequence alone, unpadded."""
    nn.set_seed(0)
    model = nn.Sequential([L.Embedding(20, E, padding_id=0), L.PositionalEmbedding(8, E), L.MultiHeadAttention(E, H)])
    padded = np.array([[3, 1, 4, 0, 0], [1, 5, 9, 2, 6]])
    together = model.predict(padded)
    np.testing.assert_allclose(together[0, :3], model.predict(padded[:1, :3])[0], rtol=1e-12)
    np.testing.assert_allclose(together[1], model.predict(padded[1:])[0], rtol=1e-12)


def test_a_split_batch_gives_the_gradients_of_the_whole_batch(float64):
    """Without dropout each sample's output is its own: the thread split (beside an Embedding) is exact."""
    from neuronet.steps import parts

    nn.set_seed(0)
    model = nn.Sequential([L.Embedding(12, E, padding_id=0), L.MultiHeadAttention(E, H), L.GlobalAvgPool1D(),
                           L.Dense(E, 3, activation="softmax")])  # fmt: skip
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    x, y = model.check_data(ids_of(200, 6), np.random.default_rng(0).integers(0, 3, 200))
    assert parts(len(x), [L.Embedding(12, E), L.MultiHeadAttention(E, H, dropout=0.1)]) == 1  # (random draws)
    # a sample of attention is a sequence's worth of work: parts of 32 samples, where a Dense model's are 64
    assert parts(64, [L.MultiHeadAttention(E, H)]) == parts(64, [L.TransformerEncoder(E, H, 8, dropout=0.0)]) == 2
    assert parts(64, [L.Embedding(12, E), L.Dense(E, 3)]) == 1
    assert_split_equals_whole(model, x, y)


# -- errors ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, kwargs, pattern", [
    ((6, 4), {}, r"embed_dim \(6\) must divide by num_heads \(4\)"),
    ((6, 0), {}, r"num_heads must be >= 1, got 0"),
    ((0, 1), {}, r"embed_dim must be >= 1, got 0"),
    ((6.0, 2), {}, r"embed_dim must be an int"),
    ((6, 2), {"dropout": 1.0}, r"dropout must be in \[0, 1\), got 1"),
    ((6, 2), {"causal": "yes"}, r"causal must be True or False"),
])  # fmt: skip
def test_bad_arguments_are_clear_errors(args, kwargs, pattern):
    with pytest.raises(nn.checks.ArgumentError, match=pattern):
        L.MultiHeadAttention(*args, **kwargs)


@pytest.mark.parametrize("args, kwargs, pattern", [
    ((0, 4), {}, r"max_length must be >= 1"),
    ((5, 0), {}, r"embed_dim must be >= 1"),
    ((5, 4), {"sinusoidal": 2}, r"sinusoidal must be True or False"),
])  # fmt: skip
def test_bad_positional_arguments_are_clear_errors(args, kwargs, pattern):
    with pytest.raises(nn.checks.ArgumentError, match=pattern):
        L.PositionalEmbedding(*args, **kwargs)


@pytest.mark.parametrize("x, pattern", [
    (np.zeros((2, 4, 5)), r"'multi_head_attention'.*its x must have shape \(.*embed_dim=6\), not \('batch', 4, 5\)"),
    (np.zeros((2, 6)), r"x must have shape \(batch, time, embed_dim=6\), not \('batch', 6\)"),
    ([np.zeros((2, 4, 6))] * 4, r"x \(self-attention\), \[query, value\] or \[query, key, value\], not a list of 4"),
    ([np.zeros((2, 4, 6)), np.zeros((3, 4, 6))], r"differ in batch size: query 2, value 3"),
    ([np.zeros((2, 4, 6)), np.zeros((2, 3, 6)), np.zeros((2, 5, 6))], r"differ in length: key 3, value 5"),
    ([np.zeros((2, 4, 6)), np.zeros((2, 3, 7))], r"its value must have shape \(batch, time, embed_dim=6\)"),
    ([np.zeros((2, 4, 6)), "v"], r"takes arrays, but input 1 is a str"),
])  # fmt: skip
def test_bad_inputs_are_clear_errors(x, pattern):
    with pytest.raises(ValueError, match=pattern):
        L.MultiHeadAttention(E, H).forward(x)


def test_bad_masks_and_graph_calls_are_clear_errors():
    layer = L.MultiHeadAttention(E, H)
    x = np.zeros((2, 4, E), np.float32)
    with pytest.raises(ValueError, match=r"expects a mask of booleans shaped \(batch, time\) = \(2, 4\), got int64"):
        layer.forward(x, mask=np.ones((2, 4), np.int64))
    with pytest.raises(ValueError, match=r"got 1 masks for 2 inputs"):
        layer.forward([x, x], mask=[None])
    with pytest.raises(nn.checks.ArgumentError, match=r"'multi_head_attention' \(MultiHeadAttention\).*embed_dim=6"):
        layer(nn.Input(shape=(4, 5)))
    with pytest.raises(nn.checks.ArgumentError, match=r"not a list of 1"):
        layer([nn.Input(shape=(4, E))])
    with pytest.raises(nn.checks.ArgumentError, match=r"differ in length: key 3, value 5"):
        layer([nn.Input(shape=(4, E)), nn.Input(shape=(3, E)), nn.Input(shape=(5, E))])


# -- learning ------------------------------------------------------------------------------------------
def attention_classifier(length=10, vocab=6, dim=16, positions=True):
    ids = nn.Input(shape=(length,), dtype="int64")
    x = L.Embedding(vocab, dim)(ids)
    if positions:
        x = L.PositionalEmbedding(length, dim)(x)
    h = L.Add()([x, L.MultiHeadAttention(dim, 2)(x)])
    return nn.Model(ids, L.Dense(2, activation="softmax")(L.GlobalAvgPool1D()(h)))


@pytest.mark.parametrize("positions", [True, False])
def test_attention_learns_whether_the_first_token_equals_the_last(positions):
    """With positions one attention layer pairs the first step with the last (>= 0.95 held out); without them
    it sees a bag of tokens, where the two ends are no different from the middle, and stays near chance."""
    nn.set_seed(0)
    x, y = nn.datasets.first_equals_last(3000, vocab=6, seed=0)
    assert ((x[:, 0] == x[:, -1]) == y).all() and 0.45 < y.mean() < 0.55
    model = attention_classifier(positions=positions)
    model.compile(optimizer=nn.optimizers.Adam(0.01), metrics=["accuracy"])
    model.fit(x[:2000], y[:2000], epochs=40, batch_size=32, verbose=0)
    accuracy = model.evaluate(x[2000:], y[2000:])["accuracy"]
    assert accuracy >= 0.95 if positions else accuracy < 0.65
