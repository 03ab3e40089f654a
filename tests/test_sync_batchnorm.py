"""BatchNormalization(synchronized=True) outside MPI: in one process it computes exactly as the unsynchronized
layer; the flag is kept in the model file (old files without it load as False) and checked. Its equality over
two ranks with one process, and the unsynchronized layer's difference, are in test_distributed.py."""

import json

import numpy as np
import pytest

import neuronet as nn
from neuronet.layers.base import deserialize

L = nn.layers


@pytest.fixture(autouse=True)
def float64():
    nn.set_dtype("float64")
    yield
    nn.set_dtype("float32")


def build(synchronized: bool) -> nn.Sequential:
    nn.set_seed(0)
    model = nn.Sequential([
        L.Conv2D(2, 3, 3, padding="same"), L.BatchNormalization(synchronized=synchronized), L.ReLU(),
        L.Flatten(), L.Dense(48, 3, activation="softmax"),
    ])  # fmt: skip
    model.compile(optimizer=nn.optimizers.Adam(0.01))
    return model


@pytest.mark.parametrize("distributed", [False, True])
def test_in_one_process_synchronized_trains_exactly_as_unsynchronized(distributed):
    """Weights and running statistics equal bit for bit after training, with fit(distributed=True) alone too
    (no other rank: nothing to sum over)."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((37, 4, 4, 2)), rng.integers(0, 3, 37)
    found = []
    for synchronized in (True, False):
        model = build(synchronized)
        model.fit(x, y, epochs=2, batch_size=8, verbose=0, distributed=distributed)
        found.append(model.get_weights() + [model.layers[1].running_mean, model.layers[1].running_var])
    for a, b in zip(*found):
        np.testing.assert_array_equal(a, b)


def test_the_flag_is_saved_and_a_file_without_it_loads_unsynchronized(tmp_path):
    model = build(True)
    model.fit(np.random.default_rng(1).standard_normal((8, 4, 4, 2)), np.arange(8) % 3, epochs=1, verbose=0)
    model.save(tmp_path / "m.nnet")
    loaded = nn.load_model(tmp_path / "m.nnet")
    assert loaded.layers[1].synchronized is True and loaded.layers[1].get_config()["synchronized"] is True
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    old = json.loads(json.dumps({"class": "BatchNormalization", "name": "bn", "config": {"n_features": 3}}))
    assert deserialize(old).synchronized is False


@pytest.mark.parametrize("bad", ["yes", 2, None, 0.5])
def test_a_bad_flag_is_a_clear_error(bad):
    with pytest.raises(ValueError, match=r"BatchNormalization synchronized must be True or False, got"):
        L.BatchNormalization(4, synchronized=bad)


def test_the_sum_over_ranks_is_taken_only_when_synchronized():
    """The MPI step hands its sum to every layer that asks; an unsynchronized layer keeps its own statistics."""
    x = np.random.default_rng(2).standard_normal((6, 3))
    calls = []
    for synchronized in (True, False):
        layer = L.BatchNormalization(3, synchronized=synchronized)
        layer.synchronize_over(lambda arrays, step: calls.append(step))  # (one rank: the sum is the array itself)
        layer.backward(layer.forward(x, training=True))
        layer.synchronize_over(None)
        layer.backward(layer.forward(x, training=True))
    assert calls == [
        f"the {what} of layer 'batch_normalization' (BatchNormalization(synchronized=True))"
        for what in ("batch sums", "batch sums of squares", "backward sums")
    ]
