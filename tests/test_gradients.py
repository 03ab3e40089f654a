"""Finite-difference checks (float64) of every layer, loss and regulariser."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import neuronet as nn
from neuronet.gradcheck import check_layer, numerical_gradient, relative_error

TOL = 1e-6
shapes = st.tuples(st.integers(1, 5), st.integers(1, 6), st.integers(1, 6))


def assert_small(errors):
    assert errors, "nothing was checked"
    for name, err in errors.items():
        assert err < TOL, f"{name}: relative error {err:.2e}"


@settings(max_examples=15, deadline=None)
@given(shape=shapes, activation=st.sampled_from([None, *nn.layers.activations.ACTIVATIONS]))
def test_dense(shape, activation):
    nn.set_dtype("float64")
    try:
        batch, n_in, n_out = shape
        assume(activation != "softmax" or n_out > 1)  # a softmax over one output is refused (always 1)
        layer = nn.layers.Dense(n_in, n_out, activation=activation)
        layer.biases.data[:] = np.random.default_rng(1).standard_normal(n_out)
        x = np.random.default_rng(2).standard_normal((batch, n_in))
        assert_small(check_layer(layer, x))
    finally:
        nn.set_dtype("float32")


def test_dense_with_extra_leading_axes(float64):
    layer = nn.layers.Dense(4, 3, activation="tanh")
    assert_small(check_layer(layer, np.random.default_rng(0).standard_normal((2, 5, 4))))


@settings(max_examples=10, deadline=None)
@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    layer=st.sampled_from([*nn.layers.activations.ACTIVATIONS.values(), nn.layers.Flatten]),
)
def test_parameter_free_layers(shape, layer):
    assume(layer is not nn.layers.Softmax or shape[-1] > 1)  # a softmax over one value is refused (test_loss_inputs)
    nn.set_dtype("float64")
    try:
        x = np.random.default_rng(3).standard_normal((2, *shape))
        assert_small(check_layer(layer(), x))
    finally:
        nn.set_dtype("float32")


def test_leaky_relu_custom_slope(float64):
    assert_small(check_layer(nn.layers.LeakyReLU(alpha=0.3), np.random.default_rng(0).standard_normal((4, 5))))


@pytest.mark.parametrize("layer", [nn.layers.ELU(alpha=0.3), nn.layers.ELU(alpha=-0.5)], ids=str)
def test_elu_other_alphas(float64, layer):
    assert_small(check_layer(layer, np.random.default_rng(0).standard_normal((4, 5)) * 3))


@pytest.mark.parametrize("shape", [(4, 5), (3, 4, 6)], ids=["2d", "3d"])
@pytest.mark.parametrize("epsilon", [1e-5, 0.5])
def test_layer_normalization(float64, shape, epsilon):
    rng = np.random.default_rng(4)
    layer = nn.layers.LayerNormalization(shape[-1], epsilon=epsilon)
    layer.gamma.data[:] = rng.uniform(-2, 2, shape[-1])
    layer.beta.data[:] = rng.standard_normal(shape[-1])
    errors = check_layer(layer, rng.standard_normal(shape) * 3 + 1)
    assert {"input", "gamma", "beta"} <= set(errors)
    assert_small(errors)


def test_dropout_in_training(float64):
    layer = nn.layers.Dropout(0.4)
    assert_small(check_layer(layer, np.random.default_rng(0).standard_normal((6, 7)), training=True))
    assert layer.mask is not None and (layer.mask == 0).any()


def _targets(loss, y_pred, rng):
    n, k = y_pred.shape
    if isinstance(loss, nn.losses.CategoricalCrossentropy):
        return rng.integers(0, k, n)
    if isinstance(loss, nn.losses.BinaryCrossentropy):
        return rng.integers(0, 2, (n, k)).astype(np.float64)
    return rng.standard_normal((n, k))


LOSSES = [
    nn.losses.MeanSquaredError(),
    nn.losses.MeanAbsoluteError(),
    nn.losses.BinaryCrossentropy(),
    nn.losses.BinaryCrossentropy(from_logits=True),
    nn.losses.CategoricalCrossentropy(),
    nn.losses.CategoricalCrossentropy(from_logits=True),
    nn.losses.BinaryCrossentropy(label_smoothing=0.1),
    nn.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.2),
    nn.losses.CategoricalCrossentropy(label_smoothing=0.1),
    nn.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2),
]


def _loss_inputs(loss, rng, n=6, k=4):
    """Predictions in the loss's domain (scores, or probabilities) and matching targets."""
    z = rng.standard_normal((n, k))
    if not getattr(loss, "from_logits", True):
        z = nn.layers.activations.softmax(z) if loss.fuses_with == "softmax" else 1 / (1 + np.exp(-z))
    return z, _targets(loss, z, rng)


@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: f"{type(loss).__name__}-{loss.get_config()}")
def test_losses(float64, loss):
    z, y = _loss_inputs(loss, np.random.default_rng(5))
    numeric = numerical_gradient(lambda: loss(z, y), z)
    assert relative_error(loss.backward(z, y), numeric) < TOL


@pytest.mark.parametrize("from_logits", [False, True])
def test_categorical_crossentropy_one_hot_and_soft_targets(float64, from_logits):
    loss = nn.losses.CategoricalCrossentropy(from_logits=from_logits)
    rng = np.random.default_rng(5)
    z, labels = _loss_inputs(loss, rng)
    soft = rng.random((6, 4))
    for y in (np.eye(4)[labels], soft / soft.sum(axis=1, keepdims=True)):
        numeric = numerical_gradient(lambda y=y: loss(z, y), z)
        assert relative_error(loss.backward(z, y), numeric) < TOL


