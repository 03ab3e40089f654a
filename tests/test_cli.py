"""The command line: happy paths end to end, and one clear line for each mistake."""

import csv
import os
import subprocess
import sys
import warnings

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
    species = np.array([r[2] for r in read_rows(train)[1:]])
    (train_rows, _), (val_rows, _), _ = nn.data.train_val_test_split(
        np.arange(150), species, val_size=0.2, test_size=0.0, stratify=True, seed=0
    )
    assert len(train_rows) + len(val_rows) == 150 and "(stratified by class)" in out
    for name in meta["classes"]:  # each class in the same proportion in both parts
        assert np.mean(species[val_rows] == name) == pytest.approx(np.mean(species == name), abs=0.02)
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
    assert code == 0, err
    assert "(regression)" in out
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
        (["train", "{train}", "--target", "colour", "--out", "{tmp}/m"], "has no column(s) ['colour']"),
        (["train", "{bad}", "--target", "species", "--out", "{tmp}/m"], "line 3, column 'petal' holds 'tall'"),
        (["train", "{ragged}", "--target", "species", "--out", "{tmp}/m"], "line 2: 2 values but the header names 3"),
        (["train", "{train}", "--target", "species", "--hidden", "16,x", "--out", "{tmp}/m"], "--hidden: takes"),
        (["evaluate", "{tmp}/nope.nnet", "{train}"], "no model file"),
        (["evaluate", "{garbage}", "{train}"], "not a neuronet model file"),
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
    assert code == (2 if "argument" in err else 1)  # 2: a mistake in the command line itself, as argparse
    assert err.startswith(("neuronet: error: ", "neuronet train: error: ")) and message in err
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


TEXT_NETWORKS = {"lstm": "lstm (LSTM)", "gru": "gru (GRU)", "transformer": "transformer_encoder (TransformerEncoder)"}


@pytest.mark.parametrize("kind", list(TEXT_NETWORKS))
def test_text_demo_with_a_sequence_network_then_predict_text(tmp_path, capsys, kind):
    model = tmp_path / f"{kind}.nnet"
    code, out, _ = run(capsys, "demo", "text", "--model", kind, "--epochs", "10", "--out", model)
    assert code == 0 and TEXT_NETWORKS[kind] in out and "trained in" in out
    assert float(out.split("test accuracy: ")[1].split("%")[0]) >= 95.0
    code, out, err = run(capsys, "predict-text", model, "the plot was good , not bad", "the plot was bad , not good")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].split()[0] == "positive" and lines[1].split()[0] == "negative"


def test_the_text_demo_without_out_says_how_to_save_before_trying_a_sentence(capsys):
    code, out, _ = run(capsys, "demo", "text", "--epochs", "1")
    assert code == 0 and "save the model (--out MODEL), then: neuronet predict-text MODEL" in out


def test_model_is_a_choice_of_the_text_demo_only(capsys):
    err = one_line_error(*run(capsys, "demo", "cnn", "--model", "lstm"), expected_code=2)
    assert "--model chooses the network of `demo text`" in err
    err = one_line_error(*run(capsys, "demo", "text", "--model", "rnn"), expected_code=2)
    assert "invalid choice" in err and "lstm" in err


def forecast_errors(out: str) -> dict[str, float]:
    """The MAE column of the forecast demo's table, by row."""
    table = out.split("RMSE\n")[1].splitlines()[:3]
    return {line[:34].strip(): float(line[34:].split()[0]) for line in table}


def test_forecast_demo_beats_persistence_by_a_wide_margin_and_draws_it(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    picture = tmp_path / "forecast.png"
    code, out, err = run(capsys, "demo", "forecast", "--plot", picture)
    assert code == 0, err
    errors = forecast_errors(out)
    assert set(errors) == {"LSTM", "persistence (last month)", "seasonal naive (a year before)"}
    assert errors["LSTM"] < 0.5 * errors["persistence (last month)"]
    assert errors["LSTM"] < 0.5 * errors["seasonal naive (a year before)"]
    assert picture.stat().st_size > 10_000 and "forecast against truth written to" in out


def test_gan_demo_draws_all_ten_digits_recognisably(tmp_path, capsys, monkeypatch):
    """The issue's figure: a judge trained on real digits finds all ten among the samples (each >= 3%) and
    is confident of them (>= 0.8), seeded; the grid is drawn and the GAN saved whole."""
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "demo", "gan", "--out", "gan.nnet")
    assert code == 0, err
    last = out.split("digits that appear: ")[1]
    classes, confidence = int(last.split("/")[0]), float(last.split("mean confidence: ")[1].split()[0])
    assert classes == 10 and confidence >= 0.8
    assert (tmp_path / "demo_gan.png").stat().st_size > 10_000
    gan = nn.load_gan("gan.nnet")
    assert gan.sample(5).shape == (5, 64)


