"""Callbacks: early stopping, checkpoints, learning-rate schedules, plateaus, CSV logs."""

import csv
import math
import os

import numpy as np
import pytest

import neuronet as nn


def small_model(lr=0.01):
    model = nn.Sequential([nn.layers.Dense(4, 8, activation="relu"), nn.layers.Dense(8, 3, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer=nn.optimizers.Adam(lr), metrics=["accuracy"])
    return model


def data(n=60):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 4))
    return X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 1).astype(int)


class Scripted(nn.callbacks.Callback):
    """Replaces the logged value of ``key`` with a scripted sequence, to test the monitors exactly."""

    def __init__(self, key, values):
        self.key, self.values = key, values

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


def test_early_stopping_stops_at_the_right_epoch_and_restores_the_best():
    X, y = data()
    model = small_model()
    weights = []

    class Record(nn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            weights.append(self.model.get_weights())

    # best at epoch 2 (0.5); patience 3 -> epochs 3, 4, 5 fail to improve -> stop after epoch 5
    script = Scripted("val_loss", [1.0, 0.8, 0.5, 0.6, 0.55, 0.7, 0.1, 0.1])
    stop = nn.callbacks.EarlyStopping(monitor="val_loss", patience=3)
    h = model.fit(X, y, epochs=8, batch_size=16, validation_split=0.2, callbacks=[script, Record(), stop], verbose=0)
    assert len(h.history["loss"]) == 6 and stop.stopped_epoch == 5 and stop.best_epoch == 2
    for a, b in zip(model.get_weights(), weights[2]):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_min_delta_and_max_mode():
    X, y = data()
    script = Scripted("val_accuracy", [0.5, 0.6, 0.605, 0.609, 0.7])
    stop = nn.callbacks.EarlyStopping(monitor="val_accuracy", patience=2, min_delta=0.01)
    assert stop.mode == "max"
    small_model().fit(X, y, epochs=5, validation_split=0.2, callbacks=[script, stop], verbose=0)
    assert stop.stopped_epoch == 3 and stop.best == 0.6


def test_early_stopping_names_a_missing_value():
    X, y = data()
    with pytest.raises(KeyError, match="pass validation_data or validation_split"):
        small_model().fit(X, y, epochs=1, callbacks=[nn.callbacks.EarlyStopping()], verbose=0)


def test_checkpoint_best_only_and_every_epoch(tmp_path):
    X, y = data()
    script = Scripted("val_loss", [0.9, 0.5, 0.7])
    saved = []

    class Spy(nn.callbacks.ModelCheckpoint):
        def on_epoch_end(self, epoch, logs=None):
            before = os.path.exists(self.path) and os.path.getmtime(self.path)
            super().on_epoch_end(epoch, logs)
            saved.append(os.path.exists(self.path) and os.path.getmtime(self.path) != before)

    small_model().fit(X, y, epochs=3, validation_split=0.2, callbacks=[script, Spy(tmp_path / "best.nnet")], verbose=0)
    assert saved[:2] == [True, True] and saved[2] is False
    every = nn.callbacks.ModelCheckpoint(str(tmp_path / "e{epoch:02d}.nnet"), save_best_only=False)
    small_model().fit(X, y, epochs=3, callbacks=[every], verbose=0)
    assert sorted(os.listdir(tmp_path)) == ["best.nnet", "e01.nnet", "e02.nnet", "e03.nnet"]


def test_checkpoint_survives_an_interrupted_save(tmp_path, monkeypatch):
    X, y = data()
    path = tmp_path / "ckpt.nnet"
    model = small_model()
    model.fit(X, y, epochs=1, callbacks=[nn.callbacks.ModelCheckpoint(path, save_best_only=False)], verbose=0)
    good = path.read_bytes()

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        model.fit(X, y, epochs=1, callbacks=[nn.callbacks.ModelCheckpoint(path, save_best_only=False)], verbose=0)
    monkeypatch.undo()
    assert path.read_bytes() == good and os.listdir(tmp_path) == ["ckpt.nnet"]
    nn.load_model(path)


@pytest.mark.parametrize(
    "schedule,expected",
    [
        (nn.schedules.StepDecay(0.1, factor=0.5, every=2), [0.1, 0.1, 0.05, 0.05, 0.025]),
        (nn.schedules.ExponentialDecay(0.1, rate=0.5), [0.1, 0.05, 0.025, 0.0125, 0.00625]),
        (nn.schedules.TimeBasedDecay(0.1, decay=1.0), [0.1, 0.05, 0.1 / 3, 0.025, 0.02]),
        (
            nn.schedules.CosineDecay(0.1, epochs=4),
            [0.1, 0.1 * (1 + math.cos(math.pi / 4)) / 2, 0.05, 0.1 * (1 + math.cos(3 * math.pi / 4)) / 2, 0.0],
        ),
        (lambda epoch, lr: lr * 0.9 if epoch else 0.2, [0.2, 0.18, 0.162, 0.1458, 0.13122]),
    ],
)
def test_learning_rate_scheduler(schedule, expected):
    X, y = data()
    h = small_model().fit(X, y, epochs=5, callbacks=[nn.callbacks.LearningRateScheduler(schedule)], verbose=0)
    np.testing.assert_allclose(h.history["learning_rate"], expected, rtol=1e-12)


def test_scheduled_rate_is_the_one_the_optimizer_uses():
    X, y = data()
    model = small_model()
    used = []

    class Spy(nn.callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            used.append(self.model.optimizer.current_learning_rate)

    sched = nn.callbacks.LearningRateScheduler(nn.schedules.StepDecay(0.1, 0.1, every=1))
    model.fit(X, y, epochs=2, batch_size=60, callbacks=[sched, Spy()], verbose=0)
    np.testing.assert_allclose(used, [0.1, 0.01])


def test_reduce_lr_on_plateau():
    X, y = data()
    model = small_model(lr=0.1)
    script = Scripted("val_loss", [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5])
    plateau = nn.callbacks.ReduceLROnPlateau(patience=2, factor=0.5, min_lr=0.02)
    rates = []

    class Spy(nn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            rates.append(self.model.optimizer.learning_rate)

    model.fit(X, y, epochs=8, validation_split=0.2, callbacks=[script, plateau, Spy()], verbose=0)
    assert rates == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.02])


def test_csv_logger(tmp_path):
    X, y = data()
    path = tmp_path / "log.csv"
    small_model().fit(X, y, epochs=3, validation_split=0.2, callbacks=[nn.callbacks.CSVLogger(path)], verbose=0)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"] and all(float(v) >= 0 for v in rows[3][1:])
    small_model().fit(X, y, epochs=2, callbacks=[nn.callbacks.CSVLogger(path, append=True)], verbose=0)
    with open(path, newline="") as f:
        assert len(list(csv.reader(f))) == 6  # no second header


def test_nan_loss_stops_by_default_and_keeps_the_history():
    X = np.random.default_rng(0).standard_normal((64, 4)) * 1e3
    model = nn.Sequential([nn.layers.Dense(4, 16, activation="relu"), nn.layers.Dense(16, 1)])
    model.compile(loss="mse", optimizer=nn.optimizers.SGD(learning_rate=10.0))
    with pytest.warns(RuntimeWarning, match="training stopped"):
        h = model.fit(X, X.sum(1), epochs=50, batch_size=8, verbose=0)
    assert model.stop_training and len(h.history.get("loss", [])) < 50


# -- every argument checked where it is given --------------------------------------------------
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: nn.callbacks.CSVLogger(2), r"path must be a file name \(str, bytes or os.PathLike\), got 2 \(int\)"),
        (lambda: nn.callbacks.CSVLogger(True), "path must be a file name"),
        (lambda: nn.callbacks.CSVLogger(""), "path must be a file name, got ''"),
        (lambda: nn.callbacks.CSVLogger("log\x00.csv"), "path must be a file name"),
        (lambda: nn.callbacks.CSVLogger(os.curdir), "is a directory"),
        (lambda: nn.callbacks.CSVLogger("log.csv", append="no"), "append must be True or False, got 'no'"),
        (lambda: nn.callbacks.CSVLogger("log.csv", separator=";;"), "separator must be one character"),
        (lambda: nn.callbacks.CSVLogger("log.csv", separator=""), "separator must be one character"),
        (lambda: nn.callbacks.CSVLogger("log.csv", separator='"'), "separator must be one character other than a"),
        (lambda: nn.callbacks.CSVLogger("log.csv", separator="\n"), "separator must be one character other than a"),
        (lambda: nn.callbacks.CSVLogger("log.csv", separator=1), "separator must be a string"),
        (lambda: nn.callbacks.ModelCheckpoint(3), "path must be a file name"),
        (lambda: nn.callbacks.ModelCheckpoint("m.onnx"), r"path 'm.onnx' ends in .onnx"),
        (lambda: nn.callbacks.ModelCheckpoint(b""), "path must be a file name, got ''"),
        (lambda: nn.callbacks.ModelCheckpoint("m-{epoch.nnet"), "path 'm-{epoch.nnet' is no file name neuronet can"),
        (lambda: nn.callbacks.ModelCheckpoint("m-{}.nnet"), "is no file name neuronet can fill in"),
        (lambda: nn.callbacks.ModelCheckpoint("m-{epoch:.2q}.nnet"), "is no file name neuronet can fill in"),
        (lambda: nn.callbacks.ModelCheckpoint("m-{val_loss:02d}.nnet"), "is no file name neuronet can fill in"),
        (lambda: nn.callbacks.ModelCheckpoint("m.nnet", save_best_only="no"), "save_best_only must be True or"),
        (lambda: nn.callbacks.ModelCheckpoint("m.nnet", monitor=""), "monitor is empty"),
        (lambda: nn.callbacks.EarlyStopping(monitor=" "), "monitor is empty"),
        (lambda: nn.callbacks.EarlyStopping(restore_best_weights="no"), "restore_best_weights must be True or"),
        (lambda: nn.callbacks.EarlyStopping(mode="down"), "mode must be one of"),
        (lambda: nn.callbacks.ReduceLROnPlateau(verbose="no"), "verbose must be an int"),
        (lambda: nn.callbacks.ReduceLROnPlateau(verbose=3), "verbose must be <= 2"),
        (lambda: nn.callbacks.LearningRateScheduler(0.1), "schedule must be a function epoch -> lr"),
        (lambda: nn.callbacks.LearningRateScheduler(max), "max has no signature to say what it takes"),
        (lambda: nn.callbacks.LearningRateScheduler(lambda: 0.1), r"<lambda> takes \(\)"),
        (lambda: nn.callbacks.LearningRateScheduler(lambda e, lr, x: lr), r"<lambda> takes \(e, lr, x\)"),
        (lambda: nn.callbacks.LearningRateScheduler(lambda e, *, lr: lr), r"<lambda> takes \(e, \*, lr\)"),
        (lambda: nn.callbacks.LearningRateScheduler(abs, verbose=[]), "verbose must be an int"),
        (lambda: nn.callbacks.SampleGrid(4), "path must be a file name"),
        (lambda: nn.callbacks.SampleGrid("g-{step}.png"), r"it may hold \{epoch\},"),
    ],
)
def test_every_callback_argument_is_checked_where_it_is_given(make, match):
    with pytest.raises(ValueError, match=match):  # (an ArgumentError, or saving.model_path's ValueError)
        make()


