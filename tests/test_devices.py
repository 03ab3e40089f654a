"""Devices without a GPU: every layer, loss and optimizer computes the same through strict arrays (which
refuse what CuPy's refuse), models move between devices mid-training, and a missing GPU is a clear error."""

import numpy as np
import pytest
from strict import StrictArray, StrictOps

import neuronet as nn
from neuronet import gpu

L = nn.layers

IMAGE, SEQUENCE = (2, 5, 6, 3), (2, 7, 4)
# every layer type, with an input of its kind (ids for Embedding)
LAYERS = [
    (lambda: L.Dense(4, 3, activation="relu"), (2, 4)),
    (lambda: L.SparseDense(4, 3, density=0.5), (2, 4)),
    (L.ReLU, (2, 4)), (lambda: L.LeakyReLU(0.2), (2, 4)), (lambda: L.LeakyReLU(-0.5), (2, 4)),
    (L.Sigmoid, (2, 4)), (L.Tanh, (2, 4)), (L.Softmax, (2, 4)),
    (L.GELU, (2, 4)), (L.SiLU, (2, 4)), (lambda: L.ELU(0.5), (2, 4)), (L.SELU, (2, 4)), (L.Softplus, (2, 4)),
    (lambda: L.LayerNormalization(3), (4, 3)), (lambda: L.LayerNormalization(4), SEQUENCE),
    (lambda: L.Dropout(0.3), (2, 4)), (lambda: L.GaussianNoise(0.1), (2, 4)),
    (lambda: L.BatchNormalization(3), (4, 3)), (lambda: L.BatchNormalization(3), IMAGE),
    (lambda: L.Conv1D(4, 2, 3, padding="same", activation="tanh"), SEQUENCE),
    (lambda: L.Conv2D(3, 2, 3, stride=2, padding=1, activation="relu"), IMAGE),
    (lambda: L.Conv2DTranspose(3, 2, 3, stride=2, padding=1, output_padding=1), IMAGE),
    (lambda: L.MaxPool1D(2), SEQUENCE), (lambda: L.AvgPool1D(2), SEQUENCE),
    (lambda: L.MaxPool2D(2), IMAGE), (lambda: L.AvgPool2D(2), IMAGE),
    (L.GlobalMaxPool1D, SEQUENCE), (L.GlobalAvgPool1D, SEQUENCE),
    (L.GlobalMaxPool2D, IMAGE), (L.GlobalAvgPool2D, IMAGE),
    (lambda: L.UpSampling2D(2), IMAGE), (lambda: L.UpSampling2D(2, interpolation="bilinear"), IMAGE),
    (L.Flatten, IMAGE), (lambda: L.Reshape((30, 3)), IMAGE),
    (lambda: L.RandomFlip("horizontal_and_vertical"), IMAGE), (lambda: L.RandomTranslation(0.2), IMAGE),
    (lambda: L.RandomRotation(0.1), IMAGE), (lambda: L.RandomZoom(0.2), IMAGE),
    (lambda: L.Embedding(9, 3, padding_id=0), "ids"),
    (lambda: L.SimpleRNN(4, 3, return_sequences=True), SEQUENCE), (lambda: L.LSTM(4, 3), SEQUENCE),
    (lambda: L.GRU(4, 3, return_sequences=True), SEQUENCE),
    (lambda: L.Bidirectional(L.LSTM(4, 3, return_sequences=True)), SEQUENCE),
    (lambda: L.TimeDistributed(L.Dense(4, 2)), SEQUENCE),
    (lambda: L.MultiHeadAttention(4, 2), SEQUENCE),
    (lambda: L.MultiHeadAttention(4, 2, dropout=0.3, causal=True), SEQUENCE),
    (lambda: L.TransformerEncoder(4, 2, 6, dropout=0.3), SEQUENCE),
    (lambda: L.TransformerEncoder(4, 2, 6, activation="gelu", norm_first=True, causal=True), SEQUENCE),
    (lambda: L.PositionalEmbedding(7, 4), SEQUENCE), (lambda: L.PositionalEmbedding(9, 4, sinusoidal=True), SEQUENCE),
]  # fmt: skip


