"""Which ops a device name means: what ``model.to("cpu" | "gpu")`` moves a model to.

Above the ops it chooses from, so that none of them imports another's module;
CuPy itself is imported only when a ``CupyOps`` is made.
"""

from __future__ import annotations

from .. import checks
from .cupy_ops import CupyOps
from .numpy_ops import NumpyOps
from .reference import Ops

DEVICES = {"cpu": NumpyOps, "gpu": CupyOps}


def for_device(device, like: Ops) -> Ops:
    """A new ops for ``device`` ("cpu", "gpu", or an Ops itself) with the generator and float type of ``like``
    (a model moving there keeps its random stream)."""
    if isinstance(device, Ops):
        return device
    return like.same_stream(DEVICES[checks.choice(device, "device", tuple(DEVICES))])
