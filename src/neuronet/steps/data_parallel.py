"""Data parallelism, the idea both the thread and the MPI strategies use.

The gradient of a batch's mean loss is the size-weighted mean of the gradients of its parts:

    dL/dw = sum_k (n_k / n) dL_k/dw,     L = sum_k (n_k / n) L_k

so a batch can be cut into parts, each part's gradient found apart (in a thread, on a rank) and scaled by
its share n_k / n, and the scaled gradients added up: the same step as on the whole batch, up to the order
of float additions (PyTorch's DistributedDataParallel, Horovod, ChainerMN). A layer that mixes samples
(BatchNormalization's batch statistics) or draws random numbers breaks the equality; the strategies say what
they do about it.
"""

from __future__ import annotations


def cut(n: int, parts: int) -> list[slice]:
    """The rows of each of ``parts`` parts of a batch of ``n``: as even as can be, the first ones a row longer
    (as ``np.array_split`` cuts)."""
    base, extra = divmod(n, parts)
    bounds = [k * base + min(k, extra) for k in range(parts + 1)]
    return [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]


def share(rows: slice, n: int) -> float:
    """A part's fraction of a batch of ``n``: the weight of its gradient and its loss in the batch's."""
    return (rows.stop - rows.start) / n
