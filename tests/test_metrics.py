"""Metrics agree with scikit-learn (the oracle) and reach History per epoch."""

import numpy as np
import pytest

import neuronet as nn

sk = pytest.importorskip("sklearn.metrics")


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("average", ["binary", "macro", "micro", "weighted"])
@pytest.mark.parametrize("seed", range(5))
def test_precision_recall_f1_match_scikit_learn(k, average, seed):
    if average == "binary" and k > 2:
        with pytest.raises(ValueError, match="two classes"):
            nn.metrics.f1_score([0, 1, 2], [0, 1, 2], average=average)
        return
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, k, 60)
    y_pred = rng.integers(0, k, 60)
    for ours, theirs in [
        (nn.metrics.precision, sk.precision_score),
        (nn.metrics.recall, sk.recall_score),
        (nn.metrics.f1_score, sk.f1_score),
    ]:
        expected = theirs(y_true, y_pred, average=average, zero_division=0)
        assert ours(y_true, y_pred, average=average) == pytest.approx(expected, abs=1e-12)


def test_a_class_never_predicted_counts_as_zero_like_scikit_learn():
    y_true, y_pred = [0, 1, 2, 2], [0, 1, 1, 1]
    for average in ("macro", "weighted"):
        assert nn.metrics.precision(y_true, y_pred, average=average) == pytest.approx(
            sk.precision_score(y_true, y_pred, average=average, zero_division=0)
        )


def test_probabilities_and_one_hot_are_turned_into_labels():
    rng = np.random.default_rng(0)
    probs = rng.random((50, 4))
    y = rng.integers(0, 4, 50)
    assert nn.metrics.accuracy(np.eye(4)[y], probs) == pytest.approx(sk.accuracy_score(y, probs.argmax(1)))
    p1 = rng.random(50)
    y1 = rng.integers(0, 2, 50)
    assert nn.metrics.f1_score(y1, p1) == pytest.approx(sk.f1_score(y1, p1 > 0.5))


@pytest.mark.parametrize("seed", range(3))
def test_confusion_matrix_matches_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    y_true, y_pred = rng.integers(0, 4, 100), rng.integers(0, 4, 100)
    np.testing.assert_array_equal(nn.metrics.confusion_matrix(y_true, y_pred), sk.confusion_matrix(y_true, y_pred))


def test_regression_metrics_match_scikit_learn():
    rng = np.random.default_rng(0)
    t, p = rng.standard_normal(40), rng.standard_normal(40)
    assert nn.metrics.mean_squared_error(t, p) == pytest.approx(sk.mean_squared_error(t, p))
    assert nn.metrics.mean_absolute_error(t, p) == pytest.approx(sk.mean_absolute_error(t, p))
    assert nn.metrics.r2_score(t, p) == pytest.approx(sk.r2_score(t, p))
    assert nn.metrics.r2_score(t, p[:, None]) == pytest.approx(sk.r2_score(t, p))  # (n, 1) model outputs


def test_classification_report_lists_classes_and_averages():
    y_true, y_pred = [0, 1, 2, 2, 1], [0, 2, 2, 2, 1]
    report = nn.metrics.classification_report(y_true, y_pred, class_names=["cat", "dog", "eel"])
    assert "cat" in report and "eel" in report and "macro avg" in report and "weighted avg" in report
    f1_eel = sk.f1_score(y_true, y_pred, average=None)[2]
    assert f"{f1_eel:9.4f}" in report.splitlines()[4]


def test_history_holds_every_metric_for_training_and_validation():
    X, y = nn.datasets.load_digits()
    X = X / 16.0
    model = nn.Sequential([nn.layers.Dense(64, 10, activation="softmax")])
    names = ["accuracy", "precision", "recall", "f1", "f1_weighted"]
    model.compile(loss="categorical_crossentropy", optimizer=nn.optimizers.Adam(0.01), metrics=names)
    h = model.fit(X[:1000], y[:1000], epochs=2, batch_size=64, validation_data=(X[1000:], y[1000:]), verbose=0)
    for name in names:
        assert len(h.history[name]) == 2 and len(h.history[f"val_{name}"]) == 2
    pred = model.predict(X[1000:]).argmax(1)
    assert h.history["val_f1"][-1] == pytest.approx(sk.f1_score(y[1000:], pred, average="macro"))
    assert h.history["val_f1_weighted"][-1] == pytest.approx(sk.f1_score(y[1000:], pred, average="weighted"))


def test_regression_metrics_in_compile():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = X @ [1.0, 2.0, -1.0]
    model = nn.Sequential([nn.layers.Dense(3, 1)])
    model.compile(loss="mse", optimizer=nn.optimizers.Adam(0.05), metrics=["mae", "r2"])
    h = model.fit(X, y, epochs=30, batch_size=20, validation_split=0.2, verbose=0)
    assert h.history["val_r2"][-1] > 0.9
    assert h.history["val_r2"][-1] == pytest.approx(sk.r2_score(y[160:], model.predict(X[160:])[:, 0]), rel=1e-5)


def test_classification_metrics_rejected_for_regression():
    with pytest.raises(ValueError, match="classification metrics"):
        nn.Sequential([nn.layers.Dense(2, 1)]).compile(loss="mse", optimizer="sgd", metrics=["f1"])


def test_classification_report_names_every_class_even_one_absent_from_the_data():
    report = nn.metrics.classification_report([0], [[0.9, 0.05, 0.05]], class_names=["a", "b", "c"])
    rows = {line.split()[0]: line.split() for line in report.splitlines() if line.split()}
    assert rows["a"][-1] == "1" and rows["b"][-1] == "0" and rows["c"][-1] == "0"
    with pytest.raises(ValueError, match="labels must be in 0..1 for 2 classes, found 2"):
        nn.metrics.confusion_matrix([0, 2], [0, 1], num_classes=2)
