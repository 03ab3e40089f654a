"""Pictures of training: curves per epoch, confusion matrices, decision boundaries, image grids, forecasts.

Needs matplotlib (``pip install "neuronet[plot]"``). Every function returns a
matplotlib Figure and, given ``path``, also writes it as a PNG of exactly
``size`` inches at ``dpi`` dots per inch. No window is ever opened: figures are
drawn off-screen, so this works on servers and in CI.
"""

from __future__ import annotations

import math
import os

import numpy as np

from .metrics import confusion_matrix as _confusion_counts
from .metrics import to_labels


def require_matplotlib():
    """matplotlib's Figure class, or an ImportError that says how to install it."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError('neuronet.plot needs matplotlib: pip install "neuronet[plot]"') from None
    return Figure


def _figure(size: tuple[float, float], dpi: int):
    return require_matplotlib()(figsize=size, dpi=dpi, layout="constrained")


def _save(fig, path):
    if path is not None:
        fig.savefig(os.fspath(path), dpi=fig.dpi, format="png")
    return fig


def training_curves(history, path=None, monitor: str = "val_loss", size=(10.0, 4.0), dpi: int = 100):
    """Loss and each metric per epoch, training against validation, with the best epoch marked.

    ``history`` is what ``fit`` returned (or its ``.history`` dict). The best
    epoch is where ``monitor`` is lowest (highest for accuracy-like values).
    """
    logs = getattr(history, "history", history)
    names = [k for k in logs if not k.startswith("val_") and k != "learning_rate"]
    if not names:
        raise ValueError("the history holds no values to plot; train for at least one epoch")
    fig = _figure(size, dpi)
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    best = None
    if monitor in logs:
        values = np.asarray(logs[monitor], dtype=float)
        best = int(np.nanargmin(values) if "loss" in monitor or "error" in monitor else np.nanargmax(values))
    for ax, name in zip(axes, names):
        epochs = np.arange(1, len(logs[name]) + 1)
        ax.plot(epochs, logs[name], label="training", color="tab:blue")
        if f"val_{name}" in logs:
            ax.plot(epochs, logs[f"val_{name}"], label="validation", color="tab:orange")
        if best is not None:
            # the epoch where the monitored value was best, which a model keeps only if early stopping restored it
            ax.axvline(best + 1, color="grey", linestyle="--", label=f"best {monitor} (epoch {best + 1})")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


def confusion_matrix(
    y_true, y_pred, class_names=None, path=None, normalize: bool = False, size=(6.0, 5.0), dpi: int = 100
):
    """A heat map of true class (rows) against predicted class (columns), with the counts written in."""
    counts = _confusion_counts(y_true, y_pred)
    shown = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalize else counts
    k = len(counts)
    names = class_names or [str(i) for i in range(k)]
    fig = _figure(size, dpi)
    ax = fig.subplots()
    image = ax.imshow(shown, cmap="Blues")
    fig.colorbar(image, ax=ax)
    ax.set_xticks(range(k), names, rotation=45 if k > 6 else 0)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = shown.max() / 2
    for i in range(k):
        for j in range(k):
            text = f"{shown[i, j]:.2f}" if normalize else str(counts[i, j])
            ax.text(j, i, text, ha="center", va="center", color="white" if shown[i, j] > threshold else "black")
    return _save(fig, path)


def decision_boundary(
    model,
    x,
    y,
    path=None,
    resolution: int = 200,
    class_names=None,
    feature_names=("feature 1", "feature 2"),
    title: str = "decision boundary",
    size=(6.0, 6.0),
    dpi: int = 100,
):
    """The class a 2-feature classifier predicts over the plane (shaded), with the samples drawn on top in
    their true class's colour (a point on a shade of another colour is misclassified); a legend names the
    classes (``class_names``, else their numbers) and the axes the features."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"decision_boundary draws 2-feature inputs, got shape {x.shape}")
    pad = 0.1 * (x.max(axis=0) - x.min(axis=0))
    lo, hi = x.min(axis=0) - pad, x.max(axis=0) + pad
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.c_[gx.ravel(), gy.ravel()]
    regions = to_labels(model.predict(grid)).reshape(gx.shape)
    labels = to_labels(y)
    k = int(max(regions.max(), labels.max())) + 1
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    if len(names) < k:
        raise ValueError(f"decision_boundary: class_names names {len(names)} classes, but there are {k}")
    colors = [CLASS_COLORS[i % len(CLASS_COLORS)] for i in range(k)]  # one per class, for regions and points
    fig = _figure(size, dpi)
    ax = fig.subplots()
    ax.contourf(gx, gy, regions, alpha=0.3, colors=colors, levels=np.arange(k + 1) - 0.5)
    for c in range(k):
        at = labels == c
        ax.scatter(x[at, 0], x[at, 1], color=colors[c], s=12, edgecolors="k", linewidths=0.3, label=names[c])
    ax.set_xlabel(feature_names[0])
    ax.set_ylabel(feature_names[1])
    ax.set_title(title)
    ax.legend(title="class", loc="best", fontsize="small", framealpha=0.9)  # where it hides the fewest points
    return _save(fig, path)


