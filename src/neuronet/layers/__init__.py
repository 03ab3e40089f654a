"""Layers of a network, one concept per module."""

from .activations import Activation, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .augmentation import GaussianNoise, RandomFlip, RandomRotation, RandomTranslation, RandomZoom
from .base import LAYERS, Layer
from .dense import Dense
from .dropout import Dropout
from .flatten import Flatten
from .normalization import BatchNormalization
from .sparse import SparseDense, prune, prune_dense

__all__ = [
    "LAYERS",
    "Activation",
    "BatchNormalization",
    "Dense",
    "Dropout",
    "Flatten",
    "GaussianNoise",
    "Layer",
    "LeakyReLU",
    "RandomFlip",
    "RandomRotation",
    "RandomTranslation",
    "RandomZoom",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "SparseDense",
    "Tanh",
    "prune",
    "prune_dense",
]
