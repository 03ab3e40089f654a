"""ONNX export: the checker passes with full_check and onnxruntime's outputs equal model.predict (float32,
1e-5 absolute and 1e-4 relative) for every kind of model; mistakes are clear errors."""

import numpy as np
import pytest

import neuronet as nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
L = nn.layers


def rng(seed=0):
    return np.random.default_rng(seed)


def ids(n=40, steps=9, padding=None):
    x = rng(1).integers(1, 30, (n, steps))
    if padding:  # sequences of 2..steps real tokens, padded before or after them
        for i, length in enumerate(rng(2).integers(2, steps + 1, n)):
            if padding == "pre":
                x[i, : steps - length] = 0
            else:
                x[i, length:] = 0
    return x


CASES = {
    "mlp": (lambda: [L.Dense(6, 16, activation="relu"), L.Dropout(0.2), L.Dense(16, 3, activation="softmax")],
            lambda: rng().standard_normal((40, 6))),
    "cnn": (lambda: [L.Conv2D(1, 4, 3, padding="same", activation="relu"), L.MaxPool2D(2),
                     L.Conv2D(4, 6, 3, stride=2, padding="same", activation="leaky_relu"),
                     L.Conv2D(6, 5, 2, padding="valid"), L.GlobalAvgPool2D(), L.Dense(5, 3, activation="softmax")],
            lambda: rng().standard_normal((40, 9, 9, 1))),
    "cnn_flatten": (lambda: [L.RandomTranslation(0.1), L.Conv2D(2, 3, 3, stride=2, padding=1, dilation=1),
                             L.AvgPool2D(2, stride=1), L.Flatten(), L.Dense(75, 2)],
                    lambda: rng().standard_normal((40, 11, 11, 2))),
    "batchnorm": (lambda: [L.Dense(6, 8), L.BatchNormalization(8), L.ReLU(), L.Dense(8, 3, activation="softmax")],
                  lambda: rng().standard_normal((40, 6))),
    "batchnorm_conv": (lambda: [L.Conv2D(1, 3, 3), L.BatchNormalization(3), L.Tanh(), L.GlobalMaxPool2D(),
                                L.Dense(3, 2)], lambda: rng().standard_normal((40, 6, 6, 1))),
    "text_cnn": (lambda: [L.Embedding(30, 8), L.Conv1D(8, 6, 3, padding="same", activation="relu"),
                          L.MaxPool1D(2), L.Conv1D(6, 4, 2, stride=2), L.GlobalMaxPool1D(),
                          L.Dense(4, 2, activation="softmax")], lambda: ids()),
    "lstm_gru": (lambda: [L.LSTM(4, 6, return_sequences=True), L.GRU(6, 5), L.Dense(5, 2)],
                 lambda: rng().standard_normal((40, 7, 4))),
    "rnn": (lambda: [L.SimpleRNN(4, 5, activation="relu", return_sequences=True), L.SimpleRNN(5, 3),
                     L.Dense(3, 1, activation="sigmoid")], lambda: rng().standard_normal((40, 7, 4))),
    "bidirectional": (lambda: [L.Bidirectional(L.LSTM(4, 5)), L.Dense(10, 2, activation="softmax")],
                      lambda: rng().standard_normal((40, 7, 4))),
    "bidirectional_sum": (lambda: [L.Bidirectional(L.GRU(4, 5, return_sequences=True), merge_mode="sum"),
                                   L.TimeDistributed(L.Dense(5, 2))], lambda: rng().standard_normal((40, 7, 4))),
    "padded_pre": (lambda: [L.Embedding(30, 8, padding_id=0), L.LSTM(8, 6), L.Dense(6, 2, activation="softmax")],
                   lambda: ids(padding="pre")),
    "padded_post": (lambda: [L.Embedding(30, 8, padding_id=0), L.GRU(8, 6), L.Dense(6, 2)],
                    lambda: ids(padding="post")),
    "padded_stacked": (lambda: [L.Embedding(30, 8, padding_id=0), L.Dropout(0.1),
                                L.Bidirectional(L.LSTM(8, 4, return_sequences=True)),
                                L.GRU(8, 5, return_sequences=True), L.Dense(5, 2)], lambda: ids(padding="pre")),
    "generator": (lambda: [L.Dense(4, 32, activation="relu"), L.Reshape((2, 2, 8)),
                           L.Conv2DTranspose(8, 4, 4, stride=2, padding=1, activation="relu"),
                           L.UpSampling2D(2), L.Conv2DTranspose(4, 3, 3, stride=2, padding="same"),
                           L.UpSampling2D(2, interpolation="bilinear"),
                           L.Conv2D(3, 1, 3, padding="same", activation="tanh")],
                  lambda: rng().standard_normal((40, 4))),
}  # fmt: skip


