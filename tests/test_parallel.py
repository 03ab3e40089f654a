"""A training batch split across threads (steps/threads.py) or worker processes (steps/processes.py) takes the
same step as the whole batch, and the same step bit for bit whatever the number of threads or processes.
Every test runs both ways: with processes where this machine may fork (Linux), and with threads alone."""

import numpy as np
import pytest

import neuronet as nn
from neuronet.steps import PlainStep, parts, processes

L = nn.layers


@pytest.fixture(autouse=True, params=["processes", "threads"])
def split(request, monkeypatch):
    """How the parts run: in worker processes where this machine may fork, or in threads (forking refused)."""
    if request.param == "processes" and not processes.available():
        pytest.skip("this process may not fork workers (not Linux, or MPI started here)")
    if request.param == "threads":
        monkeypatch.setattr(processes, "available", lambda: False)
    yield request.param
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


def gradients(model, x, y, threads=None):
    """The split step's loss, outputs and gradients on ``threads`` threads; the whole batch's with None."""
    if threads is None:
        loss, out = PlainStep(model).gradients(x, y)
    else:
        nn.set_threads(threads)
        assert parts(len(x), model.layers) > 1
        loss, out = model.compute_gradients(x, y)
    return loss, out.copy(), [p.grad.copy() for p in model.parameters()]


@pytest.mark.parametrize("n, threads", [(128, 2), (160, 3), (160, 2)])  # 160 samples in 3 parts: 53, 53, 54
def test_a_split_batch_gives_the_same_loss_outputs_and_gradients(float64, n, threads):
    model = small_cnn()
    x, y = data(n)
    loss1, out1, grads1 = gradients(model, x, y)
    loss2, out2, grads2 = gradients(model, x, y, threads)
    assert loss2 == pytest.approx(loss1, rel=1e-12)
    np.testing.assert_allclose(out2, out1, rtol=1e-12)
    for a, b in zip(grads2, grads1):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def text_data(n):
    rng = np.random.default_rng(5)
    return rng.integers(0, 20, (n, 7)), np.eye(2)[rng.integers(0, 2, n)]


@pytest.mark.parametrize(
    "make, data_of", [(small_cnn, data), (lambda: text_model(nn.losses.CategoricalCrossentropy(True)), text_data)]
)
def test_seeded_training_is_the_same_bit_for_bit_on_one_and_two_threads(make, data_of):
    """The cut of a batch and the order of the sum depend on the batch alone, not on the cores."""
    x, y = data_of(384)
    weights = []
    for threads in (1, 2):
        nn.set_seed(3)
        nn.set_threads(threads)
        model = make()
        model.fit(x, y, epochs=2, batch_size=128, verbose=0)
        weights.append(model.get_weights())
    assert parts(128, model.layers) == 2
    assert all(np.isfinite(w).all() for w in weights[0])
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_the_thread_copies_follow_replaced_weights(float64):
    model = small_cnn()
    x, y = data(128)
    gradients(model, x, y, 2)  # builds the copies
    model.layers[0].weights = nn.Parameter(model.layers[0].weights.data * 2.0)
    _, out1, grads1 = gradients(model, x, y)
    _, out2, grads2 = gradients(model, x, y, 2)
    np.testing.assert_allclose(out2, out1, rtol=1e-12)
    np.testing.assert_allclose(grads2[0], grads1[0], rtol=1e-10, atol=1e-14)


def test_only_exact_and_worthwhile_models_are_split():
    nn.set_threads(2)
    assert parts(128, small_cnn().layers) == 2
    assert parts(1024, small_cnn().layers) == 16  # about steps.threads.PART samples a part
    assert parts(20, small_cnn().layers) == 1  # small parts do not pay
    assert parts(128, small_cnn(L.Dropout(0.5)).layers) == 1  # random draws in threads
    assert parts(128, small_cnn(L.BatchNormalization(4)).layers) == 1  # statistics over the whole batch
    dense = nn.Sequential([L.Dense(4, 8, activation="relu"), L.Dense(8, 2)])
    assert parts(256, dense.layers) == 1  # BLAS already keeps every core busy
    nn.set_threads(1)
    assert parts(128, small_cnn().layers) == 2  # the same cut on one thread: the same numbers


