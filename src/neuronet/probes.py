"""Measurements of a network's inside, for the pictures of ``plot`` and for watching training: the saliency of
an input (the gradient of a class's output with respect to it) and the size of each layer's gradient.

Both come from the model's own backward pass (``model.backward``, ``model.compute_gradients``), so they are
the gradients training uses, not a second computation of them.
"""

from __future__ import annotations

import numpy as np

from . import checks


def saliency(model, x, class_index=None) -> tuple[np.ndarray, np.ndarray]:
    """d(output c)/dx for each sample of the batch ``x``: how much each input value moves the model's output for
    class c (Simonyan et al., 2013), and the classes c, one per sample.

    ``class_index`` is the class (an int, or one per sample); None takes the class each sample is predicted
    to be. The output is the model's (the probability, after a softmax). One pass forward as ``predict``
    runs it, one ``model.backward`` of the one-hot ``dy`` (1 at [sample, c]): the rows of a batch do not mix,
    so row n of the result is d(output[n, c_n])/d(x[n]). The parameters' ``.grad`` are put back as they were.
    """
    if model.several_inputs or model.several_outputs:
        raise checks.ArgumentError("saliency takes a model of one input and one output")
    if model.takes_ids:
        raise checks.ArgumentError(
            "saliency needs an input of numbers to differentiate; this model's input is token ids (an Embedding): "
            "there is no gradient with respect to an id"
        )
    x = model.check_x(x)
    out = model.call(x, training=False)
    if out.ndim != 2:
        raise checks.ArgumentError(
            f"saliency needs outputs of shape (samples, classes); the model gives {tuple(out.shape)}"
        )
    n, classes = out.shape
    chosen = np.asarray(model.ops.to_numpy(out).argmax(axis=1) if class_index is None else class_index)
    chosen = np.broadcast_to(chosen, (n,)) if chosen.ndim == 0 else chosen
    if chosen.shape != (n,) or chosen.dtype.kind not in "iu" or chosen.min() < 0 or chosen.max() >= classes:
        raise checks.ArgumentError(
            f"class_index must be a class 0..{classes - 1} or one per sample ({n}), got {class_index!r}"
        )
    dy = np.zeros((n, classes), dtype=model.dtype)
    dy[np.arange(n), chosen] = 1
    params = model.parameters()
    kept = [p.grad.copy() for p in params]  # (backward adds every parameter's gradient too)
    try:
        dx = model.backward(dy, input_grad=True)
    finally:
        for p, grad in zip(params, kept):
            p.grad[...] = grad
    return model.ops.to_numpy(dx), chosen.copy()


def gradient_norms(model) -> dict[str, float]:
    """The size of each layer's gradient as the model holds it now (after a backward pass): the Euclidean norm
    of all its parameters' ``.grad`` together, sqrt(sum over its parameters of sum(grad**2)), by layer name in
    the model's order; layers without parameters left out."""
    norms = {}
    for layer in model.layers:
        params = layer.parameters()
        if params:
            norms[layer.name] = float(np.sqrt(sum(float((model.ops.to_numpy(p.grad) ** 2).sum()) for p in params)))
    return norms


def batch_gradient_norms(model, x, y) -> dict[str, float]:
    """:func:`gradient_norms` of the loss's gradient on the batch ``(x, y)`` (a training pass, as a step of
    ``fit`` computes it, penalties included); the model's weights and states are put back as they were (batch
    normalisation's running statistics move in a training pass), its ``.grad`` hold this batch's gradient."""
    if model.optimizer is None:
        raise RuntimeError("batch_gradient_norms needs the model's loss: call model.compile(...) first")
    x, y = model.check_data(x, y)
    kept = model.get_weights()
    try:
        model.compute_gradients(x, y)
    finally:
        model.set_weights(kept)
    return gradient_norms(model)
