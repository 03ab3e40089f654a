"""Sizes inferred: a layer spelled without its input size (Dense(32), Conv2D(16, 3), LSTM(32), BatchNormalization())
is built from its first input into the layer the full spelling makes."""

import re

import numpy as np
import pytest

import neuronet as nn
from neuronet.checks import ArgumentError
from neuronet.gradcheck import check_layer
from neuronet.layers.base import deserialize, serialize

L = nn.layers

# (the full spelling, the same layer without its input size, one input, training?)
CASES = {
    "dense": (
        lambda: L.Dense(5, 4, activation="tanh", weight_regularizer_l2=0.1, bias_regularizer_l1=0.2),
        lambda: L.Dense(4, activation="tanh", weight_regularizer_l2=0.1, bias_regularizer_l1=0.2),
        (3, 5),
        False,
    ),
    "dense_keywords": (lambda: L.Dense(n_inputs=5, n_neurons=4), lambda: L.Dense(n_neurons=4), (3, 5), False),
    "dense_on_sequences": (
        lambda: L.Dense(5, 4, weight_initializer="he_normal"),
        lambda: L.Dense(4, weight_initializer="he_normal"),
        (2, 3, 5),
        False,
    ),
    "sparse_dense": (lambda: L.SparseDense(5, 4, density=0.5), lambda: L.SparseDense(4, density=0.5), (3, 5), False),
    "conv2d": (
        lambda: L.Conv2D(3, 4, 3, padding="same", activation="relu", weight_regularizer_l1=0.1),
        lambda: L.Conv2D(4, 3, padding="same", activation="relu", weight_regularizer_l1=0.1),
        (2, 5, 5, 3),
        False,
    ),
    "conv2d_kernel_keyword": (
        lambda: L.Conv2D(3, 4, kernel_size=(2, 3), stride=2, dilation=1),
        lambda: L.Conv2D(4, kernel_size=(2, 3), stride=2, dilation=1),
        (2, 6, 7, 3),
        False,
    ),
    "conv1d": (lambda: L.Conv1D(3, 4, 3, dilation=2), lambda: L.Conv1D(4, 3, dilation=2), (2, 8, 3), False),
    "conv2d_transpose": (
        lambda: L.Conv2DTranspose(3, 2, 3, stride=2, padding=1, output_padding=1, activation="sigmoid"),
        lambda: L.Conv2DTranspose(2, 3, stride=2, padding=1, output_padding=1, activation="sigmoid"),
        (2, 3, 4, 3),
        False,
    ),
    "simple_rnn": (
        lambda: L.SimpleRNN(3, 5, activation="relu", return_sequences=True),
        lambda: L.SimpleRNN(5, activation="relu", return_sequences=True),
        (2, 4, 3),
        True,
    ),
    "lstm": (lambda: L.LSTM(3, 5), lambda: L.LSTM(5), (2, 4, 3), True),
    "lstm_keywords": (
        lambda: L.LSTM(input_size=3, hidden_size=5, unit_forget_bias=False),
        lambda: L.LSTM(hidden_size=5, unit_forget_bias=False),
        (2, 4, 3),
        True,
    ),
    "gru": (lambda: L.GRU(3, 5, return_sequences=True), lambda: L.GRU(5, return_sequences=True), (2, 4, 3), True),
    "batch_normalization": (
        lambda: L.BatchNormalization(3, momentum=0.9),
        lambda: L.BatchNormalization(momentum=0.9),
        (4, 2, 3),
        True,
    ),
    "layer_normalization": (
        lambda: L.LayerNormalization(3, epsilon=1e-3),
        lambda: L.LayerNormalization(epsilon=1e-3),
        (4, 2, 3),
        True,
    ),
    "layer_normalization_2d": (lambda: L.LayerNormalization(5), lambda: L.LayerNormalization(), (4, 5), False),
    "time_distributed": (
        lambda: L.TimeDistributed(L.Dense(5, 4, activation="relu")),
        lambda: L.TimeDistributed(L.Dense(4, activation="relu")),
        (2, 3, 5),
        False,
    ),
    "time_distributed_conv": (
        lambda: L.TimeDistributed(L.Conv2D(2, 3, 3)),
        lambda: L.TimeDistributed(L.Conv2D(3, 3)),
        (2, 3, 4, 4, 2),
        False,
    ),
    "bidirectional": (
        lambda: L.Bidirectional(L.LSTM(3, 5, return_sequences=True)),
        lambda: L.Bidirectional(L.LSTM(5, return_sequences=True)),
        (2, 4, 3),
        True,
    ),
    "bidirectional_sum": (
        lambda: L.Bidirectional(L.GRU(3, 4), merge_mode="sum", backward_layer=L.GRU(3, 4)),
        lambda: L.Bidirectional(L.GRU(4), merge_mode="sum", backward_layer=L.GRU(4)),
        (2, 4, 3),
        True,
    ),
}
cases = pytest.mark.parametrize("case", CASES)


