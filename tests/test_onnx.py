"""ONNX export: the checker passes with full_check and onnxruntime's outputs equal model.predict (float32,
1e-5 absolute and 1e-4 relative) for every kind of model, sequence models at any length; mistakes are clear
errors."""

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
    "new_activations": (lambda: [L.Dense(6, 8, activation="gelu"), L.LayerNormalization(), L.SiLU(),
                                 L.Dense(8, 8, activation="elu"), L.SELU(), L.Softplus(), L.ELU(0.3),
                                 L.Dense(8, 3, activation="softmax")],
                        lambda: rng().standard_normal((40, 6)) * 4),
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


def floats(steps, n=40):
    return rng(5).standard_normal((n, steps, 4))


# sequence models, with their data at a given number of steps (7 or more: the text CNN's kernels need them)
SEQUENCES = {
    "text_cnn": (lambda: [L.Embedding(30, 8), L.Conv1D(8, 6, 3, stride=2, dilation=2, padding="same",
                                                       activation="relu"),
                          L.MaxPool1D(2), L.Conv1D(6, 4, 2, stride=2), L.GlobalMaxPool1D(),
                          L.Dense(4, 2, activation="softmax")], ids),
    "lstm_stack": (lambda: [L.LSTM(4, 6, return_sequences=True), L.LSTM(6, 5), L.Dense(5, 2)], floats),
    "gru": (lambda: [L.GRU(4, 5), L.Dense(5, 1, activation="sigmoid")], floats),
    "bidirectional": (lambda: [L.Bidirectional(L.LSTM(4, 5)), L.Dense(10, 2, activation="softmax")], floats),
    "simple_rnn": (lambda: [L.SimpleRNN(4, 5, activation="relu", return_sequences=True), L.SimpleRNN(5, 3)],
                   floats),
    "tagger": (lambda: [L.Bidirectional(L.GRU(4, 5, return_sequences=True), merge_mode="sum"),
                        L.TimeDistributed(L.Dense(5, 2))], floats),
    "strided_tagger": (lambda: [L.Embedding(30, 8), L.Conv1D(8, 3, 3, stride=2, padding="same")], ids),
    "padded_pre": (lambda: [L.Embedding(30, 8, padding_id=0), L.LSTM(8, 6), L.Dense(6, 2)],
                   lambda steps: ids(steps=steps, padding="pre")),
    "layer_norm": (lambda: [L.Embedding(30, 8, padding_id=0), L.LayerNormalization(8, epsilon=1e-3),
                            L.GRU(8, 5, return_sequences=True), L.LayerNormalization(5),
                            L.Dense(5, 2, activation="gelu")],
                   lambda steps: ids(steps=steps, padding="post")),
    "padded_post": (lambda: [L.Embedding(30, 8, padding_id=0), L.GRU(8, 6), L.Dense(6, 2)],
                    lambda steps: ids(steps=steps, padding="post")),
    "padded_stacked": (lambda: [L.Embedding(30, 8, padding_id=0), L.Bidirectional(L.LSTM(8, 4, return_sequences=True)),
                                L.GRU(8, 5, return_sequences=True), L.Dense(5, 2)],
                       lambda steps: ids(steps=steps, padding="pre")),
}  # fmt: skip


