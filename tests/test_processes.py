"""Worker processes for a split batch (steps/processes.py): they serve a model's steps, end when closed or when
their model goes, and a worker that dies is an error at the next step, not a hang; a process with MPI in it
never forks. (That their steps equal the whole batch's and the threads' is tests/test_parallel.py's.)"""

import gc
import os
import signal
import sys

import numpy as np
import pytest
from test_parallel import data, small_cnn

import neuronet as nn
from neuronet.steps import processes

pytestmark = pytest.mark.skipif(not processes.available(), reason="this process may not fork workers (not Linux)")


@pytest.fixture(autouse=True)
def _two_processes():
    nn.set_threads(2)
    yield
    nn.set_threads(None)


def workers_of(model) -> list[int]:
    """The pids of the worker processes serving ``model``'s split steps."""
    return list(model.local_step().copies.forked.pids)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_worker_serves_every_step_and_ends_when_its_copies_are_closed():
    model = small_cnn()
    x, y = data(128)
    model.compute_gradients(x, y)
    (pid,) = workers_of(model)
    assert pid != os.getpid() and alive(pid)
    model.fit(x, y, epochs=2, batch_size=128, verbose=0)
    assert workers_of(model) == [pid]  # the same worker, step after step
    model.local_step().copies.close()
    assert not alive(pid)  # ended and reaped


def test_the_workers_end_with_their_model():
    model = small_cnn()
    x, y = data(128)
    model.compute_gradients(x, y)
    (pid,) = workers_of(model)
    del model
    gc.collect()
    assert not alive(pid)


def test_a_killed_worker_is_an_error_at_the_next_step_then_a_new_one_serves():
    model = small_cnn()
    x, y = data(128)
    expected = model.compute_gradients(x, y)[0]
    (pid,) = workers_of(model)
    os.kill(pid, signal.SIGKILL)
    message = rf"worker process {pid} .*ended without answering.*set_threads\(1\)"
    with pytest.raises(processes.WorkerError, match=message):
        model.compute_gradients(x, y)
    assert model.compute_gradients(x, y)[0] == expected  # a new worker, the same numbers
    assert workers_of(model) != [pid]


def test_changing_the_number_of_threads_forks_workers_anew():
    model = small_cnn()
    x, y = data(192)  # three parts
    model.compute_gradients(x, y)
    assert len(workers_of(model)) == 1
    nn.set_threads(3)
    model.compute_gradients(x, y)
    assert len(workers_of(model)) == 2
    nn.set_threads(1)  # this process alone, in order: no workers
    loss, _ = model.compute_gradients(x, y)
    assert model.local_step().copies.forked is None and np.isfinite(loss)


def test_a_process_with_mpi_loaded_forks_no_workers(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", object())
    assert not processes.available()
    model = small_cnn()
    x, y = data(128)
    model.compute_gradients(x, y)
    assert model.local_step().copies.forked is None  # the threads split it


def test_shared_zeros_are_shared_with_a_forked_process():
    a = processes.shared_zeros(5, np.float32)
    assert a.dtype == np.float32 and a.shape == (5,) and not a.any()
    pid = os.fork()
    if pid == 0:
        a[2] = 7.0
        os._exit(0)
    os.waitpid(pid, 0)
    assert a[2] == 7.0
