"""TransformerEncoder: finite differences, PyTorch parity (both norm orders, relu and gelu, causal, padded keys),
dropout, masks in models, files, summary, errors, and a classifier that learns whether the first token equals
the last."""

import contextlib
import io

import numpy as np
import pytest
from finite_differences import gradient_errors
from splitting import assert_split_equals_whole

import neuronet as nn
from neuronet.gradcheck import numerical_gradient, relative_error
from neuronet.saving import read_model_file, write_model_file

L = nn.layers
E, H, F = 6, 2, 10


def encoder(seed=0, **kwargs):
    """A TransformerEncoder(E, H, F) without dropout (unless asked), random nonzero weights, biases, gammas and
    betas."""
    layer = L.TransformerEncoder(E, H, F, **{"dropout": 0.0, **kwargs})
    rng = np.random.default_rng(seed)
    for p in layer.parameters():
        p.data[...] = rng.uniform(-0.8, 0.8, p.shape)
    return layer


def sequences(batch=2, steps=5, seed=1):
    return np.random.default_rng(seed).standard_normal((batch, steps, E))


def padding(steps, lengths):
    """(batch, steps) True on each sequence's first ``lengths[b]`` steps."""
    return np.arange(steps)[None, :] < np.asarray(lengths)[:, None]


# -- finite differences --------------------------------------------------------------------------------
CASES = {
    "post-norm, relu": {},
    "post-norm, gelu": {"activation": "gelu"},
    "pre-norm, relu": {"norm_first": True},
    "pre-norm, gelu": {"norm_first": True, "activation": "gelu"},
    "post-norm, causal": {"causal": True},
    "pre-norm, causal": {"norm_first": True, "causal": True},
    "post-norm, padded keys": {"lengths": [5, 3]},
    "pre-norm, causal, padded keys": {"norm_first": True, "causal": True, "lengths": [2, 4]},
    "post-norm, silu": {"activation": "silu"},
}


@pytest.mark.parametrize("case", list(CASES))
def test_gradients_match_finite_differences(float64, case):
    options = dict(CASES[case])
    lengths = options.pop("lengths", None)
    assert_gradients_match_finite_differences(
        encoder(**options), sequences(), mask=padding(5, lengths) if lengths else None
    )


@pytest.mark.parametrize("norm_first", [False, True])
def test_gradients_with_dropout_match_finite_differences(float64, norm_first):
    """In training, the generator reseeded before each pass: every dropout layer draws the same masks."""
    layer = encoder(dropout=0.3, norm_first=norm_first)
    assert_gradients_match_finite_differences(layer, sequences(), training=True)


def assert_gradients_match_finite_differences(layer, x, mask=None, training=False, tol=1e-7):
    """The input gradient and every parameter's against central differences (the key biases' 0)."""
    errors = gradient_errors(layer, x, mask, training)
    assert len(errors) == 16, sorted(errors)  # the input, 7 of attention, 2 of each Dense and LayerNormalization
    assert max(errors.values()) < tol, errors


def test_backward_params_only_adds_the_same_parameter_gradients(float64):
    for norm_first in (False, True):
        layer, x = encoder(norm_first=norm_first), sequences()
        dy = np.random.default_rng(2).standard_normal(x.shape)
        layer.forward(x)
        layer.zero_grad()
        layer.backward(dy)
        full = [p.grad.copy() for p in layer.parameters()]
        layer.zero_grad()
        assert layer.backward_params_only(dy) is None
        for a, p in zip(full, layer.parameters(), strict=True):
            np.testing.assert_allclose(p.grad, a, rtol=1e-13, atol=1e-15)


