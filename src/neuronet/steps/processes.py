"""The split batch's parts in worker processes forked from this one, where threads would wait on each other.

The thread split (``threads.py``) runs a batch's parts at once in threads. But a part's step is many short
NumPy calls (a recurrent layer's, a pooling's), and two threads must take turns holding Python's lock
around each: on blocks of a few thousand numbers, two threads run them no faster than one
(bench/RESULTS.md). Processes hold no lock in common. So where this process may fork, the parts run in
worker processes instead, the same parts with the same copies of the layers:

- each worker is forked once, with the model's copies of the layers (``LayerCopies``) already made, and
  serves steps until this process closes its pipe (or ends, or kills it: ``close``);
- a step writes the weights and the layers' states into buffers of shared memory, sends each worker its
  parts' rows through a pipe, runs its own parts meanwhile, and reads back each part's loss and outputs;
  the workers' gradients land in buffers of shared memory, added to the model's in part order, as the
  threads' are: the numbers are the thread split's, to the last bit, whatever the number of processes;
- an error in a worker's part is raised here with the worker's traceback as its cause; a worker that dies
  is a :class:`WorkerError`, and a step left half-way (Ctrl-C) stops the workers, whose answers would
  otherwise wait in the pipes for the next step.

A process may fork where it is Linux's, MPI has not started in it (MPI does not survive a fork: there each
rank keeps the thread split) and no fork has failed in it before. ``nn.set_threads(n)`` sets how many
processes (this one among them) work on a step's parts.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import pickle
import signal
import sys
import traceback
import warnings
import weakref
from multiprocessing.connection import Connection, Pipe

import numpy as np

_open_ends: weakref.WeakSet = weakref.WeakSet()  # this process's ends of its workers' pipes
_refused = False  # whether a fork failed here (then the parts run in threads from then on)


def available() -> bool:
    """Whether this process may fork workers for a step: Linux, MPI not started here, no fork refused before."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and not _mpi_started() and not _refused


def _mpi_started() -> bool:
    """Whether MPI runs in this process (mpi4py's MPI module started it: a process forked from it would share
    its connections)."""
    mpi = sys.modules.get("mpi4py.MPI")
    return mpi is not None and mpi.Is_initialized() and not mpi.Is_finalized()


def shared_zeros(size: int, dtype: np.dtype | type | str) -> np.ndarray:
    """A flat array of zeros in memory that the processes this one forks afterwards share with it."""
    dtype = np.dtype(dtype)
    return np.frombuffer(mmap.mmap(-1, max(1, size * dtype.itemsize)), dtype=dtype, count=size)


def _close_inherited_ends() -> None:
    """In any process forked from this one (a worker, a user's pool): close its copies of the workers' pipe ends,
    which are this process's to hold (a worker sees its end only once no process holds the other)."""
    for end in list(_open_ends):
        end.close()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited_ends)


class WorkerError(RuntimeError):
    """A worker process ended without answering (killed, or out of memory): the step cannot be finished."""


class ForkRefused(RuntimeError):
    """This process could not fork a worker (out of memory or processes): the parts run in threads."""


class WorkerTraceback(Exception):
    """Where an error raised in a worker process came from: its traceback there, as text (the error's cause)."""


