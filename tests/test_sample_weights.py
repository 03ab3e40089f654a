"""fit's sample_weight= and class_weight= (Keras's weighted loss, sum(w_i L_i) / n): the weighted gradients
against per-sample gradients and finite differences in float64, the thread split, the weights following their
samples through shuffling and validation_split, and the errors."""

import numpy as np
import pytest

import neuronet as nn
from neuronet.sample_weights import balanced
from neuronet.steps import PlainStep, ThreadSplitStep

L = nn.layers
RNG = np.random.default_rng(3)


def classifier(loss="sparse_categorical_crossentropy", out=3, activation="softmax", rng=RNG):
    model = nn.Sequential([L.Dense(4, 5, activation="tanh"), L.Dense(5, out, activation=activation)])
    model.compile(loss=loss, optimizer="sgd")
    for p in model.parameters():
        p.data[:] = rng.standard_normal(p.data.shape) * 0.5  # biases nonzero too
    return model


CASES = [
    ("sparse_categorical_crossentropy", 3, "softmax", lambda n: RNG.integers(0, 3, n)),
    ("binary_crossentropy", 1, "sigmoid", lambda n: RNG.integers(0, 2, n).astype(float)),
    ("mse", 2, None, lambda n: RNG.standard_normal((n, 2))),
    ("mae", 2, None, lambda n: RNG.standard_normal((n, 2))),
]


@pytest.mark.parametrize("loss, out, activation, targets", CASES)
def test_the_weighted_gradient_is_the_weighted_sum_of_per_sample_gradients(float64, loss, out, activation, targets):
    model = classifier(loss, out, activation)
    n = 6
    x, y = model.check_data(RNG.standard_normal((n, 4)), targets(n))
    w = RNG.uniform(0.0, 3.0, n)
    step = PlainStep(model)
    value, _ = step.data_gradients(x, y, sample_weight=w)
    grads = [p.grad.copy() for p in model.parameters()]
    expected_value, expected = 0.0, [np.zeros_like(g) for g in grads]
    for i in range(n):
        one, _ = step.data_gradients(x[i : i + 1], y[i : i + 1])
        expected_value += w[i] * one / n
        for e, p in zip(expected, model.parameters()):
            e += w[i] * p.grad / n
    assert value == pytest.approx(expected_value, rel=1e-12)
    for g, e in zip(grads, expected):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-14)


def test_the_weighted_gradient_matches_finite_differences(float64):
    model = classifier()
    x, y = model.check_data(RNG.standard_normal((5, 4)), RNG.integers(0, 3, 5))
    w = np.array([0.5, 2.0, 0.0, 1.0, 3.0])
    step = PlainStep(model)
    step.data_gradients(x, y, sample_weight=w)
    for p in model.parameters():
        analytic, numeric = p.grad.copy(), np.zeros_like(p.data)
        for j in np.ndindex(p.data.shape):
            keep = p.data[j]
            p.data[j] = keep + 1e-6
            up = model.loss_of(model.call(x, training=False), y, w)
            p.data[j] = keep - 1e-6
            down = model.loss_of(model.call(x, training=False), y, w)
            p.data[j] = keep
            numeric[j] = (up - down) / 2e-6
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_the_thread_split_weights_alike(float64):
    model = nn.Sequential([L.Conv2D(1, 2, 3, padding="same"), L.Flatten(), L.Dense(2 * 8 * 8, 3)])
    model.compile(loss=nn.losses.CategoricalCrossentropy(from_logits=True), optimizer="sgd")
    n = 160
    x, y = model.check_data(RNG.standard_normal((n, 8, 8, 1)), np.eye(3)[RNG.integers(0, 3, n)])
    w = RNG.uniform(0.0, 2.0, n)
    loss1, _ = PlainStep(model).data_gradients(x, y, sample_weight=w)
    plain = [p.grad.copy() for p in model.parameters()]
    nn.set_threads(2)
    try:
        loss2, _ = ThreadSplitStep(model).data_gradients(x, y, sample_weight=w)
    finally:
        nn.set_threads(None)
    assert loss2 == pytest.approx(loss1, rel=1e-12)
    for p, g in zip(model.parameters(), plain):
        np.testing.assert_allclose(p.grad, g, rtol=1e-10, atol=1e-14)


def trained(x, y, seed=0, **kwargs):
    nn.set_seed(seed)
    model = classifier(rng=np.random.default_rng(seed))
    model.fit(x, y, epochs=2, batch_size=4, verbose=0, **kwargs)
    return [p.data.copy() for p in model.parameters()]


