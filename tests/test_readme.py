"""Every code block of the README runs as written, in a fresh folder, and prints what it says."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import find_mpiexec

ROOT = os.path.join(os.path.dirname(__file__), "..")
README = Path(ROOT, "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, flags=re.S)
MPIEXEC = find_mpiexec() or "mpiexec"  # (the MPICH wheel's folder need not be on PATH)


def commands(block: str) -> list[str]:
    """A shell block's commands as a test runs them: installs are done already, and the test suite is us."""
    out = []
    for line in block.strip().splitlines():
        line = re.sub(r"^python3 -m pip install \S+ && ", "", line)
        if line == "python3 -m pytest":
            continue
        line = re.sub(r"^(python3 -m neuronet|neuronet) ", f"{sys.executable} -m neuronet ", line)
        out.append(re.sub(r"^mpiexec (-n \d+) python3 ", rf"{MPIEXEC} \1 {sys.executable} ", line))
    return out


@pytest.fixture
def folder(tmp_path):
    shutil.copytree(os.path.join(ROOT, "examples"), tmp_path / "examples")
    return tmp_path


def test_the_readme_opens_with_the_two_commands():
    first = BLOCKS[0]
    assert first[0] == "bash" and first[1].strip().splitlines() == [
        "python3 -m pip install . && python3 -m neuronet demo",
        'python3 -m pip install ".[dev]" && python3 -m pytest',
    ]
    assert README.index("```") < README.index("\n## ")


def test_the_readme_links_only_inside_the_repository():
    for target in re.findall(r"\]\(([^)]+)\)", README):
        assert not target.startswith(("..", "/")) and os.path.exists(os.path.join(ROOT, target)), target


@pytest.mark.parametrize("index", [i for i, (lang, _) in enumerate(BLOCKS) if lang in ("python", "bash")])
def test_every_code_block_runs(folder, index):
    lang, code = BLOCKS[index]
    runs = [[sys.executable, "-c", code]] if lang == "python" else [["bash", "-c", c] for c in commands(code)]
    for argv in runs:
        result = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{argv[-1][:200]}\n{result.stderr[-2000:]}"
        assert "Traceback" not in result.stderr


def test_the_reference_names_every_public_name():
    import inspect

    import neuronet as nn

    reference = Path(ROOT, "docs", "api.md").read_text(encoding="utf-8")
    modules = [nn, nn.layers, nn.callbacks, nn.data, nn.text, nn.datasets, nn.schedules, nn.losses, nn.optimizers]
    modules += [nn.metrics, nn.plot]

    def public(m):
        if hasattr(m, "__all__"):
            return set(m.__all__)
        return {n for n, v in vars(m).items() if inspect.getmodule(v) is m and (inspect.isclass(v) or callable(v))}

    names = {n for m in modules for n in public(m) if not n.startswith("_")}
    names -= {"Layer", "Loss", "Optimizer", "Schedule", "get", "is_classification", "require_matplotlib"}
    missing = sorted(n for n in names if not inspect.ismodule(getattr(nn, n, None)) and n not in reference)
    assert not missing, missing


@pytest.mark.parametrize("code", re.findall(r"```python\n(.*?)```", Path(ROOT, "docs", "guide.md").read_text(), re.S))
def test_the_guides_snippets_run(folder, code):
    result = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
