"""Text to numbers: tokenising sentences, building a vocabulary, padding to one length.

    tok = Tokenizer(num_words=5000).fit(train_texts)
    ids = pad_sequences(tok.texts_to_sequences(texts), maxlen=40)   # (n, 40) integers for an Embedding

Id 0 is padding and id 1 stands for any word outside the vocabulary; real
words get ids from 2 upwards, most frequent first.

``generate`` (from ``generation.py``) lets a causal model write text a token at a time.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from . import arrays, checks
from .data.csv import read_csv
from .generation import generate as generate

PAD, OOV = 0, 1
_WORD = re.compile(r"[a-z0-9']+|[^\sa-z0-9']")  # words (with apostrophes) and single punctuation marks


class Tokenizer:
    """Split text into lower-case words and punctuation marks and map each to an id.

    ``num_words`` caps the vocabulary (padding and out-of-vocabulary ids
    included); ``keep_punctuation=False`` drops punctuation marks.
    """

    def __init__(self, num_words: int | None = None, lower: bool = True, keep_punctuation: bool = True) -> None:
        if num_words is not None:  # room for padding, the unknown word and one word
            num_words = checks.integer(num_words, "num_words", low=3)
        self.num_words = num_words
        self.lower, self.keep_punctuation = (
            checks.flag(lower, "lower"),
            checks.flag(keep_punctuation, "keep_punctuation"),
        )
        self.word_index: dict[str, int] = {}

    def tokenize(self, text: str) -> list[str]:
        text = checks.text(text, "a text")
        text = text.lower() if self.lower else text
        tokens = _WORD.findall(text)
        if not self.keep_punctuation:
            tokens = [t for t in tokens if t[0].isalnum() or t[0] == "'"]
        return tokens

    def fit(self, texts) -> Tokenizer:
        """Build the vocabulary from training texts: the most frequent words get the smallest ids."""
        counts = Counter(token for text in _texts(texts) for token in self.tokenize(text))
        if not counts:
            raise ValueError("Tokenizer.fit found no words in the texts")
        limit = None if self.num_words is None else self.num_words - 2
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        self.word_index = {word: i + 2 for i, (word, _) in enumerate(ordered)}
        return self

    @property
    def vocab_size(self) -> int:
        """Ids run from 0 to vocab_size - 1 (padding and unknown included): the Embedding's vocab_size."""
        return len(self.word_index) + 2

    def texts_to_sequences(self, texts) -> list[list[int]]:
        if not self.word_index:
            raise RuntimeError("call Tokenizer.fit on the training texts first")
        return [[self.word_index.get(t, OOV) for t in self.tokenize(text)] for text in _texts(texts)]

    def get_config(self) -> dict:
        return {
            "num_words": self.num_words,
            "lower": self.lower,
            "keep_punctuation": self.keep_punctuation,
            "word_index": self.word_index,
        }

    @classmethod
    def from_config(cls, config: dict) -> Tokenizer:
        tok = cls(config["num_words"], config["lower"], config["keep_punctuation"])
        tok.word_index = dict(config["word_index"])
        return tok


def _texts(texts) -> list[str]:
    """``texts`` as a list of strings; a bare string is refused, as iterating it would give its characters."""
    if isinstance(texts, (str, bytes)):
        raise checks.ArgumentError(
            f"texts must be a list of texts, got a single {type(texts).__name__} ({texts[:40]!r}); "
            "pass [text] for one text"
        )
    try:
        texts = list(texts)
    except TypeError:
        raise checks.ArgumentError(f"texts must be a list of texts (strings), got {type(texts).__name__}") from None
    for i, text in enumerate(texts):
        checks.text(text, f"texts[{i}]")
    return texts


def pad_sequences(
    sequences, maxlen: int | None = None, padding: str = "pre", truncating: str = "pre", value: int = PAD
) -> np.ndarray:
    """Lists of ids as one (n, maxlen) integer array.

    Shorter sequences are filled with ``value`` before ("pre", as Keras) or after
    ("post") the ids; longer ones lose ids from the start ("pre") or the end ("post").
    """
    for name, choice in (("padding", padding), ("truncating", truncating)):
        checks.choice(choice, name, ("pre", "post"))
    value = checks.integer(value, "value", low=0)
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__iter__"):
        raise checks.ArgumentError(f"sequences must be a list of lists of ids, got {type(sequences).__name__}")
    sequences = [_ids(seq, f"sequences[{i}]") for i, seq in enumerate(sequences)]
    if maxlen is not None:
        maxlen = checks.integer(maxlen, "maxlen", low=1)
    else:
        maxlen = max((len(s) for s in sequences), default=0)
    out = np.full((len(sequences), maxlen), value, dtype=np.int64)
    for i, seq in enumerate(sequences):
        seq = seq[-maxlen:] if truncating == "pre" else seq[:maxlen]
        if len(seq) == 0:
            continue
        if padding == "pre":
            out[i, maxlen - len(seq) :] = seq
        else:
            out[i, : len(seq)] = seq
    return out


def _ids(sequence, name: str) -> np.ndarray:
    """One sequence of token ids as int64: whole numbers >= 0 (an id of 1.7 or -3 is refused, never cut)."""
    ids = arrays.as_array(sequence, name)
    if ids.ndim != 1:
        raise checks.ArgumentError(f"{name} must be a list of token ids, got an array of shape {ids.shape}")
    return checks.whole_numbers(ids, f"{name} (token ids)", low=0)


def load_text_csv(path, text_column: str = "text", label_column: str = "label") -> tuple[list[str], np.ndarray, list]:
    """Read a CSV of texts and labels; returns (texts, integer labels, class names in label order)."""
    table = read_csv(path)
    texts, labels = table.column(text_column), table.column(label_column)
    classes = sorted(set(labels))
    index = {c: i for i, c in enumerate(classes)}
    return texts, np.array([index[v] for v in labels], dtype=np.int64), classes