def test_gan_demo_plot_writes_the_losses_and_a_grid_every_25_epochs(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "demo", "gan", "--epochs", "30", "--plot", "losses.png")
    assert code == 0, err
    assert sorted(os.listdir(tmp_path)) == [
        "demo_gan.png",
        "demo_gan_epoch025.png",
        "demo_gan_epoch030.png",
        "losses.png",
    ]
    assert "epoch 25/30: d_loss" in out and "epoch 30/30" in out


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


# -- the hardening of issue 9 ---------------------------------------------------------------------
def one_line_error(code, out, err, expected_code=1):
    assert code == expected_code, err
    assert err.count("\n") == 1 and "Traceback" not in err and ": error: " in err
    return err


def train(capsys, data, *extra, out=None, target="species"):
    out = out or os.path.join(os.path.dirname(data), "m.nnet")
    return run(capsys, "train", data, "--target", target, "--out", out, "--quiet", *extra)


def test_a_missing_target_cell_is_an_error_naming_its_line(tmp_path, capsys):
    rows = [[f"{i}", f"{i * 2}", f"{i * 3.5}"] for i in range(40)]
    rows[6][2] = ""
    data = write_csv(tmp_path / "d.csv", ["a", "b", "price"], rows)
    err = one_line_error(*train(capsys, data, target="price"))
    assert "the target 'price' is missing on line 8" in err and "--drop-missing" in err
    assert not (tmp_path / "m.nnet").exists()
    code, out, err = train(capsys, data, "--drop-missing", "--epochs", "2", target="price")
    assert code == 0, err
    assert "dropped 1 row(s) with missing values (line 8)" in out and "(regression)" in out


def test_na_in_a_class_column_is_missing_not_a_fourth_class(flowers, capsys):
    train_csv, _, tmp = flowers
    rows = read_rows(train_csv)
    rows[3][2], rows[9][2] = "NA", "n/a"
    data = write_csv(tmp / "na.csv", rows[0], rows[1:])
    err = one_line_error(*train(capsys, data))
    assert "the target 'species' is missing on lines 4, 10" in err
    code, out, err = train(capsys, data, "--drop-missing", "--epochs", "2")
    assert code == 0 and "classification into 3 classes" in out


def test_a_missing_feature_value_is_named_too(flowers, capsys):
    train_csv, _, tmp = flowers
    rows = read_rows(train_csv)
    rows[5][0] = "?"
    data = write_csv(tmp / "gap.csv", rows[0], rows[1:])
    err = one_line_error(*train(capsys, data))
    assert "1 row(s) miss feature values (line 6)" in err


def test_a_file_without_a_header_row_is_said_to_have_none(tmp_path, capsys):
    rows = [[f"{i % 3}", f"{i}", f"{i % 2}"] for i in range(30)]  # the target named as one of its values
    data = tmp_path / "raw.csv"
    data.write_text("\n".join(",".join(r) for r in rows) + "\n")
    err = one_line_error(*train(capsys, data, target="1"))
    assert "holds only numbers, so the file has no header row" in err


def test_a_file_whose_first_data_row_holds_text_is_asked_about_its_header(tmp_path, capsys):
    rows = [[["blue", "red"][i % 2], f"{i / 7:.3f}", f"{i % 2}"] for i in range(30)]
    data = tmp_path / "raw.csv"
    data.write_text("\n".join(",".join(r) for r in rows) + "\n")
    err = one_line_error(*train(capsys, data, target="label"))
    assert "has no column(s) ['label']" in err and "names such as '0.000' are numbers" in err
    assert "does the file lack its header row?" in err


