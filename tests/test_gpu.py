"""On a real GPU (skipped without one): every layer's passes (with the CPU's random draws) and 20 Adam steps
of four models equal the CPU's in float64 to 1e-10. ``bench/gpu.py`` runs this file first on the GPU machine."""

import numpy as np
import pytest
from test_devices import LAYERS, one_layer_case, passes

import neuronet as nn
from neuronet.ops import Ops

pytestmark = pytest.mark.skipif(not nn.gpu_available(), reason=f"no GPU here: {nn.gpu.why_no_gpu()}")
L = nn.layers


class HostDrawingCupyOps(nn.gpu.CupyOps):
    """CupyOps that draws its dropout masks and noise as the CPU does, from the host generator, and copies
    them over: the GPU then computes with the CPU's numbers, so that every layer's passes compare exactly."""

    random = Ops.random
    normal = Ops.normal


@pytest.mark.parametrize("make, shape", LAYERS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_every_layer_computes_the_same_on_the_gpu(float64, make, shape):
    model, x, dy = one_layer_case(make, shape)
    on_cpu = passes(model, x, dy)
    on_gpu = passes(model.to(model.ops.same_stream(HostDrawingCupyOps)), x, dy)
    assert model.device == "gpu"
    for a, b in zip(on_cpu, on_gpu):
        if a is None:
            assert b is None
        else:
            np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


def test_dropout_draws_on_the_device_and_the_seed_repeats_it():
    x = np.ones((64, 100))
    outs = []
    for _ in range(2):
        nn.set_seed(5)
        model = nn.Sequential([L.Dropout(0.5)]).to("gpu")
        outs.append(model.ops.to_numpy(model.forward(x, training=True)))
    np.testing.assert_array_equal(outs[0], outs[1])
    kept = outs[0] != 0
    assert 0.45 < kept.mean() < 0.55 and np.all(outs[0][kept] == 2.0)


def models():
    return {
        "dense": ([L.Dense(6, 16, activation="relu"), L.BatchNormalization(16), L.Dense(16, 3, activation="softmax")],
                  np.random.default_rng(0).standard_normal((64, 6))),
        "conv": ([L.Conv2D(1, 4, 3, padding="same", activation="relu"), L.MaxPool2D(2), L.Flatten(),
                  L.Dense(16, 3, activation="softmax")], np.random.default_rng(0).standard_normal((64, 4, 4, 1))),
        "text": ([L.Embedding(20, 5, padding_id=0), L.Conv1D(5, 6, 3), L.GlobalMaxPool1D(),
                  L.Dense(6, 3, activation="softmax")], np.random.default_rng(0).integers(0, 20, (64, 7))),
        "lstm": ([L.Embedding(20, 5, padding_id=0), L.LSTM(5, 8), L.Dense(8, 3, activation="softmax")],
                 np.random.default_rng(0).integers(0, 20, (64, 7))),
    }  # fmt: skip


@pytest.mark.parametrize("name", ["dense", "conv", "text", "lstm"])
@pytest.mark.parametrize("optimizer", ["Adam", "AdamW", "RMSprop", "SGD", "Adagrad"])
def test_twenty_optimizer_steps_equal_the_cpus(float64, name, optimizer):
    """20 steps (batches of 16, no shuffling), through each update kernel (fused for Adam, AdamW, RMSprop)."""
    _, x = models()[name]
    y = np.random.default_rng(1).integers(0, 3, len(x))
    weights = []
    for device in ("cpu", "gpu"):
        nn.set_seed(0)
        model = nn.Sequential(models()[name][0]).to(device)
        model.compile(optimizer=nn.optimizers.OPTIMIZERS[optimizer](0.01))
        model.fit(x, y, epochs=5, batch_size=16, shuffle=False, verbose=0)
        assert model.optimizer.iterations == 20
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


def test_a_gpu_model_saves_the_cpus_file_and_predicts_numpy(tmp_path):
    layers, x = models()["conv"]
    model = nn.Sequential(layers).to("gpu")
    model.compile()
    model.fit(x, np.zeros(len(x), int), epochs=1, verbose=0)
    out = model.predict(x)
    assert isinstance(out, np.ndarray)
    model.save(tmp_path / "m.nnet")
    np.testing.assert_allclose(nn.load_model(tmp_path / "m.nnet").predict(x), out, rtol=1e-5, atol=1e-6)
