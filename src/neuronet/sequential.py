"""The Sequential model: layers in a row, each feeding the next.

A Sequential is a model (``model.py``) whose graph is a chain: its passes,
training, saving and everything else are every model's. What is its own is
how it is built, a layer at a time (``add``, with ``input_shape=`` checked
against the layers when given), and its graph, the chain of its layers made
again when they change (``Graph.chain``).
"""

from __future__ import annotations

from . import checks, model_file
from .graph import Graph
from .layers.base import Layer
from .model import Model
from .saving import ModelFileError, read_model_file


class Sequential(Model):
    """A stack of layers, each feeding the next."""

    kind = "sequential"

    def __init__(self, layers: list[Layer] | None = None, input_shape: tuple | None = None) -> None:
        """``input_shape``: one sample's shape (no batch axis), checked against the layers when both are given and
        building those whose sizes come from their input (``Dense(32)``); None on an axis leaves it free (a
        sequence's length)."""
        super().__init__()
        self.input_shape = None if input_shape is None else (None, *checks.sample_shape(input_shape))
        self._chain_key: tuple | None = None  # the layers (by identity) the graph was made for
        if layers is not None and not isinstance(layers, (list, tuple)):
            raise checks.ArgumentError(f"Sequential takes a list of layers, got {type(layers).__name__}")
        for layer in layers or []:
            self.name_layer(layer)
        if self.layers:
            self._check_input_shape()

    # -- building ----------------------------------------------------------------------------------
    def name_layer(self, layer: Layer) -> None:
        """As Model's, but a layer that joins several values (a merge layer) is refused: a chain has one."""
        if isinstance(layer, Layer) and layer.takes_list:
            raise checks.ArgumentError(
                f"{type(layer).__name__} joins several values, but each layer of a Sequential reads the one output "
                "of the layer before it; build the model from nn.Input and nn.Model, calling "
                f"{type(layer).__name__}() on a list of nodes"
            )
        super().name_layer(layer)

    def add(self, layer: Layer) -> None:
        """Append a layer, giving it a unique name (dense, dense_1, ...) as Keras does; with ``input_shape``
        known, a layer that does not fit the ones before it is refused (and not added)."""
        self.name_layer(layer)
        try:
            self._check_input_shape()
        except checks.ArgumentError:
            self.layers.pop()
            raise

    def _check_input_shape(self) -> None:
        """``input_shape``, where given, builds the layers and fits them: else a model file it saved would not
        load."""
        if self.input_shape is None:
            return
        try:
            self.graph.build([self.input_shape])
            model_file.check_layers_fit(self)
        except model_file.DESCRIPTION_ERRORS as exc:
            shape = tuple(self.input_shape[1:])
            raise checks.ArgumentError(f"input_shape {shape} does not fit the layers: {exc}") from None

    @property
    def graph(self) -> Graph | None:
        """The chain of the layers (None before there are any), made again when they change."""
        key = tuple(map(id, self.layers))
        if key != self._chain_key:
            self._graph = Graph.chain(self.layers, self.input_shape) if self.layers else None
            self._chain_key = key
        return self._graph

    def call(self, x, training: bool = False):
        if not self.layers:
            raise RuntimeError("the Sequential model has no layers: add some with model.add(layer)")
        return super().call(x, training)

    def known_input_shape(self) -> tuple | None:
        """The input's shape, batch as None, as far as it is known (given, fixed by the first layer, or seen)."""
        if self.input_shape is not None:
            return self.input_shape
        fixed = self.layers[0].input_shape() if self.layers else None
        if fixed and None not in fixed[1:]:
            return fixed
        seen = self._seen_shapes[0] if self._seen_shapes else None
        return seen or fixed  # (a recurrent layer fixes the features, not the time steps)

    def known_input_shapes(self) -> list:
        return [self.known_input_shape()]


def load_model(path) -> Model:
    """Load a model saved by ``model.save`` (a Sequential, or a graph model: ``nn.Model``; arrays take the current
    dtype).

    A damaged, foreign or hostile file raises ModelFileError, before any layer allocates more than the
    file's tensors hold (see ``file_shapes.shapes_on_file``).
    """
    path = checks.file_path(path, "path")
    description, tensors = read_model_file(path)
    if isinstance(description.get("gan"), dict):
        raise ModelFileError(f"{path!r} holds a GAN (two models): load it with nn.load_gan")
    return model_file.restore(description, tensors, path, Sequential, Model)
