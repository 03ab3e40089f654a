"""model.eject: the model written out as one plain NumPy file whose predict and train_step give the model's own
numbers (predict to 1e-12 in float64, and the losses of 20 steps as those of 20 model.train_on_batch calls)."""

import ast
import copy
import importlib.util
import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import neuronet as nn
from neuronet import layers as L
from neuronet import optimizers

ROOT = Path(__file__).resolve().parent.parent
_loaded = itertools.count()


def load(path):
    """The ejected file imported as a module of its own (a fresh optimizer state each time)."""
    spec = importlib.util.spec_from_file_location(f"ejected_{next(_loaded)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mlp():
    model = nn.Sequential([L.Dense(16, activation="relu"), L.Dense(3, activation="softmax")], input_shape=(4,))
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    return model, (32, 4), "labels"


def cnn():
    model = nn.Sequential(
        [
            L.Conv2D(4, 3, padding="same", activation="relu"),
            L.MaxPool2D(2),
            L.Conv2D(5, 3, stride=1, activation="tanh"),
            L.Flatten(),
            L.Dense(3, activation="softmax"),
        ],
        input_shape=(8, 8, 2),
    )
    model.compile(loss="categorical_crossentropy", optimizer=optimizers.SGD(0.05, momentum=0.9))
    return model, (16, 8, 8, 2), "labels"


def lstm():
    model = nn.Sequential(
        [L.LSTM(6, return_sequences=True), L.LSTM(5), L.Dense(1, activation="sigmoid")], input_shape=(7, 3)
    )
    model.compile(loss="binary_crossentropy", optimizer=optimizers.RMSprop(0.01))
    return model, (16, 7, 3), "binary"


def batch(shape, kind, classes=3, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    if kind == "labels":
        return x, rng.integers(0, classes, shape[0])
    if kind == "binary":
        return x, rng.integers(0, 2, (shape[0], 1)).astype(float)
    return x, rng.normal(size=(shape[0], classes))


def compare(model, shape, kind, tmp_path, tolerance, steps=20):
    """The ejected file's predict against model.predict, and its train_step's losses against train_on_batch's on a
    copy of the model."""
    x, y = batch(shape, kind, classes=model.layers[-1].n_neurons)
    twin = copy.deepcopy(model)
    path = model.eject(tmp_path / "net.py")
    net = load(path)
    np.testing.assert_allclose(net.predict(x), model.predict(x), rtol=0, atol=tolerance)
    theirs = [net.train_step(x, y) for _ in range(steps)]
    ours = [twin.train_on_batch(x, y) for _ in range(steps)]
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=tolerance)
    assert theirs[-1] < theirs[0]  # it learns
    return Path(path)


@pytest.mark.parametrize("make", [mlp, cnn, lstm])
def test_ejected_file_gives_the_models_numbers_in_float64(make, tmp_path, float64):
    model, shape, kind = make()
    path = compare(model, shape, kind, tmp_path, 1e-12)
    lines = len(path.read_text().splitlines())
    if make is mlp:
        assert lines <= 200


@pytest.mark.parametrize("make", [mlp, cnn, lstm])
def test_ejected_file_gives_the_models_numbers_in_float32(make, tmp_path):
    model, shape, kind = make()
    path = compare(model, shape, kind, tmp_path, 1e-4)  # float32: 20 steps of rounding at 6e-8
    assert np.load(path.with_suffix(".npz"))["dense.weights"].dtype == np.float32


def test_more_layers_losses_and_optimizers(tmp_path, float64):
    """The other templates: GRU and SimpleRNN, BatchNormalization, average and global pools, leaky ReLU,
    MSE, Adagrad and AdamW."""
    recurrent = nn.Sequential(
        [L.GRU(6, return_sequences=True), L.SimpleRNN(4, return_sequences=True), L.GlobalAvgPool1D(), L.Dense(2)],
        input_shape=(5, 3),
    )
    recurrent.compile(loss="mse", optimizer=optimizers.AdamW(0.01, weight_decay=0.1))
    (tmp_path / "a").mkdir()
    compare(recurrent, (12, 5, 3), "values", tmp_path / "a", 1e-12)
    images = nn.Sequential(
        [
            L.Conv2D(3, 2, stride=2, padding=1, activation="leaky_relu"),
            L.BatchNormalization(),
            L.AvgPool2D(2, stride=1),
            L.GlobalMaxPool2D(),
            L.Dense(4, activation="sigmoid"),
        ],
        input_shape=(6, 6, 1),
    )
    images.compile(loss="mse", optimizer=optimizers.Adagrad(0.05))
    (tmp_path / "b").mkdir()
    compare(images, (10, 6, 6, 1), "values", tmp_path / "b", 1e-12)


def test_embedding_and_dropout(tmp_path, float64):
    """Token ids stay integers; dropout is the identity in predict, and train_step draws its own masks."""
    model = nn.Sequential(
        [L.Embedding(20, 4), L.LSTM(5), L.Dropout(0.5), L.Dense(3, activation="softmax")], input_shape=(6,)
    )
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    ids = np.random.default_rng(0).integers(0, 20, (8, 6))
    labels = np.arange(8) % 3
    model.predict(ids)
    net = load(model.eject(tmp_path / "net.py"))
    np.testing.assert_allclose(net.predict(ids), model.predict(ids), rtol=0, atol=1e-12)
    losses = [net.train_step(ids, labels) for _ in range(3)]
    assert all(np.isfinite(losses))
    weights = net.layers[0].weights
    untouched = np.setdiff1d(np.arange(20), ids)
    np.testing.assert_array_equal(weights[untouched], model.layers[0].weights.data[untouched])


def test_the_file_imports_only_numpy_and_passes_ruff(tmp_path, float64):
    files = []
    for make in (mlp, cnn, lstm):
        model, shape, _ = make()
        model.predict(np.zeros((1, *shape[1:])))
        files.append(Path(model.eject(tmp_path / f"{make.__name__}.py")))
    for path in files:
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                imported.add(node.module)
        assert imported == {"numpy"}, path
    try:
        import ruff  # noqa: F401  (only to know that python -m ruff can run)
    except ImportError:
        pytest.skip("ruff is not installed here: the ejected files' lint is not checked")
    names = [str(p) for p in files]
    for config in (["--config", str(ROOT / "pyproject.toml")], ["--isolated"]):  # the repo's rules, and ruff's own
        done = subprocess.run([sys.executable, "-m", "ruff", "check", *config, *names], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_file_finds_its_weights_from_another_directory(tmp_path, float64):
    model, shape, kind = mlp()
    x, _ = batch(shape, kind)
    (tmp_path / "model").mkdir()
    (tmp_path / "elsewhere").mkdir()
    path = model.eject(tmp_path / "model" / "net.py")
    np.save(tmp_path / "x.npy", x)
    script = (
        "import sys, numpy as np, importlib.util as u\n"
        "spec = u.spec_from_file_location('net', sys.argv[1]); net = u.module_from_spec(spec)\n"
        "spec.loader.exec_module(net)\n"
        "np.save(sys.argv[3], net.predict(np.load(sys.argv[2])))\n"
    )
    out = tmp_path / "out.npy"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # NumPy alone, not neuronet
    for where, name in ((tmp_path / "elsewhere", str(path)), (tmp_path, os.path.join("model", "net.py"))):
        done = subprocess.run(
            [sys.executable, "-c", script, name, str(tmp_path / "x.npy"), str(out)],
            cwd=where, capture_output=True, text=True, env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        np.testing.assert_allclose(np.load(out), model.predict(x), rtol=0, atol=1e-12)
    done = subprocess.run([sys.executable, str(path)], cwd=tmp_path / "elsewhere", capture_output=True, env=env)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "layers, loss, expected",
    [
        ([L.Dense(4), L.LayerNormalization(), L.Dense(2)], "mse", "LayerNormalization"),
        ([L.Dense(4, activation="gelu"), L.Dense(2)], "mse", "'gelu'"),
        ([L.Dense(2)], "mae", "MeanAbsoluteError"),
        ([L.Dense(4, weight_regularizer_l2=0.01), L.Dense(2)], "mse", "L1/L2 penalty"),
    ],
)
def test_what_cannot_be_ejected_is_named(layers, loss, expected, tmp_path):
    model = nn.Sequential(layers, input_shape=(3,))
    model.compile(loss=loss, optimizer="adam")
    with pytest.raises(NotImplementedError, match=expected):
        model.eject(tmp_path / "net.py")
    assert not (tmp_path / "net.py").exists() and not (tmp_path / "net.npz").exists()


def test_attention_and_graph_models_are_refused(tmp_path):
    tokens = nn.Input(shape=(5, 8))
    attended = L.MultiHeadAttention(8, 2)(tokens)
    model = nn.Model(tokens, L.Dense(2)(L.Flatten()(attended)))
    model.compile(loss="mse", optimizer="adam")
    with pytest.raises(NotImplementedError, match="MultiHeadAttention"):
        model.eject(tmp_path / "net.py")
    x = nn.Input(shape=(4,))
    h = L.Dense(4)(x)
    merged = L.Add()([h, L.Dense(4)(h)])
    graph = nn.Model(x, L.Dense(2)(merged))
    graph.compile(loss="mse", optimizer="adam")
    with pytest.raises(NotImplementedError, match="one chain"):
        graph.eject(tmp_path / "net.py")


def test_eject_asks_for_a_python_path_and_a_compiled_model(tmp_path):
    model = nn.Sequential([L.Dense(2)], input_shape=(3,))
    with pytest.raises(RuntimeError, match="compile"):
        model.eject(tmp_path / "net.py")
    model.compile(loss="mse", optimizer="adam")
    with pytest.raises(nn.checks.ArgumentError, match=".py"):
        model.eject(tmp_path / "net.txt")


def test_train_on_batch_takes_one_step(float64):
    model, shape, kind = mlp()
    x, y = batch(shape, kind)
    before = model.evaluate(x, y)["loss"]
    loss = model.train_on_batch(x, y)
    assert loss == pytest.approx(before, abs=1e-12)  # the loss of the batch before the step
    assert model.evaluate(x, y)["loss"] < before
