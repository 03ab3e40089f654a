"""Worker processes for a split batch (steps/processes.py): they serve a model's steps, end when closed or when
their model goes, and a worker that dies is an error at the next step, not a hang; a process with MPI in it
never forks. (That their steps equal the whole batch's and the threads' is tests/test_parallel.py's.)"""

import gc
import multiprocessing
import os
import signal
import sys
import threading

import numpy as np
import pytest
from test_parallel import data, small_cnn

import neuronet as nn
from neuronet.steps import PlainStep, processes

L = nn.layers

pytestmark = pytest.mark.skipif(not processes.available(), reason="this process may not fork workers (not Linux?)")


@pytest.fixture(autouse=True)
def _two_processes():
    nn.set_threads(2)
    yield
    nn.set_threads(None)


def workers_of(model) -> list[int]:
    """The pids of the worker processes serving ``model``'s split steps."""
    return model.local_step().worker_pids


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
    model.local_step().close()
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
    os.waitpid(pid, 0)  # (gone before the step: sending it the rows finds the pipe broken)
    message = rf"worker process {pid} .*ended without answering.*set_threads\(1\)"
    with pytest.raises(processes.WorkerError, match=message):
        model.compute_gradients(x, y)
    assert model.compute_gradients(x, y)[0] == expected  # a new worker, the same numbers
    assert workers_of(model) != [pid]


class DiesInAWorker(nn.layers.ReLU):
    """ReLU, but a worker process running it is killed (as the kernel's out-of-memory killer would)."""

    parent = os.getpid()

    def forward(self, x, training=False):
        if os.getpid() != self.parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().forward(x, training)


def test_a_worker_killed_during_a_step_is_an_error_not_a_hang():
    model = small_cnn(DiesInAWorker())
    x, y = data(128)
    with pytest.raises(processes.WorkerError, match="ended without answering"):
        model.compute_gradients(x, y)


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
    assert workers_of(model) == [] and np.isfinite(loss)


class StartedMPI:
    """What mpi4py's MPI module says once it has started MPI."""

    @staticmethod
    def Is_initialized():
        return True

    @staticmethod
    def Is_finalized():
        return False


