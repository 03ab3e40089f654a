"""Text models on the command line: the settings a text model is saved with, and `neuronet predict-text`.

A text model (from ``neuronet demo text --out MODEL``) reads token ids: its file keeps the tokenizer that
turns a sentence into them, the length sequences are padded to and the class names, so a sentence typed on
the command line is read as the training reviews were.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..sequential import Sequential, load_model
from ..text import OOV, Tokenizer, pad_sequences
from .arguments import CLIError
from .settings import damaged, outputs_for


@dataclass
class TextSettings:
    """The ``tokenizer``, the padded length ``maxlen`` and the ``classes`` of a text model."""

    tokenizer: Tokenizer
    maxlen: int
    classes: list[str]

    def to_metadata(self) -> dict:
        """The settings as the model file keeps them (``model.metadata``)."""
        return {
            "task": "text",
            "tokenizer": self.tokenizer.get_config(),
            "maxlen": self.maxlen,
            "classes": self.classes,
        }

    @classmethod
    def from_model(cls, model: Sequential, path: str) -> TextSettings:
        """The settings ``model`` (loaded from ``path``) was saved with, each checked."""
        meta = model.metadata
        if meta.get("task") != "text":
            raise CLIError(f"{path} is not a text model (train one with `neuronet demo text --out MODEL`)")
        config, maxlen, classes = meta.get("tokenizer"), meta.get("maxlen"), meta.get("classes")
        index = config.get("word_index") if isinstance(config, dict) else None
        if not (
            isinstance(index, dict) and all(isinstance(i, int) and not isinstance(i, bool) for i in index.values())
        ):
            raise damaged(path, "'tokenizer' must hold a word index")
        if not (isinstance(config.get("lower"), bool) and isinstance(config.get("keep_punctuation"), bool)):
            raise damaged(path, "the tokenizer's 'lower' and 'keep_punctuation' must be true or false")
        if not (isinstance(config.get("num_words"), int) or config.get("num_words") is None):
            raise damaged(path, "the tokenizer's 'num_words' must be a whole number or null")
        if not (isinstance(maxlen, int) and not isinstance(maxlen, bool) and maxlen >= 1):
            raise damaged(path, "'maxlen' must be a positive whole number")
        outputs = outputs_for(model, path, np.zeros((1, maxlen), np.int64))
        if not (isinstance(classes, list) and len(classes) == outputs and all(isinstance(c, str) for c in classes)):
            raise damaged(path, f"'classes' must name the {outputs} classes the network outputs")
        return cls(Tokenizer.from_config(config), maxlen, classes)


def print_predictions(model: Sequential, sentences: list[str], path: str = "the model") -> None:
    """Each sentence's class and its probability, with the words the model does not know or did not read."""
    settings = TextSettings.from_model(model, path)
    tokenizer, maxlen = settings.tokenizer, settings.maxlen
    tokens = [tokenizer.tokenize(s) for s in sentences]
    for i, (sentence, words) in enumerate(zip(sentences, tokens), start=1):
        if not words:
            raise CLIError(f"sentence {i} ({sentence!r}) holds no words to classify")
    ids = tokenizer.texts_to_sequences(sentences)
    for sentence, words, sequence, probs in zip(sentences, tokens, ids, model.predict(pad_sequences(ids, maxlen))):
        k = int(probs.argmax())
        line = f"{settings.classes[k]:>9} ({probs[k]:6.1%})  "
        print(line + sentence)
        unknown = sorted({w for w, t in zip(words, sequence) if t == OOV})
        if unknown:
            print(" " * len(line) + f"not in the vocabulary, read as unknown: {', '.join(map(repr, unknown))}")
        if len(words) > maxlen:
            print(" " * len(line) + f"longer than the {maxlen} words the model reads: only the last {maxlen} were read")


def cmd_predict_text(args) -> None:
    """`neuronet predict-text MODEL SENTENCE...`: each sentence's class."""
    print_predictions(load_model(args.model), args.sentences, args.model)
