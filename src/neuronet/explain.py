"""One training step explained: a self-contained HTML page of what every layer computed on one batch.

``model.explain_step(x, y, "step.html")`` takes the step the plain training
step takes (``steps.PlainStep``: forward, loss, backward, penalties) with the
model's graph watched (``Graph.watch``): the graph hands this module's
:class:`Record` each call's inputs and output in the forward pass and the
gradient it received and sent back in the backward pass, the very arrays the
passes make (copied as they are made: a later layer may reuse a buffer). A
watched graph runs its layers one by one, unfused, so every layer is seen.
The update is the compiled optimizer's, taken on copies of the flat
parameter buffer and of the optimizer's state; afterwards the weights,
layer states, gradients and random stream are put back as they were.

The page holds, per layer in the graph's order: its formula (the Forward and
Backward lines of its docstring), what feeds it, the shapes, the values
forward, the gradients backward, and for each parameter its values, gradient
and update. Matrices are small heatmaps (an HTML table, each cell's index and
value on hover); a large array is shown by its shape, statistics, a heatmap
of a corner (said so) and a sample of entries with their indices. Every
number shown is also in a JSON block (``<script type="application/json"
id="neuronet-step">``, data a browser does not run) with full precision, for
a program to read. Nothing is loaded from the network; no script runs.
"""

from __future__ import annotations

import copy
import html
import inspect
import json
import math

import numpy as np

from . import checks, steps
from .layers.base import Layer
from .parameter import Parameter
from .saving import atomic_write_bytes
from .several import listed

FULL_VALUES = 256  # an array of at most this many entries is written out whole in the JSON block
SAMPLE_SIZE = 16  # else: these many entries, with their indices
MAX_COLUMNS = 32  # a heatmap panel's most columns
MAX_CELLS = 512  # a heatmap's most cells, over all its panels
MAX_PANELS = 8  # channels (or filters) drawn as panels of their own
LEVELS = 5  # colour steps on each side of zero
# RdBu, blue for negative to red for positive, white at zero
COLOURS = (
    "#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#ffffff",
    "#fddbc7", "#f4a582", "#d6604d", "#b2182b", "#67001f",
)  # fmt: skip


class Record:
    """What the passes of one step handed the watched graph (see the module's docstring), on the host."""

    def __init__(self, to_numpy) -> None:
        self.to_numpy = to_numpy
        self.calls: list = []  # the graph's calls in the order the forward pass ran them
        self.inputs: dict[int, list] = {}  # by the call's target node: its inputs' values
        self.outputs: dict[int, np.ndarray] = {}  # its output's
        self.received: dict[int, np.ndarray] = {}  # the gradient the backward pass gave it
        self.sent: dict[int, list] = {}  # the gradient it sent to each of its sources (None: not computed)

    def host(self, a) -> np.ndarray | None:
        return None if a is None else np.array(self.to_numpy(a), copy=True)

    def forward(self, call, x, y) -> None:
        self.calls.append(call)
        self.inputs[call.target] = [self.host(v) for v in (x if call.several else [x])]
        self.outputs[call.target] = self.host(y)

    def backward(self, call, dy, dx) -> None:
        self.received[call.target] = self.host(dy)
        given = dx if call.several else [dx]
        self.sent[call.target] = [self.host(d) for d in given] if dx is not None else [None] * len(call.sources)


class TakenStep:
    """One training step taken and put back: the record of its passes, its loss, every parameter's values,
    gradient and values after the update."""

    def __init__(self, model, x, y) -> None:
        weights = model.get_weights()
        params = model.parameters()
        grads = [p.grad.copy() for p in params]  # (where they are: put back as they were)
        rng = model.ops.rng
        stream = rng.bit_generator.state  # dropout and augmentation draw from it: the step's draws are put back
        self.record = Record(model.ops.to_numpy)
        graph = model.graph
        try:
            graph.watch = self.record
            try:
                step = steps.PlainStep(model)
                self.data_loss, _ = step.data_gradients(x, y)
                self.penalty = model.add_regularization_gradients()
            finally:
                graph.watch = None
            flat = model.flat_parameter()
            host = model.ops.to_numpy
            self.before = {id(p): np.array(host(p.data), copy=True) for p in params}
            self.grads = {id(p): np.array(host(p.grad), copy=True) for p in params}
            self.after = {}
            if flat is not None:
                for p, piece in zip(flat.members, flat.pieces(updated(model, flat))):
                    self.after[id(p)] = np.array(host(piece), copy=True)
        finally:
            model.set_weights(weights)
            for p, g in zip(params, grads):
                p.grad[...] = g
            rng.bit_generator.state = stream