def randomised(model):
    """Random, nonzero parameters (biases included) and states, so that nothing compares zeros."""
    rng = np.random.default_rng(3)
    for p in model.parameters():
        p.data[...] = rng.uniform(-0.8, 0.8, p.shape)
    return model


def passes(model, x, dy):
    """A training forward pass, the backward pass from ``dy``: outputs, input gradient, parameter gradients,
    all as NumPy arrays."""
    state = model.ops.rng.bit_generator.state
    out = model.forward(x, training=True)
    model.zero_grad()
    dx = model.backward(model.ops.asarray(dy), input_grad=not model.takes_ids)
    model.ops.rng.bit_generator.state = state  # the next run draws the same dropout masks and shifts
    to_numpy = model.ops.to_numpy
    return [to_numpy(out), None if dx is None else to_numpy(dx), *(to_numpy(p.grad) for p in model.parameters())]


def one_layer_case(make, shape):
    """A model of the one layer ``make`` builds, random parameters, an input of ``shape`` and an output
    gradient."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 9, (2, 7)) if shape == "ids" else rng.standard_normal(shape)
    model = randomised(nn.Sequential([make()]))
    return model, x, rng.standard_normal(model.forward(x).shape)


@pytest.mark.parametrize("make, shape", LAYERS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_every_layer_computes_the_same_through_strict_arrays(float64, make, shape):
    model, x, dy = one_layer_case(make, shape)
    on_cpu = passes(model, x, dy)
    model.to(StrictOps(model.ops.rng))  # (the same random stream, for the same dropout masks)
    assert all(isinstance(p.data, StrictArray) for p in model.parameters())
    on_strict = passes(model, x, dy)
    model.to("cpu")
    assert all(isinstance(p.data, np.ndarray) for p in model.parameters())
    for a, b in zip(on_cpu + passes(model, x, dy), on_strict + on_cpu):
        if a is None:
            assert b is None
        else:
            np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


# -- graph models -------------------------------------------------------------------------------------
def merge_model(merge, n=2):
    """``merge`` joining ``n`` inputs of shape (3, 4), each through a Dense first (so that every input's
    gradient passes a layer), then a Dense."""
    inputs = [nn.Input(shape=(3, 4)) for _ in range(n)]
    joined = merge([L.Dense(4, activation="tanh")(x) for x in inputs])
    return nn.Model(inputs, L.Dense(2)(joined))


def residual():
    x = nn.Input(shape=(5,))
    return nn.Model(x, L.Dense(3, activation="softmax")(L.Add()([x, L.Dense(5)(L.Dense(6, activation="relu")(x))])))


def two_inputs():
    a, b = nn.Input(shape=(4,)), nn.Input(shape=(3,))
    return nn.Model([a, b], L.Dense(2)(L.Concatenate()([L.Dense(6, activation="relu")(a), b])))


def shared_layer():
    """One Dense called on two inputs and on its own output, and two outputs."""
    a, b = nn.Input(shape=(4,)), nn.Input(shape=(4,))
    encoder = L.Dense(4, activation="tanh")
    both = L.Multiply()([encoder(a), encoder(encoder(b))])
    return nn.Model([a, b], [L.Dense(2)(both), L.Dense(1, activation="sigmoid")(encoder(both))])


def conv_pool_inside():
    """A convolution, its activation and its pooling (one fused stage on a CPU) beside a skip connection."""
    x = nn.Input(shape=(6, 6, 2))
    pooled = L.MaxPool2D(2)(L.Conv2D(3, 3, padding="same", activation="relu")(x))
    return nn.Model(x, L.Dense(2)(L.Flatten()(L.Concatenate()([pooled, L.AvgPool2D(2)(x)]))))


def masked_sequences():
    """Two padded token sequences joined on the time axis (their masks one after the other) and added to
    themselves (masks merged), into an LSTM that skips the padding."""
    a, b = nn.Input(shape=(4,), dtype="int64"), nn.Input(shape=(3,), dtype="int64")
    embed = L.Embedding(9, 3, padding_id=0)
    seq = L.Concatenate(axis=1)([embed(a), embed(b)])
    return nn.Model([a, b], L.LSTM(2)(L.Add()([seq, L.Dense(3)(seq)])))


def attention_over_padding():
    """A query sequence attending over padded tokens with positions ([query, value]), then over itself, causal."""
    q, ids = nn.Input(shape=(3, 4)), nn.Input(shape=(5,), dtype="int64")
    v = L.PositionalEmbedding(5, 4)(L.Embedding(9, 4, padding_id=0)(ids))
    h = L.MultiHeadAttention(4, 2)([L.Dense(4)(q), v])
    return nn.Model([q, ids], L.MultiHeadAttention(4, 2, causal=True)(L.Add()([h, q])))


GRAPHS = {
    "residual": residual,
    "two inputs": two_inputs,
    "shared layer": shared_layer,
    "conv and pool inside": conv_pool_inside,
    "masked sequences": masked_sequences,
    "attention over padding": attention_over_padding,
    "Add": lambda: merge_model(L.Add(), 3),
    "Subtract": lambda: merge_model(L.Subtract()),
    "Multiply": lambda: merge_model(L.Multiply(), 3),
    "Average": lambda: merge_model(L.Average(), 3),
    "Concatenate": lambda: merge_model(L.Concatenate()),
    "Concatenate on time": lambda: merge_model(L.Concatenate(axis=1), 3),
}


def graph_passes(model, xs, dys):
    """``passes`` for a graph model: a training forward pass, the backward pass from ``dys`` (one per output);
    the outputs, the input gradients (Nones for token ids) and the parameter gradients, as NumPy arrays."""
    to_numpy, asarray = model.ops.to_numpy, model.ops.asarray
    outs = model.forward(xs if model.several_inputs else xs[0], training=True)
    model.zero_grad()
    ids = any(model.input_takes_ids(k) for k in range(len(xs)))
    dy = [asarray(d) for d in dys] if model.several_outputs else asarray(dys[0])
    dxs = model.backward(dy, input_grad=not ids)
    outs, dxs = (v if isinstance(v, list) else [v] for v in (outs, dxs))
    found = [to_numpy(o) for o in outs] + [None if d is None else to_numpy(d) for d in dxs]
    return found + [to_numpy(p.grad) for p in model.parameters()]


@pytest.mark.parametrize("name", list(GRAPHS))
def test_every_graph_model_computes_the_same_through_strict_arrays(float64, name):
    """Residual, several inputs and outputs, a shared layer, a fused stage (on the CPU; plain on the strict
    device), masks, each merge layer: what the graph's passes and the merge layers do goes through the ops."""
    rng = np.random.default_rng(0)
    model = randomised(GRAPHS[name]())
    xs = [
        rng.integers(0, 9, (2, *node.shape[1:]))
        if model.input_takes_ids(k)
        else rng.standard_normal((2, *node.shape[1:]))
        for k, node in enumerate(model.graph.inputs)
    ]
    if name == "masked sequences":
        xs[0][0, 2:] = xs[1][1, 1:] = 0  # padding
    if name == "attention over padding":
        xs[1][0, 3:] = 0
    dys = [rng.standard_normal((2, *node.shape[1:])) for node in model.graph.outputs]
    on_cpu = graph_passes(model, xs, dys)
    model.to(StrictOps(model.ops.rng))
    moved = model.parameters()
    assert moved and all(isinstance(p.data, StrictArray) and isinstance(p.grad, StrictArray) for p in moved)
    assert len({id(p) for p in moved}) == len(moved)  # a shared layer's parameters once
    on_strict = graph_passes(model, xs, dys)
    model.to("cpu")
    assert all(isinstance(p.data, np.ndarray) for p in model.parameters())
    for a, b in zip(on_cpu + graph_passes(model, xs, dys), on_strict + on_cpu, strict=True):
        if a is None:
            assert b is None
        else:
            np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("held", [True, False], ids=["data-on-the-device", "batches-from-the-host"])
