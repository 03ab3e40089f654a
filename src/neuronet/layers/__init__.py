"""Layers of a network, one concept per module."""

from .activations import ELU, GELU, SELU, Activation, LeakyReLU, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh
from .attention import MultiHeadAttention
from .augmentation import GaussianNoise, RandomFlip, RandomRotation, RandomTranslation, RandomZoom
from .base import LAYERS, Layer
from .conv import Conv1D, Conv2D, Conv2DTranspose
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .flatten import Flatten
from .gru import GRU
from .lstm import LSTM
from .merge import Add, Average, Concatenate, Merge, Multiply, Subtract
from .normalization import BatchNormalization, LayerNormalization
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
from .positional import PositionalEmbedding
from .reshape import Reshape
from .simple_rnn import SimpleRNN
from .sparse import SparseDense, prune, prune_dense
from .transformer import TransformerEncoder
from .upsampling import UpSampling2D
from .wrappers import Bidirectional, TimeDistributed

__all__ = [
    "LAYERS",
    "Activation",
    "Add",
    "Average",
    "AvgPool1D",
    "AvgPool2D",
    "BatchNormalization",
    "Bidirectional",
    "Concatenate",
    "Conv1D",
    "Conv2D",
    "Conv2DTranspose",
    "Dense",
    "Dropout",
    "ELU",
    "Embedding",
    "Flatten",
    "GELU",
    "GRU",
    "GaussianNoise",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "LSTM",
    "Layer",
    "LayerNormalization",
    "LeakyReLU",
    "MaxPool1D",
    "MaxPool2D",
    "Merge",
    "MultiHeadAttention",
    "Multiply",
    "PositionalEmbedding",
    "RandomFlip",
    "RandomRotation",
    "RandomTranslation",
    "RandomZoom",
    "ReLU",
    "Reshape",
    "SELU",
    "SiLU",
    "Sigmoid",
    "SimpleRNN",
    "Softmax",
    "Softplus",
    "SparseDense",
    "Subtract",
    "Tanh",
    "TimeDistributed",
    "TransformerEncoder",
    "UpSampling2D",
    "prune",
    "prune_dense",
]