# distinct colours for classes, matplotlib's own qualitative cycle
CLASS_COLORS = [f"C{i}" for i in range(10)]


def image_grid(
    images, labels=None, predictions=None, path=None, cols: int = 8, class_names=None, dpi: int = 100, title: str = ""
):
    """Images in a grid, titled with true and predicted labels (red where they differ), under ``title``.

    ``images`` is (n, height, width), (n, height, width, channels), or flat
    rows of a square image (n, side*side).
    """
    images = np.asarray(images)
    if images.ndim == 2:
        side = math.isqrt(images.shape[1])
        if side * side != images.shape[1]:
            raise ValueError(f"flat images need a square pixel count, got {images.shape[1]}")
        images = images.reshape(-1, side, side)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    n = len(images)
    rows, cols = math.ceil(n / cols), min(cols, n)
    name = (lambda k: class_names[k]) if class_names else str
    true = None if labels is None else to_labels(labels)
    pred = None if predictions is None else to_labels(predictions)
    fig = _figure((1.3 * cols, 1.5 * rows), dpi)
    for i, ax in enumerate(fig.subplots(rows, cols, squeeze=False).ravel()):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i], cmap="gray_r" if images[i].ndim == 2 else None)
        parts = ([f"true {name(true[i])}"] if true is not None else []) + (
            [f"pred {name(pred[i])}"] if pred is not None else []
        )
        wrong = true is not None and pred is not None and true[i] != pred[i]
        ax.set_title("\n".join(parts), fontsize=8, color="red" if wrong else "black")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def forecast(
    times, truth, forecasts: dict, path=None, start=None, ylabel: str = "", title: str = "", size=(10.0, 4.5), dpi=100
):
    """A series and one or more forecasts of it against time; ``forecasts`` maps a label to (times, values).

    ``start``, a time, draws a line where the forecasts begin (the test period); ``times`` may be numbers
    or NumPy datetimes.
    """
    fig = _figure(size, dpi)
    ax = fig.subplots()
    ax.plot(np.asarray(times), np.asarray(truth), color="black", linewidth=1.2, label="truth")
    for (label, (at, values)), color in zip(forecasts.items(), ["tab:orange", "tab:blue", "tab:green", "tab:red"]):
        ax.plot(np.asarray(at), np.asarray(values), color=color, linewidth=1.2, label=label)
    if start is not None:
        ax.axvline(start, color="gray", linestyle=":", linewidth=1)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the axes: inside, it hid part of the series
    return _save(fig, path)


def attention(weights, tokens, path=None, title: str | None = None, size=(7.5, 6.5), dpi: int = 100):
    """One head's attention weights over a sequence as a heat map: row i is query step i, its weights over the
    key steps it reads (a causal head's upper triangle is empty). ``weights`` (steps, steps), as one head of a
    MultiHeadAttention's ``attention_scores``; ``tokens`` label the steps (a space shown as '␣')."""
    w = np.asarray(weights, dtype=float)
    labels = ["\u2423" if t == " " else str(t) for t in tokens]
    if w.ndim != 2 or w.shape != (len(labels), len(labels)):
        raise ValueError(f"attention takes one head's weights (steps, steps) for {len(labels)} tokens, got {w.shape}")
    fig = _figure(size, dpi)
    ax = fig.subplots()
    image = ax.imshow(w, cmap="viridis", vmin=0.0, vmax=max(float(w.max()), 1e-12))
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("key: the step read")
    ax.set_ylabel("query: the step reading")
    if title:
        ax.set_title(title)
    fig.colorbar(image, ax=ax, label="attention weight", shrink=0.8)
    return _save(fig, path)
