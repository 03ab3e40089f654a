"""Layers that make images larger, as an image generator needs them: Conv2DTranspose and UpSampling2D.
Finite differences, parity with torch.nn.ConvTranspose2d and torch.nn.Upsample (float64), shapes, errors,
saving."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import neuronet as nn
from neuronet.gradcheck import check_layer

L = nn.layers
GEOMETRIES = [  # kernel, stride, padding, output_padding, dilation
    (3, 1, 0, 0, 1),
    (4, 2, 1, 0, 1),  # DCGAN's: doubles the size
    (3, 2, 1, 1, 1),
    (5, 3, 2, 2, 1),
    (3, 2, 0, 1, 2),
    (1, 3, 0, 2, 1),  # output padding beyond the kernel's frame
    ((2, 3), (1, 2), 1, (0, 1), 1),  # pairs: a different geometry per axis
]


def layer_with_biases(*args, **kwargs):
    layer = L.Conv2DTranspose(*args, **kwargs)
    layer.biases.data[:] = np.random.default_rng(0).standard_normal(layer.biases.shape)
    return layer


@settings(max_examples=12, deadline=None)
@given(
    geometry=st.sampled_from(GEOMETRIES),
    size=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    channels=st.tuples(st.integers(1, 3), st.integers(1, 3)),
)
def test_conv2d_transpose_matches_finite_differences(geometry, size, channels):
    nn.set_dtype("float64")
    try:
        k, s, p, op, d = geometry
        layer = layer_with_biases(*channels, k, stride=s, padding=p, output_padding=op, dilation=d)
        assume(min(layer.output_shape((None, *size, channels[0]))[1:3]) >= 1)  # (else a clear error, tested below)
        x = np.random.default_rng(1).standard_normal((2, *size, channels[0]))
        errors = check_layer(layer, x)
        assert errors and max(errors.values()) < 1e-6, errors
    finally:
        nn.set_dtype("float32")


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_conv2d_transpose_matches_torch(float64, geometry):
    torch = pytest.importorskip("torch")
    k, s, p, op, d = geometry
    ours = layer_with_biases(3, 2, k, stride=s, padding=p, output_padding=op, dilation=d, activation="tanh")
    theirs = torch.nn.ConvTranspose2d(3, 2, k, stride=s, padding=p, output_padding=op, dilation=d).double()
    with torch.no_grad():  # ours (k_h, k_w, out, in), theirs (in, out, k_h, k_w)
        theirs.weight.copy_(torch.tensor(ours.weights.data.transpose(3, 2, 0, 1)))
        theirs.bias.copy_(torch.tensor(ours.biases.data))
    x = np.random.default_rng(2).standard_normal((2, 4, 5, 3))
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    yt = torch.tanh(theirs(xt))
    y = ours.forward(x)
    np.testing.assert_allclose(y, yt.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-10, atol=1e-12)
    dy = np.random.default_rng(3).standard_normal(y.shape)
    yt.backward(torch.tensor(dy.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(ours.backward(dy), xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(ours.weights.grad, theirs.weight.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-9)
    np.testing.assert_allclose(ours.biases.grad, theirs.bias.grad.numpy(), rtol=1e-9)


@pytest.mark.parametrize("kernel, stride", [(4, 2), (3, 2), (2, 2), (3, 1), (1, 3), (5, 3)])
def test_same_padding_multiplies_the_size_by_the_stride(float64, kernel, stride):
    layer = layer_with_biases(2, 3, kernel, stride=stride, padding="same")
    x = np.random.default_rng(4).standard_normal((2, 3, 4, 2))
    y = layer.forward(x)
    assert y.shape == (2, 3 * stride, 4 * stride, 3)
    assert layer.output_shape((None, 3, 4, 2)) == (None, 3 * stride, 4 * stride, 3)
    errors = check_layer(layer, x)
    assert max(errors.values()) < 1e-6, errors


def test_a_generator_of_transposed_convolutions_trains_saves_and_loads(tmp_path):
    """From a vector to an 8x8 image, as a GAN's generator grows one; the shapes chain in the summary."""
    nn.set_seed(0)
    model = nn.Sequential(
        [
            L.Dense(4, 2 * 2 * 8, activation="relu"),
            L.Reshape((2, 2, 8)),
            L.Conv2DTranspose(8, 4, 4, stride=2, padding=1, activation="relu"),
            L.Conv2DTranspose(4, 1, 4, stride=2, padding="same", activation="sigmoid"),
        ]
    )
    assert "(None, 8, 8, 1)" in model.summary(print_fn=lambda text: None)
    rng = np.random.default_rng(0)
    z = rng.standard_normal((64, 4))
    target = (rng.random((64, 8, 8, 1)) > 0.5).astype(float)
    model.compile(loss="mse", optimizer=nn.optimizers.Adam(0.01))
    history = model.fit(z, target, epochs=5, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "g.nnet")
    np.testing.assert_array_equal(nn.load_model(tmp_path / "g.nnet").predict(z), model.predict(z))


def test_bad_settings_and_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="output_padding must be <= 1"):
        L.Conv2DTranspose(2, 2, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="output_padding must be an int or a pair"):
        L.Conv2DTranspose(2, 2, 3, stride=2, output_padding=(1, 1, 1))
    with pytest.raises(ValueError, match='"same" fixes the output size'):
        L.Conv2DTranspose(2, 2, 3, stride=2, padding="same", output_padding=1)
    with pytest.raises(ValueError, match="padding must be"):
        L.Conv2DTranspose(2, 2, 3, padding=7)
    layer = L.Conv2DTranspose(2, 3, 3, padding=3)
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, height, width, 2\)"):
        layer.forward(np.zeros((1, 4, 4, 3)))
    with pytest.raises(ValueError, match="leaves no output for an input of 1x1"):
        layer.forward(np.zeros((1, 1, 1, 2)))
    with pytest.raises(ValueError, match="stride must be <= 64"):  # (a hostile file's image of any size)
        L.Conv2DTranspose(2, 2, 3, stride=10**6)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("size", [2, (3, 2), (1, 4)])
def test_upsampling_matches_torch_and_finite_differences(float64, mode, size):
    torch = pytest.importorskip("torch")
    layer = L.UpSampling2D(size, interpolation=mode)
    x = np.random.default_rng(5).standard_normal((2, 3, 4, 2))
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    options = {} if mode == "nearest" else {"align_corners": False}
    factor = (size, size) if isinstance(size, int) else size
    yt = torch.nn.Upsample(scale_factor=factor, mode=mode, **options)(xt)
    y = layer.forward(x)
    assert y.shape[1:] == layer.output_shape((None, 3, 4, 2))[1:] and y.shape[1:3] == (3 * factor[0], 4 * factor[1])
    np.testing.assert_allclose(y, yt.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-12, atol=1e-14)
    dy = np.random.default_rng(6).standard_normal(y.shape)
    yt.backward(torch.tensor(dy.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(layer.backward(dy), xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-12, atol=1e-13)
    assert check_layer(layer, x)["input"] < 1e-6


def test_upsampling_errors_are_clear():
    with pytest.raises(ValueError, match="interpolation must be one of"):
        L.UpSampling2D(2, interpolation="cubic")
    with pytest.raises(ValueError, match="size must be <= 64"):
        L.UpSampling2D(1000)
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, height, width, channels\)"):
        L.UpSampling2D().forward(np.zeros((2, 3, 4)))