def test_a_graph_model_of_two_inputs_and_two_outputs_trains_on_a_device_as_on_the_cpu(float64, held):
    """fit, evaluate and predict with lists (several targets, a loss and metrics per output) on strict arrays,
    fit's arrays moved to the device first or each batch copied there."""
    rng = np.random.default_rng(0)
    x = [rng.standard_normal((32, 4)), rng.standard_normal((32, 4))]
    y = [rng.standard_normal((32, 2)), rng.integers(0, 2, (32, 1)).astype(float)]
    found = []
    for device in ("cpu", "strict"):
        nn.set_seed(0)
        model = shared_layer()
        model.compile(["mse", "binary_crossentropy"], nn.optimizers.Adam(0.01), [[], ["accuracy"]], [1.0, 0.5])
        if device == "strict":
            model.to(StrictOps(model.ops.rng)).ops.holds = held
        history = model.fit(x, y, epochs=2, batch_size=8, validation_split=0.25, verbose=0).history
        found.append((history, model.evaluate(x, y), model.predict(x), model.get_weights()))
    (history, scores, outs, weights), (history2, scores2, outs2, weights2) = found
    assert set(history) >= {"loss", "dense_1_loss", "dense_2_accuracy", "val_dense_2_loss"}
    for key in history:
        np.testing.assert_allclose(history2[key], history[key], rtol=1e-9, err_msg=key)
    assert scores2 == pytest.approx(scores, rel=1e-9)
    for a, b in zip(outs2 + weights2, outs + weights, strict=True):
        assert isinstance(a, np.ndarray)
        np.testing.assert_allclose(a, b, rtol=1e-9)


