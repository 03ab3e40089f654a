"""The MPI step: every rank holds the whole model and trains on its part of each batch.

As ChainerMN and Horovod do, on mpi4py (``distributed.py`` starts MPI and runs
the collective steps). At the start of ``fit`` the ranks check that they were
called alike (:meth:`MpiStep.start`): the same epochs, batch size, shuffle,
as many training and validation samples of the same shapes (each input's
and target's, for a graph model's several), the same layers and graph, losses
and their weights, optimizer, metrics, dtype and callbacks. A difference would make them
take different numbers of collective steps and wait for each other forever,
or train different models without a word, so it is refused on every rank,
naming each rank's value; so is an argument one rank alone refuses (NaN in
its data). Then rank 0's weights and random stream are broadcast.

Every global batch of ``size() * batch_size`` samples, the same on every rank
(the same shuffle, from the same stream), is cut into ``size()`` parts
(``data_parallel.py``); rank ``r`` reads only its part (``part``: of a dataset,
only its own samples) and computes the gradient of it, weighted
by the part's share of the batch, with its own local step (a CPU rank may cut
its part over threads in turn), and one in-place allreduce of the flat
gradient buffer sums them: the gradient of the whole batch, on every rank,
which then takes the same step. So N ranks compute what one process computes
with batch ``N * batch_size``, up to the order of float additions.

Losses and metrics are reduced over the ranks, validation is split the same
way, and every callback sees the global values; rank 0's decision to stop is
the decision of all (:class:`Agreement`). Only rank 0 prints, draws progress
bars and writes files (``process.is_writer``). BatchNormalization normalises
each rank's part by its own batch statistics (as PyTorch's
DistributedDataParallel does without SyncBatchNorm); the running statistics
are averaged over the ranks after every epoch, so that every rank ends with
the same model. ``BatchNormalization(synchronized=True)`` is handed the
ranks' sum for each training step and normalises by the global batch's
statistics (SyncBatchNorm, ChainerMN's MultiNodeBatchNormalization).
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable

import numpy as np

from .. import checks, distributed
from ..callbacks import Callback
from ..several import Several, listed
from . import data_parallel
from .base import Step


class MpiStep(Step):
    """One rank's step in a data-parallel run: its part of each batch through ``local`` (the step it would
    take in a process of its own: its ``data_gradients``), the gradient summed over the ranks (see the
    module's docstring)."""

    def __init__(self, local: Step, comm) -> None:
        super().__init__(local.model)
        self.local, self.comm = local, comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.epoch = self.batch = 0  # (for the collective steps' names)
        self.n = 0  # the samples of the whole batch whose part this rank is given (``begin_batch``)

    def start(self, check: Callable):
        """Run ``check`` (fit's checks of its arguments, which returns them checked) and compare them
        across the ranks before anything is trained: an argument that one rank refuses is refused on every
        rank, and so are ranks called differently, which would take different numbers of collective steps
        (and wait for each other) or train different models. Then every rank takes rank 0's weights and
        random stream. Returns the arguments as the loop runs with them here: global batches, the Agreement
        last among the callbacks, rank 0 alone printing (lines, no bar: a bar's live metrics would be gathered
        over the ranks by one)."""
        model, comm = self.model, self.comm
        try:
            arguments = check()
            mine = {"settings": self.settings(arguments)}
        except Exception as exc:  # every rank learns of it, and every rank refuses
            argument = isinstance(exc, ValueError | TypeError)
            arguments, mine = exc, {"error": (type(exc).__name__, " ".join(str(exc).split()), argument)}
        everyone = distributed.gather(comm, mine, "the start-up check of fit (every rank's arguments, data and model)")
        if isinstance(arguments, Exception):
            raise arguments
        failed = [(r, found["error"]) for r, found in enumerate(everyone) if "error" in found]
        if failed:
            r, (kind, message, argument) = failed[0]
            raise (checks.ArgumentError if argument else RuntimeError)(
                f"rank {r} of {self.size} refused to start fit, so every rank stops: {kind}: {message}"
            )
        found = differences([found["settings"] for found in everyone])
        if found:
            raise checks.ArgumentError(
                f"the {self.size} ranks called fit differently, so they would not take the same steps: "
                f"{'; '.join(found)}. Give every rank the same arguments, as many samples, the same "
                "model, compile settings and callbacks (only rank 0 prints and writes)"
            )
        weights, stream = distributed.broadcast(
            comm, (model.get_weights(), model.ops.rng.bit_generator.state), "the broadcast of rank 0's weights"
        )
        model.set_weights(weights)
        model.ops.rng.bit_generator.state = stream
        return arguments._replace(
            batch_size=arguments.batch_size * self.size,
            callbacks=[*arguments.callbacks, Agreement(self)],
            verbose=(2 if arguments.verbose else 0) if self.rank == 0 else 0,
        )

    def abandon(self, error: BaseException) -> None:
        """One rank's error ends every rank, which would wait for it in a collective step."""
        distributed.abort(error)

    def settings(self, arguments) -> dict:
        """What every rank must agree on, by the names a message gives it."""
        model, config = self.model, self.model.get_config()
        x, y = arguments.data.first()
        validation = arguments.validation
        return {
            "epochs": arguments.epochs,
            "batch_size": arguments.batch_size,
            "shuffle": arguments.shuffle,
            "training samples": len(arguments.data),
            "a sample's shape and type": sample_described(x),
            "a target's shape and type": sample_described(y),
            "validation samples": "none" if validation is None else len(validation),
            "layers": digest([config["layers"], config.get("graph")]),  # (a graph model's wiring too)
            "loss": config.get("losses", config["loss"]),  # (one per output for several)
            "loss_weights": model.loss_weights,
            "optimizer": config["optimizer"],
            "optimizer steps taken": model.optimizer.iterations,
            "metrics": model.epoch_metrics.names(),  # (per output for several: "dense_1_accuracy")
            "dtype of the weights": sorted({str(p.data.dtype) for p in model.parameters()}),
            "callbacks": f"[{', '.join(described(c) for c in arguments.callbacks if c.changes_training)}]",
        }

    def begin_epoch(self, epoch: int) -> None:
        self.epoch, self.batch = epoch, 0

    def part(self, n: int) -> slice:
        """This rank's rows of a global batch of ``n``."""
        return data_parallel.cut(n, self.size)[self.rank]

    def begin_batch(self, n: int) -> None:
        """The global batch whose part comes next holds ``n`` samples (the part's share is its fraction)."""
        self.n = n

    def sum_in_place(self, arrays: list, step: str) -> None:
        """Each of ``arrays`` summed over the ranks, in place (with the deadline of every collective step)."""
        distributed.sum_in_place(self.comm, arrays, self.model.ops, step)

    def sum(self, value: float, step: str) -> float:
        total = np.array([value], dtype=np.float64)
        distributed.sum_in_place(self.comm, [total], self.model.ops, step)
        return float(total[0])

    def gradients(self, x, y, sample_weight=None) -> tuple[float, object]:
        """The gradient of the whole global batch's loss (penalties included) in every ``.grad``, on every
        rank: the gradient of this rank's part ``x``, ``y`` weighted by its share, summed over the ranks with
        the loss. Returns the loss and the part's outputs."""
        model = self.model
        share = data_parallel.share(self.part(self.n), self.n)  # (x is that part)
        flat = model.flat_parameter()
        synchronized = synchronized_layers(model.layers)
        for layer in synchronized:  # (their batch statistics summed over the ranks, for this step alone)
            layer.synchronize_over(self.sum_in_place)
        # (weights passed only when given: a model's own step's data_gradients may not take them)
        weighted = {} if sample_weight is None else {"sample_weight": sample_weight}
        try:
            loss, out = self.local.data_gradients(x, y, share, **weighted)
        finally:
            for layer in synchronized:
                layer.synchronize_over(None)
        total = np.array([float(loss) * share])
        step = f"the gradient sum of epoch {self.epoch + 1}, batch {self.batch}"
        distributed.sum_in_place(self.comm, [total] if flat is None else [flat.grad, total], model.ops, step)
        return float(total[0]) + model.add_regularization_gradients(), out

    def train_step(self, x, y, sample_weight=None) -> dict[str, float]:
        """The summed gradient, then the same update on every rank."""
        self.batch += 1
        loss, out = self.gradients(x, y, sample_weight)
        self.model.apply_gradients()
        self.model.epoch_metrics.record(y, out)
        return {"loss": loss}

    def test_step(self, x, y) -> dict[str, float]:
        """The loss on this rank's part ``x``, ``y`` of a validation batch, weighted by its share and summed over
        ranks (a batch smaller than the ranks leaves some with nothing to score)."""
        model = self.model
        share, loss = data_parallel.share(self.part(self.n), self.n), 0.0
        if share:
            out = model.call(x, training=False)
            part_y = model.on_device(y)
            model.epoch_metrics.record(part_y, out)
            loss = model.loss_of(out, part_y) * share
        total = self.sum(loss, f"the validation loss of epoch {self.epoch + 1}")
        return {"loss": total + model.regularization_loss()}

    def min_batch(self) -> int:
        return self.size * self.local.min_batch()  # (every rank's part must be one a layer accepts)

    def metric_results(self) -> dict[str, float]:
        """The metrics over every rank's recorded batches."""
        mine = self.model.epoch_metrics
        everyone = distributed.gather(self.comm, mine.host_batches(), f"the metrics of epoch {self.epoch + 1}")
        return mine.like([batch for part in everyone for batch in part]).results()


class Agreement(Callback):
    """The last callback of a distributed run: it names the epoch for the steps' messages, and after each
    epoch makes rank 0's decision to stop every rank's and averages the layers' states (BatchNormalization's
    running statistics) over the ranks."""

    def __init__(self, step: MpiStep) -> None:
        self.step = step

    def on_epoch_begin(self, epoch, logs=None):
        self.step.begin_epoch(epoch)

    def on_epoch_end(self, epoch, logs=None):
        step = self.step
        model, comm = step.model, step.comm
        name = f"the end of epoch {epoch + 1} (rank 0's decision to stop, the layers' states)"
        model.stop_training = distributed.broadcast(comm, model.stop_training, name)
        states = [state for layer in model.layers for state in layer.states() if state.dtype.kind == "f"]
        distributed.sum_in_place(comm, states, model.ops, name)
        for state in states:
            state /= step.size


def synchronized_layers(layers) -> list:
    """The layers, and those they hold at any depth, that sum their batch statistics over the ranks
    (``BatchNormalization(synchronized=True)``)."""
    found = []
    for layer in layers:
        if layer.synchronized:
            found.append(layer)
        found += synchronized_layers(layer.sublayers().values())
    return found


# -- what the ranks compare at the start ------------------------------------------------------------
def digest(value) -> str:
    """A short fingerprint of a JSON-able value (the layers' descriptions)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def sample_described(data) -> str:
    """One sample's shape and type, ``(4, 4, 1) float64``; for several arrays (a graph model's inputs or
    targets, a ``Several``) each one's, in a list."""
    each = [f"{a.shape[1:]} {a.dtype}" for a in listed(data)]
    return f"[{', '.join(each)}]" if isinstance(data, Several) else each[0]


def described(value, depth: int = 2) -> str:
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
    settings = (f"{n}={described(kept[n], depth - 1)}" for n in names if n in kept)
    return f"{type(value).__name__}({', '.join(settings)})"


def differences(settings: list[dict]) -> list[str]:
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
            found.append("their layers (different layers or sizes, or wired differently)")
            continue
        each = (f"{value[:200]} on rank{'s' * (len(rs) > 1)} {', '.join(map(str, rs))}" for value, rs in ranks.items())
        found.append(f"{name}: {', '.join(each)}")
    return found
