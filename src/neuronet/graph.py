"""The graph of a model: which layers run on which values, in what order, and its two passes.

A model's layers and the nodes between them (``nodes.py``) form a directed
acyclic graph: each node is an input or one layer's output, computed from the
nodes it was called on. ``Graph(inputs, outputs)`` walks back from the
outputs and puts the nodes in an order where every node comes after the
nodes it is computed from (a topological order). Then

- the forward pass runs the layers in that order, each on its nodes' values;
- the backward pass runs them in the reverse order, each turning dL/d(its
  output) into dL/d(each of its inputs). Where a node feeds several layers
  (a residual connection reads x twice), L depends on it along each path,
  and by the multivariate chain rule dL/dx is the *sum* of what each path
  sends back: ``grads[node] = grads[node] + dx``.

A layer called on two nodes (a shared layer) runs twice with the same
parameters; since every backward pass *adds* into ``.grad``, its parameters'
gradient is the sum over both uses, as the chain rule asks. But a layer
keeps only its last forward pass's inputs (a one-slot cache), so a shared
layer's memory of each use is put aside after that use's forward pass and
put back before its backward pass (``memory``, ``recall``).

A ``Sequential`` is the graph of a chain (``Graph.chain``). A run of calls
where each feeds only the next, the whole of a chain, is planned as a chain:
a convolution, its activation and its pooling become one fused stage where
the ops is tuned for a CPU (``fusion.plan``), inside a graph too.

A graph may be watched (``watch``: ``explain.py``'s record of one step, or a
model's ``watchers`` during a training pass): the passes then hand it each
call's values and gradients as they make them. A graph planned while watched
is planned layer by layer, unfused, so that every layer is seen.
"""

from __future__ import annotations

from . import checks, fusion
from .layers.activations import Activation
from .layers.base import Layer
from .nodes import Node, named


class Call:
    """One stage of a pass: a layer, or fused layers, run on the values of the nodes ``sources`` (indices into
    the graph's nodes), making the value of the node ``target``."""

    __slots__ = ("stage", "layer", "sources", "target", "several", "shared", "memory", "inner", "head")

    def __init__(self, stage, layer, sources: tuple, target: int, several: bool, shared: bool, inner: tuple) -> None:
        self.stage, self.layer, self.sources, self.target = stage, layer, sources, target
        self.several = several  # the stage takes a list (a merge layer, attention on [query, value])
        self.shared = shared  # its layer runs elsewhere in the graph too: its memory is kept per call
        self.memory = None
        self.inner = inner  # for each source, whether it is a layer's output (not an input): it needs a gradient
        self.head = False  # its loss may give dL/d(the scores before its activation): see Graph.backward


