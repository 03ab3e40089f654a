"""nn.callbacks.TensorBoard: event files read back with TensorBoard's own reader."""

import os
import sys

import numpy as np
import pytest

import neuronet as nn

pytest.importorskip("tensorboardX", reason="TensorBoard writes through tensorboardX (the tensorboard extra)")
event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="the event files are read back with TensorBoard's own reader (pip install tensorboard)",
)


def trained(log_dir, epochs=3, histogram_freq=1, callbacks=()):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 4))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 1).astype(int)
    nn.set_seed(0)
    model = nn.Sequential([nn.layers.Dense(4, 8, activation="relu"), nn.layers.Dense(8, 3, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer=nn.optimizers.Adam(0.01), metrics=["accuracy"])
    board = nn.callbacks.TensorBoard(log_dir, histogram_freq=histogram_freq)
    history = model.fit(
        X[:60],
        y[:60],
        epochs=epochs,
        batch_size=16,
        validation_data=(X[60:], y[60:]),
        callbacks=[*callbacks, board],
        verbose=0,
    )
    return model, history, board


def read(log_dir):
    reader = event_accumulator.EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "histograms": 0})
    reader.Reload()
    return reader


def test_scalars_equal_history_and_every_parameter_has_histograms(tmp_path):
    halve = nn.callbacks.LearningRateScheduler(lambda epoch: 0.01 * 0.5**epoch)  # a rate that differs per epoch
    model, history, board = trained(tmp_path / "run", callbacks=[halve])
    assert board.writer is None  # closed at train end
    reader = read(tmp_path / "run")
    tags = reader.Tags()
    for name in ("loss", "val_loss", "accuracy", "val_accuracy", "learning_rate"):
        events = reader.Scalars(name)
        assert [e.step for e in events] == [0, 1, 2]
        # (scalars are stored as float32)
        np.testing.assert_allclose([e.value for e in events], history.history[name], rtol=1e-6)
    np.testing.assert_allclose([e.value for e in reader.Scalars("learning_rate")], [0.01, 0.005, 0.0025], rtol=1e-6)

    names = [f"{i}.{layer.name}.{path}" for i, layer in enumerate(model.layers) for path in layer.named_parameters()]
    assert len(names) == 4  # two Dense layers: weights and bias each
    assert sorted(tags["histograms"]) == sorted(f"{kind}/{n}" for kind in ("weights", "gradients") for n in names)
    for name in names:
        parameter = dict(zip(names, model.parameters()))[name]
        for kind, array in (("weights", parameter.data), ("gradients", parameter.grad)):
            events = reader.Histograms(f"{kind}/{name}")
            assert [e.step for e in events] == [0, 1, 2]
            last = events[-1].histogram_value  # the last epoch's: what the model holds after fit
            assert last.num == array.size
            assert last.sum_squares > 0  # (a gradient read after a pending zero_grad would be 0)
            assert last.min == pytest.approx(float(array.min()), rel=1e-6)
            assert last.max == pytest.approx(float(array.max()), rel=1e-6)
            assert last.sum == pytest.approx(float(array.astype(np.float64).sum()), rel=1e-5, abs=1e-6)


def test_learning_rate_without_a_scheduler_and_histograms_every_second_epoch(tmp_path):
    _, history, _ = trained(tmp_path / "run", epochs=4, histogram_freq=2)
    assert "learning_rate" not in history.history
    reader = read(tmp_path / "run")
    assert [e.value for e in reader.Scalars("learning_rate")] == pytest.approx([0.01] * 4)
    assert [e.step for e in reader.Histograms("weights/0.dense.weights")] == [1, 3]


def test_histogram_freq_zero_writes_no_histograms(tmp_path):
    trained(tmp_path / "run", epochs=2, histogram_freq=0)
    reader = read(tmp_path / "run")
    assert reader.Tags()["histograms"] == []
    assert len(reader.Scalars("loss")) == 2


def test_only_the_writer_process_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(nn.callbacks.process, "is_writer", lambda: False)
    trained(tmp_path / "run", epochs=1)
    assert not os.path.exists(tmp_path / "run") or os.listdir(tmp_path / "run") == []


def test_bad_arguments_are_refused_where_given(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(nn.checks.ArgumentError, match="is a file"):
        nn.callbacks.TensorBoard(tmp_path / "file")
    with pytest.raises(nn.checks.ArgumentError, match="histogram_freq"):
        nn.callbacks.TensorBoard(tmp_path, histogram_freq=-1)
    with pytest.raises(nn.checks.ArgumentError, match="log_dir"):
        nn.callbacks.TensorBoard(3)


def test_missing_tensorboardx_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # an import of it now fails
    with pytest.raises(ImportError, match=r'pip install "neuronet\[tensorboard\]"'):
        nn.callbacks.TensorBoard(tmp_path)
