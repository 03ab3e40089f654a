"""CupyOps: the reference ops for CuPy on an NVIDIA GPU, and whether this machine has one.

``model.to("gpu")`` gives a model a :class:`CupyOps`: its layers then compute
with CuPy, whose functions are NumPy's, so nothing in a layer changes. What
does change is below, and only that:

- arrays are allocated on the device, and the random numbers behind dropout
  and augmentation come from a generator on the device (seeded from the
  model's own, so runs repeat; they are other numbers than the CPU's);
- Embedding's scatter-add is ``cupy.add.at``;
- the optimizers' update kernels ``adam`` (Adam, AdamW) and ``rmsprop`` run
  over the flat parameter buffer as one fused CUDA kernel each (their source
  is ``kernels.py``'s, compiled as a ``cupy.RawModule``), where NumPy
  makes 8-10 passes over memory: on a GPU every pass is a kernel launch, and
  for small models the launches, not the arithmetic, are the cost (``sgd``
  and ``adagrad`` are the reference's plain ones, in CuPy);
- so does each step of an LSTM's or a GRU's cell (``lstm_cell``,
  ``gru_cell`` and their backward passes): one kernel for the 10-15
  element-wise passes between a step's matrix products;
- none of the CPU's tuning applies: not NumpyOps's kernels and kept memory,
  and, since ``tuned_for_cpu`` is False, a model plans no fused conv + pool
  stages and splits no batch over threads.

The CuPy wheels ship no cuDNN, so convolutions are im2col and a cuBLAS
product, as on the CPU. ``fit``'s arrays go to the device once, and each
batch is gathered there, when they take at most a quarter of its free memory
and a batch at least ``HELD_BATCH_BYTES`` (``holds_data``): a gather on the
host and a copy to the device every step would cost more than the step's
arithmetic for small models. Other data, a dataset, and ``evaluate``'s and
``predict``'s inputs stay on the host and move a batch at a time
(``Sequential.call``); ``predict`` returns NumPy, and a GPU model saves the
same file as a CPU one. CuPy is imported only when a GPU is asked for, so
neuronet imports without it.
"""

from __future__ import annotations

import functools

import numpy as np

from . import kernels
from .reference import Ops

# The smallest batch for which fit's arrays are held on the device: a smaller one is copied from the host in
# about the time its gather on the device takes to launch (PyTorch's loop and neuronet's alike gained from
# holding the data only at the larger of the batch sizes measured: bench/RESULTS.md, the GPU section)
HELD_BATCH_BYTES = 1 << 20
INSTALL = 'pip install "neuronet[gpu]" (CuPy for CUDA 13; "neuronet[gpu-cuda12]" for a CUDA 12 driver)'


def cupy_module():
    """CuPy, or an ImportError saying how to install it."""
    try:
        import cupy
    except ImportError:
        raise ImportError(f"training on a GPU needs CuPy: {INSTALL}") from None
    return cupy


def why_no_gpu() -> str | None:
    """None if a GPU can be used; otherwise what is missing, and how to get it."""
    try:
        cupy = cupy_module()
    except ImportError as exc:
        return str(exc)
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CuPy raises its own CUDA error types (no driver, a driver too old)
        return f"CuPy is installed but finds no usable GPU ({type(exc).__name__}: {exc})"
    return None if count > 0 else "CuPy is installed but this machine has no NVIDIA GPU"


def gpu_available() -> bool:
    """Whether ``model.to("gpu")`` can work here: CuPy installed and a GPU it can use."""
    return why_no_gpu() is None


