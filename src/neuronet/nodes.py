"""Nodes: the values of a graph model before any data, as Keras's functional API writes them.

``x = nn.Input(shape=(64,))`` is a node: one sample's shape, no numbers.
Calling a layer on a node, ``h = Dense(32)(x)``, gives the node of its
output: the layer, the nodes it was called on (its parents) and the shape it
makes. A layer whose sizes come from its input (``Dense(32)``) is built
then, from its parents' shapes. ``nn.Model(inputs=x, outputs=h)`` walks back
from the outputs to find the layers and the order they run in
(``graph.py``).

A node only records; it computes nothing. The same layer called on two
nodes gives two nodes and shares its parameters between both uses.
"""

from __future__ import annotations

import numpy as np

from . import checks
from .checks import sample_shape


class Node:
    """A value in a graph: an input's (``layer`` None) or a layer's output, with the shape of a batch of it
    (batch first as None; None too on an axis of free size, a sequence's length)."""

    def __init__(self, shape: tuple | None, layer=None, parents: tuple = (), dtype: str | None = None) -> None:
        self.shape, self.layer, self.parents, self.dtype = shape, layer, parents, dtype
        self.name = "input" if layer is None else layer.name  # an Input's is set by nn.Input or the model

    @property
    def is_input(self) -> bool:
        return self.layer is None

    def __repr__(self) -> str:
        made = "Input" if self.is_input else f"{type(self.layer).__name__} '{self.layer.name}'"
        return f"<Node of {made}, shape {self.shape}>"

    def __str__(self) -> str:
        """How an error names it: "nn.Input 'input' of shape (4,)", "the output of layer 'dense' (Dense)"."""
        shape = "unknown" if self.shape is None else self.shape[1:]
        if self.is_input:
            return f"nn.Input '{self.name}' of shape {shape}"
        return f"the output of {named(self.layer)}, of shape {shape}"


def named(layer) -> str:
    """How an error names a layer: "layer 'dense' (Dense)"."""
    return f"layer '{layer.name}' ({type(layer).__name__})"


def Input(shape, dtype: str | None = None, name: str | None = None) -> Node:  # noqa: N802 (Keras's name)
    """A graph model's input: one sample's ``shape`` (no batch axis; None on a free axis) and its ``dtype``
    (None: the float type, ``nn.set_dtype``'s; ``"int64"`` for token ids fed to an Embedding)."""
    shape = sample_shape(shape, "Input shape")
    if dtype is not None:
        try:  # (a NumPy number is no type, though NumPy reads np.int64(3) as int64)
            kind = None if isinstance(dtype, np.generic) else np.dtype(dtype).kind
        except (TypeError, ValueError):
            kind = None
        if kind not in ("f", "i", "u"):
            raise checks.ArgumentError(f"Input dtype must be a float or integer type such as 'int64', got {dtype!r}")
        dtype = np.dtype(dtype).name
    node = Node((None, *shape), dtype=dtype)
    if name is not None:
        node.name = checks.text(name, "Input name")
    return node


def is_node(x) -> bool:
    """Whether ``x`` is a node or a list of nodes (then a layer called on it makes a node)."""
    return isinstance(x, Node) or (isinstance(x, (list, tuple)) and any(isinstance(v, Node) for v in x))


def connect(layer, x) -> Node:
    """``layer(x)`` on a node or a list of nodes: the layer built for its parents' shapes where it was not, and
    the node of its output (see the module's docstring)."""
    several = isinstance(x, (list, tuple))
    parents = tuple(x) if several else (x,)
    where = named(layer)
    stray = [type(p).__name__ for p in parents if not isinstance(p, Node)]
    if stray:
        raise checks.ArgumentError(f"{where} was called on a list of nodes and {stray}: give it nodes only")
    if several and not (layer.takes_list or layer.may_take_list):
        raise checks.ArgumentError(
            f"{where} takes one node, got a list of {len(parents)}: join them first, e.g. Concatenate()([a, b])"
        )
    if not several and layer.takes_list:
        raise checks.ArgumentError(
            f"{where} joins several nodes: call it on a list, e.g. {type(layer).__name__}()([a, b])"
        )
    shapes = [p.shape for p in parents]
    given = shapes if several else shapes[0]
    try:
        if None not in shapes:
            layer.check_input_shape(given)
            layer.build(given)
        shape = None if None in shapes else tuple(layer.output_shape(given))
    except (ValueError, TypeError) as exc:
        shown = [s[1:] for s in shapes] if several else shapes[0][1:]
        said = str(exc)  # (a layer's own check may name it already)
        raise checks.ArgumentError(
            said if said.startswith(where) else f"{where} does not fit its input of shape {shown}: {said}"
        ) from None
    return Node(shape, layer, parents)
