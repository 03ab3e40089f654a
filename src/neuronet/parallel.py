"""Training on several cores: one batch split across threads (data parallelism).

NumPy runs its element-wise loops (im2col copies, pooling, activations) on
one core. The gradient of a batch's mean loss is the size-weighted mean of the
gradients of its parts, so a batch can be split in as many parts as there are
threads, each part's forward and backward pass run in its own thread on its
own copy of the layers (sharing the weights, with gradients of its own), its
gradient scaled by its share of the batch, and the parts' gradients added up
(the first part's lands straight in the model's flat gradient): the same
step, as PyTorch's DistributedDataParallel takes it across processes. NumPy
lets go of Python's lock inside its loops and matrix products, so the threads
really run at the same time; each thread's matrix products use one BLAS
thread, so the cores are not oversubscribed.

A model is split only where that is exact and pays: every layer must treat
samples independently and draw no random numbers (not BatchNormalization,
Dropout or augmentation), and some layer must do most of its work in NumPy
loops (convolution, pooling, embedding). Dense layers alone already keep
every core busy inside BLAS, and their steps are too short to split.
"""

from __future__ import annotations

import copy
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

MIN_PART = 16  # samples per thread: smaller parts spend more time starting threads than they save

_threads: int | None = None
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
# one split step at a time: its parts meet at a barrier, so all of them must hold a thread of the pool at once
_split_step = threading.Lock()
_blas = None


def set_threads(n: int | None) -> None:
    """How many threads training may split a batch across; 1 turns splitting off, None uses every core."""
    global _threads
    if n is not None and (not isinstance(n, int) or n < 1):
        raise ValueError(f"threads must be a positive int or None, got {n!r}")
    _threads = n


def get_threads() -> int:
    """The number of threads training splits a batch across (see :func:`set_threads`)."""
    if _threads is not None:
        return _threads
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def parts(n_samples: int, layers) -> int:
    """Into how many parts a training batch of ``n_samples`` is split for ``layers`` (1: not split)."""
    if not all(layer.independent_samples for layer in layers) or not any(layer.numpy_bound for layer in layers):
        return 1
    return max(1, min(get_threads(), n_samples // MIN_PART))


def _thread_pool(n: int) -> ThreadPoolExecutor:
    """The shared pool of threads, with at least ``n`` of them."""
    global _pool, _pool_size
    if _pool_size < n:  # (re)started for more threads; the old one's idle threads end
        if _pool is not None:
            _pool.shutdown(wait=False)
        _pool, _pool_size = ThreadPoolExecutor(n, thread_name_prefix="neuronet"), n
    return _pool


def _one_blas_thread():
    """A context in which NumPy's BLAS runs single-threaded (threadpoolctl; built once, it is slow to build)."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")


class Replicas:
    """Copies of a model's layers that share its weights, each writing its gradients to a flat buffer.

    The first copy's buffer is the model's own flat gradient (its part's gradient lands where the
    optimizer reads it); the others have one each, added to it at the end of a step.
    """

    def __init__(self, model, n: int, flat_grad: np.ndarray) -> None:
        self.layers = list(model.layers)  # what these copies were made from
        self.weights = [p.data for p in model.parameters()]
        self.flat_grad = flat_grad
        shared = {id(a): a for a in self.weights + [s for layer in self.layers for s in layer.states()]}
        self.models, self.grads = [], []
        for i in range(n):
            replica = copy.copy(model)  # shares the loss; the layers below are its own
            replica.layers = copy.deepcopy(self.layers, dict(shared))  # the weights and states stay shared
            params = replica.parameters()
            grad = flat_grad if i == 0 else np.zeros(flat_grad.size, dtype=flat_grad.dtype)
            offset = 0
            for p in params:
                p.grad = grad[offset : offset + p.data.size].reshape(p.data.shape)
                offset += p.data.size
            self.models.append(replica)
            self.grads.append(grad)

    def match(self, model, n: int, flat_grad: np.ndarray) -> bool:
        """Whether these copies still mirror ``model`` (same layers, same weight and gradient arrays) n times."""
        params = model.parameters()
        return (
            len(self.models) == n
            and self.flat_grad is flat_grad
            and len(model.layers) == len(self.layers)
            and all(a is b for a, b in zip(model.layers, self.layers))
            and len(params) == len(self.weights)
            and all(p.data is w for p, w in zip(params, self.weights))
        )

    def compute_gradients(self, x, y) -> tuple[float, np.ndarray]:
        """Each part of the batch in its own thread, its gradient scaled by its share of the batch; their
        sum lands in the model's flat gradient. Returns the data loss (no regularisation) and the outputs."""
        n = len(self.models)
        bounds = np.linspace(0, len(x), n + 1).astype(int)
        shares = [float(b - a) / len(x) for a, b in zip(bounds[:-1], bounds[1:])]
        cuts = np.linspace(0, self.flat_grad.size, n + 1).astype(int)
        ready = threading.Barrier(n)

        def part(i: int):
            try:
                part_x, part_y = x[bounds[i] : bounds[i + 1]], y[bounds[i] : bounds[i + 1]]
                result = self.models[i].data_gradients(part_x, part_y, shares[i])
            except BaseException:
                ready.abort()  # the other parts stop waiting for this one
                raise
            ready.wait()
            # every part's gradient is ready: each thread adds its slice of the others' to the first's
            # (done in the main thread alone, the sum took 1.4 ms of a 20 ms textcnn step)
            mine = slice(cuts[i], cuts[i + 1])
            for grad in self.grads[1:]:
                self.flat_grad[mine] += grad[mine]
            return result

        with _split_step, _one_blas_thread():
            pool = _thread_pool(n)
            futures = [pool.submit(part, i) for i in range(n)]
            errors = [f.exception() for f in futures]
        failed = [e for e in errors if e is not None]
        if failed:  # the part that failed, rather than the others it stopped
            raise next((e for e in failed if not isinstance(e, threading.BrokenBarrierError)), failed[0])
        results = [f.result() for f in futures]
        loss = float(sum(share * part_loss for share, (part_loss, _) in zip(shares, results)))
        return loss, np.concatenate([out for _, out in results])
