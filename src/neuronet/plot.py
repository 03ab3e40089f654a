"""Pictures of training: curves per epoch, confusion matrices, decision boundaries, image grids, forecasts;
and of the network: its diagram, its convolution filters, the maps they make of an input, saliency maps,
attention weights, the size of each layer's gradient.

Needs matplotlib (``pip install "neuronet[plot]"``). Every function returns a
matplotlib Figure and, given ``path``, also writes it as a PNG of exactly
``size`` inches at ``dpi`` dots per inch. No window is ever opened: figures are
drawn off-screen, so this works on servers and in CI.
"""

from __future__ import annotations

import math
import os

import numpy as np

from . import diagram, probes
from .layers.attention import MultiHeadAttention
from .layers.conv import Conv1D, Conv2D, Conv2DTranspose
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


# -- what a network is and what it learned -----------------------------------------------------------------
def model_diagram(model, path=None, dpi: int = 100) -> str:
    """A diagram of ``model``'s layers (name, class, output shape, parameter count) and the arrows between them,
    graph models included (``neuronet.diagram`` lays it out); returns it as SVG text.

    ``path`` ending in ``.svg`` gets that text (no Graphviz, no matplotlib needed); ending in ``.png``, the same
    layout drawn through matplotlib at ``dpi`` (one px of the SVG is one dot at 100).
    """
    drawn = diagram.layout(model)
    text = diagram.svg(drawn)
    if path is None:
        return text
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".svg":
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    elif suffix == ".png":
        try:
            figure = require_matplotlib()
        except ImportError:
            raise ImportError(
                'model_diagram draws a PNG through matplotlib: pip install "neuronet[plot]", or write an SVG '
                "(a path ending in .svg), which needs nothing more"
            ) from None
        _draw_layout(drawn, figure, dpi).savefig(path, dpi=dpi, format="png")
    else:
        raise ValueError(f"model_diagram writes .svg or .png files, got {path!r}: end the name in .svg or .png")
    return text


def _draw_layout(drawn, figure, dpi: int):
    """A diagram's layout (``diagram.Layout``) as a matplotlib Figure, box for box and arrow for arrow."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path

    fig = figure(figsize=(drawn.width / 100, drawn.height / 100), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, drawn.width)
    ax.set_ylim(drawn.height, 0)  # y down, as in the SVG
    ax.axis("off")
    points = diagram.FONT_SIZE * 72 / 100  # the SVG's px as points at 100 dpi
    for b in drawn.boxes:
        ax.add_patch(
            FancyBboxPatch(
                (b.x, b.y), b.width, b.height, boxstyle="round,pad=0,rounding_size=5", facecolor=b.fill,
                edgecolor="#333333", linewidth=2 if b.output else 0.8,
            )
        )  # fmt: skip
        for n, line in enumerate(b.lines):
            y = b.y + diagram.PAD + diagram.FONT_SIZE + n * diagram.LINE_HEIGHT - 2
            ax.text(b.x + diagram.PAD, y, line, family="monospace", size=points, weight="bold" if n == 0 else None)
    for a in drawn.arrows:
        codes = [Path.MOVETO] + [Path.LINETO] * (len(a.points) - 1)
        ax.add_patch(
            FancyArrowPatch(path=Path(a.points, codes), arrowstyle="-|>", mutation_scale=10, color="#555555", lw=1)
        )
    return fig


def conv_filters(layer, path=None, max_filters: int = 32, dpi: int = 100):
    """The kernels of a ``Conv2D`` layer as small images, the first ``max_filters`` filters, on one colour scale
    centred on 0 (red positive, blue negative): what pattern each filter answers. A layer of one input channel
    shows a grid of its filters; of several, a row per input channel and a column per filter."""
    if not isinstance(layer, Conv2D) or isinstance(layer, Conv1D) or not layer.built:
        raise ValueError(
            f"conv_filters draws a built Conv2D layer's kernels, got {type(layer).__name__}"
            + (" not built yet: run the model on data first" if isinstance(layer, Conv2D) else "")
        )
    kernels = np.asarray(layer.ops.to_numpy(layer.weights.data), dtype=float)[..., :max_filters]  # (kh, kw, c, f)
    kh, kw, channels, filters = kernels.shape
    if channels == 1:  # filter f at row f // cols, column f % cols
        cols = min(filters, 16)
        rows = math.ceil(filters / cols)
        tiles = np.full((rows, cols, kh, kw), np.nan)
        for f in range(filters):
            tiles[f // cols, f % cols] = kernels[:, :, 0, f]
    else:
        rows, cols = channels, filters
        tiles = kernels.transpose(2, 3, 0, 1)  # (channel, filter, kh, kw)
    scale = float(np.abs(kernels).max()) or 1.0
    fig = _figure((0.45 * cols + 1.6, 0.45 * rows + 1.0), dpi)
    ax = fig.subplots()
    colours = _gapped_colormap("RdBu_r")
    image = ax.imshow(_mosaic(tiles), cmap=colours, vmin=-scale, vmax=scale, interpolation="nearest")
    ax.set_xticks((np.arange(cols) * (kw + 1) + (kw - 1) / 2), [str(c) for c in range(cols)], fontsize=7)
    if channels == 1:  # filter number: the row's first plus the column
        at = np.arange(rows) * (kh + 1) + (kh - 1) / 2
        ax.set_yticks(at if rows > 1 else [], [f"{r * cols} +" for r in range(rows)] if rows > 1 else [], fontsize=7)
        ax.set_xlabel("filter")
    else:
        ax.set_yticks(np.arange(rows) * (kh + 1) + (kh - 1) / 2, [f"in {r}" for r in range(rows)], fontsize=7)
        ax.set(xlabel="filter", ylabel="input channel")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.colorbar(image, ax=ax, shrink=0.8, label="weight")
    shown = f"the first {filters} of " if layer.out_channels > filters else ""
    fig.suptitle(f"{layer.name}: {shown}{layer.out_channels} filters of {kh}x{kw}")
    return _save(fig, path)


def _gapped_colormap(name: str):
    """A copy of matplotlib's colour map ``name`` that paints NaN white (the gaps of a :func:`_mosaic`)."""
    from matplotlib import colormaps

    return colormaps[name].with_extremes(bad="white")


