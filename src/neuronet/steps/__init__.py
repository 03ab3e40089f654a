"""How a training step runs: a strategy, chosen once by ``fit``.

- ``base.py``: what the loop asks of any step (``Step``);
- ``plain.py``: forward, loss, backward, update, on the whole batch;
- ``threads.py``: the batch cut into parts that run in threads (a CPU, layers where that is exact and pays);
- ``mpi.py``: the batch cut over the ranks of an ``mpiexec`` job, the gradient summed with one allreduce;
- ``gan.py``: a discriminator step, then a generator step;
- ``data_parallel.py``: the cut and the shares the thread and MPI strategies both use.

A model says which step it takes in a process of its own (``model.local_step()``: its ``make_step``, by
default ``local``);
``choose`` wraps it in the MPI step when ``fit(..., distributed=True)`` runs under mpiexec. The loop
(``training.py``) talks to the step alone.
"""

from __future__ import annotations

from .. import distributed
from .base import Step
from .data_parallel import cut, share
from .gan import GanStep
from .mpi import Agreement, MpiStep
from .plain import ModelsOwnStep, PlainStep
from .threads import ThreadSplitStep, parts, splittable


def choose(model, distributed_run: bool = False) -> Step:
    """The step ``fit`` runs for ``model``: its own, or, asked to distribute under mpiexec, the MPI step
    around it (one process alone trains as it would without ``distributed=True``)."""
    local = model.local_step()
    comm = distributed.world() if distributed_run else None
    return local if comm is None else MpiStep(local, comm)


def local(model) -> PlainStep:
    """The step a model of layers takes in a process of its own: the thread split where its ops is tuned for
    a CPU and its layers can be split (it then cuts the batches large enough to pay), else the plain step."""
    return ThreadSplitStep(model) if model.ops.tuned_for_cpu and splittable(model.layers) else PlainStep(model)


__all__ = [
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
    "share",
    "splittable",
]
