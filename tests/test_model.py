"""The Sequential model: seeds, names, summary, batching, history, callbacks."""

import os
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np
import pytest

import neuronet as nn


def build():
    model = nn.Sequential(
        [nn.layers.Dense(4, 5, activation="relu"), nn.layers.Dropout(0.2), nn.layers.Dense(5, 3, activation="softmax")]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def test_same_seed_gives_bit_identical_training():
    X = np.random.default_rng(0).standard_normal((100, 4))
    y = np.random.default_rng(1).integers(0, 3, 100)
    weights = []
    for _ in range(2):
        nn.set_seed(42)
        model = build()
        model.fit(X, y, epochs=3, batch_size=16, verbose=0)
        weights.append([p.data.copy() for p in model.parameters()])
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)
    nn.set_seed(43)
    other = build()
    assert not np.array_equal(other.parameters()[0].data, weights[0][0])


def test_float32_by_default_and_float64_on_request():
    assert build().parameters()[0].data.dtype == np.float32
    assert build().predict(np.zeros((2, 4), dtype=np.float64)).dtype == np.float32
    nn.set_dtype("float64")
    try:
        assert build().parameters()[0].data.dtype == np.float64
    finally:
        nn.set_dtype("float32")


def test_the_classic_first_example():
    X = [[1.0, 2.0, 3.0, 2.5], [2.0, 5.0, -1.0, 2.0], [-1.5, 2.7, 3.3, -0.8]]
    model = nn.Sequential([nn.layers.Dense(4, 5), nn.layers.Dense(5, 2)])
    out = model.forward(np.asarray(X, dtype=np.float32))
    assert out.shape == (3, 2)
    w1, b1, w2, b2 = (p.data for p in model.parameters())
    np.testing.assert_allclose(out, (np.asarray(X) @ w1 + b1) @ w2 + b2, rtol=1e-5)


def test_layer_names_follow_keras():
    model = nn.Sequential([nn.layers.Dense(2, 2), nn.layers.ReLU(), nn.layers.Dense(2, 2), nn.layers.Dense(2, 2)])
    assert [ly.name for ly in model.layers] == ["dense", "relu", "dense_1", "dense_2"]


def test_summary_lists_shapes_and_counts():
    text = build().summary(print_fn=lambda s: None)
    assert "dense (Dense)" in text and "(None, 5)" in text and "25" in text
    assert "dropout (Dropout)" in text and "(None, 3)" in text and "18" in text
    assert "Total params: 43" in text


def test_predict_is_batched_and_matches_one_pass():
    model = build()
    X = np.random.default_rng(0).standard_normal((1000, 4)).astype(np.float32)
    seen = []
    first = model.layers[0]
    original = first.forward
    first.forward = lambda x, training=False: (seen.append(len(x)), original(x, training))[1]
    out = model.predict(X, batch_size=300)
    assert seen == [300, 300, 300, 100]
    np.testing.assert_allclose(out, model.forward(X), rtol=1e-6)


def test_fit_history_and_validation():
    X = np.random.default_rng(0).standard_normal((200, 4))
    y = (X[:, 0] > 0).astype(int)
    model = build()
    h = model.fit(X, y, epochs=4, batch_size=32, validation_split=0.25, verbose=0)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 4 for v in h.history.values())
    assert h.epoch == [0, 1, 2, 3]
    h2 = model.fit(X[:150], y[:150], epochs=1, validation_data=(X[150:], y[150:]), verbose=0)
    assert h2.history["val_loss"][0] == pytest.approx(model.evaluate(X[150:], y[150:])["loss"], rel=1e-6)


def test_one_hot_targets_train_like_labels():
    X = np.random.default_rng(0).standard_normal((60, 4))
    y = np.random.default_rng(1).integers(0, 3, 60)
    runs = []
    for targets in (y, np.eye(3)[y]):
        nn.set_seed(0)
        model = build()
        runs.append(model.fit(X, targets, epochs=2, batch_size=20, verbose=0).history["loss"])
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-5)


