"""scikit-learn estimators: a neuronet network inside Pipelines, cross-validation and grid searches.

``NeuronetClassifier`` and ``NeuronetRegressor`` take ``MLPClassifier``'s
parameters (``hidden_layer_sizes``, ``activation``, ``alpha``, ...) or
``model=``, a function ``(n_features, n_outputs) -> model`` for any
network: a ``Sequential``, or a graph model (``nn.Model``: residual
connections, shared layers) of one input and one output. They follow scikit-learn's rules, checked by its own
``check_estimator``: parameters are only stored by ``__init__`` and checked
by ``fit``; ``fit`` validates the data with ``validate_data``, sets
``n_features_in_`` (and ``classes_``, for labels of any type) and returns
the estimator; ``random_state`` makes refits bit-identical (the library's
own generator is left as it was); ``partial_fit`` trains one more epoch.

They compute in float64 by default (``dtype``): scikit-learn expects a
sample's prediction not to depend on which other rows are predicted with
it, and float32 products of different batch shapes differ in the last bits.
A fitted estimator pickles (scikit-learn's searches send estimators to
other processes that way) through neuronet's own model file format, held in
memory: the network is saved as safetensors plus JSON, never as pickled
objects. Needs scikit-learn: ``pip install "neuronet[sklearn]"``.
"""

from __future__ import annotations

import numbers
import os
import tempfile

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
except ImportError:
    raise ImportError('neuronet.sklearn needs scikit-learn: pip install "neuronet[sklearn]"') from None

from . import checks, layers, losses, model_file, optimizers, settings
from .model import Model
from .ops import NumpyOps, use_ops
from .saving import write_model_file
from .sequential import Sequential, load_model

ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "logistic": "sigmoid", "identity": None, "leaky_relu": "leaky_relu"}


