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


def test_binary_targets_must_be_zero_or_one():
    model = nn.Sequential([nn.layers.Dense(2, 1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam")
    with pytest.raises(ValueError, match="must be 0 or 1"):
        model.fit(np.zeros((3, 2)), [0, 1, 2], verbose=0)


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
    with pytest.raises(ValueError, match="targets contain NaN"):
        model.fit(np.zeros((2, 2)), [1.0, np.nan], verbose=0)


def test_empty_data():
    with pytest.raises(ValueError, match="empty"):
        classifier().fit(np.zeros((0, 4)), [], verbose=0)


def test_sample_count_mismatch():
    with pytest.raises(ValueError, match="4 samples but its targets have 3"):
        classifier().fit(np.zeros((4, 4)), [0, 1, 2], verbose=0)


def test_non_numeric_input():
    with pytest.raises(ValueError, match="must be numeric"):
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
        (lambda: nn.layers.Dense(0, 3), "n_inputs >= 1"),
        (lambda: nn.layers.Dense(3, 2, activation="swish"), "unknown activation"),
        (lambda: nn.layers.Dense(3, 2, weight_initializer="ones"), "unknown initializer"),
        (lambda: nn.layers.Dropout(1.0), r"rate must be in \[0, 1\)"),
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