def test_shuffle_false_keeps_batches_in_order():
    seen = []

    class Spy(nn.layers.Layer):
        def forward(self, x, training=False):
            if training:
                seen.append(x[:, 0].copy())
            return x

        def backward(self, dy):
            return dy

    X = np.arange(10, dtype=np.float32).reshape(10, 1)
    model = nn.Sequential([Spy(), nn.layers.Dense(1, 1)])
    model.compile(loss="mse", optimizer="sgd")
    model.fit(X, np.zeros(10), epochs=1, batch_size=4, shuffle=False, verbose=0)
    np.testing.assert_array_equal(np.concatenate(seen), np.arange(10))
    seen.clear()
    model.fit(X, np.zeros(10), epochs=1, batch_size=4, shuffle=True, verbose=0)
    assert sorted(np.concatenate(seen)) == list(range(10)) and not np.array_equal(np.concatenate(seen), np.arange(10))


def test_progress_bar_shows_live_loss_and_metrics(capsys, monkeypatch):
    monkeypatch.setattr(nn.training, "interactive", lambda: True)  # as on a terminal

    class Slow(nn.callbacks.Callback):  # slow batches, so the bar redraws while the epoch runs
        def on_batch_end(self, batch, logs=None):
            time.sleep(0.2)

    X = np.random.default_rng(0).standard_normal((64, 4))
    build().fit(X, np.zeros(64, int), epochs=1, batch_size=16, verbose=1, callbacks=[Slow()])
    err = capsys.readouterr().err
    assert "Epoch 1/1" in err and "3/4" in err and "loss=" in err and "accuracy=" in err
    assert "Epoch 1/1 - loss: " in err and " - accuracy: " in err  # the summary line left after the bar


