"""PyTorch state dicts: a model's weights, loaded into the equivalent torch.nn modules, give the same outputs
(float64, 1e-10), and a torch module's state dict loads back into the model."""

import numpy as np
import pytest

import neuronet as nn
from neuronet.interop import load_torch_state_dict, to_torch_state_dict

torch = pytest.importorskip("torch")
L, T, F = nn.layers, torch.nn, torch.nn.functional


class Named(T.Module):
    """Torch modules under the neuronet layers' names, run by ``run(self, x)``."""

    def __init__(self, modules: dict, run):
        super().__init__()
        for name, module in modules.items():
            self.add_module(name, module)
        self.run = run

    def forward(self, x):
        return self.run(self, x)


def last(outputs):
    return outputs[0][:, -1] if isinstance(outputs, tuple) else outputs[:, -1]


def cases():
    """(neuronet layers, torch modules by the layers' default names, how torch runs them, an input)."""
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 20, (3, 6))
    return {
        "mlp": (
            [L.Dense(5, 8, activation="relu"), L.BatchNormalization(8), L.Dense(8, 3)],
            {"dense": T.Linear(5, 8), "batch_normalization": T.BatchNorm1d(8, eps=1e-3), "dense_1": T.Linear(8, 3)},
            lambda m, x: m.dense_1(m.batch_normalization(torch.relu(m.dense(x)))),
            rng.standard_normal((4, 5)),
        ),
        "cnn": (
            [L.Conv2D(3, 4, 3, stride=2, padding=1, activation="relu"), L.BatchNormalization(4),
             L.Conv2DTranspose(4, 2, 3, stride=2, padding=1, output_padding=1)],
            {"conv2d": T.Conv2d(3, 4, 3, stride=2, padding=1), "batch_normalization": T.BatchNorm2d(4, eps=1e-3),
             "conv2d_transpose": T.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)},
            lambda m, x: m.conv2d_transpose(m.batch_normalization(torch.relu(m.conv2d(x.permute(0, 3, 1, 2)))))
            .permute(0, 2, 3, 1),
            rng.standard_normal((2, 6, 6, 3)),
        ),
        "text": (
            [L.Embedding(20, 6), L.Conv1D(6, 5, 3, padding="same"), L.TimeDistributed(L.Dense(5, 2))],
            {"embedding": T.Embedding(20, 6), "conv1d": T.Conv1d(6, 5, 3, padding=1),
             "time_distributed": T.Linear(5, 2)},
            lambda m, x: m.time_distributed(m.conv1d(m.embedding(x).transpose(1, 2)).transpose(1, 2)),
            ids,
        ),
        "recurrent": (
            [L.Embedding(20, 6), L.Bidirectional(L.LSTM(6, 4, return_sequences=True)),
             L.SimpleRNN(8, 5, return_sequences=True), L.GRU(5, 3), L.Dense(3, 2)],
            {"embedding": T.Embedding(20, 6), "bidirectional": T.LSTM(6, 4, batch_first=True, bidirectional=True),
             "simple_rnn": T.RNN(8, 5, batch_first=True), "gru": T.GRU(5, 3, batch_first=True),
             "dense": T.Linear(3, 2)},
            lambda m, x: m.dense(last(m.gru(m.simple_rnn(m.bidirectional(m.embedding(x))[0])[0]))),
            ids,
        ),
        "layer_norm": (
            [L.Dense(5, 8, activation="gelu"), L.LayerNormalization(8), L.ELU(0.5), L.Dense(8, 4, activation="silu"),
             L.LayerNormalization(4, epsilon=1e-3), L.SELU(), L.Softplus()],
            {"dense": T.Linear(5, 8), "layer_normalization": T.LayerNorm(8), "dense_1": T.Linear(8, 4),
             "layer_normalization_1": T.LayerNorm(4, eps=1e-3)},
            lambda m, x: F.softplus(F.selu(m.layer_normalization_1(F.silu(m.dense_1(
                F.elu(m.layer_normalization(F.gelu(m.dense(x))), 0.5)))))),
            rng.standard_normal((3, 6, 5)),
        ),
    }  # fmt: skip


