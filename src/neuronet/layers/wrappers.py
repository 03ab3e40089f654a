"""Wrappers: layers that hold a layer and change how it is applied.

A wrapper names the layer it holds in ``sublayers``, so the model finds its
parameters and states there, saves them under the wrapper's path
("0.time_distributed.layer.weights") and rebuilds the held layer from the
wrapper's config when it loads.
"""

from __future__ import annotations

from .. import checks
from .base import Layer, axes, held, serialize
from .recurrent import Recurrent


class TimeDistributed(Layer):
    """Apply one layer to every time step of a sequence, with the same weights at every step.

    Forward:  y[:, t] = layer(x[:, t]) for every t, computed as one call on x seen as
              (batch * time, ...) and reshaped back
    Backward: dx[:, t] = the layer's backward of dy[:, t], likewise one call; its parameter
              gradients add up over the steps, as over the samples of a batch
    Shapes:   x (batch, time, ...), y (batch, time, ...the layer's output for one step)
    """

    default_name = "time_distributed"
    keeps_mask = True
    positionwise = True

    def __init__(self, layer: Layer) -> None:
        super().__init__()
        if not isinstance(layer, Layer):
            raise checks.ArgumentError(f"TimeDistributed wraps a layer, got {type(layer).__name__}")
        self.layer = layer

    def sublayers(self) -> dict:
        return {"layer": self.layer}

    # a step is a sample to the held layer: it decides what may be split, cast or folded
    independent_samples = property(lambda self: self.layer.independent_samples)
    numpy_bound = property(lambda self: self.layer.numpy_bound)
    takes_ids = property(lambda self: self.layer.takes_ids)
    min_batch = property(lambda self: self.layer.min_batch)
    built = property(lambda self: self.layer.built)

    def build(self, input_shape) -> None:
        if not self.built:
            self.layer.build(self.step_shape(input_shape))

    def check_input_shape(self, input_shape) -> None:
        self.layer.check_input_shape(self.step_shape(input_shape))

    def step_shape(self, input_shape) -> tuple:
        """What the held layer sees of an input of ``input_shape``, (batch, time, ...): (batch * time, ...)."""
        if len(input_shape) < 3:
            raise ValueError(
                f"layer '{self.name}' (TimeDistributed) takes inputs of shape (batch, time, ...), not "
                f"{axes(tuple(input_shape))}"
            )
        return (None, *input_shape[2:])

    def output_activation(self) -> str | None:
        return self.layer.output_activation()

    def forward(self, x, training=False):
        if not self.built:
            raise self.unbuilt_error()
        if x.ndim < 3:
            raise self.shape_error("(batch, time, ...)", x)
        self.steps = x.shape[:2]
        y = self.layer.forward(x.reshape(-1, *x.shape[2:]), training)
        return y.reshape(*self.steps, *y.shape[1:])

    def backward(self, dy):
        if not self.built:
            raise self.unbuilt_error()
        dx = self.layer.backward(dy.reshape(-1, *dy.shape[2:]))
        return None if dx is None else dx.reshape(*self.steps, *dx.shape[1:])

    def backward_params_only(self, dy) -> None:
        if not self.built:
            raise self.unbuilt_error()
        self.layer.backward_params_only(dy.reshape(-1, *dy.shape[2:]))

    def output_shape(self, input_shape):
        inner = self.layer.output_shape((None, *input_shape[2:]))
        return (*input_shape[:2], *inner[1:])

    def get_config(self):
        return {"layer": serialize(self.layer)}

    @classmethod
    def from_config(cls, config: dict) -> TimeDistributed:
        if set(config) != {"layer"}:
            raise ValueError(f"TimeDistributed takes one setting, 'layer'; got {sorted(config)}")
        return cls(held(config["layer"], "layer"))