class Graph:
    """The nodes between ``inputs`` (``nn.Input`` nodes) and ``outputs``, in the order they are computed; the
    calls of layers that make them; the layers in the order of their first call."""

    def __init__(self, inputs: list[Node], outputs: list[Node]) -> None:
        self.inputs, self.outputs = list(inputs), list(outputs)
        for kind, given in (("inputs", self.inputs), ("outputs", self.outputs)):
            stray = [type(v).__name__ for v in given if not isinstance(v, Node)]
            if stray or not given:
                raise checks.ArgumentError(
                    f"a Model's {kind} must be nodes (x = nn.Input(shape=...), y = layer(x)) or a list of them, "
                    f"got {stray or 'none'}"
                )
        made = [f"input {k} ({v})" for k, v in enumerate(self.inputs) if not v.is_input]
        if made:
            raise checks.ArgumentError(f"inputs must be nn.Input nodes; {made[0]} is a layer's output")
        first = {}
        for k, v in enumerate(self.inputs):
            if id(v) in first:
                raise checks.ArgumentError(f"inputs {first[id(v)]} and {k} are the same {v}: give each input once")
            first[id(v)] = k
        self.nodes = order(self.outputs)
        for node in self.nodes:
            if node.is_input and id(node) not in first:
                readers = ", ".join(named(n.layer) for n in self.nodes if any(p is node for p in n.parents))
                raise checks.ArgumentError(
                    f"{readers} reads {node}, which is not among the model's inputs (a node of another model's "
                    "graph?): add it to inputs=, or call the layer on one of the model's inputs"
                )
        index = {id(node): i for i, node in enumerate(self.nodes)}
        unused = [f"input {k} ({v})" for k, v in enumerate(self.inputs) if id(v) not in index]
        if unused:
            raise checks.ArgumentError(f"{', '.join(unused)} reaches none of the outputs: remove it or use it")
        self.input_slots = [index[id(v)] for v in self.inputs]
        self.output_slots = [index[id(v)] for v in self.outputs]
        inputs_as_outputs = [f"output {k} ({self.outputs[k]})" for k, v in enumerate(self.outputs) if v.is_input]
        if inputs_as_outputs:
            raise checks.ArgumentError(
                f"{inputs_as_outputs[0]} is an input itself: a model's outputs are layers' outputs, y = layer(x)"
            )
        self.parents = [tuple(index[id(p)] for p in node.parents) for node in self.nodes]
        self.layers = list({id(n.layer): n.layer for n in self.nodes if not n.is_input}.values())
        uses: dict[int, int] = {}
        self.readers = [0] * len(self.nodes)  # how many calls read each node
        for i, node in enumerate(self.nodes):
            if not node.is_input:
                uses[id(node.layer)] = uses.get(id(node.layer), 0) + 1
                for p in self.parents[i]:
                    self.readers[p] += 1
        # whether each node is made by a layer called elsewhere too (by node, not by layer id: a deep copy of the
        # graph, a thread's replica, stays right)
        self.shared = [not node.is_input and uses[id(node.layer)] > 1 for node in self.nodes]
        # told of every call's values in the passes (``forward(call, x, y)``, ``backward(call, dy, dx)``) when set
        self.watch = None

    @classmethod
    def chain(cls, layers: list, input_shape: tuple | None = None) -> Graph:
        """The graph of ``layers`` in a row (a Sequential's); shapes are left unknown (the model checks the fit)."""
        node = first = Node(input_shape)
        for layer in layers:
            node = Node(None, layer, (node,))
        return cls([first], [node])

    def build(self, shapes: list[tuple]) -> None:
        """Build every layer not yet built (``Dense(32)``) for inputs of ``shapes`` (batch first), in order."""
        known = dict(zip(self.input_slots, shapes))
        for i, node in enumerate(self.nodes):
            if node.is_input:
                continue
            given = [known[p] for p in self.parents[i]]
            shape = given if node.layer.on_list(len(given)) else given[0]
            node.layer.build(shape)
            known[i] = tuple(node.layer.output_shape(shape))

    def plan(self, fuse: bool) -> list[Call]:
        """The calls the passes run, in order: runs of calls that each feed only the next planned by
        ``fusion.plan`` when ``fuse`` and the graph is not watched (see the module's docstring)."""
        calls = [i for i, node in enumerate(self.nodes) if not node.is_input]
        planned, start = [], 0
        while start < len(calls):
            end = start + 1
            while end < len(calls) and self._feeds_only(calls[end - 1], calls[end]):
                end += 1
            run = calls[start:end]
            layers = [self.nodes[i].layer for i in run]
            stages = fusion.plan(layers) if fuse and self.watch is None and len(run) > 1 else layers
            at = 0
            for stage in stages:
                count = len(stage.layers) if isinstance(stage, fusion.FusedStep) else 1
                first, last = run[at], run[at + count - 1]
                layer = self.nodes[first].layer
                shared = self.shared[first]
                sources = self.parents[first]
                inner = tuple(not self.nodes[i].is_input for i in sources)
                planned.append(Call(stage, layer, sources, last, layer.on_list(len(sources)), shared, inner))
                at += count
            start = end
        return planned

    def _feeds_only(self, before: int, after: int) -> bool:
        """Whether node ``after`` is computed from ``before`` alone, and ``before`` read by nothing else: then
        the two calls may be fused. Shared layers keep their calls apart (their memory is kept per call)."""
        return (
            self.parents[after] == (before,)
            and self.readers[before] == 1
            and before not in self.output_slots
            and not (self.shared[before] or self.shared[after])
        )

    def shapes(self, input_shapes: list) -> list:
        """Each node's shape (batch as None) as far as it follows from ``input_shapes`` (one per input, None where
        unknown): None where a shape is unknown or a layer does not fit it (the first batch says why)."""
        known = dict(zip(self.input_slots, input_shapes))
        for i, node in enumerate(self.nodes):
            if node.is_input:
                continue
            given = [known.get(p) for p in self.parents[i]]
            shape = None
            if None not in given:
                try:
                    shape = node.layer.output_shape(given if node.layer.on_list(len(given)) else given[0])
                except (ValueError, TypeError):
                    shape = None
            known[i] = None if shape is None else tuple(shape)
        return [known.get(i) for i in range(len(self.nodes))]

    # -- the passes ------------------------------------------------------------------------------------
    def forward(self, calls: list[Call], xs: list, training: bool, masked: bool) -> list:
        """The outputs' values for the inputs' ``xs`` (see :meth:`values`)."""
        values = self.values(calls, xs, training, masked)
        return [values[slot] for slot in self.output_slots]

    def values(self, calls: list[Call], xs: list, training: bool, masked: bool) -> list:
        """Every node's value for the inputs' ``xs``: each call on its sources' values, in order (a node inside a
        fused stage keeps None). ``masked``: some stage takes a mask, so masks are carried beside the values (see
        ``Layer.output_mask``)."""
        values = [None] * len(self.nodes)
        masks = [None] * len(self.nodes) if masked else None
        for slot, x in zip(self.input_slots, xs):
            values[slot] = x
        for call in calls:
            x = [values[s] for s in call.sources] if call.several else values[call.sources[0]]
            if masked:
                mask = [masks[s] for s in call.sources] if call.several else masks[call.sources[0]]
                if call.stage.takes_mask and mask is not None:
                    values[call.target] = call.stage.forward(x, training, mask=mask)
                else:
                    values[call.target] = call.stage.forward(x, training)
                masks[call.target] = call.stage.output_mask(mask)
            else:
                values[call.target] = call.stage.forward(x, training)
            if self.watch is not None:
                self.watch.forward(call, x, values[call.target])
            if call.shared:
                call.memory = memory(call.layer)
        return values

    def backward(self, calls: list[Call], dys: list, input_grad: bool, heads: bool = False) -> list:
        """Send dL/d(each output) back through ``calls`` in reverse; dL/d(each input), or Nones without
        ``input_grad``. Every layer adds its parameters' gradients into their ``.grad``. With ``heads``, the
        outputs of calls marked ``head`` (softmax with cross-entropy) were given dL/d(the scores before their
        last activation) by the loss: their layer steps past the activation."""
        grads = [None] * len(self.nodes)
        for slot, dy in zip(self.output_slots, dys):
            add(grads, slot, dy)
        for call in reversed(calls):
            dy, grads[call.target] = grads[call.target], None
            if dy is None:  # (nothing reached this node: it feeds no output with a loss)
                continue
            if call.shared:
                recall(call.memory)
            needed = (True,) * len(call.sources) if input_grad else call.inner
            if heads and call.head:
                # a Softmax layer: the loss gave dL/d(its input); Dense(softmax): its linear part's backward
                linear = isinstance(call.layer, Activation)
                dx = dy if linear else call.layer.backward_linear(dy, input_grad=needed[0])
            elif any(needed):
                dx = call.stage.backward(dy)
            else:
                if not call.several or call.layer.parameters():  # (a merge layer has none: nothing to do)
                    call.stage.backward_params_only(dy)
                dx = None
            if self.watch is not None:
                self.watch.backward(call, dy, dx)
            if dx is None:
                continue
            for source, grad, need in zip(call.sources, dx if call.several else (dx,), needed):
                if need:
                    add(grads, source, grad)
        return [grads[slot] for slot in self.input_slots]


