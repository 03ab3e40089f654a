"""Pictures: each plot writes a non-empty PNG of the size asked for."""

import struct

import numpy as np
import pytest

import neuronet as nn

pytest.importorskip("matplotlib")


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def spiral_model():
    X, y = nn.datasets.spiral(40, 3)
    model = nn.Sequential([nn.layers.Dense(2, 32, activation="relu"), nn.layers.Dense(32, 3, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer=nn.optimizers.Adam(0.02), metrics=["accuracy"])
    history = model.fit(X, y, epochs=5, batch_size=20, validation_split=0.25, verbose=0)
    return model, history, X, y


def test_training_curves(tmp_path):
    _, history, _, _ = spiral_model()
    fig = nn.plot.training_curves(history, tmp_path / "curves.png", size=(8, 3), dpi=50)
    assert png_size(tmp_path / "curves.png") == (400, 150)
    assert len(fig.axes) == 2  # loss and accuracy
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["loss", "accuracy"]
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[:2] == ["training", "validation"] and labels[2].startswith("best val_loss (epoch ")


def test_confusion_matrix_picture(tmp_path):
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 3, 50), rng.integers(0, 3, 50)
    fig = nn.plot.confusion_matrix(y, p, ["a", "b", "c"], tmp_path / "cm.png", size=(4, 4), dpi=50)
    assert png_size(tmp_path / "cm.png") == (200, 200)
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {str(v) for v in nn.metrics.confusion_matrix(y, p).ravel()} <= texts


def test_decision_boundary(tmp_path):
    model, _, X, y = spiral_model()
    nn.plot.decision_boundary(model, X, y, tmp_path / "db.png", resolution=50, size=(3, 3), dpi=60)
    assert png_size(tmp_path / "db.png") == (180, 180)
    with pytest.raises(ValueError, match="2-feature"):
        nn.plot.decision_boundary(model, np.zeros((3, 3)), [0, 1, 2])


def test_decision_boundary_names_its_classes_and_axes(tmp_path):
    """It was titled "decision boundary" and nothing more: no legend, no axis labels."""
    model, _, X, y = spiral_model()
    names = ["red arm", "green arm", "blue arm"]
    fig = nn.plot.decision_boundary(model, X, y, resolution=30, class_names=names, feature_names=("x1", "x2"))
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x1", "x2")
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == names
    # each class's points are drawn in its own colour, and that colour is the legend's
    points = [c for c in ax.collections if c.get_label() in names]
    assert len({tuple(c.get_facecolor()[0]) for c in points}) == 3
    assert nn.plot.decision_boundary(model, X, y, resolution=30).axes[0].get_xlabel() == "feature 1"
    with pytest.raises(ValueError, match="class_names names 2 classes, but there are 3"):
        nn.plot.decision_boundary(model, X, y, class_names=["a", "b"])


def test_the_forecast_legend_leaves_the_series_uncovered(tmp_path):
    t = np.arange(100.0)
    fig = nn.plot.forecast(t, np.sin(t / 5), {"model": (t[80:], np.sin(t[80:] / 5))}, tmp_path / "f.png", start=80)
    ax, legend = fig.axes[0], fig.axes[0].get_legend()
    fig.draw_without_rendering()
    assert legend.get_window_extent().x0 >= ax.get_window_extent().x1  # beside the axes, not over the test period


def test_image_grid(tmp_path):
    X, y = nn.datasets.load_digits()
    fig = nn.plot.image_grid(X[:10], y[:10], np.roll(y[:10], 1), tmp_path / "grid.png", cols=5, dpi=40)
    assert png_size(tmp_path / "grid.png") == (int(1.3 * 5 * 40), int(1.5 * 2 * 40))
    assert fig.axes[0].get_title() == "true 0\npred 9" and fig.axes[0].title.get_color() == "red"


def test_clear_message_without_matplotlib(no_matplotlib):
    with pytest.raises(ImportError, match=r'pip install "neuronet\[plot\]"'):
        nn.plot.training_curves({"loss": [1.0, 0.5]})
