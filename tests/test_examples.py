"""The worked examples run and show what they claim."""

import os
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


def test_overfitting_example_narrows_the_gap(tmp_path):
    pytest.importorskip("matplotlib")
    result = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, "overfitting.py"), "--out", str(tmp_path), "--epochs", "300"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    rows = {}
    for line in result.stdout.splitlines():
        parts = line.rsplit(maxsplit=6)
        if len(parts) == 7 and parts[1].isdigit():
            rows[parts[0].strip()] = float(parts[4])  # the train - validation accuracy gap
    assert set(rows) == {"no cure", "dropout 0.3", "L2 1e-3", "early stopping"}
    for cure in ("dropout 0.3", "L2 1e-3", "early stopping"):
        assert rows[cure] < rows["no cure"], cure
    assert len([f for f in os.listdir(tmp_path) if f.endswith(".png")]) == 8