def updated(model, flat: Parameter):
    """The flat buffer's values after the compiled optimizer's step from its gradient, taken on copies of the
    buffer and of the optimizer's state (its step count, momenta, running averages stay as they are), each
    parameter's constraint applied after it as ``model.apply_gradients`` does."""
    twin = copy.copy(model.optimizer)
    trial = Parameter(flat.data.copy(), ops=model.ops, dtype=flat.data.dtype)
    trial.grad = flat.grad.copy()
    kept = model.optimizer.state.get(flat)
    twin.state = {} if kept is None else {trial: {name: values.copy() for name, values in kept.items()}}
    twin.step([trial], model.ops)
    for p, piece in zip(flat.members, flat.pieces(trial.data)):
        if p.constraint is not None:
            p.constraint(piece)
    return trial.data


def write_step(model, x, y, path) -> str:
    """Take one training step of ``model`` on ``x``, ``y`` without keeping it and write the page that shows it
    to ``path`` (see the module's docstring); return the path."""
    path = checks.file_path(path, "path")
    if model.optimizer is None or model.loss is None:
        raise RuntimeError("call model.compile(loss=..., optimizer=...) before explain_step: it shows a training step")
    x, y = model.check_data(x, y)
    least = model.min_batch()
    if len(listed(x)[0]) < least:
        raise checks.ArgumentError(
            f"explain_step needs a batch of at least {least} samples here (BatchNormalization normalises over the "
            f"batch), got {len(listed(x)[0])}"
        )
    step = TakenStep(model, x, y)
    atomic_write_bytes(path, page(model, listed(x), listed(y), step).encode("utf-8"))
    return path


# -- the page ------------------------------------------------------------------------------------------
def page(model, xs: list, ys: list, step: TakenStep) -> str:
    """The HTML of the page of ``step`` on the inputs ``xs`` and targets ``ys``."""
    record, opt = step.record, model.optimizer
    data = {
        "model": type(model).__name__,
        "optimizer": {"class": type(opt).__name__, **opt.get_config(), "steps_taken": opt.iterations},
        "learning_rate": opt.current_learning_rate,
        "loss": {"data": step.data_loss, "penalties": step.penalty, "total": step.data_loss + step.penalty},
        "losses": [type(loss).__name__ for loss in model.losses],
        "inputs": [entries(np.asarray(v)) for v in xs],
        "targets": [entries(np.asarray(v)) for v in ys],
        "calls": [],
    }
    body = [intro(model, xs, ys, step)]
    seen_params: set[int] = set()
    for k, call in enumerate(record.calls):
        section, entry = call_section(model, k, call, step, seen_params)
        body.append(section)
        data["calls"].append(entry)
    body.append(loss_section(model, step))
    block = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>One training step of {html.escape(type(model).__name__)}</title><style>{CSS}</style></head><body>"
        + "".join(body)
        + f'<script type="application/json" id="neuronet-step">{block}</script></body></html>\n'
    )


CSS = (
    "body{font-family:sans-serif;max-width:70em;margin:1em auto;padding:0 1em;color:#222}"
    "section{border-top:2px solid #ccc;margin-top:1.5em;padding-top:.5em}"
    "pre{background:#f6f6f6;padding:.5em;overflow-x:auto;font-size:90%}"
    ".arr{display:inline-block;vertical-align:top;margin:.3em 1.2em .3em 0}"
    ".stats{font-size:85%;color:#555}.note{font-size:90%;color:#444}"
    "table.hm{border-collapse:collapse;margin:.2em .6em .2em 0;display:inline-table}"
    "table.hm td{width:9px;height:9px;padding:0;border:0}"
    "table.sample{font-size:80%;border-collapse:collapse}table.sample td{padding:0 .5em;font-family:monospace}"
    ".panel{display:inline-block;vertical-align:top;font-size:75%;color:#555;margin-right:.5em}"
    ".panel table{display:table}"
    ".nan{background:#0c0}" + "".join(f".c{k}{{background:{c}}}" for k, c in enumerate(COLOURS))
)


