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


def spellings(labels, k, rng):
    """The same predicted labels spelled each way a model or a person gives them."""
    scores = rng.random((len(labels), k))
    scores[np.arange(len(labels)), labels] += 1.0  # the label's score is the largest
    out = {
        "int": labels,
        "whole float": labels.astype(np.float64),
        "whole float32": labels.astype(np.float32),
        "float one-hot": np.eye(k)[labels],
        "2-D probabilities": scores / scores.sum(axis=1, keepdims=True),
    }
    if k == 2:  # probabilities of class 1, on either side of the threshold 0.5
        out["1-D probabilities"] = np.where(labels == 1, rng.uniform(0.51, 1.0, len(labels)), rng.uniform(0, 0.5))
        out["(n, 1) probabilities"] = out["1-D probabilities"][:, None]
    return out


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("true_as", ["int", "whole float"])
def test_predictions_spelled_any_way_score_as_scikit_learn_scores_their_labels(k, true_as):
    rng = np.random.default_rng(k)
    y_true, labels = rng.integers(0, k, 80), rng.integers(0, k, 80)
    given_true = y_true.astype(np.float64) if true_as == "whole float" else y_true
    averages = ["macro", "micro", "weighted"] + (["binary"] if k == 2 else [])
    for spelling, y_pred in spellings(labels, k, rng).items():
        assert nn.metrics.accuracy(given_true, y_pred) == pytest.approx(sk.accuracy_score(y_true, labels)), spelling
        for ours, theirs in [
            (nn.metrics.precision, sk.precision_score),
            (nn.metrics.recall, sk.recall_score),
            (nn.metrics.f1_score, sk.f1_score),
        ]:
            for average in averages:
                expected = theirs(y_true, labels, average=average, zero_division=0)
                assert ours(given_true, y_pred, average=average) == pytest.approx(expected, abs=1e-12), spelling
        np.testing.assert_array_equal(
            nn.metrics.confusion_matrix(given_true, y_pred, num_classes=k),
            sk.confusion_matrix(y_true, labels, labels=range(k)),
        )


def test_whole_floats_are_labels_as_in_the_issue():
    assert nn.metrics.accuracy([0, 1, 2], np.array([0.0, 1.0, 2.0])) == 1.0
    assert nn.metrics.f1_score([0, 1, 2], np.array([0.0, 1.0, 2.0]), average="macro") == 1.0
    np.testing.assert_array_equal(nn.metrics.confusion_matrix([0, 1, 2], np.array([0.0, 1.0, 2.0])), np.eye(3))
    # floats 0. and 1. are labels, as thresholding at 0.5 would give
    np.testing.assert_array_equal(nn.metrics.to_labels(np.array([0.0, 1.0, 1.0])), [0, 1, 1])


def test_labels_that_are_not_class_indices_score_as_in_scikit_learn():
    y_true, y_pred = [-1, 5, 5, 10**12], [5, 5, -1, 10**12]
    for average in ("macro", "micro", "weighted"):
        assert nn.metrics.f1_score(y_true, y_pred, average=average) == pytest.approx(
            sk.f1_score(y_true, y_pred, average=average, zero_division=0)
        )
    with pytest.raises(ValueError, match="non-negative"):
        nn.metrics.confusion_matrix(y_true, y_pred)
    with pytest.raises(ValueError, match=r"labels up to 1,000,000,000,000 would make a confusion matrix"):
        nn.metrics.confusion_matrix([0, 10**12], [0, 1])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: nn.metrics.accuracy([0, 1, 2], [0.5, 1.5, 2.0]), "y_pred holds 1.5, neither a class label"),
        (lambda: nn.metrics.accuracy([0.5, -2.5], [0, 1]), "y_true holds -2.5, neither a class label"),
        (lambda: nn.metrics.f1_score([0, 1], [0.2, np.nan]), "y_pred contains 1 NaN"),
        (lambda: nn.metrics.precision([0, 1], ["a", "b"]), "y_pred holds text"),
        (lambda: nn.metrics.recall([0, 1], [[0, 1], [1]]), "y_pred is ragged"),
        (lambda: nn.metrics.accuracy([], []), "y_true is empty"),
        (lambda: nn.metrics.accuracy(1, 1), "y_true must hold one label"),
        (lambda: nn.metrics.accuracy([0, 1, 1], [0, 1]), r"3 true labels \(y_true\) but 2 predictions"),
        (lambda: nn.metrics.accuracy([0, 1], [1e300, 1.0]), "y_pred must hold whole numbers, got 1e\\+300"),
        (lambda: nn.metrics.f1_score([0, 1], [0, 1], average="avg"), "average must be one of"),
        (lambda: nn.metrics.f1_score([0, 2], [0, 2]), r"needs two classes, 0 and 1; found \[0, 2\]"),
        (lambda: nn.metrics.confusion_matrix([0, 1], [0, 1], num_classes="2"), "num_classes must be an int"),
        (lambda: nn.metrics.mean_squared_error([1.0, 2.0], ["a", "b"]), "y_pred holds text"),
    ],
)
def test_what_is_neither_labels_nor_probabilities_is_a_clear_error(call, match):
    with pytest.raises(nn.checks.ArgumentError, match=match):
        call()


def test_in_training_diverged_outputs_score_nan_where_the_function_refuses_them():
    """A diverging fit must end with its own warning, not with a metric's error about NaN predictions,
    whether the metric was named in compile or given as a function."""
    with pytest.raises(ValueError, match="y_pred contains 1 NaN"):
        nn.metrics.accuracy([0, 1], [[np.nan, 0.2], [0.1, 0.9]])
    X = np.random.default_rng(0).standard_normal((64, 4)) * 1e3
    model = nn.Sequential([nn.layers.Dense(4, 16, activation="relu"), nn.layers.Dense(16, 2, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer=nn.optimizers.SGD(learning_rate=1e6), metrics=["acc"])
    with pytest.warns(RuntimeWarning, match="training stopped"):
        h = model.fit(X, (X[:, 0] > 0).astype(int), epochs=20, batch_size=8, verbose=0)
    assert np.isnan(h.history["acc"][-1])
    regression = nn.Sequential([nn.layers.Dense(4, 1)])
    regression.compile(loss="mse", metrics=[nn.metrics.mean_absolute_error, "mae"])
    regression.epoch_metrics.record(np.ones((2, 1)), np.array([[np.inf], [1.0]]))  # a batch whose outputs diverged
    assert all(np.isnan(v) for v in regression.epoch_metrics.results().values())