def input_for(case, seed=0):
    return np.random.default_rng(seed).standard_normal(CASES[case][2])


def full_and_inferred(case):
    """The full spelling, and the inferred one built for the same input, each from the same seed."""
    full, inferred, shape, _ = CASES[case]
    nn.set_seed(7)
    a = full()
    b = inferred()
    assert not b.built and b.parameters() == [] and b.named_arrays() == {}
    nn.set_seed(7)
    b.build((None, *shape[1:]))
    assert b.built
    return a, b


def regularizers(layer):
    return {n: p.regularizer and (p.regularizer.l1, p.regularizer.l2) for n, p in layer.named_parameters().items()}


@cases
def test_the_inferred_spelling_builds_the_parameters_of_the_full_one(float64, case):
    full, inferred = full_and_inferred(case)
    assert {n: p.shape for n, p in inferred.named_parameters().items()} == {
        n: p.shape for n, p in full.named_parameters().items()
    }
    assert regularizers(inferred) == regularizers(full)
    # drawn from the same generator state, the same initialisers draw the same values (states too: masks)
    for (n, a), b in zip(full.named_arrays().items(), inferred.named_arrays().values()):
        np.testing.assert_array_equal(b, a, err_msg=n)
    assert inferred.get_config() == full.get_config()  # built, its config is the full spelling's
    assert inferred.input_shape() == full.input_shape()


@cases
def test_with_the_same_values_it_computes_what_the_full_spelling_does(float64, case):
    make_full, make_inferred, shape, training = CASES[case]
    nn.set_seed(0)
    full = make_full()
    nn.set_seed(1)  # other values than the full spelling's: the copy below is what makes them equal
    inferred = make_inferred()
    inferred.build((None, *shape[1:]))
    own = inferred.named_parameters()
    for name, p in full.named_parameters().items():
        own[name].assign(p.data)
    for mine, theirs in zip(inferred.states(), full.states()):
        mine[...] = theirs
    x = input_for(case)
    y_full, y = full.forward(x, training), inferred.forward(x, training)
    np.testing.assert_allclose(y, y_full, rtol=1e-13, atol=1e-15)
    dy = np.random.default_rng(1).standard_normal(y.shape)
    np.testing.assert_allclose(inferred.backward(dy), full.backward(dy), rtol=1e-13, atol=1e-15)
    for name, p in full.named_parameters().items():
        np.testing.assert_allclose(own[name].grad, p.grad, rtol=1e-13, atol=1e-15, err_msg=name)


@cases
def test_calling_a_layer_on_an_array_builds_it(float64, case):
    layer = CASES[case][1]()
    x = input_for(case)
    y = layer(x, CASES[case][3])
    assert layer.built and layer.parameters()
    assert y.shape == layer.output_shape(x.shape)
    np.testing.assert_array_equal(layer.forward(x, CASES[case][3]), y)


@cases
def test_a_pass_through_a_layer_not_built_says_how_to_build_it(case):
    layer = CASES[case][1]()
    x = input_for(case)
    for run in (lambda: layer.forward(x), lambda: layer.backward(x), lambda: layer.backward_params_only(x)):
        with pytest.raises(RuntimeError, match=rf"'{layer.name}' \({type(layer).__name__}\) has no parameters yet"):
            run()


