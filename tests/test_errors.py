"""Bad input gets a clear error that says what to fix, never a crash deep inside NumPy."""

import re

import numpy as np
import pytest

import neuronet as nn


def classifier(n_in=4, n_out=3):
    model = nn.Sequential(
        [nn.layers.Dense(n_in, 8, activation="relu"), nn.layers.Dense(8, n_out, activation="softmax")]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def test_wrong_shape_names_layer_expected_and_received():
    model = classifier()
    with pytest.raises(
        ValueError,
        match=re.escape("layer 'dense' (Dense) expects input of shape (batch, 4), but received shape (10, 5)"),
    ):
        model.predict(np.zeros((10, 5)))


def test_wrong_shape_in_a_later_layer():
    model = nn.Sequential([nn.layers.Dense(4, 8), nn.layers.Dense(7, 2)])
    with pytest.raises(ValueError, match=r"'dense_1'.*\(batch, 7\).*\(3, 8\)"):
        model.forward(np.zeros((3, 4)))


def test_labels_out_of_range():
    with pytest.raises(ValueError, match=r"labels must be in 0\.\.2 for 3 outputs, found 0\.\.5"):
        classifier().fit(np.zeros((6, 4)), [0, 1, 2, 3, 4, 5], verbose=0)


def test_negative_and_fractional_labels():
    with pytest.raises(ValueError, match="labels must be in"):
        classifier().fit(np.zeros((3, 4)), [0, -1, 2], verbose=0)
    with pytest.raises(ValueError, match="fractions"):
        classifier().fit(np.zeros((3, 4)), [0.5, 1.0, 2.0], verbose=0)


def test_binary_targets_must_be_in_zero_one():
    model = nn.Sequential([nn.layers.Dense(2, 1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam")
    with pytest.raises(ValueError, match=r"must be in \[0, 1\]"):
        model.fit(np.zeros((3, 2)), [0, 1, 2], verbose=0)
    model.fit(np.zeros((3, 2)), [0, 0.3, 1], verbose=0)  # soft targets train


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_inputs(bad):
    X = np.zeros((5, 4))
    X[2, 1] = bad
    with pytest.raises(ValueError, match="1 NaN or infinite value"):
        classifier().fit(X, [0, 1, 2, 0, 1], verbose=0)
    with pytest.raises(ValueError, match="NaN or infinite"):
        classifier().predict(X)


def test_nan_targets():
    model = nn.Sequential([nn.layers.Dense(2, 1)])
    model.compile(loss="mse", optimizer="adam")
    with pytest.raises(ValueError, match="y contains 1 NaN"):
        model.fit(np.zeros((2, 2)), [1.0, np.nan], verbose=0)


def test_empty_data():
    with pytest.raises(ValueError, match="empty"):
        classifier().fit(np.zeros((0, 4)), [], verbose=0)


def test_sample_count_mismatch():
    with pytest.raises(ValueError, match="X has 4 samples but y has 3"):
        classifier().fit(np.zeros((4, 4)), [0, 1, 2], verbose=0)


def test_non_numeric_input():
    with pytest.raises(ValueError, match="X holds text .* computes with numbers"):
        classifier().predict([["a", "b", "c", "d"]])


def test_loss_turning_nan_stops_training_with_advice():
    X = np.random.default_rng(0).standard_normal((64, 4)) * 1e3
    y = X @ np.ones(4)
    model = nn.Sequential([nn.layers.Dense(4, 16, activation="relu"), nn.layers.Dense(16, 1)])
    model.compile(loss="mse", optimizer=nn.optimizers.SGD(learning_rate=10.0))
    with pytest.warns(RuntimeWarning, match="loss became .*Lower the learning rate"):
        history = model.fit(X, y, epochs=20, batch_size=8, verbose=0)
    assert len(history.history.get("loss", [])) < 20


def test_fit_before_compile():
    model = nn.Sequential([nn.layers.Dense(2, 1)])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.zeros((2, 2)), [0.0, 1.0])


def test_accuracy_rejected_for_regression():
    with pytest.raises(ValueError, match="classification metric"):
        nn.Sequential([nn.layers.Dense(2, 1)]).compile(loss="mse", optimizer="sgd", metrics=["accuracy"])


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: nn.layers.Dense(0, 3), "n_inputs must be >= 1, got 0"),
        (lambda: nn.layers.Dense(3, 2, activation="swish"), "unknown activation"),
        (lambda: nn.layers.Dense(3, 2, weight_initializer="ones"), "weight_initializer must be one of"),
        (lambda: nn.layers.Dropout(1.0), r"rate must be in \[0, 1\), got 1"),
        (lambda: nn.optimizers.Adam(learning_rate=-1), "learning_rate must be > 0"),
        (lambda: nn.optimizers.SGD(nesterov=True), "Nesterov"),
        (lambda: nn.set_dtype("float16"), "dtype must be one of"),
        (lambda: nn.losses.get("hinge"), "unknown loss"),
        (lambda: nn.optimizers.get("lbfgs"), "unknown optimizer"),
        (lambda: nn.metrics.get("auc"), "unknown metric"),
    ],
)
def test_bad_settings(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_diverged_weights_are_reported_by_predict():
    model = classifier()
    model.parameters()[0].data[0, 0] = np.inf
    with pytest.raises(ValueError, match="weights have diverged"):
        model.predict(np.ones((3, 4)))


# -- what NumPy would have turned silently into something else --------------------------------
@pytest.mark.parametrize(
    "X, match",
    [
        (np.ones((4, 4)) * (1 + 2j), "complex numbers"),
        (np.array(["2026-01-01"] * 16, dtype="datetime64[D]").reshape(4, 4), "dates or times"),
        ([[1, 2, 3, 4], [1, 2]], "ragged"),
        (None, "X is None"),
        ({"a": 1}, "got a dict"),
        ([[1, 2, None, 4]] * 4, "None values"),
        (np.array([[1, 2, {}, 4]] * 4, dtype=object), "not numbers"),
        ([["1", "2", "3", "a"]] * 4, "holds text"),
    ],
)
def test_inputs_numpy_would_mangle_are_refused(X, match):
    model = classifier()
    for call in (lambda: model.predict(X), lambda: model.fit(X, [0, 1, 2, 0], verbose=0)):
        with pytest.raises(ValueError, match=match):
            call()


def test_values_too_large_for_float32_are_named_as_such():
    X = np.ones((4, 4))
    X[1, 2] = 1e39
    with pytest.raises(ValueError, match=r"values up to 1e\+39, beyond the range of float32.*set_dtype"):
        classifier().fit(X, [0, 1, 2, 0], verbose=0)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_predict_refuses_what_evaluate_refuses(bad):
    """-inf through ReLU becomes 0 and inf through tanh 1: the outputs alone would not show it."""
    model = nn.Sequential([nn.layers.Dense(4, 3, activation="tanh")])
    X = np.ones((3, 4))
    X[0, 0] = bad
    with pytest.raises(ValueError, match="X contains 1 NaN or infinite"):
        model.predict(X)


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "binary_crossentropy"])
def test_bool_labels_are_exactly_0_and_1(loss):
    X = np.random.default_rng(0).standard_normal((20, 4))
    labels = X[:, 0] > 0
    out = 2 if loss == "categorical_crossentropy" else 1
    model = nn.Sequential([nn.layers.Dense(4, out, activation="softmax" if out == 2 else "sigmoid")])
    model.compile(loss=loss, optimizer="adam")
    assert model.evaluate(X, labels)["loss"] == model.evaluate(X, labels.astype(int))["loss"]