# -- PyTorch -------------------------------------------------------------------------------------------
def torch_twin(layer):
    """torch.nn.TransformerEncoderLayer(batch_first=True, dropout=0) holding ``layer``'s parameters: the
    attention's packed in_proj_weight is [Wq; Wk; Wv] as (out, in), Linear weights (out, in), LayerNorm's
    weight and bias are gamma and beta."""
    torch = pytest.importorskip("torch")
    act = layer.get_config()["activation"]
    module = torch.nn.TransformerEncoderLayer(
        E, H, F, dropout=0.0, activation=act, batch_first=True, norm_first=layer.norm_first, dtype=torch.float64
    )
    w = {n: torch.tensor(p.data) for n, p in layer.named_parameters().items()}
    with torch.no_grad():
        for ours, theirs in torch_names(module).items():
            theirs.copy_(torch.cat([w[n].T if n.endswith("weights") else w[n] for n in ours.split("+")]))
    return module


def torch_names(module) -> dict:
    """Torch's parameters by the neuronet names they hold ("a+b+c" for a packed one), weights as (out, in)."""
    attention = module.self_attn
    return {
        "attention.query_weights+attention.key_weights+attention.value_weights": attention.in_proj_weight,
        "attention.query_biases+attention.key_biases+attention.value_biases": attention.in_proj_bias,
        "attention.output_weights": attention.out_proj.weight,
        "attention.output_biases": attention.out_proj.bias,
        "dense1.weights": module.linear1.weight,
        "dense1.biases": module.linear1.bias,
        "dense2.weights": module.linear2.weight,
        "dense2.biases": module.linear2.bias,
        "norm1.gamma": module.norm1.weight,
        "norm1.beta": module.norm1.bias,
        "norm2.gamma": module.norm2.weight,
        "norm2.beta": module.norm2.bias,
    }


def torch_gradients(module) -> dict:
    """Its parameters' gradients in neuronet's names and layouts."""
    found = {}
    for ours, theirs in torch_names(module).items():
        names = ours.split("+")
        for name, grad in zip(names, theirs.grad.chunk(len(names))):
            found[name] = (grad.T if name.endswith("weights") else grad).numpy()
    return found


PARITY = {
    "post-norm, relu": (False, "relu", False, None),
    "post-norm, gelu": (False, "gelu", False, None),
    "pre-norm, relu": (True, "relu", False, None),
    "pre-norm, gelu": (True, "gelu", False, None),
    "post-norm, causal": (False, "relu", True, None),
    "pre-norm, gelu, causal": (True, "gelu", True, None),
    "post-norm, padded keys": (False, "relu", False, [5, 3]),
    "pre-norm, padded keys": (True, "gelu", False, [2, 5]),
    "post-norm, causal, padded keys": (False, "gelu", True, [4, 3]),
}


@pytest.mark.parametrize("case", list(PARITY))
def test_parity_with_torch(float64, case):
    """Forward, input gradient and every parameter's gradient at 1e-8. Torch's src_key_padding_mask is True on
    padding, neuronet's mask True on real steps. With a gradient wanted torch takes its plain path (not the
    inference fast path that zeroes padded steps), where a padded query attends as any other: its output is
    finite and equal to neuronet's, so every position is compared, padded ones included."""
    torch = pytest.importorskip("torch")
    norm_first, act, causal, lengths = PARITY[case]
    layer, x = encoder(norm_first=norm_first, activation=act, causal=causal), sequences()
    module = torch_twin(layer)
    steps = x.shape[1]
    mask = None if lengths is None else padding(steps, lengths)
    xt = torch.tensor(x, requires_grad=True)
    # torch's causal mask, -inf above the diagonal, as booleans (True: hidden) like the padding mask
    causal_mask = torch.nn.Transformer.generate_square_subsequent_mask(steps) == -np.inf
    out = module(
        xt,
        src_mask=causal_mask if causal else None,
        src_key_padding_mask=None if mask is None else torch.tensor(~mask),
        is_causal=causal,
    )
    dy = np.random.default_rng(4).standard_normal(out.shape)
    out.backward(torch.tensor(dy))
    tol = 1e-8
    np.testing.assert_allclose(layer.forward(x, mask=mask), out.detach().numpy(), rtol=tol, atol=tol)
    layer.zero_grad()
    np.testing.assert_allclose(layer.backward(dy), xt.grad.numpy(), rtol=tol, atol=tol)
    grads = torch_gradients(module)
    assert sorted(grads) == sorted(layer.named_parameters())
    for name, grad in grads.items():
        np.testing.assert_allclose(layer.named_parameters()[name].grad, grad, rtol=tol, atol=tol, err_msg=name)