def test_verbose_zero_is_silent(capsys):
    build().fit(np.zeros((8, 4)), np.zeros(8, int), epochs=2, verbose=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_gradients_accumulate_until_zero_grad():
    model = nn.Sequential([nn.layers.Dense(3, 2)])
    x, dy = np.ones((4, 3), np.float32), np.ones((4, 2), np.float32)
    model.forward(x)
    model.backward(dy)
    once = model.parameters()[0].grad.copy()
    model.forward(x)
    model.backward(dy)
    np.testing.assert_allclose(model.parameters()[0].grad, 2 * once)
    model.zero_grad()
    assert not model.parameters()[0].grad.any()


def test_custom_training_loop_with_low_level_api():
    X = np.random.default_rng(0).standard_normal((200, 2)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(np.float32)
    model = nn.Sequential([nn.layers.Dense(2, 16, activation="tanh"), nn.layers.Dense(16, 1, activation="sigmoid")])
    loss_fn, opt = nn.losses.BinaryCrossentropy(), nn.optimizers.Adam(0.05)
    first = None
    for _ in range(200):
        out = model.forward(X, training=True)
        value = loss_fn(out, y)
        first = value if first is None else first
        model.zero_grad()
        model.backward(loss_fn.backward(out, y))
        opt.step(model.parameters())
    assert value < 0.5 * first


def test_early_stopping_restores_best_weights():
    X = np.random.default_rng(0).standard_normal((40, 4))
    y = np.random.default_rng(1).integers(0, 3, 40)
    model = build()
    losses_seen, weights = [], []

    class Record(nn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            losses_seen.append(logs["loss"])
            weights.append([p.data.copy() for p in self.model.parameters()])

    stop = nn.callbacks.EarlyStopping(monitor="loss", patience=2, min_delta=10.0)  # nothing beats the first by 10
    h = model.fit(X, y, epochs=10, batch_size=8, callbacks=[Record(), stop], verbose=0)
    assert len(h.history["loss"]) == 3 and stop.stopped_epoch == 2 and stop.best_epoch == 0
    for p, w in zip(model.parameters(), weights[0]):
        np.testing.assert_array_equal(p.data, w)


def test_model_checkpoint_saves_the_best(tmp_path):
    X = np.random.default_rng(0).standard_normal((40, 4))
    y = np.random.default_rng(1).integers(0, 3, 40)
    path = tmp_path / "best.nnet"
    model = build()
    kept = []

    class Scripted(nn.callbacks.Callback):  # the best epoch is the second: val_loss 0.5
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = [0.9, 0.5, 0.7][epoch]
            kept.append(self.model.get_weights())

    checkpoint = nn.callbacks.ModelCheckpoint(path)
    model.fit(X, y, epochs=3, validation_split=0.25, callbacks=[Scripted(), checkpoint], verbose=0)
    for a, b in zip(nn.load_model(path).get_weights(), kept[1]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "name,expected_std",
    [
        ("glorot_uniform", np.sqrt(2.0 / (400 + 300))),  # U(-a, a) with a = sqrt(6 / (fan_in + fan_out))
        ("he_normal", np.sqrt(2.0 / 400)),
        ("small_normal", 0.01),
    ],
)
def test_initializers_are_selectable_per_layer(name, expected_std):
    layer = nn.layers.Dense(400, 300, weight_initializer=name)
    w = layer.weights.data
    assert w.std() == pytest.approx(expected_std, rel=0.02)
    assert abs(w.mean()) < 0.05 * expected_std
    assert not layer.biases.data.any()
    if name == "glorot_uniform":
        assert np.abs(w).max() <= np.sqrt(6.0 / 700)


def test_freed_memory_is_reused_rather_than_faulted_in_again():
    """After keep_freed_memory(), a step's big arrays reuse the last step's pages (few page faults)."""
    script = """
import resource, numpy as np, neuronet as nn
kept = nn.ops.keep_freed_memory()
a = np.ones(4 << 20, np.float32)  # 16 MiB, as big as a convolution's im2col matrix
del a
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
a = np.ones(4 << 20, np.float32)
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    kept, faults = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
    ).stdout.split()
    if kept != "True":
        pytest.skip("the C allocator is not glibc: keep_freed_memory() does nothing here")
    assert int(faults) < 100  # glibc by default: ~500 here (huge pages), up to 4096 (the 16 MiB back to the OS)


def test_keep_freed_memory_leaves_user_malloc_settings_alone(monkeypatch):
    monkeypatch.setattr(nn.ops.numpy_ops, "_memory_kept", None)
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")  # not a glibc tunable name (no trailing _): ignored
    monkeypatch.setenv("MALLOC_TOP_PAD_", "0")
    assert nn.ops.keep_freed_memory() is False


class OrderSpy(nn.layers.Layer):
    """Records the first feature of every training batch it sees, epoch by epoch."""

    def __init__(self):
        super().__init__()
        self.epochs = []

    def forward(self, x, training=False):
        if training:
            self.epochs[-1].append(x[:, 0].copy())
        return x

    def backward(self, dy):
        return dy


def shuffled_orders(seed, epochs=3):
    nn.set_seed(seed)
    spy = OrderSpy()
    model = nn.Sequential([spy, nn.layers.Dense(1, 1)])
    model.compile(loss="mse", optimizer="sgd")

    class NewEpoch(nn.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            spy.epochs.append([])

    X = np.arange(20, dtype=np.float32).reshape(20, 1)
    model.fit(X, np.zeros(20), epochs=epochs, batch_size=8, shuffle=True, callbacks=[NewEpoch()], verbose=0)
    return [np.concatenate(batches) for batches in spy.epochs]


def test_each_epoch_is_shuffled_afresh_from_the_seeded_generator():
    orders = shuffled_orders(1)
    for order in orders:
        assert sorted(order) == list(range(20))
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])
    for a, b in zip(orders, shuffled_orders(1)):  # the same seed, the same orders
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(orders[0], shuffled_orders(2)[0])  # another seed, another order


def test_a_diverging_loss_is_recorded_and_stops_training():
    X = np.random.default_rng(0).standard_normal((64, 4)) * 1e3
    model = nn.Sequential([nn.layers.Dense(4, 16, activation="relu"), nn.layers.Dense(16, 1)])
    model.compile(loss="mse", optimizer=nn.optimizers.SGD(learning_rate=10.0), metrics=["mae"])
    with pytest.warns(RuntimeWarning, match="loss became"):
        history = model.fit(X, X @ np.ones(4), epochs=20, batch_size=8, validation_split=0.25, verbose=0)
    loss = history.history["loss"]
    assert 1 <= len(loss) < 20 and not np.isfinite(loss[-1]) and np.isfinite(loss[:-1]).all()
    assert history.epoch == list(range(len(loss)))
    for key in ("mae", "val_loss", "val_mae"):  # every list as long as the loss's, NaN at the diverged epoch
        assert len(history.history[key]) == len(loss) and np.isnan(history.history[key][-1])


def test_early_stopping_restores_the_best_weights_when_the_loss_diverges():
    X = np.random.default_rng(0).standard_normal((64, 4))
    y = X @ np.ones(4)
    model = nn.Sequential([nn.layers.Dense(4, 16, activation="relu"), nn.layers.Dense(16, 1)])
    model.compile(loss="mse", optimizer=nn.optimizers.SGD(learning_rate=0.01))
    kept = []

    class Blowup(nn.callbacks.Callback):  # after two good epochs, a learning rate that diverges
        def on_epoch_end(self, epoch, logs=None):
            kept.append(self.model.get_weights())
            if epoch == 1:
                self.model.optimizer.learning_rate = 1e6

    stop = nn.callbacks.EarlyStopping(monitor="loss", patience=10)
    with pytest.warns(RuntimeWarning, match="loss became"):
        history = model.fit(X, y, epochs=20, batch_size=8, callbacks=[Blowup(), stop], verbose=0)
    assert not np.isfinite(history.history["loss"][-1])
    best = int(np.argmin(history.history["loss"][:-1]))
    for a, b in zip(model.get_weights(), kept[best]):
        np.testing.assert_array_equal(a, b)
    assert np.isfinite(model.predict(X)).all()


def test_early_stopping_restores_the_best_epoch_also_when_training_runs_to_the_end():
    X = np.random.default_rng(0).standard_normal((40, 4))
    y = np.random.default_rng(1).integers(0, 3, 40)
    kept = []

    class Record(nn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = [0.9, 0.5, 0.7, 0.8][epoch]  # best at epoch 1, patience never runs out
            kept.append(self.model.get_weights())

    stop = nn.callbacks.EarlyStopping(patience=10)
    model = build()
    model.fit(X, y, epochs=4, callbacks=[Record(), stop], verbose=0)
    assert stop.stopped_epoch is None and stop.best_epoch == 1
    for a, b in zip(model.get_weights(), kept[1]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["f1_score", "acc", "precision_macro", "mean_absolute_error"])
def test_metrics_are_logged_under_the_name_given(name):
    model = nn.Sequential([nn.layers.Dense(4, 3, activation="softmax")])
    regression = name == "mean_absolute_error"
    model = nn.Sequential([nn.layers.Dense(4, 1 if regression else 3, activation=None if regression else "softmax")])
    model.compile(loss="mse" if regression else "categorical_crossentropy", optimizer="adam", metrics=[name])
    X = np.random.default_rng(0).standard_normal((30, 4))
    y = np.random.default_rng(1).integers(0, 3, 30)
    history = model.fit(X, y, epochs=2, validation_split=0.2, verbose=0)
    assert len(history.history[name]) == 2 and len(history.history[f"val_{name}"]) == 2
    assert name in model.evaluate(X, y)


def test_a_last_batch_of_one_sample_joins_the_one_before_for_batchnorm():
    """33 samples, batch_size 32: one batch of 33 (one sample has no variance to normalise by)."""
    sizes = []

    class Sizes(nn.layers.Layer):
        def forward(self, x, training=False):
            if training:
                sizes.append(len(x))
            return x

        def backward(self, dy):
            return dy

    model = nn.Sequential([Sizes(), nn.layers.Dense(4, 8), nn.layers.BatchNormalization(8), nn.layers.Dense(8, 1)])
    model.compile(loss="mse", optimizer="adam")
    X = np.random.default_rng(0).standard_normal((33, 4))
    history = model.fit(X, X.sum(axis=1), epochs=2, batch_size=32, verbose=0)
    assert sizes == [33, 33] and np.isfinite(history.history["loss"]).all()
    sizes.clear()
    plain = nn.Sequential([Sizes(), nn.layers.Dense(4, 1)])
    plain.compile(loss="mse", optimizer="adam")
    plain.fit(X, X.sum(axis=1), epochs=1, batch_size=32, verbose=0)
    assert sizes == [32, 1]  # only where a layer needs it
    with pytest.raises(ValueError, match="at least 2 samples"):
        model.fit(X[:1], [1.0], verbose=0)


def test_summary_of_a_text_model_shows_shapes_once_it_has_seen_data():
    model = nn.Sequential([nn.layers.Embedding(50, 8), nn.layers.GlobalAvgPool1D(), nn.layers.Dense(8, 2)])
    assert "(None, 12, 8)" not in model.summary(print_fn=lambda s: None)
    model.predict(np.zeros((3, 12), int))
    text = model.summary(print_fn=lambda s: None)
    assert "(None, 12, 8)" in text and "(None, 8)" in text and "(None, 2)" in text and "?" not in text


def test_piped_output_has_epoch_lines_and_no_bar_fragments():
    script = (
        "import numpy as np, neuronet as nn\n"
        "m = nn.Sequential([nn.layers.Dense(4, 3, activation='softmax')])\n"
        "m.compile(metrics=['accuracy'])\n"
        "m.fit(np.zeros((64, 4)), np.zeros(64, int), epochs=3, batch_size=8)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        line for line in result.stderr.splitlines() if line.startswith("Epoch ") and " - loss: " in line
    ]
    assert len(result.stderr.splitlines()) == 3 and "\r" not in result.stderr and "it/s" not in result.stderr


def test_backward_after_two_training_passes_is_an_error():
    """Layers keep only their last forward pass (a one-slot cache): D(real), D(fake), backward would be fake's."""
    model = nn.Sequential([nn.layers.Dense(3, 2)])
    real, fake, dy = np.ones((4, 3)), np.zeros((4, 3)), np.ones((4, 2))
    model.forward(real, training=True)
    model.forward(fake, training=True)
    with pytest.raises(RuntimeError, match="after 2 training forward passes"):
        model.backward(dy)
    model.forward(real, training=True)  # the pattern that works: a backward after each forward
    model.backward(dy)
    model.forward(fake, training=True)
    model.backward(dy)


# -- what a model is built from --------------------------------------------------------------------
@pytest.mark.parametrize(
    "input_shape,match",
    [
        (
            (5,),
            r"input_shape \(5,\) does not fit the layers: layer 'dense' \(Dense\) expects input of shape \(batch, 4\)",
        ),
        ((-1, 4), "each size in input_shape must be >= 1, got -1"),
        ("tanh", "input_shape must be a tuple of sizes"),
        (4, "input_shape must be a tuple of sizes"),
        ((4.0,), "must be an int, got 4.0"),
        ((), "1 to 16 axes, got 0"),
    ],
)
def test_an_input_shape_the_layers_cannot_take_is_refused_at_construction(input_shape, match):
    """Before, Sequential([Dense(4, 2)], input_shape=(5,)) built and saved a file that load_model refused."""
    with pytest.raises(nn.checks.ArgumentError, match=match):
        nn.Sequential([nn.layers.Dense(4, 2)], input_shape=input_shape)


def test_add_refuses_a_layer_that_does_not_fit_the_input_shape(tmp_path):
    """Sequential(input_shape=(5,)).add(Dense(4, 2)) saved a file that load_model refused."""
    model = nn.Sequential(input_shape=(5,))
    with pytest.raises(nn.checks.ArgumentError, match=r"input_shape \(5,\) does not fit the layers.*\(batch, 4\)"):
        model.add(nn.layers.Dense(4, 2))
    assert model.layers == []  # not added
    model.add(nn.layers.Dense(5, 2))
    model.save(tmp_path / "m.nnet")
    assert nn.load_model(tmp_path / "m.nnet").input_shape == (None, 5)


def test_a_refused_compile_leaves_the_model_as_it_was():
    model = nn.Sequential([nn.layers.Dense(3, 2)])
    model.compile(loss="mse", optimizer="sgd", metrics=["mae"])
    for bad in (dict(loss="categorical_crossentropy"), dict(loss="mse", metrics=["accuracy"])):
        with pytest.raises(ValueError):
            model.compile(optimizer="adam", **bad)
        assert isinstance(model.loss, nn.losses.MeanSquaredError) and isinstance(model.optimizer, nn.optimizers.SGD)
        assert [name for name, _ in model.metrics] == ["mae"]


def test_an_input_shape_that_fits_saves_and_loads(tmp_path):
    model = nn.Sequential([nn.layers.Dense(4, 2)], input_shape=[4])
    model.save(tmp_path / "m.nnet")
    assert nn.load_model(tmp_path / "m.nnet").input_shape == (None, 4)
    assert nn.Sequential([nn.layers.Embedding(9, 2), nn.layers.LSTM(2, 3)], input_shape=(None,)).input_shape == (
        None,
        None,
    )


@pytest.mark.parametrize(
    "make,name",
    [
        (lambda: nn.layers.Dense(2**31 - 1, 2), r"Dense: weights of shape \(2147483647, 2\)"),
        (lambda: nn.layers.Embedding(2**31 - 1, 8), r"Embedding: weights of shape \(2147483647, 8\)"),
        (lambda: nn.layers.LSTM(2**20, 2**12), r"LSTM: input_weights of shape \(1048576, 16384\)"),
    ],
)
def test_parameters_the_machine_cannot_hold_are_refused_before_allocating(monkeypatch, make, name):
    """Dense(2**31 - 1, 2) tried to allocate 32 GiB; with 4 GiB free it is refused, naming the bytes."""
    monkeypatch.setattr(nn.memory, "available", lambda: 4 * 2**30)
    tracemalloc.start()
    try:
        with pytest.raises(nn.checks.ArgumentError, match=rf"{name} .* would take [\d,]+ bytes .*4.0 GiB available"):
            make()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


@pytest.mark.parametrize("binary", [False, True])
def test_validation_split_on_sorted_labels_warns(binary):
    """The last 20% of label-sorted digits hold classes training never sees: val_accuracy would be 0."""
    X, y = nn.datasets.load_digits()
    if binary:
        y = (y >= 8).astype(float)
    order = np.argsort(y, kind="stable")
    model = nn.Sequential([nn.layers.Dense(64, 1 if binary else 10, activation="sigmoid" if binary else "softmax")])
    model.compile(loss="binary_crossentropy" if binary else "categorical_crossentropy", metrics=["accuracy"])
    with pytest.warns(UserWarning, match=r"hold classes \[(8, 9|1)\] that the training part lacks.*shuffle") as w:
        model.fit(X[order] / 16, y[order], epochs=1, validation_split=0.2, verbose=0)
    assert w[0].filename == __file__  # points at the user's call
    mixed = np.random.default_rng(0).permutation(len(X))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X[mixed] / 16, y[mixed], epochs=1, validation_split=0.2, verbose=0)


def test_labels_per_step_of_a_sequence_are_no_samples_classes():
    """A tagger's (batch, time) labels: the warning about unseen classes is about samples' classes only."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 6, 3)), rng.integers(0, 3, (40, 6))
    model = nn.Sequential([nn.layers.TimeDistributed(nn.layers.Dense(3, 3, activation="softmax"))])
    model.compile()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x, y, epochs=1, validation_split=0.25, verbose=0)


def test_data_that_does_not_fit_is_named_with_its_own_shape():
    """The check runs one sample through the layers; the message said (1, 3) of data of 200 rows."""
    model = nn.Sequential([nn.layers.Dense(4, 2, activation="softmax")])
    model.compile()
    with pytest.raises(ValueError, match=r"X of shape \(200, 3\) does not fit the model \(its first sample: layer"):
        model.fit(np.zeros((200, 3)), np.zeros(200, int), verbose=0)
    with pytest.raises(ValueError, match=r"validation X of shape \(5, 3\) does not fit the model"):
        model.fit(np.zeros((20, 4)), np.zeros(20, int), validation_data=(np.zeros((5, 3)), np.zeros(5, int)), verbose=0)


def test_fit_and_evaluate_call_a_subclass_s_own_train_step_and_test_step():
    """A subclass that trains differently overrides train_step/test_step (as Keras allows); fit and evaluate
    call them, and super() reaches the step the model would take."""
    calls = []

    class Logged(nn.Sequential):
        def train_step(self, x, y):
            calls.append("train")
            return super().train_step(x, y)

        def test_step(self, x, y):
            calls.append("test")
            return super().test_step(x, y)

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((24, 3)), rng.integers(0, 2, 24)
    model = Logged([nn.layers.Dense(3, 2, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    history = model.fit(x, y, epochs=2, batch_size=8, validation_split=0.25, verbose=0)
    assert calls.count("train") == 2 * 3 and calls.count("test") == 2  # 18 samples in 3 batches; 6 in 1
    assert np.isfinite(history.history["val_loss"]).all()
    model.evaluate(x, y, batch_size=24)
    assert calls[-1] == "test"


def test_backward_loss_answers_the_forward_pass_before_it():
    """forward, backward_loss, then forward and backward: each forward pass was answered, so no refusal."""
    rng = np.random.default_rng(0)
    model = nn.Sequential([nn.layers.Dense(3, 2, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    x, y = model.check_data(rng.standard_normal((4, 3)), rng.integers(0, 2, 4))
    out = model.forward(x, training=True)
    model.backward_loss(out, model.ops.asarray(y))
    model.apply_gradients()
    model.forward(x, training=True)
    assert model.backward(np.ones((4, 2))).shape == (4, 3)


def test_a_step_of_a_subclass_s_own_serves_fit_train_step_and_compute_gradients():
    made = []

    class Counting(nn.steps.PlainStep):
        def data_gradients(self, x, y, share=1.0):
            made.append(len(x))
            return super().data_gradients(x, y, share)

    class Model(nn.Sequential):
        def make_step(self):
            return Counting(self)

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 3)), rng.integers(0, 2, 16)
    model = Model([nn.layers.Dense(3, 2, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    xs, ys = model.check_data(x, y)
    model.train_step(xs, ys)
    model.compute_gradients(xs, ys)
    assert made == [8, 8, 16, 16]


def test_backward_loss_after_two_unanswered_training_passes_is_refused():
    rng = np.random.default_rng(0)
    model = nn.Sequential([nn.layers.Dense(3, 2, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    x, y = model.check_data(rng.standard_normal((4, 3)), rng.integers(0, 2, 4))
    out = model.forward(x[:2], training=True)
    model.forward(x[2:], training=True)
    with pytest.raises(RuntimeError, match="backward_loss after 2 training forward passes"):
        model.backward_loss(out, model.ops.asarray(y[:2]))


def test_the_model_s_step_is_made_once_and_again_when_its_layers_change():
    made = []

    class Counted(nn.Sequential):
        def make_step(self):
            made.append(len(self.layers))
            return super().make_step()

    rng = np.random.default_rng(0)
    model = Counted([nn.layers.Dense(3, 4, activation="relu"), nn.layers.Dense(4, 2, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    x, y = model.check_data(rng.standard_normal((8, 3)), rng.integers(0, 2, 8))
    model.train_step(x, y)
    model.train_step(x, y)
    assert made == [2]
    model.layers[0] = nn.layers.Dense(3, 4, activation="tanh")  # a layer put in place of another
    model.train_step(x, y)
    assert made == [2, 2]


def test_a_model_whose_layers_cannot_be_split_takes_the_plain_step():
    dense = nn.Sequential([nn.layers.Dense(3, 2)])
    conv = nn.Sequential([nn.layers.Conv2D(1, 2, 3), nn.layers.Flatten()])
    with_dropout = nn.Sequential([nn.layers.Conv2D(1, 2, 3), nn.layers.Dropout(0.5), nn.layers.Flatten()])
    assert type(nn.steps.local(dense)) is nn.steps.PlainStep  # BLAS already runs dense layers on every core
    assert type(nn.steps.local(conv)) is nn.steps.ThreadSplitStep
    assert type(nn.steps.local(with_dropout)) is nn.steps.PlainStep  # random draws in threads would differ


def test_a_deep_copy_of_a_trained_model_trains_on_its_own():
    """copy.deepcopy copies the flat buffer and the members' views apart: the copy's members are made views of
    its own buffer again, so its optimizer moves its weights, and the original's stay (the learning-rate finder
    sweeps such a copy)."""
    import copy

    X, y = nn.datasets.load_digits()
    nn.set_seed(0)
    model = nn.demos.digits_mlp()
    model.compile(optimizer="adam")
    model.fit(X / 16, y, epochs=2, verbose=0)
    before = [w.copy() for w in model.get_weights()]
    twin = copy.deepcopy(model)
    np.testing.assert_array_equal(twin.predict(X[:8] / 16), model.predict(X[:8] / 16))
    twin.train_on_batch(X[:32] / 16, y[:32])
    assert all(not np.array_equal(a, b) for a, b in zip(twin.get_weights(), before))
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))
    sweep = model.find_learning_rate(X / 16, y)
    assert 1e-4 < sweep.suggestion < 1.0  # (a copy that did not train gave a rate below the sweep's start)


def test_a_one_input_model_reads_nested_lists_of_numbers_as_one_batch():
    """``forward([[1, 2, 3, 4]])`` is a batch of one sample (it was read as a list of inputs, one of shape
    (4,), and refused with the wrong shape); a list holding an array is still the list of the inputs."""
    model = nn.Sequential([nn.layers.Dense(4, 2)])
    rows = [[1.0, 2.0, 3.0, 4.0], [0.5, 0.0, -1.0, 2.0]]
    np.testing.assert_allclose(model.forward(rows), model.forward(np.array(rows)), rtol=1e-6)
    assert model.forward([[1, 2, 3, 4]]).shape == (1, 2)
    assert model.forward([np.ones((3, 4))]).shape == (3, 2)
