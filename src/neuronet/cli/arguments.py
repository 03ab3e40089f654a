"""What the command line's arguments may hold, and CLIError: a mistake in the command, the data or a model file.

The argument types turn a word of the command into a value, or into argparse's one-line error naming the
flag; ``check_writable`` refuses a file that could not be written before any work is done.
"""

from __future__ import annotations

import argparse
import os

from .. import checks


class CLIError(ValueError):
    """A mistake in the command or the data: printed as one line."""


def check_writable(path: str, flag: str) -> None:
    """Fail now, not after training, if ``path`` cannot be written."""
    if not path.strip():
        raise CLIError(f"{flag} needs a file name, e.g. {flag} model.nnet")
    if os.path.isdir(path):
        raise CLIError(f"{flag} {path} is a folder; give a file name, e.g. {os.path.join(path, 'model.nnet')}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"{flag} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise CLIError(f"{flag} {path}: the folder {folder} is not writable")


def whole_number(low: int):
    """An argparse type: a whole number >= low."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be {low} or more, got {value}")
        return value

    return parse


def number(**limits):
    """An argparse type: a finite number within ``limits`` (as ``checks.number`` takes them)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        try:
            return checks.number(value, "it", **limits)
        except checks.ArgumentError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix("it ")) from None

    return parse


def layer_sizes(text: str) -> list[int]:
    """--hidden: sizes separated by commas, or "none" for no hidden layer."""
    if text.strip().lower() == "none":
        return []
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"takes layer sizes separated by commas, e.g. 64,32 (or none for no hidden layer); got {text!r}"
        ) from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be 1 or more, got {text!r}")
    return sizes


def input_shape(text: str) -> list[int]:
    """--input-shape: sizes separated by commas, without the batch."""
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes sizes separated by commas, e.g. 28,28,1; got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be 1 or more, got {text!r}")
    return sizes


def names(text: str) -> list[str]:
    """A list of column names separated by commas ('' names a column with no name, as pandas' index)."""
    return [n.strip() for n in text.split(",")]


def delimiter(text: str) -> str:
    """--delimiter: one character, or tab (written tab or \\t)."""
    text = {"tab": "\t", "\\t": "\t"}.get(text, text)
    if len(text) != 1:
        raise argparse.ArgumentTypeError(f"takes one character (or tab), got {text!r}")
    return text