class CupyOps(Ops):
    """Ops for CuPy on an NVIDIA GPU (see the module's docstring)."""

    device = "gpu"

    def __init__(self, rng=None, dtype=None) -> None:
        reason = why_no_gpu()
        if reason is not None:
            raise RuntimeError(f'model.to("gpu"): {reason}')
        super().__init__(rng, dtype)
        self.xp = cupy_module()
        self._device_rng = None

    def asarray(self, x, dtype=None):
        return self.xp.asarray(x, dtype=dtype)  # (CuPy copies NumPy data to the device, and takes its own)

    def to_numpy(self, a):
        return self.xp.asnumpy(a)

    def holds_data(self, nbytes: int, batch_nbytes: int) -> bool:
        free = self.xp.cuda.runtime.memGetInfo()[0] + self.xp.get_default_memory_pool().free_bytes()
        # (three quarters left for the model's activations and whatever else the GPU runs)
        return nbytes <= free // 4 and batch_nbytes >= HELD_BATCH_BYTES

    def _draws(self):
        """The device's generator, seeded once from this ops's own (so that a seeded run repeats)."""
        if self._device_rng is None:
            self._device_rng = self.xp.random.RandomState(int(self.rng.integers(2**63)))
        return self._device_rng

    def random(self, shape, dtype=None):
        return self._draws().random_sample(shape, dtype=dtype or self.dtype)

    def normal(self, shape, dtype=None):
        return self._draws().standard_normal(shape, dtype=dtype or self.dtype)

    def scatter_add(self, target, index, values) -> None:
        self.xp.add.at(target, self.asarray(index), values)  # (cupyx.scatter_add is deprecated for it)

    def rmsprop(self, w, g, square_avg, *, lr, rho, epsilon, scratch=None):
        if not _fusable(w, g, square_avg):
            return super().rmsprop(w, g, square_avg, lr=lr, rho=rho, epsilon=epsilon)
        scalars = kernels.rmsprop_scalars(lr=lr, rho=rho, epsilon=epsilon)
        self.run_kernel("rmsprop", {"g": g, "w": w, "s": square_avg}, scalars)

    def adam(self, w, g, m, v, *, lr, beta_1, beta_2, epsilon, t, decay=1.0, scratch=None):
        if not _fusable(w, g, m, v):
            return super().adam(w, g, m, v, lr=lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, t=t, decay=decay)
        scalars = kernels.adam_scalars(lr=lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, t=t, decay=decay)
        self.run_kernel("adam", {"g": g, "w": w, "m": m, "v": v}, scalars)

    def lstm_cell(self, z, c_prev, c, tanh_c, h, derivatives=None) -> None:
        buffers = {**kernels.gate_buffers(z, "ifog"), "c_prev": c_prev, "c": c, "tanh_c": tanh_c, "h": h}
        if derivatives is not None:
            buffers.update(kernels.gate_buffers(derivatives, "ifog", "d_"))
        if not self.run_cell("lstm_cell", buffers, training=derivatives is not None):
            super().lstm_cell(z, c_prev, c, tanh_c, h, derivatives)

    def lstm_cell_backward(self, dh, dc, gates, tanh_c, c_prev, derivatives, da) -> None:
        buffers = {"dh": dh, "dc": dc, "tanh_c": tanh_c, "c_prev": c_prev, **kernels.gate_buffers(gates, "ifog")}
        for prefix, array in (("d_", derivatives), ("da_", da)):
            buffers.update(kernels.gate_buffers(array, "ifog", prefix))
        if not self.run_cell("lstm_cell_backward", buffers):
            super().lstm_cell_backward(dh, dc, gates, tanh_c, c_prev, derivatives, da)

    def gru_cell(self, a, e, h_prev, m, h, derivatives=None) -> None:
        buffers = {**kernels.gate_buffers(a, "rzn"), **kernels.gate_buffers(e, "rzn", "e_")}
        buffers.update({"h_prev": h_prev, "m": m, "h": h})
        if derivatives is not None:
            buffers.update(kernels.gate_buffers(derivatives, "rzn", "d_"))
        if not self.run_cell("gru_cell", buffers, training=derivatives is not None):
            super().gru_cell(a, e, h_prev, m, h, derivatives)

    def gru_cell_backward(self, dh, gates, h_prev, m, derivatives, da, de) -> None:
        buffers = {"dh": dh, "h_prev": h_prev, "m": m, **kernels.gate_buffers(gates, "rzn")}
        for prefix, array in (("d_", derivatives), ("da_", da), ("de_", de)):
            buffers.update(kernels.gate_buffers(array, "rzn", prefix))
        if not self.run_cell("gru_cell_backward", buffers):
            super().gru_cell_backward(dh, gates, h_prev, m, derivatives, da, de)

    def run_cell(self, kernel: str, buffers: dict, training: bool = False) -> bool:
        """Run a recurrent cell's kernel (``kernel + "_training"``, keeping the derivatives too) over its
        buffers, if it can take them (``_fusable``); whether it ran. The layers' arrays can: a gate of a step
        is a contiguous block (``tests/test_kernels.py`` runs the layers through the kernels)."""
        if not _fusable(*buffers.values()):
            return False
        self.run_kernel(kernel + "_training" if training else kernel, buffers, {})
        return True

    def run_kernel(self, kernel: str, buffers: dict, scalars: dict) -> None:
        """Run ``kernel`` over its buffers' elements, its arguments by name (``kernels.arguments``): the scalars
        as the buffers' type (a Python float would be passed as a double), the size as ``long long``."""
        arrays, values = kernels.arguments(kernel, buffers, scalars)
        n, dtype = arrays[0].size, arrays[0].dtype
        if n == 0:  # a grid of no blocks is a launch error
            return
        blocks = min(-(-n // kernels.THREADS), _MAX_BLOCKS)
        function = _function(kernel, dtype)
        function((blocks,), (kernels.THREADS,), (*arrays, *(dtype.type(x) for x in values), np.int64(n)))


_MAX_BLOCKS = 65536  # enough to fill any GPU many times over; past it, each thread's loop does more elements


def _fusable(first, *others) -> bool:
    """Whether a kernel can take these arrays: one element type it is made for, one shape, each contiguous
    (it indexes them as flat buffers, element i of each with element i of the others). A model's flat
    parameter buffer is; a parameter stepped by hand may not be, and then takes the reference's formula."""
    return first.dtype in _KERNEL_DTYPES and all(
        a.dtype == first.dtype and a.shape == first.shape and a.flags.c_contiguous for a in (first, *others)
    )


# (a dtype's name is slow to read: a recurrent layer asks for a kernel twice a step)
_KERNEL_DTYPES = frozenset(np.dtype(name) for name in kernels.DTYPES)


@functools.cache
def _function(kernel: str, dtype: np.dtype):
    """``kernel`` for ``dtype`` from the compiled module."""
    return _module().get_function(kernels.function_name(kernel, dtype.name))


@functools.cache
def _module():
    """kernels.SOURCE as a CuPy module, compiled on first use (CuPy keeps the binary in its cache on disk)."""
    return cupy_module().RawModule(code=kernels.SOURCE)
