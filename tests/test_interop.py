"""PyTorch state dicts: a model's weights, loaded into the equivalent torch.nn modules, give the same outputs
(float64, 1e-10), and a torch module's state dict loads back into the model."""

import numpy as np
import pytest

import neuronet as nn
from neuronet.interop import load_torch_state_dict, to_torch_state_dict

torch = pytest.importorskip("torch")
L, T = nn.layers, torch.nn


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


@pytest.mark.parametrize("name", ["mlp", "cnn", "text", "recurrent"])
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
    with pytest.raises(ValueError, match="model must be a neuronet model"):
        load_torch_state_dict("model.nnet", {})
    with pytest.raises(ValueError, match="state_dict must be a dict of tensors or arrays"):
        load_torch_state_dict(model, [np.zeros((1, 2))])
    with pytest.raises(ValueError, match="the state dict's 'dense.weight' holds text"):
        load_torch_state_dict(model, {"dense.weight": np.array([["a", "b"]]), "dense.bias": np.zeros(1)})
