"""The scikit-learn estimators: scikit-learn's own check_estimator with nothing skipped or expected to fail,
and the work people do with them (pipelines, cross-validation, grid searches, string labels, pickling)."""

import pickle
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
pytest.importorskip("pandas")  # (check_estimator's checks of DataFrame inputs need it)
from sklearn.datasets import load_diabetes, load_iris  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score  # noqa: E402
from sklearn.neural_network import MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

import neuronet as nn  # noqa: E402
from neuronet.sklearn import NeuronetClassifier, NeuronetRegressor  # noqa: E402


@pytest.mark.parametrize("estimator", [NeuronetClassifier(), NeuronetRegressor()], ids=lambda e: type(e).__name__)
def test_scikit_learns_check_estimator_passes_every_check(estimator, monkeypatch):
    """Every check runs: SCIPY_ARRAY_API lets the array-API check run (with NumPy inputs) and pandas the
    DataFrame checks; no check is skipped, none is expected to fail."""
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the checks' own SkipTestWarning would name a skipped check)
        results = check_estimator(estimator, on_fail=None)
    not_passed = [(r["check_name"], r["status"], str(r["exception"])[:200]) for r in results if r["status"] != "passed"]
    assert len(results) >= 50 and not not_passed, not_passed


def test_iris_in_a_pipeline_scores_at_least_093_over_five_folds():
    X, y = load_iris(return_X_y=True)
    model = make_pipeline(StandardScaler(), NeuronetClassifier(random_state=0))
    scores = cross_val_score(model, X, y, cv=StratifiedKFold(5, shuffle=True, random_state=0))
    assert scores.mean() >= 0.93


def test_diabetes_r2_is_within_005_of_mlp_regressor():
    """MLPRegressor with as many iterations as it needs to converge (its default 200 stop it early here)."""
    X, y = load_diabetes(return_X_y=True)
    cv = KFold(5, shuffle=True, random_state=0)
    ours = cross_val_score(make_pipeline(StandardScaler(), NeuronetRegressor(random_state=0)), X, y, cv=cv).mean()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = cross_val_score(
            make_pipeline(StandardScaler(), MLPRegressor(max_iter=1000, random_state=0)), X, y, cv=cv
        )
    assert ours > 0.4 and abs(ours - theirs.mean()) <= 0.05


def test_grid_search_in_two_processes():
    X, y = load_iris(return_X_y=True)
    grid = {"neuronetclassifier__hidden_layer_sizes": [(8,), (32,)], "neuronetclassifier__learning_rate": [1e-3, 1e-2]}
    search = GridSearchCV(
        make_pipeline(StandardScaler(), NeuronetClassifier(epochs=60, random_state=0)), grid, cv=3, n_jobs=2
    )
    search.fit(X, y)
    assert search.best_score_ > 0.9 and len(search.cv_results_["params"]) == 4


def test_string_labels_round_trip_and_a_pickle_keeps_the_predictions():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    model = make_pipeline(StandardScaler(), NeuronetClassifier(epochs=50, random_state=0)).fit(X, names)
    assert list(model.classes_) == ["setosa", "versicolor", "virginica"]
    predicted = model.predict(X)
    assert predicted.dtype.kind == "U" and (predicted == names).mean() > 0.9
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.predict_proba(X), model.predict_proba(X))
    state = model[-1].__getstate__()
    assert isinstance(state["model_"], bytes) and state["model_"][8:9] == b"{"  # a safetensors file, no pickle