def test_labels_that_do_not_pair_with_the_outputs():
    """A Dense model fed (n, 2, 4) outputs a row per sample and position: n labels cannot pair with them."""
    model = classifier()
    X = np.zeros((5, 2, 4))
    with pytest.raises(ValueError, match=r"targets of shape \(5,\) do not fit predictions of shape \(5, 2, 3\)"):
        model.fit(X, np.zeros(5, int), verbose=0)
    with pytest.raises(ValueError, match=r"shape \(5,\) do not fit"):
        model.fit(X, np.zeros(5, bool), verbose=0)
    model.fit(X, np.zeros((5, 2), int), verbose=0)  # one label per position trains


@pytest.mark.parametrize("value", [0, -1, 2.5, "8", None, True])
def test_batch_size_must_be_a_positive_int(value):
    model = classifier()
    X = np.zeros((4, 4))
    for call in (
        lambda: model.predict(X, batch_size=value),
        lambda: model.evaluate(X, [0, 1, 2, 0], batch_size=value),
        lambda: model.fit(X, [0, 1, 2, 0], batch_size=value, verbose=0),
    ):
        with pytest.raises((TypeError, ValueError), match=f"batch_size must be .*got {re.escape(repr(value))}"):
            call()


@pytest.mark.parametrize("value", ["2", None, 1.5, -1])
def test_epochs_must_be_an_int(value):
    with pytest.raises(ValueError, match="epochs must be"):
        classifier().fit(np.zeros((4, 4)), [0, 1, 2, 0], epochs=value, verbose=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"validation_split": "0.2"}, "validation_split must be a number, got '0.2'"),
        ({"validation_split": 1.0}, r"validation_split must be in \[0, 1\)"),
        ({"validation_data": np.zeros((4, 4))}, "validation_data must be a pair .* got a ndarray"),
        ({"validation_data": (np.zeros((4, 4)), [0] * 4, [1] * 4)}, "must be a pair .* got a tuple of 3"),
        ({"validation_data": (np.zeros((4, 4)), None)}, "validation y is None"),
        ({"shuffle": "yes"}, "shuffle must be True or False"),
        ({"callbacks": nn.callbacks.EarlyStopping()}, "callbacks must be a list"),
        ({"verbose": 5}, "verbose must be <= 2"),
    ],
)
def test_fit_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        classifier().fit(np.zeros((8, 4)), [0, 1, 2, 0] * 2, **kwargs)