# -- dropout -------------------------------------------------------------------------------------------
def test_dropout_acts_in_training_only_and_zero_dropout_is_deterministic(float64):
    x = sequences()
    with_dropout, without = encoder(dropout=0.3), encoder(dropout=0.0)
    inference = without.forward(x)
    np.testing.assert_array_equal(with_dropout.forward(x), inference)
    np.testing.assert_array_equal(without.forward(x, training=True), inference)
    first = with_dropout.forward(x, training=True)
    assert not np.allclose(first, inference)
    assert not np.allclose(with_dropout.forward(x, training=True), first)  # a new draw
    assert with_dropout.independent_samples is False and without.independent_samples is True
    assert all(d.rate == 0.3 for d in (with_dropout.dropout1, with_dropout.dropout, with_dropout.dropout2))
    assert with_dropout.attention.dropout == 0.3  # on the attention weights too, as torch's self_attn


def test_dropout_draws_from_the_models_generator(float64):
    """The held dropout layers compute with the ops their encoder is given (a model's, seeded)."""
    layer, x = encoder(dropout=0.5), sequences()
    layer.use_ops(nn.ops.NumpyOps(np.random.default_rng(3)))
    assert all(sub.ops is layer.ops for sub in layer.sublayers().values())
    a = layer.forward(x, training=True)
    layer.use_ops(nn.ops.NumpyOps(np.random.default_rng(3)))
    np.testing.assert_array_equal(layer.forward(x, training=True), a)


def test_float32_stays_float32():
    layer, x = encoder(), sequences().astype(np.float32)
    y = layer.forward(x, training=True)
    dx = layer.backward(np.ones_like(y))
    assert y.dtype == dx.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())


# -- masks and models -------------------------------------------------------------------------------------
def token_model(norm_first=False, dropout=0.1, steps=6):
    return nn.Sequential(
        [
            L.Embedding(20, E, padding_id=0),
            L.PositionalEmbedding(steps, E),
            L.TransformerEncoder(E, H, F, dropout=dropout, norm_first=norm_first),
        ],
        input_shape=(steps,),
    )


@pytest.mark.parametrize("norm_first", [False, True])
def test_a_sequential_model_hands_the_padding_mask_on(float64, norm_first):
    """A padded batch gives each sequence's real steps the outputs of that sequence alone, unpadded; the mask
    comes out of the encoder as it went in."""
    model = token_model(norm_first)
    padded = np.array([[3, 1, 4, 0, 0, 0], [1, 5, 9, 2, 6, 5]])
    together = model.predict(padded)
    np.testing.assert_allclose(together[0, :3], model.predict(padded[:1, :3])[0], rtol=1e-12)
    np.testing.assert_allclose(together[1], model.predict(padded[1:])[0], rtol=1e-12)
    mask = padding(6, [3, 6])
    assert model.layers[-1].output_mask(mask) is mask


def classifier(steps=7, vocab=12, **kwargs):
    """ids -> Embedding (padding 0) -> positions -> TransformerEncoder -> mean -> softmax, as a graph model."""
    ids = nn.Input(shape=(steps,), dtype="int64")
    x = L.PositionalEmbedding(steps, 8)(L.Embedding(vocab, 8, padding_id=0)(ids))
    h = L.TransformerEncoder(8, 2, 16, **kwargs)(x)
    return nn.Model(ids, L.Dense(3, activation="softmax")(L.GlobalAvgPool1D()(h)))


