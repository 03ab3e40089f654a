"""MPI for training on several processes: the ranks, collective steps that never wait forever, and a job
that ends as one.

    mpiexec -n 4 python train.py            # train.py calls model.fit(X, y, distributed=True)
    mpiexec -n 4 neuronet train data.csv --target label    # the command line distributes by itself

The data-parallel step itself, which uses what is here, is ``steps/mpi.py``.
This module starts MPI (``world``), says where a process stands (``rank``,
``size``; ``process.py`` answers before MPI has started), and runs the
collective steps the ranks meet at: gather, broadcast and an in-place sum.

No rank waits forever. An exception on one rank aborts the whole job with
that rank's message (``MPI.Abort``). Every collective step is non-blocking
and waited for with a deadline (``set_timeout``, ``NEURONET_MPI_TIMEOUT``,
5 minutes by default): a rank that is stuck, was killed or never calls
``fit`` makes the others end the job, naming the step they waited at. MPI's
own start, which waits for every rank and cannot be interrupted, is watched
by a small separate process with the same deadline. Each rank limits its
BLAS and neuronet threads to its share of the machine's cores
(``NEURONET_THREADS`` overrides). Needs mpi4py and an MPI (``pip install
"neuronet[mpi]"``: mpi4py and the MPICH wheel).
"""

from __future__ import annotations

import functools
import os
import pickle
import subprocess
import sys
import time
import traceback
from typing import NoReturn

import numpy as np

from . import checks, process, settings
from .arrays import to_numpy

INSTALL = 'pip install "neuronet[mpi]" (mpi4py and the MPICH wheel)'
ABORT_GRACE_S = 1.0  # seconds a failing rank's message gets to reach mpiexec before the job ends
TIMEOUT_VARIABLE = "NEURONET_MPI_TIMEOUT"
DEFAULT_TIMEOUT_S = 300.0
SPIN_S = 0.05  # a rank looks at its collective step without pause this long (a nap would slow every step)...
LONGEST_NAP_S = 0.01  # ...and then at least this often (a long wait costs little)
RAISE_THE_TIMEOUT = (
    "If that can take longer, raise the timeout: nn.distributed.set_timeout(seconds) or the environment "
    f"variable {TIMEOUT_VARIABLE}=seconds."
)
_timeout: float | None = None  # set_timeout's (None: the environment's, or the default)


def set_timeout(seconds: float | None) -> None:
    """How long, in seconds, a rank waits for the others at a collective step of a distributed ``fit`` (and
    for MPI to start) before it ends the job; None goes back to ``NEURONET_MPI_TIMEOUT``, else 300."""
    global _timeout
    _timeout = None if seconds is None else checks.number(seconds, "seconds", low=0.0, low_open=True)


def get_timeout() -> float:
    """The deadline of a collective step in seconds: :func:`set_timeout`'s, ``NEURONET_MPI_TIMEOUT``'s, or 300."""
    if _timeout is not None:
        return _timeout
    text = os.environ.get(TIMEOUT_VARIABLE)
    if text is None:
        return DEFAULT_TIMEOUT_S
    try:
        return checks.number(float(text), TIMEOUT_VARIABLE, low=0.0, low_open=True)
    except ValueError:
        raise checks.ArgumentError(
            f"the environment variable {TIMEOUT_VARIABLE} must be a positive number of seconds, e.g. 600; got {text!r}"
        ) from None


@functools.cache
def world():
    """MPI's COMM_WORLD when this process is one of several ranks, else None (no MPI, or one process)."""
    if process.launched_size() <= 1:
        return None
    try:
        import mpi4py  # noqa: F401 -- (the package alone: its MPI module starts MPI)
    except ImportError:
        raise ImportError(
            f"started by mpiexec with {process.launched_size()} processes, but mpi4py is missing: {INSTALL}"
        ) from None
    comm = _start_mpi()
    if comm.Get_size() <= 1:
        return None
    process.set_mpi_rank(comm.Get_rank())
    _abort_on_uncaught_errors(comm)
    _share_the_cores(comm)
    return comm