@pytest.mark.parametrize("trained_on", [None, 9], ids=["fresh", "trained"])
@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_sequence_models_take_any_length(name, trained_on, tmp_path):
    """With no input_shape the time axis is free ("time"), as the batch's is, whether the model has seen data
    of one length or none; onnxruntime then equals predict at lengths the model never saw."""
    nn.set_seed(0)
    make, data = SEQUENCES[name]
    model = nn.Sequential(make())
    if trained_on:
        x = data(trained_on)
        model.compile(loss="mse", optimizer=nn.optimizers.Adam(0.01))
        model.fit(x, rng(3).standard_normal(model.predict(x).shape), epochs=2, batch_size=8, verbose=0)
    dims = nn.onnx.export(model, tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    (given,), (out,) = session.get_inputs(), session.get_outputs()
    assert list(dims) == given.shape == ["batch", "time", *given.shape[2:]]
    if name.endswith("tagger"):  # a strided convolution's output has a length of its own
        assert out.shape[:2] == ["batch", "time" if name == "tagger" else None]
    for steps in (7, 12, 30):
        x = data(steps)
        theirs = session.run(None, {"input": x if x.dtype.kind == "i" else x.astype(np.float32)})[0]
        np.testing.assert_allclose(theirs, model.predict(x), rtol=1e-4, atol=1e-5)


def test_a_layer_that_needs_a_fixed_length_gets_one(tmp_path):
    """A Flatten after Conv1D needs the number of steps: the one the model knows, or input_shape; with neither,
    the error says why and what to pass."""
    model = nn.Sequential([L.Embedding(30, 8), L.Conv1D(8, 3, 3), L.Flatten(), L.Dense(24, 2)])
    with pytest.raises(ValueError, match=r"'flatten' \(Flatten\) needs a fixed number of time steps.*input_shape="):
        nn.onnx.export(model, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
    assert nn.onnx.export(model, tmp_path / "m.onnx", input_shape=(10,)) == ("batch", 10)
    x = ids(steps=10)
    model.predict(x)  # (now it knows the length)
    assert nn.onnx.export(model, tmp_path / "k.onnx") == ("batch", 10)
    session = ort.InferenceSession(str(tmp_path / "k.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": x})[0], model.predict(x), rtol=1e-4, atol=1e-5)


def test_an_explicit_input_shape_fixes_the_length(tmp_path):
    model = nn.Sequential([L.LSTM(4, 3)])
    assert nn.onnx.export(model, tmp_path / "m.onnx", input_shape=(7, 4)) == ("batch", 7, 4)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    x = floats(7)
    np.testing.assert_allclose(session.run(None, {"input": x.astype(np.float32)})[0], model.predict(x), atol=1e-5)
    with pytest.raises(Exception, match="Got: 8 Expected: 7"):
        session.run(None, {"input": floats(8).astype(np.float32)})


@pytest.mark.parametrize(
    "layers, input_shape, match",
    [
        (
            [L.Dense(3, 2)],
            (5,),
            r"input_shape \(5,\) does not fit the model: layer 'dense' \(Dense\) expects input "
            r"of shape \(batch, 3\), but received shape \(1, 5\); its first layer takes "
            r"input_shape=\(3,\)",
        ),
        (
            [L.Conv2D(1, 2, 3), L.Flatten(), L.Dense(72, 2)],
            (9, 9, 1),
            r"input_shape \(9, 9, 1\) does not fit.*"
            r"'dense' \(Dense\) expects.*\(batch, 72\), but received shape \(1, 98\)",
        ),
        ([L.Conv2D(1, 2, 3), L.GlobalMaxPool2D()], (9, 9, 3), r"input_shape \(9, 9, 3\) does not fit.*'conv2d'"),
        ([L.Conv2D(1, 2, 5), L.GlobalMaxPool2D()], (3, 3, 1), r"input_shape \(3, 3, 1\) does not fit.*kernel spans"),
        ([L.LSTM(4, 3)], (7, 5), r"input_shape \(7, 5\) does not fit.*'lstm' \(LSTM\) expects.*\(batch, time, 4\)"),
        (
            [L.Embedding(30, 4), L.LSTM(4, 3)],
            (7, 4),
            r"input_shape \(7, 4\) does not fit.*received shape \(1, 7, 4, 4\)",
        ),
        ([L.Dense(3, 2)], 5, r"input_shape must be a tuple of one sample's sizes.*got 5"),
        ([L.Dense(3, 2)], "3", r"input_shape must be a tuple"),
        ([L.Dense(3, 2)], (), r"input_shape must be a tuple"),
        ([L.Dense(3, 2)], (0,), r"a size in input_shape must be >= 1, got 0"),
        (
            [L.Conv2D(1, 2, 3), L.GlobalMaxPool2D()],
            (10**5, 10**5, 1),
            r"input_shape \(100000, 100000, 1\): one "
            r"sample of it makes [\d,]+ values",
        ),
    ],
    ids=["dense", "flatten", "channels", "too_small", "lstm", "ids", "int", "text", "empty", "zero", "huge"],
)
def test_an_input_shape_the_model_does_not_take_is_named(layers, input_shape, match, tmp_path):
    """Refused before the graph is built (ONNX's InferenceError before), naming input_shape, the layer that
    does not take it and what that layer expects; nothing is written."""
    with pytest.raises(ValueError, match=match):
        nn.onnx.export(nn.Sequential(layers), tmp_path / "m.onnx", input_shape=input_shape)
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize(
    "scaling, match",
    [
        (
            {"input_scaling": ([0] * 4, [1] * 4)},
            r"input_scaling's shift has shape \(4,\), which does not fit one "
            r"input sample of shape \(3,\)",
        ),
        ({"input_scaling": ([0] * 3, [[1] * 3] * 2)}, r"input_scaling's scale has shape \(2, 3\)"),
        ({"input_scaling": ([0] * 3, [0] * 3)}, r"input_scaling's scale must be > 0 everywhere.*got 0"),
        ({"input_scaling": ([0] * 3, [1, -2, 1])}, r"input_scaling's scale must be > 0 everywhere.*got -2"),
        ({"input_scaling": ([0] * 3, [1e-60] * 3)}, r"input_scaling's scale must be > 0"),  # (0 in float32)
        ({"input_scaling": ([np.nan, 0, 0], [1] * 3)}, r"input_scaling's shift holds NaN or infinite values"),
        ({"input_scaling": ([0] * 3, [np.inf] * 3)}, r"input_scaling's scale holds NaN or infinite values"),
        (
            {"input_scaling": ([1e300] * 3, [1] * 3)},
            r"input_scaling's shift holds NaN or infinite values \(as "
            r"float32\)",
        ),
        ({"input_scaling": [0, 1, 2]}, r"input_scaling must be a pair \(shift, scale\)"),
        ({"input_scaling": (["a"] * 3, [1] * 3)}, r"input_scaling's shift holds text"),
        ({"input_scaling": (None, [1] * 3)}, r"input_scaling's shift is None"),
        (
            {"output_scaling": ([0] * 3, [1] * 3)},
            r"output_scaling's shift has shape \(3,\), which does not fit one "
            r"output sample of shape \(2,\)",
        ),
        ({"output_scaling": (0.0, 0.0)}, r"output_scaling's scale must be > 0"),
        ({"output_scaling": (0.0, np.nan)}, r"output_scaling's scale holds NaN"),
    ],
    ids=["length", "rank", "zero_std", "negative_std", "underflow", "nan", "inf", "overflow", "not_a_pair", "text",
         "none", "output_length", "output_zero_std", "output_nan"],
)  # fmt: skip
def test_a_scaling_that_does_not_fit_is_refused(scaling, match, tmp_path):
    """A wrong length was ONNX's InferenceError, a zero std a graph that divides by zero; now each is refused
    naming the argument, and nothing is written."""
    with pytest.raises(ValueError, match=match):
        nn.onnx.export(nn.Sequential([L.Dense(3, 2)]), tmp_path / "m.onnx", **scaling)
    assert not (tmp_path / "m.onnx").exists()


def test_scalings_broadcast_over_a_sample_and_token_ids_take_none(tmp_path):
    """One value for all, or one per feature (a channel, a sequence's feature at every step); token ids are
    not scaled."""
    model = nn.Sequential([L.LSTM(4, 3, return_sequences=True), L.TimeDistributed(L.Dense(3, 2))])
    mean, std = np.array([1.0, -2.0, 0.5, 3.0]), np.array([2.0, 0.5, 1.0, 4.0])
    nn.onnx.export(model, tmp_path / "m.onnx", input_scaling=(mean, std), output_scaling=(10.0, 3.0))
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    for steps in (3, 11):
        x = floats(steps) * std + mean
        expected = model.predict((x - mean) / std) * 3.0 + 10.0
        np.testing.assert_allclose(session.run(None, {"input": x.astype(np.float32)})[0], expected, rtol=1e-4,
                                   atol=1e-4)  # fmt: skip
    text = nn.Sequential([L.Embedding(30, 4), L.GlobalAvgPool1D()])
    with pytest.raises(ValueError, match="input_scaling: the model takes token ids, which are not scaled"):
        nn.onnx.export(text, tmp_path / "t.onnx", input_scaling=(0.0, 1.0))


def test_the_command_line_names_an_input_shape_that_does_not_fit(tmp_path, capsys):
    """`neuronet export m.nnet o.onnx --input-shape 5` for a model taking 3 features: one line, no traceback."""
    from neuronet.cli import main

    nn.Sequential([L.Dense(3, 2)]).save(tmp_path / "m.nnet")
    assert main(["export", str(tmp_path / "m.nnet"), str(tmp_path / "o.onnx"), "--input-shape", "5"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("neuronet: error: input_shape (5,) does not fit the model: layer 'dense' (Dense) expects")
    assert not (tmp_path / "o.onnx").exists()


def test_the_command_line_says_a_sequence_models_length_is_free(tmp_path, capsys):
    """An untrained text model has no input shape on file: its graph takes any length, and the CLI says so."""
    from neuronet.cli import main

    nn.Sequential([L.Embedding(9, 4), L.LSTM(4, 2)]).save(tmp_path / "m.nnet")
    assert main(["export", str(tmp_path / "m.nnet"), str(tmp_path / "o.onnx")]) == 0
    assert "(input: batch x time)" in capsys.readouterr().out
    assert main(["export", str(tmp_path / "m.nnet"), str(tmp_path / "f.onnx"), "--input-shape", "6"]) == 0
    assert "(input: batch x 6)" in capsys.readouterr().out


def test_the_command_line_checks_input_shape_for_a_trained_cli_model(tmp_path, capsys):
    """--input-shape was ignored for a model from `neuronet train`; now it is checked as for any model."""
    from neuronet.cli import main

    rows = ["a,b,c,t"] + [f"{i},{i % 7},{i % 3},{i % 2}" for i in range(60)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    argv = ["train", str(tmp_path / "d.csv"), "--target", "t", "--epochs", "1", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "m.nnet")]) == 0
    assert main(["export", str(tmp_path / "m.nnet"), str(tmp_path / "o.onnx"), "--input-shape", "5"]) == 1
    assert "input_shape (5,) does not fit the model" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "m.nnet"), str(tmp_path / "o.onnx"), "--input-shape", "3"]) == 0