def ids_of(n, steps, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 12, (n, steps))
    ids[::2, steps // 2 :] = 0  # padding
    return ids


@pytest.mark.parametrize("kind", ["graph", "sequential"])
def test_a_model_trains_saves_and_loads(tmp_path, kind):
    kwargs = {"activation": "gelu", "norm_first": True, "causal": True}
    if kind == "graph":
        model = classifier(**kwargs)
    else:
        model = nn.Sequential([L.Embedding(12, 8, padding_id=0), L.TransformerEncoder(8, 2, 16, **kwargs),
                               L.GlobalAvgPool1D(), L.Dense(3, activation="softmax")], input_shape=(7,))  # fmt: skip
    model.compile(optimizer=nn.optimizers.Adam(0.01), metrics=["accuracy"])
    ids = ids_of(64, 7)
    history = model.fit(ids, ids[:, 0] % 3, epochs=3, batch_size=16, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    model.save(tmp_path / "m.nnet")
    loaded = nn.load_model(tmp_path / "m.nnet")
    np.testing.assert_array_equal(loaded.predict(ids), model.predict(ids))
    block = next(layer for layer in loaded.layers if isinstance(layer, L.TransformerEncoder))
    assert block.get_config() == {"embed_dim": 8, "num_heads": 2, "ff_dim": 16, "dropout": 0.1,
                                  "activation": "gelu", "norm_first": True, "causal": True}  # fmt: skip
    assert {"attention.query_weights", "dense1.weights", "norm2.beta"} <= set(block.named_arrays())
    assert len(block.named_arrays()) == 16


def test_a_held_layer_too_big_for_the_file_is_refused_before_it_allocates(tmp_path):
    """The held layers declare their arrays under their paths: a description of a larger ff_dim than the file's
    arrays fails at dense1's weights, before they are made."""
    model = token_model()
    model.save(tmp_path / "m.nnet")
    description, tensors = read_model_file(tmp_path / "m.nnet")
    description["model"]["layers"][2]["config"]["ff_dim"] = 20000
    write_model_file(tmp_path / "m.nnet", {"model": description["model"], "metadata": {}}, tensors)
    with pytest.raises(
        nn.ModelFileError, match=r"layer 2 .* weights of shape \(6, 20000\), but the file holds \(6, 10\)"
    ):
        nn.load_model(tmp_path / "m.nnet")


def capture_summary(model):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model.summary()
    return out.getvalue()


def test_the_summary_counts_the_held_layers_parameters():
    shown = capture_summary(classifier())
    e, f = 8, 16
    count = 4 * e * e + 4 * e + (e * f + f) + (f * e + e) + 4 * e
    assert "TransformerEncoder" in shown and f"{count:,}" in shown


def test_a_split_batch_gives_the_gradients_of_the_whole_batch(float64):
    """Without dropout each sample's output is its own: the thread split (beside an Embedding) is exact."""
    from neuronet.steps import parts

    model = nn.Sequential([L.Embedding(12, E, padding_id=0), L.TransformerEncoder(E, H, F, dropout=0.0),
                           L.GlobalAvgPool1D(), L.Dense(E, 3, activation="softmax")])  # fmt: skip
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    x, y = model.check_data(ids_of(200, 6), np.random.default_rng(0).integers(0, 3, 200))
    assert parts(len(x), [L.Embedding(12, E), L.TransformerEncoder(E, H, F)]) == 1  # (dropout 0.1: random draws)
    assert_split_equals_whole(model, x, y)


def test_one_block_called_twice_in_a_graph_matches_finite_differences(float64):
    """The same encoder on its own output (two calls, one set of weights): each call's backward differentiates
    that call, its held layers' memory put back, and the parameters' gradients add over both."""
    x_in = nn.Input(shape=(4, E))
    block = encoder(norm_first=True, activation="gelu")
    model = nn.Model(x_in, block(block(x_in)))
    x = sequences(steps=4)
    r = np.random.default_rng(2).standard_normal(x.shape)

    def loss():
        return float(np.sum(model.forward(x) * r))

    model.forward(x, training=True)
    model.zero_grad()
    assert relative_error(model.backward(r), numerical_gradient(loss, x)) < 1e-7
    for name, p in block.named_parameters().items():
        if name != "attention.key_biases":
            assert relative_error(p.grad, numerical_gradient(loss, p.data)) < 1e-7, name


# -- errors ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, kwargs, pattern", [
    ((6, 4, 8), {}, r"TransformerEncoder embed_dim \(6\) must divide by num_heads \(4\)"),
    ((6, 2, 0), {}, r"TransformerEncoder ff_dim must be >= 1, got 0"),
    ((6, 2, 8.5), {}, r"TransformerEncoder ff_dim must be an int"),
    ((6, 0, 8), {}, r"TransformerEncoder num_heads must be >= 1"),
    ((6, 2, 8), {"activation": "swish"}, r"TransformerEncoder activation: unknown activation 'swish'.*'gelu'"),
    ((6, 2, 8), {"activation": None}, r"TransformerEncoder activation must be an activation.*got None"),
    ((6, 2, 8), {"dropout": 1.0}, r"TransformerEncoder dropout must be in \[0, 1\), got 1"),
    ((6, 2, 8), {"norm_first": "yes"}, r"TransformerEncoder norm_first must be True or False"),
    ((6, 2, 8), {"causal": 1.5}, r"TransformerEncoder causal must be True or False"),
])  # fmt: skip
def test_bad_arguments_are_clear_errors(args, kwargs, pattern):
    with pytest.raises(nn.checks.ArgumentError, match=pattern):
        L.TransformerEncoder(*args, **kwargs)


