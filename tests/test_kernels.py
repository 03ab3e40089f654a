"""neuronet's CUDA kernels (``ops/kernels.py``) checked without a GPU.

1. ``kernels.SOURCE``, the very text ``CupyOps`` compiles, compiles for every architecture neuronet supports
   with NVRTC and with nvcc, each where it can be had (skipped, saying why, where not); a kernel that does
   not compile fails here with the compiler's log, as a typo'd copy shows.
2. The same text compiled for the CPU (the CUDA names stubbed: one thread walks every element) gives, on
   random inputs, NumpyOps's update to 1e-6 in float32 (and 1e-12 in float64); a kernel with a sign turned
   is caught.
3. The recurrent cells' kernels, called through CupyOps's own methods (on a CupyOps whose kernels run this
   CPU build), give the reference cells' numbers: CupyOps's naming of each gate's buffer is checked with
   the kernels' arithmetic.
"""

import ctypes

import cuda_compilers
import numpy as np
import pytest
from test_devices import SEQUENCE, passes, randomised

import neuronet as nn
from neuronet.gpu import CupyOps
from neuronet.ops import NumpyOps, Ops, kernels

COMPILERS = {"nvrtc": cuda_compilers.find_nvrtc, "nvcc": cuda_compilers.find_nvcc}
TYPO = ("sqrt(vi)", "sqrtt(vi)")  # what a slip of the finger makes of Adam's kernel


@pytest.fixture(scope="module", params=sorted(COMPILERS))
def compiler(request):
    found = COMPILERS[request.param]()
    if isinstance(found, str):
        pytest.skip(f"{request.param}: {found}")
    return found


@pytest.mark.parametrize("arch", cuda_compilers.ARCHS)
def test_every_kernel_compiles_for_the_gpu(compiler, arch):
    cubin = compiler.compile(kernels.SOURCE, arch)
    for kernel in kernels.KERNELS:
        for dtype in kernels.DTYPES:  # the names CupyOps asks the module for
            assert kernels.function_name(kernel, dtype).encode() in cubin


def test_a_kernel_that_does_not_compile_fails_with_the_compilers_log(compiler):
    assert TYPO[0] in kernels.SOURCE
    with pytest.raises(cuda_compilers.CompileError, match=r'(?s)for sm_90.*error: identifier "sqrtt" is undefined'):
        compiler.compile(kernels.SOURCE.replace(*TYPO), "sm_90")


@pytest.fixture(scope="module")
def on_cpu(tmp_path_factory):
    """kernels.SOURCE as a CPU library."""
    try:
        return cuda_compilers.compile_for_cpu(kernels.SOURCE, tmp_path_factory.mktemp("kernels"))
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


def run_on_cpu(library, kernel, dtype, buffers, scalars):
    """Call ``kernel``'s CPU build as CupyOps launches it: its arguments put in order by name
    (``kernels.arguments``), then the size."""
    ctype = ctypes.c_float if dtype == "float32" else ctypes.c_double
    arrays, values = kernels.arguments(kernel, buffers, scalars)
    assert all(a.dtype == dtype and a.flags.c_contiguous for a in arrays)
    function = getattr(library, kernels.function_name(kernel, dtype))
    function.restype = None
    function.argtypes = [ctypes.c_void_p] * len(arrays) + [ctype] * len(values) + [ctypes.c_longlong]
    function(*(a.ctypes.data for a in arrays), *values, arrays[0].size)


def random_state(dtype, n=4099, count=4, seed=0):
    """``count`` arrays of ``n`` numbers: a gradient, weights, and moments (the last ones non-negative, as a
    running average of squares is)."""
    rng = np.random.default_rng(seed)
    g, w = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    return g, w, *(rng.random(n).astype(dtype) * (i + 1) for i in range(count - 2))


def adam(library, dtype, decay):
    """Adam through the kernel, given what CupyOps.adam gives it, and through NumpyOps, from the same state:
    their (w, m, v) each."""
    settings = {"lr": 0.01, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "t": 7, "decay": decay}
    g, w, m, v = random_state(dtype)
    expected = [w.copy(), m.copy(), v.copy()]
    NumpyOps().adam(expected[0], g, expected[1], expected[2], **settings)
    run_on_cpu(library, "adam", dtype, {"g": g, "w": w, "m": m, "v": v}, kernels.adam_scalars(**settings))
    return (w, m, v), expected


