"""Training on an NVIDIA GPU through CuPy: ``nn.gpu_available()``, ``nn.gpu.why_no_gpu()``, ``nn.gpu.CupyOps``.

``model.to("gpu")`` gives a model a ``CupyOps`` (``ops/cupy_ops.py``, which
says what differs from the CPU): the same layer code, with CuPy as its array
module. This module is the GPU's public face; the ops lives with the others.
"""

from __future__ import annotations

from .ops.cupy_ops import CupyOps, gpu_available, why_no_gpu

__all__ = ["CupyOps", "gpu_available", "why_no_gpu"]
