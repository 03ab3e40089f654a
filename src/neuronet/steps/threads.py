"""The thread-split step: one batch cut into parts that run in threads on several cores.

NumPy runs its element-wise loops (im2col copies, pooling, activations) on
one core. So a batch is cut into parts (``data_parallel.py``), each part's
forward and backward pass run in a thread on its own copy of the layers
(sharing the weights, with gradients of its own), its gradient scaled by its
share of the batch, and the parts' gradients added up (the first part's lands
straight in the model's flat gradient): the same step as the plain one. NumPy
lets go of Python's lock inside its loops and matrix products, so the threads
really run at the same time; each part's matrix products use one BLAS
thread, so the cores are not oversubscribed. But each call takes the lock
again, and a part's step is many short calls: where this process may fork,
the parts run in worker processes instead (``processes.py``), with the same
copies of the layers and the same numbers.

How a batch is cut depends on its size and the layers alone (parts of about
``PART`` samples, or fewer where a layer's ``part_samples`` asks: a sample of
attention holds a sequence's worth of work), never on the number of threads,
and the parts' gradients are added in one fixed order: a seeded run gives the
same numbers on one core as on sixteen. The threads (``nn.set_threads``) only decide how many parts run at
once; with one thread they run one after another.

A model is split only where that is exact and pays: every layer must treat
samples independently and draw no random numbers (not BatchNormalization,
Dropout or augmentation), and some layer must do most of its work in NumPy
loops (convolution, pooling, embedding). Dense layers alone already keep
every core busy inside BLAS, and their steps are too short to split.
"""

from __future__ import annotations

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import settings
from . import data_parallel, processes
from .plain import PlainStep

# samples per part: a batch of 128 in two parts keeps two cores busy, and smaller parts cost more than they
# save there (bench/RESULTS.md); larger batches use more cores
PART = 64

_pool: ThreadPoolExecutor | None = None
_pool_size = 0
# one split step at a time: its parts meet at a barrier, so all of them must hold a thread of the pool at once
_split_step = threading.Lock()
_blas = None


def splittable(layers) -> bool:
    """Whether splitting a batch over threads is exact and pays for ``layers`` (see the module's docstring)."""
    return all(layer.independent_samples for layer in layers) and any(layer.numpy_bound for layer in layers)