def intro(model, xs, ys, step: TakenStep) -> str:
    opt = model.optimizer
    settings = ", ".join(f"{k}={v}" for k, v in opt.get_config().items() if v is not None)
    losses = ", ".join(type(loss).__name__ for loss in model.losses)
    parts = [
        f"<h1>One training step of this {html.escape(type(model).__name__)}</h1>",
        "<p>The step <code>fit</code> takes on a batch, on this batch of "
        f"{len(xs[0])} samples, shown layer by layer: the forward pass computes each layer's output from its "
        "input (top to bottom), the loss compares the last output with the targets, the backward pass sends "
        "dL/d(output) back through each layer (bottom to top: read the gradients from the loss upwards), each "
        "parameter gets its gradient dL/dw, and the optimizer turns the gradients into the update. Nothing was "
        "kept: the model's weights and its optimizer's state are as they were.</p>",
        f"<p>Loss: {html.escape(losses)}. Optimizer: {type(opt).__name__}({html.escape(settings)}), "
        f"{opt.iterations} step{'' if opt.iterations == 1 else 's'} taken before this one, learning rate now "
        f"{fmt(opt.current_learning_rate)}. "
        f"Loss on this batch: <b>{fmt(step.data_loss)}</b>"
        + (f" + penalties {fmt(step.penalty)}" if step.penalty else "")
        + ".</p>",
        "<p class=note>Heatmaps: red positive, blue negative, white zero, the colour scale set by the array's "
        "largest magnitude; hover over a cell for its index and value. Large arrays show a corner (said so), "
        "statistics over all their entries and a sample of entries with their indices. Every number is also in "
        'the page\'s JSON block <code>id="neuronet-step"</code> at full precision.</p>',
        "<h2>The batch</h2>",
    ]
    for k, v in enumerate(xs):
        parts.append(array_block(f"input {k}" if len(xs) > 1 else "input x", np.asarray(v), batch=True))
    for k, v in enumerate(ys):
        parts.append(array_block(f"targets {k}" if len(ys) > 1 else "targets y", np.asarray(v), batch=True))
    return "".join(parts)


def call_section(model, k: int, call, step: TakenStep, seen_params: set) -> tuple[str, dict]:
    """The section of one call of a layer and its JSON entry."""
    graph, record = model.graph, step.record
    layer = call.layer
    uses = [c for c in record.calls if c.layer is layer]
    name = layer.name + (f" (call {uses.index(call) + 1} of {len(uses)})" if len(uses) > 1 else "")
    fed_by = [node_name(graph, s) for s in call.sources]
    inputs, output = record.inputs[call.target], record.outputs[call.target]
    received, sent = record.received.get(call.target), record.sent.get(call.target)
    entry = {
        "index": k,
        "layer": layer.name,
        "class": type(layer).__name__,
        "fed_by": fed_by,
        "input_shapes": [list(v.shape) for v in inputs],
        "output_shape": list(output.shape),
        "inputs": [entries(v) if graph.nodes[s].is_input else None for v, s in zip(inputs, call.sources)],
        "output": entries(output),
        "head": bool(call.head),
        "grad_output": None if received is None else entries(received),
        "grad_inputs": [None if d is None else entries(d) for d in sent] if sent is not None else None,
        "parameters": [],
    }
    shapes = ", ".join(shape_text(v.shape) for v in inputs)
    parts = [
        f"<section id=layer-{k}><h2>{k + 1}. {html.escape(name)} <small>({type(layer).__name__})</small></h2>",
        f"<p>Fed by: {html.escape(', '.join(fed_by))}. Input {shapes} &rarr; output {shape_text(output.shape)}.</p>",
        f"<pre>{html.escape(formula(layer))}</pre>",
        "<h3>Forward</h3>",
    ]
    for v, s in zip(inputs, call.sources):
        if graph.nodes[s].is_input:
            parts.append(array_block(f"input: {node_name(graph, s)}", v, batch=True))
    parts.append(array_block("output", output, batch=True))
    parts.append("<h3>Backward</h3>")
    if received is None:
        parts.append("<p class=note>No gradient reached this layer: its output feeds no loss.</p>")
    else:
        title = "dL/d(output)"
        if call.head:
            title = "dL/dz, z the scores before the activation"
            parts.append(
                "<p class=note>The loss absorbs this layer's last activation (softmax with cross-entropy, or sigmoid "
                "with binary cross-entropy): it gives the gradient with respect to the scores before it, (p - y) / n, "
                "and the backward pass starts there, past the activation's own backward.</p>"
            )
        parts.append(array_block(title, received, batch=True))
        for d, source in zip(sent, call.sources):
            label = f"dL/d(input) sent to {node_name(graph, source)}"
            if d is None:
                parts.append(f"<p class=note>{html.escape(label)}: not computed (a model's input needs none).</p>")
            else:
                parts.append(array_block(label, d, batch=True, heatmap=False))
    params = [(path, p) for path, p in layer.named_parameters().items() if id(p) not in seen_params]
    if params:
        parts.append("<h3>Parameters and their update</h3>")
    for path, p in params:
        seen_params.add(id(p))
        before, grad = step.before[id(p)], step.grads[id(p)]
        after = step.after.get(id(p), before)
        change = after - before
        entry["parameters"].append(
            {
                "name": path,
                "shape": list(before.shape),
                "value": entries(before),
                "grad": entries(grad),
                "update": entries(change),
                "new_value": entries(after),
            }
        )
        parts.append(f"<h4>{html.escape(path)} {shape_text(before.shape)}</h4>")
        parts.append(array_block("value w", before, batch=False))
        parts.append(array_block("gradient dL/dw", grad, batch=False))
        parts.append(array_block("update (w after minus w before)", change, batch=False))
    parts.append("</section>")
    return "".join(parts), entry


