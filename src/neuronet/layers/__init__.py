"""Layers of a network, one concept per module."""

from .activations import Activation, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .base import LAYERS, Layer
from .dense import Dense
from .dropout import Dropout
from .flatten import Flatten

__all__ = [
    "LAYERS",
    "Activation",
    "Dense",
    "Dropout",
    "Flatten",
    "Layer",
    "LeakyReLU",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
]