def _mosaic(tiles: np.ndarray, gap: int = 1) -> np.ndarray:
    """Tiles (rows, cols, h, w) as one image, ``gap`` pixels of NaN between them: one image draws faster than
    hundreds of axes."""
    rows, cols, h, w = tiles.shape
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan)
    for r in range(rows):
        for c in range(cols):
            out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = tiles[r, c]
    return out


def activation_maps(model, x, path=None, max_channels: int = 32, cols: int = 16, dpi: int = 100):
    """One input's image and the maps each convolution of ``model`` makes of it (``model.layer_outputs``; after
    the layer's activation), the first ``max_channels`` channels of each: where each filter fired."""
    x = np.asarray(x)
    one = x[None] if x.ndim == 3 else x[:1]
    outputs = model.layer_outputs(one)
    convs = {name: out[0] for name, out in outputs.items() if _conv_layer(model, name) and out.ndim == 4}
    if not convs:
        raise ValueError("activation_maps draws the outputs of convolutions (Conv2D), and the model has none")
    per_row = {name: math.ceil(min(out.shape[-1], max_channels) / cols) for name, out in convs.items()}
    rows = 1 + sum(per_row.values())
    fig = _figure((0.75 * cols, 0.85 * rows + 0.4), dpi)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    image = np.asarray(one[0], dtype=float)
    axes[0, 0].imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray_r")
    axes[0, 0].set_title("input", fontsize=7)
    row = 1
    for name, out in convs.items():
        shown = min(out.shape[-1], max_channels)
        for k in range(shown):
            ax = axes[row + k // cols, k % cols]
            ax.imshow(out[..., k], cmap="magma")
            ax.set_title(f"{name} {k}" if k == 0 else str(k), fontsize=7, loc="left" if k == 0 else "center")
        row += per_row[name]
    fig.suptitle("activation maps: " + ", ".join(f"{n} {tuple(o.shape)}" for n, o in convs.items()))
    return _save(fig, path)


def _conv_layer(model, name: str) -> bool:
    """Whether ``name`` (a key of ``layer_outputs``) is the output of a 2-D convolution of ``model``."""
    layer = next((layer for layer in model.layers if layer.name == name.split(":")[0]), None)
    return isinstance(layer, (Conv2D, Conv2DTranspose)) and not isinstance(layer, Conv1D)


def saliency(model, x, path=None, class_index=None, class_names=None, dpi: int = 100):
    """Each image of the batch ``x`` (up to 8) above its saliency map, |d(output c)/dx| with the largest over the
    channels (``probes.saliency``; c the predicted class unless given): the pixels that move that class's
    output most."""
    x = np.asarray(x)[:8]
    grads, chosen = probes.saliency(model, x, class_index)
    probabilities = model.predict(x)
    if x.ndim == 2:  # flat rows of a square image (the digits' 64 pixels), drawn as the image
        side = math.isqrt(x.shape[1])
        if side * side != x.shape[1]:
            raise ValueError(f"saliency draws images or flat rows of a square image, got shape {x.shape[1:]}")
        x, grads = x.reshape(-1, side, side, 1), grads.reshape(-1, side, side, 1)
    elif x.ndim != 4:
        raise ValueError(f"saliency draws images (height, width, channels), got shape {x.shape[1:]}")
    heat = np.abs(grads).max(axis=-1)
    n = len(x)
    fig = _figure((1.6 * n + 0.6, 3.6), dpi)
    axes = fig.subplots(2, n, squeeze=False)
    name = (lambda k: class_names[k]) if class_names else str
    for i in range(n):
        image = x[i, ..., 0] if x.shape[-1] == 1 else x[i]
        axes[0, i].imshow(image, cmap="gray_r")
        axes[0, i].set_title(f"class {name(chosen[i])}\np = {probabilities[i, chosen[i]]:.2f}", fontsize=8)
        axes[1, i].imshow(heat[i], cmap="hot")
        for ax in axes[:, i]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("input")
    axes[1, 0].set_ylabel("|d p / d x|")
    fig.suptitle("saliency: how much each pixel moves the class's probability")
    return _save(fig, path)


def attention(layer, path=None, sample: int = 0, tokens=None, heads=None, title: str | None = None, dpi: int = 100):
    """The attention weights of a ``MultiHeadAttention`` layer (or a ``TransformerEncoder``'s) on its last call,
    one heat map per head (``heads``: which, all by default), query steps down and key steps across
    (``layer.attention_scores``); ``tokens`` labels the steps (a space shown as '\u2423')."""
    held = getattr(layer, "attention", None)
    layer = held if isinstance(held, MultiHeadAttention) else layer
    if not isinstance(layer, MultiHeadAttention):
        raise ValueError(f"attention draws a MultiHeadAttention or TransformerEncoder, got {type(layer).__name__}")
    if layer.attention_scores is None:
        raise ValueError(f"layer '{layer.name}' has not run yet: call model.predict(x) on the input to look at")
    weights = np.asarray(layer.ops.to_numpy(layer.attention_scores), dtype=float)
    if not 0 <= sample < len(weights):
        raise ValueError(f"sample must be 0..{len(weights) - 1} (the last call's batch), got {sample}")
    weights = weights[sample]
    chosen = list(range(len(weights))) if heads is None else list(heads)
    if not chosen or any(not 0 <= h < len(weights) for h in chosen):
        raise ValueError(f"heads must be some of 0..{len(weights) - 1} (the layer's heads), got {heads!r}")
    _, steps_q, steps_k = weights.shape
    labels = None if tokens is None else ["\u2423" if t == " " else str(t) for t in tokens]
    side = 3.2 if labels is None or steps_k <= 16 else 0.2 * steps_k + 1.5
    fig = _figure((side * len(chosen) + 0.8, side + 0.2), dpi)
    axes = fig.subplots(1, len(chosen), squeeze=False)[0]
    for h, ax in zip(chosen, axes):
        image = ax.imshow(weights[h], cmap="viridis", vmin=0, vmax=1)
        ax.set(xlabel="key step", ylabel="query step", title=f"head {h}")
        if labels is not None:
            ax.set_xticks(range(steps_k), labels[:steps_k], rotation=90, fontsize=7)
            ax.set_yticks(range(steps_q), labels[:steps_q], fontsize=7)
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="weight")
    fig.suptitle(title or f"{layer.name}: attention weights, sample {sample}")
    return _save(fig, path)