def test_an_unknown_flag_points_to_the_commands_own_help(flowers, capsys):
    train_csv, _, _ = flowers
    code, out, err = train(capsys, train_csv, "--lr", "1000")
    one_line_error(code, out, err, expected_code=2)
    assert "unrecognized arguments: --lr 1000 (see neuronet train --help)" in err


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--epochs", "0", "argument --epochs: must be 1 or more, got 0"),
        ("--hidden", "", "argument --hidden: takes layer sizes"),
        ("--validation-split", "-0.5", r"argument --validation-split: must be in [0, 1), got -0.5"),
        ("--learning-rate", "nan", "argument --learning-rate: must be a finite number, got nan"),
        ("--learning-rate", "0", "argument --learning-rate: must be > 0"),
        ("--batch-size", "2.5", "argument --batch-size: expected a whole number, got '2.5'"),
        ("--dropout", "1", "argument --dropout: must be in [0, 1)"),
        ("--optimizer", "lbfgs", "argument --optimizer: invalid choice"),
    ],
)
def test_invalid_values_are_refused_before_anything_runs(flowers, capsys, flag, value, message):
    train_csv, _, tmp = flowers
    code, out, err = train(capsys, train_csv, flag, value)
    one_line_error(code, out, err, expected_code=2)
    assert message in err and out == "" and not (tmp / "m.nnet").exists()


def test_a_diverging_run_writes_nothing_and_exits_non_zero(flowers, capsys):
    train_csv, _, tmp = flowers
    err = one_line_error(*train(capsys, train_csv, "--learning-rate", "1e6", "--optimizer", "sgd"))
    assert "training diverged" in err and "lower --learning-rate (it was 1e+06)" in err
    assert "nothing was saved" in err and not (tmp / "m.nnet").exists()


def test_a_diverging_regression_says_so_rather_than_a_metrics_complaint(tmp_path, capsys):
    """The CLI's regression metrics are functions: they met the NaN outputs before the loop could report."""
    rows = [[f"{i}", f"{i * 2}", f"{i * 3.5}"] for i in range(40)]
    data = write_csv(tmp_path / "d.csv", ["a", "b", "price"], rows)
    err = one_line_error(*train(capsys, data, "--learning-rate", "1e30", "--optimizer", "sgd", target="price"))
    assert "training diverged" in err and "nothing was saved" in err


def test_a_network_too_big_for_memory_is_refused_before_allocating(flowers, capsys):
    train_csv, _, _ = flowers
    err = one_line_error(*train(capsys, train_csv, "--hidden", "100000,100000"))
    assert "10,000" in err and "GiB" in err and "use smaller layers" in err


@pytest.mark.parametrize("out", ["{tmp}/nodir/m.nnet", "{tmp}"])
def test_an_unwritable_output_is_found_before_training(flowers, capsys, out):
    train_csv, _, tmp = flowers
    out = out.format(tmp=tmp)
    code, stdout, err = train(capsys, train_csv, out=out)
    one_line_error(code, stdout, err)
    assert out in err and ".tmp" not in err and "training on" not in stdout


def test_no_hidden_layer_only_when_asked(flowers, capsys):
    train_csv, _, tmp = flowers
    code, _, err = train(capsys, train_csv, "--hidden", "none", "--epochs", "2")
    assert code == 0, err
    assert [type(ly).__name__ for ly in nn.load_model(tmp / "m.nnet").layers] == ["Dense"]


def test_the_options_a_keras_user_reaches_for(flowers, capsys):
    train_csv, _, tmp = flowers
    code, out, err = train(
        capsys,
        train_csv,
        *("--optimizer", "sgd", "--activation", "tanh", "--dropout", "0.25", "--l2", "0.001"),
        *("--hidden", "8,4", "--epochs", "3", "--early-stopping", "1"),
    )
    assert code == 0, err
    model = nn.load_model(tmp / "m.nnet")
    assert [type(ly).__name__ for ly in model.layers] == ["Dense", "Dropout", "Dense", "Dropout", "Dense"]
    assert model.layers[0].activation.default_name == "tanh" and model.layers[1].rate == 0.25
    assert model.layers[0].weights.regularizer.l2 == pytest.approx(0.001)
    assert type(model.optimizer).__name__ == "SGD"


