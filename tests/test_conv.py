"""Convolution, pooling, embedding and reshape layers: gradients, shapes, errors, learning."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import neuronet as nn
from neuronet.gradcheck import check_layer

L = nn.layers
TOL = 1e-6


def assert_small(errors):
    assert errors
    for name, err in errors.items():
        assert err < TOL, f"{name}: relative error {err:.2e}"


def float64_run(fn):
    nn.set_dtype("float64")
    try:
        fn()
    finally:
        nn.set_dtype("float32")


@settings(max_examples=25, deadline=None)
@given(
    size=st.tuples(st.integers(3, 8), st.integers(3, 8)),
    channels=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    dilation=st.integers(1, 2),
    padding=st.sampled_from(["valid", "same", 0, 1, 2]),
)
def test_conv2d_gradients(size, channels, kernel, stride, dilation, padding):
    # more padding than the kernel's span is refused (test_errors.py)
    assume(isinstance(padding, str) or padding <= dilation * (max(kernel) - 1) + 1)

    def run():
        layer = L.Conv2D(*channels, kernel, stride=stride, padding=padding, dilation=dilation, activation="tanh")
        layer.biases.data[:] = np.random.default_rng(1).standard_normal(channels[1])
        x = np.random.default_rng(2).standard_normal((2, *size, channels[0]))
        try:
            y = layer.forward(x)
        except ValueError as err:  # a kernel larger than the padded input is refused, clearly
            assert "kernel spans" in str(err)
            return
        assert y.shape == layer.output_shape((2, *size, channels[0]))
        assert_small(check_layer(layer, x))

    float64_run(run)


@pytest.mark.parametrize(
    "make, x_shape",
    [  # 16 or more input channels, stride 1: dx taken as a convolution of dz (Conv2D.input_gradient)
        (lambda: L.Conv2D(16, 3, (2, 3), padding="same", dilation=(1, 2)), (2, 7, 6, 16)),
        (lambda: L.Conv2D(16, 4, 3, padding=1), (2, 5, 5, 16)),
        (lambda: L.Conv1D(17, 2, 4, padding="same", dilation=2), (2, 13, 17)),
        # a stride above 1: by col2im
        (lambda: L.Conv2D(16, 3, (2, 3), stride=(2, 1), padding="same", dilation=(1, 2)), (2, 7, 6, 16)),
        (lambda: L.Conv1D(17, 2, 4, stride=3, padding=1, dilation=2), (2, 13, 17)),
    ],
)
def test_conv_gradients_with_many_input_channels(float64, make, x_shape):
    x = np.random.default_rng(4).standard_normal(x_shape)
    assert_small(check_layer(make(), x))  # built here, in float64


@settings(max_examples=40, deadline=None)
@given(
    size=st.tuples(st.integers(1, 7), st.integers(1, 7)),
    channels=st.tuples(st.integers(1, 17), st.integers(1, 5)),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    padding=st.sampled_from(["valid", "same", 0, 1, 2, 3]),
)
def test_input_gradient_as_a_convolution_equals_col2im(size, channels, kernel, dilation, padding):
    """The trick (dz convolved with the turned kernel) and the plain formula (col2im(dz @ W.T)) agree
    wherever the trick applies: stride 1 and padding at most the span less one."""

    def run():
        spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
        assume(isinstance(padding, str) or padding <= max(spans))  # more is refused (test_errors.py)
        layer = L.Conv2D(*channels, kernel, padding=padding, dilation=dilation)
        x = np.random.default_rng(5).standard_normal((2, *size, channels[0]))
        try:
            z = layer.forward(x)
        except ValueError as err:
            assert "kernel spans" in str(err)
            return
        if layer.gradient_padding() is None:  # padding the whole span of an axis: col2im only
            assert isinstance(padding, int) and padding >= min(spans)
            return
        dz = np.random.default_rng(6).standard_normal(z.shape).reshape(-1, channels[1])
        plain = layer.input_gradient_by_col2im(dz)
        assert plain.shape == x.shape
        np.testing.assert_allclose(layer.input_gradient_by_convolution(dz), plain, rtol=1e-12, atol=1e-12)

    float64_run(run)


@settings(max_examples=20, deadline=None)
@given(
    length=st.integers(2, 11),
    channels=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    kernel=st.integers(1, 4),
    stride=st.integers(1, 3),
    dilation=st.integers(1, 2),
    padding=st.sampled_from(["valid", "same", 0, 1]),
)
def test_conv1d_gradients(length, channels, kernel, stride, dilation, padding):
    def run():
        layer = L.Conv1D(*channels, kernel, stride=stride, padding=padding, dilation=dilation)
        x = np.random.default_rng(3).standard_normal((3, length, channels[0]))
        try:
            y = layer.forward(x)
        except ValueError as err:
            assert "kernel spans" in str(err)
            return
        assert y.shape == layer.output_shape((3, length, channels[0]))
        assert_small(check_layer(layer, x))

    float64_run(run)


@settings(max_examples=25, deadline=None)
@given(
    size=st.tuples(st.integers(2, 7), st.integers(2, 7)),
    pool=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
    kind=st.sampled_from([L.MaxPool2D, L.AvgPool2D]),
)
def test_pool2d_gradients_including_windows_that_do_not_fit(size, pool, stride, kind):
    def run():
        if pool[0] > size[0] or pool[1] > size[1]:
            with pytest.raises(ValueError, match="larger than the input"):
                kind(pool, stride).forward(np.zeros((1, *size, 2)))
            return
        layer = kind(pool, stride)
        x = np.random.default_rng(4).standard_normal((2, *size, 2))
        assert layer.forward(x).shape == layer.output_shape((2, *size, 2))
        assert_small(check_layer(layer, x))

    float64_run(run)


@pytest.mark.parametrize("kind", [L.MaxPool1D, L.AvgPool1D])
@pytest.mark.parametrize("pool,stride", [(2, None), (3, 2), (2, 3)])
def test_pool1d_gradients(float64, kind, pool, stride):
    layer = kind(pool, stride)
    x = np.random.default_rng(5).standard_normal((2, 9, 3))
    assert layer.forward(x).shape == layer.output_shape((2, 9, 3))
    assert_small(check_layer(layer, x))


@pytest.mark.parametrize("kind", [L.GlobalMaxPool2D, L.GlobalAvgPool2D, L.GlobalMaxPool1D, L.GlobalAvgPool1D])
def test_global_pool_gradients(float64, kind):
    shape = (2, 3, 4, 5) if kind.rank == 4 else (2, 6, 5)
    layer = kind()
    x = np.random.default_rng(6).standard_normal(shape)
    assert layer.forward(x).shape == (2, 5)
    assert_small(check_layer(layer, x))


def test_max_pool_sends_the_gradient_to_one_element_on_ties():
    x = np.zeros((1, 2, 2, 1))
    layer = L.MaxPool2D(2)
    layer.forward(x)
    np.testing.assert_array_equal(layer.backward(np.ones((1, 1, 1, 1))).ravel(), [1, 0, 0, 0])
    glob = L.GlobalMaxPool1D()
    glob.forward(np.zeros((1, 3, 1)))
    np.testing.assert_array_equal(glob.backward(np.ones((1, 1))).ravel(), [1, 0, 0])


def test_reshape_gradients_and_shapes(float64):
    layer = L.Reshape((2, -1))
    x = np.random.default_rng(7).standard_normal((3, 4, 3))
    assert layer.forward(x).shape == (3, 2, 6) and layer.output_shape((None, 4, 3)) == (None, 2, 6)
    assert_small(check_layer(layer, x))
    with pytest.raises(ValueError, match="reshape"):
        L.Reshape((5,)).forward(x)


def test_embedding_gradient_is_a_scatter_add_and_skips_padding(float64):
    rng = np.random.default_rng(8)
    layer = L.Embedding(7, 3, padding_id=0)
    assert not layer.weights.data[0].any()
    ids = rng.integers(0, 7, (4, 5))
    ids[0, :2] = 0
    y = layer.forward(ids)
    np.testing.assert_array_equal(y, layer.weights.data[ids])
    dy = rng.standard_normal(y.shape)
    layer.weights.zero_grad()
    assert layer.backward(dy) is None  # no gradient for integer ids
    expected = np.zeros((7, 3))
    np.add.at(expected, ids, dy)
    expected[0] = 0
    np.testing.assert_allclose(layer.weights.grad, expected, atol=1e-12)
    # and the finite-difference check of the table (the padding row excluded by construction)
    from neuronet.gradcheck import numerical_gradient, relative_error

    no_pad = L.Embedding(7, 3)
    r = rng.standard_normal((4, 5, 3))
    no_pad.forward(ids)
    no_pad.weights.zero_grad()
    no_pad.backward(r)
    numeric = numerical_gradient(lambda: float(np.sum(no_pad.forward(ids) * r)), no_pad.weights.data)
    assert relative_error(no_pad.weights.grad, numeric) < TOL


@pytest.mark.parametrize(
    "layer,x,match",
    [
        (L.Conv2D(3, 4, 3), np.zeros((2, 8, 8)), r"expects input of shape \(batch, height, width, 3\).*\(2, 8, 8\)"),
        (L.Conv2D(3, 4, 3), np.zeros((2, 8, 8, 1)), r"\(batch, height, width, 3\).*\(2, 8, 8, 1\)"),
        (L.Conv1D(2, 4, 3), np.zeros((2, 8, 3)), r"\(batch, length, 2\).*\(2, 8, 3\)"),
        (L.Conv2D(1, 4, 5), np.zeros((1, 3, 8, 1)), "kernel spans 5x5 but the padded input is only 3x8"),
        (L.Conv1D(1, 4, 4, dilation=2), np.zeros((1, 6, 1)), "kernel spans 7 but the padded input is only 6"),
        (L.MaxPool2D(2), np.zeros((2, 8, 8)), r"\(batch, height, width, channels\)"),
        (L.GlobalMaxPool1D(), np.zeros((2, 8, 8, 1)), r"\(batch, length, channels\)"),
        (L.Embedding(5, 2), np.array([[1, 5]]), r"token ids must be in 0\.\.4, found 1\.\.5"),
        (L.Embedding(5, 2), np.array([[-1, 2]]), r"token ids must be in 0\.\.4"),
        (L.Embedding(5, 2), np.array([[0.5, 2.0]]), "expects integer token ids"),
    ],
)
def test_clear_errors(layer, x, match):
    with pytest.raises(ValueError, match=match):
        layer.forward(x)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="padding must be"):
        L.Conv2D(1, 2, 3, padding="full")
    with pytest.raises(ValueError, match="kernel_size must be"):
        L.Conv2D(1, 2, 0)
    with pytest.raises(ValueError, match=r"stride must be an int, got \(1, 2\)"):
        L.Conv1D(1, 2, 3, stride=(1, 2))
    with pytest.raises(ValueError, match="padding must be .* an int from 0 to 3 .*got 4"):
        L.Conv2D(1, 2, 3, padding=4)  # beyond the kernel's span every window sees only zeros
    with pytest.raises(TypeError, match="kernel_size must be an int, got 2.5"):
        L.Conv2D(1, 2, 2.5)


def test_conv_model_round_trip_and_summary(tmp_path):
    def layers(flat: int) -> list:
        return [
            L.Conv2D(1, 4, 3, stride=2, padding="same", dilation=1, activation="relu"),
            L.AvgPool2D(2),
            L.Flatten(),
            L.Dense(flat, 3, activation="softmax"),
        ]

    shape_error = r"'dense' \(Dense\) expects input of shape \(batch, 16\), but received shape \(\w+, 64\)"
    with pytest.raises(ValueError, match=r"input_shape \(16, 16, 1\) does not fit the layers: layer " + shape_error):
        nn.Sequential(layers(16), input_shape=(16, 16, 1))
    x = np.random.default_rng(0).random((5, 16, 16, 1)).astype(np.float32)
    with pytest.raises(ValueError, match=shape_error):  # without input_shape: found at the first batch
        nn.Sequential(layers(16)).predict(x)
    model = nn.Sequential(layers(64), input_shape=(16, 16, 1))
    text = model.summary(print_fn=lambda s: None)
    assert "(None, 8, 8, 4)" in text and "(None, 4, 4, 4)" in text and "(None, 64)" in text
    model.save(tmp_path / "cnn.nnet")
    loaded = nn.load_model(tmp_path / "cnn.nnet")
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    assert loaded.layers[0].get_config() == model.layers[0].get_config()


def test_digits_cnn_reaches_97_percent():
    X, y = nn.datasets.load_digits()
    (xt, yt), _, (xs, ys) = nn.data.train_val_test_split(
        (X / 16.0).reshape(-1, 8, 8, 1), y, val_size=0.1, test_size=0.2, stratify=True, seed=0
    )
    model = nn.demos.digits_cnn()  # what `neuronet demo cnn` trains
    model.compile(loss="categorical_crossentropy", optimizer=nn.optimizers.Adam(0.003), metrics=["accuracy"])
    model.fit(xt, yt, epochs=20, batch_size=32, verbose=0)
    assert model.evaluate(xs, ys)["accuracy"] >= 0.97


def test_text_cnn_beats_a_bag_of_words_baseline():
    texts, y = nn.datasets.sentiment(3000, seed=0)
    tok = nn.text.Tokenizer().fit(texts[:2400])
    ids = nn.text.pad_sequences(tok.texts_to_sequences(texts), maxlen=12)
    V = tok.vocab_size
    cnn = nn.demos.sentiment_cnn(V, 12)  # what `neuronet demo text` trains
    cnn.compile(loss="categorical_crossentropy", optimizer=nn.optimizers.Adam(0.005), metrics=["accuracy"])
    cnn.fit(ids[:2400], y[:2400], epochs=15, batch_size=32, verbose=0)
    bags = np.zeros((len(ids), V), np.float32)  # word counts: the order of the words is lost
    for row, sentence in zip(bags, ids):
        np.add.at(row, sentence[sentence > 0], 1.0)
    bow = nn.Sequential([L.Dense(V, 64, activation="relu"), L.Dense(64, 2, activation="softmax")])
    bow.compile(loss="categorical_crossentropy", optimizer=nn.optimizers.Adam(0.005), metrics=["accuracy"])
    bow.fit(bags[:2400], y[:2400], epochs=30, batch_size=32, verbose=0)
    cnn_acc = cnn.evaluate(ids[2400:], y[2400:])["accuracy"]
    bow_acc = bow.evaluate(bags[2400:], y[2400:])["accuracy"]
    assert cnn_acc >= 0.97 and cnn_acc > bow_acc + 0.1, (cnn_acc, bow_acc)
