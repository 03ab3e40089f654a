"""LayerNormalization beyond its gradients (test_gradients.py), PyTorch parity (test_torch_parity.py) and the
two spellings of its size (test_sizes_inferred.py): what it computes, in models of both kinds, with padding
masks, saved and loaded, and its errors."""

import numpy as np
import pytest

import neuronet as nn

L = nn.layers


def test_each_sample_and_step_comes_out_with_mean_0_and_variance_1_in_float32():
    x = np.random.default_rng(0).standard_normal((4, 6, 32)).astype(np.float32) * 5 + 3
    layer = L.LayerNormalization()
    y = layer(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=-1), 1, atol=1e-3)  # (var / (var + eps), var about 25)
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    assert layer.gamma.grad.dtype == layer.beta.grad.dtype == np.float32


def test_training_and_inference_compute_the_same_and_each_sample_alone(float64):
    rng = np.random.default_rng(1)
    layer = L.LayerNormalization(5)
    layer.gamma.data[:], layer.beta.data[:] = rng.uniform(-2, 2, 5), rng.standard_normal(5)
    x = rng.standard_normal((6, 3, 5))
    np.testing.assert_array_equal(layer.forward(x, training=True), layer.forward(x, training=False))
    np.testing.assert_allclose(layer.forward(x[2:3]), layer.forward(x)[2:3], rtol=1e-14, atol=1e-14)
    assert layer.independent_samples and layer.states() == []


@pytest.mark.parametrize("shape", [(5,), (7, 5)], ids=["tabular", "sequence"])
def test_built_by_nn_input_by_the_first_batch_or_given_its_size_it_is_the_same_layer(float64, shape):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, *shape))
    given = nn.Sequential([L.LayerNormalization(5, epsilon=1e-3), L.Dense(5, 2)])
    entry = nn.Input(shape=shape)
    from_input = nn.Model(entry, L.Dense(2)(L.LayerNormalization(epsilon=1e-3)(entry)))
    from_batch = nn.Sequential([L.LayerNormalization(epsilon=1e-3), L.Dense(2)])
    from_input_shape = nn.Sequential([L.LayerNormalization(epsilon=1e-3), L.Dense(2)], input_shape=shape)
    assert from_input.layers[0].built and from_input_shape.layers[0].built and not from_batch.layers[0].built
    from_batch.predict(x)
    for model in (from_input, from_batch, from_input_shape):
        norm = model.layers[0]
        assert norm.built and norm.n_features == 5 and norm.get_config() == given.layers[0].get_config()
        assert {n: p.shape for n, p in norm.named_parameters().items()} == {"gamma": (5,), "beta": (5,)}
        model.set_weights(given.get_weights())
        np.testing.assert_array_equal(model.predict(x), given.predict(x))


def test_a_padding_mask_passes_through_it():
    """Each step is normalised alone, so a recurrent layer after it still skips the padded steps: a
    pre-padded sequence ends in the state of the unpadded one."""
    layer = L.LayerNormalization()
    mask = np.array([[False, True, True]])
    assert layer.keeps_mask and layer.output_mask(mask) is mask
    model = nn.Sequential([L.Embedding(10, 4, padding_id=0), L.LayerNormalization(), L.GRU(4, 3)])
    padded, unpadded = np.array([[0, 0, 3, 5, 7]]), np.array([[3, 5, 7]])
    np.testing.assert_allclose(model.predict(padded), model.predict(unpadded), rtol=1e-6, atol=1e-6)


def test_saved_and_loaded_it_computes_the_same(tmp_path):
    rng = np.random.default_rng(3)
    model = nn.Sequential([L.Dense(4, 6), L.LayerNormalization(epsilon=0.01), L.Dense(6, 2)], input_shape=(4,))
    norm = model.layers[1]
    norm.gamma.data[:], norm.beta.data[:] = rng.uniform(-2, 2, 6), rng.standard_normal(6)
    model.save(tmp_path / "m.nnet")
    loaded = nn.load_model(tmp_path / "m.nnet")
    assert type(loaded.layers[1]) is L.LayerNormalization and loaded.layers[1].epsilon == 0.01
    np.testing.assert_array_equal(loaded.layers[1].gamma.data, norm.gamma.data)
    x = rng.standard_normal((5, 4))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_summary_counts_gamma_and_beta():
    model = nn.Sequential([L.LayerNormalization()], input_shape=(7, 16))
    table = model.summary(print_fn=lambda line: None)
    assert "layer_normalization" in table and "(None, 7, 16)" in table and "32" in table
    assert sum(p.data.size for p in model.parameters()) == 32


def test_a_model_with_it_trains():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((128, 6, 4)).astype(np.float32) * 3
    y = (x[:, :, 0].mean(axis=1) > 0).astype(np.float32)
    model = nn.Sequential([L.Dense(4, 8, activation="gelu"), L.LayerNormalization(), L.GlobalAvgPool1D(),
                           L.Dense(8, 1, activation="sigmoid")])  # fmt: skip
    model.compile(loss="binary_crossentropy", optimizer=nn.optimizers.Adam(0.01), metrics=["accuracy"])
    model.fit(x, y, epochs=20, batch_size=32, verbose=0)
    assert model.evaluate(x, y)["accuracy"] > 0.9


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: L.LayerNormalization(4, epsilon=0), "LayerNormalization epsilon must be > 0, got 0"),
        (lambda: L.LayerNormalization(4, epsilon=-1e-5), "LayerNormalization epsilon must be > 0"),
        (lambda: L.LayerNormalization(4, epsilon=float("nan")), "LayerNormalization epsilon must be a finite number"),
        (lambda: L.LayerNormalization(0), "n_features must be >= 1, got 0"),
        (lambda: L.LayerNormalization(2.5), "n_features must be an int"),
    ],
)
def test_bad_settings_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_an_input_of_another_size_or_rank_is_a_clear_error():
    layer = L.LayerNormalization(4)
    with pytest.raises(ValueError, match=r"layer 'layer_normalization' \(LayerNormalization\) expects input of "
                                         r"shape \(batch, \.\.\., 4\), but received shape \(2, 3, 5\)"):  # fmt: skip
        layer.forward(np.zeros((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, \.\.\., 4\), but received shape \(4,\)"):
        layer.forward(np.zeros(4, np.float32))
    with pytest.raises(ValueError, match=r"input_shape \(5,\) does not fit.*'layer_normalization' \(LayerNormaliz"):
        nn.Sequential([L.LayerNormalization(4)], input_shape=(5,))
    entry = nn.Input(shape=(3, 6))
    with pytest.raises(
        ValueError, match="'layer_normalization'.*does not fit its input of shape \\(3, 6\\).*with n_features 4"
    ):
        L.LayerNormalization(4)(entry)
    unbuilt = L.LayerNormalization()
    with pytest.raises(RuntimeError, match="'layer_normalization' \\(LayerNormalization\\) has no parameters yet"):
        unbuilt.forward(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="LayerNormalization.*takes inputs of shape \\(batch, ..., features\\)"):
        unbuilt.build((None,))