def test_bad_inputs_are_clear_errors():
    layer = L.TransformerEncoder(E, H, F)
    with pytest.raises(ValueError, match=r"'transformer_encoder' \(TransformerEncoder\) expects input of shape "
                                         r"\(batch, time, embed_dim=6\), but received shape \(2, 4, 5\)"):  # fmt: skip
        layer.forward(np.zeros((2, 4, 5), np.float32))
    with pytest.raises(ValueError, match=r"received shape \(2, 6\)"):
        layer.forward(np.zeros((2, 6), np.float32))
    with pytest.raises(ValueError, match=r"'transformer_encoder'.*embed_dim=6\), not \('batch', 4, 5\).*6 features"):
        layer(nn.Input(shape=(4, 5)))
    with pytest.raises(ValueError, match=r"expects a mask of booleans"):
        layer.forward(np.zeros((2, 4, E), np.float32), mask=np.ones((2, 4), np.int64))


# -- learning ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm_first", [False, True])
def test_a_transformer_learns_whether_the_first_token_equals_the_last(norm_first):
    """Embedding -> PositionalEmbedding -> TransformerEncoder -> mean -> softmax: >= 0.95 held out."""
    nn.set_seed(0)
    x, y = nn.datasets.first_equals_last(3000, vocab=5, seed=0)
    assert ((x[:, 0] == x[:, -1]) == y).all() and 0.45 < y.mean() < 0.55
    model = nn.Sequential(
        [L.Embedding(5, 16), L.PositionalEmbedding(10, 16),
         L.TransformerEncoder(16, 2, 32, dropout=0.0, norm_first=norm_first),
         L.GlobalAvgPool1D(), L.Dense(2, activation="softmax")],
        input_shape=(10,),
    )  # fmt: skip
    model.compile(optimizer=nn.optimizers.Adam(0.005), metrics=["accuracy"])
    model.fit(x[:2000], y[:2000], epochs=30, batch_size=32, verbose=0)
    assert model.evaluate(x[2000:], y[2000:])["accuracy"] >= 0.95
