"""The training loop: epochs of shuffled mini-batches around a model's ``train_step``, with callbacks.

The loop knows nothing of layers, losses or processes. It asks the model to
check its data (``model.check_data``) and a step strategy, chosen once at the
start (``steps.choose``: plain, split over threads, over MPI ranks, a GAN's),
to take one step on a batch (``train_step``, which returns the batch's logs),
to score a batch (``test_step``) and to say what its metrics came to over the
epoch (``metric_results``). A model that trains differently brings its own
step; the loop stays as it is.

The way of one batch through ``fit``, module by module, is drawn in
``docs/architecture.md`` ("One batch through fit").

Each epoch: reset the metrics, take a step on every batch, score the
validation data, hand the logs to the callbacks. The loop stops early when a
callback asks (``model.stop_training``) or when training diverges: a loss,
the weights or the validation loss NaN or infinite.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from typing import NamedTuple

import numpy as np
from tqdm.auto import tqdm

from . import checks, prefetch, process, samples, steps
from .batching import batch_bounds, batch_rows, count, part_of
from .callbacks import KERAS_HOOKS_NOT_CALLED, Callback, History
from .data.dataset import is_dataset
from .several import listed

DIVERGENCE_ADVICE = (
    "Lower the learning rate, scale the inputs (e.g. standardise them), or check the data for extreme values."
)


def fit(
    model,
    x,
    y=None,
    epochs: int = 1,
    batch_size: int = 32,
    validation_data: tuple | None = None,
    validation_split: float = 0.0,
    shuffle: bool = True,
    callbacks: list[Callback] | None = None,
    verbose: int = 1,
    distributed: bool = False,
    sample_weight=None,
    class_weight: dict | None = None,
    accumulate: int = 1,
) -> History:
    """Train ``model`` for ``epochs`` passes over the data in mini-batches; return the History.

    ``verbose``: 0 silent, 1 a progress bar (where it can redraw) and a line per epoch, 2 the lines only.
    If the loss, the weights or the validation loss turn NaN or infinite, training stops after that
    epoch with a warning; the History records the epoch (its loss as it came, the rest NaN). A last
    batch too small for some layer (a single sample, for BatchNormalization) joins the batch before it.
    ``distributed=True`` under ``mpiexec -n N`` trains data-parallel on N ranks (``steps/mpi.py``); in
    a process of its own it is plain training. ``sample_weight`` (n,) and ``class_weight`` ({class: weight})
    weight each sample's loss as Keras does (``sample_weights.py``); the weights multiply where both are given.
    ``accumulate`` k: the gradients of k batches summed into one update, as one batch of k * batch_size
    (``steps/accumulate.py``; an epoch's last, shorter group is one update of what it holds).
    ``x`` may be a dataset (``data/dataset.py``; then no ``y``), read a batch at a time (``samples.py``), the
    next batch in a background thread while the current one trains (``prefetch.py``); so may
    ``validation_data``.
    """
    accumulate = checks.integer(accumulate, "accumulate", low=1)
    # first: one rank's refusal is every rank's
    step = steps.choose(model, checks.flag(distributed, "distributed"), accumulate)
    args = (model, x, y, epochs, batch_size, validation_data, validation_split, shuffle, callbacks, verbose)
    weighting = (sample_weight, class_weight)
    # (distributed: compared across the ranks, and refused on all alike)
    arguments = step.start(lambda: _checked(*args, *weighting))
    try:
        return _loop(step, *arguments)
    except Exception as exc:
        step.abandon(exc)
        raise


class FitArguments(NamedTuple):
    """What the loop runs on: fit's arguments checked, the validation part cut off the data."""

    data: samples.InMemory | samples.FromDataset  # the training samples (and their weights)
    epochs: int
    batch_size: int
    validation: samples.InMemory | samples.FromDataset | None
    shuffle: bool
    callbacks: list[Callback]
    verbose: int


def _checked(
    model,
    x,
    y,
    epochs,
    batch_size,
    validation_data,
    validation_split,
    shuffle,
    callbacks,
    verbose,
    sample_weight=None,
    class_weight=None,
) -> FitArguments:
    """fit's arguments checked (see ``fit``)."""
    epochs = checks.integer(epochs, "epochs", low=0)
    batch_size = checks.integer(batch_size, "batch_size", low=1)
    validation_split = checks.number(validation_split, "validation_split", low=0.0, high=1.0, high_open=True)
    shuffle = checks.flag(shuffle, "shuffle")
    verbose = checks.verbosity(verbose)
    callbacks = _callback_list(callbacks)
    _check_pair(validation_data)
    data, validation = samples.of(model, x, y, sample_weight, class_weight), None
    if validation_data is None and validation_split:
        cut = int(round(len(data) * (1.0 - validation_split)))
        if cut < 1 or cut >= len(data):
            raise checks.ArgumentError(
                f"validation_split={validation_split} leaves no training or validation samples of {len(data)}"
            )
        data, validation = data.split(cut)  # (the validation part is scored unweighted)
        if isinstance(data, samples.InMemory):
            _warn_of_unseen_classes(model, data.y, validation.y, validation_split)
    elif is_dataset(validation_data):
        validation = samples.of(model, validation_data, None, name="validation_data")
    elif validation_data is not None:
        validation = samples.of(model, *validation_data, name="validation X", y_name="validation y")
    data = data.on(model.ops, batch_size)  # (on a GPU, arrays move to its memory where that pays)
    validation = None if validation is None else validation.on(model.ops, batch_size)
    return FitArguments(data, epochs, batch_size, validation, shuffle, callbacks, verbose)


def _warn_of_unseen_classes(model, y_train, y_val, validation_split: float) -> None:
    """validation_split takes the last samples: on data sorted by label they hold classes training never sees
    (and val_accuracy stays at 0). Say so (for the first output that has classes)."""
    for loss, train_y, val_y in zip(model.losses, listed(y_train), listed(y_val)):
        train, val = loss.sample_classes(train_y), loss.sample_classes(val_y)
        if train is None or val is None:
            continue
        unseen = sorted(set(np.unique(val).tolist()) - set(np.unique(train).tolist()))
        if unseen:
            warnings.warn(
                f"validation_split={validation_split} keeps the last {len(val_y)} samples for validation, and they "
                f"hold classes {unseen[:10]} that the training part lacks (is the data sorted by label?): shuffle "
                "the data before fit (fit's shuffle mixes only the training part), or pass validation_data",
                stacklevel=7,  # past _checked, the check, step.start, fit and model.fit: the user's call
            )
        return


def _loop(step, data, epochs, batch_size, validation, shuffle, callbacks, verbose) -> History:
    """The epochs themselves, on checked data, each batch through ``step`` (the strategy ``steps.choose``
    gave)."""
    model, min_batch = step.model, step.min_batch()
    if len(data) < min_batch:
        raise checks.ArgumentError(
            f"a training batch needs at least {min_batch} samples here (BatchNormalization normalises over "
            f"the batch, and each rank trains on its part of a batch), but there are only {len(data)} to train on"
        )

    history = History()
    process.forget_checkpoint()  # (the messages of a failure name this fit's checkpoints alone)
    hooks = [*callbacks, history]  # last, so it records what other callbacks add to the logs
    for cb in hooks:
        cb.set_model(model)
    model.stop_training = False
    for cb in hooks:
        cb.on_train_begin()
    for epoch in range(epochs):
        for cb in hooks:
            cb.on_epoch_begin(epoch)
        desc = f"Epoch {epoch + 1}/{epochs}"
        logs = _train_epoch(step, data, batch_size, min_batch, shuffle, epoch, desc, hooks, verbose)
        diverged = not all(math.isfinite(v) for k, v in logs.items() if k.endswith("loss"))  # (a GAN has two)
        if validation is not None:
            if diverged:  # nothing to measure with weights gone NaN
                val = dict.fromkeys(logs, math.nan)
            else:
                try:
                    val = scores(step, validation, batch_size=max(batch_size, 256))
                except ValueError as exc:  # (a validation dataset's bad sample)
                    raise _stopped(exc, f"the validation data after {desc.lower()}") from exc
                if not math.isfinite(val["loss"]):  # weights so large that the outputs overflow
                    diverged = True
                    warnings.warn(
                        f"training stopped: the validation loss became {val['loss']} after {desc.lower()}. "
                        + DIVERGENCE_ADVICE,
                        RuntimeWarning,
                        stacklevel=3,
                    )
            logs.update({f"val_{k}": v for k, v in val.items()})
        if verbose:
            print(f"{desc} - {' - '.join(f'{k}: {v:.4f}' for k, v in logs.items())}", file=sys.stderr)
        for cb in hooks:
            cb.on_epoch_end(epoch, logs)
        if diverged or model.stop_training:
            model.stop_training = True
            break
    for cb in hooks:
        cb.on_train_end()
    return history


def _train_epoch(step, data, batch_size, min_batch, shuffle, epoch, desc, hooks, verbose) -> dict:
    """One pass over the data in mini-batches; the epoch's logs (a non-finite loss if it diverged)."""
    model = step.model
    rows = list(batch_rows(len(data), batch_size, shuffle, model.ops.rng, min_batch))  # (the shuffle drawn here)
    # each process reads its part of each batch (all of it, but for an MPI rank), a dataset's a batch ahead
    reads = prefetch.ahead((data.read(part_of(r, step.part(count(r)))) for r in rows), data.reads_ahead)
    totals, seen, live, scored_at = {}, 0, {}, time.monotonic()
    step.reset_metrics()
    bar = tqdm(total=len(rows), desc=desc, unit="batch", disable=verbose != 1 or not interactive(), leave=False)
    for b, r in enumerate(rows):
        try:
            xb, yb, wb = next(reads)
        except ValueError as exc:  # a dataset's bad sample: before any step, as arrays are refused; else, mid-way
            if epoch or b:
                raise _stopped(exc, f"{desc.lower()}, batch {b + 1} of {len(rows)}") from exc
            raise
        n = count(r)
        step.begin_batch(n)
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging loss is reported below
            # (weights passed only when given: a model's own step may not take them; a GAN learns from samples alone)
            logs = step.train_step(xb, yb) if wb is None else step.train_step(xb, yb, wb)
        broken = [k for k, v in logs.items() if not math.isfinite(v)]
        if broken:
            bar.close()
            warnings.warn(
                f"training stopped: the {broken[0]} became {logs[broken[0]]} in {desc.lower()}, batch {b + 1}. "
                + DIVERGENCE_ADVICE,
                RuntimeWarning,
                stacklevel=4,
            )
            return {**logs, **dict.fromkeys(step.metric_results(), math.nan)}
        for key, value in logs.items():  # a mean over the epoch's samples
            totals[key] = totals.get(key, 0.0) + value * n
        seen += n
        for cb in hooks:
            cb.on_batch_end(b, logs)
        if not bar.disable and (b % 10 == 0 or b == len(rows) - 1):
            if time.monotonic() - scored_at > 0.5:  # scoring all seen so far: not every batch
                live, scored_at = step.metric_results(), time.monotonic()
            bar.set_postfix({k: v / seen for k, v in totals.items()} | live, refresh=False)
        bar.update(1)
    bar.close()
    step.end_epoch()
    if not model.finite():  # the last step's update overflowed
        warnings.warn(
            f"training stopped: the weights became NaN or infinite in {desc.lower()}. " + DIVERGENCE_ADVICE,
            RuntimeWarning,
            stacklevel=4,
        )
        return {**dict.fromkeys(totals, math.nan), **dict.fromkeys(step.metric_results(), math.nan)}
    return {**{k: v / seen for k, v in totals.items()}, **step.metric_results()}


def _stopped(exc: ValueError, where: str) -> checks.ArgumentError:
    """A dataset's bad sample found in ``where``, once training has begun: the error, and what is kept."""
    checkpoint = process.last_checkpoint()
    kept = "" if checkpoint is None else f"; the last checkpoint is {checkpoint[0]} (epoch {checkpoint[1]})"
    said = str(exc) if str(exc).endswith((".", "?", "!")) else f"{exc}."
    return checks.ArgumentError(
        f"{said} Found in {where}: training stopped there, and the model holds the weights of the steps before it{kept}"
    )


def scores(step, data, batch_size: int) -> dict[str, float]:
    """The loss and metrics over checked data (``samples.py``), batch by batch (``step.test_step``); each process
    reads its part of each batch."""
    totals = {}
    step.reset_metrics()
    with np.errstate(over="ignore", invalid="ignore"):  # non-finite values are the caller's to judge
        for rows in batch_rows(len(data), batch_size, shuffle=False):
            n = count(rows)
            step.begin_batch(n)
            xb, yb, _ = data.read(part_of(rows, step.part(n)))
            for key, value in step.test_step(xb, yb).items():
                totals[key] = totals.get(key, 0.0) + value * n
    return {**{k: v / len(data) for k, v in totals.items()}, **step.metric_results()}


def predict(model, x, batch_size: int) -> np.ndarray | list[np.ndarray]:
    """The model's outputs for checked data, ``batch_size`` samples at a time, as one NumPy array (a list of
    them for a model of several outputs)."""
    with np.errstate(over="ignore", invalid="ignore"):  # the caller judges non-finite outputs
        if len(x) <= batch_size:  # one batch (a request served alone): its outputs, copied, with no more ado
            outs = [np.array(model.ops.to_numpy(out)) for out in listed(model.forward(x[:], training=False))]
            return outs if model.several_outputs else outs[0]
        results = None
        for lo, hi in batch_bounds(len(x), batch_size):
            outs = [model.ops.to_numpy(out) for out in listed(model.forward(x[lo:hi], training=False))]
            if results is None:
                results = [np.empty((len(x), *out.shape[1:]), dtype=out.dtype) for out in outs]
            for result, out in zip(results, outs):
                result[lo:hi] = out
    return results if model.several_outputs else results[0]


def _check_pair(validation_data) -> None:
    """validation_data is None, a pair (X_val, y_val) or a dataset."""
    if validation_data is None or (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
        return
    if is_dataset(validation_data):
        return
    got = f"a {type(validation_data).__name__}"
    if isinstance(validation_data, (tuple, list)):
        got += f" of {len(validation_data)}"
    raise checks.ArgumentError(f"validation_data must be a pair (X_val, y_val) or a dataset, got {got}")


def _callback_list(callbacks) -> list[Callback]:
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)) or not all(isinstance(cb, Callback) for cb in callbacks):
        raise checks.ArgumentError(f"callbacks must be a list of Callback objects, got {callbacks!r}")
    for cb in callbacks:
        never = [name for name in KERAS_HOOKS_NOT_CALLED if hasattr(cb, name)]
        if never:
            warnings.warn(
                f"callback {type(cb).__name__} defines {', '.join(never)}, which fit never calls (its hooks are "
                "on_train_begin, on_epoch_begin, on_batch_end or Keras's on_train_batch_end, on_epoch_end and "
                "on_train_end): move that code into one of those",
                UserWarning,
                stacklevel=7,  # past this, _checked, the check, step.start, fit and model.fit: the user's call
            )
    return list(callbacks)


def interactive() -> bool:
    """Whether progress bars can redraw: standard error is a terminal, or a notebook shows the output."""
    return sys.stderr.isatty() or "ipykernel" in sys.modules
