"""A model's diagram: its layers as boxes (name, class, output shape, parameter count) and the graph's edges as
arrows, laid out in rows by depth, written as SVG text with no Graphviz.

``layout(model)`` places the boxes and routes the arrows; ``svg(layout)`` writes them as an SVG document
(``nn.plot.model_diagram`` writes that, or draws the same layout with matplotlib for a PNG).

- A node's depth is the longest path to it from an input: inputs in the top row, each layer one row below
  the deepest layer it reads. Within a row the boxes are ordered by where their parents stand (the mean of
  their columns), so that arrows cross little.
- An arrow between adjacent rows runs down, across in the gap between the rows, and down again. An arrow
  that skips rows (a residual connection) runs in a lane to the right of every box, so it crosses none;
  arrows whose spans overlap take separate lanes.
- There is one box per node of the graph, as the graph records it: a shared layer called twice has two
  boxes, the second marked as sharing the first's parameters. There is one arrow per edge: a layer called on
  [a, a] gets two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

CHAR_WIDTH = 7.2  # px of a character at FONT_SIZE in a monospace font (0.6 em)
FONT_SIZE = 12  # px
LINE_HEIGHT = 16  # px
PAD = 10  # px inside a box, around its text
ROW_GAP = 48  # px between rows of boxes: room for the arrows' turns
COLUMN_GAP = 28  # px between boxes of a row
LANE_GAP = 14  # px between the lanes of the arrows that skip rows
MARGIN = 20  # px around the drawing

# box fills by the layer's kind, the first class-name fragment that matches
FILLS = (
    ("Conv", "#dbe9f6"),
    ("Pool", "#dff0d8"),
    ("Dense", "#fde7cf"),
    ("Normalization", "#e8e0f3"),
    ("Attention", "#fbe0e6"),
    ("Transformer", "#fbe0e6"),
    ("Embedding", "#fff6cc"),
    ("LSTM", "#d9f2ee"),
    ("GRU", "#d9f2ee"),
    ("RNN", "#d9f2ee"),
)
INPUT_FILL, MERGE_FILL, OTHER_FILL = "#ffffff", "#fff2b3", "#eeeeee"


@dataclass
class Box:
    """One node of the graph: ``label`` names it (an input's or a layer's name; a shared layer's later calls
    "<name>:1", ...), ``lines`` is its text; ``x``, ``y`` its top-left corner in px."""

    label: str
    lines: list[str]
    fill: str
    is_input: bool
    output: bool
    x: float = 0.0
    y: float = 0.0
    width: float = 0.0
    height: float = 0.0


@dataclass
class Arrow:
    """One edge of the graph, from box ``source`` to box ``target`` (labels), along ``points`` (px)."""

    source: str
    target: str
    points: list[tuple[float, float]]


@dataclass
class Layout:
    """The boxes and arrows of a diagram, and its size in px."""

    title: str
    boxes: list[Box] = field(default_factory=list)
    arrows: list[Arrow] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0


def layout(model) -> Layout:
    """The diagram of ``model`` (a Sequential or a graph model): see the module's docstring."""
    graph = model.graph
    if graph is None:
        raise ValueError("model_diagram: the model has no layers yet; add some first")
    shapes = graph.shapes(model.known_input_shapes())
    calls: dict[str, int] = {}
    several = len(graph.output_slots) > 1
    boxes = [
        box(node, shapes[i], calls, [k for k, s in enumerate(graph.output_slots) if s == i], several)
        for i, node in enumerate(graph.nodes)
    ]
    depth = [0] * len(graph.nodes)
    for i, parents in enumerate(graph.parents):
        depth[i] = 1 + max((depth[p] for p in parents), default=-1)
    rows: list[list[int]] = [[] for _ in range(max(depth) + 1)]
    for i in range(len(graph.nodes)):
        rows[depth[i]].append(i)
    column: dict[int, float] = {}
    for row in rows:  # each box under the mean of its parents' columns, ties in the graph's order
        row.sort(key=lambda i: (sum(column[p] for p in graph.parents[i]) / max(len(graph.parents[i]), 1), i))
        for k, i in enumerate(row):
            column[i] = k - (len(row) - 1) / 2
    place(boxes, rows)
    result = Layout(f'{model.kind} "{type(model).__name__}"', boxes)
    right = max(b.x + b.width for b in boxes)
    lanes: list[float] = []  # the lowest point each lane is used down to
    for i, parents in enumerate(graph.parents):
        target = boxes[i]
        for k, p in enumerate(parents):
            source = boxes[p]
            start = (port(boxes, graph, p, i, k), source.y + source.height)
            end = (target.x + target.width * (k + 1) / (len(parents) + 1), target.y)
            if depth[i] - depth[p] == 1:
                middle = start[1] + ROW_GAP / 2
                points = [start, (start[0], middle), (end[0], middle), end]
            else:
                top, bottom = start[1] + ROW_GAP / 3, end[1] - ROW_GAP / 3
                lane = next((n for n, low in enumerate(lanes) if low < top), len(lanes))
                lanes[lane : lane + 1] = [bottom]
                x = right + LANE_GAP * (lane + 1)
                points = [start, (start[0], top), (x, top), (x, bottom), (end[0], bottom), end]
            result.arrows.append(Arrow(source.label, target.label, points))
    result.width = right + LANE_GAP * (len(lanes) + 1) + MARGIN
    result.height = max(b.y + b.height for b in boxes) + MARGIN
    return result