@cases
def test_building_a_built_layer_does_nothing(case):
    full, inferred = full_and_inferred(case)
    for layer in (full, inferred):
        before = layer.named_parameters()
        values = {n: p.data.copy() for n, p in before.items()}
        layer.build((None, *CASES[case][2][1:]))
        layer.build((None, *[d + 1 for d in CASES[case][2][1:]]))  # another shape: still nothing
        after = layer.named_parameters()
        assert all(after[n] is p for n, p in before.items()) and after.keys() == before.keys()
        for n, p in after.items():
            np.testing.assert_array_equal(p.data, values[n])


@cases
def test_the_config_rebuilds_an_unbuilt_layer_unbuilt_and_a_built_one_built(case):
    layer = CASES[case][1]()
    again = deserialize(serialize(layer))
    assert not again.built and again.get_config() == layer.get_config()
    again.build((None, *CASES[case][2][1:]))
    rebuilt = deserialize(serialize(again))
    assert rebuilt.built and rebuilt.get_config() == again.get_config() == CASES[case][0]().get_config()
    assert {n: p.shape for n, p in rebuilt.named_parameters().items()} == {
        n: p.shape for n, p in again.named_parameters().items()
    }


@cases
def test_output_shape_and_repr_need_no_input(case):
    full, inferred, shape, _ = CASES[case]
    layer = inferred()
    assert layer.output_shape((None, *shape[1:])) == full().output_shape((None, *shape[1:]))
    assert layer.input_shape() is None
    assert re.search(r"(n_inputs|in_channels|input_size|n_features)(=|': )None", repr(layer))


def test_the_unbuilt_sizes_show_as_none():
    assert repr(L.Dense(32)).startswith("Dense(n_inputs=None, n_neurons=32,")
    assert L.Conv2D(16, 3).get_config()["in_channels"] is None
    assert L.LSTM(32).get_config()["input_size"] is None
    assert L.BatchNormalization().get_config()["n_features"] is None
    assert L.Dense(32).output_shape((None, 7)) == (None, 32)
    assert L.Conv2D(16, 3).output_shape((None, 8, 8, 3)) == (None, 6, 6, 16)
    assert L.Conv1D(8, 5, padding="same").output_shape((None, 10, 2)) == (None, 10, 8)
    assert L.LSTM(8, return_sequences=True).output_shape((None, 5, 3)) == (None, 5, 8)


def test_the_two_spellings_are_told_apart_by_how_many_sizes_are_given():
    assert (L.Dense(32).n_inputs, L.Dense(32).n_neurons) == (None, 32)
    assert (L.Dense(64, 32).n_inputs, L.Dense(64, 32).n_neurons) == (64, 32)
    assert (L.Dense(32, n_inputs=64).n_inputs, L.Dense(64, n_neurons=32).n_neurons) == (64, 32)
    for conv in (L.Conv2D(16, 3), L.Conv2D(16, kernel_size=3), L.Conv2D(out_channels=16, kernel_size=3)):
        assert (conv.in_channels, conv.out_channels, conv.kernel) == (None, 16, (3, 3))
    assert (L.Conv2D(8, 16, 3).in_channels, L.Conv2D(8, 16, kernel_size=3).in_channels) == (8, 8)
    assert (L.Conv1D(64, 5).in_channels, L.Conv1D(64, 5).kernel) == (None, (1, 5))
    assert (L.Conv2DTranspose(8, 3).in_channels, L.Conv2DTranspose(8, 3).out_channels) == (None, 8)
    assert (L.GRU(32).input_size, L.GRU(32).hidden_size, L.SimpleRNN(8, 32).input_size) == (None, 32, 8)
    assert L.BatchNormalization(16, 0.9).n_features == 16 and L.BatchNormalization(16, 0.9).built


