"""Several arrays of the same samples, cut and indexed as one: a model's inputs, one per ``nn.Input``, or its
targets, one per output. Everything that cuts data into batches or parts (``batching``, the thread and MPI
steps, ``validation_split``) reads ``len(x)`` and ``x[rows]`` alone, so it cuts these as it cuts one array."""

from __future__ import annotations


class Several:
    """Arrays with the same number of samples: ``Several([a, b])[rows]`` is ``Several([a[rows], b[rows]])``."""

    def __init__(self, arrays) -> None:
        self.arrays = list(arrays)

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, rows) -> Several:
        return Several([a[rows] for a in self.arrays])

    def __iter__(self):
        return iter(self.arrays)


def listed(value) -> list:
    """The arrays of ``value``: a Several's, a list's, or ``[value]`` for one array."""
    if isinstance(value, Several):
        return value.arrays
    return list(value) if isinstance(value, (list, tuple)) else [value]
