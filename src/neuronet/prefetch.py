"""Reading ahead: the next batch read in a background thread while the current one trains.

Reading a batch of a dataset (pages of a file, a gather, the checks) waits
on the disk and on memory more than on arithmetic, and NumPy lets other
threads run meanwhile, so one thread reads batch b + 1 while the model
trains on batch b. Only reading happens there: the order of the batches is
drawn before (the random stream stays the loop's), and nothing of the model
is touched. An error in a read is raised where the loop takes that batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

_END = object()


def ahead(reads: Iterator, enabled: bool = True) -> Iterator:
    """The items of ``reads``, each read in a background thread while the one before is used (``enabled``:
    else read when asked, in this thread)."""
    if not enabled:
        yield from reads
        return
    with ThreadPoolExecutor(1, thread_name_prefix="neuronet-read-ahead") as reader:
        pending = reader.submit(next, reads, _END)
        while True:
            item = pending.result()
            if item is _END:
                return
            pending = reader.submit(next, reads, _END)
            yield item
