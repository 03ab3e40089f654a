"""The model file format: safetensors weights with a JSON description, checksummed and written atomically.

A ``.nnet`` file is one safetensors file. Its tensors are the parameters
(named ``"<layer index>.<layer name>.<parameter name>"``); its header metadata
holds, under the key ``"neuronet"``, a JSON description of the architecture.
Nothing is ever unpickled, so loading a file cannot run code.

Since format version 2 the description records a SHA-256 checksum of every
tensor, and the header a checksum of the description itself
(``"neuronet.sha256"``): a flipped bit anywhere in the weights or the
description is a :class:`ModelFileError` naming what changed, never a model
that loads with other numbers. Version 1 files (no checksums) still load,
but only as version 1 wrote them: a checksum in the header is checked
whatever version the description claims, so flipping "2" to "1" cannot
switch the checksums off. (Checksums find damage; they cannot stop a forger,
who can compute them too: a file's contents are checked for what a model can
hold, whoever wrote it.)

Saving writes to a temporary file beside the target, flushes it to disk and
renames it over the target: a crash mid-save leaves the previous file intact.
The temporary file's name says which process wrote it, so a later save of the
same path removes what a killed one left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import socket
import stat
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import safetensors
import safetensors.numpy

from . import checks

FORMAT = "neuronet"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
CHECKSUM_KEY = "neuronet.sha256"
DTYPES = ("float32", "float64")  # what neuronet writes: every tensor is a model's float type
# what a version 1 file held: one description, with these keys and no checksums
VERSION_1_KEYS = {"format", "format_version", "model", "metadata"}
# the largest safetensors header (the description and the tensors' table) read: parsing JSON takes a few
# times its size, so a hostile header of hundreds of MiB would cost gigabytes before any check
MAX_HEADER_BYTES = 16 * 2**20


class ModelFileError(ValueError):
    """A file that is not a readable neuronet model."""


# extensions of other programs' files: a neuronet file under such a name would fool the next reader
FOREIGN_EXTENSIONS = {
    ".onnx": "an ONNX graph is written by nn.onnx.export (or `neuronet export MODEL OUT.onnx`)",
    ".keras": "Keras reads .keras files; neuronet writes its own format",
    ".h5": "Keras/HDF5 reads .h5 files; neuronet writes its own format",
    ".hdf5": "HDF5 readers expect .hdf5 files; neuronet writes its own format",
    ".pt": "PyTorch weights are written by neuronet.interop.to_torch_state_dict and torch.save",
    ".pth": "PyTorch weights are written by neuronet.interop.to_torch_state_dict and torch.save",
    ".pkl": "neuronet never pickles; its files hold safetensors weights and a JSON description",
    ".pickle": "neuronet never pickles; its files hold safetensors weights and a JSON description",
    ".joblib": "neuronet never pickles; its files hold safetensors weights and a JSON description",
    ".npy": "NumPy reads .npy files; neuronet writes its own format",
    ".npz": "NumPy reads .npz files; neuronet writes its own format",
    ".json": "a neuronet file is binary (safetensors), not JSON",
    ".csv": "a .csv name would be read as a table",
}


def model_path(path, what: str = "path") -> str:
    """``path`` as ``checks.file_path`` checks it (str, bytes or os.PathLike, no folder), also refused if
    named for another program's format (``model.onnx``): the name a model is saved under."""
    path = checks.file_path(path, what)
    extension = os.path.splitext(path)[1].lower()
    if extension in FOREIGN_EXTENSIONS:
        raise ValueError(
            f"{what} {path!r} ends in {extension}: {FOREIGN_EXTENSIONS[extension]}. "
            "Save neuronet models as .nnet (e.g. model.nnet)"
        )
    return path


