"""ONNX export of MultiHeadAttention and PositionalEmbedding: onnxruntime's outputs equal model.predict (float32,
1e-5 absolute and 1e-4 relative) at several sequence lengths, for self-, causal, padded and cross-attention,
learned and sinusoidal positions; a query whose keys are all hidden gives the output biases, as in neuronet."""

import numpy as np
import pytest

import neuronet as nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
L = nn.layers
E, HEADS, VOCAB, MAX = 8, 2, 30, 40
LENGTHS = (1, 5, 12, 31)


def rng(seed=0):
    return np.random.default_rng(seed)


def ids(steps, n=12, padding=None, seed=1):
    """Token ids; with ``padding``, sequences of 0..steps real tokens padded (id 0) before or after them (some
    all padding, some none)."""
    x = rng(seed + steps).integers(1, VOCAB, (n, steps))
    if padding:
        for i, length in enumerate(rng(seed + 100 + steps).integers(0, steps + 1, n)):
            if padding == "pre":
                x[i, : steps - length] = 0
            else:
                x[i, length:] = 0
    return x


def randomised(model, seed=2):
    """Every parameter, biases included, drawn anew: nothing zero by initialisation hides a mistake."""
    generator = rng(seed)
    for p in model.parameters():
        p.assign(0.5 * generator.standard_normal(p.data.shape))
    return model


def self_attention(causal=False, padding_id=None, sinusoidal=False, dropout=0.0):
    """Token ids -> Embedding -> positions -> attention, every step's output (padded ones too) compared."""
    x = nn.Input(shape=(None,), dtype="int64")
    h = L.PositionalEmbedding(MAX, E, sinusoidal=sinusoidal)(L.Embedding(VOCAB, E, padding_id=padding_id)(x))
    y = L.MultiHeadAttention(E, HEADS, dropout=dropout, causal=causal)(h)
    return nn.Model(x, L.Dense(3)(L.Add()([h, y])))


def cross_attention(inputs=2, causal=False, padding_id=0):
    """A query sequence and a (padded) memory sequence of another length: [query, value] or [query, key,
    value], the key through a Dense of its own."""
    q, m = nn.Input(shape=(None,), dtype="int64", name="query"), nn.Input(shape=(None,), dtype="int64", name="memory")
    hq = L.PositionalEmbedding(MAX, E)(L.Embedding(VOCAB, E)(q))
    hm = L.PositionalEmbedding(MAX, E, sinusoidal=True)(L.Embedding(VOCAB, E, padding_id=padding_id)(m))
    listed = [hq, hm] if inputs == 2 else [hq, L.Dense(E, activation="tanh")(hm), hm]
    return nn.Model([q, m], L.MultiHeadAttention(E, HEADS, causal=causal)(listed))


def session(model, path):
    nn.onnx.export(model, path)
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == 17
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def same(theirs, ours):
    assert np.isfinite(theirs).all()
    np.testing.assert_allclose(theirs, ours, rtol=1e-4, atol=1e-5)


SELF = {
    "plain": dict(),
    "causal": dict(causal=True),
    "padded_pre": dict(padding_id=0),
    "padded_causal": dict(padding_id=0, causal=True),
    "sinusoidal": dict(sinusoidal=True, causal=True),
    "dropout": dict(dropout=0.3, padding_id=0),
}


@pytest.mark.parametrize("name", sorted(SELF))
def test_self_attention_gives_what_predict_gives_at_any_length(name, tmp_path):
    nn.set_seed(0)
    settings = SELF[name]
    model = randomised(self_attention(**settings))
    run = session(model, tmp_path / "m.onnx")
    assert run.get_inputs()[0].shape == ["batch", "time"] and run.get_outputs()[0].shape == ["batch", "time", 3]
    for steps in LENGTHS:
        for padding in ("pre", "post") if settings.get("padding_id") is not None else (None,):
            x = ids(steps, padding=padding)
            same(run.run(None, {"input": x})[0], model.predict(x))


@pytest.mark.parametrize("inputs", [2, 3])
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_cross_attention_gives_what_predict_gives(inputs, causal, tmp_path):
    nn.set_seed(0)
    model = randomised(cross_attention(inputs, causal))
    run = session(model, tmp_path / "m.onnx")
    for t_q, t_k in ((1, 1), (4, 9), (9, 4), (12, 31)):
        for padding in ("pre", "post"):
            xq, xm = ids(t_q, seed=3), ids(t_k, padding=padding, seed=4)
            same(run.run(None, {"query": xq, "memory": xm})[0], model.predict([xq, xm]))


