"""A training batch split across threads (parallel.py) takes the same step as on one thread."""

import numpy as np
import pytest

import neuronet as nn
from neuronet import parallel

L = nn.layers


@pytest.fixture(autouse=True)
def _restore_threads():
    yield
    nn.set_threads(None)


def small_cnn(*extra):
    model = nn.Sequential(
        [
            L.Conv2D(1, 4, 3, padding="same", activation="relu", weight_regularizer_l2=0.01),
            L.MaxPool2D(2),
            *extra,
            L.Flatten(),
            L.Dense(4 * 4 * 4, 3, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    return model


def data(n):
    rng = np.random.default_rng(1)
    return rng.standard_normal((n, 8, 8, 1)), np.eye(3)[rng.integers(0, 3, n)]


def gradients(model, x, y, threads):
    nn.set_threads(threads)
    assert parallel.parts(len(x), model.layers) == min(threads, len(x) // parallel.MIN_PART)
    loss, out = model.compute_gradients(x, y)
    return loss, out.copy(), [p.grad.copy() for p in model.parameters()]


@pytest.mark.parametrize("n, threads", [(64, 2), (50, 3)])  # 50 samples in 3 parts: 16, 17, 17
def test_a_split_batch_gives_the_same_loss_outputs_and_gradients(float64, n, threads):
    model = small_cnn()
    x, y = data(n)
    loss1, out1, grads1 = gradients(model, x, y, 1)
    loss2, out2, grads2 = gradients(model, x, y, threads)
    assert loss2 == pytest.approx(loss1, rel=1e-12)
    np.testing.assert_allclose(out2, out1, rtol=1e-12)
    for a, b in zip(grads2, grads1):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_training_on_two_threads_ends_where_one_thread_does(float64):
    x, y = data(96)
    weights = []
    for threads in (1, 2):
        nn.set_seed(3)
        nn.set_threads(threads)
        model = small_cnn()
        model.fit(x, y, epochs=3, batch_size=48, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_the_thread_copies_follow_replaced_weights(float64):
    model = small_cnn()
    x, y = data(64)
    gradients(model, x, y, 2)  # builds the copies
    model.layers[0].weights = nn.Parameter(model.layers[0].weights.data * 2.0)
    _, out1, grads1 = gradients(model, x, y, 1)
    _, out2, grads2 = gradients(model, x, y, 2)
    np.testing.assert_allclose(out2, out1, rtol=1e-12)
    np.testing.assert_allclose(grads2[0], grads1[0], rtol=1e-10, atol=1e-14)


def test_only_exact_and_worthwhile_models_are_split():
    nn.set_threads(2)
    assert parallel.parts(64, small_cnn().layers) == 2
    assert parallel.parts(20, small_cnn().layers) == 1  # parts under MIN_PART samples do not pay
    assert parallel.parts(64, small_cnn(L.Dropout(0.5)).layers) == 1  # random draws in threads
    assert parallel.parts(64, small_cnn(L.BatchNormalization(4)).layers) == 1  # statistics over the whole batch
    dense = nn.Sequential([L.Dense(4, 8, activation="relu"), L.Dense(8, 2)])
    assert parallel.parts(256, dense.layers) == 1  # BLAS already keeps every core busy
    nn.set_threads(1)
    assert parallel.parts(64, small_cnn().layers) == 1


@pytest.mark.parametrize("bad", [0, -2, 1.5, "4"])
def test_set_threads_rejects_what_is_not_a_positive_int(bad):
    with pytest.raises(ValueError, match="threads"):
        nn.set_threads(bad)


def test_an_error_in_one_part_is_the_error_raised(float64):
    """The part that fails stops the others; the caller sees its error, not theirs."""
    model = nn.Sequential(
        [L.Embedding(10, 4), L.Conv1D(4, 3, 2, activation="relu"), L.GlobalMaxPool1D(), L.Dense(3, 2)]
    )
    model.compile(loss="mse", optimizer="sgd")
    ids, y = np.random.default_rng(2).integers(0, 10, (32, 6)), np.zeros((32, 2))
    ids[-1, 0] = 10  # only in the second part
    nn.set_threads(2)
    with pytest.raises(ValueError, match="token ids must be in 0..9"):
        model.compute_gradients(ids, y)
    ids[-1, 0] = 9
    loss, _ = model.compute_gradients(ids, y)  # and the next step runs
    assert np.isfinite(loss)


def test_a_split_text_model_gives_the_same_gradients(float64):
    """Embedding and a convolution fused with its global max pool (fusion.py), split in two parts."""
    model = nn.Sequential(
        [L.Embedding(20, 4), L.Conv1D(4, 3, 2, activation="relu"), L.GlobalMaxPool1D(), L.Dense(3, 2)]
    )
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    rng = np.random.default_rng(4)
    ids, y = rng.integers(0, 20, (40, 7)), np.eye(2)[rng.integers(0, 2, 40)]
    loss1, out1, grads1 = gradients(model, ids, y, 1)
    loss2, out2, grads2 = gradients(model, ids, y, 2)
    assert loss2 == pytest.approx(loss1, rel=1e-12)
    np.testing.assert_allclose(out2, out1, rtol=1e-12)
    for a, b in zip(grads2, grads1):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_split_float32_training_stays_in_float32(monkeypatch):
    """A part's share of the batch scales its gradient without promoting it (a NumPy float64 share would)."""
    seen = []
    backward_linear = L.Dense.backward_linear

    def spy(self, dz, input_grad=True):
        seen.append(dz.dtype)
        return backward_linear(self, dz, input_grad)

    monkeypatch.setattr(L.Dense, "backward_linear", spy)
    model = small_cnn()
    x, y = data(64)
    nn.set_threads(2)
    model.compute_gradients(x.astype(np.float32), y)
    assert seen == [np.float32, np.float32]


def test_two_models_training_at_once_from_two_threads_both_finish():
    """Split steps from two user threads share the pool; their parts' barriers must not wait on each other."""
    import threading

    nn.set_threads(2)
    models = [small_cnn(), small_cnn()]
    x, y = data(256)
    losses = []

    def train(model):  # 24 split steps each, so that their parts interleave
        losses.append(model.fit(x, y, epochs=3, batch_size=32, verbose=0).history["loss"][-1])

    threads = [threading.Thread(target=train, args=(m,)) for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads) and len(losses) == 2 and all(np.isfinite(losses))
