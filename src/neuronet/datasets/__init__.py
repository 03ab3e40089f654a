"""Small datasets that ship with neuronet: nothing is ever downloaded."""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np

from .. import backend, checks


def spiral(samples: int = 100, classes: int = 3, noise: float = 0.2, seed: int | None = 0):
    """The spiral of *Neural Networks from Scratch*: ``classes`` arms of ``samples`` points each.

    Returns ``X`` of shape (samples * classes, 2) and integer labels ``y``.
    A fixed ``seed`` gives the same data every time; ``seed=None`` uses the
    library's generator (see :func:`neuronet.set_seed`).
    """
    samples, classes = checks.integer(samples, "samples", low=1), checks.integer(classes, "classes", low=1)
    noise = checks.number(noise, "noise", low=0.0)
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
    "it",
]
NOUNS = ["movie", "film", "show", "plot", "story", "cast", "script", "ending", "soundtrack", "performance"]
POSITIVE = ["good", "great", "excellent", "wonderful", "brilliant", "enjoyable", "fun", "moving", "lovely", "superb"]
NEGATIVE = ["bad", "awful", "terrible", "boring", "dull", "poor", "weak", "horrible", "bland", "tedious"]
# verbs as in "i loved it" and as in "i did not love it"
LIKED = [("loved", "love"), ("liked", "like"), ("enjoyed", "enjoy"), ("adored", "adore")]
DISLIKED = [("hated", "hate"), ("disliked", "dislike"), ("regretted", "regret")]


def sentiment(samples: int = 2000, seed: int | None = 0) -> tuple[list[str], np.ndarray]:
    """Short film reviews labelled 1 (positive) or 0 (negative), generated from templates.

    Two templates defeat a bag of words: "the plot was good , not bad" and
    "the plot was bad , not good" hold the same words with opposite
    meanings, and so do "... was not bad but great" and "... was not great
    but bad"; only word order tells them apart. Others need negation read in
    context ("it was not good", "i did not think it was good", "i did not
    like it"), and the shortest are what people type to try a model: "great
    film", "a dull plot", "i loved it", "i hated the ending".
    """
    samples = checks.integer(samples, "samples", low=1)
    rng = np.random.default_rng(seed) if seed is not None else backend.rng()

    def pick(words):
        return words[rng.integers(len(words))]

    texts, labels = [], []
    for _ in range(samples):
        positive = bool(rng.integers(2))
        subject, noun = pick(SUBJECTS), pick(NOUNS)
        good, bad = pick(POSITIVE), pick(NEGATIVE)
        same, opposite = (good, bad) if positive else (bad, good)
        (did, _), (_, not_do) = (pick(LIKED), pick(DISLIKED)) if positive else (pick(DISLIKED), pick(LIKED))
        texts.append(
            pick(
                [
                    f"{subject} was {same}",
                    f"{subject} was not {opposite}",
                    f"{subject} was {same} , not {opposite}",
                    f"{subject} was not {opposite} but {same}",
                    f"i did not think it was {opposite}",
                    f"{pick(['', 'a ', 'what a ', 'such a '])}{same} {noun}",
                    f"i {did} {pick(['it', 'the ' + noun, 'this ' + noun])}",
                    f"i did not {not_do} {pick(['it', 'the ' + noun])}",
                ]
            )
        )
        labels.append(int(positive))
    return texts, np.array(labels, dtype=np.int64)


__all__ = ["load_digits", "sentiment", "spiral"]
