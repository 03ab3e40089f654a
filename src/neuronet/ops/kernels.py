"""The CUDA source of neuronet's own GPU kernels, as plain text: what CuPy compiles, and what the tests compile.

Each kernel updates a flat parameter buffer in one pass, per element and in
NumpyOps's order of operations (its ``adam``, ``rmsprop``; a GPU compiler may
fuse a multiply and an add into one rounding, so the last bit may differ):

- ``adam``:    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g g;  w = decay w;
  w -= step m / (sqrt(v) v_scale + eps), with v_scale = 1 / sqrt(1 - b2**t)
  and step = lr / (1 - b1**t);
- ``rmsprop``: s = rho s + (1 - rho) g g;  w -= lr g / (sqrt(s) + eps).

:data:`SOURCE` is one translation unit holding every kernel for float and
for double, each ``extern "C"`` (its name is :func:`function_name`), and
nothing but standard CUDA C++: ``CupyOps`` compiles it as a
``cupy.RawModule`` and launches a kernel over ``n`` elements with
:data:`THREADS` threads a block. Every kernel walks its elements with a
grid-stride loop, so any grid covers any ``n``, and one thread (a grid of
one block of one) does them all: that is how ``tests/test_kernels.py`` runs
this very text on the CPU, compiled by a C++ compiler with the CUDA names
stubbed, against NumpyOps; it also compiles it for the GPUs with NVRTC or
nvcc, which need no GPU.
"""

from __future__ import annotations

import math

THREADS = 256  # threads a block: a multiple of the warp (32 threads), as a block should be

# Each kernel: the buffers it reads, those it updates, its scalars (``T``, the element type, each), and its
# body for element ``i``. Its parameters, and so a launch's arguments, come in that order, then ``long long n``.
KERNELS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str]] = {
    "adam": (
        ("g",),
        ("w", "m", "v"),
        ("b1", "one_minus_b1", "b2", "one_minus_b2", "v_scale", "eps", "step", "decay"),
        """
        const T gi = g[i];
        const T mi = m[i] * b1 + gi * one_minus_b1;
        const T vi = v[i] * b2 + (gi * gi) * one_minus_b2;
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i] * decay - (mi / (sqrt(vi) * v_scale + eps)) * step;
        """,
    ),
    "rmsprop": (
        ("g",),
        ("w", "s"),
        ("rho", "one_minus_rho", "eps", "lr"),
        """
        const T gi = g[i];
        const T si = s[i] * rho + (gi * gi) * one_minus_rho;
        s[i] = si;
        w[i] -= (gi / (sqrt(si) + eps)) * lr;
        """,
    ),
}

DTYPES = {"float32": "float", "float64": "double"}  # NumPy's name of each element type the kernels are made for


def function_name(kernel: str, dtype: str) -> str:
    """The ``extern "C"`` name of ``kernel`` ("adam", "rmsprop") for ``dtype`` ("float32", "float64")."""
    return f"neuronet_{kernel}_{dtype}"


def kernel_source(kernel: str, dtype: str) -> str:
    """The CUDA C++ of one kernel for one element type: its body as written, ``T`` a typedef of the type."""
    reads, updates, scalars, body = KERNELS[kernel]
    ctype = DTYPES[dtype]
    params = [f"const {ctype}* __restrict__ {name}" for name in reads]
    params += [f"{ctype}* __restrict__ {name}" for name in updates]
    params += [f"const {ctype} {name}" for name in scalars] + ["const long long n"]
    return (
        f'extern "C" __global__ void {function_name(kernel, dtype)}({", ".join(params)}) {{\n'
        f"    typedef {ctype} T;\n"
        "    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;\n"
        "         i += (long long)blockDim.x * gridDim.x) {"
        f"{body.rstrip()}\n    }}\n}}\n"
    )


SOURCE = "\n".join(kernel_source(kernel, dtype) for kernel in KERNELS for dtype in DTYPES)


def adam_scalars(*, lr: float, beta_1: float, beta_2: float, epsilon: float, t: int, decay: float) -> dict:
    """The ``adam`` kernel's scalars at step ``t`` (1, 2, ...): the bias corrections folded into two."""
    return {
        "b1": beta_1, "one_minus_b1": 1.0 - beta_1, "b2": beta_2, "one_minus_b2": 1.0 - beta_2,
        "v_scale": 1.0 / math.sqrt(1.0 - beta_2**t), "eps": epsilon, "step": lr / (1.0 - beta_1**t), "decay": decay,
    }  # fmt: skip


def rmsprop_scalars(*, lr: float, rho: float, epsilon: float) -> dict:
    """The ``rmsprop`` kernel's scalars."""
    return {"rho": rho, "one_minus_rho": 1.0 - rho, "eps": epsilon, "lr": lr}


def arguments(kernel: str, buffers: dict, scalars: dict) -> tuple[list, list]:
    """``kernel``'s buffers and scalars, given by name, in the order of its parameters (``n`` follows them)."""
    reads, updates, names, _ = KERNELS[kernel]
    if set(buffers) != {*reads, *updates} or set(scalars) != set(names):
        raise ValueError(
            f"kernel {kernel!r} takes buffers {reads + updates} and scalars {names}; "
            f"it was given {sorted(buffers)} and {sorted(scalars)}"
        )
    return [buffers[name] for name in reads + updates], [scalars[name] for name in names]