def test_weights_follow_their_samples_when_shuffled(float64):
    """Samples of weight 0 change nothing, whatever they hold: so the weights moved with their samples."""
    x, y = RNG.standard_normal((12, 4)), RNG.integers(0, 3, 12)
    w = np.tile([1.0, 0.0, 2.0], 4)
    other_x, other_y = x.copy(), y.copy()
    other_x[w == 0] = RNG.standard_normal((4, 4)) * 10
    other_y[w == 0] = (y[w == 0] + 1) % 3
    a = trained(x, y, sample_weight=w, shuffle=True)
    b = trained(other_x, other_y, sample_weight=w, shuffle=True)
    for p, q in zip(a, b):
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-15)
    c = trained(x, y, shuffle=True)
    assert not all(np.allclose(p, q) for p, q in zip(a, c))  # the weights did act


def test_validation_split_cuts_the_weights_alike(float64):
    x, y = RNG.standard_normal((16, 4)), RNG.integers(0, 3, 16)
    y[:12] = np.arange(12) % 3  # every class in the training part
    w = RNG.uniform(0.0, 2.0, 16)
    a = trained(x, y, sample_weight=w, validation_split=0.25, shuffle=False)
    b = trained(x[:12], y[:12], sample_weight=w[:12], shuffle=False)
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p, q)


def test_class_weight_is_each_samples_class_weight_and_multiplies_with_sample_weight(float64):
    x, y = RNG.standard_normal((12, 4)), np.arange(12) % 3
    table = {0: 0.5, 1: 2.0, 2: 1.5}
    s = RNG.uniform(0.5, 2.0, 12)
    a = trained(x, y, class_weight=table, sample_weight=s)
    b = trained(x, y, sample_weight=s * np.array([table[c] for c in y]))
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p, q)


def test_balanced_is_scikit_learns():
    from sklearn.utils.class_weight import compute_class_weight

    y = np.array([0, 0, 0, 1, 2, 2])
    ours = balanced(y)
    theirs = compute_class_weight("balanced", classes=np.array([0, 1, 2]), y=y)
    assert [ours[c] for c in range(3)] == pytest.approx(theirs)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"sample_weight": np.ones(5)}, "shape (12,)"),
        ({"sample_weight": -np.ones(12)}, ">= 0"),
        ({"sample_weight": np.r_[np.ones(11), np.nan]}, "sample 11"),
        ({"sample_weight": ["a"] * 12}, "array of numbers"),
        ({"class_weight": {0: 1.0, 1: 1.0}}, "no weight for classes [2]"),
        ({"class_weight": {0: 1.0, 1: -1.0, 2: 1.0}}, "class_weight[1]"),
        ({"class_weight": [1.0, 1.0, 1.0]}, "dict"),
    ],
)
def test_bad_weights_are_named(kwargs, words):
    model = classifier()
    with pytest.raises(ValueError) as info:
        model.fit(RNG.standard_normal((12, 4)), np.arange(12) % 3, verbose=0, **kwargs)
    assert words in str(info.value)


def test_class_weight_refuses_a_regression():
    model = classifier("mse", 2, None)
    with pytest.raises(ValueError, match="sample_weight instead"):
        model.fit(RNG.standard_normal((8, 4)), RNG.standard_normal((8, 2)), class_weight={0: 1.0}, verbose=0)


def test_the_cli_trains_with_balanced_class_weights(tmp_path, capsys):
    import csv

    from neuronet.cli import main

    rng = np.random.default_rng(0)
    counts = {"common": 80, "some": 15, "rare": 5}
    rows = [[f"{k + rng.normal(0, 0.3):.3f}", name] for k, (name, c) in enumerate(counts.items()) for _ in range(c)]
    data = tmp_path / "d.csv"
    with open(data, "w", newline="") as f:
        csv.writer(f).writerows([["x", "kind"], *rows])
    out = tmp_path / "m.nnet"
    args = ["train", data, "--target", "kind", "--epochs", "3", "--validation-split", "0", "--quiet", "--out", out]
    code = main([str(a) for a in [*args, "--class-weight", "balanced"]])
    printed, err = capsys.readouterr()
    assert code == 0, err
    # 100 rows / (3 classes * count)
    assert "class weights (balanced): common 0.417, rare 6.67, some 2.22" in printed
    code = main([str(a) for a in [*args, "--task", "regression", "--class-weight", "balanced"]])
    printed, err = capsys.readouterr()
    assert code != 0
    assert err.strip().count("\n") == 0 and "--class-weight balanced" in err and "regression" in err