@pytest.mark.parametrize("bad", [0, -2, 1.5, "4"])
def test_set_threads_rejects_what_is_not_a_positive_int(bad):
    with pytest.raises(ValueError, match="threads"):
        nn.set_threads(bad)


def text_model(loss="mse", vocab=20, activation=None):
    """Embedding and a convolution fused with its global max pool (fusion.py)."""
    model = nn.Sequential(
        [
            L.Embedding(vocab, 4),
            L.Conv1D(4, 3, 2, activation="relu"),
            L.GlobalMaxPool1D(),
            L.Dense(3, 2, activation=activation),
        ]
    )
    model.compile(loss=loss, optimizer="sgd")
    return model


@pytest.mark.parametrize("threads", [1, 2])
def test_an_error_in_one_part_is_the_error_raised(float64, threads):
    """The part that fails stops the others; the caller sees its error, not theirs."""
    model = text_model(vocab=10)
    ids, y = np.random.default_rng(2).integers(0, 10, (128, 6)), np.zeros((128, 2))
    ids[-1, 0] = 10  # only in the second part
    nn.set_threads(threads)
    with pytest.raises(ValueError, match="token ids must be in 0..9"):
        model.compute_gradients(ids, y)
    ids[-1, 0] = 9
    loss, _ = model.compute_gradients(ids, y)  # and the next step runs
    assert np.isfinite(loss)


def test_a_model_compiled_again_splits_with_its_new_loss(float64):
    """The copies of the layers (and a worker process's) take the loss they are made with: compile makes them
    again, or a split step would go on with the old loss."""
    model = small_cnn()
    model.compile(loss="mse", optimizer="sgd")
    x, y = data(128)
    gradients(model, x, y, 2)
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    loss1, _, grads1 = gradients(model, x, y)
    loss2, _, grads2 = gradients(model, x, y, 2)
    assert loss2 == pytest.approx(loss1, rel=1e-12)
    for a, b in zip(grads2, grads1):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_a_split_text_model_gives_the_same_gradients(float64):
    model = text_model("categorical_crossentropy", activation="softmax")
    rng = np.random.default_rng(4)
    ids, y = rng.integers(0, 20, (128, 7)), np.eye(2)[rng.integers(0, 2, 128)]
    loss1, out1, grads1 = gradients(model, ids, y)
    loss2, out2, grads2 = gradients(model, ids, y, 2)
    assert loss2 == pytest.approx(loss1, rel=1e-12)
    np.testing.assert_allclose(out2, out1, rtol=1e-12)
    for a, b in zip(grads2, grads1):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_split_float32_training_stays_in_float32(monkeypatch, split):
    """A part's share of the batch scales its gradient without promoting it (a NumPy float64 share would)."""
    if split == "processes":
        pytest.skip("a spy in this process sees only this process's parts: the threads' run shows every part's")
    seen = []
    backward_linear = L.Dense.backward_linear

    def spy(self, dz, input_grad=True):
        seen.append(dz.dtype)
        return backward_linear(self, dz, input_grad)

    monkeypatch.setattr(L.Dense, "backward_linear", spy)
    model = small_cnn()
    x, y = data(128)
    nn.set_threads(2)
    model.compute_gradients(x.astype(np.float32), y)
    assert seen == [np.float32, np.float32]


def test_two_models_training_at_once_from_two_threads_both_finish():
    """Split steps from two user threads share the pool; their parts' barriers must not wait on each other."""
    import threading

    nn.set_threads(2)
    models = [small_cnn(), small_cnn()]
    x, y = data(1024)
    losses = []

    def train(model):  # 24 split steps each, so that their parts interleave
        losses.append(model.fit(x, y, epochs=3, batch_size=128, verbose=0).history["loss"][-1])

    threads = [threading.Thread(target=train, args=(m,)) for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads) and len(losses) == 2 and all(np.isfinite(losses))


