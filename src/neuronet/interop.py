"""PyTorch state dicts: a model's weights in the names and layouts of the equivalent ``torch.nn`` modules.

Each layer with weights gives the keys of the module that computes the same
thing, under the layer's name (``model.layers[i].name``, as ``summary``
shows it): a Dense named "dense_1" gives ``dense_1.weight`` and
``dense_1.bias``. So a torch module whose submodules carry the layers' names
loads the dict with ``load_state_dict``, and the dict it saves loads back.
A graph model (``nn.Model``) is the same: its layers by name, a shared layer
once (as a torch module calls one submodule twice); how the layers are
wired is the torch module's ``forward``.

- Dense, TimeDistributed(Dense) -> Linear: weight = weights.T (out, in), bias.
- Conv1D -> Conv1d: weight = weights (k, in, out) as (out, in, k), bias.
- Conv2D -> Conv2d: weight = weights (kh, kw, in, out) as (out, in, kh, kw), bias.
- Conv2DTranspose -> ConvTranspose2d: weight = weights (kh, kw, out, in) as (in, out, kh, kw), bias.
- Embedding -> Embedding: weight (vocab, dim).
- BatchNormalization -> BatchNorm1d/2d (built with ``eps=layer.epsilon``: neuronet's default is Keras's
  1e-3, PyTorch's 1e-5): weight = gamma, bias = beta, running_mean, running_var, num_batches_tracked.
- LayerNormalization -> LayerNorm(n_features, eps=layer.epsilon): weight = gamma, bias = beta.
- SimpleRNN, LSTM -> RNN, LSTM (``batch_first=True``): weight_ih_l0 = input_weights.T,
  weight_hh_l0 = recurrent_weights.T, bias_ih_l0 = biases, bias_hh_l0 = 0.
- GRU -> GRU (``batch_first=True``): the same, with bias_hh_l0 = recurrent_biases.
- Bidirectional(cell) -> the cell's module with ``bidirectional=True``: the forward cell's keys, and
  the backward cell's with "_reverse" after them.
- MultiHeadAttention -> MultiheadAttention(E, H, batch_first=True): in_proj_weight (3E, E) =
  [query_weights.T; key_weights.T; value_weights.T], in_proj_bias (3E,) = [query_biases, key_biases,
  value_biases], out_proj.weight = output_weights.T, out_proj.bias = output_biases. (Its causal mask and the
  padded keys are the module's call's ``attn_mask`` and ``key_padding_mask``.)
- TransformerEncoder -> TransformerEncoderLayer(E, H, ff_dim, activation, batch_first=True, norm_first):
  self_attn.* (its attention, as above), linear1.* (dense1), linear2.* (dense2), norm1.*, norm2.*.
- PositionalEmbedding (learned) -> Embedding(max_length, E) on the positions 0 ... time - 1: weight; a
  sinusoidal one has no weights.

The gates are in PyTorch's order in neuronet's own arrays already (LSTM
i, f, g, o; GRU r, z, n). neuronet's LSTM and SimpleRNN have one bias where
PyTorch has two that are only ever added: exported, it is all in
``bias_ih_l0``; imported, the two are added. What a layer computes around
its weights is the module's job to match: channels-last images become
channels-first (``x.permute(0, 3, 1, 2)``), and a Flatten after a
convolution orders its features (height, width, channels), PyTorch's
(channels, height, width). Needs PyTorch (``pip install torch``) for
``to_torch_state_dict``; ``load_torch_state_dict`` takes tensors or arrays.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from . import arrays, checks
from . import layers as L
from .model import Model


# the arrays of a layer as (torch key, neuronet attribute(s), to torch, from torch): each transform takes and
# gives a list of neuronet arrays, one for most keys, three for attention's packed projections
def _one(to_torch, from_torch) -> tuple:
    """The transforms of a key that holds one neuronet array."""
    return (lambda arrays: to_torch(arrays[0]), lambda a: [from_torch(a)])


_T = _one(lambda a: a.T, lambda a: a.T)
_SAME = _one(lambda a: a, lambda a: a)
_CONV1D = _one(lambda a: a.transpose(2, 1, 0), lambda a: a.transpose(2, 1, 0))
_CONV2D = _one(lambda a: a.transpose(3, 2, 0, 1), lambda a: a.transpose(2, 3, 1, 0))
# MultiheadAttention's in_proj: the query's, key's and value's rows one after another, (3E, E) weights as out x in
_PACKED_T = (lambda arrays: np.concatenate([a.T for a in arrays]), lambda a: [part.T for part in np.split(a, 3)])
_PACKED = (lambda arrays: np.concatenate(arrays), lambda a: np.split(a, 3))
_ROLES = ("query", "key", "value")
# TransformerEncoderLayer's submodules and the TransformerEncoder's layers they are
TRANSFORMER_MODULES = {"self_attn": "attention", "linear1": "dense1", "linear2": "dense2", "norm1": "norm1",
                       "norm2": "norm2"}  # fmt: skip


def _layout(layer) -> list[tuple[str, tuple[str, ...], tuple]]:
    """How ``layer``'s arrays map onto its torch module's keys; an ArgumentError for a layer with weights
    and no torch counterpart here."""
    kind = type(layer)
    if kind is L.Dense:
        return [("weight", ("weights",), _T), ("bias", ("biases",), _SAME)]
    if kind is L.Conv1D:
        return [("weight", ("weights",), _CONV1D), ("bias", ("biases",), _SAME)]
    if kind in (L.Conv2D, L.Conv2DTranspose):  # (kh, kw, a, b) <-> (b, a, kh, kw) for both
        return [("weight", ("weights",), _CONV2D), ("bias", ("biases",), _SAME)]
    if kind in (L.Embedding, L.PositionalEmbedding):  # (positions: an Embedding(max_length, E) on 0 ... time - 1)
        return [("weight", ("weights",), _SAME)] if layer.parameters() else []
    if kind is L.LayerNormalization:
        return [("weight", ("gamma",), _SAME), ("bias", ("beta",), _SAME)]
    if kind is L.BatchNormalization:
        return [("weight", ("gamma",), _SAME), ("bias", ("beta",), _SAME)] + [
            (n, (n,), _SAME) for n in ("running_mean", "running_var")
        ]
    if kind in (L.SimpleRNN, L.LSTM, L.GRU):
        arrays = [("weight_ih_l0", ("input_weights",), _T), ("weight_hh_l0", ("recurrent_weights",), _T)]
        arrays.append(("bias_ih_l0", ("biases",), _SAME))
        if kind is L.GRU:
            arrays.append(("bias_hh_l0", ("recurrent_biases",), _SAME))
        return arrays
    if kind is L.MultiHeadAttention:
        return [
            ("in_proj_weight", tuple(f"{r}_weights" for r in _ROLES), _PACKED_T),
            ("in_proj_bias", tuple(f"{r}_biases" for r in _ROLES), _PACKED),
            ("out_proj.weight", ("output_weights",), _T),
            ("out_proj.bias", ("output_biases",), _SAME),
        ]
    if layer.parameters():
        raise checks.ArgumentError(
            f"layer {layer.name!r} ({kind.__name__}) has no PyTorch counterpart in neuronet.interop; "
            "its weights cannot be exported"
        )
    return []


def _layers(model):
    """(key prefix, layer, torch key suffix) for every layer with weights, a Bidirectional's two cells apart."""
    if not isinstance(model, Model):
        raise checks.ArgumentError(
            f"model must be a neuronet model (nn.Sequential or nn.Model), got {type(model).__name__}"
        )
    for layer in model.layers:
        if not layer.built:
            raise checks.ArgumentError(
                f"layer {layer.name!r} has no weights yet (its sizes come from the first batch): build the model "
                "first (predict on data or give input_shape= or nn.Input)"
            )
        if isinstance(layer, L.Bidirectional):
            if layer.merge_mode != "concat":
                raise checks.ArgumentError(
                    f"layer {layer.name!r}: PyTorch's bidirectional modules concatenate their directions; "
                    f"merge_mode={layer.merge_mode!r} has no torch counterpart"
                )
            yield layer.name, layer.forward_layer, ""
            yield layer.name, layer.backward_layer, "_reverse"
        elif isinstance(layer, L.TimeDistributed):  # its layer's module, which takes any leading axes
            yield layer.name, layer.layer, ""
        elif isinstance(layer, L.TransformerEncoder):  # TransformerEncoderLayer's submodules
            for module, held in TRANSFORMER_MODULES.items():
                yield f"{layer.name}.{module}", getattr(layer, held), ""
        else:
            yield layer.name, layer, ""


