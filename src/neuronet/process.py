"""Which process am I: one process on its own, or one rank of several started by ``mpiexec``.

Callbacks, saving and the command line ask it before they print or write, so that under
``mpiexec -n N`` only rank 0 does (every rank holds the same model). It reads what the
launcher put in the environment and, once ``distributed.py`` has started MPI, the rank
MPI gives; it never starts MPI itself, so asking costs nothing.
"""

from __future__ import annotations

import os

# what mpiexec tells each process it starts (MPICH's Hydra, Open MPI, PMIx, Intel MPI)
LAUNCHER_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")
RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")

_mpi_rank: int | None = None  # the rank MPI gave, once started (distributed.py says it)
_last_checkpoint: tuple[str, int] | None = None  # (path, epoch): ModelCheckpoint's latest, on every rank


def launched_size() -> int:
    """How many processes mpiexec started, as its environment says (1 when not started by it)."""
    return _first_int(LAUNCHER_VARIABLES, default=1)


def launched_rank() -> int:
    """This process's rank: MPI's once it has started, else the launcher's (0 when not started by it)."""
    return _mpi_rank if _mpi_rank is not None else _first_int(RANK_VARIABLES, default=0)


def set_mpi_rank(rank: int) -> None:
    """Record the rank MPI gave this process (``distributed.world`` calls it once MPI has started)."""
    global _mpi_rank
    _mpi_rank = rank


def record_checkpoint(path: str, epoch: int) -> None:
    """Record that a checkpoint of epoch ``epoch`` (counted from 1) was saved to ``path`` (ModelCheckpoint
    calls it on every rank, though rank 0 alone writes: a rank whose job ends can say where to resume)."""
    global _last_checkpoint
    _last_checkpoint = (os.path.abspath(path), epoch)


def forget_checkpoint() -> None:
    """A new fit begins: no checkpoint of it was saved yet (one of an earlier fit is not this one's)."""
    global _last_checkpoint
    _last_checkpoint = None


def last_checkpoint() -> tuple[str, int] | None:
    """The path and epoch of the last checkpoint this process saved or saw saved, or None."""
    return _last_checkpoint


def is_writer() -> bool:
    """Whether this process prints and writes files: rank 0, or a process on its own."""
    return launched_size() <= 1 or launched_rank() == 0


def _first_int(names: tuple[str, ...], default: int) -> int:
    for name in names:
        try:
            return int(os.environ[name])
        except (KeyError, ValueError):
            continue
    return default
