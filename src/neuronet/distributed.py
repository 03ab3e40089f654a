"""Data-parallel training over MPI: every rank holds the whole model and trains on its part of each batch.

    mpiexec -n 4 python train.py            # train.py calls model.fit(X, y, distributed=True)
    mpiexec -n 4 neuronet train data.csv --target label    # the command line distributes by itself

As ChainerMN and Horovod do, on mpi4py. At the start of ``fit`` the ranks
check that they were called alike (``Replica.start``): the same epochs,
batch size, shuffle, as many training and validation samples of the same
shapes, the same layers, loss, optimizer, metrics, dtype and callbacks. A
difference would make them take different numbers of collective steps and
wait for each other forever, or train different models without a word, so
it is refused on every rank, naming each rank's value; so is an argument one
rank alone refuses (NaN in its data). Then rank 0's weights and random
stream are broadcast. Every global batch of ``size() * batch_size``
samples, the same on every rank (the same shuffle, from the same stream), is
cut into ``size()`` parts; rank ``r`` computes the gradient of its part,
weighted by the part's share of the batch, and one in-place allreduce of
the flat gradient buffer sums them: the gradient of the whole batch, on
every rank, which then takes the same step. So N ranks compute what one
process computes with batch ``N * batch_size``, up to the order of float
additions (``Replica``).

Losses and metrics are reduced over the ranks, validation is split the same
way, and every callback sees the global values; rank 0's decision to stop
is the decision of all (``Agreement``). Only rank 0 prints, draws progress
bars and writes files (``is_writer``). BatchNormalization normalises each
rank's part by its own batch statistics (as PyTorch's DistributedDataParallel
does without SyncBatchNorm); the running statistics are averaged over the
ranks after every epoch, so that every rank ends with the same model.

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
import hashlib
import inspect
import json
import os
import pickle
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from typing import NoReturn

import numpy as np

from . import backend, checks, process
from .callbacks import Callback

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

    from . import parallel

    hosts = _gather(comm, MPI.Get_processor_name(), "the start of MPI (the ranks' host names)")
    local = hosts.count(hosts[comm.Get_rank()])
    threads = int(os.environ.get("NEURONET_THREADS", 0)) or max(1, (os.cpu_count() or 1) // local)
    threadpool_limits(limits=threads)
    parallel.set_threads(threads)


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
            _say(
                comm,
                f"waited {limit:g} s in vain at {step}: another rank is stuck, was killed, failed (see its "
                "message) or never called fit(..., distributed=True). The job ends. " + RAISE_THE_TIMEOUT,
            )
            _abort(comm)
        if waited > SPIN_S:
            time.sleep(min(LONGEST_NAP_S, waited / 100))


def _gather(comm, value, step: str) -> list:
    """Every rank's ``value`` (anything pickle takes), in rank order."""
    mine = np.frombuffer(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), dtype=np.uint8)
    sizes = np.empty(comm.Get_size(), dtype=np.int64)
    wait(comm, [comm.Iallgather(np.array([mine.size], dtype=np.int64), sizes)], step)
    everything = np.empty(int(sizes.sum()), dtype=np.uint8)
    wait(comm, [comm.Iallgatherv(mine, (everything, sizes))], step)
    ends = np.cumsum(sizes)
    return [pickle.loads(everything[end - n : end]) for n, end in zip(sizes, ends)]


def _broadcast(comm, value, step: str):
    """Rank 0's ``value`` (anything pickle takes), on every rank."""
    root = comm.Get_rank() == 0
    data = bytearray(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL) if root else b"")
    n = np.array([len(data)], dtype=np.int64)
    wait(comm, [comm.Ibcast(n, root=0)], step)
    buffer = np.frombuffer(data, dtype=np.uint8) if root else np.empty(int(n[0]), dtype=np.uint8)
    wait(comm, [comm.Ibcast(buffer, root=0)], step)
    return value if root else pickle.loads(buffer)


def _sum_in_place(comm, arrays: list, ops, step: str) -> None:
    """Each of ``arrays`` becomes its sum over the ranks, in place: the buffer itself on a CPU; off a GPU a
    host copy, whose sum is copied back (an MPI need not read device memory)."""
    from mpi4py import MPI

    hosts = [backend.to_numpy(array) for array in arrays]
    wait(comm, [comm.Iallreduce(MPI.IN_PLACE, host) for host in hosts], step)
    for array, host in zip(arrays, hosts):
        if host is not array:
            array[...] = ops.asarray(host)