def test_paths_as_bytes_or_path_like_and_another_separator(tmp_path):
    X, y = data()
    log, ckpt = tmp_path / "log.csv", tmp_path / "m-{epoch}.nnet"
    callbacks = [
        nn.callbacks.CSVLogger(os.fsencode(log), separator=";", append=False),
        nn.callbacks.ModelCheckpoint(os.fsencode(ckpt), save_best_only=False),
    ]
    small_model().fit(X, y, epochs=2, callbacks=callbacks, verbose=0)
    with open(log, newline="") as f:
        assert [row[0] for row in csv.reader(f, delimiter=";")] == ["epoch", "0", "1"]
    assert sorted(os.listdir(tmp_path)) == ["log.csv", "m-1.nnet", "m-2.nnet"]
    nn.load_model(tmp_path / "m-2.nnet")


def test_a_checkpoint_naming_a_value_not_logged_says_which(tmp_path):
    X, y = data()
    checkpoint = nn.callbacks.ModelCheckpoint(tmp_path / "m-{val_acc:.2f}.nnet", monitor="loss")
    with pytest.raises(nn.checks.ArgumentError, match=r"names \{val_acc\}, which is not logged; the logs hold"):
        small_model().fit(X, y, epochs=1, callbacks=[checkpoint], verbose=0)


