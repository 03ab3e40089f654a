"""The demo networks: what ``neuronet demo`` trains, one definition for the command line and the tests."""

from __future__ import annotations

import numpy as np

from . import layers as L
from .gan import GAN
from .sequential import Sequential


def digits_mlp() -> Sequential:
    """64 pixels -> 64 ReLU neurons -> 10 classes: the first demo (``neuronet demo``)."""
    return Sequential([L.Dense(64, 64, activation="relu"), L.Dense(64, 10, activation="softmax")])


def digits_cnn() -> Sequential:
    """Two convolutions with pooling on 8x8 digit images, light augmentation and dropout (``demo cnn``)."""
    return Sequential(
        [
            L.RandomTranslation(0.1),  # augmentation: only while training
            L.RandomRotation(0.03),
            L.Conv2D(1, 16, 3, padding="same", activation="relu"),
            L.MaxPool2D(2),
            L.Conv2D(16, 32, 3, padding="same", activation="relu"),
            L.MaxPool2D(2),
            L.Flatten(),
            L.Dense(128, 64, activation="relu"),
            L.Dropout(0.2),
            L.Dense(64, 10, activation="softmax"),
        ],
        input_shape=(8, 8, 1),
    )


def sentiment_cnn(vocab_size: int, length: int) -> Sequential:
    """Word vectors, a convolution reading 3 words at a time, the strongest of each feature (``demo text``)."""
    return Sequential(
        [
            L.Embedding(vocab_size, 32, padding_id=0),
            L.Conv1D(32, 64, 3, padding="same", activation="relu"),  # reads 3 words at a time, in order
            L.GlobalMaxPool1D(),
            L.Dense(64, 2, activation="softmax"),
        ],
        input_shape=(length,),
    )


def sentiment_rnn(vocab_size: int, length: int, kind: str = "lstm") -> Sequential:
    """Word vectors read in order by an LSTM or a GRU, which skips the padding; its last state is classified
    (``demo text --model lstm|gru``)."""
    cell = {"lstm": L.LSTM, "gru": L.GRU}[kind]
    return Sequential(
        [L.Embedding(vocab_size, 32, padding_id=0), cell(32, 32), L.Dense(32, 2, activation="softmax")],
        input_shape=(length,),
    )


def co2_lstm(lookback: int) -> Sequential:
    """An LSTM over a window of ``lookback`` months, then the change to the next month (``demo forecast``)."""
    return Sequential([L.LSTM(1, 32), L.Dense(32, 1)], input_shape=(lookback, 1))


def digits_gan(latent_dim: int = 32) -> GAN:
    """A dense GAN for 8x8 digits as 64 pixels in [-1, 1] (``demo gan``): the generator widens a latent
    vector to the pixels, ending in tanh; the discriminator, with dropout so that it does not simply learn
    the training images by heart, narrows them to the probability of being real. Real targets 0.9."""
    generator = Sequential(
        [
            L.Dense(latent_dim, 128, activation="leaky_relu"),
            L.Dense(128, 256, activation="leaky_relu"),
            L.Dense(256, 64, activation="tanh"),
        ]
    )
    discriminator = Sequential(
        [
            L.Dense(64, 256, activation="leaky_relu"),
            L.Dropout(0.3),
            L.Dense(256, 128, activation="leaky_relu"),
            L.Dense(128, 1, activation="sigmoid"),
        ]
    )
    return GAN(generator, discriminator, latent_dim, label_smoothing=0.1)


def recognised(classifier: Sequential, images, share: float = 0.03) -> tuple[np.ndarray, float, int]:
    """How a digits classifier sees ``images``: the share of each class among its labels, its mean
    confidence (the largest probability), and how many classes have at least ``share`` of the images."""
    probabilities = classifier.predict(images)
    shares = np.bincount(probabilities.argmax(axis=1), minlength=probabilities.shape[1]) / len(probabilities)
    return shares, float(probabilities.max(axis=1).mean()), int((shares >= share).sum())