# -- the start-up check ------------------------------------------------------------------------------
def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _described(value, depth: int = 2) -> str:
    """``value`` as ranks compare it: a number or text as itself, a function by its name, an object by its
    class and the constructor arguments it keeps (``EarlyStopping(monitor='val_loss', patience=3, ...)``),
    those that are objects in turn, ``depth`` levels down (a schedule in a LearningRateScheduler)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    if callable(value) and hasattr(value, "__qualname__"):
        return value.__qualname__
    try:
        names = inspect.signature(type(value).__init__).parameters if depth else {}
    except (TypeError, ValueError):  # (a class implemented in C)
        names = {}
    kept = getattr(value, "__dict__", {})
    settings = (f"{n}={_described(kept[n], depth - 1)}" for n in names if n in kept)
    return f"{type(value).__name__}({', '.join(settings)})"


def _differences(settings: list[dict]) -> list[str]:
    """Each setting the ranks differ on, with every value and the ranks that hold it."""
    found = []
    for name in settings[0]:
        ranks: dict[str, list[int]] = {}
        for r, mine in enumerate(settings):
            shown = mine[name] if isinstance(mine[name], str) else repr(mine[name])
            ranks.setdefault(shown, []).append(r)
        if len(ranks) == 1:
            continue
        if name == "layers":  # (a digest: its values say nothing to a person)
            found.append("their layers (different layers or sizes)")
            continue
        each = (f"{value[:200]} on rank{'s' * (len(rs) > 1)} {', '.join(map(str, rs))}" for value, rs in ranks.items())
        found.append(f"{name}: {', '.join(each)}")
    return found


class Replica:
    """One rank's model in a data-parallel run: the training loop's model, with the steps that split a
    batch and reduce across ranks (see the module's docstring). Everything else is the model's."""

    def __init__(self, model, comm) -> None:
        self.__dict__.update(model=model, comm=comm, rank=comm.Get_rank(), size=comm.Get_size(), epoch=0, batch=0)

    def __getattr__(self, name):
        return getattr(self.model, name)

    def __setattr__(self, name, value):
        setattr(self.model, name, value)

    def start(self, check: Callable):
        """Run ``check`` (fit's checks of its arguments, which returns the loop's plan) and compare its plans
        across the ranks before anything is trained: an argument that one rank refuses is refused on every
        rank, and so are ranks called differently, which would take different numbers of collective steps
        (and wait for each other) or train different models. Then every rank takes rank 0's weights and
        random stream. Returns the plan."""
        model, comm = self.model, self.comm
        try:
            plan = check()
            mine = {"settings": self._settings(plan)}
        except Exception as exc:  # every rank learns of it, and every rank refuses
            argument = isinstance(exc, ValueError | TypeError)
            plan, mine = exc, {"error": (type(exc).__name__, " ".join(str(exc).split()), argument)}
        everyone = _gather(comm, mine, "the start-up check of fit (every rank's arguments, data and model)")
        if isinstance(plan, Exception):
            raise plan
        failed = [(r, found["error"]) for r, found in enumerate(everyone) if "error" in found]
        if failed:
            r, (kind, message, argument) = failed[0]
            raise (checks.ArgumentError if argument else RuntimeError)(
                f"rank {r} of {self.size} refused to start fit, so every rank stops: {kind}: {message}"
            )
        differences = _differences([found["settings"] for found in everyone])
        if differences:
            raise checks.ArgumentError(
                f"the {self.size} ranks called fit differently, so they would not take the same steps: "
                f"{'; '.join(differences)}. Give every rank the same arguments, as many samples, the same "
                "model, compile settings and callbacks (only rank 0 prints and writes)"
            )
        weights, stream = _broadcast(
            comm, (model.get_weights(), model.ops.rng.bit_generator.state), "the broadcast of rank 0's weights"
        )
        model.set_weights(weights)
        model.ops.rng.bit_generator.state = stream
        return plan

    def _settings(self, plan) -> dict:
        """What every rank must agree on, by the names a message gives it."""
        model, config = self.model, self.model.get_config()
        x, y, validation = plan.x, plan.y, plan.validation_data
        return {
            "epochs": plan.epochs,
            "batch_size": plan.batch_size,
            "shuffle": plan.shuffle,
            "training samples": len(x),
            "a sample's shape and type": f"{x.shape[1:]} {x.dtype}",
            "a target's shape and type": f"{y.shape[1:]} {y.dtype}",
            "validation samples": "none" if validation is None else len(validation[0]),
            "layers": _digest(config["layers"]),
            "loss": config["loss"],
            "optimizer": config["optimizer"],
            "optimizer steps taken": model.optimizer.iterations,
            "metrics": [name for name, _ in model.metrics],
            "dtype of the weights": sorted({str(p.data.dtype) for p in model.parameters()}),
            "callbacks": f"[{', '.join(_described(c) for c in plan.callbacks if c.changes_training)}]",
        }

    def begin_epoch(self, epoch: int) -> None:
        self.__dict__.update(epoch=epoch, batch=0)  # (for the steps' names)

    def part(self, n: int) -> slice:
        """This rank's rows of a global batch of ``n`` (parts as np.array_split cuts them)."""
        base, extra = divmod(n, self.size)
        lo = self.rank * base + min(self.rank, extra)
        return slice(lo, lo + base + (self.rank < extra))

    def sum(self, value: float, step: str) -> float:
        total = np.array([value], dtype=np.float64)
        _sum_in_place(self.comm, [total], self.model.ops, step)
        return float(total[0])

    def train_step(self, x, y) -> dict[str, float]:
        """This rank's part's gradient weighted by its share, summed over the ranks with the loss; then the
        same step."""
        self.__dict__["batch"] += 1
        model, rows = self.model, self.part(len(x))
        share = (rows.stop - rows.start) / len(x)
        flat = model.flat_parameter()
        loss, out = model.data_gradients(x[rows], y[rows], share)
        total = np.array([float(loss) * share])
        step = f"the gradient sum of epoch {self.epoch + 1}, batch {self.batch}"
        _sum_in_place(self.comm, [total] if flat is None else [flat.grad, total], model.ops, step)
        loss = float(total[0]) + model.add_regularization_gradients()
        model.apply_gradients()
        model.record(y[rows], out)
        return {"loss": loss}

    def test_step(self, x, y) -> dict[str, float]:
        """The loss on this rank's part of a validation batch, weighted by its share and summed over ranks
        (a batch smaller than the ranks leaves some with nothing to score)."""
        model, rows = self.model, self.part(len(x))
        share, loss = (rows.stop - rows.start) / len(x), 0.0
        if share:
            out = model.call(x[rows], training=False)
            part_y = model.ops.asarray(y[rows])
            model.record(part_y, out)
            loss = model.loss.forward(out, part_y) * share
        total = self.sum(loss, f"the validation loss of epoch {self.epoch + 1}")
        return {"loss": total + model.regularization_loss()}

    def min_batch(self) -> int:
        return self.size * self.model.min_batch()  # (every rank's part must be one a layer accepts)

    def metric_results(self) -> dict[str, float]:
        """The metrics over every rank's recorded batches."""
        model = self.model
        mine = [(backend.to_numpy(y), backend.to_numpy(out)) for y, out in model._metric_batches]
        everyone = _gather(self.comm, mine, f"the metrics of epoch {self.epoch + 1}")
        kept, model._metric_batches = model._metric_batches, [batch for part in everyone for batch in part]
        try:
            return model.metric_results()
        finally:
            model._metric_batches = kept


class Agreement(Callback):
    """The last callback of a distributed run: it names the epoch for the steps' messages, and after each
    epoch makes rank 0's decision to stop every rank's and averages the layers' states (BatchNormalization's
    running statistics) over the ranks."""

    def __init__(self, replica: Replica) -> None:
        self.replica = replica

    def on_epoch_begin(self, epoch, logs=None):
        self.replica.begin_epoch(epoch)

    def on_epoch_end(self, epoch, logs=None):
        replica = self.replica
        model, comm = replica.model, replica.comm
        step = f"the end of epoch {epoch + 1} (rank 0's decision to stop, the layers' states)"
        model.stop_training = _broadcast(comm, model.stop_training, step)
        states = [state for layer in model.layers for state in layer.states() if state.dtype.kind == "f"]
        _sum_in_place(comm, states, model.ops, step)
        for state in states:
            state /= replica.size


__all__ = ["get_timeout", "is_writer", "rank", "set_timeout", "size"]