def randomise_torch(module, seed):
    """Random, nonzero weights, biases and running statistics."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for key, value in module.state_dict().items():
            if value.is_floating_point():
                low = 0.5 if "running_var" in key else -0.8
                value.copy_(torch.from_numpy(rng.uniform(low, 1.0, tuple(value.shape))))


def outputs_of(module, x):
    module.double().eval()
    with torch.no_grad():
        return module(torch.from_numpy(x) if x.dtype.kind == "i" else torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("name", ["mlp", "cnn", "text", "recurrent", "layer_norm"])
def test_a_state_dict_runs_the_same_in_torch_and_comes_back(float64, name):
    layers, modules, run, x = cases()[name]
    model = nn.Sequential(layers)
    assert [layer.name for layer in model.layers if layer.parameters()] == list(modules)
    theirs = Named(modules, run)
    randomise_torch(theirs, seed=1)
    load_torch_state_dict(model, theirs.state_dict())  # torch -> neuronet
    np.testing.assert_allclose(model.predict(x), outputs_of(theirs, x), rtol=1e-10, atol=1e-12)
    for layer in model.layers:  # new random weights on our side, then neuronet -> torch
        for p in layer.parameters():
            p.data[...] = np.random.default_rng(p.data.size).uniform(-0.8, 0.8, p.shape)
    fresh = Named(cases()[name][1], run).double()
    fresh.load_state_dict(to_torch_state_dict(model))
    np.testing.assert_allclose(outputs_of(fresh, x), model.predict(x), rtol=1e-10, atol=1e-12)


def residual_graph():
    """A residual block whose Dense is called twice (a shared layer), batch-normalised, and a head."""
    x = nn.Input(shape=(5,))
    block = L.Dense(5, activation="tanh")
    h = L.BatchNormalization()(L.Add()([x, block(block(x))]))
    return nn.Model(x, L.Dense(3)(h))


class Residual(T.Module):
    """``residual_graph`` written in torch: one Linear called twice."""

    def __init__(self):
        super().__init__()
        self.dense, self.batch_normalization, self.dense_1 = T.Linear(5, 5), T.BatchNorm1d(5, eps=1e-3), T.Linear(5, 3)

    def forward(self, x):
        return self.dense_1(self.batch_normalization(x + torch.tanh(self.dense(torch.tanh(self.dense(x))))))


def two_inputs_graph():
    """An image through a convolution, and a table, concatenated."""
    image, table = nn.Input(shape=(4, 4, 2)), nn.Input(shape=(3,))
    features = L.Flatten()(L.GlobalAvgPool2D()(L.Conv2D(3, 3, padding="same", activation="relu")(image)))
    return nn.Model([image, table], L.Dense(2)(L.Concatenate()([features, L.Dense(4)(table)])))


class TwoInputs(T.Module):
    def __init__(self):
        super().__init__()
        self.conv2d, self.dense, self.dense_1 = T.Conv2d(2, 3, 3, padding=1), T.Linear(3, 4), T.Linear(7, 2)

    def forward(self, image, table):
        features = torch.relu(self.conv2d(image.permute(0, 3, 1, 2))).mean(dim=(2, 3))
        return self.dense_1(torch.cat([features, self.dense(table)], dim=1))


@pytest.mark.parametrize("make, module", [(residual_graph, Residual), (two_inputs_graph, TwoInputs)])
def test_a_graph_models_state_dict_runs_the_same_in_torch_and_comes_back(float64, make, module):
    rng = np.random.default_rng(0)
    model = make()
    xs = [rng.standard_normal((4, *node.shape[1:])) for node in model.graph.inputs]
    x = xs if model.several_inputs else xs[0]
    theirs = module()
    randomise_torch(theirs, seed=1)
    state = theirs.state_dict()
    load_torch_state_dict(model, state)  # torch -> neuronet
    theirs.double().eval()
    with torch.no_grad():
        expected = theirs(*(torch.from_numpy(v) for v in xs)).numpy()
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-10, atol=1e-12)
    back = to_torch_state_dict(model)  # neuronet -> torch: every key once, a shared layer's too
    assert list(back) == list(state)
    for key, value in state.items():
        np.testing.assert_allclose(back[key].numpy(), value.numpy(), rtol=1e-15, err_msg=key)


def test_a_model_not_yet_built_is_a_clear_error(float64):
    model = nn.Sequential([L.Dense(4), L.Dense(2)])  # sizes from the first batch
    with pytest.raises(ValueError, match=r"no weights yet.*predict on data or give input_shape= or nn.Input"):
        to_torch_state_dict(model)
    with pytest.raises(ValueError, match=r"layer 'dense' has no weights yet"):
        load_torch_state_dict(model, {})


def test_mistakes_are_clear_errors(float64):
    model = nn.Sequential([L.Dense(5, 8), L.Dense(8, 3)])
    state = to_torch_state_dict(model)
    with pytest.raises(ValueError, match="has no 'dense_1.bias' for layer 'dense_1'"):
        load_torch_state_dict(model, {k: v for k, v in state.items() if k != "dense_1.bias"})
    with pytest.raises(ValueError, match=r"'dense.weight' has shape \(5, 8\); layer 'dense' needs \(8, 5\)"):
        load_torch_state_dict(model, state | {"dense.weight": state["dense.weight"].T})
    with pytest.raises(ValueError, match="no place for: \\['extra.weight'\\]"):
        load_torch_state_dict(model, state | {"extra.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="SparseDense\\) has no PyTorch counterpart"):
        to_torch_state_dict(nn.Sequential([L.SparseDense(4, 3, density=0.5)]))
    with pytest.raises(ValueError, match="merge_mode='sum' has no torch counterpart"):
        to_torch_state_dict(nn.Sequential([L.Bidirectional(L.GRU(2, 3), merge_mode="sum")]))


@pytest.mark.parametrize("key", ["dense.weight", "dense_1.bias"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_weights_are_refused_naming_the_key(float64, key, bad):
    model = nn.Sequential([L.Dense(5, 8), L.Dense(8, 3)])
    before = model.get_weights()
    state = to_torch_state_dict(model)
    state[key] = state[key].clone()
    state[key].view(-1)[1] = bad
    with pytest.raises(ValueError, match=rf"the state dict's '{key}' holds 1 NaN or infinite value\(s\)"):
        load_torch_state_dict(model, state)
    for a, b in zip(model.get_weights(), before):  # nothing written
        np.testing.assert_array_equal(a, b)


def test_a_non_finite_second_recurrent_bias_is_refused_too(float64):
    model = nn.Sequential([L.LSTM(3, 2)])
    state = to_torch_state_dict(model)
    state["lstm.bias_hh_l0"] = torch.full((8,), float("nan"), dtype=torch.float64)
    with pytest.raises(ValueError, match="'lstm.bias_hh_l0' holds 8 NaN"):
        load_torch_state_dict(model, state)


def test_what_is_no_state_dict_is_refused_clearly():
    model = nn.Sequential([L.Dense(2, 1)])
    with pytest.raises(ValueError, match=r"model must be a neuronet model \(nn.Sequential or nn.Model\), got str"):
        load_torch_state_dict("model.nnet", {})
    with pytest.raises(ValueError, match="state_dict must be a dict of tensors or arrays"):
        load_torch_state_dict(model, [np.zeros((1, 2))])
    with pytest.raises(ValueError, match="the state dict's 'dense.weight' holds text"):
        load_torch_state_dict(model, {"dense.weight": np.array([["a", "b"]]), "dense.bias": np.zeros(1)})


E, HEADS = 6, 3


def attention_graph(inputs=1, causal=False):
    """Token ids through an Embedding (padding id 0) and learned positions, then attention: self-attention, or
    cross-attention on [query, value] / [query, key, value] with a second sequence of ids."""
    x = nn.Input(shape=(None,), dtype="int64")
    h = L.PositionalEmbedding(10, E)(L.Embedding(20, E, padding_id=0)(x))
    if inputs == 1:
        return nn.Model(x, L.MultiHeadAttention(E, HEADS, causal=causal)(h))
    m = nn.Input(shape=(None,), dtype="int64")
    hm = L.Embedding(20, E, padding_id=0)(m)
    listed = [h, hm] if inputs == 2 else [h, L.Dense(E)(hm), hm]
    return nn.Model([x, m], L.MultiHeadAttention(E, HEADS, causal=causal)(listed))


class Attention(T.Module):
    """``attention_graph`` in torch: nn.MultiheadAttention with the padded keys as ``key_padding_mask`` and the
    causal mask as ``attn_mask`` (True: hidden), on positions from an Embedding of 0 ... time - 1."""

    def __init__(self, inputs=1, causal=False):
        super().__init__()
        self.inputs, self.causal = inputs, causal
        self.embedding, self.positional_embedding = T.Embedding(20, E), T.Embedding(10, E)
        if inputs > 1:
            self.embedding_1 = T.Embedding(20, E)
        if inputs == 3:
            self.dense = T.Linear(E, E)
        self.multi_head_attention = T.MultiheadAttention(E, HEADS, batch_first=True)

    def forward(self, x, m=None):
        h = self.embedding(x) + self.positional_embedding(torch.arange(x.shape[1]))
        tokens = x if m is None else m
        key = value = h if m is None else self.embedding_1(m)
        if self.inputs == 3:
            key = self.dense(value)
        causal = torch.triu(torch.ones(x.shape[1], tokens.shape[1], dtype=torch.bool), 1) if self.causal else None
        return self.multi_head_attention(h, key, value, key_padding_mask=tokens == 0, attn_mask=causal,
                                         need_weights=False)[0]  # fmt: skip


@pytest.mark.parametrize("inputs, causal", [(1, False), (1, True), (2, False), (3, True)])
def test_attention_state_dicts_run_the_same_in_torch_and_come_back(float64, inputs, causal):
    """torch -> neuronet: the same outputs (padded keys included; post padding, so that no query has all its
    keys hidden, where torch gives NaN); neuronet -> torch: the same keys and values back, and the same outputs
    from new random weights."""
    rng = np.random.default_rng(0)
    xs = [rng.integers(1, 20, (4, 7)), rng.integers(1, 20, (4, 5))][: 1 if inputs == 1 else 2]
    for x in xs:
        x[1, 4:], x[2, 2:] = 0, 0
    model, theirs = attention_graph(inputs, causal), Attention(inputs, causal)
    randomise_torch(theirs, seed=1)
    state = theirs.state_dict()
    assert {k for k in state if "attention" in k} == {f"multi_head_attention.{k}" for k in (
        "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias")}  # fmt: skip
    load_torch_state_dict(model, state)
    attention = model.layers[-1]
    np.testing.assert_array_equal(attention.key_weights.data, state["multi_head_attention.in_proj_weight"][E : 2 * E].T)
    theirs.double().eval()
    given = xs if inputs > 1 else xs[0]
    with torch.no_grad():
        expected = theirs(*(torch.from_numpy(x) for x in xs)).numpy()
    np.testing.assert_allclose(model.predict(given), expected, rtol=1e-10, atol=1e-12)
    back = to_torch_state_dict(model)
    assert list(back) == list(state)
    for key, value in state.items():
        np.testing.assert_array_equal(back[key].numpy(), value.numpy(), err_msg=key)
    for p in model.parameters():  # neuronet -> a fresh torch module
        p.data[...] = rng.uniform(-0.8, 0.8, p.shape)
    fresh = Attention(inputs, causal).double().eval()
    fresh.load_state_dict(to_torch_state_dict(model))
    with torch.no_grad():
        np.testing.assert_allclose(fresh(*(torch.from_numpy(x) for x in xs)).numpy(), model.predict(given),
                                   rtol=1e-10, atol=1e-12)  # fmt: skip


def test_attention_state_dict_mistakes_are_clear_errors(float64):
    model = nn.Sequential([L.MultiHeadAttention(4, 2), L.PositionalEmbedding(5, 4, sinusoidal=True)])
    state = to_torch_state_dict(model)
    assert sorted(state) == [
        f"multi_head_attention.{k}" for k in ("in_proj_bias", "in_proj_weight", "out_proj.bias", "out_proj.weight")
    ]  # fmt: skip (sinusoidal: no weights)
    before = model.get_weights()
    weight = state["multi_head_attention.in_proj_weight"]
    for bad in (weight[:8], weight.T, weight[:, :, None], torch.zeros(12)):
        with pytest.raises(ValueError, match=r"'multi_head_attention.in_proj_weight' has shape .*needs \(12, 4\)"):
            load_torch_state_dict(model, state | {"multi_head_attention.in_proj_weight": bad})
    with pytest.raises(ValueError, match="has no 'multi_head_attention.in_proj_bias'"):
        load_torch_state_dict(model, {k: v for k, v in state.items() if k != "multi_head_attention.in_proj_bias"})
    for a, b in zip(model.get_weights(), before):  # nothing written
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("norm_first", [False, True], ids=["post_norm", "pre_norm"])
@pytest.mark.parametrize("activation, causal", [("relu", False), ("gelu", True)])
def test_transformer_encoder_state_dicts_run_the_same_in_torch_and_come_back(float64, norm_first, activation, causal):
    """TransformerEncoder <-> TransformerEncoderLayer(batch_first=True): self_attn, linear1, linear2, norm1,
    norm2 under the layer's name; the same outputs both ways."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 7, E))
    model = nn.Sequential([L.TransformerEncoder(E, HEADS, 10, activation=activation, norm_first=norm_first,
                                                causal=causal)])  # fmt: skip

    def torch_layer():
        return T.TransformerEncoderLayer(E, HEADS, 10, dropout=0.0, activation=activation, batch_first=True,
                                         norm_first=norm_first).double().eval()  # fmt: skip

    def run(module):
        mask = torch.triu(torch.ones(7, 7, dtype=torch.bool), 1) if causal else None
        with torch.no_grad():
            return module.transformer_encoder(torch.from_numpy(x), src_mask=mask).numpy()

    theirs = Named({"transformer_encoder": torch_layer()}, None)
    randomise_torch(theirs, seed=1)
    state = theirs.state_dict()
    load_torch_state_dict(model, state)
    np.testing.assert_allclose(model.predict(x), run(theirs), rtol=1e-10, atol=1e-12)
    back = to_torch_state_dict(model)
    assert sorted(back) == sorted(state)
    for key, value in state.items():
        np.testing.assert_array_equal(back[key].numpy(), value.numpy(), err_msg=key)
    for p in model.parameters():
        p.data[...] = rng.uniform(-0.8, 0.8, p.shape)
    fresh = Named({"transformer_encoder": torch_layer()}, None)
    fresh.load_state_dict(to_torch_state_dict(model))
    np.testing.assert_allclose(run(fresh), model.predict(x), rtol=1e-10, atol=1e-12)