def loss_section(model, step: TakenStep) -> str:
    docs = "\n\n".join(f"{type(loss).__name__}: {inspect.getdoc(type(loss)) or ''}" for loss in model.losses)
    penalty = f" + penalties {fmt(step.penalty)} = {fmt(step.data_loss + step.penalty)}" if step.penalty else ""
    return (
        f"<section id=loss><h2>The loss</h2><pre>{html.escape(docs)}</pre>"
        f"<p>L = <b>{fmt(step.data_loss)}</b>{penalty} on this batch. Its gradient starts the backward pass at the "
        "last layer's section.</p></section>"
    )


def node_name(graph, slot: int) -> str:
    node = graph.nodes[slot]
    return f"the model's input '{node.name}'" if node.is_input else node.layer.name


def formula(layer: Layer) -> str:
    """The Forward and Backward lines of the layer's docstring (from the first Forward line to the end of the
    paragraph of the first Backward line; the whole docstring where it has none), and its activation's."""
    text = doc_formula(type(layer))
    activation = getattr(layer, "activation", None)
    if isinstance(activation, Layer):
        text += f"\n\nact = {activation.default_name}:\n" + doc_formula(type(activation))
    return text


def doc_formula(cls) -> str:
    lines = (inspect.getdoc(cls) or cls.__name__).splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("Forward")), None)
    if start is None:
        return "\n".join(lines)
    back = next((i for i in range(start, len(lines)) if lines[i].lstrip().startswith("Backward")), start)
    end = next((i for i in range(back, len(lines)) if not lines[i].strip()), len(lines))
    return "\n".join(lines[start:end])


# -- arrays: JSON entries, heatmaps, statistics ----------------------------------------------------------
def entries(a: np.ndarray) -> dict:
    """An array for the JSON block: its shape, statistics, and every entry (C order) if it is small, else a
    sample of entries with their indices."""
    result = {"shape": list(a.shape), "dtype": str(a.dtype), **statistics(a)}
    if a.size <= FULL_VALUES:
        result["values"] = [number(v) for v in a.ravel()]
    else:
        result["sample"] = [[list(map(int, np.unravel_index(i, a.shape))), number(a.flat[i])] for i in sample(a)]
    return result


def number(v):
    """An entry as JSON takes it: a whole number, or the float (exactly: a float32 widens to float64 exactly)."""
    return int(v) if np.issubdtype(type(v), np.integer) or isinstance(v, (bool, np.bool_)) else float(v)


def statistics(a: np.ndarray) -> dict:
    if a.size == 0:
        return {}
    w = a.astype(np.float64)
    return {
        "min": float(w.min()),
        "max": float(w.max()),
        "mean": float(w.mean()),
        "std": float(w.std()),
        "norm": float(np.sqrt(np.vdot(w, w))),
        "zeros": float(np.count_nonzero(w == 0) / w.size),
    }


