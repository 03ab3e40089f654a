"""neuronet: neural networks from scratch on NumPy, every gradient verified.

import neuronet as nn
model = nn.Sequential([nn.layers.Dense(4, 5, activation="relu"), nn.layers.Dense(5, 2)])

``nn.plot`` draws pictures when matplotlib is installed (``pip install "neuronet[plot]"``).
"""

from . import (
    callbacks,
    checks,
    data,
    datasets,
    demos,
    distributed,
    initializers,
    layers,
    losses,
    metrics,
    onnx,
    ops,
    optimizers,
    plot,
    regularizers,
    schedules,
    steps,
    text,
)
from .callbacks import History
from .gan import GAN, load_gan
from .gpu import gpu_available
from .model import Model
from .nodes import Input
from .parameter import Parameter
from .saving import ModelFileError
from .sequential import Sequential, load_model
from .settings import get_dtype, get_threads, set_dtype, set_seed, set_threads
from .version import __version__ as __version__

__all__ = [
    "GAN",
    "History",
    "Input",
    "Model",
    "ModelFileError",
    "Parameter",
    "Sequential",
    "callbacks",
    "checks",
    "data",
    "datasets",
    "demos",
    "distributed",
    "get_dtype",
    "get_threads",
    "gpu_available",
    "initializers",
    "layers",
    "load_gan",
    "load_model",
    "losses",
    "metrics",
    "onnx",
    "ops",
    "optimizers",
    "plot",
    "regularizers",
    "schedules",
    "set_dtype",
    "set_seed",
    "set_threads",
    "steps",
    "text",
]
