import numpy as np
import pytest

import neuronet as nn


@pytest.fixture
def float64():
    """Run a test in float64, where finite differences are accurate; restore float32 after."""
    nn.set_dtype("float64")
    yield
    nn.set_dtype("float32")


@pytest.fixture(autouse=True)
def _seed():
    nn.set_seed(0)


@pytest.fixture
def no_matplotlib(monkeypatch):
    """Make every import of matplotlib fail, as on an install without the plot extra."""
    import builtins

    real_import = builtins.__import__

    def refuse(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)


def rng(seed=0):
    return np.random.default_rng(seed)