@pytest.mark.parametrize(
    "make, spellings",
    [
        (lambda: L.Dense(), r"Dense\(n_neurons\).*Dense\(n_inputs, n_neurons\); got Dense\(\)$"),
        (lambda: L.Dense(1, 2, 3), r"Dense\(n_neurons\).*Dense\(n_inputs, n_neurons\); got Dense\(1, 2, 3\): give"),
        (lambda: L.Dense(n_inputs=4), r"Dense\(n_neurons\).*; got Dense\(n_inputs=4\)"),
        (lambda: L.SparseDense(density=0.5), r"SparseDense\(n_neurons\).*SparseDense\(n_inputs, n_neurons\)"),
        (
            lambda: L.Conv2D(16),
            r"Conv2D\(out_channels, kernel_size\).*Conv2D\(in_channels, out_channels, kernel_size\); got Conv2D\(16\)",
        ),
        (lambda: L.Conv2D(in_channels=3, kernel_size=3), r"got Conv2D\(in_channels=3, kernel_size=3\)"),
        (lambda: L.Conv1D(1, 2, 3, 4), r"Conv1D\(out_channels, kernel_size\).*other arguments by keyword"),
        (lambda: L.Conv2DTranspose(), r"Conv2DTranspose\(out_channels, kernel_size\)"),
        (lambda: L.LSTM(), r"LSTM\(hidden_size\).*LSTM\(input_size, hidden_size\); got LSTM\(\)"),
        (lambda: L.GRU(3, 4, True), r"GRU\(hidden_size\).*; got GRU\(3, 4, True\): give"),
        (lambda: L.SimpleRNN(input_size=3), r"SimpleRNN\(hidden_size\)"),
    ],
)
def test_sizes_given_neither_way_are_refused_naming_both_spellings(make, spellings):
    with pytest.raises(ArgumentError, match=spellings):
        make()


def test_the_sizes_given_are_still_checked():
    with pytest.raises(ArgumentError, match="n_neurons must be an int"):
        L.Dense(32, "relu")  # (Keras's Dense(32, "relu") is Dense(32, activation="relu") here)
    with pytest.raises(ArgumentError, match="n_inputs must be >= 1"):
        L.Dense(0, 3)
    with pytest.raises(ArgumentError, match="n_features must be an int"):
        L.BatchNormalization(2.5)
    with pytest.raises(ArgumentError, match="hidden_size must be >= 1"):
        L.LSTM(0)


@pytest.mark.parametrize(
    "layer, shape, match",
    [
        (lambda: L.Dense(4), (None, None), r"layer 'dense' \(Dense\) takes its n_inputs from the last axis"),
        (lambda: L.Dense(4), (None,), r"'dense' \(Dense\) takes inputs of shape \(batch, \.\.\., n_inputs\)"),
        (lambda: L.Conv2D(4, 3), (None, 8, 3), r"'conv2d' \(Conv2D\) takes inputs of shape \(batch, height, width"),
        (lambda: L.Conv2D(4, 3), (None, 8, 8, None), r"takes its in_channels from the last axis"),
        (lambda: L.Conv1D(4, 3), (None, 8, 8, 3), r"'conv1d' \(Conv1D\) takes inputs of shape \(batch, length"),
        (lambda: L.Conv2DTranspose(4, 3), (None, 3), r"takes inputs of shape \(batch, height, width, channels\)"),
        (lambda: L.LSTM(4), (None, 5), r"'lstm' \(LSTM\) takes inputs of shape \(batch, time, features\)"),
        (lambda: L.GRU(4), (None, 5, 0), r"takes its input_size from the last axis of its input, which is 0"),
        (lambda: L.BatchNormalization(), (None,), r"'batch_normalization' \(BatchNormalization\) takes inputs"),
        (lambda: L.Dense(4), 5, r"'dense' \(Dense\) is built for the shape of its input, batch first"),
        (lambda: L.TimeDistributed(L.Dense(4)), (None, 5), r"'time_distributed' \(TimeDistributed\) takes inputs"),
        (lambda: L.Bidirectional(L.LSTM(4)), (None, 5), r"'lstm' \(LSTM\) takes inputs of shape"),
    ],
)
def test_building_for_a_shape_that_does_not_give_the_size_is_a_clear_error(layer, shape, match):
    layer = layer()
    with pytest.raises(ValueError, match=match):
        layer.build(shape)
    assert not layer.built and layer.parameters() == []