def rank() -> int:
    """This process's rank (0 without MPI)."""
    comm = world()
    return 0 if comm is None else comm.Get_rank()


def size() -> int:
    """How many ranks train together (1 without MPI)."""
    comm = world()
    return 1 if comm is None else comm.Get_size()


is_writer = process.is_writer  # (asked here too: rank 0, or a process on its own)


# MPI's start waits for every rank and holds the interpreter while it waits, so no thread of this process can
# keep the deadline: this separate process does, ending the rank (and so, through mpiexec, the job) unless
# killed first. It leaves as soon as the rank is gone, not to hold its standard error open.
WATCHDOG = """
import os, signal, sys, time
parent, seconds, message = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
end = time.monotonic() + seconds
while time.monotonic() < end:
    if os.getppid() != parent:
        sys.exit()
    time.sleep(0.1)
sys.stderr.write(message + "\\n")
sys.stderr.flush()
os.kill(parent, signal.SIGTERM)
"""


def _start_mpi():
    """COMM_WORLD, once MPI has started on every rank (or this rank ended after the timeout)."""
    if "mpi4py.MPI" in sys.modules:  # the script started it
        from mpi4py import MPI

        return MPI.COMM_WORLD
    seconds = get_timeout()
    where = next((os.environ[name] for name in process.RANK_VARIABLES if name in os.environ), "?")
    message = (
        f"neuronet: rank {where} of {process.launched_size()}: MPI did not start within {seconds:g} s. It starts when "
        "every rank first calls into nn.distributed (fit(..., distributed=True) does), and some rank did not "
        "get there: it failed before (see its message), is stuck, or never calls it. The job ends. " + RAISE_THE_TIMEOUT
    )
    watchdog = subprocess.Popen(
        [sys.executable, "-c", WATCHDOG, str(os.getpid()), str(seconds), message], stdin=subprocess.DEVNULL
    )
    try:
        from mpi4py import MPI
    finally:
        watchdog.kill()
        watchdog.wait()
    return MPI.COMM_WORLD


