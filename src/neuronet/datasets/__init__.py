"""Small datasets that ship with neuronet: nothing is ever downloaded."""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np

from .. import checks, settings


def spiral(samples: int = 100, classes: int = 3, noise: float = 0.2, seed: int | None = 0):
    """The spiral of *Neural Networks from Scratch*: ``classes`` arms of ``samples`` points each.

    Returns ``X`` of shape (samples * classes, 2) and integer labels ``y``.
    A fixed ``seed`` gives the same data every time; ``seed=None`` uses the
    library's generator (see :func:`neuronet.set_seed`).
    """
    samples, classes = checks.integer(samples, "samples", low=1), checks.integer(classes, "classes", low=1)
    noise = checks.number(noise, "noise", low=0.0)
    rng = np.random.default_rng(seed) if seed is not None else settings.rng()
    X = np.zeros((samples * classes, 2), dtype=settings.get_dtype())
    y = np.zeros(samples * classes, dtype=np.int64)
    for k in range(classes):
        rows = slice(samples * k, samples * (k + 1))
        r = np.linspace(0.0, 1.0, samples)
        t = np.linspace(k * 4, (k + 1) * 4, samples) + rng.standard_normal(samples) * noise
        X[rows] = np.c_[r * np.sin(t * 2.5), r * np.cos(t * 2.5)]
        y[rows] = k
    return X, y


def first_equals_last(samples: int = 3000, vocab: int = 6, length: int = 10, seed: int | None = 0):
    """Random sequences of ``length`` tokens from 1 to ``vocab - 1`` (0 is left for padding), labelled 1 where
    the last token is the first one (half of them, at random) and 0 where it is another: a task that needs the
    order of the steps and a pairing over their whole distance (attention with positions learns it; a bag of
    tokens cannot).

    Returns token ids (samples, length) and integer labels ``y``; ``seed`` as :func:`spiral`'s.
    """
    samples = checks.integer(samples, "samples", low=1)
    vocab, length = checks.integer(vocab, "vocab", low=3), checks.integer(length, "length", low=2)
    rng = np.random.default_rng(seed) if seed is not None else settings.rng()
    ids = rng.integers(1, vocab, (samples, length))
    same = rng.integers(0, 2, samples).astype(bool)
    ids[same, -1] = ids[same, 0]
    other = rng.integers(1, vocab - 1, (~same).sum())  # another token than the first, each alike
    ids[~same, -1] = (ids[~same, 0] - 1 + other) % (vocab - 1) + 1
    return ids, same.astype(np.int64)


def load_digits():
    """The 8x8 handwritten digits (1,797 images, UCI, via scikit-learn's bundled copy).

    Returns ``X`` of shape (1797, 64) with pixel values 0..16 and labels ``y`` (0..9).
    Source and licence: see ``datasets/data/README.md``.
    """
    with resources.files(__package__).joinpath("data/digits.csv.gz").open("rb") as raw, gzip.open(raw) as text:
        data = np.loadtxt(text, delimiter=",", dtype=np.float64)
    return data[:, :-1].astype(settings.get_dtype()), data[:, -1].astype(np.int64)


def neuronet_docs() -> str:
    """The prose of neuronet's own guide and API reference, one paragraph a line (code, tables and pictures left
    out): 92,196 characters of English about neural networks, the text ``neuronet demo writer`` learns to write.
    Made from ``docs/guide.md`` and ``docs/api.md`` by ``docs/make_corpus.py``; see ``datasets/data/README.md``."""
    with resources.files(__package__).joinpath("data/docs.txt.gz").open("rb") as raw, gzip.open(raw) as text:
        return text.read().decode("utf-8")


def co2(monthly: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Atmospheric CO2 at Mauna Loa, Hawaii, March 1958 to December 2001, in ppm (a rising trend with a
    yearly cycle: the classic series for forecasting).

    Returns ``dates`` (NumPy datetime64) and ``ppm`` (float). ``monthly=True`` (the default): 526
    monthly means of the weekly values; ``monthly=False``: the 2,284 weekly values, the 59 weeks without
    a measurement filled in by linear interpolation between their neighbours. Source and licence (public
    domain, C. D. Keeling and T. P. Whorf, via statsmodels' bundled copy): ``datasets/data/README.md``.
    """
    monthly = checks.flag(monthly, "monthly")
    with resources.files(__package__).joinpath("data/co2.csv.gz").open("rb") as raw, gzip.open(raw) as text:
        table = np.genfromtxt(text, delimiter=",", skip_header=1)  # an empty co2 cell reads as NaN
    day, ppm = table[:, 0].astype(np.int64), table[:, 1]
    year, month = day // 10000, day // 100 % 100
    if not monthly:
        missing = np.isnan(ppm)
        ppm[missing] = np.interp(np.flatnonzero(missing), np.flatnonzero(~missing), ppm[~missing])
        dates = np.array([f"{y:04d}-{m:02d}-{d % 100:02d}" for y, m, d in zip(year, month, day)], "datetime64[D]")
        return dates, ppm.astype(settings.get_dtype())
    index = (year - year[0]) * 12 + month - month[0]  # months since the first
    measured = ~np.isnan(ppm)
    sums = np.bincount(index[measured], weights=ppm[measured], minlength=index[-1] + 1)
    counts = np.bincount(index[measured], minlength=index[-1] + 1)
    means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    if np.isnan(means).any():  # a month without a single measured week: between its neighbours
        gap = np.isnan(means)
        means[gap] = np.interp(np.flatnonzero(gap), np.flatnonzero(~gap), means[~gap])
    dates = np.datetime64(f"{year[0]:04d}-{month[0]:02d}", "M") + np.arange(len(means))
    return dates, means.astype(settings.get_dtype())


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
    rng = np.random.default_rng(seed) if seed is not None else settings.rng()

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


__all__ = ["co2", "first_equals_last", "load_digits", "sentiment", "spiral"]