class ForkedParts:
    """``copies``'s parts run by ``processes`` processes: this one takes parts 0, processes, 2 processes, ...;
    worker w parts w, w + processes, ... (see the module's docstring). ``copies`` must keep the gradients of
    parts 1, 2, ... in shared memory (``processes.shared_zeros``); ``states`` are the layers' state arrays."""

    def __init__(self, copies, flat, states: list[np.ndarray], processes: int) -> None:
        self.copies, self.flat, self.processes = copies, flat, processes
        self.weights = shared_zeros(flat.data.size, flat.data.dtype)
        self.states = [(state, shared_zeros(state.size, state.dtype)) for state in states]
        self.pipes: list[Connection] = []
        self.pids: list[int] = []
        self._stop = weakref.finalize(self, _stop, self.pipes, self.pids)
        for _ in range(processes - 1):
            here, there = Pipe()
            try:
                with warnings.catch_warnings():  # (3.12 warns of forking beside threads: the child runs none)
                    warnings.simplefilter("ignore", DeprecationWarning)
                    pid = os.fork()
            except OSError as exc:
                here.close()
                there.close()
                self.close()
                _refuse()
                raise ForkRefused(f"could not fork a worker process ({exc}): the parts run in threads") from exc
            if pid == 0:
                here.close()
                self._serve(there)  # never returns
            there.close()
            _open_ends.add(here)
            self.pipes.append(here)
            self.pids.append(pid)

    def __repr__(self) -> str:
        state = f"workers {self.pids}" if self.pids else "workers stopped"
        return f"ForkedParts({self.processes} processes: this one and {state})"

    def close(self) -> None:
        """Stop the workers and reap them."""
        self._stop()

    @property
    def alive(self) -> bool:
        """Whether the workers still serve (not closed)."""
        return bool(self.pids)

    def data_gradients(self, rows: list[slice], shares: list[float], x, y, sample_weight) -> list:
        """Each part's (loss, outputs), its gradient in its buffer; ``shares``: each part's weight."""
        finished = False
        try:
            self.weights[...] = self.flat.data
            for state, shared in self.states:
                shared[...] = state.reshape(-1)
            for w, (pipe, pid) in enumerate(zip(self.pipes, self.pids), start=1):
                parts = [self._part(i, rows, shares, x, y, sample_weight) for i in range(w, len(rows), self.processes)]
                try:
                    pipe.send(parts)
                except OSError:  # (a broken pipe: the worker is gone)
                    self._lost(pid)
            results, failure = [None] * len(rows), None
            try:
                for i in range(0, len(rows), self.processes):
                    results[i] = self.copies.run_part(*self._part(i, rows, shares, x, y, sample_weight))
            except Exception as exc:
                failure = exc  # (raised once every worker has answered)
            for w, (pipe, pid) in enumerate(zip(self.pipes, self.pids), start=1):
                try:
                    kind, answer, where = pipe.recv()
                except (EOFError, OSError):
                    self._lost(pid)
                if kind == "done":
                    results[w :: self.processes] = answer
                elif failure is None:
                    answer.__cause__ = WorkerTraceback(f"in worker process {pid}:\n{where}")
                    failure = answer
            finished = True
        finally:
            if not finished:  # (left half-way, by Ctrl-C or a lost worker: answers would wait in the pipes)
                self.close()
        if failure is not None:
            raise failure
        return results

    def _lost(self, pid: int) -> None:
        """Raise the error of a worker gone without answering (the step's ``finally`` stops the others)."""
        raise WorkerError(
            f"the worker process {pid} training parts of the batch ended without answering (killed, or out of "
            "memory?); train again (new workers are forked), or with nn.set_threads(1) to run in this process alone"
        ) from None

    @staticmethod
    def _part(i: int, rows: list[slice], shares: list[float], x, y, sample_weight) -> tuple:
        """What part i's step takes: its index, its rows of x and y, its share, its rows' weights."""
        r = rows[i]
        return i, x[r], y[r], shares[i], None if sample_weight is None else sample_weight[r]

    def _serve(self, pipe: Connection) -> None:
        """A worker's life: run the parts it is sent on the weights and states of the shared buffers, answer,
        until the pipe closes; then end without running anything of the parent's (no atexit, no finalizers)."""
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # (Ctrl-C stops the parent, whose end then closes ours)
            while True:
                try:
                    parts = pipe.recv()
                except (EOFError, OSError):
                    break
                self.flat.data[...] = self.weights
                for state, shared in self.states:
                    state[...] = shared.reshape(state.shape)
                try:
                    answer = ("done", [self.copies.run_part(*part) for part in parts], None)
                except BaseException as exc:  # (whatever a part raises is the step's error, told to the parent)
                    answer = ("error", _sendable(exc), traceback.format_exc())
                pipe.send(answer)
        finally:
            os._exit(0)


def _sendable(exc: BaseException) -> BaseException:
    """``exc`` if it can go through a pipe (pickled), else a RuntimeError with its message."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        try:
            text = f"{type(exc).__name__}: {exc}"
        except Exception:  # (an error whose message itself fails)
            text = type(exc).__name__
        return RuntimeError(text)


def _refuse() -> None:
    """No more forks in this process: one failed (see :func:`available`)."""
    global _refused
    _refused = True


def _stop(pipes: list, pids: list) -> None:
    """Close the workers' pipes and kill the workers (a worker holds nothing worth finishing, and a process
    forked from this one since may hold its pipe open), then reap them."""
    for pipe in pipes:
        pipe.close()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):  # (already reaped)
            os.waitpid(pid, 0)
    pipes.clear()
    pids.clear()
