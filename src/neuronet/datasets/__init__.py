"""Small datasets that ship with neuronet: nothing is ever downloaded."""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np

from .. import backend


def spiral(samples: int = 100, classes: int = 3, noise: float = 0.2, seed: int | None = 0):
    """The spiral of *Neural Networks from Scratch*: ``classes`` arms of ``samples`` points each.

    Returns ``X`` of shape (samples * classes, 2) and integer labels ``y``.
    A fixed ``seed`` gives the same data every time; ``seed=None`` uses the
    library's generator (see :func:`neuronet.set_seed`).
    """
    if samples < 1 or classes < 1:
        raise ValueError(f"spiral needs samples >= 1 and classes >= 1, got {samples} and {classes}")
    rng = np.random.default_rng(seed) if seed is not None else backend.rng()
    X = np.zeros((samples * classes, 2), dtype=backend.get_dtype())
    y = np.zeros(samples * classes, dtype=np.int64)
    for k in range(classes):
        rows = slice(samples * k, samples * (k + 1))
        r = np.linspace(0.0, 1.0, samples)
        t = np.linspace(k * 4, (k + 1) * 4, samples) + rng.standard_normal(samples) * noise
        X[rows] = np.c_[r * np.sin(t * 2.5), r * np.cos(t * 2.5)]
        y[rows] = k
    return X, y


def load_digits():
    """The 8x8 handwritten digits (1,797 images, UCI, via scikit-learn's bundled copy).

    Returns ``X`` of shape (1797, 64) with pixel values 0..16 and labels ``y`` (0..9).
    Source and licence: see ``datasets/data/README.md``.
    """
    with resources.files(__package__).joinpath("data/digits.csv.gz").open("rb") as raw, gzip.open(raw) as text:
        data = np.loadtxt(text, delimiter=",", dtype=np.float64)
    return data[:, :-1].astype(backend.get_dtype()), data[:, -1].astype(np.int64)


SUBJECTS = [
    "the movie",
    "this film",
    "the plot",
    "the acting",
    "the ending",
    "the music",
    "the story",
    "the cast",
    "this show",
    "the script",
    "the dialogue",
    "the finale",
]
POSITIVE = ["good", "great", "excellent", "wonderful", "brilliant", "enjoyable", "fun", "moving", "lovely", "superb"]
NEGATIVE = ["bad", "awful", "terrible", "boring", "dull", "poor", "weak", "horrible", "bland", "tedious"]


def sentiment(samples: int = 2000, seed: int | None = 0) -> tuple[list[str], np.ndarray]:
    """Short film reviews labelled 1 (positive) or 0 (negative), generated from templates.

    Half the templates defeat a bag of words: "the plot was good , not bad"
    and "the plot was bad , not good" hold the same words with opposite
    meanings, and so do "... was not bad but great" and "... was not great
    but bad"; only word order tells them apart. The others need negation
    read in context: "it was not good", "i did not think it was good".
    """
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    rng = np.random.default_rng(seed) if seed is not None else backend.rng()
    texts, labels = [], []
    for _ in range(samples):
        subject = SUBJECTS[rng.integers(len(SUBJECTS))]
        positive = bool(rng.integers(2))
        good = POSITIVE[rng.integers(len(POSITIVE))]
        bad = NEGATIVE[rng.integers(len(NEGATIVE))]
        same, opposite = (good, bad) if positive else (bad, good)
        form = rng.integers(5)
        if form == 0:
            text = f"{subject} was {same}"
        elif form == 1:
            text = f"{subject} was not {opposite}"
        elif form == 2:
            text = f"{subject} was {same} , not {opposite}"
        elif form == 3:
            text = f"{subject} was not {opposite} but {same}"
        else:
            text = f"i did not think it was {opposite}"
        texts.append(text)
        labels.append(int(positive))
    return texts, np.array(labels, dtype=np.int64)


__all__ = ["load_digits", "sentiment", "spiral"]