@pytest.mark.parametrize(
    "schedule, match",
    [
        (lambda epoch: "0.1", "the learning rate that schedule <lambda> gave for epoch 0 must be a number"),
        (lambda epoch: math.nan, "schedule <lambda> gave for epoch 0 must be a finite number"),
        (lambda epoch: 0.1 - 0.2 * epoch, "schedule <lambda> gave for epoch 1 must be >= 0, got -0.1"),
        (lambda epoch, lr: None, "schedule <lambda> gave for epoch 0 must be a number, got None"),
    ],
)
def test_a_schedule_must_give_finite_rates_of_0_or_more(schedule, match):
    X, y = data()
    with pytest.raises(nn.checks.ArgumentError, match=match):
        small_model().fit(X, y, epochs=2, callbacks=[nn.callbacks.LearningRateScheduler(schedule)], verbose=0)


def test_a_warm_up_from_0_is_a_schedule():
    X, y = data()
    warm_up = nn.callbacks.LearningRateScheduler(lambda epoch: 0.01 * epoch / 2)
    history = small_model().fit(X, y, epochs=3, callbacks=[warm_up], verbose=0)
    assert history.history["learning_rate"] == [0.0, 0.005, 0.01]


def test_a_csv_logger_never_takes_a_file_descriptor():
    """CSVLogger(2) wrote the log into standard error and then closed file descriptor 2."""
    with pytest.raises(nn.checks.ArgumentError, match="got 2 \\(int\\)"):
        nn.callbacks.CSVLogger(2)
    os.fstat(2)  # still open


