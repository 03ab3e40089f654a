"""Finite differences for a layer that takes a mask or a list of inputs: attention and the layers holding it."""

import numpy as np

import neuronet as nn
from neuronet.gradcheck import numerical_gradient, relative_error


def listed(x):
    return x if isinstance(x, list) else [x]


def gradient_errors(layer, x, mask=None, training: bool = False) -> dict:
    """The relative error of each input's gradient ("input 0", ...) and every parameter's against central
    differences of L = sum(layer(x) * r), the generator reseeded before each pass so that dropout draws the
    same mask. A key bias (attention's ``key_biases``, held or not) is checked to have a zero gradient instead:
    it adds q . bk to every score of a row, which the softmax ignores."""

    def loss():
        nn.set_seed(5)
        return float(np.sum(layer.forward(x, training, mask=mask) * r))

    nn.set_seed(5)
    r = np.random.default_rng(9).standard_normal(layer.forward(x, training, mask=mask).shape)
    layer.zero_grad()
    nn.set_seed(5)
    layer.forward(x, training, mask=mask)
    dxs = listed(layer.backward(r))
    errors = {f"input {i}": relative_error(dx, numerical_gradient(loss, xi))
              for i, (dx, xi) in enumerate(zip(dxs, listed(x), strict=True))}  # fmt: skip
    for name, p in layer.named_parameters().items():
        numeric = numerical_gradient(loss, p.data)
        if name.endswith("key_biases"):
            assert np.abs(p.grad).max() < 1e-12 and np.abs(numeric).max() < 1e-8
            continue
        assert np.abs(p.grad).max() > 1e-3, name  # (a real gradient, not two roundings compared)
        errors[name] = relative_error(p.grad, numeric)
    return errors