@pytest.mark.parametrize("loss", [
    nn.losses.MeanSquaredError(), nn.losses.MeanAbsoluteError(),
    nn.losses.BinaryCrossentropy(label_smoothing=0.1), nn.losses.BinaryCrossentropy(from_logits=True),
    nn.losses.CategoricalCrossentropy(), nn.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2),
], ids=lambda loss: type(loss).__name__)  # fmt: skip
def test_every_loss_computes_the_same_through_strict_arrays(float64, loss):
    rng = np.random.default_rng(0)
    out = rng.uniform(0.05, 0.95, (5, 3))
    y = rng.integers(0, 2, (5, 3)).astype(float) if isinstance(loss, nn.losses.BinaryCrossentropy) else out[::-1]
    if isinstance(loss, nn.losses.CategoricalCrossentropy):
        out, y = out / out.sum(axis=1, keepdims=True), rng.integers(0, 3, 5)
    y = loss.prepare_targets(y, out)
    strict = StrictOps()
    assert loss.forward(strict.asarray(out), strict.asarray(y)) == pytest.approx(loss.forward(out, y), rel=1e-12)
    grad = loss.backward(strict.asarray(out), strict.asarray(y))
    assert isinstance(grad, StrictArray)
    np.testing.assert_allclose(strict.to_numpy(grad), loss.backward(out, y), rtol=1e-12)