@pytest.mark.parametrize(
    "loss",
    [
        nn.losses.CategoricalCrossentropy(),
        nn.losses.BinaryCrossentropy(),
        nn.losses.CategoricalCrossentropy(label_smoothing=0.2),
        nn.losses.BinaryCrossentropy(label_smoothing=0.2),
    ],
)
def test_fused_gradient_equals_gradient_through_activation(float64, loss):
    """(p - y) / n must be what backward through softmax/sigmoid would give."""
    rng = np.random.default_rng(6)
    act = nn.layers.Softmax() if loss.fuses_with == "softmax" else nn.layers.Sigmoid()
    z = rng.standard_normal((5, 3))
    p = act.forward(z)
    y = _targets(loss, p, rng)
    through = act.backward(loss.backward(p, y))
    fused = loss.backward_through_activation(p, loss.prepare_targets(y, p))
    assert relative_error(fused, through) < TOL


@pytest.mark.parametrize("l1,l2", [(0.01, 0.0), (0.0, 0.02), (0.03, 0.04)])
def test_regularizer(float64, l1, l2):
    reg = nn.regularizers.L1L2(l1, l2)
    w = np.random.default_rng(7).standard_normal((4, 3))
    grad = np.zeros_like(w)
    reg.add_gradient(w, grad)
    assert relative_error(grad, numerical_gradient(lambda: reg.penalty(w), w)) < TOL


@pytest.mark.parametrize(
    "last,loss",
    [
        ("softmax", nn.losses.CategoricalCrossentropy()),  # fused inside Dense
        ("softmax-layer", nn.losses.CategoricalCrossentropy()),  # fused, separate Softmax layer
        (None, nn.losses.CategoricalCrossentropy(from_logits=True)),
        ("sigmoid", nn.losses.BinaryCrossentropy()),
        (None, nn.losses.MeanSquaredError()),
    ],
)
def test_whole_model_with_regularisation(float64, last, loss):
    """The model's training gradients (fused paths, L1/L2 terms) against finite differences."""
    rng = np.random.default_rng(8)
    n_out = 1 if isinstance(loss, nn.losses.BinaryCrossentropy) else 3
    layers = [
        nn.layers.Dense(4, 5, activation="tanh", weight_regularizer_l2=0.01, bias_regularizer_l1=0.01),
        nn.layers.Dense(
            5, n_out, activation=None if last in (None, "softmax-layer") else last, weight_regularizer_l1=0.02
        ),
    ]
    if last == "softmax-layer":
        layers.append(nn.layers.Softmax())
    model = nn.Sequential(layers)
    for p in model.parameters():
        p.data[...] = rng.standard_normal(p.data.shape) * 0.5
    model.compile(loss=loss, optimizer="sgd")
    x = rng.standard_normal((6, 4))
    y = model.loss.prepare_targets(_targets(loss, np.zeros((6, n_out)), rng), np.zeros((6, n_out)))
    model.compute_gradients(x, y)

    def total_loss():
        return model.loss(model.forward(x), y) + model.regularization_loss()

    for p in model.parameters():
        assert relative_error(p.grad, numerical_gradient(total_loss, p.data)) < TOL


def test_model_input_gradient(float64):
    """model.backward returns dL/dx (what a GAN's generator needs from its discriminator)."""
    model = nn.Sequential([nn.layers.Dense(3, 4, activation="relu"), nn.layers.Dense(4, 2)])
    x = np.random.default_rng(9).standard_normal((5, 3))
    r = np.random.default_rng(10).standard_normal((5, 2))
    model.forward(x)
    dx = model.backward(r)
    assert relative_error(dx, numerical_gradient(lambda: float(np.sum(model.forward(x) * r)), x)) < TOL


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("targets", ["labels", "onehot"])
def test_categorical_crossentropy_over_rows_of_a_sequence(float64, from_logits, targets):
    """Predictions (batch, time, classes): one label per row, the mean over every row."""
    loss = nn.losses.CategoricalCrossentropy(from_logits=from_logits)
    rng = np.random.default_rng(8)
    z = rng.standard_normal((3, 5, 4))
    if not from_logits:
        z = nn.layers.activations.softmax(z)
    labels = rng.integers(0, 4, (3, 5))
    y = labels if targets == "labels" else np.eye(4)[labels]
    numeric = numerical_gradient(lambda: loss(z, y), z)
    assert relative_error(loss.backward(z, y), numeric) < TOL
    # each row scored as if alone: the mean of the 15 rows' losses
    rows = np.mean([loss(z[b, s][None], y[b, s][None]) for b in range(3) for s in range(5)])
    assert loss(z, y) == pytest.approx(rows, rel=1e-12)
    if not from_logits:  # the fused gradient with respect to the scores is the gradient through the softmax
        act = nn.layers.Softmax()
        p = act.forward(rng.standard_normal((3, 5, 4)))
        through = act.backward(loss.backward(p, y))
        assert relative_error(loss.backward_through_activation(p, loss.prepare_targets(y, p)), through) < TOL


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_crossentropy_of_saturated_probabilities_is_the_clipped_value(dtype):
    """A saturated float32 sigmoid gives exactly 0.0 and 1.0: the loss clips both ends to [eps, 1 - eps]."""
    loss = nn.losses.BinaryCrossentropy()
    p = np.array([[0.0], [1.0], [0.0], [1.0]], dtype=dtype)
    y = np.array([[1.0], [0.0], [0.0], [1.0]])
    clipped = np.clip(p, nn.losses.EPS, 1 - nn.losses.EPS)  # in p's own precision, as the loss computes
    expected = -np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))
    assert np.isfinite(loss(p, y)) and loss(p, y) == pytest.approx(float(expected), rel=1e-6)
    assert np.isfinite(loss.backward(p, y)).all()
