import os
import shutil
import sys
import sysconfig

import numpy as np
import pytest

import neuronet as nn


@pytest.fixture
def float64():
    """Run a test in float64, where finite differences are accurate; restore float32 after."""
    nn.set_dtype("float64")
    yield
    nn.set_dtype("float32")


@pytest.fixture(autouse=True)
def _seed():
    nn.set_seed(0)


def refuse_imports(monkeypatch, package: str) -> None:
    """Make every import of ``package`` fail, as on an install without the extra that brings it."""
    import builtins

    real_import = builtins.__import__

    def refuse(name, *args, **kwargs):
        if name.startswith(package):
            raise ImportError(f"No module named {package!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)


@pytest.fixture
def no_matplotlib(monkeypatch):
    refuse_imports(monkeypatch, "matplotlib")


@pytest.fixture
def no_cupy(monkeypatch):
    refuse_imports(monkeypatch, "cupy")


def rng(seed=0):
    return np.random.default_rng(seed)


def find_mpiexec() -> str | None:
    """mpiexec as the MPICH wheel installs it: on PATH, beside this Python, or in pip's scripts folders."""
    folders = [os.path.dirname(sys.executable), sysconfig.get_path("scripts")]
    folders.append(sysconfig.get_path("scripts", f"{os.name}_user"))
    return shutil.which("mpiexec") or shutil.which("mpiexec", path=os.pathsep.join(f for f in folders if f))