def _share_the_cores(comm) -> None:
    """BLAS and neuronet threads per rank: the cores over the ranks on this host (at least 1)."""
    from mpi4py import MPI
    from threadpoolctl import threadpool_limits

    hosts = gather(comm, MPI.Get_processor_name(), "the start of MPI (the ranks' host names)")
    local = hosts.count(hosts[comm.Get_rank()])
    threads = int(os.environ.get("NEURONET_THREADS", 0)) or max(1, (os.cpu_count() or 1) // local)
    threadpool_limits(limits=threads)
    settings.set_threads(threads)


def _abort_on_uncaught_errors(comm) -> None:
    """An error no one catches, on any rank, ends every rank (the others would wait for it until the timeout)."""
    previous = sys.excepthook

    def hook(kind, value, trace):
        previous(kind, value, trace)
        _abort(comm)

    sys.excepthook = hook


def abort(exc: BaseException) -> NoReturn:
    """End the whole job because of ``exc`` on this rank, naming the rank."""
    comm = world()
    _say(comm, f"{type(exc).__name__}: {' '.join(str(exc).split()) or type(exc).__name__}")
    traceback.print_exception(exc, file=sys.stderr)
    _abort(comm)


def _say(comm, message: str) -> None:
    print(f"neuronet: rank {comm.Get_rank()} of {comm.Get_size()}: {message}", file=sys.stderr)


def _abort(comm) -> NoReturn:
    """MPI.Abort, once what this rank wrote has had a moment to reach mpiexec (an abort ends every rank at
    once, and what they had written but mpiexec had not yet forwarded with them). MPICH's MPI_Abort returns
    before mpiexec ends the rank, which must not go on meanwhile (it would train on, or finish the script)."""
    sys.stdout.flush()
    sys.stderr.flush()
    time.sleep(ABORT_GRACE_S)
    comm.Abort(1)
    os._exit(1)


# -- collective steps with a deadline --------------------------------------------------------------
def wait(comm, requests: list, step: str) -> None:
    """Wait for non-blocking collective ``requests`` to complete. A rank that has waited longer than the
    timeout ends the job, naming ``step``: a blocking collective would wait forever for a rank that is
    stuck, was killed or never comes. A step's usual wait is short: the first ``SPIN_S`` the rank looks
    without pause (as a blocking collective does, and as fast; MPI moves a collective on only while it is
    asked); later it naps between looks, for a hundredth of the time waited, up to ``LONGEST_NAP_S``."""
    from mpi4py import MPI

    start = limit = None
    while not MPI.Request.Testall(requests):
        now = time.monotonic()
        if start is None:
            start, limit = now, get_timeout()
        waited = now - start
        if waited > limit:
            _say(comm, timed_out(comm.Get_rank(), comm.Get_size(), limit, step))
            _abort(comm)
        if waited > SPIN_S:
            time.sleep(min(LONGEST_NAP_S, waited / 100))


def timed_out(rank: int, size: int, limit: float, step: str) -> str:
    """What rank ``rank`` of ``size`` says when it has waited ``limit`` seconds in vain at ``step``: the ranks
    it did not hear from, and the last checkpoint to resume from. (A collective step does not say which ranks
    it still waits for: of two, the other; of more, one or more of the others.)"""
    others = [r for r in range(size) if r != rank]
    lost = f"rank {others[0]}" if len(others) == 1 else f"one or more of ranks {', '.join(map(str, others))}"
    checkpoint = process.last_checkpoint()
    if checkpoint is None:
        resume = "No checkpoint was written (callbacks.ModelCheckpoint writes one each epoch)."
    else:
        resume = f"The last checkpoint: {checkpoint[0]} (epoch {checkpoint[1]}, written by rank 0)."
    return (
        f"waited {limit:g} s in vain at {step}: {lost} did not answer (stuck, killed, failed (see its message), "
        f"cut off from the network, or never called fit(..., distributed=True)). {resume} The job ends. "
        + RAISE_THE_TIMEOUT
    )


def gather(comm, value, step: str) -> list:
    """Every rank's ``value`` (anything pickle takes), in rank order."""
    mine = np.frombuffer(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), dtype=np.uint8)
    sizes = np.empty(comm.Get_size(), dtype=np.int64)
    wait(comm, [comm.Iallgather(np.array([mine.size], dtype=np.int64), sizes)], step)
    everything = np.empty(int(sizes.sum()), dtype=np.uint8)
    wait(comm, [comm.Iallgatherv(mine, (everything, sizes))], step)
    ends = np.cumsum(sizes)
    return [pickle.loads(everything[end - n : end]) for n, end in zip(sizes, ends)]


def broadcast(comm, value, step: str):
    """Rank 0's ``value`` (anything pickle takes), on every rank."""
    root = comm.Get_rank() == 0
    data = bytearray(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL) if root else b"")
    n = np.array([len(data)], dtype=np.int64)
    wait(comm, [comm.Ibcast(n, root=0)], step)
    buffer = np.frombuffer(data, dtype=np.uint8) if root else np.empty(int(n[0]), dtype=np.uint8)
    wait(comm, [comm.Ibcast(buffer, root=0)], step)
    return value if root else pickle.loads(buffer)


def sum_in_place(comm, arrays: list, ops, step: str) -> None:
    """Each of ``arrays`` becomes its sum over the ranks, in place: the buffer itself on a CPU; off a GPU a
    host copy, whose sum is copied back (an MPI need not read device memory)."""
    from mpi4py import MPI

    hosts = [to_numpy(array) for array in arrays]
    wait(comm, [comm.Iallreduce(MPI.IN_PLACE, host) for host in hosts], step)
    for array, host in zip(arrays, hosts):
        if host is not array:
            array[...] = ops.asarray(host)


__all__ = ["get_timeout", "is_writer", "rank", "set_timeout", "size"]
