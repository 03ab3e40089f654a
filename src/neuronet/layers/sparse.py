"""Sparse connectivity: a dense layer with most connections absent, and pruning to get one."""

from __future__ import annotations

import numpy as np

from .. import checks, settings
from ..file_shapes import declare
from .dense import Dense


class SparseDense(Dense):
    """A dense layer whose connections are limited by a fixed 0/1 mask M.

    Forward:  y = act(x @ (W * M) + b)
    Backward: dW = (x.T @ dz) * M,  db = sum_batch(dz),  dx = dz @ (W * M).T
    The masked weights start at zero and their gradient is always zero, so
    every optimizer leaves them at zero: absent connections stay absent. The
    product still runs as a dense matrix product, which at these sizes is
    faster in NumPy than sparse formats.

    ``density`` is the fraction of connections kept, drawn at random (seeded
    by ``nn.set_seed``) when the weights are made; or pass an explicit ``mask``
    of shape (n_inputs, n_neurons). Its sizes are spelled as Dense's.
    """

    state_names = ("mask",)
    default_name = "sparse_dense"

    def __init__(self, *sizes: int, density: float = 0.1, mask=None, **dense_kwargs) -> None:
        if mask is None:
            density = checks.number(density, "density", low=0.0, high=1.0, low_open=True)
        self.density, self.given_mask = density, mask  # (before Dense's constructor, which may make the mask)
        super().__init__(*sizes, **dense_kwargs)

    def make_parameters(self) -> None:
        super().make_parameters()
        shape = declare("mask", (self.n_inputs, self.n_neurons))
        mask = self.given_mask
        if mask is None:
            keep = max(1, int(round(self.density * self.n_inputs * self.n_neurons)))
            flat = np.zeros(self.n_inputs * self.n_neurons, dtype=bool)
            flat[settings.rng().choice(flat.size, keep, replace=False)] = True  # the library's generator
            mask = flat.reshape(shape)
        if np.shape(mask) != shape:
            raise ValueError(f"SparseDense mask must have shape {shape}, got {np.shape(mask)}")
        self.mask = self.ops.asarray(mask != 0, dtype=self.weights.data.dtype)
        self.density = float(self.mask.mean())
        self.weights.data *= self.mask
        self.weights.constraint = self.keep_absent_at_zero  # after every optimizer step, whatever its momenta

    def keep_absent_at_zero(self, weights) -> None:
        """The weights' constraint: absent connections stay exactly zero."""
        weights *= self.mask

    def check_loaded(self) -> None:
        super().check_loaded()
        if not self.built:
            return
        if not bool(((self.mask == 0) | (self.mask == 1)).all()):
            raise ValueError(f"layer '{self.name}': its mask holds values other than 0 and 1")
        if bool((self.weights.data * (1 - self.mask)).any()):
            raise ValueError(f"layer '{self.name}': it has weights where its mask has no connection")

    def effective_weights(self):
        return self.weights.data * self.mask

    def backward_linear(self, dz, input_grad: bool = True):
        dx = super().backward_linear(dz, input_grad)
        self.weights.grad *= self.mask
        return dx

    def get_config(self):
        return {**super().get_config(), "density": self.density}


def prune_dense(layer: Dense, sparsity: float) -> SparseDense:
    """A SparseDense copy of ``layer`` without its ``sparsity`` fraction of smallest-magnitude weights."""
    sparsity = checks.number(sparsity, "sparsity", low=0.0, high=1.0, high_open=True)
    w = layer.ops.to_numpy(layer.weights.data)
    n_drop = int(round(sparsity * w.size))
    mask = np.ones(w.size, dtype=bool)
    mask[np.argsort(np.abs(w), axis=None, kind="stable")[:n_drop]] = False
    config = {k: v for k, v in layer.get_config().items() if k != "density"}
    sparse = SparseDense(**config, mask=mask.reshape(w.shape))
    sparse.weights.assign(w * mask.reshape(w.shape))
    sparse.biases.assign(layer.biases.data)
    return sparse


def prune(model, sparsity: float) -> None:
    """Magnitude-prune every Dense layer of ``model`` in place (each becomes a SparseDense)."""
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Dense):
            pruned = prune_dense(layer, sparsity)
            pruned.name = layer.name
            model.layers[i] = pruned
