"""The command line: happy paths end to end, and one clear line for each mistake."""

import csv
import subprocess
import sys

import numpy as np
import pytest

import neuronet as nn
from neuronet.cli import main


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


@pytest.fixture
def flowers(tmp_path):
    """Three well-separated classes named by text, two features on very different scales."""
    rng = np.random.default_rng(0)
    rows = []
    for k, name in enumerate(["setosa", "versicolor", "virginica"]):
        for _ in range(60):
            rows.append([f"{k * 3 + rng.normal(0, 0.5):.3f}", f"{1000 * k + rng.normal(0, 150):.1f}", name])
    order = rng.permutation(len(rows))
    rows = [rows[i] for i in order]
    train = write_csv(tmp_path / "train.csv", ["petal", "weight", "species"], rows[:150])
    test = write_csv(tmp_path / "test.csv", ["petal", "weight", "species"], rows[150:])
    return train, test, tmp_path


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_train_evaluate_predict_summary_classification(flowers, capsys):
    train, test, tmp = flowers
    model_path = tmp / "flowers.nnet"
    code, out, err = run(
        capsys,
        "train",
        train,
        "--target",
        "species",
        "--hidden",
        "16,8",
        "--epochs",
        "40",
        "--learning-rate",
        "0.01",
        "--out",
        model_path,
        "--quiet",
    )
    assert code == 0, err
    assert "classification into 3 classes" in out and model_path.exists()
    meta = nn.load_model(model_path).metadata
    assert meta["classes"] == ["setosa", "versicolor", "virginica"]
    # statistics of the training part only: the 120 rows the seeded split trains on, not all 150
    weights = np.array([float(r[1]) for r in read_rows(train)[1:]])
    train_rows = np.random.default_rng(0).permutation(150)[:120]
    assert meta["scaler"]["mean"][1] == pytest.approx(weights[train_rows].mean())
    assert meta["scaler"]["mean"][1] != pytest.approx(weights.mean())

    code, out, err = run(capsys, "evaluate", model_path, test)
    assert code == 0, err
    assert float(out.split("accuracy: ")[1].split()[0]) >= 0.9

    code, out, err = run(capsys, "predict", model_path, test, "--out", tmp / "pred.csv")
    assert code == 0, err
    rows = read_rows(tmp / "pred.csv")
    truth = [r[2] for r in read_rows(test)[1:]]
    assert rows[0] == ["prediction", "probability"] and len(rows) == 31
    assert np.mean([r[0] == t for r, t in zip(rows[1:], truth)]) >= 0.9

    code, out, _ = run(capsys, "summary", model_path)
    assert code == 0 and "dense_2 (Dense)" in out and "(None, 3)" in out and "species" in out


