"""Compilers for neuronet's CUDA source that need no GPU, for tests/test_kernels.py.

- NVRTC, CUDA's runtime compiler (what CuPy compiles with), from the ``nvidia-cuda-nvrtc`` wheel (the dev
  extra installs it) or a CUDA toolkit, called through ctypes: its C API is six functions;
- ``nvcc``, where the machine has a CUDA toolkit;
- a C++ compiler (g++, clang++), for the same source run on the CPU with the CUDA names stubbed.

Each compile raises :class:`CompileError` with the compiler's own log; each ``find_*`` returns the compiler,
or a sentence saying why there is none, for a test to skip with.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ARCHS = ("sm_80", "sm_90")  # the GPUs neuronet supports: Ampere (A100) and Hopper (H100, H200)

# How a CPU compiler reads CUDA source: the kernel qualifier means nothing, and the grid is one block of one
# thread, whose grid-stride loop then walks every element. sqrt(float) is float's, as in CUDA (C++'s <cmath>).
CPU_PRELUDE = """
#include <cmath>
using std::sqrt;
using std::tanh;
#define __global__
struct neuronet_dim3 { unsigned x, y, z; };
static const neuronet_dim3 threadIdx = {0, 0, 0}, blockIdx = {0, 0, 0}, blockDim = {1, 1, 1}, gridDim = {1, 1, 1};
#line 1 "neuronet_kernels.cu"
"""


class CompileError(Exception):
    """A kernel that does not compile: the message holds the compiler's log."""


class Nvrtc:
    """NVRTC through ctypes: compile CUDA C++ to a cubin for one architecture."""

    def __init__(self, library: ctypes.CDLL) -> None:
        self.lib = library
        self.lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        major, minor = ctypes.c_int(), ctypes.c_int()
        self._check(self.lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)), "nvrtcVersion")
        self.version = (major.value, minor.value)

    def _check(self, result: int, call: str) -> None:
        if result != 0:
            raise CompileError(f"{call}: {self.lib.nvrtcGetErrorString(result).decode()}")

    def compile(self, source: str, arch: str, name: str = "neuronet_kernels.cu") -> bytes:
        """The cubin of ``source`` for ``arch`` ("sm_90"); CompileError with NVRTC's log if it fails."""
        program = ctypes.c_void_p()
        self._check(
            self.lib.nvrtcCreateProgram(ctypes.byref(program), source.encode(), name.encode(), 0, None, None),
            "nvrtcCreateProgram",
        )
        try:
            options = (ctypes.c_char_p * 1)(f"--gpu-architecture={arch}".encode())
            result = self.lib.nvrtcCompileProgram(program, 1, options)
            size = ctypes.c_size_t()
            self._check(self.lib.nvrtcGetProgramLogSize(program, ctypes.byref(size)), "nvrtcGetProgramLogSize")
            log = ctypes.create_string_buffer(size.value)
            self._check(self.lib.nvrtcGetProgramLog(program, log), "nvrtcGetProgramLog")
            if result != 0:
                error = self.lib.nvrtcGetErrorString(result).decode()
                raise CompileError(f"NVRTC {self.version} for {arch}: {error}\n{log.value.decode()}")
            self._check(self.lib.nvrtcGetCUBINSize(program, ctypes.byref(size)), "nvrtcGetCUBINSize")
            cubin = ctypes.create_string_buffer(size.value)
            self._check(self.lib.nvrtcGetCUBIN(program, cubin), "nvrtcGetCUBIN")
            return cubin.raw
        finally:
            self.lib.nvrtcDestroyProgram(ctypes.byref(program))


def _nvrtc_candidates() -> list[str]:
    """Where libnvrtc may be: the pip wheels' folders (nvidia/cu13/lib, nvidia/cuda_nvrtc/lib for CUDA 12),
    then the loader's search path and a CUDA toolkit's lib64."""
    found = []
    spec = importlib.util.find_spec("nvidia")
    for root in (spec.submodule_search_locations or []) if spec else []:
        found += sorted(str(p) for p in Path(root).glob("*/lib/libnvrtc.so*") if "builtins" not in p.name)
    if ctypes.util.find_library("nvrtc"):
        found.append(ctypes.util.find_library("nvrtc"))
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH") or "/usr/local/cuda"
    found += sorted(str(p) for p in Path(home, "lib64").glob("libnvrtc.so*") if "builtins" not in p.name)
    return found


def find_nvrtc() -> Nvrtc | str:
    """NVRTC, or why it cannot be loaded."""
    candidates = _nvrtc_candidates()
    errors = []
    for path in candidates:
        try:
            return Nvrtc(ctypes.CDLL(path))
        except (OSError, CompileError) as exc:
            errors.append(f"{path}: {exc}")
    if not errors:
        return 'no libnvrtc found: pip install nvidia-cuda-nvrtc (part of ".[dev]"), or a CUDA toolkit'
    return "libnvrtc could not be loaded: " + "; ".join(errors)


class Nvcc:
    """nvcc: compile CUDA C++ to a cubin for one architecture."""

    def __init__(self, path: str) -> None:
        self.path = path

    def compile(self, source: str, arch: str, name: str = "neuronet_kernels.cu") -> bytes:
        with tempfile.TemporaryDirectory() as folder:
            cu, cubin = Path(folder, name), Path(folder, "out.cubin")
            cu.write_text(source)
            run = subprocess.run(
                [self.path, "-cubin", f"-arch={arch}", "-o", str(cubin), str(cu)], capture_output=True, text=True
            )
            if run.returncode != 0:
                raise CompileError(f"nvcc for {arch} (exit {run.returncode}):\n{run.stderr}{run.stdout}")
            return cubin.read_bytes()


def find_nvcc() -> Nvcc | str:
    """nvcc, or why there is none."""
    path = shutil.which("nvcc") or shutil.which(str(Path(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin/nvcc")))
    return Nvcc(path) if path else "no nvcc on PATH nor in $CUDA_HOME/bin (no CUDA toolkit here)"


def compile_for_cpu(source: str, folder: Path) -> ctypes.CDLL:
    """``source`` compiled by the C++ compiler as a shared library, after :data:`CPU_PRELUDE`; no fused
    multiply-add, so that each operation rounds as NumPy's does."""
    compiler = shutil.which("g++") or shutil.which("clang++") or shutil.which("c++")
    if compiler is None:
        raise FileNotFoundError("no C++ compiler (g++, clang++, c++) on PATH")
    cpp, library = folder / "neuronet_kernels.cpp", folder / "neuronet_kernels.so"
    cpp.write_text(CPU_PRELUDE + source)
    command = [compiler, "-x", "c++", "-O2", "-ffp-contract=off", "-fno-fast-math", "-shared", "-fPIC"]
    run = subprocess.run([*command, "-o", str(library), str(cpp)], capture_output=True, text=True)
    if run.returncode != 0:
        raise CompileError(f"{compiler} (exit {run.returncode}):\n{run.stderr}{run.stdout}")
    return ctypes.CDLL(str(library))