# -- graph models --------------------------------------------------------------------------------------
def residual_cnn(inputs=1, outputs=1, model_class=nn.Model):
    """A residual block around a convolution called twice (a shared layer), pooled; with ``inputs=2`` a table
    beside the image, with ``outputs=2`` a regression head beside the classes."""
    image, table = nn.Input(shape=(8, 8, 1)), nn.Input(shape=(3,))
    c = L.Conv2D(4, 3, padding="same", activation="relu")(image)
    shared = L.Conv2D(4, 3, padding="same", activation="relu")
    h = L.Flatten()(L.MaxPool2D(2)(L.Add()([c, shared(shared(c))])))
    if inputs == 2:
        h = L.Concatenate()([h, table])
    heads = [L.Dense(3, activation="softmax")(h), L.Dense(1)(h)][:outputs]
    model = model_class([image, table][:inputs] if inputs == 2 else image, heads if outputs == 2 else heads[0])
    model.compile(loss=["categorical_crossentropy", "mse"][:outputs], optimizer="adam")
    return model


class PlainModel(nn.Model):
    """A graph model that never splits its batches."""

    def make_step(self):
        return PlainStep(self)


def test_a_split_graph_model_gives_the_same_loss_outputs_and_gradients(float64):
    """Each thread runs the graph on its own copy of the layers (the shared convolution's two calls kept apart
    in the copy too)."""
    model = residual_cnn()
    x, y = data(160)
    assert parts(160, model.layers) == 3  # 53, 53, 54
    loss1, out1, grads1 = gradients(model, x, y)
    loss2, out2, grads2 = gradients(model, x, y, 2)
    assert loss2 == pytest.approx(loss1, rel=1e-12)
    np.testing.assert_allclose(out2, out1, rtol=1e-12)
    for a, b in zip(grads2, grads1):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_a_graph_model_of_two_inputs_and_two_outputs_trains_split_as_it_trains_whole(float64):
    rng = np.random.default_rng(2)
    image, y = data(256)
    x, targets = [image, rng.standard_normal((256, 3))], [y, rng.standard_normal((256, 1))]
    found = []
    for model_class in (nn.Model, PlainModel):
        nn.set_seed(3)
        nn.set_threads(2)
        model = residual_cnn(inputs=2, outputs=2, model_class=model_class)
        history = model.fit(x, targets, epochs=2, batch_size=128, verbose=0).history
        found.append((history, model.get_weights(), type(model.local_step()).__name__))
    (split, split_weights, split_step), (whole, whole_weights, whole_step) = found
    assert (split_step, whole_step) == ("ThreadSplitStep", "PlainStep") and parts(128, model.layers) == 2
    for key in ("loss", "dense_loss", "dense_1_loss"):
        np.testing.assert_allclose(split[key], whole[key], rtol=1e-10)
    for a, b in zip(split_weights, whole_weights):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_loss_weights_changed_in_place_reach_the_split_step(float64):
    """The copies (a worker's too) are made again when the loss weights change, in place or not."""
    rng = np.random.default_rng(5)
    image, y = data(128)
    x, targets = [image, rng.standard_normal((128, 3))], [y, rng.standard_normal((128, 1))]
    model = residual_cnn(inputs=2, outputs=2)
    x, targets = model.check_data(x, targets)  # (as fit gives them to a step: rows of both inputs, both targets)
    nn.set_threads(2)
    model.compute_gradients(x, targets)
    assert model.local_step().copies is not None  # split
    model.loss_weights[1] = 5.0
    found = []
    for step in (PlainStep(model), model.local_step()):
        loss, _ = step.gradients(x, targets)
        found.append((loss, [p.grad.copy() for p in model.parameters()]))
    (loss1, grads1), (loss2, grads2) = found
    assert loss2 == pytest.approx(loss1, rel=1e-12)
    for a, b in zip(grads2, grads1):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
