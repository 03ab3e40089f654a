"""Where fit's samples come from: arrays in memory, or a dataset read one batch at a time.

The training loop sees ``n`` samples and reads the rows of each batch through
``read(rows)``, which gives the batch's inputs, targets and weights, checked.

- :class:`InMemory`: arrays checked whole at the start; a batch is a view
  (in order) or one gather (shuffled); ``fit`` moves them to a GPU's memory
  first where it holds them (``on``), so that batches are gathered there;
- :class:`FromDataset`: a dataset (``data/dataset.py``), of which a batch
  reads only its own samples, in ascending order (a file read in one sweep),
  then put back in the batch's order, so that a shuffled epoch over a dataset
  takes exactly the steps it takes over the same arrays. Its first sample is
  checked against the model at the start (a forward pass); every batch is
  checked as it is read, without a forward pass (a thread may read it while
  the model trains), its sample shapes against the first one's. A bad sample
  is named by its index in the dataset.

Either can be cut at a sample (``split``: ``validation_split``). What a batch
holds is ``(x, y, w)``: ``y`` None for a GAN's samples, ``w`` None unless
weights were given.
"""

from __future__ import annotations

import numpy as np

from . import checks, inputs, sample_weights
from .data.dataset import Subset, is_dataset
from .several import Several, listed


def of(model, x, y, sample_weight=None, class_weight=None, name: str = "X", y_name: str = "y"):
    """fit's (or evaluate's) data as :class:`InMemory` or :class:`FromDataset`, checked."""
    if not is_dataset(x):
        if hasattr(x, "__getitem__") and not hasattr(x, "__len__") and not hasattr(x, "__array__"):
            raise checks.ArgumentError(
                f"{name} ({type(x).__name__}) has __getitem__ but no __len__: a dataset needs both (its number of "
                "samples, and the samples of an array of indices)"
            )
        x, y = model.check_data(x, y, name, y_name)
        return InMemory(x, y, sample_weights.weights(model, y, sample_weight, class_weight))
    if y is not None or sample_weight is not None:
        given = "y" if y is not None else "sample_weight"
        raise checks.ArgumentError(
            f"{name} is a dataset ({type(x).__name__}), which gives its targets (and weights) itself: leave out "
            f"{given}, and have the dataset's __getitem__ return (x, y) or (x, y, sample_weight)"
        )
    return FromDataset(model, x, class_weight, name)