def test_a_process_running_mpi_forks_no_workers(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", StartedMPI())
    assert not processes.available()
    model = small_cnn()
    x, y = data(128)
    model.compute_gradients(x, y)
    assert workers_of(model) == [] and model.local_step().copies is not None  # the threads split it


def test_shared_zeros_are_shared_with_a_forked_process():
    a = processes.shared_zeros(5, np.float32)
    assert a.dtype == np.float32 and a.shape == (5,) and not a.any()
    pid = os.fork()
    if pid == 0:
        a[2] = 7.0
        os._exit(0)
    os.waitpid(pid, 0)
    assert a[2] == 7.0


def whole_and_split(model, x, y):
    """The whole batch's loss and gradients, then the split step's."""
    found = []
    for step in (PlainStep(model), model.local_step()):
        loss, _ = step.gradients(x, y)
        found.append((loss, [p.grad.copy() for p in model.parameters()]))
    return found


class InterruptedHere(nn.layers.ReLU):
    """ReLU, but Ctrl-C arrives once while this process runs its own part of a split step."""

    parent, armed = os.getpid(), False

    def forward(self, x, training=False):
        if os.getpid() == self.parent and InterruptedHere.armed:
            InterruptedHere.armed = False
            raise KeyboardInterrupt
        return super().forward(x, training)


def test_a_step_interrupted_half_way_stops_its_workers_and_the_next_steps_are_right(float64):
    """Ctrl-C while the workers compute: their answers would wait in the pipes and be read as the next step's."""
    model = small_cnn(InterruptedHere())
    x, y = data(128)
    model.compute_gradients(x, y)
    (pid,) = workers_of(model)
    InterruptedHere.armed = True
    with pytest.raises(KeyboardInterrupt):
        model.compute_gradients(x, y)
    assert not alive(pid)
    x2, y2 = data(256)
    (loss1, grads1), (loss2, grads2) = whole_and_split(model, x2[128:], y2[128:])
    assert loss2 == pytest.approx(loss1, rel=1e-12)
    for a, b in zip(grads2, grads1):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_closing_takes_no_time_while_a_process_forked_since_lives():
    """A pool forked after the workers does not hold their pipes open (nor does closing wait for that)."""
    model = small_cnn()
    x, y = data(128)
    model.compute_gradients(x, y)
    (pid,) = workers_of(model)
    with multiprocessing.get_context("fork").Pool(1):
        closing = threading.Thread(target=model.local_step().close)
        closing.start()
        closing.join(timeout=20)
        assert not closing.is_alive() and not alive(pid)


def test_a_changed_layer_state_reaches_the_workers(float64):
    """SparseDense's mask is a state: set_weights writes it in place, and the workers compute with it."""
    model = nn.Sequential([L.Conv2D(1, 4, 3, padding="same", activation="relu"), L.MaxPool2D(2), L.Flatten(),
                           L.SparseDense(64, 3, density=0.5, activation="softmax")])  # fmt: skip
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    x, y = data(128)
    model.compute_gradients(x, y)
    weights = model.get_weights()
    weights[-1] = 1.0 - weights[-1]  # the other half of the connections (the mask, saved last)
    model.set_weights(weights)
    (loss1, grads1), (loss2, grads2) = whole_and_split(model, x, y)
    assert loss2 == pytest.approx(loss1, rel=1e-12)
    for a, b in zip(grads2, grads1):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_an_error_in_a_worker_carries_the_workers_traceback():
    model = small_cnn(FailsInAWorker())
    x, y = data(128)
    with pytest.raises(ValueError, match="only in a worker") as caught:
        model.compute_gradients(x, y)
    cause = caught.value.__cause__
    assert isinstance(cause, processes.WorkerTraceback)
    assert "in worker process" in str(cause) and "FailsInAWorker" not in str(cause) and "forward" in str(cause)


class FailsInAWorker(nn.layers.ReLU):
    parent = os.getpid()

    def forward(self, x, training=False):
        if os.getpid() != self.parent:
            raise ValueError("only in a worker")
        return super().forward(x, training)


def test_a_model_watched_by_the_doctor_keeps_its_parts_in_this_process():
    """The doctor's watch sees the parts it is shown: a worker's would be lost."""
    model = small_cnn()
    x, y = data(128)
    seen = []

    class Look(nn.callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append(workers_of(model))

    model.fit(x, y, epochs=1, batch_size=128, verbose=0, callbacks=[nn.callbacks.TrainingDoctor(verbose=0), Look()])
    assert seen == [[]]
    model.compute_gradients(x, y)  # unwatched now
    assert len(workers_of(model)) == 1


def test_compiling_again_ends_the_workers_at_once():
    model = small_cnn()
    x, y = data(128)
    model.compute_gradients(x, y)
    (pid,) = workers_of(model)
    gc.disable()  # (not left to a collection)
    try:
        model.compile(loss="categorical_crossentropy", optimizer="sgd")
        assert not alive(pid)
    finally:
        gc.enable()


def test_an_epochs_shorter_last_batch_is_served_by_the_same_workers():
    model = small_cnn()
    x, y = data(292)  # batches of 192 (3 parts) and 100 (2 parts)
    nn.set_threads(3)
    model.fit(x, y, epochs=1, batch_size=192, verbose=0, shuffle=False)
    pids = workers_of(model)
    model.fit(x, y, epochs=2, batch_size=192, verbose=0, shuffle=False)
    assert len(pids) == 2 and workers_of(model) == pids


def test_a_refused_fork_warns_and_the_parts_run_in_threads(monkeypatch):
    monkeypatch.setattr(processes, "_refused", False)  # (restored after: the refusal lasts for this process)

    def no_fork():
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    model = small_cnn()
    x, y = data(128)
    with pytest.warns(RuntimeWarning, match="could not fork a worker process .*unavailable.*threads"):
        loss, _ = model.compute_gradients(x, y)
    assert np.isfinite(loss) and workers_of(model) == [] and not processes.available()
