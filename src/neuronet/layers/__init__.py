"""Layers of a network, one concept per module."""

from .activations import Activation, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .augmentation import GaussianNoise, RandomFlip, RandomRotation, RandomTranslation, RandomZoom
from .base import LAYERS, Layer
from .conv import Conv1D, Conv2D
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .flatten import Flatten
from .normalization import BatchNormalization
from .pooling import (
    AvgPool1D,
    AvgPool2D,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    MaxPool1D,
    MaxPool2D,
)
from .reshape import Reshape
from .sparse import SparseDense, prune, prune_dense
from .wrappers import TimeDistributed

__all__ = [
    "LAYERS",
    "Activation",
    "AvgPool1D",
    "AvgPool2D",
    "BatchNormalization",
    "Conv1D",
    "Conv2D",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GaussianNoise",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "Layer",
    "LeakyReLU",
    "MaxPool1D",
    "MaxPool2D",
    "RandomFlip",
    "RandomRotation",
    "RandomTranslation",
    "RandomZoom",
    "ReLU",
    "Reshape",
    "Sigmoid",
    "Softmax",
    "SparseDense",
    "Tanh",
    "TimeDistributed",
    "prune",
    "prune_dense",
]
