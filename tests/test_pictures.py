"""Pictures of what a network learned (nn.plot: filters, activation maps, saliency, attention, gradient norms),
the measurements under them (neuronet.probes), model.layer_outputs, and `neuronet demo cnn --plot`."""

import numpy as np
import pytest

import neuronet as nn
from neuronet import demos, probes
from neuronet.cli import main

L = nn.layers
PNG = b"\x89PNG\r\n\x1a\n"


def small_cnn():
    """A float64-friendly CNN: smooth activations, so finite differences are exact to rounding."""
    return nn.Sequential(
        [
            L.Conv2D(1, 3, 3, padding="same", activation="tanh"),
            L.Conv2D(3, 2, 3, activation="sigmoid"),
            L.Flatten(),
            L.Dense(2 * 4 * 4, 4, activation="softmax"),
        ],
        input_shape=(6, 6, 1),
    )


def images(n=5, size=6, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, size, size, 1))


def digits(n=256):
    X, y = nn.datasets.load_digits()
    return (X[:n] / 16).reshape(-1, 8, 8, 1), y[:n]


# -- saliency ------------------------------------------------------------------------------------------------
def test_saliency_is_the_gradient_of_the_class_output_by_finite_differences(float64):
    model = small_cnn()
    x = images()
    grads, chosen = probes.saliency(model, x)
    out = model.predict(x)
    assert np.array_equal(chosen, out.argmax(axis=1))
    h = 1e-6
    for n, (i, j) in [(0, (0, 0)), (1, (2, 3)), (3, (5, 1)), (4, (4, 4))]:
        up, down = x.copy(), x.copy()
        up[n, i, j, 0] += h
        down[n, i, j, 0] -= h
        c = chosen[n]
        numeric = (model.predict(up)[n, c] - model.predict(down)[n, c]) / (2 * h)
        assert abs(grads[n, i, j, 0] - numeric) < 1e-8 * max(1.0, abs(numeric))
        # and the other samples' outputs do not move with this sample's pixel: rows do not mix
        assert np.allclose(model.predict(up)[np.arange(5) != n], out[np.arange(5) != n], atol=0, rtol=0)


def test_saliency_of_a_given_class_and_the_gradients_put_back(float64):
    model = small_cnn()
    model.compile(optimizer="sgd")
    x = images()
    model.compute_gradients(x, np.arange(5) % 4)
    before = [p.grad.copy() for p in model.parameters()]
    grads, chosen = probes.saliency(model, x, class_index=2)
    assert np.array_equal(chosen, [2] * 5)
    for p, g in zip(model.parameters(), before):
        assert np.array_equal(p.grad, g)
    per_sample, _ = probes.saliency(model, x, class_index=np.array([2, 2, 2, 2, 2]))
    assert np.array_equal(per_sample, grads)
    with pytest.raises(nn.checks.ArgumentError, match=r"class_index must be a class 0\.\.3"):
        probes.saliency(model, x, class_index=4)


def test_saliency_refuses_token_ids():
    model = nn.Sequential([L.Embedding(10, 4), L.GlobalAvgPool1D(), L.Dense(4, 2, activation="softmax")])
    with pytest.raises(nn.checks.ArgumentError, match="token ids"):
        probes.saliency(model, np.array([[1, 2, 3]]))


# -- layer_outputs -------------------------------------------------------------------------------------------
def test_layer_outputs_are_the_forward_pass_values_and_leave_the_model_as_it_was():
    model = demos.digits_cnn()  # convolution, ReLU and pooling fused in predict's plan on a CPU
    model.compile(optimizer=nn.optimizers.Adam(0.01))
    x, y = digits(64)
    model.fit(x, y, epochs=1, verbose=0)
    weights, predicted = model.get_weights(), model.predict(x[:4])
    outputs = model.layer_outputs(x[:4])
    assert list(outputs) == [layer.name for layer in model.layers]
    h = x[:4].astype(np.float32)
    for layer in model.layers:  # each layer on the one before, as inference runs them
        h = layer.forward(h, training=False)
        assert np.array_equal(outputs[layer.name], h)
    assert np.array_equal(outputs["dense_1"], predicted)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), weights))
    assert np.array_equal(model.predict(x[:4]), predicted)