def test_a_built_layer_checks_the_size_it_fixes():
    dense, conv, lstm = L.Dense(5, 4), L.Conv2D(3, 4, 3), L.LSTM(3, 2)
    dense.check_input_shape((None, 2, 5))  # extra leading axes are batch to a Dense
    dense.check_input_shape((None, None))
    conv.check_input_shape((None, 9, 9, 3))
    for layer, shape in [(dense, (None, 6)), (conv, (None, 9, 9, 2)), (conv, (None, 9, 3)), (lstm, (None, 4, 2))]:
        with pytest.raises(ValueError, match=r"it takes inputs of shape .* with \w+ \d+, not"):
            layer.check_input_shape(shape)
    L.Dense(4).check_input_shape((None, 3, 7))  # unbuilt: any size, build takes it
    steps = L.TimeDistributed(L.Dense(5, 4))
    steps.check_input_shape((None, 3, 5))
    with pytest.raises(ValueError, match=r"with n_inputs 5, not \('batch', 6\)"):
        steps.check_input_shape((None, 3, 6))
    with pytest.raises(ValueError, match=r"takes inputs of shape \(batch, time, \.\.\.\)"):
        steps.check_input_shape((None, 5))


def test_bidirectional_builds_both_halves_and_checks_them_alike(float64):
    layer = L.Bidirectional(L.LSTM(16))
    assert not layer.built and not layer.backward_layer.built
    y = layer(np.zeros((2, 3, 5)))
    assert y.shape == (2, 32) and layer.forward_layer.input_size == layer.backward_layer.input_size == 5
    assert layer.forward_layer.input_weights is not layer.backward_layer.input_weights
    with pytest.raises(ArgumentError, match="backward_layer must have the settings of its layer"):
        L.Bidirectional(L.LSTM(16), backward_layer=L.LSTM(5, 16))


def test_a_time_distributed_layer_builds_its_layer_for_one_step():
    layer = L.TimeDistributed(L.Conv2D(6, 3))
    layer.build((None, 7, 8, 8, 2))
    assert layer.built and layer.layer.weights.shape == (3, 3, 2, 6)
    assert layer.layer.input_shape() is None  # (a convolution fixes no shape)


def test_a_sparse_dense_layer_makes_its_mask_when_built():
    layer = L.SparseDense(6, density=0.25)
    assert layer.states() == []
    layer.build((None, 4))
    assert layer.mask.shape == (4, 6) and layer.density == 0.25
    assert not np.any(layer.weights.data * (1 - layer.mask))
    explicit = L.SparseDense(6, mask=np.ones((3, 6)))
    with pytest.raises(ValueError, match=r"mask must have shape \(4, 6\)"):
        explicit.build((None, 4))


def test_an_unknown_keyword_lists_the_sizes_a_sparse_dense_layer_takes():
    with pytest.raises(ArgumentError, match="SparseDense takes no argument 'units'; it takes density, mask, n_inputs"):
        L.SparseDense(4, units=3)


def test_a_layer_built_later_makes_its_parameters_with_the_ops_it_was_given(float64):
    ops = nn.ops.Ops(dtype=np.float32)  # (a model gives its layers its own ops before it builds them)
    layer = L.Bidirectional(L.GRU(3))
    layer.use_ops(ops)
    layer.build((None, 4, 2))
    assert all(sub.ops is ops for sub in layer.sublayers().values())
    assert {p.data.dtype for p in layer.parameters()} == {np.dtype(np.float32)}


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: L.Dense(32, activation="tanh"), (3, 4)),
        (lambda: L.Conv2D(16, 3, padding=1, activation="tanh"), (2, 4, 5, 2)),
        (lambda: L.LSTM(4, return_sequences=True), (2, 3, 2)),
        (lambda: L.Bidirectional(L.GRU(3)), (2, 3, 2)),
    ],
)
def test_layers_built_from_their_input_match_finite_differences(float64, make, shape):
    layer = make()
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape)
    layer.build((None, *shape[1:]))
    for p in layer.parameters():  # biases away from zero, so that their gradients are checked at a general point
        p.assign(p.data + 0.1 * rng.standard_normal(p.shape))
    errors = check_layer(layer, x, training=True)
    assert set(errors) == {"input", *layer.named_parameters()}
    assert max(errors.values()) < 1e-6, errors
