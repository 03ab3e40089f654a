"""GELU, SiLU, ELU, SELU and Softplus beyond their gradients (test_gradients.py) and PyTorch parity
(test_torch_parity.py): erf to float64's rounding, no overflow at large inputs, their names in activation=,
saving and loading, and clear errors."""

import math
import warnings

import numpy as np
import pytest

import neuronet as nn
from neuronet.layers.activations import ACTIVATIONS, erf

L = nn.layers
NEW = {"gelu": L.GELU, "silu": L.SiLU, "elu": L.ELU, "selu": L.SELU, "softplus": L.Softplus}
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def test_erf_equals_pythons_to_float64_rounding():
    rng = np.random.default_rng(0)
    # every range of the approximation and its edges (0.46875, 4, 27), both signs, tiny and huge values
    x = np.concatenate(
        [
            np.linspace(-8, 8, 40001),
            rng.standard_normal(20000) * 3,
            rng.uniform(-30, 30, 5000),
            [0.0, -0.0, 0.46875, -0.46875, 4.0, -4.0, 27.0, 1e-300, -1e-20, 1e300, -1e300],
            np.nextafter([0.46875, 4.0, -0.46875, -4.0], [1, 5, -1, -5]),
        ]
    )
    ours, exact = erf(x), np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(ours, exact, rtol=1e-15, atol=3e-16)
    assert math.copysign(1, erf(np.array([-0.0]))[0]) == -1  # erf(-0) = -0, as math.erf
    assert np.isnan(erf(np.array([np.nan]))).all() and (erf(np.array([np.inf, -np.inf])) == [1, -1]).all()


def test_erf_keeps_float32_and_its_accuracy():
    x = np.random.default_rng(1).standard_normal(10000).astype(np.float32) * 3
    y = erf(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, [math.erf(v) for v in x.astype(np.float64)], atol=3e-7)


def limits(name, x):
    """What each activation tends to at large |x| (to float64's rounding; 0 below 1e-15)."""
    positive = {"selu": SELU_SCALE * x}.get(name, x)
    negative = {"elu": -1.0, "selu": -SELU_SCALE * SELU_ALPHA}.get(name, 0.0)  # gelu, silu, softplus: 0
    return np.where(x > 0, positive, negative)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", NEW)
def test_large_inputs_give_finite_values_and_no_warnings(name, dtype):
    nn.set_dtype(dtype)
    try:
        x = np.array([[-1e4, -100.0, -40.0, 40.0, 100.0, 1e4]], dtype=dtype)
        layer = NEW[name]()
        with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
            warnings.simplefilter("error")
            y = layer.forward(x)
            dx = layer.backward(np.ones_like(x))
    finally:
        nn.set_dtype("float32")
    assert y.dtype == dx.dtype == np.dtype(dtype)
    assert np.isfinite(y).all() and np.isfinite(dx).all()
    np.testing.assert_allclose(y, limits(name, x.astype(np.float64)), rtol=1e-6, atol=1e-15)
    slope = SELU_SCALE if name == "selu" else 1.0
    np.testing.assert_allclose(dx, np.where(x > 0, slope, 0.0), atol=1e-12)


@pytest.mark.parametrize("name", NEW)
def test_each_name_gives_its_layer_wherever_activation_is_taken(name):
    assert ACTIVATIONS[name] is NEW[name]
    for layer in (
        L.Dense(3, 4, activation=name),
        L.Conv2D(2, 3, 3, activation=name.upper()),
        L.Conv1D(2, 3, 3, activation=name),
        L.Dense(4, activation=NEW[name]()),
    ):
        assert type(layer.activation) is NEW[name]
        assert layer.output_activation() == name
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    dense = L.Dense(3, 4, activation=name)
    np.testing.assert_allclose(dense.forward(x), NEW[name]().forward(x @ dense.weights.data + dense.biases.data))


def test_an_unknown_name_lists_the_new_ones():
    with pytest.raises(ValueError, match="unknown activation 'swish'.*'elu', 'gelu'.*'selu', 'sigmoid', 'silu'"):
        L.Dense(3, 4, activation="swish")


def test_which_are_monotone_for_the_fused_max_pooling():
    """act(max(z)) = max(act(z)) only for an activation that never decreases (fusion.ConvPool relies on it)."""
    assert L.ELU().monotone and L.ELU(0.0).monotone and L.SELU().monotone and L.Softplus().monotone
    assert not (L.GELU().monotone or L.SiLU().monotone or L.ELU(-0.5).monotone)


def test_elu_alpha_is_checked_naming_the_layer():
    for bad, match in ((float("nan"), "ELU alpha must be a finite number"), ("1", "ELU alpha must be a number")):
        with pytest.raises(ValueError, match=match):
            L.ELU(bad)
    with pytest.raises(TypeError, match="alpha"):
        L.SELU(alpha=2.0)  # its constants are fixed


def test_a_model_of_them_saves_loads_and_summarises(tmp_path):
    rng = np.random.default_rng(2)
    model = nn.Sequential(
        [
            L.Dense(4, 8, activation="gelu"),
            L.ELU(0.3),
            L.Dense(8, activation=L.ELU(0.2)),
            L.SELU(),
            L.Dense(6, activation="silu"),
            L.Softplus(),
            L.Dense(2, activation="selu"),
        ],
        input_shape=(4,),
    )
    x = rng.standard_normal((7, 4)) * 3
    model.save(tmp_path / "m.nnet")
    loaded = nn.load_model(tmp_path / "m.nnet")
    assert [type(layer).__name__ for layer in loaded.layers] == ["Dense", "ELU", "Dense", "SELU", "Dense", "Softplus",
                                                                "Dense"]  # fmt: skip
    assert loaded.layers[1].alpha == 0.3 and loaded.layers[2].activation.alpha == 0.2
    assert type(loaded.layers[0].activation) is L.GELU and type(loaded.layers[6].activation) is L.SELU
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    table = model.summary(print_fn=lambda line: None)
    for name in ("elu", "selu", "softplus"):
        assert name in table


def test_a_model_of_them_trains():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((128, 3)).astype(np.float32)
    y = np.sin(x.sum(axis=1, keepdims=True))
    model = nn.Sequential([L.Dense(3, 16, activation="gelu"), L.Dense(16, activation="silu"),
                           L.Dense(16, activation="elu"), L.Dense(16, activation="softplus"), L.Dense(1)])  # fmt: skip
    model.compile(loss="mse", optimizer=nn.optimizers.Adam(0.01))
    history = model.fit(x, y, epochs=30, batch_size=32, verbose=0).history["loss"]
    assert history[-1] < 0.3 * history[0]
