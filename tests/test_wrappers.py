"""Layers that hold layers (TimeDistributed): trained, checked, saved and reloaded through the wrapper."""

import numpy as np
import pytest

import neuronet as nn
from neuronet.gradcheck import check_layer
from neuronet.saving import read_model_file, write_model_file

L = nn.layers


def test_time_distributed_gradients(float64):
    layer = L.TimeDistributed(L.Dense(4, 3, activation="tanh"))
    layer.layer.biases.data[:] = np.random.default_rng(0).standard_normal(3)
    errors = check_layer(layer, np.random.default_rng(1).standard_normal((2, 5, 4)))
    assert set(errors) == {"input", "layer.weights", "layer.biases"} and max(errors.values()) < 1e-7


def test_time_distributed_applies_the_same_layer_at_every_step(float64):
    inner = L.Conv2D(1, 2, 3, padding="same")
    x = np.random.default_rng(2).standard_normal((2, 4, 5, 5, 1))  # 4 frames of 5 x 5 images
    y = L.TimeDistributed(inner).forward(x)
    for t in range(4):
        np.testing.assert_allclose(y[:, t], inner.forward(x[:, t]), rtol=1e-12)


def sequence_model():
    return nn.Sequential(
        [L.TimeDistributed(L.Dense(4, 6, activation="relu")), L.TimeDistributed(L.Dense(6, 3, activation="softmax"))]
    )


def test_a_model_of_wrappers_trains_saves_and_reloads_exactly(tmp_path):
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((64, 5, 4)), rng.integers(0, 3, (64, 5))  # a label per step
    y[x[:, :, 0] > 0.5] = 2
    model = sequence_model()
    model.compile(optimizer=nn.optimizers.Adam(0.05), metrics=["accuracy"])
    history = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]
    assert [p.shape for p in model.parameters()] == [(4, 6), (6,), (6, 3), (3,)]
    model.save(tmp_path / "m.nnet")
    _, tensors = read_model_file(tmp_path / "m.nnet")
    assert sorted(tensors) == [
        "0.time_distributed.layer.biases",
        "0.time_distributed.layer.weights",
        "1.time_distributed_1.layer.biases",
        "1.time_distributed_1.layer.weights",
    ]
    loaded = nn.load_model(tmp_path / "m.nnet")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert type(loaded.layers[0].layer) is L.Dense and loaded.layers[0].layer.activation.default_name == "relu"
    loaded.fit(x, y, epochs=1, verbose=0)  # and trains on


def test_a_held_layer_too_big_for_the_file_is_refused_before_it_allocates(tmp_path):
    model = sequence_model()
    model.save(tmp_path / "m.nnet")
    description, tensors = read_model_file(tmp_path / "m.nnet")
    description["model"]["layers"][0]["config"]["layer"]["config"]["n_neurons"] = 20000
    write_model_file(tmp_path / "m.nnet", {"model": description["model"], "metadata": {}}, tensors)
    with pytest.raises(
        nn.ModelFileError, match=r"layer 0 .* weights of shape \(4, 20000\), but the file holds \(4, 6\)"
    ):
        nn.load_model(tmp_path / "m.nnet")


def test_time_distributed_refuses_what_is_not_a_layer_or_a_sequence():
    with pytest.raises(TypeError, match="wraps a layer"):
        L.TimeDistributed("dense")
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, time, ...\)"):
        L.TimeDistributed(L.Dense(4, 2)).forward(np.zeros((3, 4)))
