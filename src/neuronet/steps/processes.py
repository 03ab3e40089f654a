"""The split batch's parts in worker processes forked from this one, where threads would wait on each other.

The thread split (``threads.py``) runs a batch's parts at once in threads. But a part's step is many short
NumPy calls (a recurrent layer's, a pooling's), and two threads must take turns holding Python's lock
around each: on blocks of a few thousand numbers, two threads run them no faster than one
(bench/RESULTS.md). Processes hold no lock in common. So where this process may fork, the parts run in
worker processes instead, the same parts with the same copies of the layers:

- each worker is forked once, with the model's copies of the layers (``LayerCopies``) already made, and
  serves steps until this process closes its pipe (or ends);
- a step writes the weights into a buffer of shared memory, sends each worker its parts' rows through a
  pipe, runs its own parts meanwhile, and reads back each part's loss and outputs; the workers' gradients
  land in buffers of shared memory, added to the model's in part order, as the threads' are: the numbers
  are the thread split's, to the last bit, whatever the number of processes.

A process may fork where it is Linux's and no MPI library runs in it (MPI does not survive a fork: there
each rank keeps the thread split). ``nn.set_threads(n)`` sets how many processes (this one among them)
work on a step's parts.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import signal
import sys
import warnings
import weakref
from multiprocessing.connection import Connection, Pipe

import numpy as np

_open_ends: weakref.WeakSet = weakref.WeakSet()  # this process's ends of its workers' pipes


def available() -> bool:
    """Whether this process may fork workers for a step: Linux, and no MPI library loaded (mpi4py)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and "mpi4py" not in sys.modules


def shared_zeros(size: int, dtype) -> np.ndarray:
    """A flat array of zeros in memory that the processes this one forks afterwards share with it."""
    dtype = np.dtype(dtype)
    return np.frombuffer(mmap.mmap(-1, max(1, size * dtype.itemsize)), dtype=dtype, count=size)


class WorkerError(RuntimeError):
    """A worker process ended without answering (killed, or out of memory): the step cannot be finished."""


class ForkedParts:
    """``copies``'s parts run by ``workers`` processes: this one takes parts 0, workers, 2 workers, ...;
    worker w parts w, w + workers, ... (see the module's docstring). ``copies`` must keep the gradients of
    parts 1, 2, ... in shared memory (``LayerCopies(..., new_buffer=shared_zeros)``)."""

    def __init__(self, copies, flat, workers: int) -> None:
        self.copies, self.flat, self.processes = copies, flat, workers
        self.weights = shared_zeros(flat.data.size, flat.data.dtype)
        self.pipes: list[Connection] = []
        self.pids: list[int] = []
        for w in range(1, workers):
            here, there = Pipe()
            with warnings.catch_warnings():  # (3.12 warns of forking beside threads: the child runs none)
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
            if pid == 0:
                here.close()
                self._serve(there, w)  # never returns
            there.close()
            _open_ends.add(here)
            self.pipes.append(here)
            self.pids.append(pid)
        self._stop = weakref.finalize(self, _stop, self.pipes, self.pids)

    def __repr__(self) -> str:
        state = f"workers {self.pids}" if self.pids else "workers stopped"
        return f"ForkedParts({self.processes} processes: this one and {state})"

    def close(self) -> None:
        """Stop the workers (each ends when its pipe closes) and wait for them."""
        self._stop()

    @property
    def alive(self) -> bool:
        """Whether the workers still serve (not closed)."""
        return bool(self.pids) or self.processes == 1

    def data_gradients(self, rows: list, shares: list, x, y, sample_weight) -> list:
        """Each part's (loss, outputs), its gradient in its buffer; ``shares``: each part's weight."""
        self.weights[...] = self.flat.data
        for w, pipe in enumerate(self.pipes, start=1):
            pipe.send([self._part(i, rows, shares, x, y, sample_weight) for i in range(w, len(rows), self.processes)])
        results, failure = [None] * len(rows), None
        try:
            for i in range(0, len(rows), self.processes):
                results[i] = self.copies.run_part(*self._part(i, rows, shares, x, y, sample_weight))
        except Exception as exc:
            failure = exc  # (raised once the workers have answered: their pipes stay in step)
        except BaseException:  # (Ctrl-C: no waiting for the workers, whose answers would be left unread)
            self.close()
            raise
        for w, (pipe, pid) in enumerate(zip(self.pipes, self.pids), start=1):
            try:
                kind, answer = pipe.recv()
            except (EOFError, OSError):
                self.close()
                raise WorkerError(
                    f"the worker process {pid} training parts of the batch ended without answering "
                    "(killed, or out of memory?); train again, or with nn.set_threads(1) to run in this process alone"
                ) from None
            if kind == "error":
                failure = failure or answer  # (every worker read: the pipes stay in step)
            else:
                results[w :: self.processes] = answer
        if failure is not None:
            raise failure
        return results

    @staticmethod
    def _part(i: int, rows: list, shares: list, x, y, sample_weight) -> tuple:
        """What part i's step takes: its index, its rows of x and y, its share, its rows' weights."""
        r = rows[i]
        return i, x[r], y[r], shares[i], None if sample_weight is None else sample_weight[r]

    def _serve(self, pipe: Connection, w: int) -> None:
        """A worker's life: run the parts it is sent on the weights of the shared buffer, answer, until the pipe
        closes; then end without running anything of the parent's (no atexit, no finalizers)."""
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # (Ctrl-C stops the parent, whose end then closes ours)
            for other in list(_open_ends):  # the other workers' pipes, inherited: theirs to hold, not ours
                other.close()
            while True:
                try:
                    parts = pipe.recv()
                except (EOFError, OSError):
                    break
                self.flat.data[...] = self.weights
                try:
                    pipe.send(("done", [self.copies.run_part(*part) for part in parts]))
                except Exception as exc:
                    pipe.send(("error", _sendable(exc)))
        finally:
            os._exit(0)


def _sendable(exc: Exception) -> Exception:
    """``exc`` if it can go through a pipe (pickled), else a RuntimeError with its message."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def _stop(pipes: list, pids: list) -> None:
    """Close the workers' pipes (each worker then ends) and reap them."""
    for pipe in pipes:
        pipe.close()
    for pid in pids:
        with contextlib.suppress(ChildProcessError):  # (already reaped)
            os.waitpid(pid, 0)
    pipes.clear()
    pids.clear()