class Bidirectional(Layer):
    """A recurrent layer read both ways: ``forward_layer`` from the first step, ``backward_layer`` (a copy
    with weights of its own) from the last.

    Forward:  y_f = forward_layer(x),  y_b = backward_layer(x reversed in time)
              (with return_sequences, y_b is reversed back, so that step t of both halves is step t of x)
              y = [y_f, y_b] (concat, forward half first), y_f + y_b (sum), y_f * y_b (mul), (y_f + y_b) / 2 (ave)
    Backward: dy split by the merge: its halves (concat), dy to both (sum), dy / 2 to both (ave),
              dy * y_b and dy * y_f (mul); dx = dx_f + (dx_b reversed in time)
    Padding:  with a mask, the reversed sequence's padded steps are skipped, so the backward half reads
              each sequence's real tokens from its last one, within the sequence's own length, whether
              it was padded before or after (the mask is reversed with the data).
    """

    default_name = "bidirectional"
    takes_mask = True
    MERGE_MODES = ("concat", "sum", "mul", "ave")

    def __init__(self, layer: Layer, merge_mode: str = "concat", backward_layer: Layer | None = None) -> None:
        super().__init__()
        for given, what in ((layer, "layer"), (backward_layer, "backward_layer")):
            if (given is not None or what == "layer") and not isinstance(given, Recurrent):
                raise checks.ArgumentError(
                    f"Bidirectional's {what} must be a recurrent layer (SimpleRNN, LSTM, GRU), "
                    f"got {type(given).__name__}"
                )
        self.merge_mode = checks.choice(merge_mode, "merge_mode", self.MERGE_MODES)
        if backward_layer is None:  # a fresh copy: the same settings, weights drawn anew
            backward_layer = type(layer).from_config(layer.get_config())
        elif backward_layer.get_config() != layer.get_config():
            raise checks.ArgumentError(
                f"Bidirectional's backward_layer must have the settings of its layer: {backward_layer!r} "
                f"against {layer!r}"
            )
        self.forward_layer, self.backward_layer = layer, backward_layer
        self.return_sequences = layer.return_sequences

    def sublayers(self) -> dict:
        return {"forward": self.forward_layer, "backward": self.backward_layer}

    independent_samples = property(lambda self: self.forward_layer.independent_samples)
    numpy_bound = property(lambda self: self.forward_layer.numpy_bound)
    built = property(lambda self: self.forward_layer.built and self.backward_layer.built)

    def build(self, input_shape) -> None:
        """Build both layers for the input (``Bidirectional(LSTM(16))``)."""
        self.forward_layer.build(input_shape)
        self.backward_layer.build(input_shape)

    def forward(self, x, training=False, mask=None):
        if not self.built:
            raise self.unbuilt_error()
        self.y_f = self.forward_layer.forward(x, training, mask)
        reversed_mask = None if mask is None else mask[:, ::-1]
        y_b = self.backward_layer.forward(x[:, ::-1], training, reversed_mask)
        self.y_b = y_b[:, ::-1] if self.return_sequences else y_b
        y_f, y_b = self.y_f, self.y_b
        if self.merge_mode == "concat":
            return self.ops.xp.concatenate([y_f, y_b], axis=-1)
        if self.merge_mode == "sum":
            return y_f + y_b
        if self.merge_mode == "mul":
            return y_f * y_b
        return (y_f + y_b) * 0.5

    def split(self, dy) -> tuple:
        """The gradients of the two halves' outputs, from the merged output's."""
        if self.merge_mode == "concat":
            h = self.forward_layer.hidden_size
            dy_f, dy_b = dy[..., :h], dy[..., h:]
        elif self.merge_mode == "sum":
            dy_f = dy_b = dy
        elif self.merge_mode == "mul":
            dy_f, dy_b = dy * self.y_b, dy * self.y_f
        else:
            dy_f = dy_b = dy * 0.5
        return dy_f, dy_b[:, ::-1] if self.return_sequences else dy_b

    def backward(self, dy):
        if not self.built:
            raise self.unbuilt_error()
        dy_f, dy_b = self.split(dy)
        dx = self.forward_layer.backward(dy_f)
        dx += self.backward_layer.backward(dy_b)[:, ::-1]
        return dx

    def backward_params_only(self, dy) -> None:
        if not self.built:
            raise self.unbuilt_error()
        dy_f, dy_b = self.split(dy)
        self.forward_layer.backward_params_only(dy_f)
        self.backward_layer.backward_params_only(dy_b)

    def output_mask(self, mask):
        return mask if self.return_sequences else None

    def output_shape(self, input_shape):
        shape = self.forward_layer.output_shape(input_shape)
        return (*shape[:-1], 2 * shape[-1]) if self.merge_mode == "concat" else shape

    def input_shape(self):
        return self.forward_layer.input_shape()

    def get_config(self):
        return {
            "layer": serialize(self.forward_layer),
            "merge_mode": self.merge_mode,
            "backward_layer": serialize(self.backward_layer),
        }

    @classmethod
    def from_config(cls, config: dict) -> Bidirectional:
        if set(config) != {"layer", "merge_mode", "backward_layer"}:
            raise ValueError(f"Bidirectional takes 'layer', 'merge_mode' and 'backward_layer'; got {sorted(config)}")
        return cls(held(config["layer"], "forward"), config["merge_mode"], held(config["backward_layer"], "backward"))