def to_torch_state_dict(model) -> dict:
    """The model's weights as a PyTorch state dict (copies, in the model's float type); see the module."""
    try:
        import torch
    except ImportError:
        raise ImportError("to_torch_state_dict needs PyTorch: pip install torch") from None
    state = {}
    for prefix, layer, suffix in _layers(model):
        for key, attributes, (to_torch, _) in _layout(layer):
            values = [getattr(layer, attribute) for attribute in attributes]
            values = [layer.ops.to_numpy(getattr(v, "data", v)) for v in values]
            state[f"{prefix}.{key}{suffix}"] = torch.from_numpy(np.ascontiguousarray(to_torch(values)))
        if isinstance(layer, (L.SimpleRNN, L.LSTM)):  # the second bias PyTorch adds to the first
            state[f"{prefix}.bias_hh_l0{suffix}"] = torch.zeros_like(state[f"{prefix}.bias_ih_l0{suffix}"])
        if isinstance(layer, L.BatchNormalization):
            state[f"{prefix}.num_batches_tracked"] = torch.tensor(0)
    return state


def load_torch_state_dict(model, state_dict: dict) -> None:
    """Set the model's weights from a PyTorch state dict in the names and layouts of the module's table
    (tensors or arrays); every key the model needs must be there with its shape, and no other."""
    if not isinstance(state_dict, Mapping):
        raise checks.ArgumentError(
            f"state_dict must be a dict of tensors or arrays (a module's state_dict()), got {type(state_dict).__name__}"
        )
    given = {key: _array(value, key) for key, value in state_dict.items()}
    assignments, expected = [], set()
    for prefix, layer, suffix in _layers(model):
        for key, attributes, (to_torch, from_torch) in _layout(layer):
            name = f"{prefix}.{key}{suffix}"
            expected.add(name)
            if name not in given:
                raise checks.ArgumentError(f"the state dict has no {name!r} for layer {prefix!r}")
            shapes = [tuple(getattr(layer, attribute).shape) for attribute in attributes]
            needed = to_torch([np.broadcast_to(0.0, shape) for shape in shapes]).shape  # (views, but the packed)
            if tuple(given[name].shape) != tuple(needed):
                raise checks.ArgumentError(
                    f"{name!r} has shape {tuple(given[name].shape)}; layer {prefix!r} needs {tuple(needed)}"
                )
            values = from_torch(_finite(given, name))
            if isinstance(layer, (L.SimpleRNN, L.LSTM)) and key == "bias_ih_l0":
                hh = f"{prefix}.bias_hh_l0{suffix}"
                expected.add(hh)
                second = _finite(given, hh) if hh in given else 0.0
                values = [np.add(values[0], second, dtype=np.float64)]  # our one bias is PyTorch's two
            assignments += [(layer, attribute, v) for attribute, v in zip(attributes, values)]
        if isinstance(layer, L.BatchNormalization):
            expected.add(f"{prefix}.num_batches_tracked")
    unknown = sorted(set(given) - expected)
    if unknown:
        raise checks.ArgumentError(f"the state dict holds keys this model has no place for: {unknown[:5]}")
    for layer, attribute, values in assignments:  # only once every key has been checked
        target = getattr(layer, attribute)
        if hasattr(target, "assign"):
            target.assign(layer.ops.asarray(values, dtype=target.data.dtype))
        else:
            target[...] = layer.ops.asarray(values, dtype=target.dtype)


def _array(value, key) -> np.ndarray:
    """A state dict's value (a tensor, an array or nested lists) as a NumPy array of numbers."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return arrays.as_array(value, f"the state dict's {key!r}")


def _finite(given: dict, key: str) -> np.ndarray:
    """``given[key]``, refused if it holds NaN or infinite values (weights that would make every output NaN)."""
    values = given[key]
    if not arrays.all_finite(values):
        bad = int((~np.isfinite(values)).sum())
        raise checks.ArgumentError(
            f"the state dict's {key!r} holds {bad} NaN or infinite value(s) of {values.size}; weights must be finite"
        )
    return values


__all__ = ["load_torch_state_dict", "to_torch_state_dict"]
