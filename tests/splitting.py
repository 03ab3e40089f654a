"""The thread split's one promise, checked for any model: a batch cut into parts gives the whole batch's step."""

import numpy as np
import pytest

from neuronet.steps import PlainStep, parts


def assert_split_equals_whole(model, x, y) -> None:
    """``model``'s step on ``(x, y)`` is cut into parts, and its loss and every parameter's gradient equal the
    plain step's on the whole batch (float64)."""
    assert parts(len(x), model.layers) > 1
    loss_split, _ = model.compute_gradients(x, y)
    split = [p.grad.copy() for p in model.parameters()]
    loss_whole, _ = PlainStep(model).gradients(x, y)
    assert loss_split == pytest.approx(loss_whole, rel=1e-12)
    for a, p in zip(split, model.parameters()):
        np.testing.assert_allclose(a, p.grad, rtol=1e-9, atol=1e-12)