def test_layer_outputs_of_a_graph_with_a_shared_layer_and_batch_norm():
    a, b = nn.Input(shape=(4,)), nn.Input(shape=(4,))
    shared = L.Dense(3, activation="tanh")
    h = L.Add()([shared(a), shared(b)])
    model = nn.Model([a, b], L.Dense(2)(L.BatchNormalization(3)(h)))
    model.compile(loss="mse", optimizer="adam")
    xa, xb = np.random.default_rng(0).normal(size=(2, 8, 4)).astype(np.float32)
    model.fit([xa, xb], np.zeros((8, 2)), epochs=2, verbose=0)
    weights = model.get_weights()
    outputs = model.layer_outputs([xa, xb])
    assert list(outputs) == ["dense", "dense:1", "add", "batch_normalization", "dense_1"]
    assert np.allclose(outputs["dense"], np.tanh(xa @ shared.weights.data + shared.biases.data), atol=1e-6)
    assert np.allclose(outputs["dense:1"], np.tanh(xb @ shared.weights.data + shared.biases.data), atol=1e-6)
    assert np.array_equal(outputs["add"], outputs["dense"] + outputs["dense:1"])
    assert np.array_equal(outputs["dense_1"], model.predict([xa, xb]))
    assert all(np.array_equal(u, v) for u, v in zip(model.get_weights(), weights))  # running statistics too


# -- gradient norms ------------------------------------------------------------------------------------------
def test_gradient_norms_are_each_layers_gradient_size_and_the_weights_stay():
    model = demos.digits_resnet()
    model.compile(optimizer="adam")
    x, y = digits(64)
    weights = model.get_weights()
    norms = probes.batch_gradient_norms(model, x, y)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), weights))  # batch norm's statistics too
    assert list(norms) == [layer.name for layer in model.layers if layer.parameters()]
    dense = model.layers[-1]
    expected = np.sqrt(sum((p.grad.astype(float) ** 2).sum() for p in dense.parameters()))
    assert norms[dense.name] == pytest.approx(expected, rel=1e-6)
    assert all(v > 0 for v in norms.values())


# -- the pictures --------------------------------------------------------------------------------------------
@pytest.fixture
def trained_cnn():
    pytest.importorskip("matplotlib")
    model = demos.digits_cnn()
    model.compile(optimizer=nn.optimizers.Adam(0.003), metrics=["accuracy"])
    x, y = digits(256)
    model.fit(x, y, epochs=2, verbose=0)
    return model, x, y


def test_each_picture_is_written_as_a_png(trained_cnn, tmp_path):
    model, x, y = trained_cnn
    conv, conv_1 = (layer for layer in model.layers if isinstance(layer, L.Conv2D))
    mlp = demos.digits_mlp()
    drawn = {
        "filters.png": lambda p: nn.plot.conv_filters(conv, p),
        "filters_1.png": lambda p: nn.plot.conv_filters(conv_1, p, max_filters=8),
        "activations.png": lambda p: nn.plot.activation_maps(model, x[0], p),
        "saliency.png": lambda p: nn.plot.saliency(model, x[:4], p),
        "gradients.png": lambda p: nn.plot.gradient_norms(model, x, y, p),
        "saliency_flat.png": lambda p: nn.plot.saliency(mlp, x[:3].reshape(3, 64), p),
    }
    for name, draw in drawn.items():
        draw(tmp_path / name)
        assert (tmp_path / name).read_bytes()[:8] == PNG, name


def test_attention_weights_per_head(tmp_path):
    pytest.importorskip("matplotlib")
    ids = nn.Input(shape=(6,), dtype="int64")
    attention = L.MultiHeadAttention(8, 2)
    encoder = L.TransformerEncoder(8, 2, 16)
    h = encoder(attention(L.Embedding(10, 8)(ids)))
    model = nn.Model(ids, L.Dense(2, activation="softmax")(L.GlobalAvgPool1D()(h)))
    with pytest.raises(ValueError, match="has not run yet"):
        nn.plot.attention(L.MultiHeadAttention(8, 2))
    model.predict(np.array([[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]]))
    nn.plot.attention(attention, tmp_path / "a.png", sample=1, tokens="abcdef")
    nn.plot.attention(encoder, tmp_path / "e.png")
    assert (tmp_path / "a.png").read_bytes()[:8] == PNG and (tmp_path / "e.png").read_bytes()[:8] == PNG
    with pytest.raises(ValueError, match=r"sample must be 0\.\.1"):
        nn.plot.attention(attention, sample=2)


def test_pictures_refuse_layers_and_models_they_cannot_draw():
    pytest.importorskip("matplotlib")
    mlp = demos.digits_mlp()
    with pytest.raises(ValueError, match="Conv2D layer's kernels, got Dense"):
        nn.plot.conv_filters(mlp.layers[0])
    with pytest.raises(ValueError, match="the model has none"):
        nn.plot.activation_maps(mlp, np.zeros((1, 64)))
    with pytest.raises(ValueError, match="MultiHeadAttention or TransformerEncoder, got Dense"):
        nn.plot.attention(mlp.layers[0])


def test_demo_cnn_plot_draws_what_the_network_learned(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "cnn", "--epochs", "1", "--plot", str(tmp_path / "curves.png")]) == 0
    out = capsys.readouterr().out
    for name in ("demo_cnn_filters.png", "demo_cnn_activations.png", "demo_cnn_saliency.png", "demo_cnn_gradients.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG and str(tmp_path / name) in out
    assert (tmp_path / "demo_cnn_model.svg").read_text().startswith("<?xml")