def trained(name):
    nn.set_seed(0)
    make, data = CASES[name]
    model = nn.Sequential(make())
    x = data()
    out = model.predict(x)
    model.compile(loss="mse", optimizer=nn.optimizers.Adam(0.01))
    model.fit(x, rng(3).standard_normal(out.shape), epochs=2, batch_size=8, verbose=0)  # (BatchNorm's statistics)
    return model, x


@pytest.mark.parametrize("name", sorted(CASES))
def test_onnxruntime_gives_what_predict_gives(name, tmp_path):
    model, x = trained(name)
    path = tmp_path / f"{name}.onnx"
    nn.onnx.export(model, path)
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == nn.onnx.OPSET and proto.ir_version == nn.onnx.IR_VERSION
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (given,) = session.get_inputs()
    assert given.type == ("tensor(int64)" if x.dtype.kind == "i" else "tensor(float)")
    theirs = session.run(None, {"input": x if x.dtype.kind == "i" else x.astype(np.float32)})[0]
    np.testing.assert_allclose(theirs, model.predict(x), rtol=1e-4, atol=1e-5)


def test_the_command_line_exports_a_model_file(tmp_path, capsys):
    from neuronet.cli import main

    model, x = trained("mlp")
    model.save(tmp_path / "m.nnet")
    assert main(["export", str(tmp_path / "m.nnet"), str(tmp_path / "m.onnx")]) == 0
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": x.astype(np.float32)})[0], model.predict(x), atol=1e-5)
    assert "m.onnx" in capsys.readouterr().out
    assert main(["export", str(tmp_path / "missing.nnet"), str(tmp_path / "x.onnx")]) == 1
    assert "no model file" in capsys.readouterr().err


def test_mistakes_are_clear_errors(tmp_path, monkeypatch):
    untrained = nn.Sequential([L.Conv2D(1, 2, 3), L.Flatten()])
    with pytest.raises(ValueError, match=r"input shape is not known.*input_shape=\(28, 28, 1\)"):
        nn.onnx.export(untrained, tmp_path / "m.onnx")
    nn.onnx.export(untrained, tmp_path / "m.onnx", input_shape=(5, 5, 1))  # told, it can

    class Squash(L.Activation):
        def forward(self, x, training=False):
            return x / (1 + abs(x))

    with pytest.raises(ValueError, match="layer .activation. \\(Squash\\) has no ONNX form"):
        nn.onnx.export(nn.Sequential([L.Dense(2, 2), Squash()]), tmp_path / "s.onnx")
    assert not (tmp_path / "s.onnx").exists()

    from conftest import refuse_imports

    refuse_imports(monkeypatch, "onnx")
    with pytest.raises(ImportError, match=r'pip install "neuronet\[onnx\]"'):
        nn.onnx.export(nn.Sequential([L.Dense(2, 2)]), tmp_path / "n.onnx")


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_model_from_neuronet_train_exports_with_its_scaling_inside(tmp_path, capsys, task):
    """The graph takes the CSV's feature values as they are, and gives probabilities or the target in its
    own units, as `neuronet predict` does."""
    from neuronet.cli import main
    from neuronet.data import StandardScaler

    x = rng(4).normal(50.0, 10.0, (60, 3))
    target = np.where(x.sum(axis=1) > 150, "big", "small") if task == "classification" else x.sum(axis=1) * 3.0
    rows = ["a,b,c,t"] + [f"{u:.4f},{v:.4f},{w:.4f},{t}" for (u, v, w), t in zip(x, target)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    argv = ["train", str(tmp_path / "d.csv"), "--target", "t", "--epochs", "5", "--out", str(tmp_path / "m.nnet")]
    assert main([*argv, "--quiet", "--task", task]) == 0
    assert main(["export", str(tmp_path / "m.nnet"), str(tmp_path / "m.onnx")]) == 0
    assert "as in the CSV" in capsys.readouterr().out
    model = nn.load_model(tmp_path / "m.nnet")
    expected = model.predict(StandardScaler(**model.metadata["scaler"]).transform(x))
    if task == "regression":
        expected = StandardScaler(**model.metadata["target_scaler"]).inverse_transform(expected)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": x.astype(np.float32)})[0], expected, rtol=1e-4, atol=1e-4)