class _NeuronetEstimator(BaseEstimator):
    """What the classifier and the regressor share: building, training, predicting, pickling. Each kind
    gives its ``output_activation``, ``_targets`` and ``_n_outputs`` for its y, and ``_check_width`` and
    ``_loss`` for the width of the network's output."""

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        alpha=0.0,
        learning_rate=0.001,
        optimizer="adam",
        epochs=200,
        batch_size=32,
        model=None,
        random_state=None,
        dtype="float64",
        verbose=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.epochs = epochs
        self.batch_size = batch_size
        self.model = model
        self.random_state = random_state
        self.dtype = dtype
        self.verbose = verbose

    output_activation: str | None = None  # the last layer's, in the dense network

    # -- training ----------------------------------------------------------------------------------
    def _seed(self) -> int:
        """The seed of the weights and of the network's own stream: from ``random_state`` as scikit-learn
        reads it (None: NumPy's global RandomState; an int; a RandomState)."""
        state = self.random_state
        if state is not None and not isinstance(state, np.random.RandomState):
            if isinstance(state, bool) or not isinstance(state, numbers.Integral):
                raise checks.ArgumentError(
                    f"random_state must be None, an int or a numpy RandomState, got {state!r} ({type(state).__name__})"
                )
            checks.integer(state, "random_state", low=0, high=2**32 - 1)  # (RandomState's seeds)
        return int(check_random_state(state).randint(np.iinfo(np.int32).max))

    def _build(self, n_features: int, n_outputs: int) -> Model:
        dtype = checks.choice(self.dtype, "dtype", ("float32", "float64"))
        with use_ops(NumpyOps(dtype=np.dtype(dtype).type)):
            if self.model is not None:
                if not callable(self.model):
                    raise checks.ArgumentError(
                        "model must be a function (n_features, n_outputs) -> a model (nn.Sequential or nn.Model), "
                        f"got {self.model!r}"
                    )
                network = self.model(n_features, n_outputs)
                if not isinstance(network, Model):
                    raise checks.ArgumentError(
                        f"model(...) must return a model (nn.Sequential or nn.Model), got {type(network).__name__}"
                    )
                if network.several_inputs or network.several_outputs:  # (X is one table, predict gives one array)
                    raise checks.ArgumentError(
                        "model(...) must return a model of one input and one output, nn.Model(inputs=x, outputs=y); "
                        "it was given lists"
                    )
                return network
            return self._dense_network(n_features, n_outputs)

    def _dense_network(self, n_features: int, n_outputs: int) -> Sequential:
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, (numbers.Integral, list, tuple, np.ndarray)):
            raise checks.ArgumentError(
                f"hidden_layer_sizes must be an int or a tuple of ints (one per hidden layer), got {sizes!r}"
            )
        sizes = (sizes,) if isinstance(sizes, numbers.Integral) else tuple(sizes)
        sizes = tuple(checks.integer(s, "a size in hidden_layer_sizes", low=1) for s in sizes)
        activation = ACTIVATIONS[checks.choice(self.activation, "activation", tuple(ACTIVATIONS))]
        alpha = checks.number(self.alpha, "alpha", low=0.0)
        widths = (n_features, *sizes)
        hidden = [
            layers.Dense(a, b, activation=activation, weight_regularizer_l2=alpha / 2)
            for a, b in zip(widths[:-1], widths[1:])
        ]  # (MLPClassifier's penalty is alpha/2 * ||W||^2, as the L2 penalty is l2 * ||W||^2)
        out = layers.Dense(widths[-1], n_outputs, activation=self.output_activation)
        return Sequential([*hidden, out])

    def _compile(self, network: Model, width: int) -> None:
        name = checks.choice(self.optimizer, "optimizer", tuple(sorted(n.lower() for n in optimizers.OPTIMIZERS)))
        rate = checks.number(self.learning_rate, "learning_rate", low=0.0, low_open=True)
        network.compile(loss=self._loss(width), optimizer=type(optimizers.get(name))(rate))

    def _train(self, X, y, epochs: int, fresh: bool, classes=None):
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        X, y = self._validate(X, y, reset=fresh)
        targets = self._targets(y, fresh, classes)
        if fresh:
            n_outputs = self._n_outputs(targets)
            with settings.seeded(self._seed()):  # the weights and the model's own stream (shuffling, dropout)
                self.model_ = self._build(X.shape[1], n_outputs)
                width = _output_width(self.model_, X[:1])
            self._check_width(width, n_outputs)  # (before training: a wrong width fails only in predict)
            self._compile(self.model_, width)
            self.loss_curve_ = []
        verbose = checks.integer(self.verbose, "verbose", low=0, high=2)
        batch_size = min(checks.integer(self.batch_size, "batch_size", low=1), len(X))
        history = self.model_.fit(X, targets, epochs=epochs, batch_size=batch_size, verbose=verbose)
        self.loss_curve_ += history.history["loss"]
        return self

    def fit(self, X, y):
        """Train a new network on X (samples, features) and y for ``epochs`` passes; returns self."""
        return self._train(X, y, checks.integer(self.epochs, "epochs", low=1), fresh=True)

    def _validate(self, X, y=None, reset=True):
        _require_numbers(X, "X", "encode text columns as numbers first (a OneHotEncoder in a Pipeline, say)")
        dtype = (np.float64, np.float32)
        if y is None:
            return validate_data(self, X, reset=reset, dtype=dtype)
        return validate_data(self, X, y, reset=reset, dtype=dtype, multi_output=True, y_numeric=False)

    def _outputs(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = self._validate(X, reset=False)
        return self.model_.predict(X)  # (in the network's float type: predict converts)

    # -- pickling through the model file format --------------------------------------------------------
    def __getstate__(self):
        state = self.__dict__.copy()
        if "model_" in state:
            state["model_"] = _to_bytes(state["model_"])
        return state

    def __setstate__(self, state):
        if "model_" in state:
            state["model_"] = _from_bytes(state["model_"], state["dtype"])
        self.__dict__.update(state)


def _output_width(network: Model, x: np.ndarray) -> int:
    """The number of outputs ``network`` gives for a sample ``x`` (1, features), checked to be a row."""
    try:
        out = network.predict(x)
    except ValueError as exc:  # a layer's error: the network does not take X's features
        raise checks.ArgumentError(
            f"model(...) built a network that does not take X's {x.shape[1]} features: {exc}"
        ) from None
    if out.ndim != 2:
        raise checks.ArgumentError(
            f"model(...) must build a network with one row of outputs per sample; it gives shape {out.shape[1:]}"
        )
    return out.shape[1]


def _require_numbers(values, name: str, advice: str) -> None:
    """An error naming the first cell of ``values`` that is text no number can be read from, if there is one
    (scikit-learn's own says only "could not convert string to float"); the rest is validate_data's."""
    try:
        array = np.asarray(values)
    except (TypeError, ValueError):  # ragged and the like: validate_data says what is wrong
        return
    if array.dtype.kind not in "OUS":
        return
    for index, value in np.ndenumerate(array):
        if isinstance(value, (str, bytes)):
            try:
                float(value)
            except ValueError:
                where = ", ".join(f"{axis} {i}" for axis, i in zip(("row", "column"), index))
                shown = value.item() if isinstance(value, np.generic) else value  # ('a', not np.str_('a'))
                raise checks.ArgumentError(f"{name} holds text, {shown!r} at {where}; {advice}") from None


def _to_bytes(model: Model) -> bytes:
    """A model as the bytes of its model file (safetensors + JSON)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.nnet")
        # on every rank, not save's rank 0
        write_model_file(path, model_file.description(model), model_file.arrays_to_save(model, path))
        with open(path, "rb") as f:
            return f.read()


def _from_bytes(data: bytes, dtype: str) -> Model:
    """The model whose model file is ``data``, checked as any model file is (its optimizer's state, not
    kept in files, starts afresh)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.nnet")
        with open(path, "wb") as f:
            f.write(data)
        with use_ops(NumpyOps(dtype=np.dtype(dtype).type)):
            return load_model(path)


class NeuronetClassifier(ClassifierMixin, _NeuronetEstimator):
    """A neuronet network as a scikit-learn classifier: softmax outputs, cross-entropy, any label type.

    ``classes_`` holds the labels in sorted order; ``predict`` returns them, ``predict_proba`` the
    probability of each, in that order.
    """

    output_activation = "softmax"

    def _n_outputs(self, targets) -> int:
        return len(self.classes_)

    def _check_width(self, width: int, n_outputs: int) -> None:
        """One output per class, or one sigmoid output (the probability of the second class) for two."""
        last = self.model_.graph.outputs[0].layer  # (the output's layer: a graph's last in order may be another)
        one_sigmoid = width == 1 and n_outputs == 2 and last.output_activation() == "sigmoid"
        if width == n_outputs or one_sigmoid:
            return
        two = " (or, for two classes, one output with activation='sigmoid')" if n_outputs == 2 else ""
        raise checks.ArgumentError(
            f"model(n_features, n_outputs) built a network with {width} output(s) for {n_outputs} classes; "
            f"it must end in n_outputs = {n_outputs} outputs with activation='softmax'{two}"
        )

    def _loss(self, width: int) -> losses.Loss:
        return losses.BinaryCrossentropy() if width == 1 else losses.CategoricalCrossentropy()

    def _targets(self, y, fitting: bool, classes=None):
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if fitting:
            self._encoder = LabelEncoder().fit(y if classes is None else np.asarray(classes))
            self.classes_ = self._encoder.classes_
            if len(self.classes_) < 2:
                raise ValueError(
                    f"NeuronetClassifier needs at least 2 classes to learn; y holds one class, {self.classes_[0]!r}"
                )
        if not np.isin(y, self.classes_).all():
            raise ValueError(f"y holds labels not in classes_ {list(self.classes_)}")
        return self._encoder.transform(y)

    def partial_fit(self, X, y, classes=None):
        """One more epoch on X, y; the first call makes the network (``classes`` then names every label
        the later calls may bring; by default those of this y)."""
        return self._train(X, y, 1, fresh=not hasattr(self, "model_"), classes=classes)

    def predict_proba(self, X) -> np.ndarray:
        out = self._outputs(X)
        return np.hstack([1 - out, out]) if out.shape[1] == 1 else out  # (one sigmoid: class 1's probability)

    def predict(self, X) -> np.ndarray:
        probabilities = self.predict_proba(X)
        return self.classes_[probabilities.argmax(axis=1)]


class NeuronetRegressor(RegressorMixin, _NeuronetEstimator):
    """A neuronet network as a scikit-learn regressor: linear outputs, mean squared error; y one target
    or several (samples, targets)."""

    output_activation = None

    def _n_outputs(self, targets) -> int:
        return targets.shape[1]

    def _check_width(self, width: int, n_outputs: int) -> None:
        if width != n_outputs:
            raise checks.ArgumentError(
                f"model(n_features, n_outputs) built a network with {width} output(s) for {n_outputs} target(s); "
                f"it must end in n_outputs = {n_outputs} linear output(s)"
            )

    def _loss(self, width: int) -> losses.Loss:
        return losses.MeanSquaredError()

    def _targets(self, y, fitting: bool, classes=None):
        _require_numbers(y, "y", "NeuronetRegressor predicts numbers: for classes use NeuronetClassifier")
        y = np.asarray(y, dtype=np.float64)
        if fitting:
            self._single = y.ndim == 1
        return y.reshape(len(y), -1)

    def partial_fit(self, X, y):
        """One more epoch on X, y (a new network first, if not fitted yet)."""
        return self._train(X, y, 1, fresh=not hasattr(self, "model_"))

    def predict(self, X) -> np.ndarray:
        out = self._outputs(X)
        return out[:, 0] if self._single else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


__all__ = ["NeuronetClassifier", "NeuronetRegressor"]