def test_the_checks_run_on_the_models_device(tmp_path):
    """The zero sample goes through the model's own ops (strict arrays stand in for a GPU's, refusing NumPy's
    functions): a model there exports with its length free and is told a wrong input_shape as on the CPU."""
    from strict import StrictOps

    nn.set_seed(0)
    model = nn.Sequential([L.Embedding(30, 8, padding_id=0), L.LSTM(8, 6), L.Dense(6, 2)])
    model.to(StrictOps(model.ops.rng))
    assert nn.onnx.export(model, tmp_path / "m.onnx") == ("batch", "time")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    for steps in (7, 12, 30):
        x = ids(steps=steps, padding="pre")
        np.testing.assert_allclose(session.run(None, {"input": x})[0], model.predict(x), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r"input_shape \(7, 8\) does not fit the model: layer 'lstm'"):
        nn.onnx.export(model, tmp_path / "w.onnx", input_shape=(7, 8))


def test_a_cli_model_exported_from_python_needs_its_scaling_said(tmp_path):
    """A model from `neuronet train` exported without its scaling read raw values as standardised ones: wrong by
    up to 0.9998 in probability, silently."""
    from neuronet.cli import main

    rows = ["a,b,t"] + [f"{i * 10.0},{i % 7},{i % 2}" for i in range(60)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    assert main(["train", str(tmp_path / "d.csv"), "--target", "t", "--epochs", "1", "--quiet",
                 "--out", str(tmp_path / "m.nnet")]) == 0  # fmt: skip
    model = nn.load_model(tmp_path / "m.nnet")
    with pytest.raises(ValueError, match=r"trained by `neuronet train` on standardised features.*neuronet export"):
        nn.onnx.export(model, tmp_path / "m.onnx")
    scaler = model.metadata["scaler"]
    nn.onnx.export(model, tmp_path / "m.onnx", input_scaling=(scaler["mean"], scaler["std"]))
    nn.onnx.export(model, tmp_path / "s.onnx", input_scaling=(0.0, 1.0))  # a graph of standardised inputs


def test_an_onnx_graph_is_never_written_under_a_model_files_name(tmp_path):
    model, _ = trained("mlp")
    with pytest.raises(ValueError, match=r"under a \.nnet name would be taken for a neuronet model; name it \.onnx"):
        nn.onnx.export(model, tmp_path / "m.nnet")
    assert not (tmp_path / "m.nnet").exists()
