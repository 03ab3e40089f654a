"""The command line on awkward tables (issue 20): numeric labels, spellings that are not numbers, huge
values, pandas index columns, many classes, text feature columns one-hot, and errors that say what to do."""

import csv
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

import neuronet as nn
from neuronet.cli import main


def write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def error(capsys, *args, code=1):
    got, out, err = run(capsys, *args)
    assert got == code, (out, err)
    assert err.count("\n") == 1 and err.startswith("neuronet") and ": error: " in err and "Traceback" not in err
    return err


def train(capsys, data, target, *extra, out=None):
    out = out or os.path.join(os.path.dirname(data), "m.nnet")
    return run(capsys, "train", data, "--target", target, "--out", out, "--quiet", "--epochs", "2", *extra)


def separable(n=60, seed=0, labels=("a", "b")):
    """Two features, the first of which tells the classes apart."""
    rng = np.random.default_rng(seed)
    return [[f"{3 * (i % 2) + rng.normal(0, 0.3):.3f}", f"{rng.normal():.3f}", labels[i % 2]] for i in range(n)]


# -- item 3: numeric labels are numbers ----------------------------------------------------------------
@pytest.mark.parametrize("spellings", [("2", "2.0"), ("0", "-0"), ("1", "+1"), ("01", "1"), ("1e0", "1")])
def test_spellings_of_one_number_are_one_class_named_canonically(tmp_path, capsys, spellings):
    rows = separable()
    for i, row in enumerate(rows):  # class 0: the number 5; class 1: the given spellings, alternating
        row[2] = "5" if i % 2 == 0 else spellings[(i // 2) % 2]
    data = write(tmp_path / "d.csv", ["x", "z", "y"], rows)
    code, out, err = train(capsys, data, "y")
    assert code == 0, err
    assert "classification into 2 classes" in out
    canonical = str(int(float(spellings[0])))
    assert nn.load_model(tmp_path / "m.nnet").metadata["classes"] == sorted([canonical, "5"], key=float)
    code, out, err = run(capsys, "predict", tmp_path / "m.nnet", data)
    assert code == 0 and {line.split(",")[0] for line in out.splitlines()[1:]} <= {canonical, "5"}


def test_a_model_trained_on_4_and_6_evaluates_a_file_spelling_them_4_0_and_6_0(tmp_path, capsys):
    rows = separable(labels=("4", "6"))
    data = write(tmp_path / "d.csv", ["x", "z", "y"], rows)
    assert train(capsys, data, "y", "--epochs", "30")[0] == 0
    spelt = write(tmp_path / "e.csv", ["x", "z", "y"], [[a, b, {"4": "4.0", "6": "+6.00"}[y]] for a, b, y in rows])
    code, out, err = run(capsys, "evaluate", tmp_path / "m.nnet", spelt)
    assert code == 0, err
    assert float(out.split("accuracy: ")[1].split()[0]) > 0.9


def test_an_old_model_with_classes_spelt_as_in_its_file_still_evaluates(tmp_path, capsys):
    """Models from earlier versions saved the labels as the file spelt them ('4.0', '06')."""
    rows = separable(labels=("4", "6"))
    data = write(tmp_path / "d.csv", ["x", "z", "y"], rows)
    assert train(capsys, data, "y", "--epochs", "30")[0] == 0
    old = nn.load_model(tmp_path / "m.nnet")
    old.metadata["classes"] = ["4.0", "06"]
    old.save(tmp_path / "old.nnet")
    for labels in (("4", "6"), ("4.0", "06"), ("04", "6e0")):
        spelt = write(tmp_path / "e.csv", ["x", "z", "y"], [[a, b, dict(zip("46", labels))[y]] for a, b, y in rows])
        code, out, err = run(capsys, "evaluate", tmp_path / "old.nnet", spelt)
        assert code == 0, err
        assert float(out.split("accuracy: ")[1].split()[0]) > 0.9
    err = error(capsys, "evaluate", tmp_path / "old.nnet", write(tmp_path / "n.csv", ["x", "z", "y"], [[1, 2, "5"]]))
    assert "labels ['5'] were not seen in training (line 2; known: ['4.0', '06'])" in err


# -- item 4: what no spreadsheet reads as a number is not one ---------------------------------------------
@pytest.mark.parametrize(
    "cell, words",
    [("1_000", "digits grouped with '_'"), ("١٢", "digits other than ASCII 0-9"), ("１２", "digits other than ASCII"),
     ("1e999", "beyond the largest number float64 holds")],
)  # fmt: skip
def test_a_feature_spelt_as_no_spreadsheet_reads_is_refused_naming_its_cell(tmp_path, capsys, cell, words):
    rows = separable()
    rows[4][1] = cell
    data = write(tmp_path / "d.csv", ["x", "z", "y"], rows)
    err = error(capsys, *("train", data, "--target", "y", "--out", tmp_path / "m.nnet"))
    assert f"line 6, column 'z' holds {cell!r}, {words}" in err and "correct the cell(s) or delete the row(s)" in err
    assert not (tmp_path / "m.nnet").exists()


def test_a_nul_byte_in_a_label_is_refused(tmp_path, capsys):
    rows = separable()
    rows[2][2] = "a\x00"
    data = write(tmp_path / "d.csv", ["x", "z", "y"], rows)
    err = error(capsys, *("train", data, "--target", "y", "--out", tmp_path / "m.nnet"))
    assert "line 4, column 'y' holds 'a\\x00', with a control character: remove it" in err


# -- item 5: huge features -------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1e300, 1.7e307])
def test_huge_features_train_as_small_ones_with_no_warning(tmp_path, capsys, scale):
    """The features near 1e300 (and 1.7e308 at the extremes) tell the classes apart: the model learns them."""
    rows = [[f"{float(a) * scale:.6e}", b, y] for a, b, y in separable()]
    rows[0][0] = "1.7e308" if scale > 1e300 else rows[0][0]
    data = write(tmp_path / "d.csv", ["x", "z", "y"], rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NumPy warning (overflow in the scaler) fails the run
        code, out, err = train(capsys, data, "y", "--epochs", "40", "--learning-rate", "0.01")
    assert code == 0 and err == "", err
    scaler = nn.load_model(tmp_path / "m.nnet").metadata["scaler"]
    assert np.isfinite(scaler["std"]).all() and scaler["std"][0] > scale
    assert float(out.split("validation: accuracy ")[1].split(",")[0]) > 0.9


# -- item 6: a pandas index column -------------------------------------------------------------------------
def test_a_pandas_index_column_is_left_out_and_said(tmp_path, capsys):
    rows = separable()
    data = write(tmp_path / "d.csv", ["", "x", "z", "y"], [[i, *r] for i, r in enumerate(rows)])
    code, out, err = train(capsys, data, "y")
    assert code == 0, err
    assert "left out the first column: it has no name and holds distinct whole numbers" in out
    assert "2 features" in out and nn.load_model(tmp_path / "m.nnet").metadata["features"] == ["x", "z"]
    code, out, err = train(capsys, data, "y", "--drop", "")
    assert code == 0, err
    assert "left out the first column" not in out and nn.load_model(tmp_path / "m.nnet").metadata["features"] == [
        "x",
        "z",
    ]
    code, out, err = train(capsys, data, "y", "--features", ",x")
    assert code == 0 and nn.load_model(tmp_path / "m.nnet").metadata["features"] == ["", "x"]
    code, out, err = run(capsys, "predict", tmp_path / "m.nnet", data, "--keep", "")
    assert code == 0 and out.splitlines()[1].startswith("0,")


def test_an_unnamed_column_that_is_no_index_stays_a_feature(tmp_path, capsys):
    rows = separable()
    data = write(tmp_path / "d.csv", ["", "x", "y"], [[r[1], r[0], r[2]] for r in rows])
    code, out, err = train(capsys, data, "y")
    assert code == 0 and "left out" not in out
    assert nn.load_model(tmp_path / "m.nnet").metadata["features"] == ["", "x"]


# -- item 12: a class per row --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "labels, per_class, advice",
    [("c{i}", 1, "is it an id or free text?"), ("{i}", 1, "--task regression"), ("c{i}", 2, "id or free text")],
)
def test_a_target_with_too_few_rows_per_class_is_refused_before_training(tmp_path, capsys, labels, per_class, advice):
    """A class per row (or two: at --validation-split 0.2 neither row is validated on) is no classification."""
    rows = [[f"{i * 0.1:.1f}", labels.format(i=i // per_class)] for i in range(40)]
    data = write(tmp_path / "d.csv", ["x", "y"], rows)
    err = error(capsys, "train", data, "--target", "y", "--task", "classification", "--out", tmp_path / "m.nnet")
    assert f"the target 'y' has {40 // per_class} classes in 40 rows, fewer than 3 rows per class" in err
    assert advice in err and not (tmp_path / "m.nnet").exists()


def test_evaluate_leaves_out_the_class_by_class_tables_for_many_classes(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rows = [[f"{i % 60 + rng.normal(0, 0.1):.3f}", f"k{i % 60}"] for i in range(180)]
    data = write(tmp_path / "d.csv", ["x", "y"], rows)
    assert train(capsys, data, "y")[0] == 0
    code, out, err = run(capsys, "evaluate", tmp_path / "m.nnet", data)
    assert code == 0, err
    assert "accuracy: " in out and "macro avg" not in out and "(rows: true class" not in out
    assert "per-class report and confusion matrix are shown for up to 50 classes" in out


# -- unclear errors made clear ---------------------------------------------------------------------------------
def test_predict_and_evaluate_drop_rows_with_missing_values_when_asked(tmp_path, capsys):
    rows = separable()
    data = write(tmp_path / "d.csv", ["x", "z", "y"], rows)
    assert train(capsys, data, "y", "--epochs", "30")[0] == 0
    rows[3][1], rows[7][0] = "", "NA"
    gaps = write(tmp_path / "g.csv", ["id", "x", "z", "y"], [[f"r{i}", *r] for i, r in enumerate(rows)])
    for command in ("predict", "evaluate"):
        err = error(capsys, command, tmp_path / "m.nnet", gaps)
        assert "2 row(s) miss feature values (lines 5, 9)" in err and "--drop-missing" in err
    code, out, err = run(capsys, "predict", tmp_path / "m.nnet", gaps, "--drop-missing", "--keep", "id")
    assert code == 0 and "dropped 2 row(s) with missing values (lines 5, 9); they get no prediction" in err
    lines = list(csv.reader(out.splitlines()))
    assert [r[0] for r in lines[1:]] == [f"r{i}" for i in range(60) if i not in (3, 7)]
    assert [r[1] for r in lines[1:]] == [r[2] for i, r in enumerate(rows) if i not in (3, 7)]  # ids line up
    code, out, err = run(capsys, "predict", tmp_path / "m.nnet", gaps, "--drop-missing")
    assert code == 0 and "--keep ID copies an id column" in err and len(out.splitlines()) == 59
    code, out, err = run(capsys, "evaluate", tmp_path / "m.nnet", gaps, "--drop-missing")
    assert code == 0 and "dropped 2 row(s)" in out and "58 rows" in out


def test_regression_on_a_text_target_says_regression_needs_numbers(tmp_path, capsys):
    data = write(tmp_path / "d.csv", ["x", "z", "y"], separable())
    err = error(capsys, "train", data, "--target", "y", "--task", "regression", "--out", tmp_path / "m.nnet")
    assert "the target 'y' holds text ('a' on line 2), and regression predicts numbers" in err
    assert "--task classification" in err and "--drop" not in err


def test_a_validation_split_that_leaves_nothing_to_train_on_is_said_in_flag_terms(tmp_path, capsys):
    data = write(tmp_path / "d.csv", ["x", "z", "y"], separable(30))
    err = error(capsys, *("train", data, "--target", "y", "--validation-split", "0.99", "--out", tmp_path / "m.nnet"))
    assert "--validation-split 0.99 leaves none of the 30 rows to train on: lower it" in err and "val_size" not in err


def test_every_text_column_is_reported_at_once_and_before_missing_values(tmp_path, capsys):
    rows = [[r[0], "red" if i % 3 else "blue", "S" if i % 2 else "M", r[2]] for i, r in enumerate(separable())]
    rows[5][0] = ""  # a missing value, which is not the problem that stops --no-one-hot
    data = write(tmp_path / "d.csv", ["x", "colour", "size", "y"], rows)
    err = error(capsys, "train", data, "--target", "y", "--no-one-hot", "--out", tmp_path / "m.nnet")
    assert "column(s) 'colour' ('blue' on line 2), 'size' ('M' on line 2) hold text" in err
    assert "--drop colour,size" in err and "missing" not in err
    names = [[f"n{i}", f"id{i}", *r] for i, r in enumerate(separable())]
    data = write(tmp_path / "n.csv", ["name", "code", "x", "z", "y"], names)
    err = error(capsys, "train", data, "--target", "y", "--out", tmp_path / "m.nnet")
    assert "column 'name' holds 60 different texts" in err and "column 'code' holds 60 different texts" in err


def test_decimal_commas_are_named_as_such(tmp_path, capsys):
    rows = [[a.replace(".", ","), b.replace(".", ","), y] for a, b, y in separable()]
    data = tmp_path / "d.csv"
    data.write_text("x;z;y\n" + "\n".join(";".join(r) for r in rows) + "\n")
    err = error(capsys, "train", data, "--target", "y", "--out", tmp_path / "m.nnet")
    assert "decimal commas: column(s) ['x', 'z'] hold numbers written with a comma" in err
    assert "120 cells in all" in err and "--drop" not in err


def test_one_infinite_cell_names_its_row_not_the_column(tmp_path, capsys):
    rows = separable()
    rows[10][0] = "inf"
    data = write(tmp_path / "d.csv", ["x", "z", "y"], rows)
    err = error(capsys, "train", data, "--target", "y", "--out", tmp_path / "m.nnet")
    assert "line 12, column 'x' holds 'inf', an infinite value: correct the cell(s) or delete the row(s)" in err
    assert "--drop" not in err


# -- text feature columns, one-hot -------------------------------------------------------------------------------
def shop(n, seed, colours=("red", "green", "blue")):
    """Prices that depend on a number and on a colour: the colour adds 0, 50 or 100."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        size, colour = rng.uniform(1, 10), colours[i % len(colours)]
        price = 10 * size + 50 * ("red", "green", "blue").index(colour) + rng.normal(0, 1)
        rows.append([f"{size:.3f}", colour, f"{price:.2f}"])
    return rows


def test_text_features_are_encoded_one_hot_and_their_categories_saved(tmp_path, capsys):
    data = write(tmp_path / "d.csv", ["size", "colour", "price"], shop(150, 0))
    code, out, err = train(capsys, data, "price", "--epochs", "200", "--learning-rate", "0.01")
    assert code == 0, err
    assert "text features, encoded as one 0/1 input per value: 'colour' (3); 4 inputs in all" in out
    model = nn.load_model(tmp_path / "m.nnet")
    assert model.metadata["categories"] == {"colour": ["blue", "green", "red"]}
    assert model.metadata["scaler"]["mean"][1:] == [0.0, 0.0, 0.0] and model.metadata["scaler"]["std"][1:] == [1.0] * 3
    test = write(tmp_path / "t.csv", ["size", "colour", "price"], shop(60, 1))
    code, out, err = run(capsys, "evaluate", tmp_path / "m.nnet", test)
    assert code == 0 and float(out.split("r2: ")[1].split()[0]) > 0.95, out + err
    code, out, err = run(capsys, "predict", tmp_path / "m.nnet", test)
    truth = [float(r[2]) for r in shop(60, 1)]
    assert code == 0 and np.abs(np.array(out.split()[1:], float) - truth).mean() < 10
    code, out, err = run(capsys, "summary", tmp_path / "m.nnet")
    assert "categories: {'colour': ['blue', 'green', 'red']}" in out


def test_one_hot_beats_leaving_the_text_column_out(tmp_path, capsys):
    data = write(tmp_path / "d.csv", ["size", "colour", "price"], shop(150, 0))
    test = write(tmp_path / "t.csv", ["size", "colour", "price"], shop(60, 1))
    scores = {}
    for name, extra in (("one-hot", []), ("dropped", ["--drop", "colour"])):
        assert train(capsys, data, "price", "--epochs", "200", "--learning-rate", "0.01", *extra)[0] == 0
        out = run(capsys, "evaluate", tmp_path / "m.nnet", test)[1]
        scores[name] = float(out.split("r2: ")[1].split()[0])
    assert scores["one-hot"] > 0.95 and scores["dropped"] < 0.6, scores


def test_a_category_not_seen_in_training_names_column_row_and_the_known_ones(tmp_path, capsys):
    data = write(tmp_path / "d.csv", ["size", "colour", "price"], shop(60, 0))
    assert train(capsys, data, "price")[0] == 0
    rows = shop(10, 1)
    rows[4][1] = "purple"
    test = write(tmp_path / "t.csv", ["size", "colour", "price"], rows)
    for command in ("predict", "evaluate"):
        err = error(capsys, command, tmp_path / "m.nnet", test)
        assert "line 6, column 'colour' holds 'purple', a value the model never saw in training" in err
        assert "it knows 'blue', 'green', 'red'" in err


@pytest.mark.parametrize(
    "categories",
    [None, "red", {"colour": "red"}, {"colour": []}, {"colour": ["red", "red", "blue"]}, {"shade": ["a"]},
     {"colour": ["a", "b"]}, {"colour": ["a\x00", "b", "c"]}],
)  # fmt: skip
def test_damaged_categories_in_a_model_file_are_one_line(tmp_path, capsys, categories):
    data = write(tmp_path / "d.csv", ["size", "colour", "price"], shop(60, 0))
    assert train(capsys, data, "price")[0] == 0
    model = nn.load_model(tmp_path / "m.nnet")
    model.metadata["categories"] = categories
    model.save(tmp_path / "bad.nnet")
    for command in ("predict", "evaluate"):
        err = error(capsys, command, tmp_path / "bad.nnet", data)
        assert "'categories'" in err or "'scaler'" in err
        assert "retrain it" in err


# -- demos and --out -------------------------------------------------------------------------------------------------
def test_the_forecast_demos_plot_is_demo_forecast_png(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "demo", "forecast", "--epochs", "1", "--plot")
    assert code == 0, err
    assert sorted(os.listdir(tmp_path)) == ["demo_forecast.png"] and "written to demo_forecast.png" in out


@pytest.mark.parametrize("out", ["a.onnx", "m.keras", "w.pt"])
def test_a_foreign_model_extension_is_refused_before_training(tmp_path, capsys, out):
    data = write(tmp_path / "d.csv", ["x", "z", "y"], separable())
    for argv in (["train", data, "--target", "y"], ["demo"]):
        got, stdout, err = run(capsys, *argv, "--out", tmp_path / out)
        assert got == 1 and stdout == "" and err.count("\n") == 1
        assert f"--out '{tmp_path / out}' ends in {os.path.splitext(out)[1]}" in err
        assert not (tmp_path / out).exists()


def test_the_gan_demos_time_is_stated_in_help_and_readme(capsys):
    """Both say the same: the time on an idle machine (api.md gives the measurements) and what stretches it."""
    stated = "about half a minute on an idle 2-core machine, several times longer when other work shares"
    assert main(["demo", "--help"]) == 0
    assert stated in " ".join(capsys.readouterr().out.split())
    readme = Path(__file__).parent.parent.joinpath("README.md").read_text(encoding="utf-8")
    assert stated in " ".join(readme.split())


def test_predict_names_every_cell_that_is_no_number_and_offers_no_drop(tmp_path, capsys):
    data = write(tmp_path / "d.csv", ["x", "z", "y"], separable())
    assert train(capsys, data, "y")[0] == 0
    rows = separable(10)
    rows[2][0], rows[6][1], rows[8][1] = "tall", "", "１２"
    bad = write(tmp_path / "b.csv", ["x", "z", "y"], rows)
    for command in ("predict", "evaluate"):
        err = error(capsys, command, tmp_path / "m.nnet", bad)
        assert "line 4, column 'x' holds 'tall', which is not a number" in err
        assert "line 10, column 'z' holds '１２', digits other than ASCII 0-9" in err
        assert "--drop" not in err and "missing" not in err  # the column is the model's; the gap comes next


def test_a_model_with_text_features_exports_taking_one_column_per_category(tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    rows = shop(60, 0)
    data = write(tmp_path / "d.csv", ["size", "colour", "price"], rows)
    assert train(capsys, data, "price")[0] == 0
    code, out, err = run(capsys, "export", tmp_path / "m.nnet", tmp_path / "m.onnx")
    assert code == 0, err
    assert "input the 4 columns ['size', 'colour=blue', 'colour=green', 'colour=red']" in out
    x = np.array([[float(r[0]), *(float(r[1] == c) for c in ("blue", "green", "red"))] for r in rows], np.float32)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    code, out, err = run(capsys, "predict", tmp_path / "m.nnet", data)
    predicted = np.array(out.split()[1:], float)
    np.testing.assert_allclose(session.run(None, {"input": x})[0][:, 0], predicted, rtol=1e-4)


# -- the saved table settings (issue 21): one object, the file's keys as before ------------------------------
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_table_settings_keep_the_model_files_keys_and_read_back_whole(tmp_path, capsys, task):
    from neuronet.cli.table_settings import TableSettings

    rng = np.random.default_rng(0)
    targets = ["a", "b"] if task == "classification" else ["1.5", "2.5"]
    rows = [[f"{rng.normal():.3f}", ["red", "green"][i % 2], targets[i % 2]] for i in range(60)]
    data = write(tmp_path / "d.csv", ["x", "colour", "y"], rows)
    assert train(capsys, data, "y", "--task", task)[0] == 0
    model = nn.load_model(tmp_path / "m.nnet")
    last = "classes" if task == "classification" else "target_scaler"
    # the keys a model file from before the settings were one object holds, in the same order
    assert list(model.metadata) == ["task", "target", "features", "scaler", "categories", last]
    assert model.metadata["categories"] == {"colour": ["green", "red"]}
    settings = TableSettings.from_model(model, "m.nnet")
    assert settings.task == task and settings.features == ["x", "colour"]
    assert settings.to_metadata() == model.metadata