def box(node, shape, calls: dict, outputs: list[int], several: bool) -> Box:
    """The box of ``node``; ``calls`` counts each layer's calls so far (a shared layer's later calls are
    labelled "<name>:1", ... and show no parameters of their own), ``outputs`` the model's outputs it is
    (numbered where there are ``several``)."""
    shown = "?" if shape is None else str(tuple(shape))
    if node.is_input:
        return Box(node.name, [f"{node.name} (Input)", f"shape {shown}", "the model's input"], INPUT_FILL, True, False)
    layer = node.layer
    k = calls[layer.name] = calls.get(layer.name, -1) + 1
    label = layer.name if k == 0 else f"{layer.name}:{k}"
    if k > 0:
        params = f"parameters shared with {layer.name}"
    elif not layer.built:
        params = "? parameters (built by the first batch)"
    else:
        params = f"{sum(p.data.size for p in layer.parameters()):,} parameters"
    if outputs:
        params += " · " + (", ".join(f"output {o}" for o in outputs) if several else "the output")
    name = type(layer).__name__
    fill = MERGE_FILL if layer.takes_list else next((f for part, f in FILLS if part in name), OTHER_FILL)
    return Box(label, [f"{label} ({name})", f"output {shown}", params], fill, False, bool(outputs))


def place(boxes: list[Box], rows: list[list[int]]) -> None:
    """Size each box to its text and set it in its row, the rows centred on one another."""
    for b in boxes:
        b.width = max(len(line) for line in b.lines) * CHAR_WIDTH + 2 * PAD
        b.height = len(b.lines) * LINE_HEIGHT + 2 * PAD - (LINE_HEIGHT - FONT_SIZE)
    spans = [sum(boxes[i].width for i in row) + COLUMN_GAP * (len(row) - 1) for row in rows]
    centre = MARGIN + max(spans) / 2
    y = MARGIN
    for row, span in zip(rows, spans):
        x = centre - span / 2
        for i in row:
            boxes[i].x, boxes[i].y = x, y
            x += boxes[i].width + COLUMN_GAP
        y += max(boxes[i].height for i in row) + ROW_GAP


def port(boxes: list[Box], graph, p: int, i: int, k: int) -> float:
    """Where the arrow from node ``p`` to node ``i`` (its ``k``-th parent) leaves ``p``'s box: the arrows leaving
    a box spread along its bottom edge in the order of their targets from left to right."""
    readers = [(j, n) for j, parents in enumerate(graph.parents) for n, q in enumerate(parents) if q == p]
    readers.sort(key=lambda r: (boxes[r[0]].x, r))
    source = boxes[p]
    return source.x + source.width * (readers.index((i, k)) + 1) / (len(readers) + 1)


def svg(drawn: Layout) -> str:
    """The SVG document of a layout: a ``<g class="layer">`` (``class="input"`` for an input) per box with its
    ``data-name``, a ``<path class="edge">`` per arrow with ``data-from`` and ``data-to``."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{drawn.width:.0f}" height="{drawn.height:.0f}" '
        f'viewBox="0 0 {drawn.width:.0f} {drawn.height:.0f}" font-family="monospace" font-size="{FONT_SIZE}">',
        f"<title>{escape(drawn.title)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555555"/></marker></defs>',
        '<rect width="100%" height="100%" fill="#ffffff"/>',
    ]
    for b in drawn.boxes:
        out.append(f'<g class="{"input" if b.is_input else "layer"}" data-name="{escape(b.label)}">')
        out.append(
            f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.width:.1f}" height="{b.height:.1f}" rx="5" '
            f'fill="{b.fill}" stroke="#333333" stroke-width="{2.5 if b.output else 1}"/>'
        )
        for n, line in enumerate(b.lines):
            y = b.y + PAD + FONT_SIZE + n * LINE_HEIGHT - 2
            weight = ' font-weight="bold"' if n == 0 else ""
            out.append(f'<text x="{b.x + PAD:.1f}" y="{y:.1f}"{weight}>{escape(line)}</text>')
        out.append("</g>")
    for a in drawn.arrows:
        d = " ".join(f"{'M' if n == 0 else 'L'} {x:.1f} {y:.1f}" for n, (x, y) in enumerate(a.points))
        out.append(
            f'<path class="edge" data-from="{escape(a.source)}" data-to="{escape(a.target)}" d="{d}" fill="none" '
            'stroke="#555555" stroke-width="1.3" marker-end="url(#arrow)"/>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"
