"""`neuronet train` and `neuronet predict` read their CSV in chunks of rows, never whole (issue 25 item 1): the
same model and the same predictions as the table read whole gives, a memory that does not grow with the file's
cells, and an error deep in the file found before training starts (before anything is printed or written)."""

import csv
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import neuronet as nn
from neuronet import losses, optimizers
from neuronet.cli import encoded_table, main
from neuronet.cli.parser import build_parser
from neuronet.cli.table_settings import encode, sources
from neuronet.cli.train import build_model
from neuronet.data import StandardScaler, read_csv, train_val_test_split


def write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *rows])
    return str(path)


def mixed_table(n=300, seed=0):
    """Two numeric features (one in large units), a text feature, a few missing cells, three classes."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        a, b = rng.normal(), rng.normal(5000, 800)
        colour = ["red", "green", "blue"][rng.integers(3)]
        label = "x" if a > 0.5 else ("y" if colour == "red" else "z")
        rows.append([f"{a:.4f}", f"{b:.2f}", colour, label])
    for r in (17, 123, 250):  # rows --drop-missing leaves out
        rows[r][r % 3] = "NA"
    return rows


def reference_weights(path, args, classification):
    """The model the command trains, computed here from the table read whole: rows with a missing value left
    out, encoded, split, standardised with the training rows' statistics, fitted on arrays."""
    table = read_csv(path)
    features, target = args.features, args.target
    table = table.without_rows(table.missing_rows([*features, target]))
    categories = {"colour": sorted(set(table.column("colour")))}
    x = encode(table, features, categories)
    if classification:
        names = sorted(set(table.column(target)))
        y = np.array([names.index(v) for v in table.column(target)])
    else:
        y = table.numeric([target])[:, 0]
    (train, _), (val, _), _ = train_val_test_split(
        np.arange(len(y)), y, val_size=args.validation_split, test_size=0.0, stratify=classification, seed=args.seed
    )
    fitted = StandardScaler().fit(x[train])
    one_hot = np.array([c in categories for c in sources(features, categories)])
    scaler = StandardScaler(np.where(one_hot, 0.0, fitted.shift), np.where(one_hot, 1.0, fitted.scale))
    xs = scaler.transform(x)
    if not classification:
        y = StandardScaler().fit(y[train, None]).transform(y[:, None])
    nn.set_seed(args.seed)
    model = build_model(xs.shape[1], args.hidden, len(names) if classification else 1, classification)
    loss = losses.CategoricalCrossentropy() if classification else losses.MeanSquaredError()
    model.compile(loss=loss, optimizer=optimizers.Adam(args.learning_rate))
    model.fit(xs[train], y[train], epochs=args.epochs, batch_size=args.batch_size, verbose=0,
              validation_data=(xs[val], y[val]))  # fmt: skip
    return model.get_weights(), scaler