def test_random_state_refits_are_bit_identical_and_partial_fit_goes_on():
    X, y = load_iris(return_X_y=True)
    a = NeuronetClassifier(epochs=5, random_state=3).fit(X, y)
    b = NeuronetClassifier(epochs=5, random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    nn.set_seed(11)
    before = nn.settings.rng().random()
    nn.set_seed(11)
    NeuronetClassifier(epochs=1, random_state=3).fit(X, y)
    assert nn.settings.rng().random() == before  # the library's generator is left as it was
    c = NeuronetClassifier(epochs=1, random_state=3)
    for _ in range(5):
        c.partial_fit(X, y)
    np.testing.assert_array_equal(c.predict_proba(X), a.predict_proba(X))  # five epochs, one call at a time
    assert len(c.loss_curve_) == 5 and c.loss_curve_[-1] < c.loss_curve_[0]


def test_partial_fit_takes_the_classes_to_come():
    X, y = load_iris(return_X_y=True)
    model = NeuronetClassifier(random_state=0).partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    assert model.predict_proba(X).shape == (150, 3)
    model.partial_fit(X, y)
    with pytest.raises(ValueError, match="labels not in classes_"):
        model.partial_fit(X, y + 1)


def test_a_network_of_ones_own():
    def network(n_features, n_outputs):
        L = nn.layers
        return nn.Sequential([L.Dense(n_features, 8, activation="tanh"), L.Dense(8, n_outputs, activation="softmax")])

    X, y = load_iris(return_X_y=True)
    model = NeuronetClassifier(model=network, epochs=100, random_state=0).fit(StandardScaler().fit_transform(X), y)
    assert model.model_.layers[0].weights.shape == (4, 8) and model.model_.layers[0].weights.data.dtype == np.float64
    with pytest.raises(ValueError, match="model must be a function"):
        NeuronetClassifier(model="mlp").fit(X, y)
    with pytest.raises(ValueError, match="activation must be one of"):
        NeuronetClassifier(activation="swish").fit(X, y)


def residual_network(n_features, n_outputs):
    """A graph model: a residual block (its Dense called twice) between an input layer and the softmax."""
    L = nn.layers
    x = nn.Input(shape=(n_features,))
    h = L.Dense(8, activation="tanh")(x)
    block = L.Dense(8, activation="tanh")
    return nn.Model(x, L.Dense(n_outputs, activation="softmax")(L.Add()([h, block(block(h))])))


def test_a_graph_model_of_ones_own_learns_clones_and_pickles():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    model = NeuronetClassifier(model=residual_network, learning_rate=0.01, epochs=40, random_state=0).fit(X, y)
    assert type(model.model_) is nn.Model and len(model.model_.layers) == 4
    assert model.score(X, y) > 0.93
    copy = pickle.loads(pickle.dumps(model))  # through the model file: the graph and its shared layer
    assert type(copy.model_) is nn.Model and len(copy.model_.layers) == 4
    np.testing.assert_array_equal(copy.predict_proba(X), model.predict_proba(X))
    twin = sklearn.base.clone(model).fit(X, y)  # the same parameters, a new network: the same one, seeded
    np.testing.assert_array_equal(twin.predict_proba(X), model.predict_proba(X))


def test_a_graph_model_of_several_inputs_or_outputs_is_refused():
    L = nn.layers

    def two_heads(n_features, n_outputs):
        x = nn.Input(shape=(n_features,))
        return nn.Model(x, [L.Dense(n_outputs, activation="softmax")(x), L.Dense(1)(x)])

    X, y = load_iris(return_X_y=True)
    with pytest.raises(nn.checks.ArgumentError, match="model of one input and one output, .* it was given lists"):
        NeuronetClassifier(model=two_heads, epochs=1).fit(X, y)
    with pytest.raises(nn.checks.ArgumentError, match=r"must return a model \(nn.Sequential or nn.Model\), got list"):
        NeuronetClassifier(model=lambda f, o: [L.Dense(f, o)], epochs=1).fit(X, y)


def test_without_scikit_learn_the_import_says_how_to_install_it(monkeypatch):
    from conftest import refuse_imports

    refuse_imports(monkeypatch, "sklearn")
    monkeypatch.delitem(sys.modules, "neuronet.sklearn")
    with pytest.raises(ImportError, match=r'pip install "neuronet\[sklearn\]"'):
        import neuronet.sklearn  # noqa: F401


def test_a_network_of_the_wrong_width_is_refused_at_fit_not_in_predict():
    L = nn.layers
    X, y = load_iris(return_X_y=True)
    five = NeuronetClassifier(model=lambda f, o: nn.Sequential([L.Dense(f, 5, activation="softmax")]), epochs=1)
    with pytest.raises(nn.checks.ArgumentError, match=r"5 output\(s\) for 3 classes; it must end in n_outputs = 3"):
        five.fit(X, y)
    assert not hasattr(five, "loss_curve_")  # refused before training
    one = NeuronetClassifier(model=lambda f, o: nn.Sequential([L.Dense(f, 1)]), epochs=1)
    with pytest.raises(nn.checks.ArgumentError, match=r"or, for two classes, one output with activation='sigmoid'"):
        one.fit(X[y < 2], y[y < 2])
    three = NeuronetRegressor(model=lambda f, o: nn.Sequential([L.Dense(f, 3)]), epochs=1)
    with pytest.raises(nn.checks.ArgumentError, match=r"3 output\(s\) for 1 target\(s\)"):
        three.fit(X, X[:, 0])
    other = NeuronetRegressor(model=lambda f, o: nn.Sequential([L.Dense(7, o)]), epochs=1)
    with pytest.raises(nn.checks.ArgumentError, match="built a network that does not take X's 4 features"):
        other.fit(X, X[:, 0])


def one_sigmoid(n_features, n_outputs):
    L = nn.layers
    return nn.Sequential([L.Dense(n_features, 4, activation="tanh"), L.Dense(4, 1, activation="sigmoid")])


def test_one_sigmoid_output_serves_two_classes():
    X, y = load_iris(return_X_y=True)
    X, names = StandardScaler().fit_transform(X[y < 2]), np.array(["setosa", "versicolor"])[y[y < 2]]
    model = NeuronetClassifier(model=one_sigmoid, epochs=30, random_state=0).fit(X, names)
    assert isinstance(model.model_.loss, nn.losses.BinaryCrossentropy)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba[:, 1], model.model_.predict(X)[:, 0])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(X), model.classes_[proba.argmax(axis=1)])
    assert model.score(X, names) == 1.0
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict_proba(X), proba)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda X, y: NeuronetClassifier(epochs=1).fit(np.c_[X[:, 0], np.where(np.arange(150) == 2, "a", "1")], y),
         "X holds text, 'a' at row 2, column 1; encode text columns as numbers first"),
        (lambda X, y: NeuronetClassifier(epochs=1).fit(__import__("pandas").DataFrame({"a": X[:, 0], "b": "x"}), y),
         "X holds text, 'x' at row 0, column 1"),
        (lambda X, y: NeuronetClassifier(epochs=1).fit(X, y).predict([["a", 1, 2, 3]]), "X holds text, 'a' at row 0"),
        (lambda X, y: NeuronetClassifier(epochs=1, random_state="x").fit(X, y),
         "random_state must be None, an int or a numpy RandomState, got 'x'"),
        (lambda X, y: NeuronetClassifier(epochs=1, random_state=-1).fit(X, y), "random_state must be >= 0"),
        (lambda X, y: NeuronetRegressor(epochs=1, random_state=2**40).fit(X, y), "random_state must be <="),
        (lambda X, y: NeuronetRegressor(epochs=1).fit(X, np.array(["cheap", "dear"])[y % 2]),
         "y holds text, 'cheap' at row 0; NeuronetRegressor predicts numbers: for classes use NeuronetClassifier"),
        (lambda X, y: NeuronetRegressor(epochs=1, hidden_layer_sizes=None).fit(X, y),
         "hidden_layer_sizes must be an int or a tuple of ints"),
    ],
)  # fmt: skip
def test_mistakes_are_our_errors_naming_the_argument(call, match):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(nn.checks.ArgumentError, match=match):
        call(X, y)


def test_numbers_written_as_text_still_read_as_numbers():
    X, y = load_iris(return_X_y=True)
    model = NeuronetRegressor(epochs=2, random_state=0).fit(X.astype(str), y.astype(str))
    assert model.predict(X).shape == (150,)