def gradient_norms(model, x, y, path=None, dpi: int = 100):
    """The size of each layer's gradient on the batch ``(x, y)`` (``probes.batch_gradient_norms``), against
    the size of its weights, on a log scale: gradients that fade towards the input (vanishing) or grow
    (exploding) show as a slope across the layers."""
    norms = probes.batch_gradient_norms(model, x, y)
    sizes = {layer.name: _weight_norm(layer) for layer in model.layers if layer.name in norms}
    names = list(norms)
    fig = _figure((max(5.0, 0.7 * len(names) + 2), 4.0), dpi)
    ax = fig.subplots()
    at = np.arange(len(names))
    ax.bar(at - 0.2, [norms[n] for n in names], 0.4, label="|gradient|", color="tab:red")
    ax.bar(at + 0.2, [sizes[n] for n in names], 0.4, label="|weights|", color="tab:blue")
    ax.set_yscale("log")
    ax.set_xticks(at, names, rotation=45 if len(names) > 4 else 0, ha="right" if len(names) > 4 else "center")
    ax.set_xlabel("layer (input side left)")
    ax.set_title(f"each layer's gradient on a batch of {len(np.asarray(y))}, and its weights")
    ax.grid(alpha=0.3, axis="y")
    ax.legend()
    return _save(fig, path)


def _weight_norm(layer) -> float:
    """The Euclidean norm of all of a layer's parameters together."""
    return float(np.sqrt(sum(float((layer.ops.to_numpy(p.data) ** 2).sum()) for p in layer.parameters())))


def learning_rate_sweep(learning_rates, losses, suggestion: float | None = None, path=None, size=(6.0, 4.0), dpi=100):
    """The learning-rate finder's curve (``model.find_learning_rate``): the smoothed loss against the rate on a
    log axis, the suggested rate marked."""
    fig = _figure(size, dpi)
    ax = fig.subplots()
    ax.plot(np.asarray(learning_rates), np.asarray(losses), color="tab:blue")
    ax.set_xscale("log")
    if suggestion is not None:
        ax.axvline(suggestion, color="tab:red", linestyle="--", linewidth=1, label=f"suggestion {suggestion:.2g}")
        ax.legend()
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss (smoothed)")
    ax.grid(alpha=0.3, which="both")
    return _save(fig, path)