def sample(a: np.ndarray) -> list[int]:
    """Flat indices of a few entries: the smallest, the largest, the largest in magnitude, and evenly spaced
    ones."""
    w = np.abs(a.astype(np.float64, copy=False)).ravel()
    picked = [int(np.argmin(a)), int(np.argmax(a)), int(np.argmax(np.nan_to_num(w, nan=-1.0)))]
    picked += [int(i) for i in np.linspace(0, a.size - 1, SAMPLE_SIZE - 3)]
    return list(dict.fromkeys(picked))


def fmt(v) -> str:
    return f"{v:.7g}"


def shape_text(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ")"


def array_block(title: str, a: np.ndarray, batch: bool, heatmap: bool = True) -> str:
    """An array shown: its title and shape, statistics, a heatmap, and (large ones) a sample of entries."""
    stats = statistics(a)
    parts = [f"<div class=arr><b>{html.escape(title)}</b> {shape_text(a.shape)} {a.dtype}"]
    if stats:
        shown = ", ".join(f"{k} {fmt(stats[k])}" for k in ("min", "max", "mean", "std", "norm"))
        parts.append(f"<div class=stats>{shown}, zeros {stats['zeros']:.1%}</div>")
    if heatmap and a.size:
        parts.append(heatmap_html(a, batch))
    if a.size > FULL_VALUES or not heatmap:
        rows = "".join(
            f"<tr><td>{list(map(int, np.unravel_index(i, a.shape)))}</td><td>{fmt(number(a.flat[i]))}</td></tr>"
            for i in sample(a)
        )
        parts.append(f"<details><summary>sample of entries</summary><table class=sample>{rows}</table></details>")
    parts.append("</div>")
    return "".join(parts)


def panels(a: np.ndarray, batch: bool) -> list[tuple[str, np.ndarray]]:
    """The array as 2-D panels of flat indices into it: a matrix as itself, a batch of sequences as the first
    sample's (steps x features), a batch of images as the first sample's channels, a convolution kernel as its
    filters on the first input channel; the panels for one title each."""
    ids = np.arange(a.size).reshape(a.shape)
    if a.ndim == 0:
        return [("", ids.reshape(1, 1))]
    if a.ndim == 1:
        return [("", ids.reshape(1, -1))]
    if a.ndim == 2:
        return [("rows: samples" if batch else "", ids)]
    if batch and a.ndim == 4:
        return [(f"sample 0, channel {c}", ids[0, :, :, c]) for c in range(min(a.shape[3], MAX_PANELS))]
    if not batch and a.ndim == 4:
        return [(f"filter {f}, input channel 0", ids[:, :, 0, f]) for f in range(min(a.shape[3], MAX_PANELS))]
    if batch:
        first = ids[0]
        return [("sample 0", first.reshape(-1, first.shape[-1]))]
    return [("rows: all axes but the last", ids.reshape(-1, a.shape[-1]))]


def heatmap_html(a: np.ndarray, batch: bool) -> str:
    """The panels of ``a`` as tables of coloured cells (their corners, up to ``MAX_CELLS`` cells in all), each
    cell's index and value in its title."""
    views = panels(a, batch)
    w = a.astype(np.float64, copy=False)
    finite = w[np.isfinite(w)]
    scale = float(np.abs(finite).max()) if finite.size else 0.0
    budget = max(1, MAX_CELLS // len(views))
    out = []
    for label, ids in views:
        cols = min(ids.shape[1], MAX_COLUMNS)
        rows = min(ids.shape[0], max(1, budget // cols))
        corner = ids[:rows, :cols]
        cut = rows < ids.shape[0] or cols < ids.shape[1]
        notes = [label] if label else []
        if cut:
            notes.append(f"the first {rows} of {ids.shape[0]} rows, {cols} of {ids.shape[1]} columns")
        table = "".join("<tr>" + "".join(cell(a, w, int(i), scale) for i in row) + "</tr>" for row in corner)
        out.append(f"<div class=panel>{html.escape('; '.join(notes))}<table class=hm>{table}</table></div>")
    return "<div>" + "".join(out) + "</div>"


def cell(a: np.ndarray, w: np.ndarray, i: int, scale: float) -> str:
    v = w.flat[i]
    index = ",".join(map(str, np.unravel_index(i, a.shape)))
    level = f"c{LEVELS + round(LEVELS * v / scale) if scale else LEVELS}" if math.isfinite(v) else "nan"
    return f'<td class={level} title="[{index}] {fmt(number(a.flat[i]))}"></td>'
