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


def rng(seed=0):
    return np.random.default_rng(seed)