@pytest.mark.parametrize("name", sorted(nn.optimizers.OPTIMIZERS))
def test_every_optimizer_steps_the_same_through_strict_arrays(float64, name):
    options = {"SGD": {"momentum": 0.9, "nesterov": True}, "AdamW": {"weight_decay": 0.1}}.get(name, {})
    rng = np.random.default_rng(0)
    w, grads = rng.standard_normal(6), rng.standard_normal((3, 6))
    results = []
    for ops in (nn.ops.NumpyOps(), StrictOps()):
        optimizer = nn.optimizers.OPTIMIZERS[name](0.1, clipnorm=1.0, **options)
        p = nn.Parameter(w.copy(), ops=ops)
        for g in grads:
            p.grad = ops.asarray(g.copy())  # (clipping scales it in place)
            optimizer.step([p], ops)
        results.append(ops.to_numpy(p.data))
    np.testing.assert_allclose(results[1], results[0], rtol=1e-12)
    assert not np.allclose(results[0], w)


def test_a_model_moved_between_devices_mid_training_trains_on_as_if_it_had_not(float64, tmp_path):
    """The flat parameter buffer, Adam's moments and BatchNormalization's statistics move with the model."""
    x, y = np.random.default_rng(0).standard_normal((64, 5)), np.random.default_rng(1).integers(0, 3, 64)

    def build():
        nn.set_seed(0)
        layers = [L.Dense(5, 8, activation="relu"), L.BatchNormalization(8), L.Dense(8, 3, activation="softmax")]
        model = nn.Sequential(layers)
        model.compile(optimizer=nn.optimizers.Adam(0.01), metrics=["accuracy"])
        return model

    stay = build()
    expected = [stay.fit(x, y, epochs=2, batch_size=16, verbose=0).history for _ in range(3)]
    moving = build()
    history = [moving.fit(x, y, epochs=2, batch_size=16, verbose=0).history]
    # strict arrays stand in for a device's (their ops says "cpu")
    assert moving.to(StrictOps(moving.ops.rng)) is moving and moving.device == "cpu"
    history.append(moving.fit(x, y, epochs=2, batch_size=16, verbose=0).history)
    moving.save(tmp_path / "strict.nnet")
    history.append(moving.to("cpu").fit(x, y, epochs=2, batch_size=16, verbose=0).history)
    for got, want in zip(history, expected):
        np.testing.assert_allclose(got["loss"], want["loss"], rtol=1e-9)
    for a, b in zip(moving.get_weights(), stay.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-9)
    assert isinstance(nn.load_model(tmp_path / "strict.nnet").layers[0].weights.data, np.ndarray)


def residual_generator():
    z = nn.Input(shape=(2,))
    h = L.Dense(3)(z)
    return nn.Model(z, L.Add()([h, L.Dense(3)(h)]))


@pytest.mark.parametrize("generator", [lambda: nn.Sequential([L.Dense(2, 3)]), residual_generator])
def test_a_gan_moves_with_both_networks(generator):
    gan = nn.GAN(generator(), nn.Sequential([L.Dense(3, 1, activation="sigmoid")]), 2)
    gan.compile()
    assert gan.to(StrictOps()) is gan
    gan.fit(np.random.default_rng(0).standard_normal((16, 3)), epochs=1, batch_size=8, verbose=0)
    assert all(isinstance(p.data, StrictArray) for p in gan.generator.parameters() + gan.discriminator.parameters())
    assert isinstance(gan.sample(4), np.ndarray)


def test_without_cupy_the_gpu_is_one_clear_error(no_cupy):
    assert nn.gpu_available() is False
    expected = r'model.to\("gpu"\): training on a GPU needs CuPy: pip install "neuronet\[gpu\]"'
    with pytest.raises(RuntimeError, match=expected):
        nn.Sequential([L.Dense(2, 2)]).to("gpu")
    with pytest.raises(ValueError, match="device must be one of"):
        nn.Sequential([L.Dense(2, 2)]).to("tpu")


@pytest.mark.skipif(gpu.gpu_available(), reason="this machine has a GPU")
def test_without_a_gpu_gpu_available_says_why():
    assert not nn.gpu_available() and gpu.why_no_gpu()
