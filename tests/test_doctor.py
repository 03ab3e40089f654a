"""The training doctor names planted faults (and nothing on healthy networks); the learning-rate finder suggests a
rate as good as the best of a grid and leaves the model as it was."""

import warnings

import numpy as np
import pytest

import neuronet as nn
from neuronet import layers as L
from neuronet.cli import main
from neuronet.data import train_val_test_split
from neuronet.metrics import accuracy
from neuronet.text import Tokenizer, pad_sequences


@pytest.fixture(scope="module")
def digits():
    X, y = nn.datasets.load_digits()
    return train_val_test_split(X / 16.0, y, val_size=0.1, test_size=0.2, stratify=True, seed=0)


def examined(model, x, y, optimizer, validation=None, epochs=3, batch_size=32):
    model.compile(loss="categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    doctor = nn.callbacks.TrainingDoctor(verbose=0)
    with warnings.catch_warnings():  # a diverging run warns: that is what some of these runs are about
        warnings.simplefilter("ignore", RuntimeWarning)
        model.fit(x, y, epochs=epochs, batch_size=batch_size, validation_data=validation, callbacks=[doctor], verbose=0)
    return doctor


def sigmoid_mlp(depth=10):
    sizes = [64] + [32] * (depth - 1)
    hidden = [L.Dense(a, b, activation="sigmoid") for a, b in zip(sizes, sizes[1:])]
    return nn.Sequential([*hidden, L.Dense(32, 10, activation="softmax")])


def dead_mlp():
    model = nn.demos.digits_mlp()
    model.layers[0].biases.data[...] = -5.0
    return model


FAULTS = {
    # SGD at rate 10: the first step moves the weights by most of their size and the loss ends above chance. The
    # gradients themselves are ordinary at the start: the step is too long, so the finding is the learning rate
    "sgd_rate_10": (nn.demos.digits_mlp, lambda: nn.optimizers.SGD(10.0), 1, "learning_rate_too_high"),
    "sigmoid_10_layers": (sigmoid_mlp, lambda: nn.optimizers.Adam(0.005), 1, "vanishing_gradients"),
    "relu_biases_minus_5": (dead_mlp, lambda: nn.optimizers.Adam(0.005), 1, "dead_relu"),
    "inputs_times_1000": (nn.demos.digits_mlp, lambda: nn.optimizers.Adam(0.005), 1000, "unscaled_inputs"),
    "shuffled_labels": (nn.demos.digits_mlp, lambda: nn.optimizers.Adam(0.005), 1, "not_learning"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_planted_fault_is_named_within_three_epochs(digits, fault):
    (xt, yt), (xv, yv), _ = digits
    make, optimizer, scale, code = FAULTS[fault]
    if fault == "shuffled_labels":
        yt = np.random.default_rng(1).permutation(yt)
    nn.set_seed(0)
    doctor = examined(make(), xt * scale, yt, optimizer(), validation=(xv * scale, yv))
    assert [f["code"] for f in doctor.findings][:1] == [code], doctor.findings
    assert {f["code"] for f in doctor.findings} == {code}  # the cause alone, not what follows from it
    first = doctor.findings[0]
    assert first["epoch"] < 3 and set(first) == {"epoch", "code", "layer", "message"}
    assert first["message"] and (
        first["layer"] is None or first["layer"] in [layer.name for layer in doctor.model.layers]
    )


def test_no_finding_on_the_healthy_digits_mlp_and_cnn(digits):
    (xt, yt), (xv, yv), _ = digits
    nn.set_seed(0)
    assert examined(nn.demos.digits_mlp(), xt, yt, nn.optimizers.Adam(0.005), (xv, yv), epochs=5).findings == []
    shape = (-1, 8, 8, 1)
    nn.set_seed(0)
    cnn = nn.demos.digits_cnn()
    doctor = examined(cnn, xt.reshape(shape), yt, nn.optimizers.Adam(0.003), (xv.reshape(shape), yv))
    assert doctor.findings == []
    assert set(doctor.statistics[-1]["layers"]) >= {"conv2d", "conv2d_1", "dense", "dense_1"}  # fused stages too


def test_no_finding_on_the_healthy_text_lstm():
    texts, y = nn.datasets.sentiment(3000, seed=0)
    tokenizer = Tokenizer().fit(texts[:2100])
    X = pad_sequences(tokenizer.texts_to_sequences(texts), maxlen=12)
    nn.set_seed(0)
    model = nn.demos.sentiment_rnn(tokenizer.vocab_size, 12, "lstm")
    doctor = examined(model, X[:2100], y[:2100], nn.optimizers.Adam(0.005), (X[2100:2400], y[2100:2400]))
    assert doctor.findings == []
    assert doctor.statistics[0]["inputs_rms"] is None  # token ids have no scale


def split_cnn():
    """A CNN whose batches are cut into parts run in threads (no augmentation, unlike the demo's)."""
    return nn.Sequential([L.Conv2D(1, 8, 3, padding="same", activation="relu"), L.MaxPool2D(2), L.Flatten(),
                          L.Dense(128, 10, activation="softmax")])  # fmt: skip


def test_a_batch_split_over_threads_is_watched_whole(digits):
    """A batch of 128 images is cut into parts run on copies of the layers: the doctor sees every part."""
    (xt, yt), _, _ = digits
    nn.set_seed(0)
    model = split_cnn()
    assert nn.steps.parts(128, model.layers) == 2
    model.layers[0].biases.data[...] = -5.0  # the convolution's ReLUs
    doctor = examined(model, xt.reshape(-1, 8, 8, 1), yt, nn.optimizers.Adam(0.003), epochs=1, batch_size=128)
    found = [(f["code"], f["layer"]) for f in doctor.findings]
    assert found[0] == ("dead_relu", "conv2d") and {code for code, _ in found} == {"dead_relu"}  # (all after it too)
    assert model.watchers == []  # taken off after the first batch


def test_the_parts_of_a_split_batch_add_up_to_the_whole_batchs_statistics(digits):
    """The parts' threads add their numbers at once: the inputs' scale is the first batch's, whole."""
    (xt, yt), _, _ = digits
    x = xt.reshape(-1, 8, 8, 1)
    nn.set_seed(0)
    model = split_cnn()
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    doctor = nn.callbacks.TrainingDoctor(verbose=0)
    assert nn.steps.parts(256, model.layers) == 4
    model.fit(x, yt, epochs=1, batch_size=256, shuffle=False, callbacks=[doctor], verbose=0)
    first = x[:256].astype(np.float64)
    assert doctor.statistics[0]["inputs_rms"] == pytest.approx(np.sqrt((first**2).mean()), rel=1e-12)


def test_each_finding_is_printed_once_and_none_says_so(digits, capsys):
    (xt, yt), _, _ = digits
    nn.set_seed(0)
    model = dead_mlp()
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    doctor = nn.callbacks.TrainingDoctor()
    model.fit(xt, yt, epochs=3, callbacks=[doctor], verbose=0)
    out = capsys.readouterr().out
    assert out.count("dead_relu") == 1 and "epoch 1: dead_relu in dense:" in out
    nn.set_seed(0)
    model = nn.demos.digits_mlp()
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    model.fit(xt, yt, epochs=2, callbacks=[nn.callbacks.TrainingDoctor()], verbose=0)
    assert capsys.readouterr().out.strip() == "TrainingDoctor: no findings"


def test_the_doctor_refuses_a_gan():
    gan = nn.demos.digits_gan()
    with pytest.raises(nn.checks.ArgumentError, match="TrainingDoctor watches a Model"):
        nn.callbacks.TrainingDoctor().set_model(gan)


def test_demo_and_train_print_the_doctors_findings(capsys, tmp_path):
    assert main(["demo", "--epochs", "2", "--doctor"]) == 0
    assert "TrainingDoctor: no findings" in capsys.readouterr().out
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (200, 2)) * [1.0, 5000.0]  # a column in other units, not standardised by hand
    rows = "\n".join(f"{a:.4f},{b:.1f},{int(a > 0)}" for a, b in x)
    (tmp_path / "t.csv").write_text("a,b,label\n" + rows + "\n")
    code = main(
        [
            "train",
            str(tmp_path / "t.csv"),
            "--target",
            "label",
            "--out",
            str(tmp_path / "m.nnet"),
            "--epochs",
            "2",
            "--quiet",
            "--doctor",
        ]
    )
    assert code == 0 and "TrainingDoctor" in capsys.readouterr().out  # (train standardises: no findings)


# -- the learning-rate finder ---------------------------------------------------------------------------------
def mlp(seed, rate):
    nn.set_seed(seed)
    model = nn.demos.digits_mlp()
    model.compile(loss="categorical_crossentropy", optimizer=nn.optimizers.Adam(rate), metrics=["accuracy"])
    return model


def test_learning_rate_finder_leaves_the_model_and_its_optimizer_as_they_were(digits):
    (xt, yt), _, _ = digits
    model, twin = mlp(0, 1e-3), mlp(0, 1e-3)  # (built alike: a deep copy of a trained model does not train alike)
    for one in (model, twin):
        one.fit(xt[:256], yt[:256], epochs=1, verbose=0)  # the optimizer holds state, the generator has moved
    sweep = model.find_learning_rate(xt, yt)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), twin.get_weights()))
    assert model.optimizer.learning_rate == 1e-3
    # the same next epoch: the same Adam moments, the same shuffling
    assert model.fit(xt, yt, epochs=1, verbose=0).history == twin.fit(xt, yt, epochs=1, verbose=0).history
    assert 1e-7 <= sweep.suggestion <= 10 and len(sweep.learning_rates) == len(sweep.smoothed) >= 50
    assert np.all(np.diff(np.log(sweep.learning_rates)) > 0)