def test_missing_x_or_y():
    with pytest.raises(ValueError, match="y is None; pass the targets"):
        classifier().fit(np.zeros((4, 4)), None)
    with pytest.raises(ValueError, match="X is None"):
        classifier().fit(None, [0, 1, 2, 0])


@pytest.mark.parametrize(
    "ids, match",
    [
        (None, "is None"),
        ({"a": 1}, "got a dict"),
        ([[1, 2, 3], [1]], "ragged"),
        (np.array([[1.0, np.inf]]), "integer token ids, found inf"),
        (np.array([[1.0, 2.5]]), "integer token ids, found 2.5"),
    ],
)
def test_embedding_inputs(ids, match):
    model = nn.Sequential([nn.layers.Embedding(5, 2), nn.layers.Flatten(), nn.layers.Dense(4, 2)])
    with pytest.raises(ValueError, match=match):
        model.predict(ids)
    with pytest.raises(ValueError, match=match):
        model.layers[0].forward(ids)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: nn.optimizers.Adam(float("nan")), "learning_rate must be a finite number, got nan"),
        (lambda: nn.optimizers.Adam(beta_1=5), r"beta_1 must be in \[0, 1\), got 5"),
        (lambda: nn.optimizers.SGD(momentum="0.9"), "momentum must be a number"),
        (lambda: nn.optimizers.RMSprop(epsilon=0), "epsilon must be > 0"),
        (lambda: nn.layers.BatchNormalization(4, epsilon=-1e-3), "epsilon must be > 0"),
        (lambda: nn.layers.BatchNormalization(4, epsilon=float("nan")), "epsilon must be a finite number"),
        (lambda: nn.layers.Dense(4.0, 3), r"n_inputs must be an int, got 4.0 \(float\)"),
        (lambda: nn.layers.Conv2D(1, 2, 3, stride=1e30), "stride must be an int"),
        (lambda: nn.layers.Conv2D(int(1e12), 2, 3), "in_channels must be <= 2,147,483,647"),
        (lambda: nn.layers.Embedding(10, 2, padding_id=2.5), "padding_id must be an int"),
        (lambda: nn.layers.Embedding(10, 2, padding_id=10), "padding_id must be <= 9"),
        (lambda: nn.layers.Dense(2, 2, weight_regularizer_l2=-1), "weight_regularizer_l2 must be >= 0"),
        (lambda: nn.callbacks.EarlyStopping(patience=1.5), "patience must be an int"),
        (lambda: nn.layers.Reshape(5), "target_shape must be a tuple"),
    ],
)
def test_constructors_refuse_absurd_settings(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_abstract_layers_are_not_loadable_classes():
    for name in ("Activation", "WeightedLayer", "Pool2D", "GlobalPool", "Augmentation", "AffineAugmentation"):
        assert name not in nn.layers.LAYERS
    assert {"Dense", "ReLU", "MaxPool2D", "RandomFlip"} <= set(nn.layers.LAYERS)


@pytest.mark.parametrize(
    "make, named",
    [
        (lambda: nn.layers.Dense(5, 7, l2=0.01), "Dense takes no argument 'l2'.*weight_regularizer_l2"),
        (lambda: nn.layers.Conv2D(1, 2, 3, strides=2), "Conv2D takes no argument 'strides'.*stride"),
    ],
)
def test_an_unknown_keyword_names_the_layer_and_what_it_takes(make, named):
    with pytest.raises(nn.checks.ArgumentError, match=named) as caught:
        make()
    assert "WeightedLayer" not in str(caught.value) and "fan_in" not in str(caught.value)