def test_a_query_whose_keys_are_all_hidden_outputs_the_output_biases(tmp_path):
    """A sequence of padding only (every key hidden), and the first steps of "pre" padding under a causal mask:
    weights 0, output the output biases, in neuronet and in ONNX (not NaN)."""
    x = nn.Input(shape=(None,), dtype="int64")
    attention = L.MultiHeadAttention(E, HEADS, causal=True)
    model = randomised(nn.Model(x, attention(L.Embedding(VOCAB, E, padding_id=0)(x))))
    run = session(model, tmp_path / "m.onnx")
    tokens = np.array([[0, 0, 0, 0, 0], [0, 0, 3, 4, 5]])
    ours, theirs = model.predict(tokens), run.run(None, {"input": tokens})[0]
    biases = attention.output_biases.data
    np.testing.assert_allclose(ours[0], np.broadcast_to(biases, (5, E)), rtol=1e-6)
    np.testing.assert_allclose(ours[1, :2], np.broadcast_to(biases, (2, E)), rtol=1e-6)
    same(theirs, ours)


def test_a_classifier_with_a_shared_attention_layer_and_a_sequential_model(tmp_path):
    """One attention layer called at two nodes (its weights stored once), and a Sequential model of float
    sequences, trained a little, at lengths it never saw."""
    nn.set_seed(0)
    x = nn.Input(shape=(None,), dtype="int64")
    h = L.PositionalEmbedding(MAX, E)(L.Embedding(VOCAB, E, padding_id=0)(x))
    shared = L.MultiHeadAttention(E, HEADS)
    h = L.LayerNormalization()(L.Add()([h, shared(h)]))
    h = L.Add()([h, shared(h)])
    model = nn.Model(x, L.Dense(2, activation="softmax")(L.GlobalAvgPool1D()(h)))
    data = ids(10, n=32, padding="post")
    model.compile(optimizer=nn.optimizers.Adam(0.01))
    model.fit(data, rng(5).integers(0, 2, 32), epochs=2, batch_size=8, verbose=0)
    run = session(model, tmp_path / "m.onnx")
    proto = onnx.load(tmp_path / "m.onnx")
    assert sum(w.name.startswith("query_weights") for w in proto.graph.initializer) == 1
    for steps in (3, 10, 17):
        x = ids(steps, padding="pre")
        same(run.run(None, {"input": x})[0], model.predict(x))
    sequential = randomised(nn.Sequential([L.PositionalEmbedding(MAX, E, sinusoidal=True),
                                           L.MultiHeadAttention(E, 4, causal=True), L.Dense(E, 3)]))  # fmt: skip
    run = session(sequential, tmp_path / "s.onnx")
    for steps in (2, 7, MAX):
        x = rng(steps).standard_normal((5, steps, E))
        same(run.run(None, {"input": x.astype(np.float32)})[0], sequential.predict(x))


def test_a_sequence_longer_than_the_positions_is_refused(tmp_path):
    """neuronet refuses it with a clear error; the graph cannot take it either (the runtime refuses the Add)."""
    model = randomised(self_attention())
    run = session(model, tmp_path / "m.onnx")
    x = ids(MAX + 1)
    with pytest.raises(ValueError, match="max_length=40"):
        model.predict(x)
    with pytest.raises(Exception):  # noqa: B017 -- onnxruntime's own error class
        run.run(None, {"input": x})
    with pytest.raises(ValueError, match="max_length=40"):
        nn.onnx.export(model, tmp_path / "long.onnx", input_shape=(MAX + 1,))


@pytest.mark.parametrize("norm_first", [False, True], ids=["post_norm", "pre_norm"])
@pytest.mark.parametrize("activation, causal", [("relu", False), ("gelu", True)])
def test_transformer_encoders_give_what_predict_gives(norm_first, activation, causal, tmp_path):
    """Two encoder blocks on padded token ids (their held layers composed, dropout absent), at several
    lengths."""
    nn.set_seed(0)
    x = nn.Input(shape=(None,), dtype="int64")
    h = L.PositionalEmbedding(MAX, E)(L.Embedding(VOCAB, E, padding_id=0)(x))
    for _ in range(2):
        h = L.TransformerEncoder(E, HEADS, 16, dropout=0.1, activation=activation, norm_first=norm_first,
                                 causal=causal)(h)  # fmt: skip
    model = randomised(nn.Model(x, L.Dense(3)(h)))
    run = session(model, tmp_path / "m.onnx")
    for steps in LENGTHS:
        for padding in ("pre", "post"):
            x = ids(steps, padding=padding)
            same(run.run(None, {"input": x})[0], model.predict(x))
