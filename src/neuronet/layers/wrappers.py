"""Wrappers: layers that hold a layer and change how it is applied.

A wrapper names the layer it holds in ``sublayers``, so the model finds its
parameters and states there, saves them under the wrapper's path
("0.time_distributed.layer.weights") and rebuilds the held layer from the
wrapper's config when it loads.
"""

from __future__ import annotations

from .. import checks
from .base import Layer, held, serialize


class TimeDistributed(Layer):
    """Apply one layer to every time step of a sequence, with the same weights at every step.

    Forward:  y[:, t] = layer(x[:, t]) for every t, computed as one call on x seen as
              (batch * time, ...) and reshaped back
    Backward: dx[:, t] = the layer's backward of dy[:, t], likewise one call; its parameter
              gradients add up over the steps, as over the samples of a batch
    Shapes:   x (batch, time, ...), y (batch, time, ...the layer's output for one step)
    """

    default_name = "time_distributed"

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

    def forward(self, x, training=False):
        if x.ndim < 3:
            raise self.shape_error("(batch, time, ...)", x)
        self.steps = x.shape[:2]
        y = self.layer.forward(x.reshape(-1, *x.shape[2:]), training)
        return y.reshape(*self.steps, *y.shape[1:])

    def backward(self, dy):
        dx = self.layer.backward(dy.reshape(-1, *dy.shape[2:]))
        return None if dx is None else dx.reshape(*self.steps, *dx.shape[1:])

    def backward_params_only(self, dy) -> None:
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
