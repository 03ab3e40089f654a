"""Nothing is lost: exact round trips, atomic saves, clear errors for bad files."""

import json
import os

import numpy as np
import pytest
import safetensors
import safetensors.numpy

import neuronet as nn
from neuronet.saving import read_model_file, write_model_file


def header_metadata(path):
    with safetensors.safe_open(path, framework="numpy") as f:
        return f.metadata()


def trained_model():
    X, y = nn.datasets.spiral(30, 3)
    model = nn.Sequential(
        [
            nn.layers.Dense(2, 16, activation="leaky_relu", weight_regularizer_l2=1e-4),
            nn.layers.Dropout(0.1),
            nn.layers.Dense(16, 3),
            nn.layers.Softmax(),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer=nn.optimizers.Adam(0.01), metrics=["accuracy"])
    model.fit(X, y, epochs=3, batch_size=16, verbose=0)
    model.metadata = {"note": "kept"}
    return model, X, y


def test_round_trip_is_exact(tmp_path):
    model, X, y = trained_model()
    path = tmp_path / "model.nnet"
    model.save(path)
    loaded = nn.load_model(path)
    assert [type(ly) for ly in loaded.layers] == [type(ly) for ly in model.layers]
    assert [ly.name for ly in loaded.layers] == [ly.name for ly in model.layers]
    for a, b in zip(model.parameters(), loaded.parameters()):
        assert a.data.dtype == b.data.dtype
        np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(model.predict(X), loaded.predict(X))
    assert loaded.evaluate(X, y) == model.evaluate(X, y)
    assert loaded.metadata == {"note": "kept"}
    assert loaded.layers[0].weights.regularizer.l2 == pytest.approx(1e-4)
    loaded.fit(X, y, epochs=1, verbose=0)  # a loaded model trains on


def test_file_is_safetensors_with_a_json_description(tmp_path):
    model, _, _ = trained_model()
    model.save(tmp_path / "m.nnet")
    tensors = safetensors.numpy.load_file(tmp_path / "m.nnet")
    assert sorted(tensors) == ["0.dense.biases", "0.dense.weights", "2.dense_1.biases", "2.dense_1.weights"]
    description = json.loads(header_metadata(tmp_path / "m.nnet")["neuronet"])
    assert description["model"]["layers"][1] == {"class": "Dropout", "name": "dropout", "config": {"rate": 0.1}}


def test_corrupt_file_fails_cleanly(tmp_path):
    model, _, _ = trained_model()
    path = tmp_path / "m.nnet"
    model.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(nn.ModelFileError, match="not a valid model file"):
        nn.load_model(path)
    path.write_bytes(b"not a model at all")
    with pytest.raises(nn.ModelFileError):
        nn.load_model(path)


def test_foreign_safetensors_file(tmp_path):
    path = tmp_path / "other.safetensors"
    safetensors.numpy.save_file({"w": np.zeros(3, np.float32)}, path)
    with pytest.raises(nn.ModelFileError, match="not a neuronet model"):
        nn.load_model(path)


def test_weights_that_do_not_match_the_architecture(tmp_path):
    model, _, _ = trained_model()
    path = tmp_path / "m.nnet"
    model.save(path)
    description, tensors = read_model_file(path)
    tensors["0.dense.weights"] = np.zeros((3, 3), np.float32)
    write_model_file(path, {"model": description["model"], "metadata": {}}, tensors)  # with matching checksums
    with pytest.raises(nn.ModelFileError, match=r"layer 0 .* weights of shape \(2, 16\), but the file holds \(3, 3\)"):
        nn.load_model(path)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="no model file"):
        nn.load_model("/nonexistent/model.nnet")


def test_interrupted_save_leaves_the_old_file(tmp_path, monkeypatch):
    model, X, _ = trained_model()
    path = tmp_path / "m.nnet"
    model.save(path)
    before = path.read_bytes()
    for p in model.parameters():
        p.data += 1.0

    def crash(fd):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.nnet"]  # no temporary file left behind
    nn.load_model(path).predict(X)
