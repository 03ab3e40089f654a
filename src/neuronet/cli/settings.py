"""What the settings a command saves in a model file have in common: how damaged ones are refused.

A model file from ``neuronet train`` or ``neuronet demo text`` carries, in its metadata, what the command
needs to use it again (``table_settings``, ``text``); before they are used, each is checked, and a damaged
one is one line that says to retrain, not a crash in the middle of a prediction.
"""

from __future__ import annotations

import numpy as np

from ..sequential import Sequential
from .arguments import CLIError


def damaged(path: str, what: str) -> CLIError:
    """The error for a model file whose saved settings are damaged: ``what`` says which and how."""
    return CLIError(f"{path}: its saved settings are damaged or incomplete ({what}); retrain it")


def outputs_for(model: Sequential, path: str, x: np.ndarray) -> int:
    """The number of outputs the model gives for ``x`` (one sample): checks the two fit together."""
    try:
        return int(np.prod(model.predict(x).shape[1:]))
    except ValueError as exc:
        raise damaged(path, f"its network does not fit them: {exc}") from None
