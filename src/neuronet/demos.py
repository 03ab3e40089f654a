"""The demo networks: what ``neuronet demo`` trains and the guide's experiments run, one definition for the
command line, the guide and the tests."""

from __future__ import annotations

import numpy as np

from . import layers as L
from .gan import GAN
from .model import Model
from .nodes import Input, Node
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


def conv_block(x: Node, channels: int, residual: bool = True) -> Node:
    """A residual block, y = relu(x + F(x)) with F = conv, batch norm, ReLU, conv, batch norm (3x3 convolutions
    that keep the size); without ``residual`` the same layers with no Add, y = relu(F(x))."""
    f = L.Conv2D(channels, channels, 3, padding="same")(x)
    f = L.ReLU()(L.BatchNormalization(channels)(f))
    f = L.BatchNormalization(channels)(L.Conv2D(channels, channels, 3, padding="same")(f))
    return L.ReLU()(L.Add()([x, f]) if residual else f)


def digits_resnet(residual: bool = True, width: int = 16, blocks: int = 2) -> Model:
    """A small ResNet for 8x8 digit images (``demo resnet``): a stem convolution to ``width`` channels, ``blocks``
    residual blocks (:func:`conv_block`), the mean of each channel over the image, then the classes. With
    ``residual=False``, the plain CNN of the same layers and parameters: every block without its Add."""
    x = Input(shape=(8, 8, 1))
    h = L.RandomTranslation(0.1)(x)  # augmentation: only while training
    h = L.ReLU()(L.BatchNormalization(width)(L.Conv2D(1, width, 3, padding="same")(h)))
    for _ in range(blocks):
        h = conv_block(h, width, residual)
    return Model(x, L.Dense(width, 10, activation="softmax")(L.GlobalAvgPool2D()(h)))


def deep_mlp(residual: bool = True, blocks: int = 20, width: int = 32) -> Model:
    """The guide's deep network for the 64 pixels of a digit: a Dense layer to ``width``, ``blocks`` blocks of
    two Dense layers F(x) = Dense(relu(Dense(x))), then the classes. With ``residual``, each block adds its
    input, y = x + F(x); without, y = F(x): the same layers and parameters."""
    x = Input(shape=(64,))
    h = L.Dense(64, width, activation="relu")(x)
    for _ in range(blocks):
        f = L.Dense(width, width)(L.Dense(width, width, activation="relu")(h))
        h = L.Add()([h, f]) if residual else f
    return Model(x, L.Dense(width, 10, activation="softmax")(h))


def block_gradients(model: Model, x, y) -> np.ndarray:
    """How large the gradient reaching each block of :func:`deep_mlp` is, at one pass over ``(x, y)``: the norm
    of the bias gradient of each block's last Dense layer, which is dL/d(the block's output) summed over the
    batch (in a residual block too: the Add hands dL/dy to F unchanged). Blocks in order, first to last."""
    x, y = model.check_data(x, y)
    out = model.forward(x, training=True)
    model.backward_loss(out, model.ops.asarray(y))
    dense = [layer for layer in model.layers if isinstance(layer, L.Dense)]
    return np.array([float(np.linalg.norm(layer.biases.grad)) for layer in dense[2:-1:2]])


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


def sentiment_transformer(vocab_size: int, length: int) -> Sequential:
    """Word vectors and their positions, one Transformer encoder block in which every word attends to the others
    (padding gets no attention), then the mean of the steps is classified (``demo text --model transformer``)."""
    return Sequential(
        [
            L.Embedding(vocab_size, 32, padding_id=0),
            L.PositionalEmbedding(length, 32),  # attention alone does not see the order: "not good" vs "good, not"
            L.TransformerEncoder(32, 4, 64, dropout=0.1),
            L.GlobalAvgPool1D(),
            L.Dense(32, 2, activation="softmax"),
        ],
        input_shape=(length,),
    )


def writer_transformer(
    vocab_size: int, context: int, embed_dim: int = 64, num_heads: int = 4, ff_dim: int = 128, blocks: int = 2
) -> Sequential:
    """A character-level causal Transformer (``demo writer``): each character's vector and its position,
    ``blocks`` pre-norm encoder blocks in which each step attends to itself and the steps before it alone, a
    last LayerNormalization, then at every step the probabilities of the next character. Sequences of up to
    ``context`` characters (``nn.text.generate`` continues text a character at a time through it)."""
    return Sequential(
        [
            L.Embedding(vocab_size, embed_dim),
            L.PositionalEmbedding(context, embed_dim),
            *[
                L.TransformerEncoder(embed_dim, num_heads, ff_dim, dropout=0.0, activation="gelu", norm_first=True,
                                     causal=True)
                for _ in range(blocks)
            ],
            L.LayerNormalization(epsilon=1e-5),  # (pre-norm blocks leave their last sum unnormalised)
            L.Dense(embed_dim, vocab_size, activation="softmax"),
        ]
    )  # fmt: skip


def character_windows(ids: np.ndarray, length: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows of ``length`` character ids every ``stride`` characters, and for each step the id after it: the
    inputs (n, length) and targets (n, length) of a model that predicts the next character at every step."""
    starts = np.arange(0, len(ids) - length, stride)
    x = ids[starts[:, None] + np.arange(length)]
    return x, ids[starts[:, None] + np.arange(1, length + 1)]


def ngram_losses(train_ids: np.ndarray, x: np.ndarray, y: np.ndarray, vocab_size: int) -> dict[str, float]:
    """The baselines of a character model, counted on ``train_ids`` and measured on the targets ``y`` (each
    ``y[:, t]`` follows ``x[:, t]``), in nats per character (the mean of -ln p(target)):

        unigram  p(c) = (count(c) + 1) / (N + V)                              each character alone
        bigram   p(c | b) = (count(b c) + p_unigram(c)) / (count(b) + 1)      the character before it too

    (add-one smoothing; the bigram falls back on the unigram after a character rarely seen)."""
    unigram = np.bincount(train_ids, minlength=vocab_size) + 1.0
    unigram /= unigram.sum()
    pairs = np.zeros((vocab_size, vocab_size))
    np.add.at(pairs, (train_ids[:-1], train_ids[1:]), 1.0)
    bigram = (pairs + unigram) / (pairs.sum(axis=1, keepdims=True) + 1.0)
    return {"unigram": float(-np.log(unigram[y]).mean()), "bigram": float(-np.log(bigram[x, y]).mean())}


def character_loss(model: Model, x: np.ndarray, y: np.ndarray) -> float:
    """A character model's cross-entropy on targets ``y`` after inputs ``x``, in nats per character."""
    probabilities = model.predict(x)
    chosen = np.take_along_axis(probabilities, y[..., None], axis=-1)[..., 0].astype(np.float64)
    return float(-np.log(chosen).mean())


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
