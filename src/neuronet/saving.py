"""The model file format: safetensors weights with a JSON description, written atomically.

A ``.nnet`` file is one safetensors file. Its tensors are the parameters
(named ``"<layer index>.<layer name>.<parameter name>"``); its header metadata
holds, under the key ``"neuronet"``, a JSON description of the architecture.
Nothing is ever unpickled, so loading a file cannot run code.

Saving writes to a temporary file beside the target, flushes it to disk and
renames it over the target: a crash mid-save leaves the previous file intact.
"""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np
import safetensors
import safetensors.numpy

FORMAT = "neuronet"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A file that is not a readable neuronet model."""


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` holds either the old or the new bytes, never half."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_model_file(path, description: dict, tensors: dict[str, np.ndarray]) -> None:
    """Save ``tensors`` and the JSON ``description`` to ``path`` atomically."""
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, **description}
    contiguous = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    data = safetensors.numpy.save(contiguous, metadata={FORMAT: json.dumps(header)})
    atomic_write_bytes(path, data)


def read_model_file(path) -> tuple[dict, dict[str, np.ndarray]]:
    """Read a model file; raise :class:`ModelFileError` if it is corrupt or not ours."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    try:
        with safetensors.safe_open(path, framework="numpy") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (a safe_open handle is not a dict)
    except Exception as exc:  # safetensors raises its own error types for bad headers
        raise ModelFileError(f"{path!r} is not a valid model file (corrupt or not safetensors): {exc}") from None
    if FORMAT not in metadata:
        raise ModelFileError(f"{path!r} is a safetensors file but not a neuronet model (no neuronet description)")
    try:
        description = json.loads(metadata[FORMAT])
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path!r} has a damaged model description: {exc}") from None
    if description.get("format") != FORMAT or description.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path!r} has format {description.get('format')!r} version {description.get('format_version')!r}; "
            f"this neuronet reads {FORMAT!r} version {FORMAT_VERSION}"
        )
    return description, tensors