def add(grads: list, slot: int, grad) -> None:
    """dL/d node: the sum over the paths from it (out of place: a layer may hand back an array it keeps)."""
    grads[slot] = grad if grads[slot] is None else grads[slot] + grad


def order(outputs: list[Node]) -> list[Node]:
    """Every node the ``outputs`` are computed from, each after its parents (depth first, parents in the order
    given, so a chain keeps its order). A node met again while its parents are being walked is a cycle."""
    done: dict[int, Node] = {}
    walking: dict[int, Node] = {}  # the path from the output being walked to the node met last
    for output in outputs:
        stack = [(output, False)]
        while stack:
            node, parents_done = stack.pop()
            key = id(node)
            if parents_done:
                del walking[key]
                done[key] = node
                continue
            if key in done:
                continue
            if key in walking:
                path = list(walking)
                ring = [walking[k].layer for k in reversed(path[path.index(key) :])]  # (as the values flow)
                raise checks.ArgumentError(
                    f"the graph has a cycle: {' -> '.join(map(named, ring))} -> back to the first; a layer's output "
                    "cannot feed itself (were a node's parents changed after it was made?)"
                )
            walking[key] = node
            stack.append((node, True))
            stack.extend((p, False) for p in reversed(node.parents) if id(p) not in done)
    return list(done.values())


# the attributes a layer keeps across passes, not put aside per call of a shared layer
KEPT = frozenset({"ops", "name", "built"})


def memory(layer) -> list[tuple[object, dict]]:
    """What the last forward pass left in ``layer`` and the layers it holds (its activation, a wrapper's layer)
    for its backward pass: each one's attributes but its parameters, its states and its settings."""
    kept = KEPT | set(layer.param_names) | set(layer.state_names)
    attributes = {k: v for k, v in vars(layer).items() if k not in kept}
    held = [item for v in attributes.values() if isinstance(v, Layer) for item in memory(v)]
    return [(layer, attributes), *held]


def recall(remembered: list[tuple[object, dict]]) -> None:
    """Put back what :func:`memory` put aside, so the backward pass differentiates that call."""
    for owner, attributes in remembered:
        vars(owner).update(attributes)