def parts(n_samples: int, layers) -> int:
    """Into how many parts a training batch of ``n_samples`` is cut for ``layers`` (1: not cut): about
    ``PART`` samples each, or the fewest any layer's ``part_samples`` asks for, whatever the number of threads."""
    if not splittable(layers):
        return 1
    part = min([PART, *(layer.part_samples for layer in layers if layer.part_samples)])
    return max(1, (n_samples + part // 2) // part)


class ThreadSplitStep(PlainStep):
    """The plain step, but a batch that splitting makes faster is cut into parts run in threads, or in worker
    processes (see the module's docstring). The copies of the layers the parts run on (and the workers) are
    kept between steps, made for the most parts a batch has been cut into so far."""

    def __init__(self, model) -> None:
        super().__init__(model)
        self.copies: LayerCopies | None = None

    @property
    def worker_pids(self) -> list[int]:
        """The worker processes' ids (none where the parts run in threads, or before the first split step)."""
        forked = self.copies.forked if self.copies is not None else None
        return list(forked.pids) if forked is not None else []

    def close(self) -> None:
        if self.copies is not None:
            self.copies.close()
            self.copies = None

    def data_gradients(self, x, y, share: float = 1.0, sample_weight=None):
        model = self.model
        n = parts(len(x), model.layers)
        flat = model.flat_parameter() if n > 1 else None  # the parts' gradients are summed into its buffer
        if flat is None:  # not split, or no parameters to learn
            return super().data_gradients(x, y, share, sample_weight)
        # (flat.grad carries out the members' pending zero_grad first: the first part writes into this buffer)
        grad = flat.grad
        if self.copies is None or not self.copies.match(model, n, grad):
            most = max(n, len(self.copies.steps)) if self.copies is not None else n
            self.close()
            with _one_blas_thread():  # (a forked worker keeps the one BLAS thread a part runs with)
                self.copies = LayerCopies(model, most, flat)
        return self.copies.data_gradients(x, y, n, share, sample_weight)


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


class LayerCopies:
    """Copies of a model's layers that share its weights, each writing its gradients to a flat buffer.

    The first copy's buffer is the model's own flat gradient (its part's gradient lands where the
    optimizer reads it); the others have one each, added to it at the end of a step. Made for ``n`` parts,
    they serve a batch cut into fewer as well (an epoch's last, shorter batch), with their first copies.
    """

    def __init__(self, model, n: int, flat) -> None:
        self.layers = list(model.layers)  # what these copies were made from
        self.several_outputs = model.several_outputs  # (then each part's outputs are a list, one per output)
        self.weights = [p.data for p in model.parameters()]
        self.flat_grad = flat_grad = flat.grad
        shared = {id(a): a for a in self.weights + [s for layer in self.layers for s in layer.states()]}
        shared[id(model.ops)] = model.ops
        self.loss_settings = _loss_settings(model)  # (the copies hold them as they are now)
        self.steps, self.grads = [], []
        # where this process may fork, the parts after this process's own run in workers, their gradients in
        # memory shared with them (processes.py)
        self.forks = _forks(model, n)
        new_buffer = processes.shared_zeros if self.forks > 1 else np.zeros
        for i in range(n):
            # shares the loss and the model's settings (its flat buffer's record too: a copy never makes one);
            # its layers and graph are its own, the weights and states in them shared
            replica = model.replica(shared)
            grad = flat_grad if i == 0 else new_buffer(flat_grad.size, flat_grad.dtype)
            for p, piece in zip(replica.parameters(), flat.pieces(grad)):
                p.grad = piece
            self.steps.append(PlainStep(replica))
            self.grads.append(grad)
        self.forked = None
        if self.forks > 1:
            states = [s for layer in self.layers for s in layer.states()]
            try:
                self.forked = processes.ForkedParts(self, flat, states, self.forks)
            except processes.ForkRefused as exc:
                warnings.warn(str(exc), RuntimeWarning, stacklevel=2)

    def close(self) -> None:
        """Stop the worker processes, where there are any."""
        if self.forked is not None:
            self.forked.close()

    def match(self, model, n: int, flat_grad: np.ndarray) -> bool:
        """Whether these copies still mirror ``model`` (same layers, weight and gradient arrays, loss and loss
        weights, the same way of running) for a batch cut into ``n`` parts."""
        params = model.parameters()
        return (
            len(self.steps) >= n
            and self.flat_grad is flat_grad
            and _loss_settings(model) == self.loss_settings
            and len(model.layers) == len(self.layers)
            and all(a is b for a, b in zip(model.layers, self.layers))
            and len(params) == len(self.weights)
            and all(p.data is w for p, w in zip(params, self.weights))
            and self.forks == _forks(model, len(self.steps))
            and (self.forked is None or self.forked.alive)
        )

    def run_part(self, i: int, x, y, share: float, sample_weight) -> tuple:
        """Part i's step on its copy of the layers: its gradient, times ``share``, in its buffer; (loss, outputs)."""
        return self.steps[i].data_gradients(x, y, share, sample_weight)

    def data_gradients(self, x, y, n: int, share: float = 1.0, sample_weight=None) -> tuple[float, np.ndarray]:
        """Each part of the batch on its copy of the layers, its gradient scaled by its share of the batch
        (times ``share``, the batch's own in a larger one); their sum lands in the model's flat gradient.
        Returns the data loss (no regularisation) and the outputs (a list of them for several). A part's
        weighted loss sum(w_i L_i) / part times its share part / n is its piece of the batch's sum / n.

        Worker ``w`` of the ``threads`` takes parts w, w + threads, ...; then each adds its slice of the
        others' gradients to the first's, in part order, so the sum never depends on the thread count.
        """
        rows = data_parallel.cut(len(x), n)
        shares = [data_parallel.share(part, len(x)) for part in rows]
        if self.forked is not None:
            with _split_step, _one_blas_thread():
                results = self.forked.data_gradients(rows, [s * share for s in shares], x, y, sample_weight)
            for grad in self.grads[1:n]:  # (in part order, as the threads add them: the same numbers)
                self.flat_grad += grad
            return self.combined(shares, results)
        threads = min(settings.get_threads(), n)
        cuts = np.linspace(0, self.flat_grad.size, threads + 1).astype(int)
        ready = threading.Barrier(threads)
        results = [None] * n

        def work(w: int) -> None:
            try:
                for i in range(w, n, threads):
                    part_weight = None if sample_weight is None else sample_weight[rows[i]]
                    results[i] = self.run_part(i, x[rows[i]], y[rows[i]], shares[i] * share, part_weight)
            except BaseException:
                ready.abort()  # the other workers stop waiting for this one
                raise
            ready.wait()
            # every part's gradient is ready: each worker adds its slice of the others' to the first's
            # (done in the main thread alone, the sum was a sizeable part of a textcnn step: bench/RESULTS.md)
            mine = slice(cuts[w], cuts[w + 1])
            for grad in self.grads[1:n]:
                self.flat_grad[mine] += grad[mine]

        with _split_step, _one_blas_thread():
            if threads == 1:
                work(0)
            else:
                pool = _thread_pool(threads)
                futures = [pool.submit(work, w) for w in range(threads)]
                errors = [f.exception() for f in futures]
                failed = [e for e in errors if e is not None]
                if failed:  # the worker that failed, rather than the others it stopped
                    raise next((e for e in failed if not isinstance(e, threading.BrokenBarrierError)), failed[0])
        return self.combined(shares, results)

    def combined(self, shares: list, results: list) -> tuple:
        """The batch's loss (each part's times its share) and outputs (the parts' in order)."""
        loss = float(sum(weight * part_loss for weight, (part_loss, _) in zip(shares, results)))
        if not self.several_outputs:
            return loss, np.concatenate([out for _, out in results])
        return loss, [np.concatenate(parts_of_one) for parts_of_one in zip(*(out for _, out in results))]


def _forks(model, n: int) -> int:
    """How many processes run the n parts of a batch (this one among them): the threads asked for, where this
    process may fork workers (processes.py); 0 where it may not, or one would do: the parts then run in threads.
    A model watched by a doctor (``model.watchers``) keeps its parts in this process, where the watch sees all."""
    count = min(settings.get_threads(), n)
    watched = bool(getattr(model, "watchers", None))
    return count if count > 1 and processes.available() and not watched else 0


def _loss_settings(model) -> tuple:
    """What a model's copies take from it by reference (its losses) or as it is (their weights), compared to
    tell whether the copies are still its own."""
    return (model.loss, *model.losses, *(float(w) for w in model.loss_weights))
