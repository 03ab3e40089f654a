"""A model's summary: a table of its layers in the order they run, the shape each makes, its parameter count
and the layers that feed it (as Keras's functional models show them)."""

from __future__ import annotations


def table(model) -> str:
    """The summary of ``model`` as text (``model.summary()`` prints it).

    Shapes follow from the inputs' shapes (``nn.Input``, ``input_shape=``, a first layer that fixes its input,
    or the data the model last saw); before any of these, they show as "?".
    """
    graph = model.graph
    # a graph that is no chain shows which layers feed each layer
    several = graph is not None and (
        len(graph.inputs) > 1 or any(len(p) > 1 for p in graph.parents) or any(r > 1 for r in graph.readers)
    )
    header = ("Layer (type)", "Output Shape", "Param #", *(("Fed by",) if several else ()))
    rows = []
    if graph is not None:
        known = graph.shapes(model.known_input_shapes())
        for slot in graph.input_slots:
            node = graph.nodes[slot]
            if several:
                rows.append((f"{node.name} (Input)", shown(known[slot]), "0", ""))
        counted = set()
        for i, node in enumerate(graph.nodes):
            if node.is_input:
                continue
            layer, parents, shape = node.layer, graph.parents[i], known[i]
            count = 0 if id(layer) in counted else sum(p.data.size for p in layer.parameters())
            counted.add(id(layer))
            row = (f"{layer.name} ({type(layer).__name__})", shown(shape), f"{count:,}")
            rows.append((*row, ", ".join(name(graph.nodes[p]) for p in parents)) if several else row)
    widths = [max(len(r[i]) for r in [header, *rows]) + 2 for i in range(len(header))]
    line = "".join(h.ljust(w) for h, w in zip(header, widths))
    rule = "=" * len(line)
    body = ["".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    total = sum(p.data.size for p in model.parameters())
    built = "" if all(layer.built for layer in model.layers) else " (some layers not built yet: sizes come with data)"
    return "\n".join(
        [
            f'Model: "{model.kind}"',
            rule,
            line,
            rule,
            *body,
            rule,
            f"Total params: {total:,}{built}",
            rule.replace("=", "_"),
        ]
    )


def shown(shape) -> str:
    return "?" if shape is None else str(tuple(shape))


def name(node) -> str:
    """How the table names a node: its input's name, or the layer that makes it."""
    return node.name if node.is_input else node.layer.name
