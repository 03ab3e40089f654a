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
        parts = line.rsplit(maxsplit=7)
        if len(parts) == 8 and parts[1].isdigit() and parts[2].isdigit():
            epochs, kept, _, val_acc, gap = int(parts[1]), int(parts[2]), *map(float, parts[3:6])
            rows[parts[0].strip()] = {"epochs": epochs, "kept": kept, "val acc": val_acc, "gap": gap}
    assert set(rows) == {"no cure", "dropout 0.3", "L2 1e-3", "stop on val_loss", "stop on val_acc"}
    for cure in ("dropout 0.3", "L2 1e-3", "stop on val_loss", "stop on val_acc"):
        assert rows[cure]["gap"] < rows["no cure"]["gap"], cure
    for stopped in ("stop on val_loss", "stop on val_acc"):  # stopped early, and say which epoch they kept
        assert rows[stopped]["kept"] < rows[stopped]["epochs"] < 300
    # watching the accuracy keeps a model at least as accurate on the validation points as training on does
    assert rows["stop on val_acc"]["val acc"] >= rows["no cure"]["val acc"]
    assert len([f for f in os.listdir(tmp_path) if f.endswith(".png")]) == 10


def test_the_toy_gan_covers_the_eight_gaussians(tmp_path):
    """examples/gan_toy.py, seeded, shorter than its default: at least 6 of the 8 centres (issue 12)."""
    pytest.importorskip("matplotlib")
    command = [sys.executable, os.path.join(EXAMPLES, "gan_toy.py"), "--epochs", "60", "--every", "20"]
    result = subprocess.run([*command, "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert [row[0] for row in rows] == ["20", "40", "60"]
    covered, share = int(rows[-1][1].split("/")[0]), float(rows[-1][2].rstrip("%")) / 100
    assert covered >= 6 and share > 0.3
    assert sorted(os.listdir(tmp_path)) == ["epoch_020.png", "epoch_040.png", "epoch_060.png"]