def test_sample_grids_are_titled_with_their_epoch(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    titles = []
    draw = nn.plot.image_grid

    def spy(*args, **kwargs):
        figure = draw(*args, **kwargs)
        titles.append(figure.get_suptitle())
        return figure

    monkeypatch.setattr(nn.plot, "image_grid", spy)
    generator = nn.Sequential([nn.layers.Dense(2, 4, activation="sigmoid")])
    discriminator = nn.Sequential([nn.layers.Dense(4, 1, activation="sigmoid")])
    gan = nn.GAN(generator, discriminator, latent_dim=2)
    gan.compile(nn.optimizers.SGD(0.1), nn.optimizers.SGD(0.1))
    grid = nn.callbacks.SampleGrid(os.fsencode(tmp_path / "g{epoch}.png"), every=2, n=4, cols=2)
    gan.fit(np.random.default_rng(0).random((16, 4)), epochs=3, batch_size=8, callbacks=[grid], verbose=0)
    assert titles == ["epoch 2", "epoch 3"] and grid.paths == [str(tmp_path / "g2.png"), str(tmp_path / "g3.png")]


@pytest.mark.parametrize(
    "make",
    [
        lambda path: nn.callbacks.CSVLogger(path),
        lambda path: nn.callbacks.ModelCheckpoint(path.replace(".csv", ".nnet")),
        lambda path: nn.callbacks.SampleGrid(path.replace(".csv", ".png")),
    ],
)
def test_a_path_in_a_folder_that_does_not_exist_is_refused_when_given(tmp_path, make):
    """CSVLogger('/nonexistent/log.csv') was taken, and fit then failed with a bare FileNotFoundError."""
    with pytest.raises(nn.checks.ArgumentError, match=r"the folder .*nowhere does not exist"):
        make(str(tmp_path / "nowhere" / "log.csv"))
    make(str(tmp_path / "log.csv"))


def test_a_keras_callbacks_on_train_batch_end_is_called_after_every_batch():
    seen = []

    class KerasStyle(nn.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append((batch, round(logs["loss"], 6)))

    model = nn.Sequential([nn.layers.Dense(3, 2, activation="softmax")])
    model.compile()
    model.fit(np.zeros((10, 3)), np.zeros(10, int), epochs=1, batch_size=4, verbose=0, callbacks=[KerasStyle()])
    assert [b for b, _ in seen] == [0, 1, 2] and all(np.isfinite(loss) for _, loss in seen)


def test_a_keras_hook_that_fit_never_calls_is_named_in_a_warning_at_the_users_line():
    class KerasStyle(nn.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            raise AssertionError("never called")

        def on_test_end(self, logs=None):
            raise AssertionError("never called")

    model = nn.Sequential([nn.layers.Dense(3, 2, activation="softmax")])
    model.compile()
    message = "KerasStyle defines on_train_batch_begin, on_test_end, which fit never calls"
    with pytest.warns(UserWarning, match=message) as got:
        model.fit(np.zeros((10, 3)), np.zeros(10, int), epochs=1, verbose=0, callbacks=[KerasStyle()])
    assert got[0].filename == __file__
