"""CupyOps: the reference ops for CuPy on an NVIDIA GPU, and whether this machine has one.

``model.to("gpu")`` gives a model a :class:`CupyOps`: its layers then compute
with CuPy, whose functions are NumPy's, so nothing in a layer changes. What
does change is below, and only that:

- arrays are allocated on the device, and the random numbers behind dropout
  and augmentation come from a generator on the device (seeded from the
  model's own, so runs repeat; they are other numbers than the CPU's);
- Embedding's scatter-add is ``cupyx.scatter_add``;
- the optimizers' update kernels ``adam`` (Adam, AdamW) and ``rmsprop`` run
  over the flat parameter buffer as one fused CUDA kernel each, where NumPy
  makes 8-10 passes over memory: on a GPU every pass is a kernel launch, and
  for small models the launches, not the arithmetic, are the cost (``sgd``
  and ``adagrad`` are the reference's plain ones, in CuPy);
- none of the CPU's tuning applies: not NumpyOps's kernels and kept memory,
  and, since ``tuned_for_cpu`` is False, a model plans no fused conv + pool
  stages and splits no batch over threads.

The CuPy wheels ship no cuDNN, so convolutions are im2col and a cuBLAS
product, as on the CPU. Data stays on the host and moves a batch at a time
(``Sequential.call``); ``predict`` returns NumPy, and a GPU model saves the
same file as a CPU one. CuPy is imported only when a GPU is asked for, so
neuronet imports without it.
"""

from __future__ import annotations

import functools
import math

from .reference import Ops

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
        import cupyx

        cupyx.scatter_add(target, self.asarray(index), values)

    def rmsprop(self, w, g, square_avg, *, lr, rho, epsilon, scratch=None):
        kernels().rmsprop(g, rho, 1.0 - rho, epsilon, lr, w, square_avg)

    def adam(self, w, g, m, v, *, lr, beta_1, beta_2, epsilon, t, decay=1.0, scratch=None):
        v_scale, step = 1.0 / math.sqrt(1.0 - beta_2**t), lr / (1.0 - beta_1**t)
        kernels().adam(g, beta_1, 1.0 - beta_1, beta_2, 1.0 - beta_2, v_scale, epsilon, step, decay, w, m, v)


@functools.cache
def kernels():
    """The fused kernels, compiled on first use. Each does, per element and in one pass, what NumpyOps's
    update does in several (its ``adam``, ``rmsprop``), in the same order of operations."""
    cupy = cupy_module()

    class Kernels:
        adam = cupy.ElementwiseKernel(
            "T g, T b1, T one_minus_b1, T b2, T one_minus_b2, T v_scale, T eps, T step, T decay",
            "T w, T m, T v",
            """
            m = m * b1 + g * one_minus_b1;
            v = v * b2 + (g * g) * one_minus_b2;
            w = w * decay;
            w -= (m / (sqrt(v) * v_scale + eps)) * step;
            """,
            "neuronet_adam",
        )
        rmsprop = cupy.ElementwiseKernel(
            "T g, T rho, T one_minus_rho, T eps, T lr",
            "T w, T s",
            """
            s = s * rho + (g * g) * one_minus_rho;
            w -= (g / (sqrt(s) + eps)) * lr;
            """,
            "neuronet_rmsprop",
        )

    return Kernels
