"""The ops seam: a model computes through its ops alone (ops.py), so another ops runs it unchanged."""

import numpy as np
import pytest
from strict import StrictArray, StrictOps

import neuronet as nn

L = nn.layers


def dense():
    return [
        L.Dense(6, 8, activation="relu"),
        L.Dropout(0.2),
        L.BatchNormalization(8),
        L.Dense(8, 3, activation="softmax"),
    ]


def conv():
    return [
        L.RandomTranslation(0.1),
        L.Conv2D(1, 4, 3, padding="same", activation="relu"),
        L.MaxPool2D(2),
        L.Conv2D(4, 4, 3, padding=1),
        L.ReLU(),
        L.AvgPool2D(2),
        L.Flatten(),
        L.Dense(4, 3, activation="softmax"),
    ]


def text():
    return [
        L.Embedding(20, 5, padding_id=0),
        L.Conv1D(5, 6, 3),
        L.GlobalMaxPool1D(),
        L.Dense(6, 3, activation="softmax"),
    ]


def recurrent():
    return [
        L.Embedding(20, 5, padding_id=0),
        L.Bidirectional(L.LSTM(5, 4, return_sequences=True)),
        L.GRU(8, 4),
        L.Dense(4, 3, activation="softmax"),
    ]


def data(kind, rng):
    y = rng.integers(0, 3, 40)
    if kind == "dense":
        return rng.standard_normal((40, 6)), y
    if kind == "conv":
        return rng.standard_normal((40, 4, 4, 1)), y
    ids = rng.integers(0, 20, (40, 7))
    ids[::3, :2] = 0  # padding, for the recurrent layers' mask
    return ids, y


def train(make, kind, ops, tmp_path):
    nn.set_seed(1)
    with nn.ops.use_ops(ops):
        model = nn.Sequential(make())
    model.compile(optimizer=nn.optimizers.Adam(0.01), metrics=["accuracy"])
    x, y = data(kind, np.random.default_rng(2))
    history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0)
    path = tmp_path / f"{kind}-{type(ops).__name__}.nnet"
    model.save(path)
    return model, history, model.predict(x), model.evaluate(x, y), nn.load_model(path).predict(x)


@pytest.mark.parametrize("make, kind", [(dense, "dense"), (conv, "conv"), (text, "text"), (recurrent, "text")])
def test_a_strict_array_type_runs_dense_conv_and_text_models_end_to_end(float64, tmp_path, make, kind):
    """Strict arrays refuse np.asarray, mixing with NumPy arrays and NumPy's functions (as CuPy's do): a
    model that trains, evaluates, predicts and saves with them reaches its arrays through its ops alone."""
    model, history, out, scores, reloaded = train(make, kind, StrictOps(), tmp_path)
    assert all(isinstance(p.data, StrictArray) and isinstance(p.grad, StrictArray) for p in model.parameters())
    assert all(isinstance(s, StrictArray) for layer in model.layers for s in layer.states())
    assert isinstance(out, np.ndarray) and np.isfinite(out).all()
    np.testing.assert_allclose(reloaded, out, rtol=1e-12)
    # the same numbers as the CPU's ops, whose tricks (fusion, column sums, the thread split) only reorder sums
    _, cpu_history, cpu_out, cpu_scores, _ = train(make, kind, nn.ops.NumpyOps(), tmp_path)
    np.testing.assert_allclose(out, cpu_out, rtol=1e-9, atol=1e-12)
    for key in ("loss", "val_loss", "accuracy"):
        np.testing.assert_allclose(history.history[key], cpu_history.history[key], rtol=1e-9)
    assert scores == pytest.approx(cpu_scores, rel=1e-9)


def test_every_model_has_a_generator_of_its_own():
    """Two models trained at once in two threads each repeat what they do alone (issue 10)."""
    import threading

    def build():
        return nn.Sequential([L.Dense(4, 8, activation="relu"), L.Dropout(0.3), L.Dense(8, 2, activation="softmax")])

    x, y = np.random.default_rng(0).standard_normal((256, 4)), np.random.default_rng(1).integers(0, 2, 256)

    def alone(seed):
        nn.set_seed(seed)
        model = build()
        model.compile()
        model.fit(x, y, epochs=3, batch_size=16, verbose=0)
        return model.get_weights()

    expected = [alone(3), alone(4)]
    models = []
    for seed in (3, 4):
        nn.set_seed(seed)
        models.append(build())
        models[-1].compile()
    threads = [threading.Thread(target=m.fit, args=(x, y), kwargs={"epochs": 3, "batch_size": 16, "verbose": 0})
               for m in models]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for model, weights in zip(models, expected):
        for a, b in zip(model.get_weights(), weights):
            np.testing.assert_array_equal(a, b)


UPDATE_RULES = [  # (optimizer, its settings, the state it keeps): every branch of every update kernel
    ("SGD", {}, set()),
    ("SGD", {"momentum": 0.9}, {"velocity"}),
    ("SGD", {"momentum": 0.8, "nesterov": True, "decay": 0.1}, {"velocity"}),
    ("Adagrad", {"initial_accumulator_value": 0.1, "clipvalue": 0.5}, {"sum"}),
    ("RMSprop", {"rho": 0.8, "clipnorm": 1.0}, {"square_avg"}),
    ("Adam", {"beta_1": 0.8, "decay": 0.05}, {"m", "v"}),
    ("AdamW", {"weight_decay": 0.1, "clipnorm": 0.5, "clipvalue": 0.3}, {"m", "v"}),
    ("AdamW", {"weight_decay": 0.0}, {"m", "v"}),
]