def test_early_stopping_keeps_the_epoch_the_plot_marks_best(flowers, capsys):
    train_csv, _, tmp = flowers
    code, out, err = run(
        capsys, "train", train_csv, "--target", "species", "--out", tmp / "m.nnet", "--epochs", "60",
        "--early-stopping", "3", "--learning-rate", "0.05",
    )  # fmt: skip
    assert code == 0, err
    val_loss = [float(line.split("val_loss: ")[1].split()[0]) for line in err.splitlines() if "val_loss" in line]
    kept, ran = out.split("kept the weights of epoch ")[1].split()[0::2][:2]
    assert val_loss[int(kept) - 1] == min(val_loss) and int(ran.rstrip(",")) == len(val_loss)  # (as printed)


def test_id_and_text_columns_are_left_out_with_drop_or_features(flowers, capsys):
    train_csv, _, tmp = flowers
    rows = read_rows(train_csv)
    data = write_csv(tmp / "ids.csv", ["id", "name", *rows[0]], [[str(i), f"n{i}", *r] for i, r in enumerate(rows[1:])])
    err = one_line_error(*train(capsys, data))
    assert "column 'name' holds 150 different texts in 150 rows, too many to be categories" in err
    assert "--drop name" in err  # a text column of a value per row is no category: an id, encoded one-hot by default
    err = one_line_error(*train(capsys, data, "--no-one-hot"))
    assert "column(s) 'name' ('n0' on line 2) hold text, and with --no-one-hot features must be numbers" in err
    for flags in (["--drop", "id,name"], ["--features", "petal,weight"], ["--drop", "id", "--drop", "name"]):
        code, out, err = train(capsys, data, *flags, "--epochs", "2")
        assert code == 0, err
        assert "2 features" in out and nn.load_model(tmp / "m.nnet").metadata["features"] == ["petal", "weight"]
    err = one_line_error(*train(capsys, data, "--drop", "colour"))
    assert "no column(s) ['colour']" in err


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_files_are_read_as_they_are(flowers, capsys, delimiter):
    train_csv, _, tmp = flowers
    rows = read_rows(train_csv)
    data = tmp / "other.csv"
    data.write_text("\n".join(delimiter.join(r) for r in rows) + "\n")
    code, out, err = train(capsys, data, "--epochs", "2")
    assert code == 0 and "2 features" in out, err
    code, out, err = train(capsys, data, "--epochs", "2", "--delimiter", "tab" if delimiter == "\t" else ";")
    assert code == 0, err