class InMemory:
    """Checked arrays (see the module's docstring)."""

    def __init__(self, x, y, w=None, ops=None) -> None:
        self.x, self.y, self.w = x, y, w
        self.ops = ops  # the ops whose memory holds the arrays (``on``); None: host memory
        self.reads_ahead = False  # (a view or a gather in memory: a thread would cost more than it saves)

    def __len__(self) -> int:
        return len(self.x)

    def read(self, rows) -> tuple:
        """The batch of the samples ``rows`` (a slice: views; an index array: one gather each)."""
        if self.ops is not None and not isinstance(rows, slice):
            rows = self.ops.asarray(rows)  # (the index copied to the device once, not once per array)
        return self.x[rows], None if self.y is None else self.y[rows], None if self.w is None else self.w[rows]

    def on(self, ops, batch_size: int) -> InMemory:
        """These samples moved to ``ops``'s memory once, if it holds them in batches of ``batch_size``
        (``ops.holds_data``: a GPU with room to spare, and batches worth not copying), so that each batch is
        gathered there and none is copied; else these, on the host."""
        arrays = [a for v in (self.x, self.y, self.w) if v is not None for a in listed(v)]
        nbytes = sum(a.nbytes for a in arrays)
        if not ops.holds_data(nbytes, nbytes * min(batch_size, len(self)) // len(self)):
            return self
        x, y, w = (None if v is None else _moved(v, ops) for v in (self.x, self.y, self.w))
        return InMemory(x, y, w, ops)

    def first(self) -> tuple:
        """The first sample's inputs and targets (shapes and types for the ranks to compare)."""
        return self.x[:1], None if self.y is None else self.y[:1]

    def split(self, cut: int) -> tuple[InMemory, InMemory]:
        """The samples before ``cut`` and those from it (the second unweighted: validation is scored so)."""
        x, y, w = self.read(slice(0, cut))
        return InMemory(x, y, w), InMemory(self.x[cut:], None if self.y is None else self.y[cut:])


def _moved(value, ops):
    """An array, or each of a Several's, as an array of ``ops``."""
    return Several([ops.asarray(a) for a in value]) if isinstance(value, Several) else ops.asarray(value)


class FromDataset:
    """A dataset read a batch at a time (see the module's docstring); ``class_weight`` weights each batch's
    samples by their class."""

    def __init__(self, model, dataset, class_weight=None, name: str = "X") -> None:
        self.model, self.dataset, self.class_weight, self.name = model, dataset, class_weight, name
        self.n = _length(dataset, name)
        self.reads_ahead = True  # (a dataset's reading waits on a file: the loop reads the next batch meanwhile)
        if model.loss is None:
            raise RuntimeError("call model.compile(loss=..., optimizer=...) before fit or evaluate")
        x, y, _ = self._item(np.arange(1))
        x, y = model.check_data(x, y, f"{name}'s sample 0", f"{name}'s sample 0's target")
        self.head = x, y  # (the first sample, its shapes and types for the MPI ranks to compare)
        self.empty = (x[:0], y[:0], None)  # (the part of a batch too small to give every MPI rank a sample)
        self.outputs = inputs.output_samples(model, x)  # what every batch's targets must fit
        self.shapes = [part.shape[1:] for part in listed(x)]

    def __len__(self) -> int:
        return self.n

    def on(self, ops, batch_size: int) -> FromDataset:
        """Itself: a dataset is read from its source a batch at a time, wherever the model computes."""
        return self

    def read(self, rows) -> tuple:
        """The batch of the samples ``rows``: read in ascending order, checked, put back in ``rows``'s order."""
        indices = np.arange(*rows.indices(self.n)) if isinstance(rows, slice) else np.asarray(rows)
        if not len(indices):
            return self.empty
        order = np.argsort(indices, kind="stable")
        ascending = indices[order]
        try:
            batch = self._checked(ascending)
        except ValueError:  # find the sample, so that the message names it
            for index in ascending:
                self._checked(np.array([index]), f"{self.name}'s sample {index}")
            raise
        if np.any(order != np.arange(len(order))):
            back = np.empty_like(order)
            back[order] = np.arange(len(order))
            batch = tuple(None if part is None else part[back] for part in batch)
        return batch

    def first(self) -> tuple:
        return self.head

    def split(self, cut: int) -> tuple[FromDataset, FromDataset]:
        """The samples before ``cut`` and those from it (the second unweighted: validation is scored so)."""
        train = FromDataset(self.model, Subset(self.dataset, np.arange(cut)), self.class_weight, self.name)
        return train, FromDataset(self.model, Subset(self.dataset, np.arange(cut, self.n)), None, self.name)

    def _checked(self, indices: np.ndarray, name: str | None = None) -> tuple:
        """The samples ``indices`` read and checked as ``model.check_data`` checks arrays, without its forward
        pass: their shapes against the first sample's."""
        model, name = self.model, name or f"{self.name}'s samples {indices[0]}-{indices[-1]}"
        x, y, w = self._item(indices)
        x = _as_asked(inputs.check_x(model, x, name), indices, name)
        shapes = [part.shape[1:] for part in listed(x)]
        if shapes != self.shapes:
            raise checks.ArgumentError(
                f"{name}: sample shape {_shown(shapes)}, but sample 0's is {_shown(self.shapes)}: every sample of a "
                "dataset must have the same shape"
            )
        try:
            y = inputs.check_targets(model, x, y, self.outputs, name, f"{name}'s targets")
        except ValueError as exc:  # (a loss's own check of targets names no sample)
            raise checks.ArgumentError(f"{name}'s targets: {exc}") from None
        if w is not None or self.class_weight is not None:
            w = sample_weights.weights(model, y, w, self.class_weight)
        return x, y, w

    def _item(self, indices: np.ndarray) -> tuple:
        """``dataset[indices]`` as (x, y, weights or None), whatever form of item it returns."""
        item = _given(self.dataset, indices, self.name, self.n)
        if isinstance(item, tuple) and len(item) in (2, 3):
            return item if len(item) == 3 else (*item, None)
        raise checks.ArgumentError(
            f"{self.name}: the dataset's __getitem__ must return (x, y) or (x, y, sample_weight) for fit and "
            f"evaluate, got a {type(item).__name__}{f' of {len(item)}' if isinstance(item, tuple) else ''}"
        )


def inputs_of(model, x, name: str = "X"):
    """predict's data: checked arrays, or a dataset's inputs read and checked one batch at a time."""
    return _DatasetInputs(model, x, name) if is_dataset(x) else model.check_x(x, name)


class _DatasetInputs:
    """A dataset as ``training.predict`` reads it: ``len()`` and checked inputs for a slice of samples (the
    dataset's item may be ``x`` alone, or ``(x, y)`` whose targets are left aside)."""

    def __init__(self, model, dataset, name: str) -> None:
        self.model, self.dataset, self.name = model, dataset, name
        self.n = _length(dataset, name)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, rows: slice):
        indices = np.arange(*rows.indices(self.n))
        item = _given(self.dataset, indices, self.name, self.n)
        x = item[0] if isinstance(item, tuple) else item
        name = f"{self.name}'s samples {indices[0]}-{indices[-1]}"
        return _as_asked(inputs.check_x(self.model, x, name), indices, name)


def _given(dataset, indices: np.ndarray, name: str, n: int):
    """``dataset[indices]``, or an error saying which samples the dataset failed to give, and why."""
    try:
        return dataset[indices]
    except TypeError as exc:  # (most often a dataset written for one sample per index, as PyTorch's are)
        raise checks.ArgumentError(
            f"{name}: the dataset failed to give samples {indices[0]}-{indices[-1]} of its {n}: TypeError: {exc}. "
            "Its __getitem__ is given a whole batch's indices at once (a 1-D NumPy array of ints) and must return "
            "the batch's arrays, not one sample"
        ) from exc
    except (IndexError, KeyError) as exc:
        raise checks.ArgumentError(
            f"{name}: the dataset failed to give samples {indices[0]}-{indices[-1]} of its {n}: "
            f"{type(exc).__name__}: {exc}"
        ) from None


def _length(dataset, name: str) -> int:
    """A dataset's number of samples, at least one."""
    try:
        n = len(dataset)
    except TypeError as exc:
        raise checks.ArgumentError(f"{name}: len() of the dataset failed: {exc}") from None
    if n < 1:
        raise checks.ArgumentError(f"{name} is an empty dataset (len() gave {n}); give at least one sample")
    return n


def _as_asked(x, indices: np.ndarray, name: str):
    """Checked inputs ``x`` of the samples ``indices``, refused unless they hold one sample per index (the
    targets and weights are then held to ``x``'s count)."""
    if len(x) != len(indices):
        raise checks.ArgumentError(
            f"{name}: the dataset's __getitem__ gave {len(x)} samples for the {len(indices)} indices asked for: "
            "it must return one sample per index, in the order asked"
        )
    return x


def _shown(shapes: list) -> str:
    return str(shapes[0]) if len(shapes) == 1 else str(shapes)
