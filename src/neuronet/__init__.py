"""neuronet: neural networks from scratch on NumPy, every gradient verified.

import neuronet as nn
model = nn.Sequential([nn.layers.Dense(4, 5, activation="relu"), nn.layers.Dense(5, 2)])
"""

from . import callbacks, datasets, initializers, layers, losses, metrics, optimizers, regularizers
from .backend import get_dtype, set_dtype, set_seed
from .model import History, Sequential, load_model
from .parameter import Parameter
from .saving import ModelFileError

__version__ = "0.1.0"

__all__ = [
    "History",
    "ModelFileError",
    "Parameter",
    "Sequential",
    "callbacks",
    "datasets",
    "get_dtype",
    "initializers",
    "layers",
    "load_model",
    "losses",
    "metrics",
    "optimizers",
    "regularizers",
    "set_dtype",
    "set_seed",
]
