"""The CUDA source of neuronet's own GPU kernels, as plain text: what CuPy compiles, and what the tests compile.

Each kernel makes one pass over its buffers, per element and in the order of
operations of NumpyOps's method of its name (a GPU compiler may fuse a multiply
and an add into one rounding, so the last bit may differ). The optimizers'
update a flat parameter buffer:

- ``adam``:    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g g;  w = decay w;
  w -= step m / (sqrt(v) v_scale + eps), with v_scale = 1 / sqrt(1 - b2**t)
  and step = lr / (1 - b1**t);
- ``rmsprop``: s = rho s + (1 - rho) g g;  w -= lr g / (sqrt(s) + eps).

And each step of a recurrent cell after its matrix products, in
``Ops.lstm_cell``'s, ``lstm_cell_backward``'s, ``gru_cell``'s and
``gru_cell_backward``'s order (the formulas are the layers', ``layers/lstm.py``
and ``layers/gru.py``): one launch where NumPy makes 10-15 passes, each pass
a launch on a GPU, and a step is short. The forward kernels come twice,
``..._training`` also writing each gate's derivative for the backward pass.
A gate of a (gates, batch, H) array is one buffer of batch * H elements.

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

# -- the recurrent cells. Gates are kept in the layers' order (LSTM i, f, o, g; GRU r, z, n); the sigmoid gates'
# pre-activations come halved, so that (1 + tanh(x)) / 2 is each one's sigmoid (``layers/recurrent.py``)
_LSTM_CELL = """
        const T ig = tanh(gate_i[i]) * (T)0.5 + (T)0.5;
        const T fg = tanh(gate_f[i]) * (T)0.5 + (T)0.5;
        const T og = tanh(gate_o[i]) * (T)0.5 + (T)0.5;
        const T gg = tanh(gate_g[i]);
        const T ci = fg * c_prev[i] + ig * gg;
        const T tc = tanh(ci);
        gate_i[i] = ig; gate_f[i] = fg; gate_o[i] = og; gate_g[i] = gg;
        c[i] = ci; tanh_c[i] = tc; h[i] = og * tc;
        """
_GRU_CELL = """
        const T rg = tanh(gate_r[i] + e_r[i]) * (T)0.5 + (T)0.5;
        const T zg = tanh(gate_z[i] + e_z[i]) * (T)0.5 + (T)0.5;
        const T mi = e_n[i];
        const T ng = tanh(gate_n[i] + rg * mi);
        gate_r[i] = rg; gate_z[i] = zg; gate_n[i] = ng; m[i] = mi;
        h[i] = (h_prev[i] - ng) * zg + ng;
        """
_LSTM_STATE = ("gate_i", "gate_f", "gate_o", "gate_g", "c", "tanh_c", "h")
_GRU_STATE = ("gate_r", "gate_z", "gate_n", "m", "h")
KERNELS.update({
    "lstm_cell": (("c_prev",), _LSTM_STATE, (), _LSTM_CELL),
    "lstm_cell_training": (
        ("c_prev",),
        (*_LSTM_STATE, "d_i", "d_f", "d_o", "d_g"),
        (),
        _LSTM_CELL + "d_i[i] = ig - ig * ig; d_f[i] = fg - fg * fg; d_o[i] = og - og * og; d_g[i] = (T)1 - gg * gg;\n",
    ),
    "lstm_cell_backward": (
        ("dh", "gate_i", "gate_f", "gate_o", "gate_g", "tanh_c", "c_prev", "d_i", "d_f", "d_o", "d_g"),
        ("dc", "da_i", "da_f", "da_o", "da_g"),
        (),
        """
        const T dhi = dh[i], tc = tanh_c[i];
        const T dci = dc[i] + (((T)1 - tc * tc) * gate_o[i]) * dhi;
        da_i[i] = (dci * gate_g[i]) * d_i[i];
        da_f[i] = (dci * c_prev[i]) * d_f[i];
        da_o[i] = (dhi * tc) * d_o[i];
        da_g[i] = (dci * gate_i[i]) * d_g[i];
        dc[i] = dci * gate_f[i];
        """,
    ),
    "gru_cell": (("e_r", "e_z", "e_n", "h_prev"), _GRU_STATE, (), _GRU_CELL),
    "gru_cell_training": (
        ("e_r", "e_z", "e_n", "h_prev"),
        (*_GRU_STATE, "d_r", "d_z", "d_n"),
        (),
        _GRU_CELL + "d_r[i] = rg - rg * rg; d_z[i] = zg - zg * zg; d_n[i] = (T)1 - ng * ng;\n",
    ),
    "gru_cell_backward": (
        ("dh", "gate_r", "gate_z", "gate_n", "h_prev", "m", "d_r", "d_z", "d_n"),
        ("da_r", "da_z", "da_n", "de_r", "de_z", "de_n"),
        (),
        """
        const T dhi = dh[i];
        const T dn = (((T)1 - gate_z[i]) * dhi) * d_n[i];
        const T dz = ((h_prev[i] - gate_n[i]) * dhi) * d_z[i];
        const T dr = (dn * m[i]) * d_r[i];
        da_r[i] = dr; da_z[i] = dz; da_n[i] = dn;
        de_r[i] = dr; de_z[i] = dz; de_n[i] = dn * gate_r[i];
        """,
    ),
})  # fmt: skip

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


def gate_buffers(array, names: str, prefix: str = "gate_") -> dict:
    """The gates of ``array`` (gates, batch, H) as a cell kernel's buffers by name, ``prefix`` + the gate's
    letter in ``names`` ("ifog" for an LSTM, "rzn" for a GRU): ``gate_buffers(z, "ifog")["gate_f"]`` is the
    view ``z[1]``."""
    return {prefix + name: array[k] for k, name in enumerate(names)}  # (indexing: iterating a CuPy array is slow)


def arguments(kernel: str, buffers: dict, scalars: dict) -> tuple[list, list]:
    """``kernel``'s buffers and scalars, given by name, in the order of its parameters (``n`` follows them)."""
    reads, updates, names, _ = KERNELS[kernel]
    if set(buffers) != {*reads, *updates} or set(scalars) != set(names):
        raise ValueError(
            f"kernel {kernel!r} takes buffers {reads + updates} and scalars {names}; "
            f"it was given {sorted(buffers)} and {sorted(scalars)}"
        )
    return [buffers[name] for name in reads + updates], [scalars[name] for name in names]