def steps(ops, name, options, w, grads):
    """Five steps of the optimizer through ``ops``: the weights and the state kept, as NumPy arrays."""
    optimizer = nn.optimizers.OPTIMIZERS[name](0.05, **options)
    p = nn.Parameter(w.copy(), ops=ops)
    for g in grads:
        p.grad = ops.asarray(g.copy())  # (clipping scales it in place)
        optimizer.step([p], ops)
    state = {k: ops.to_numpy(v) for k, v in optimizer.state[p].items() if k != "scratch"}
    return ops.to_numpy(p.data), state


@pytest.mark.parametrize("name, options, kept", UPDATE_RULES, ids=str)
def test_the_plain_update_kernels_and_numpyops_in_place_ones_agree(float64, name, options, kept):
    """Ops writes each rule as its formula, NumpyOps through a scratch buffer: the same weights and state."""
    rng = np.random.default_rng(5)
    w, grads = rng.standard_normal(40), rng.standard_normal((5, 40))
    grads[:, :4] = 0.0  # weights whose gradient stays zero: epsilon keeps their steps finite
    plain_w, plain_state = steps(nn.ops.Ops(), name, options, w, grads)
    fast_w, fast_state = steps(nn.ops.NumpyOps(), name, options, w, grads)
    np.testing.assert_allclose(fast_w, plain_w, rtol=1e-13, atol=1e-15)
    assert plain_state.keys() == fast_state.keys() == kept
    for key, values in plain_state.items():
        np.testing.assert_allclose(fast_state[key], values, rtol=1e-13, atol=1e-15)
    assert np.isfinite(plain_w).all() and not np.allclose(plain_w, w)


def test_an_optimizer_steps_through_the_kernel_of_the_ops_it_is_given():
    """No class check picks the update: each optimizer calls its rule on the ops given, else the library's."""
    calls = []

    class Recording(nn.ops.NumpyOps):
        def __getattribute__(self, name):
            if name in ("sgd", "adagrad", "rmsprop", "adam"):
                calls.append(name)
            return super().__getattribute__(name)

    for name, rule in [("SGD", "sgd"), ("Adagrad", "adagrad"), ("RMSprop", "rmsprop"), ("Adam", "adam"),
                       ("AdamW", "adam")]:  # fmt: skip
        p = nn.Parameter(np.ones(3))
        p.grad = np.ones(3)
        nn.optimizers.OPTIMIZERS[name]().step([p], Recording())
        with nn.ops.use_ops(Recording()):
            nn.optimizers.OPTIMIZERS[name]().step([p])
        assert calls == [rule, rule], name
        calls.clear()


@pytest.mark.parametrize(
    "kernel, state, settings",
    [
        ("sgd", 1, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
        ("adagrad", 1, {"lr": 0.1, "epsilon": 1e-7}),
        ("rmsprop", 1, {"lr": 0.1, "rho": 0.9, "epsilon": 1e-7}),
        ("adam", 2, {"lr": 0.1, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "t": 3, "decay": 0.99}),
    ],
)
def test_an_update_kernel_called_on_its_own_needs_no_scratch_buffer(kernel, state, settings):
    rng = np.random.default_rng(0)
    w, g = rng.standard_normal(5), rng.standard_normal(5)
    states = [np.abs(rng.standard_normal(5)) for _ in range(state)]
    results = []
    for ops in (nn.ops.Ops(), nn.ops.NumpyOps()):
        w_k, s_k = w.copy(), [s.copy() for s in states]
        getattr(ops, kernel)(w_k, g, *s_k, **settings)
        results.append((w_k, s_k))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    assert not np.allclose(results[0][0], w)  # the weights moved


@pytest.mark.parametrize("shape", [(6, 4), (3, 5, 4), (2, 3, 5, 4)])
def test_the_plain_and_numpyops_channel_kernels_agree(float64, shape):
    """ops.affine (x * scale + shift per channel; NumpyOps along rows of pixels) and ops.column_dots (NumpyOps
    by einsum) give the plain formulas' values, the input untouched, with either of scale and shift left out."""
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal(shape), rng.standard_normal(shape)
    scale, shift = rng.standard_normal(4), rng.standard_normal(4)
    row = shape[-2] if len(shape) > 2 else 1
    before = x.copy()
    for ops in (nn.ops.Ops(), nn.ops.NumpyOps()):
        for s, b, want in [(scale, shift, x * scale + shift), (None, shift, x + shift), (scale, None, x * scale)]:
            out = ops.affine(x, s, b, row=row)
            assert out.shape == x.shape and out.dtype == x.dtype and out is not x
            np.testing.assert_allclose(out, want, rtol=1e-14)
        np.testing.assert_allclose(ops.column_dots(x, y), (x * y).reshape(-1, 4).sum(axis=0), rtol=1e-12)
    np.testing.assert_array_equal(x, before)
