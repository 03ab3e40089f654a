"""Data-parallel training over MPI: every rank holds the whole model and trains on its part of each batch.

    mpiexec -n 4 python train.py            # train.py calls model.fit(X, y, distributed=True)
    mpiexec -n 4 neuronet train data.csv --target label    # the command line distributes by itself

As ChainerMN and Horovod do, on mpi4py. At the start of ``fit`` rank 0's
weights, optimizer settings and random stream are broadcast, and the ranks
check that they hold the same model and as many samples. Then every global
batch of ``size() * batch_size`` samples, the same on every rank (the same
shuffle, from the same stream), is cut into ``size()`` parts; rank ``r``
computes the gradient of its part, weighted by the part's share of the
batch, and one in-place ``Allreduce`` of the flat gradient buffer sums them:
the gradient of the whole batch, on every rank, which then takes the same
step. So N ranks compute what one process computes with batch
``N * batch_size``, up to the order of float additions (``Replica``).

Losses and metrics are reduced over the ranks, validation is split the same
way, and every callback sees the global values; rank 0's decision to stop
is the decision of all (``Agreement``). Only rank 0 prints, draws progress
bars and writes files (``is_writer``). BatchNormalization normalises each
rank's part by its own batch statistics (as PyTorch's DistributedDataParallel
does without SyncBatchNorm); the running statistics are averaged over the
ranks after every epoch, so that every rank ends with the same model.

An exception on one rank aborts the whole job with that rank's message
(``MPI.Abort``), rather than leaving the others waiting in a collective.
Each rank limits its BLAS and neuronet threads to its share of the
machine's cores (``NEURONET_THREADS`` overrides). Needs mpi4py and an MPI
(``pip install "neuronet[mpi]"``: mpi4py and the MPICH wheel).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import time
import traceback

from . import backend
from .callbacks import Callback

INSTALL = 'pip install "neuronet[mpi]" (mpi4py and the MPICH wheel)'
ABORT_GRACE_S = 1.0  # seconds a failing rank's message gets to reach mpiexec before the job ends
LAUNCHER_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")


def launched_size() -> int:
    """How many processes mpiexec started, as its environment says (1 when not started by it)."""
    for name in LAUNCHER_VARIABLES:
        if name in os.environ:
            try:
                return int(os.environ[name])
            except ValueError:
                continue
    return 1


@functools.cache
def world():
    """MPI's COMM_WORLD when this process is one of several ranks, else None (no MPI, or one process)."""
    if launched_size() <= 1:
        return None
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError(
            f"started by mpiexec with {launched_size()} processes, but mpi4py is missing: {INSTALL}"
        ) from None
    comm = MPI.COMM_WORLD
    if comm.Get_size() <= 1:
        return None
    _share_the_cores(comm)
    _abort_on_uncaught_errors(comm)
    return comm


def rank() -> int:
    """This process's rank (0 without MPI)."""
    comm = world()
    return 0 if comm is None else comm.Get_rank()


def size() -> int:
    """How many ranks train together (1 without MPI)."""
    comm = world()
    return 1 if comm is None else comm.Get_size()


def is_writer() -> bool:
    """Whether this process prints and writes files: rank 0, or a process on its own."""
    return launched_size() <= 1 or rank() == 0


