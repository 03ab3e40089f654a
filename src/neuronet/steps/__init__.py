"""How a training step runs: a strategy, chosen once by ``fit``.

- ``base.py``: what the loop asks of any step (``Step``);
- ``plain.py``: forward, loss, backward, update, on the whole batch;
- ``threads.py``: the batch cut into parts that run in threads (a CPU, layers where that is exact and pays);
- ``processes.py``: those parts in worker processes forked from this one instead, where it may fork;
- ``mpi.py``: the batch cut over the ranks of an ``mpiexec`` job, the gradient summed with one allreduce;
- ``gan.py``: a discriminator step, then a generator step;
- ``accumulate.py``: gradients summed over k batches, then one update (``fit(..., accumulate=k)``);
- ``data_parallel.py``: the cut and the shares the thread and MPI strategies both use.

A model says which step it takes in a process of its own (``model.local_step()``: its ``make_step``, by
default ``local``);
``choose`` wraps it in the MPI step when ``fit(..., distributed=True)`` runs under mpiexec. The loop
(``training.py``) talks to the step alone.
"""

from __future__ import annotations

from .. import distributed
from ..checks import ArgumentError
from . import processes
from .accumulate import AccumulatingStep
from .base import Step
from .data_parallel import cut, share
from .gan import GanStep
from .mpi import Agreement, MpiStep
from .plain import ModelsOwnStep, PlainStep
from .threads import ThreadSplitStep, parts, splittable


def choose(model, distributed_run: bool = False, accumulate: int = 1) -> Step:
    """The step ``fit`` runs for ``model``: its own, or, asked to distribute under mpiexec, the MPI step
    around it (one process alone trains as it would without ``distributed=True``); with ``accumulate`` k > 1,
    the accumulating step around a plain (or thread-split) one."""
    local = model.local_step()
    comm = distributed.world() if distributed_run else None
    if accumulate > 1:
        if comm is not None or not isinstance(local, PlainStep):
            what = "an MPI run" if comm is not None else f"{type(model).__name__}'s own training step"
            raise ArgumentError(
                f"accumulate={accumulate} sums the gradients of the plain training step, not of {what}: "
                "fit with accumulate=1, or a batch_size accumulate times as large"
            )
        return AccumulatingStep(local, accumulate)
    return local if comm is None else MpiStep(local, comm)


def local(model) -> PlainStep:
    """The step a model of layers takes in a process of its own: the thread split where its ops is tuned for
    a CPU and its layers can be split (it then cuts the batches large enough to pay), else the plain step."""
    return ThreadSplitStep(model) if model.ops.tuned_for_cpu and splittable(model.layers) else PlainStep(model)


__all__ = [
    "AccumulatingStep",
    "Agreement",
    "GanStep",
    "ModelsOwnStep",
    "MpiStep",
    "PlainStep",
    "Step",
    "ThreadSplitStep",
    "choose",
    "cut",
    "local",
    "parts",
    "processes",
    "share",
    "splittable",
]
