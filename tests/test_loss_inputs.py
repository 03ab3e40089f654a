"""A loss of probabilities notices when it is given something else (raw scores, impossible targets)."""

import numpy as np
import pytest

import neuronet as nn

L = nn.layers


def digits():
    X, y = nn.datasets.load_digits()
    return X[:300] / 16.0, y[:300]


@pytest.mark.parametrize(
    "last,loss,fix",
    [
        (L.Dense(64, 10), "categorical_crossentropy", 'activation="softmax"'),
        (L.Dense(64, 10, activation="relu"), nn.losses.CategoricalCrossentropy(), 'activation="softmax"'),
        (L.Dense(64, 10, activation="sigmoid"), "categorical_crossentropy", 'activation="softmax"'),
        (L.Dense(64, 1), "binary_crossentropy", 'activation="sigmoid"'),
        (L.Dense(64, 1, activation="tanh"), "binary_crossentropy", 'activation="sigmoid"'),
    ],
)
def test_a_last_layer_of_raw_scores_is_refused_at_compile(last, loss, fix):
    """The issue's case: Dense(64, 10) without softmax trained with categorical cross-entropy."""
    model = nn.Sequential([L.Dense(64, 64, activation="relu"), last])
    with pytest.raises(ValueError, match="expects probabilities") as info:
        model.compile(loss=loss, optimizer="adam")
    message = str(info.value)
    assert f"'{last.name}'" in message and fix in message and "from_logits=True" in message


@pytest.mark.parametrize(
    "last,loss",
    [
        (L.Dense(64, 10, activation="softmax"), "categorical_crossentropy"),
        (L.Dense(64, 10), nn.losses.CategoricalCrossentropy(from_logits=True)),
        (L.Dense(64, 1, activation="sigmoid"), "binary_crossentropy"),
        (L.Dense(64, 1), nn.losses.BinaryCrossentropy(from_logits=True)),
        (L.Dense(64, 2, activation="softmax"), "binary_crossentropy"),  # two columns of one-hot targets
        (L.Dense(64, 1), "mse"),
    ],
)
def test_what_fits_the_loss_compiles(last, loss):
    nn.Sequential([L.Dense(64, 64, activation="relu"), last]).compile(loss=loss, optimizer="adam")


def test_the_digits_case_never_trains_silently():
    """Layers that do not say what they output (here a Reshape after the scores) meet the check in the loss."""
    X, y = digits()
    model = nn.Sequential([L.Dense(64, 10), L.Reshape((10,))])
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    with pytest.raises(ValueError, match=r'expects probabilities.*activation="softmax".*from_logits=True'):
        model.fit(X, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="expects probabilities"):
        model.evaluate(X, y)


@pytest.mark.parametrize(
    "p,match",
    [
        (np.array([[0.5, 0.7, -0.2]]), "negative values"),
        (np.array([[0.5, 0.7, 0.2], [0.2, 0.3, 0.5]]), "row 0 sums to 1.4"),
        (np.array([[3.0, 1.0, 2.0]]), "sums to 6"),
    ],
)
def test_categorical_crossentropy_refuses_what_is_not_a_distribution(p, match):
    with pytest.raises(ValueError, match=match):
        nn.losses.CategoricalCrossentropy()(p, np.zeros(len(p), dtype=int))
    nn.losses.CategoricalCrossentropy(from_logits=True)(p, np.zeros(len(p), dtype=int))  # scores are its input


@pytest.mark.parametrize("p", [np.array([[1.5], [0.2]]), np.array([[-0.1], [0.2]])])
def test_binary_crossentropy_refuses_values_outside_zero_one(p):
    with pytest.raises(ValueError, match=r"expects probabilities.*not \[0, 1\].*sigmoid"):
        nn.losses.BinaryCrossentropy()(p, np.array([1.0, 0.0]))


def test_probabilities_that_sum_to_one_up_to_rounding_pass():
    rng = np.random.default_rng(0)
    p = nn.layers.activations.softmax(rng.standard_normal((64, 5000)).astype(np.float32) * 20)
    assert np.isfinite(nn.losses.CategoricalCrossentropy()(p, rng.integers(0, 5000, 64)))


def test_negative_soft_targets_are_refused():
    p = np.array([[0.2, 0.8], [0.5, 0.5]])
    with pytest.raises(ValueError, match=r"soft targets must lie in \[0, 1\], found -0.5"):
        nn.losses.CategoricalCrossentropy()(p, np.array([[1.5, -0.5], [0.0, 1.0]]))


def test_regression_targets_with_the_default_loss_point_to_mse():
    model = nn.Sequential([L.Dense(3, 4, activation="softmax")])
    model.compile()  # the default loss classifies
    with pytest.raises(ValueError, match=r'fractions such as 0.37.*loss="mse"'):
        model.fit(np.zeros((3, 3)), [0.37, 1.0, 2.0], verbose=0)


@pytest.mark.parametrize("loss", ["binary_crossentropy", "mse"])
def test_a_softmax_over_one_output_is_refused(loss):
    """Dense(3, 1, activation="softmax") outputs 1 whatever it is given: it trained, learning nothing."""
    model = nn.Sequential([L.Dense(3, 1, activation="softmax")])
    model.compile(loss=loss)
    with pytest.raises(ValueError, match=r'softmax over one value is always 1.*activation="sigmoid"'):
        model.fit(np.zeros((8, 3)), np.zeros(8), verbose=0)