def _share_the_cores(comm) -> None:
    """BLAS and neuronet threads per rank: the cores over the ranks on this host (at least 1)."""
    from mpi4py import MPI
    from threadpoolctl import threadpool_limits

    from . import parallel

    local = comm.Split_type(MPI.COMM_TYPE_SHARED).Get_size()
    threads = int(os.environ.get("NEURONET_THREADS", 0)) or max(1, (os.cpu_count() or 1) // local)
    threadpool_limits(limits=threads)
    parallel.set_threads(threads)


def _abort_on_uncaught_errors(comm) -> None:
    """An error no one catches, on any rank, ends every rank (the others would wait for it forever)."""
    previous = sys.excepthook

    def hook(kind, value, trace):
        previous(kind, value, trace)
        _abort(comm)

    sys.excepthook = hook


def abort(exc: BaseException) -> None:
    """End the whole job because of ``exc`` on this rank, naming the rank."""
    comm = world()
    message = " ".join(str(exc).split()) or type(exc).__name__
    print(f"neuronet: rank {comm.Get_rank()} of {comm.Get_size()}: {type(exc).__name__}: {message}", file=sys.stderr)
    traceback.print_exception(exc, file=sys.stderr)
    _abort(comm)


def _abort(comm) -> None:
    """MPI.Abort, once what this rank wrote has had a moment to reach mpiexec (an abort ends every rank at
    once, and what they had written but mpiexec had not yet forwarded with them)."""
    sys.stdout.flush()
    sys.stderr.flush()
    time.sleep(ABORT_GRACE_S)
    comm.Abort(1)


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


class Replica:
    """One rank's model in a data-parallel run: the training loop's model, with the steps that split a
    batch and reduce across ranks (see the module's docstring). Everything else is the model's."""

    def __init__(self, model, comm) -> None:
        self.__dict__.update(model=model, comm=comm, rank=comm.Get_rank(), size=comm.Get_size())

    def __getattr__(self, name):
        return getattr(self.model, name)

    def __setattr__(self, name, value):
        setattr(self.model, name, value)

    def start(self, x) -> None:
        """Check that every rank holds the same model and as many samples, then take rank 0's weights,
        optimizer settings and random stream."""
        model, comm = self.model, self.comm
        mine = {"samples": len(x), "model": _digest(model.get_config()["layers"])}
        everyone = comm.allgather(mine)
        for key, what in (("samples", "training samples"), ("model", "models")):
            values = [e[key] for e in everyone]
            if len(set(values)) > 1:
                shown = values if key == "samples" else "different layers or sizes"
                raise ValueError(f"the {self.size} ranks hold different {what} ({shown}); give every rank the same")
        weights = comm.bcast(model.get_weights() if self.rank == 0 else None, root=0)
        model.set_weights(weights)
        spec = comm.bcast((type(model.optimizer).__name__, model.optimizer.get_config()) if self.rank == 0 else None)
        if (type(model.optimizer).__name__, model.optimizer.get_config()) != spec:
            from .optimizers import OPTIMIZERS

            model.optimizer = OPTIMIZERS[spec[0]](**spec[1])
        model.ops.rng.bit_generator.state = comm.bcast(model.ops.rng.bit_generator.state, root=0)

    def part(self, n: int) -> slice:
        """This rank's rows of a global batch of ``n`` (parts as np.array_split cuts them)."""
        base, extra = divmod(n, self.size)
        lo = self.rank * base + min(self.rank, extra)
        return slice(lo, lo + base + (self.rank < extra))

    def sum(self, value: float) -> float:
        return self.comm.allreduce(float(value))

    def train_step(self, x, y) -> dict[str, float]:
        """This rank's part's gradient weighted by its share, summed over the ranks; then the same step."""
        model, rows = self.model, self.part(len(x))
        share = (rows.stop - rows.start) / len(x)
        flat = model.flat_parameter()
        loss, out = model.data_gradients(x[rows], y[rows], share)
        if flat is not None:
            _sum_over_ranks(self.comm, flat.grad, model.ops)
        loss = self.sum(loss * share) + model.add_regularization_gradients()
        model.apply_gradients()
        model.record(y[rows], out)
        return {"loss": loss}

    def test_step(self, x, y) -> dict[str, float]:
        """The loss on this rank's part of a validation batch, weighted by its share and summed over ranks
        (a batch smaller than the ranks leaves some with nothing to score)."""
        model, rows = self.model, self.part(len(x))
        share, loss = (rows.stop - rows.start) / len(x), 0.0
        if share:
            out = model._run(x[rows], training=False)
            part_y = model.ops.asarray(y[rows])
            model.record(part_y, out)
            loss = model.loss.forward(out, part_y) * share
        return {"loss": self.sum(loss) + model.regularization_loss()}

    def min_batch(self) -> int:
        return self.size * self.model.min_batch()  # (every rank's part must be one a layer accepts)

    def metric_results(self) -> dict[str, float]:
        """The metrics over every rank's recorded batches."""
        model = self.model
        mine = [(backend.to_numpy(y), backend.to_numpy(out)) for y, out in model._metric_batches]
        kept, model._metric_batches = model._metric_batches, [b for part in self.comm.allgather(mine) for b in part]
        try:
            return model.metric_results()
        finally:
            model._metric_batches = kept


def _sum_over_ranks(comm, array, ops) -> None:
    """``array`` becomes its sum over the ranks, in place: the buffer itself on a CPU; off a GPU a host
    copy, whose sum is copied back (an MPI need not read device memory)."""
    from mpi4py import MPI

    host = backend.to_numpy(array)
    comm.Allreduce(MPI.IN_PLACE, host)
    if host is not array:
        array[...] = ops.asarray(host)


class Agreement(Callback):
    """The last callback of a distributed run: after each epoch, rank 0's decision to stop is every rank's,
    and the layers' states (BatchNormalization's running statistics) are averaged over the ranks."""

    def __init__(self, replica: Replica) -> None:
        self.replica = replica

    def on_epoch_end(self, epoch, logs=None):
        model, comm = self.replica.model, self.replica.comm
        model.stop_training = comm.bcast(model.stop_training, root=0)
        for layer in model.layers:
            for state in layer.states():
                if state.dtype.kind == "f":
                    _sum_over_ranks(comm, state, model.ops)
                    state /= self.replica.size


__all__ = ["is_writer", "rank", "size"]