def sklearn_table(tmp_path, name, seed):
    datasets = pytest.importorskip("sklearn.datasets")
    from sklearn.model_selection import train_test_split

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    Xt, Xs, yt, ys = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)
    header = [f"f{i}" for i in range(X.shape[1])] + ["target"]
    paths = []
    for part, (a, b) in (("train", (Xt, yt)), ("test", (Xs, ys))):
        paths.append(write_csv(tmp_path / f"{name}_{part}.csv", header, [[*map(str, r), str(t)] for r, t in zip(a, b)]))
    return paths, (Xt, yt, Xs, ys)


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer"])
def test_defaults_serve_small_tables_as_well_as_scikit_learns_mlp(tmp_path, capsys, name):
    """With no flags, within 2 points of MLPClassifier's defaults (mean test accuracy over 5 splits)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    ours, theirs = [], []
    for seed in range(5):
        (train_csv, test_csv), (Xt, yt, Xs, ys) = sklearn_table(tmp_path, name, seed)
        code, _, err = run(capsys, "train", train_csv, "--target", "target", "--out", tmp_path / "m.nnet", "--quiet")
        assert code == 0, err
        code, out, err = run(capsys, "evaluate", tmp_path / "m.nnet", test_csv)
        ours.append(float(out.split("accuracy: ")[1].split()[0]))
        scaler = StandardScaler().fit(Xt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = MLPClassifier(random_state=seed).fit(scaler.transform(Xt), yt)
        theirs.append(clf.score(scaler.transform(Xs), ys))
    assert np.mean(ours) >= np.mean(theirs) - 0.02, (ours, theirs)


def test_regression_logs_and_reports_in_the_targets_units(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    y = 5000 + 1000 * (X @ [1.0, -2.0, 0.5]) + rng.normal(0, 50, 300)
    data = write_csv(tmp_path / "house.csv", ["a", "b", "c", "price"], [[*map(str, x), str(t)] for x, t in zip(X, y)])
    code, out, err = run(capsys, "train", data, "--target", "price", "--out", tmp_path / "m.nnet", "--epochs", "3")
    assert code == 0, err
    assert "mae and rmse are in its units" in out
    first = next(line for line in err.splitlines() if line.startswith("Epoch 1/3 - "))
    logged = dict(part.split(": ") for part in first.split(" - ")[1:])
    assert float(logged["mae"]) > 100 and float(logged["val_rmse"]) > 100  # prices, not standardised values
    assert float(logged["loss"]) < 10  # the standardised loss training minimises
    code, out, err = run(capsys, "evaluate", tmp_path / "m.nnet", data)
    assert code == 0 and all(f"{k}: " in out for k in ("mse", "rmse", "mae", "r2"))


def test_predict_proba_and_keep(flowers, capsys):
    train_csv, test_csv, tmp = flowers
    assert train(capsys, train_csv, "--epochs", "5")[0] == 0
    rows = read_rows(test_csv)
    ids = write_csv(tmp / "ids.csv", ["id", *rows[0]], [[f"r{i}", *r] for i, r in enumerate(rows[1:])])
    code, out, err = run(capsys, "predict", tmp / "m.nnet", ids, "--proba", "--keep", "id")
    assert code == 0, err
    lines = list(csv.reader(out.splitlines()))
    assert lines[0] == ["id", "prediction", "setosa", "versicolor", "virginica"]
    assert [r[0] for r in lines[1:]] == [f"r{i}" for i in range(30)]
    for r in lines[1:]:
        probs = np.array(r[2:], float)
        assert probs.sum() == pytest.approx(1.0, abs=1e-5) and r[1] == lines[0][2 + probs.argmax()]
    one_line_error(*run(capsys, "predict", tmp / "m.nnet", ids, "--keep", "nope"))


def test_evaluate_prints_the_report_and_confusion_matrix(flowers, capsys):
    train_csv, test_csv, tmp = flowers
    assert train(capsys, train_csv, "--epochs", "5")[0] == 0
    code, out, err = run(capsys, "evaluate", tmp / "m.nnet", test_csv)
    assert code == 0, err
    assert "precision" in out and "macro avg" in out and "versicolor" in out and "confusion matrix" in out
    matrix = out.split("confusion matrix")[1].splitlines()[2:5]
    assert sum(int(v) for line in matrix for v in line.split()[1:]) == 30


def test_help_states_every_options_meaning_and_default(capsys):
    from neuronet.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, sub in commands.items():
        for action in sub._actions:
            if action.dest == "help":
                continue
            assert action.help, f"{name} {action.option_strings} has no help"
            takes_value = action.option_strings and action.nargs != 0 and not action.required
            if takes_value and action.default is not None:
                assert "default" in action.help, f"{name} {action.option_strings} does not say its default"


def test_optimizer_and_activation_choices_come_from_the_librarys_registries(flowers, capsys, monkeypatch):
    from neuronet.cli import build_parser
    from neuronet.layers import activations

    # a copy, so the classes defined here register into it and leave the library's registry as it was
    monkeypatch.setattr(nn.optimizers, "OPTIMIZERS", dict(nn.optimizers.OPTIMIZERS))
    nn.optimizers.OPTIMIZERS["Momentum"] = nn.optimizers.SGD  # as if the library named one more optimizer

    class Mine(nn.optimizers.SGD):  # a program's own optimizer registers too, but is not the command's to offer
        pass

    monkeypatch.setitem(activations.ACTIVATIONS, "swish", activations.ACTIVATIONS["sigmoid"])
    commands = build_parser()._subparsers._group_actions[0].choices
    offered = {action.dest: action.choices for action in commands["train"]._actions}
    assert "Mine" in nn.optimizers.OPTIMIZERS
    assert offered["optimizer"] == ["adagrad", "adam", "adamw", "momentum", "rmsprop", "sgd"]
    assert sorted(offered["activation"]) == [  # softmax: output only
        "elu", "gelu", "leaky_relu", "relu", "selu", "sigmoid", "silu", "softplus", "swish", "tanh"
    ]  # fmt: skip
    train_csv, _, _ = flowers
    assert train(capsys, train_csv, "--epochs", "1", "--optimizer", "momentum", "--activation", "swish")[0] == 0


def make_cli_model(flowers, capsys):
    train_csv, test_csv, tmp = flowers
    assert train(capsys, train_csv, "--epochs", "2")[0] == 0
    return nn.load_model(tmp / "m.nnet"), test_csv, tmp


@pytest.mark.parametrize("key", ["scaler", "task", "classes", "target", "features"])
@pytest.mark.parametrize("value", ["missing", None, 3])
def test_damaged_cli_settings_in_a_model_file_are_one_line(flowers, capsys, key, value):
    model, test_csv, tmp = make_cli_model(flowers, capsys)
    if value == "missing":
        del model.metadata[key]
    else:
        model.metadata[key] = value
    model.save(tmp / "bad.nnet")
    for command in (["evaluate"], ["predict"]):
        one_line_error(*run(capsys, *command, tmp / "bad.nnet", test_csv))
    assert run(capsys, "summary", tmp / "bad.nnet")[0] == 0  # summary shows whatever is there


def test_damaged_text_settings_and_regression_scaler(tmp_path, capsys):
    model_path = tmp_path / "s.nnet"
    assert run(capsys, "demo", "text", "--epochs", "1", "--out", model_path)[0] == 0
    for key in ("tokenizer", "maxlen", "classes"):
        model = nn.load_model(model_path)
        model.metadata[key] = None
        model.save(tmp_path / "bad.nnet")
        err = one_line_error(*run(capsys, "predict-text", tmp_path / "bad.nnet", "great film"))
        assert key in err


def test_summary_of_malformed_files_is_one_line(tmp_path, capsys):
    (tmp_path / "junk.nnet").write_bytes(b"\x00" * 64)
    one_line_error(*run(capsys, "summary", tmp_path / "junk.nnet"))
    one_line_error(*run(capsys, "summary", tmp_path / "absent.nnet"))


def test_predict_text_names_unknown_words_and_refuses_empty_text(tmp_path, capsys):
    model = tmp_path / "s.nnet"
    assert run(capsys, "demo", "text", "--epochs", "10", "--out", model)[0] == 0
    code, out, err = run(capsys, "predict-text", model, "great film", "I loved it", "i hated the xyzzy")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[0] == "positive" and lines[1].split()[0] == "positive"
    assert lines[2].split()[0] == "negative" and "read as unknown: 'xyzzy'" in lines[3]
    for empty in ("", "   "):
        err = one_line_error(*run(capsys, "predict-text", model, "good", empty))
        assert "sentence 2" in err and "no words" in err


@pytest.mark.parametrize("value", ["missing", None, {"mean": [1.0], "std": [0.0]}])
def test_a_damaged_target_scaler_in_a_regression_model_is_one_line(tmp_path, capsys, value):
    rows = [[str(i), str(i % 7), str(3.5 * i)] for i in range(40)]
    data = write_csv(tmp_path / "r.csv", ["a", "b", "price"], rows)
    assert train(capsys, data, "--epochs", "2", target="price")[0] == 0
    model = nn.load_model(tmp_path / "m.nnet")
    if value == "missing":
        del model.metadata["target_scaler"]
    else:
        model.metadata["target_scaler"] = value
    model.save(tmp_path / "bad.nnet")
    for command in ("evaluate", "predict"):
        err = one_line_error(*run(capsys, command, tmp_path / "bad.nnet", data))
        assert "'target_scaler'" in err and "retrain it" in err


def test_a_reader_that_goes_away_ends_the_output_quietly(flowers, capsys):
    """`neuronet predict ... | head -1`: no error line about a broken pipe."""
    train_csv, test_csv, tmp = flowers
    assert train(capsys, train_csv, "--epochs", "2")[0] == 0
    big = write_csv(tmp / "big.csv", read_rows(test_csv)[0], read_rows(test_csv)[1:] * 400)
    command = f"{sys.executable} -m neuronet predict {tmp / 'm.nnet'} {big} | head -1"
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120)
    assert result.stdout.startswith("prediction,probability") and result.stderr == ""
