"""Ops: the array module, new arrays, the seeded generator and the heavy kernels, behind one object.

As thinc's ``Ops``/``NumpyOps``/``CupyOps`` and Chainer's ``xp``: a model and
its layers reach arrays only through their ``ops``, so one body of layer code
serves NumPy on a CPU and any array module with NumPy's API (CuPy on a GPU)
through another ops. An ops holds kernels only: array creation, the
generator, im2col/col2im, scatter-add, the bias, and the optimizers' update
rules (``ops.sgd``, ``ops.adagrad``, ``ops.rmsprop``, ``ops.adam``); it does
not plan a model's passes or choose how a step runs.

- ``reference.py``: :class:`Ops`, every kernel written with ``self.xp`` alone,
  each its plain formula. It runs on any such module.
- ``numpy_ops.py``: :class:`NumpyOps` (the default), the tricks that pay on a
  CPU, each measured in ``bench/RESULTS.md``, and :func:`keep_freed_memory`.
- ``cupy_ops.py``: :class:`CupyOps`, CuPy on an NVIDIA GPU, with fused CUDA
  kernels for the updates; whether this machine can use one (``why_no_gpu``).
- ``kernels.py``: the CUDA source of those kernels, as text that the tests
  compile and run on a CPU too.
- ``devices.py``: :func:`for_device`, the ops ``model.to`` moves a model to.
- ``current.py``: :func:`get_ops`, the ops new layers and models are made with, and
  :func:`use_ops`, a block that makes them with another.

A model owns an ops of its own (:meth:`Ops.spawn`), whose generator is drawn
from the library's seeded one (``nn.set_seed``): shuffling, dropout and
augmentation of two models trained at once in two threads stay apart, and
each run repeats. Host-side work (CSV files, metrics, shapes) stays in NumPy;
``ops.asarray`` and ``ops.to_numpy`` are the two crossings.
"""

from .cupy_ops import CupyOps
from .current import get_ops, use_ops
from .devices import for_device
from .numpy_ops import NumpyOps, keep_freed_memory
from .reference import Ops

__all__ = ["CupyOps", "NumpyOps", "Ops", "for_device", "get_ops", "keep_freed_memory", "use_ops"]