@pytest.mark.parametrize("target", ["label", "b"])  # a classification; a regression
@pytest.mark.parametrize("cells", [2**18, 40])  # the table in one chunk; in chunks of 10 rows
def test_the_streamed_command_trains_the_model_of_the_table_read_whole(tmp_path, capsys, monkeypatch, cells, target):
    monkeypatch.setattr(encoded_table, "CHUNK_CELLS", cells)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(encoded_table.tempfile, "tempdir", str(scratch))
    data = write(tmp_path / "d.csv", ["a", "b", "colour", "label"], mixed_table())
    features = "a,colour" if target == "b" else "a,b,colour"
    flags = ["--target", target, "--features", features, "--epochs", "3", "--early-stopping", "0", "--drop-missing"]
    code = main(["train", data, "--out", str(tmp_path / "m.nnet"), "--quiet", *flags])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "dropped 3 row(s) with missing values (lines 19, 125, 252)" in out
    assert "297 rows" in out and "text features, encoded as one 0/1 input per value: 'colour' (3)" in out
    args = build_parser().parse_args(["train", data, "--out", "m.nnet", *flags])
    expected, scaler = reference_weights(data, args, classification=target == "label")
    model = nn.load_model(tmp_path / "m.nnet")
    saved = model.metadata["scaler"]
    # the scaler's sums are taken a chunk at a time: equal to the whole table's to float64 rounding
    np.testing.assert_allclose(saved["mean"], scaler.shift, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(saved["std"], scaler.scale, rtol=1e-13)
    for got, want in zip(model.get_weights(), expected, strict=True):
        if cells == 2**18:  # one chunk: the same sums, the same float32 inputs, the same steps
            np.testing.assert_array_equal(got, want)
        else:  # (the inputs may differ in a float32 rounding; on this table they do not)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert not os.listdir(scratch)  # the temporary files removed


def test_a_bad_cell_on_the_last_line_is_found_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(encoded_table, "CHUNK_CELLS", 40)  # chunks of 10 rows: the bad cell in the 30th
    rows = mixed_table()
    rows[-1][1] = "12,5"
    rows[-3][0] = "oops"
    data = write(tmp_path / "d.csv", ["a", "b", "colour", "label"], rows)
    code = main(["train", data, "--target", "label", "--out", str(tmp_path / "m.nnet"), "--drop-missing"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "line 299, column 'a' holds 'oops', which is not a number" in err
    assert "column(s) ['b'] hold numbers written with a comma ('12,5' on line 301, 1 cells in all)" in err
    assert "training on" not in out and not os.path.exists(tmp_path / "m.nnet")


def test_the_temporary_files_are_removed_when_training_fails(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(encoded_table.tempfile, "tempdir", str(tmp_path))
    data = write(tmp_path / "d.csv", ["a", "b", "colour", "label"], mixed_table())
    flags = ["--target", "label", "--drop-missing", "--learning-rate", "1e30", "--optimizer", "sgd", "--epochs", "2"]
    code = main(["train", data, "--out", str(tmp_path / "m.nnet"), "--quiet", *flags])
    assert code == 1 and "training diverged" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["d.csv"]


PEAK = textwrap.dedent(
    """
    import sys, threading, time

    def rss_anon():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("RssAnon:"))

    import neuronet.cli

    base = peak = rss_anon()
    done = threading.Event()

    def sample():
        global peak
        while not done.is_set():
            peak = max(peak, rss_anon())
            time.sleep(0.002)

    thread = threading.Thread(target=sample)
    thread.start()
    code = neuronet.cli.main(sys.argv[1:])
    done.set()
    thread.join()
    print("GROWTH", code, max(peak, rss_anon()) - base)
    """
)


def peak_growth(tmp_path, data, command: str = "train") -> int:
    """The bytes of anonymous memory `neuronet train` (one epoch) or `neuronet predict` (with the model the
    training wrote) takes at most on ``data``, in a process of its own (sampled by a thread)."""
    script = tmp_path / "peak.py"
    script.write_text(PEAK)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    model = str(tmp_path / "m.nnet")
    args = {
        "train": ["train", data, "--target", "label", "--out", model, "--epochs", "1", "--quiet"],
        "predict": ["predict", model, data, "--out", str(tmp_path / "predictions.csv")],
    }[command]
    done = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, env=env, timeout=600)
    line = next(line for line in done.stdout.splitlines() if line.startswith("GROWTH"))
    _, code, growth = line.split()
    assert code == "0", done.stderr
    return int(growth)


def numbers_table(path, n, d=20, seed=0):
    rng = np.random.default_rng(seed)
    with open(path, "w") as f:
        f.write(",".join([f"x{i}" for i in range(d)] + ["label"]) + "\n")
        for lo in range(0, n, 10_000):
            x = rng.normal(size=(min(10_000, n - lo), d))
            f.writelines(",".join(f"{v:.6f}" for v in row) + f",c{int(row[0] > 0)}\n" for row in x)
    return str(path)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads RssAnon from /proc")
def test_the_memory_does_not_grow_with_the_files_cells(tmp_path):
    """A table of 200,000 rows of 20 numbers (about 38 MB) takes little
    more than one of 50,000 rows: a few numbers a row, not the cells' strings."""
    small = numbers_table(tmp_path / "small.csv", 50_000)
    big = numbers_table(tmp_path / "big.csv", 200_000)
    size = os.path.getsize(big) - os.path.getsize(small)
    most = peak_growth(tmp_path, big)
    grown = most - peak_growth(tmp_path, small)
    assert grown < 0.5 * size, f"{grown / 2**20:.1f} MB more for {size / 2**20:.1f} MB more of file"
    assert most < 2 * os.path.getsize(big), f"{most / 2**20:.1f} MB for {os.path.getsize(big) / 2**20:.1f} MB of file"


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads RssAnon from /proc")
def test_predict_takes_a_memory_that_does_not_grow_with_the_files_cells(tmp_path):
    """Predictions for 200,000 rows of 20 numbers (about 38 MB) take little more memory than for 50,000."""
    small = numbers_table(tmp_path / "small.csv", 50_000)
    big = numbers_table(tmp_path / "big.csv", 200_000)
    peak_growth(tmp_path, small)  # (the model)
    size = os.path.getsize(big) - os.path.getsize(small)
    most = peak_growth(tmp_path, big, "predict")
    grown = most - peak_growth(tmp_path, small, "predict")
    assert grown < 0.5 * size, f"{grown / 2**20:.1f} MB more for {size / 2**20:.1f} MB more of file"
    with open(tmp_path / "predictions.csv") as f:
        assert sum(1 for _ in f) == 50_001


@pytest.fixture
def trained(tmp_path, capsys):
    """A classifier trained by the command on a table with a text feature, and the table."""
    data = write(tmp_path / "d.csv", ["a", "b", "colour", "label"], mixed_table())
    flags = ["--target", "label", "--epochs", "3", "--drop-missing", "--quiet"]
    assert main(["train", data, "--out", str(tmp_path / "m.nnet"), *flags]) == 0, capsys.readouterr().err
    capsys.readouterr()
    return str(tmp_path / "m.nnet"), data


def predicted(capsys, *args) -> tuple[int, list[list[str]], str]:
    code = main(["predict", *args])
    out, err = capsys.readouterr()
    return code, list(csv.reader(out.splitlines())), err


def test_streamed_predictions_are_those_of_the_table_read_whole(trained, capsys, monkeypatch):
    model_path, data = trained
    code, whole, err = predicted(capsys, model_path, data, "--drop-missing", "--keep", "label", "--proba")
    assert code == 0, err
    assert "dropped 3 row(s) with missing values (lines 19, 125, 252); they get no prediction" in err
    monkeypatch.setattr(encoded_table, "CHUNK_CELLS", 4)  # chunks of a row
    code, streamed, err = predicted(capsys, model_path, data, "--drop-missing", "--keep", "label", "--proba")
    assert code == 0, err
    # the chunks are cut at multiples of predict's batch: every row predicted in the batch it has when whole
    assert streamed == whole and len(whole) == 298 and whole[0] == ["label", "prediction", "x", "y", "z"]
    # the model's outputs for the same rows, computed here from the table read whole
    model = nn.load_model(model_path)
    table = read_csv(data)
    table = table.without_rows(table.missing_rows(["a", "b", "colour"]))
    x = encode(table, ["a", "b", "colour"], {"colour": model.metadata["categories"]["colour"]})
    scaler = model.metadata["scaler"]
    out = model.predict(((x - scaler["mean"]) / scaler["std"]).astype(np.float32))
    for rows in (whole, streamed):
        assert [r[0] for r in rows[1:]] == table.column("label")
        assert [r[1] for r in rows[1:]] == [["x", "y", "z"][k] for k in out.argmax(axis=1)]
        np.testing.assert_allclose(np.array([r[2:] for r in rows[1:]], dtype=float), out, atol=1e-6)


def test_streamed_evaluation_scores_the_table_as_read_whole(trained, capsys, monkeypatch):
    model_path, data = trained
    reports = []
    for cells in (2**18, 40):  # one chunk; chunks of 10 rows
        monkeypatch.setattr(encoded_table, "CHUNK_CELLS", cells)
        code = main(["evaluate", model_path, data, "--drop-missing"])
        out, err = capsys.readouterr()
        assert code == 0, err
        reports.append(out)
    assert reports[0] == reports[1]
    assert "297 rows" in reports[0] and "accuracy: " in reports[0] and "confusion matrix" in reports[0]


def test_labels_never_seen_in_two_chunks_are_named_at_once(trained, tmp_path, capsys, monkeypatch):
    model_path, data = trained
    monkeypatch.setattr(encoded_table, "CHUNK_CELLS", 40)
    with open(data, newline="") as f:
        rows = list(csv.reader(f))
    rows[5][3], rows[280][3] = "w", "v"  # in the first chunk and in the last
    new = write(tmp_path / "new.csv", rows[0], rows[1:])
    code = main(["evaluate", model_path, new, "--drop-missing"])
    out, err = capsys.readouterr()
    assert code == 1 and "accuracy" not in out
    assert "labels ['v', 'w'] were not seen in training (lines 6, 281; known: ['x', 'y', 'z'])" in err


def test_explain_takes_its_first_rows_from_the_chunks(trained, tmp_path, capsys, monkeypatch):
    model_path, data = trained
    monkeypatch.setattr(encoded_table, "CHUNK_CELLS", 40)  # chunks of 10 rows: the first 32 kept span four
    with open(data, newline="") as f:
        rows = list(csv.reader(f))
    rows[200][3] = "w"  # a label never seen in training, far past the rows shown: not theirs to refuse
    other = write(tmp_path / "other.csv", rows[0], rows[1:])
    page = tmp_path / "step.html"
    code = main(["explain", model_path, other, "--drop-missing", "--rows", "32", "--out", str(page)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "dropped 3 row(s) with missing values (lines 19, 125, 252)" in out
    assert "wrote one training step on the first 32 rows" in out and page.stat().st_size > 0
    code = main(["explain", model_path, other, "--rows", "32", "--out", str(page)])  # the check is the file's
    assert code == 1 and "miss feature values (lines 19, 125, 252)" in capsys.readouterr().err


def test_columns_are_checked_from_the_header_before_the_file_is_read(trained, tmp_path, capsys, monkeypatch):
    model_path, data = trained
    monkeypatch.setattr("neuronet.cli.use.summarise", lambda *args: pytest.fail("the whole file was read"))
    code = main(["predict", model_path, data, "--keep", "id"])
    assert code == 1 and "--keep: " in capsys.readouterr().err
    lacking = write(tmp_path / "lacking.csv", ["a", "colour", "label"], [["0.5", "red", "x"]])
    for command, *flags in (["predict"], ["evaluate"], ["explain", "--out", str(tmp_path / "step.html")]):
        code = main([command, model_path, lacking, *flags])
        assert code == 1 and "lacks the feature column(s) ['b']" in capsys.readouterr().err


def test_text_values_never_seen_in_two_chunks_are_named_before_any_prediction(trained, tmp_path, capsys, monkeypatch):
    model_path, data = trained
    monkeypatch.setattr(encoded_table, "CHUNK_CELLS", 40)
    predicting = []
    monkeypatch.setattr("neuronet.cli.use._predictions", lambda *args: predicting.append(1))
    with open(data, newline="") as f:
        rows = list(csv.reader(f))
    rows[5][2], rows[280][2] = "purple", "pink"
    new = write(tmp_path / "new.csv", rows[0], rows[1:])
    code, printed, err = predicted(capsys, model_path, new, "--drop-missing")
    assert code == 1 and printed == [] and predicting == []
    assert "line 6, column 'colour' holds 'purple', a value the model never saw in training" in err
    assert "(2 such rows: lines 6, 281)" in err


def test_a_row_that_fails_in_the_last_chunk_leaves_nothing_printed_or_written(trained, tmp_path, capsys, monkeypatch):
    model_path, data = trained
    monkeypatch.setattr(encoded_table, "CHUNK_CELLS", 40)
    with open(data, newline="") as f:
        rows = list(csv.reader(f))
    rows[-1][1] = "1e300"  # a number, but too far from the training rows' to standardise: found when predicting
    bad = write(tmp_path / "bad.csv", rows[0], rows[1:])
    code, printed, err = predicted(capsys, model_path, bad, "--drop-missing")
    assert code == 1 and printed == [] and "line 301, column 'b' holds 1e+300" in err
    code, printed, err = predicted(capsys, model_path, bad, "--drop-missing", "--out", str(tmp_path / "p.csv"))
    assert code == 1 and not os.path.exists(tmp_path / "p.csv") and "line 301, column 'b'" in err
    assert [f for f in os.listdir(tmp_path) if f.endswith(".tmp")] == []


def test_a_file_changed_between_its_check_and_its_encoding_is_an_error(tmp_path, capsys, monkeypatch):
    data = write(tmp_path / "d.csv", ["a", "b", "colour", "label"], mixed_table())
    checked = encoded_table.chunks

    def appending(path, delimiter):  # the second reading finds a row more
        if appending.calls:
            with open(path, "a") as f:
                f.write("0.5,4000,red,x\n")
        appending.calls += 1
        return checked(path, delimiter)

    appending.calls = 0
    monkeypatch.setattr(encoded_table, "chunks", appending)
    monkeypatch.setattr("neuronet.cli.train.chunks", appending)
    code = main(["train", data, "--target", "label", "--out", str(tmp_path / "m.nnet"), "--drop-missing"])
    assert code == 1 and "changed while it was read (300 rows, then 301)" in capsys.readouterr().err