def test_learning_rate_finders_suggestion_trains_as_well_as_the_best_of_a_grid(digits):
    """Mean test accuracy over three seeds, 10 epochs of Adam on the digits MLP."""
    (xt, yt), _, (xs, ys) = digits
    seeds = (0, 1, 2)

    def score(rates):
        models = [mlp(seed, rate) for seed, rate in zip(seeds, rates)]
        for model in models:
            model.fit(xt, yt, epochs=10, verbose=0)
        return np.mean([accuracy(ys, model.predict(xs)) for model in models])

    grid = {rate: score([rate] * 3) for rate in (1e-4, 1e-3, 1e-2, 1e-1, 1.0)}
    suggested = [mlp(seed, 1e-3).find_learning_rate(xt, yt).suggestion for seed in seeds]
    assert score(suggested) >= max(grid.values()) - 0.01, (suggested, grid)


def test_learning_rate_finder_draws_its_curve(digits, tmp_path):
    pytest.importorskip("matplotlib")
    (xt, yt), _, _ = digits
    sweep = mlp(0, 1e-3).find_learning_rate(xt, yt, plot=tmp_path / "lr.png")
    assert (tmp_path / "lr.png").stat().st_size > 1000
    assert "suggestion" in repr(sweep)


def test_learning_rate_finder_needs_a_compiled_model(digits):
    (xt, yt), _, _ = digits
    with pytest.raises(nn.checks.ArgumentError, match="compile"):
        nn.demos.digits_mlp().find_learning_rate(xt, yt)