def rmsprop(library, dtype):
    settings = {"lr": 0.01, "rho": 0.9, "epsilon": 1e-7}
    g, w, s = random_state(dtype, count=3)
    expected = [w.copy(), s.copy()]
    NumpyOps().rmsprop(expected[0], g, expected[1], **settings)
    run_on_cpu(library, "rmsprop", dtype, {"g": g, "w": w, "s": s}, kernels.rmsprop_scalars(**settings))
    return (w, s), expected


TOLERANCE = {"float32": 1e-6, "float64": 1e-12}


@pytest.mark.parametrize("dtype", sorted(kernels.DTYPES))
@pytest.mark.parametrize("case", ["adam", "adamw", "rmsprop"])
def test_each_kernel_computes_numpy_ops_update_on_the_cpu(on_cpu, case, dtype):
    if case == "rmsprop":
        got, expected = rmsprop(on_cpu, dtype)
    else:
        got, expected = adam(on_cpu, dtype, decay=1.0 if case == "adam" else 1 - 0.01 * 0.01)
    assert set(kernels.KERNELS) == {"adam", "rmsprop", *CELL_KERNELS}, "a new kernel needs its case here"
    for a, b, before in zip(got, expected, random_state(dtype, count=len(got) + 1)[1:]):
        assert not np.array_equal(b, before)  # the update did something
        np.testing.assert_allclose(a, b, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


def test_a_kernel_is_given_its_arguments_by_name():
    with pytest.raises(ValueError, match=r"kernel 'rmsprop' takes buffers \('g', 'w', 's'\).*given \['g', 'w'\]"):
        kernels.arguments("rmsprop", {"g": 0, "w": 0}, kernels.rmsprop_scalars(lr=0.1, rho=0.9, epsilon=1e-7))


def test_a_kernel_with_a_sign_turned_is_caught(tmp_path):
    """The check above compares the kernels' arithmetic, not just that they run: a '+' for Adam's '-'
    gives other weights."""
    turned = "w[i] * decay + (mi"
    broken = kernels.SOURCE.replace("w[i] * decay - (mi", turned)
    assert turned in broken
    try:
        library = cuda_compilers.compile_for_cpu(broken, tmp_path)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    (w, m, v), (w_expected, m_expected, v_expected) = adam(library, "float32", decay=1.0)
    np.testing.assert_allclose(m, m_expected, rtol=1e-6, atol=1e-6)  # the moments are still right
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(w, w_expected, rtol=1e-6, atol=1e-6)


class CpuKernelOps(CupyOps):
    """CupyOps on NumPy arrays, its kernels run from their CPU build: what it hands a kernel is what it hands
    the GPU's. Records the kernels it runs and the cells it could not run as kernels, and checks that no two
    buffers of a launch overlap (the kernels take them as ``__restrict__``)."""

    xp = np
    to_numpy = Ops.to_numpy
    holds_data = Ops.holds_data

    def __init__(self, library, rng=None) -> None:
        Ops.__init__(self, rng)  # (CupyOps's own would look for a GPU)
        self.library, self.ran, self.fell_back = library, [], []

    def run_cell(self, kernel, buffers, training=False):
        ran = super().run_cell(kernel, buffers, training)
        if not ran:
            self.fell_back.append(kernel)
        return ran

    def run_kernel(self, kernel, buffers, scalars):
        arrays = list(buffers.items())
        for k, (name, a) in enumerate(arrays):
            assert not any(np.shares_memory(a, b) for _, b in arrays[k + 1 :]), f"{kernel}: {name} overlaps"
        run_on_cpu(self.library, kernel, arrays[0][1].dtype.name, buffers, scalars)
        self.ran.append(kernel)


BATCH, HIDDEN = 5, 7


def cell_arrays(case, dtype, seed=0):
    """A cell's arguments as ``Ops``'s method takes them, random (pre-activations in (-2, 2), gates and
    derivatives as their functions make them: in (0, 1), (-1, 1) and (0, 1/4)), outputs filled with noise."""
    rng = np.random.default_rng(seed)

    def draw(gates=None, low=-1.0, high=1.0):
        shape = (BATCH, HIDDEN) if gates is None else (gates, BATCH, HIDDEN)
        return rng.uniform(low, high, shape).astype(dtype)

    if case in ("lstm_cell", "lstm_cell_training"):
        derivatives = draw(4) if case.endswith("training") else None
        return draw(4, -2, 2), draw(), draw(), draw(), draw(), derivatives  # z, c_prev, c, tanh_c, h
    if case == "lstm_cell_backward":
        gates = draw(4, 0, 1)
        gates[3] = draw()
        return draw(), draw(), gates, draw(), draw(), draw(4, 0, 0.25), draw(4)  # dh, dc, ..., derivatives, da
    if case in ("gru_cell", "gru_cell_training"):
        derivatives = draw(3) if case.endswith("training") else None
        return draw(3, -2, 2), draw(3, -2, 2), draw(), draw(), draw(), derivatives  # a, e, h_prev, m, h
    gates = draw(3, 0, 1)
    gates[2] = draw()
    return draw(), gates, draw(), draw(), draw(3, 0, 0.25), draw(3), draw(3)  # dh, ..., derivatives, da, de


CELL_KERNELS = ["lstm_cell", "lstm_cell_training", "lstm_cell_backward", "gru_cell", "gru_cell_training",
                "gru_cell_backward"]  # fmt: skip


@pytest.mark.parametrize("dtype", sorted(kernels.DTYPES))
@pytest.mark.parametrize("case", CELL_KERNELS)
def test_each_cell_kernel_through_cupy_ops_computes_the_reference_cell(on_cpu, case, dtype):
    method = case.removesuffix("_training")
    expected, got = cell_arrays(case, dtype), cell_arrays(case, dtype)
    getattr(NumpyOps(), method)(*expected)
    ops = CpuKernelOps(on_cpu)
    getattr(ops, method)(*got)
    assert ops.ran == [case]  # the kernel, not the reference's fallback
    for a, b in zip(got, expected):
        if b is None:
            assert a is None
            continue
        np.testing.assert_allclose(a, b, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
    changed = sum(
        b is not None and not np.array_equal(b, before) for b, before in zip(expected, cell_arrays(case, dtype))
    )
    assert changed >= 2  # (forwards the gates and the state, backwards the gradients: what the step writes)


def test_a_cell_with_a_gate_it_cannot_take_falls_back_to_the_reference(on_cpu):
    """A gate that is not one contiguous block (a hand-made view) goes through the reference's passes."""
    args = list(cell_arrays("gru_cell", "float32"))
    expected = [None if a is None else a.copy() for a in args]
    args[0] = np.asfortranarray(args[0])
    ops = CpuKernelOps(on_cpu)
    ops.gru_cell(*args)
    assert ops.ran == []
    NumpyOps().gru_cell(*expected)
    for a, b in zip(args, expected):
        if b is not None:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


L = nn.layers
RECURRENT = {
    "lstm": lambda: [L.LSTM(4, 3)],
    "lstm, every step": lambda: [L.LSTM(4, 3, return_sequences=True)],
    "gru": lambda: [L.GRU(4, 3)],
    "gru, every step": lambda: [L.GRU(4, 3, return_sequences=True)],
    "bidirectional lstm": lambda: [L.Bidirectional(L.LSTM(4, 3, return_sequences=True))],
    "bidirectional gru": lambda: [L.Bidirectional(L.GRU(4, 3))],
    "padded lstm": lambda: [L.Embedding(9, 4, padding_id=0), L.LSTM(4, 3)],
    "padded gru": lambda: [L.Embedding(9, 4, padding_id=0), L.GRU(4, 3, return_sequences=True)],
}


@pytest.mark.parametrize("name", RECURRENT)
def test_recurrent_layers_run_every_step_through_the_cell_kernels(float64, on_cpu, name):
    """LSTM and GRU on a CupyOps whose kernels run on the CPU: every step's cell is a kernel (none falls back
    to the reference's passes: a gate handed over as a strided view would), no launch's buffers overlap, and
    the outputs and gradients are NumpyOps's."""
    padded = name.startswith("padded")
    rng = np.random.default_rng(0)
    x = rng.integers(1, 9, (3, 5)) if padded else rng.standard_normal((3, *SEQUENCE[1:]))
    if padded:
        x[0, 3:] = 0  # padding: a mask reaches the recurrent layer
    model = randomised(nn.Sequential(RECURRENT[name]()))
    dy = rng.standard_normal(model.forward(x).shape)
    expected = passes(model, x, dy)
    ops = CpuKernelOps(on_cpu, model.ops.rng)
    got = passes(model.to(ops), x, dy)
    assert ops.fell_back == []
    steps = 2 * x.shape[1] if "bidirectional" in name else x.shape[1]
    assert len(ops.ran) == 2 * steps  # a kernel a step, forwards and backwards
    for a, b in zip(got, expected):
        if b is None:
            assert a is None
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
