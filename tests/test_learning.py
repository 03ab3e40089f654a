"""It learns: real data sets reach real accuracies."""

import numpy as np

import neuronet as nn


def test_digits_reach_96_percent_test_accuracy():
    X, y = nn.datasets.load_digits()
    X = X / 16.0
    order = np.random.default_rng(0).permutation(len(X))
    X, y = X[order], y[order]
    X_train, y_train, X_test, y_test = X[:1437], y[:1437], X[1437:], y[1437:]
    model = nn.Sequential([nn.layers.Dense(64, 64, activation="relu"), nn.layers.Dense(64, 10, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer=nn.optimizers.Adam(0.005), metrics=["accuracy"])
    history = model.fit(X_train, y_train, epochs=40, batch_size=32, validation_split=0.1, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.evaluate(X_test, y_test)["accuracy"] >= 0.96


def test_spiral_reaches_90_percent_training_accuracy():
    X, y = nn.datasets.spiral(100, 3)
    model = nn.Sequential(
        [
            nn.layers.Dense(2, 64, activation="relu"),
            nn.layers.Dense(64, 64, activation="relu"),
            nn.layers.Dense(64, 3, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer=nn.optimizers.Adam(0.005), metrics=["accuracy"])
    model.fit(X, y, epochs=300, batch_size=32, verbose=0)
    assert model.evaluate(X, y)["accuracy"] >= 0.90


def test_regression_reaches_the_noise_floor():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1000, 5))
    noise = 0.1
    y = X @ rng.standard_normal(5) + 0.5 + noise * rng.standard_normal(1000)
    model = nn.Sequential([nn.layers.Dense(5, 1)])
    model.compile(loss="mse", optimizer=nn.optimizers.Adam(0.01))
    model.fit(X[:800], y[:800], epochs=100, batch_size=32, verbose=0)
    mse = model.evaluate(X[800:], y[800:])["loss"]
    assert mse < 1.15 * noise**2  # the best possible is noise**2 = 0.01


def test_binary_classification_with_sigmoid_output():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((400, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)  # XOR-like quadrants: needs a hidden layer
    model = nn.Sequential([nn.layers.Dense(2, 16, activation="tanh"), nn.layers.Dense(16, 1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=nn.optimizers.Adam(0.02), metrics=["accuracy"])
    model.fit(X, y, epochs=100, batch_size=32, verbose=0)
    assert model.evaluate(X, y)["accuracy"] >= 0.95


def test_every_optimizer_lowers_the_loss():
    X, y = nn.datasets.load_digits()
    X, y = X[:500] / 16.0, y[:500]
    for opt in [
        nn.optimizers.SGD(0.1),
        nn.optimizers.SGD(0.05, momentum=0.9, nesterov=True, decay=1e-3),
        nn.optimizers.Adagrad(0.05),
        nn.optimizers.RMSprop(0.002),
        nn.optimizers.Adam(0.002),
    ]:
        nn.set_seed(0)
        model = nn.Sequential(
            [nn.layers.Dense(64, 32, activation="relu"), nn.layers.Dense(32, 10, activation="softmax")]
        )
        model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])
        history = model.fit(X, y, epochs=10, batch_size=32, verbose=0)
        assert history.history["loss"][-1] < 0.5 * history.history["loss"][0], type(opt).__name__
        assert history.history["accuracy"][-1] > 0.85, type(opt).__name__