# -- writing ------------------------------------------------------------------------------
def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` holds either the old or the new bytes, never half
    (see :func:`atomic_writer`)."""
    with atomic_writer(path) as f:
        try:
            f.write(data)
        except OSError as exc:  # (a full disk)
            raise _cannot_write(path, exc) from None


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary file to write, which becomes ``path`` when the ``with`` block ends, so that ``path`` holds
    either the old or the new bytes, never half; an error in the block leaves ``path`` as it was.

    The new file gets the permissions of the file it replaces, or else the
    usual ones for a new file (0666 less the umask), as any program's output.
    An OSError names ``path``, never the temporary file.
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    _remove_stale_temporaries(folder, name)
    tmp = os.path.join(folder, f".{name}.{_writer()}-{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)  # umask applies
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            try:
                f.flush()
                if os.path.isfile(path) and hasattr(os, "fchmod"):  # an overwrite keeps the file's mode
                    os.fchmod(f.fileno(), stat.S_IMODE(os.stat(path).st_mode))
                os.fsync(f.fileno())
            except OSError as exc:
                raise _cannot_write(path, exc) from None
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise _cannot_write(path, exc) from None
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _sync_folder(folder)


def _cannot_write(path, exc: OSError) -> OSError:
    """An OSError naming the file written, not its temporary one."""
    return OSError(exc.errno, f"cannot write {os.fspath(path)}: {exc.strerror or exc}")


def _writer() -> str:
    """Who writes a temporary file: this host and process."""
    return f"{socket.gethostname()}-{os.getpid()}"


def _remove_stale_temporaries(folder: str, name: str) -> None:
    """Delete temporary files that earlier saves of ``name`` on this host left when they were killed.

    Only those of processes that are gone: a save running now in another process keeps its file.
    """
    if os.name != "posix":  # os.kill(pid, 0) tests a process only on POSIX
        return
    pattern = re.compile(re.escape(f".{name}.{socket.gethostname()}-") + r"(\d+)-[0-9a-f]{8}\.tmp")
    try:
        entries = os.listdir(folder)
    except OSError:
        return  # the write that follows reports the folder's problem
    for entry in entries:
        match = pattern.fullmatch(entry)
        if match and not _process_alive(int(match.group(1))):
            with contextlib.suppress(OSError):  # another save removed it first, or the folder is not ours to clean
                os.unlink(os.path.join(folder, entry))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _sync_folder(folder: str) -> None:
    """Flush the folder's entry for the renamed file to disk (POSIX); a crash then keeps the new file."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder; the rename itself is still atomic
    finally:
        os.close(fd)


def checksum(array: np.ndarray) -> str:
    """The SHA-256 of an array's bytes as stored in the file (little-endian, C order)."""
    stored = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return hashlib.sha256(stored.data).hexdigest()


def write_model_file(path, description: dict, tensors: dict[str, np.ndarray]) -> None:
    """Save ``tensors`` and the JSON ``description`` to ``path`` atomically, with their checksums."""
    path = model_path(path)
    contiguous = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **description,
        "checksums": {k: checksum(v) for k, v in contiguous.items()},
    }
    text = json.dumps(header)
    metadata = {FORMAT: text, CHECKSUM_KEY: hashlib.sha256(text.encode()).hexdigest()}
    atomic_write_bytes(path, safetensors.numpy.save(contiguous, metadata=metadata))


# -- reading ------------------------------------------------------------------------------
def read_model_file(path) -> tuple[dict, dict[str, np.ndarray]]:
    """Read a model file: its description and its tensors, each checked.

    Raises :class:`ModelFileError` for a file that is corrupt, not ours, of an
    unknown version, whose checksums do not match, or whose tensors are not
    finite float32/float64 arrays.
    """
    path = checks.file_path(path, "path")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    _check_header_size(path)
    try:
        with safetensors.safe_open(path, framework="numpy") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (a safe_open handle is not a dict)
    except Exception as exc:  # safetensors raises its own error types for bad headers
        raise ModelFileError(f"{path!r} is not a valid model file (corrupt or not safetensors): {exc}") from None
    if FORMAT not in metadata:
        raise ModelFileError(f"{path!r} is a safetensors file but not a neuronet model (no neuronet description)")
    text = metadata[FORMAT]
    try:
        description = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{path!r} has a damaged model description: {exc}") from None
    if not isinstance(description, dict):
        raise ModelFileError(f"{path!r}: the model description is a JSON {type(description).__name__}, not an object")
    version = description.get("format_version")
    if description.get("format") != FORMAT or version not in READABLE_VERSIONS or isinstance(version, bool):
        raise ModelFileError(
            f"{path!r} has format {description.get('format')!r} version {version!r}; "
            f"this neuronet reads {FORMAT!r} versions {', '.join(map(str, READABLE_VERSIONS))}"
        )
    if version >= 2 or CHECKSUM_KEY in metadata:  # a version flipped down keeps its checksum, checked here
        _verify_checksums(path, text, metadata.get(CHECKSUM_KEY), description, tensors)
    elif set(metadata) != {FORMAT} or not set(description) <= VERSION_1_KEYS:
        raise ModelFileError(
            f"{path!r} says it is version 1 but holds what version 1 never wrote "
            f"({sorted(set(metadata) - {FORMAT}) + sorted(set(description) - VERSION_1_KEYS)}): it was altered"
        )
    for key, tensor in tensors.items():
        if tensor.dtype.name not in DTYPES:
            raise ModelFileError(f"{path!r}: tensor {key} has dtype {tensor.dtype}; a model file holds {DTYPES}")
        if not np.isfinite(tensor).all():
            raise ModelFileError(f"{path!r}: tensor {key} holds NaN or infinite values; the model cannot predict")
    return description, tensors


def _check_header_size(path: str) -> None:
    """Refuse a header (its size is the file's first 8 bytes, little-endian) too large to be a model's, and a
    file that is no safetensors file at all (a CSV or an ONNX graph given where a model goes)."""
    with open(path, "rb") as f:
        start = f.read(9)
    if len(start) < 9 or start[8:] != b"{":  # the header is a JSON object
        raise ModelFileError(
            f"{path!r} is not a neuronet model file: it does not start as a safetensors file does (its first "
            f"bytes are {start[:8]!r}); give a .nnet file that neuronet saved (not a CSV table or an ONNX graph)"
        )
    size = int.from_bytes(start[:8], "little")
    if size > MAX_HEADER_BYTES:
        raise ModelFileError(
            f"{path!r} is not a valid model file: its header declares {size:,} bytes; a model file's header (its "
            f"description) holds at most {MAX_HEADER_BYTES:,} bytes"
        )
    if size + 8 > os.path.getsize(path):
        raise ModelFileError(
            f"{path!r} is not a valid model file: it is cut short (its header alone would take {size + 8:,} "
            f"bytes, the file holds {os.path.getsize(path):,})"
        )


def _verify_checksums(path: str, text: str, described: str | None, description: dict, tensors: dict) -> None:
    if described != hashlib.sha256(text.encode()).hexdigest():
        raise ModelFileError(f"{path!r}: the model description is damaged (its checksum does not match)")
    sums = description.get("checksums")
    if not isinstance(sums, dict) or set(sums) != set(tensors):
        raise ModelFileError(f"{path!r}: the checksums do not list the file's tensors")
    for key, tensor in tensors.items():
        if sums[key] != checksum(tensor):
            raise ModelFileError(f"{path!r}: tensor {key} is damaged (its checksum does not match)")
