"""Regularisation: BatchNormalization, sparse layers and pruning, AdamW, clipping, dropout."""

import numpy as np
import pytest

import neuronet as nn
from neuronet.gradcheck import check_layer

TOL = 1e-6


def assert_small(errors):
    assert errors
    for name, err in errors.items():
        assert err < TOL, f"{name}: relative error {err:.2e}"


@pytest.mark.parametrize("shape", [(6, 3), (4, 5, 2), (2, 3, 3, 4)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradients(float64, shape, training):
    rng = np.random.default_rng(0)
    layer = nn.layers.BatchNormalization(shape[-1], momentum=0.9)
    layer.gamma.data[:] = rng.standard_normal(shape[-1])
    layer.beta.data[:] = rng.standard_normal(shape[-1])
    layer.running_mean[:] = rng.standard_normal(shape[-1])
    layer.running_var[:] = rng.random(shape[-1]) + 0.5
    assert_small(check_layer(layer, rng.standard_normal(shape) * 2 + 1, training=training))


@pytest.mark.parametrize("density", [0.1, 0.5])
def test_sparse_dense_gradients(float64, density):
    layer = nn.layers.SparseDense(6, 5, density=density, activation="tanh")
    layer.biases.data[:] = 0.3
    errors = check_layer(layer, np.random.default_rng(1).standard_normal((4, 6)))
    assert_small(errors)
    assert not layer.weights.grad[layer.mask == 0].any()


def test_regularisers_on_every_parameter_of_sparse_layers(float64):
    """L1/L2 work on any layer with weights: here through a SparseDense, checked on the model."""
    from neuronet.gradcheck import numerical_gradient, relative_error

    model = nn.Sequential(
        [nn.layers.SparseDense(4, 3, density=0.5, weight_regularizer_l1=0.1, bias_regularizer_l2=0.2)]
    )
    model.layers[0].biases.data[:] = [0.5, -1.0, 2.0]
    model.compile(loss="mse", optimizer="sgd")
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    model.compute_gradients(x, y)
    layer = model.layers[0]

    def total():
        return model.loss(model.forward(x), y) + model.regularization_loss()

    # masked weights are not parameters of the function, so compare on the kept ones
    numeric = numerical_gradient(total, layer.weights.data) * layer.mask
    assert relative_error(layer.weights.grad, numeric) < TOL
    assert relative_error(layer.biases.grad, numerical_gradient(total, layer.biases.data)) < TOL


def test_sparse_dense_density_and_fixed_mask():
    layer = nn.layers.SparseDense(20, 10, density=0.25)
    assert layer.mask.sum() == 50 and not layer.weights.data[layer.mask == 0].any()
    mask = np.eye(4, 3)
    fixed = nn.layers.SparseDense(4, 3, mask=mask)
    np.testing.assert_array_equal(fixed.weights.data != 0, mask != 0)
    with pytest.raises(ValueError, match="mask must have shape"):
        nn.layers.SparseDense(4, 3, mask=np.ones((3, 3)))


def test_pruned_weights_stay_zero_through_further_training():
    X, y = nn.datasets.load_digits()
    X = X / 16.0
    model = nn.Sequential([nn.layers.Dense(64, 32, activation="relu"), nn.layers.Dense(32, 10, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer=nn.optimizers.Adam(0.01), metrics=["accuracy"])
    model.fit(X, y, epochs=3, batch_size=64, verbose=0)
    big = np.abs(model.layers[0].weights.data)
    nn.layers.prune(model, sparsity=0.8)
    first = model.layers[0]
    assert isinstance(first, nn.layers.SparseDense) and first.name == "dense"
    assert first.mask.mean() == pytest.approx(0.2, abs=1e-3)
    assert big[first.mask == 1].min() >= big[first.mask == 0].max()  # the largest weights are the ones kept
    for opt in (
        nn.optimizers.Adam(0.01),
        nn.optimizers.AdamW(0.01, weight_decay=0.1),
        nn.optimizers.SGD(0.1, momentum=0.9),
    ):
        model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])
        h = model.fit(X, y, epochs=2, batch_size=64, verbose=0)
        for layer in model.layers:
            assert not layer.weights.data[layer.mask == 0].any()
    assert h.history["accuracy"][-1] > 0.9


def test_sparse_model_round_trip(tmp_path):
    model = nn.Sequential([nn.layers.SparseDense(5, 4, density=0.3), nn.layers.BatchNormalization(4)])
    model.forward(np.random.default_rng(0).standard_normal((8, 5)).astype(np.float32), training=True)
    model.save(tmp_path / "m.nnet")
    loaded = nn.load_model(tmp_path / "m.nnet")
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert loaded.layers[1].running_mean.any()


def test_dropout_scaling_statistics():
    nn.set_seed(3)
    layer = nn.layers.Dropout(0.3)
    x = np.ones((1000, 1000), dtype=np.float32)
    y = layer.forward(x, training=True)
    dropped = (y == 0).mean()
    assert abs(dropped - 0.3) < 0.003  # 1e6 draws: the standard deviation of the fraction is 0.00046
    assert np.allclose(y[y != 0], 1 / 0.7)
    assert abs(y.mean() - 1.0) < 0.005  # inverted dropout keeps the expected value
    np.testing.assert_array_equal(layer.forward(x, training=False), x)


def test_dropout_matches_torch_in_distribution():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = torch.nn.functional.dropout(torch.ones(1000, 1000), p=0.3, training=True).numpy()
    ours = nn.layers.Dropout(0.3).forward(np.ones((1000, 1000), np.float32), training=True)
    assert set(np.unique(ours)) == set(np.unique(theirs))  # {0, 1/0.7} on both sides
    assert abs((ours == 0).mean() - (theirs == 0).mean()) < 0.004


def test_clipping_by_value_and_norm():
    p = nn.Parameter(np.zeros(4))
    p.grad[:] = [3.0, -4.0, 0.5, 0.0]
    nn.optimizers.SGD(1.0, clipvalue=1.0).step([p])
    np.testing.assert_allclose(p.data, [-1.0, 1.0, -0.5, 0.0])
    a, b = nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(1))
    a.grad[:], b.grad[:] = [3.0, 0.0], [4.0]  # global norm 5
    nn.optimizers.SGD(1.0, clipnorm=1.0).step([a, b])
    np.testing.assert_allclose(np.r_[a.data, b.data], [-0.6, 0.0, -0.8], rtol=1e-5)


def test_pruning_mid_training_carries_adams_moments_for_the_weights_kept():
    """Re-flattening the parameters (the pruned layers are new objects) keeps the optimizer's state by path."""
    X, y = nn.datasets.load_digits()
    model = nn.Sequential([nn.layers.Dense(64, 16, activation="relu"), nn.layers.Dense(16, 10, activation="softmax")])
    model.compile(optimizer=nn.optimizers.Adam(0.01))
    model.fit(X / 16.0, y, epochs=1, batch_size=64, verbose=0)
    state = model.optimizer.state[model.flat_parameter()]
    m_before, v_before = state["m"].copy(), state["v"].copy()
    nn.layers.prune(model, sparsity=0.5)
    after = model.optimizer.state[model.flat_parameter()]  # a new buffer, the state moved with it
    np.testing.assert_array_equal(after["m"], m_before)
    np.testing.assert_array_equal(after["v"], v_before)
    model.fit(X / 16.0, y, epochs=1, batch_size=64, verbose=0)
    for layer in model.layers:  # the mask's constraint keeps the absent weights at zero despite their momenta
        assert not layer.weights.data[layer.mask == 0].any()


def test_a_layer_added_after_training_starts_its_state_afresh():
    X, y = np.random.default_rng(0).standard_normal((32, 4)), np.random.default_rng(1).standard_normal((32, 3))
    model = nn.Sequential([nn.layers.Dense(4, 3)])
    model.compile(loss="mse", optimizer=nn.optimizers.Adam(0.01))
    model.fit(X, y, epochs=1, verbose=0)
    kept = model.optimizer.state[model.flat_parameter()]["m"].copy()
    model.add(nn.layers.Dense(3, 3))
    state = model.optimizer.state[model.flat_parameter()]
    np.testing.assert_array_equal(state["m"][: kept.size], kept)
    assert not state["m"][kept.size :].any()