def test_regression_round_trip_in_original_units(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    y = 5000 + 1000 * (X @ [1.0, -2.0, 0.5]) + rng.normal(0, 50, 300)
    rows = [[*map(str, x), str(t)] for x, t in zip(X, y)]
    data = write_csv(tmp_path / "house.csv", ["a", "b", "c", "price"], rows)
    code, out, err = run(
        capsys,
        "train",
        data,
        "--target",
        "price",
        "--epochs",
        "60",
        "--learning-rate",
        "0.01",
        "--out",
        tmp_path / "m.nnet",
        "--quiet",
    )
    assert code == 0, err and "regression" in out
    code, out, err = run(capsys, "evaluate", tmp_path / "m.nnet", data)
    assert code == 0, err
    assert float(out.split("r2: ")[1].split()[0]) > 0.98
    code, out, err = run(capsys, "predict", tmp_path / "m.nnet", data)
    preds = np.array([float(v) for v in out.split()[1:]])
    assert abs(np.mean(preds) - np.mean(y)) < 100  # de-standardised back to prices


def test_demo_runs_and_reports_test_accuracy(capsys):
    code, out, _ = run(capsys, "demo", "--epochs", "15")
    assert code == 0
    assert float(out.split("test accuracy: ")[1].split("%")[0]) >= 95.0


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "{tmp}/nope.csv", "--target", "y", "--out", "{tmp}/m"], "no such file"),
        (["train", "{train}", "--target", "colour", "--out", "{tmp}/m"], "no column named 'colour'"),
        (["train", "{bad}", "--target", "species", "--out", "{tmp}/m"], "line 3, column 'petal' holds 'tall'"),
        (["train", "{ragged}", "--target", "species", "--out", "{tmp}/m"], "line 2: 2 values but the header names 3"),
        (["train", "{train}", "--target", "species", "--hidden", "16,x", "--out", "{tmp}/m"], "--hidden takes"),
        (["evaluate", "{tmp}/nope.nnet", "{train}"], "no model file"),
        (["evaluate", "{garbage}", "{train}"], "not a valid model file"),
        (["evaluate", "{model}", "{fewer}"], "lacks the feature column(s) ['weight']"),
        (["predict", "{model}", "{fewer}"], "expects 2 features"),
        (["evaluate", "{model}", "{newlabel}"], "labels ['daisy'] were not seen in training"),
    ],
)
def test_errors_are_one_clear_line(flowers, capsys, args, message):
    train, _, tmp = flowers
    names = {
        "tmp": tmp,
        "train": train,
        "bad": write_csv(tmp / "bad.csv", ["petal", "weight", "species"], [["1", "2", "a"], ["tall", "2", "b"]]),
        "ragged": write_csv(tmp / "ragged.csv", ["petal", "weight", "species"], [["1", "2"]]),
        "garbage": tmp / "garbage.nnet",
        "model": tmp / "model.nnet",
        "fewer": write_csv(tmp / "fewer.csv", ["petal", "species"], [["1", "setosa"]]),
        "newlabel": write_csv(tmp / "new.csv", ["petal", "weight", "species"], [["1", "2", "daisy"]]),
    }
    (tmp / "garbage.nnet").write_bytes(b"\x00" * 100)
    assert (
        main(["train", str(train), "--target", "species", "--epochs", "1", "--out", str(tmp / "model.nnet"), "--quiet"])
        == 0
    )
    capsys.readouterr()
    code, out, err = run(capsys, *[a.format(**names) for a in args])
    assert code == 1
    assert err.startswith("neuronet: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_console_script_is_installed():
    result = subprocess.run([sys.executable, "-m", "neuronet", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("neuronet ")


def test_plot_flags_write_training_curves(flowers, capsys):
    pytest.importorskip("matplotlib")
    train, _, tmp = flowers
    code, out, err = run(
        capsys, "train", train, "--target", "species", "--epochs", "3", "--out", tmp / "f.nnet", "--quiet", "--plot"
    )
    assert code == 0, err
    assert (tmp / "f_curves.png").read_bytes()[:4] == b"\x89PNG"
    code, out, err = run(capsys, "demo", "--epochs", "2", "--plot", tmp / "demo.png")
    assert code == 0 and (tmp / "demo.png").stat().st_size > 1000
    assert "macro avg" in out  # the demo reports precision, recall and F1 per class


def test_cnn_demo_reports_precision_recall_f1(capsys):
    code, out, _ = run(capsys, "demo", "cnn", "--epochs", "20")
    assert code == 0
    assert float(out.split("test accuracy: ")[1].split("%")[0]) >= 97.0
    assert "macro-averaged precision" in out and "recall" in out and "F1" in out
    assert "conv2d (Conv2D)" in out and "(None, 8, 8, 16)" in out  # the summary shows the shapes flow


def test_text_demo_then_predict_text(tmp_path, capsys):
    model = tmp_path / "sentiment.nnet"
    code, out, _ = run(capsys, "demo", "text", "--epochs", "10", "--out", model)
    assert code == 0 and model.exists()
    assert float(out.split("test accuracy: ")[1].split("%")[0]) >= 95.0
    code, out, err = run(capsys, "predict-text", model, "the plot was good , not bad", "the plot was bad , not good")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].split()[0] == "positive" and lines[1].split()[0] == "negative"


def test_predict_text_refuses_a_tabular_model(flowers, capsys):
    train, _, tmp = flowers
    assert (
        main(["train", str(train), "--target", "species", "--epochs", "1", "--out", str(tmp / "t.nnet"), "--quiet"])
        == 0
    )
    code, _, err = run(capsys, "predict-text", tmp / "t.nnet", "hello")
    assert code == 1 and "is not a text model" in err


def test_plot_without_matplotlib_fails_before_training(flowers, capsys, no_matplotlib):
    train, _, tmp = flowers
    code, out, err = run(capsys, "train", train, "--target", "species", "--out", tmp / "m.nnet", "--plot", "--quiet")
    assert code == 1 and 'pip install "neuronet[plot]"' in err
    assert not (tmp / "m.nnet").exists() and "training on" not in out
