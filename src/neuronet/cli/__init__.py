"""The ``neuronet`` command line: demos, and training on your own CSV data.

    neuronet demo [dense|cnn|text|forecast|gan]   (demo text --model cnn|lstm|gru)
    neuronet predict-text sentiment.nnet "the plot was not boring"
    neuronet train data.csv --target label --hidden 64,32 --out model.nnet
    neuronet evaluate model.nnet test.csv
    neuronet predict model.nnet new.csv --out predictions.csv --proba --keep id
    neuronet summary model.nnet
    neuronet export model.nnet model.onnx

Features are standardised with the mean and standard deviation of the
training part only; those statistics, the feature names and the class names
are saved in the model file, so ``evaluate`` and ``predict`` apply the same
transformation. Every mistake (in the command, the data or a model file) is
one line and a non-zero exit code, found before training starts where it can
be.
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import math
import os
import sys
import time
import warnings

import numpy as np

from .. import __version__, callbacks, checks, datasets, demos, layers, losses, memory, optimizers, plot, process
from ..backend import set_seed
from ..data import StandardScaler, Table, read_csv, sliding_windows, train_val_test_split
from ..data.csv import COMMA_NUMBER, CONTROL, is_missing, is_number, kind, label, not_a_number, number
from ..metrics import (
    accuracy,
    classification_report,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision,
    r2_score,
    recall,
)
from ..model import Sequential, load_model
from ..onnx import export as onnx_export
from ..saving import ModelFileError, atomic_write_bytes, model_path
from ..text import OOV, Tokenizer, pad_sequences

MAX_CLASSES_GUESSED = 20  # an integer target with at most this many values is taken as class labels
MAX_CATEGORIES = 100  # a text feature with more values than this (or than half the rows) is an id or free text
# a classifier needs this many rows per class on average: at --validation-split 0.2, 3 rows give 2 to train on
# and 1 to validate (fewer classes than this many rows per class is an id, or a number to regress)
MIN_ROWS_PER_CLASS = 3
CLASSES_SHOWN = 50  # evaluate prints the per-class report and confusion matrix up to this many classes
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu")
OPTIMIZERS = {"adam": optimizers.Adam, "adamw": optimizers.AdamW, "sgd": optimizers.SGD}
OPTIMIZERS |= {"rmsprop": optimizers.RMSprop, "adagrad": optimizers.Adagrad}
BYTES_PER_PARAMETER = 28  # float32 weights, gradients, Adam's two moments and scratch, plus a float64 draw at init


class CLIError(ValueError):
    """A mistake in the command or the data: printed as one line."""


def build_model(
    n_inputs: int,
    hidden: list[int],
    n_outputs: int,
    classification: bool,
    activation: str = "relu",
    dropout: float = 0.0,
    l2: float = 0.0,
) -> Sequential:
    """Dense layers of the ``hidden`` sizes (each followed by dropout, if asked), then the output layer."""
    sizes = [n_inputs, *hidden]
    model = Sequential()
    for a, b in zip(sizes[:-1], sizes[1:]):
        model.add(layers.Dense(a, b, activation=activation, weight_regularizer_l2=l2))
        if dropout:
            model.add(layers.Dropout(dropout))
    output = "softmax" if classification else None
    model.add(layers.Dense(sizes[-1], n_outputs, activation=output, weight_regularizer_l2=l2))
    return model


# -- checks made before any work -----------------------------------------------------------
def _check_writable(path: str, flag: str) -> None:
    """Fail now, not after training, if ``path`` cannot be written."""
    if not path.strip():
        raise CLIError(f"{flag} needs a file name, e.g. {flag} model.nnet")
    if os.path.isdir(path):
        raise CLIError(f"{flag} {path} is a folder; give a file name, e.g. {os.path.join(path, 'model.nnet')}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"{flag} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise CLIError(f"{flag} {path}: the folder {folder} is not writable")


def _check_memory(sizes: list[int]) -> None:
    """Refuse a network that cannot fit in memory before allocating it (MemoryError would come after)."""
    count = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    memory.require(
        count * BYTES_PER_PARAMETER,
        f"--hidden {','.join(map(str, sizes[1:-1]))} makes a network of {count:,} parameters, which to train",
        "use smaller layers",
    )


# -- demos ---------------------------------------------------------------------------------
def _digits_split(seed: int, images: bool):
    X, y = datasets.load_digits()
    X = X / 16.0  # pixels 0..16 -> 0..1
    if images:
        X = X.reshape(-1, 8, 8, 1)
    return train_val_test_split(X, y, val_size=0.1, test_size=0.2, stratify=True, seed=seed)


def _report_classifier(model: Sequential, x, y, what: str) -> None:
    predicted = model.predict(x)
    print(f"test accuracy: {accuracy(y, predicted):.2%} ({len(y)} {what} the network never saw)")
    scores = {
        name: fn(y, predicted, average="macro")
        for name, fn in (("precision", precision), ("recall", recall), ("F1", f1_score))
    }
    print("macro-averaged " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
    print(classification_report(y, predicted))


def _demo_dense(args):
    (xt, yt), (xv, yv), (xs, ys) = _digits_split(args.seed, images=False)
    print(f"8x8 handwritten digits as 64 pixels: {len(xt)} training, {len(xv)} validation, {len(xs)} test images")
    model = demos.digits_mlp()
    model.compile(loss=losses.CategoricalCrossentropy(), optimizer=optimizers.Adam(0.005), metrics=["accuracy"])
    return model, (xt, yt), (xv, yv), (xs, ys), functools.partial(_report_classifier, what="digits")


def _demo_cnn(args):
    (xt, yt), (xv, yv), (xs, ys) = _digits_split(args.seed, images=True)
    print(f"8x8 handwritten digits as images: {len(xt)} training, {len(xv)} validation, {len(xs)} test images")
    model = demos.digits_cnn()
    model.compile(loss=losses.CategoricalCrossentropy(), optimizer=optimizers.Adam(0.003), metrics=["accuracy"])
    return model, (xt, yt), (xv, yv), (xs, ys), functools.partial(_report_classifier, what="digits")


TEXT_LENGTH = 12  # tokens per review after padding


def _demo_text(args):
    texts, y = datasets.sentiment(3000, seed=args.seed)
    cut, val = 2100, 2400
    tokenizer = Tokenizer().fit(texts[:cut])
    X = pad_sequences(tokenizer.texts_to_sequences(texts), maxlen=TEXT_LENGTH)
    print(f"{len(texts)} short film reviews (1 positive, 0 negative), e.g. {texts[0]!r} -> {y[0]}")
    print(f"vocabulary of {tokenizer.vocab_size} ids; each review padded to {TEXT_LENGTH} tokens")
    kind = args.model or "cnn"
    print(f"the network: {TEXT_MODELS[kind]}")
    model = demos.sentiment_cnn(tokenizer.vocab_size, TEXT_LENGTH) if kind == "cnn" else None
    if model is None:
        model = demos.sentiment_rnn(tokenizer.vocab_size, TEXT_LENGTH, kind)
    model.compile(loss=losses.CategoricalCrossentropy(), optimizer=optimizers.Adam(0.005), metrics=["accuracy"])
    model.metadata = {
        "task": "text",
        "tokenizer": tokenizer.get_config(),
        "maxlen": TEXT_LENGTH,
        "classes": ["negative", "positive"],
    }
    report = functools.partial(_report_classifier, what="reviews")
    return model, (X[:cut], y[:cut]), (X[cut:val], y[cut:val]), (X[val:], y[val:]), report


TEXT_MODELS = {
    "cnn": "a convolution over 3 words at a time, then the strongest of each feature",
    "lstm": "an LSTM reading the words in order (padding skipped), its last state classified",
    "gru": "a GRU reading the words in order (padding skipped), its last state classified",
}
FORECAST_LOOKBACK, FORECAST_TEST, FORECAST_VAL = 24, 120, 48  # months read; months tested and validated on
FORECAST_PICTURE = "demo_forecast.png"
CURVES_PICTURE = "demo_curves.png"  # --plot's picture, but for the forecast demo's


def _demo_forecast(args):
    """One-step-ahead forecasts of monthly CO2: each window of 24 months, as changes from its last month
    (so the network sees the shape of the last two years, not a level it never met in training), gives the
    change to the next month."""
    dates, ppm = datasets.co2()
    x, y = sliding_windows(ppm, FORECAST_LOOKBACK)
    last, target = x[:, -1, 0], y[:, 0]
    month = np.arange(FORECAST_LOOKBACK, len(ppm))  # the month each window forecasts
    test = month >= len(ppm) - FORECAST_TEST
    val = ~test & (month >= len(ppm) - FORECAST_TEST - FORECAST_VAL)
    train = ~test & ~val
    scale = float(np.diff(ppm[: month[train][-1] + 1]).std())  # a typical month-to-month change, from training
    X = (x - last[:, None, None]) / scale
    Y = ((target - last) / scale)[:, None]
    print(
        f"Mauna Loa CO2, monthly means {dates[0]}..{dates[-1]} ({len(ppm)} months, ppm); the network reads "
        f"{FORECAST_LOOKBACK} months and forecasts the next"
    )
    for name, part in (("training", train), ("validation", val), ("test", test)):
        print(f"{name:>10}: forecasts of {dates[month[part][0]]}..{dates[month[part][-1]]} ({part.sum()} months)")
    model = demos.co2_lstm(FORECAST_LOOKBACK)
    model.compile(loss=losses.MeanSquaredError(), optimizer=optimizers.Adam(0.005))
    model.metadata = {"task": "forecast", "lookback": FORECAST_LOOKBACK, "scale": scale}

    def report(model, xs, ys):
        truth = target[test]
        forecasts = {
            "LSTM": model.predict(xs)[:, 0] * scale + last[test],
            "persistence (last month)": last[test],
            "seasonal naive (a year before)": ppm[month[test] - 12],
        }
        print(f"test error over {dates[month[test][0]]}..{dates[month[test][-1]]}, ppm:")
        print(f"  {'':32}{'MAE':>8}{'RMSE':>8}")
        for name, values in forecasts.items():
            error = values - truth
            print(f"  {name:32}{np.abs(error).mean():8.3f}{np.sqrt((error**2).mean()):8.3f}")
        path = args.plot or FORECAST_PICTURE
        try:
            plot.require_matplotlib()
        except ImportError as exc:
            print(f"no picture of the forecast: {exc}")
            return
        times = dates[month[test]]
        shown = {name: (times, values) for name, values in list(forecasts.items())[:2]}
        title = "Mauna Loa CO2: one-month-ahead forecasts over the test years"
        recent = slice(-FORECAST_TEST - 24, None)  # the test years and the two before them
        plot.forecast(dates[recent], ppm[recent], shown, path, start=times[0], ylabel="CO2 (ppm)", title=title)
        print(f"forecast against truth written to {path}")

    return model, (X[train], Y[train]), (X[val], Y[val]), (X[test], Y[test]), report


GAN_PICTURE, GAN_GRIDS = "demo_gan.png", "demo_gan_epoch{epoch:03d}.png"  # the last samples; those on the way
GAN_EVERY, GAN_JUDGED = 25, 1000  # epochs between reports (and grids); samples the judge labels


def _demo_gan(args) -> None:
    """A GAN learns to draw digits; a CNN trained on the real digits judges its samples."""
    epochs = args.epochs or 300
    (xt, yt), (xv, yv), (xs, ys) = _digits_split(args.seed, images=True)
    print(f"8x8 handwritten digits: a GAN learns to draw them from the {len(xt)} training images")
    judge = demos.digits_cnn()
    judge.compile(loss=losses.CategoricalCrossentropy(), optimizer=optimizers.Adam(0.003), metrics=["accuracy"])
    judge.fit(xt, yt, epochs=30, validation_data=(xv, yv), callbacks=[callbacks.EarlyStopping(patience=30)], verbose=0)
    noise = np.random.default_rng(args.seed).uniform(0, 1, xs.shape).astype(xs.dtype)
    print(
        f"the judge, a digits CNN trained on the real images: test accuracy {judge.evaluate(xs, ys)['accuracy']:.1%}; "
        f"mean confidence {demos.recognised(judge, xs)[1]:.2f} on real test digits, "
        f"{demos.recognised(judge, noise)[1]:.2f} on uniform noise"
    )
    gan = demos.digits_gan()
    gan.compile(optimizers.Adam(2e-4, beta_1=0.5), optimizers.Adam(2e-4, beta_1=0.5))
    print("the generator, from a latent vector of 32 to 64 pixels:")
    gan.generator.summary()
    print("the discriminator, from 64 pixels to the probability that they are a real digit:")
    gan.discriminator.summary()

    def judged() -> tuple[np.ndarray, float, int]:  # the judge on samples as images in [0, 1]
        return demos.recognised(judge, (gan.sample(GAN_JUDGED).reshape(-1, 8, 8, 1) + 1) / 2)

    class Report(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if (epoch + 1) % GAN_EVERY == 0 or epoch + 1 == epochs:
                _, confidence, classes = judged()
                print(
                    f"epoch {epoch + 1}/{epochs}: d_loss {logs['d_loss']:.3f}, g_loss {logs['g_loss']:.3f}; "
                    f"the judge sees {classes}/10 digits, mean confidence {confidence:.2f}"
                )

    hooks = [Report()]
    if args.plot:
        hooks.append(callbacks.SampleGrid(GAN_GRIDS, every=GAN_EVERY))
    real = xt.reshape(len(xt), -1) * 2 - 1  # pixels in [-1, 1], the range of the generator's tanh
    start = time.perf_counter()
    history = gan.fit(real, epochs=epochs, batch_size=64, callbacks=hooks, verbose=0)
    seconds = time.perf_counter() - start
    print(f"trained in {seconds:.1f} s ({epochs * len(real) / seconds:,.0f} real samples/s)")
    shares, confidence, classes = judged()
    print(f"{GAN_JUDGED} generated digits, as the judge labels them (a digit appears if it has >= 3%):")
    print("  " + "  ".join(f"{digit}: {share:.0%}" for digit, share in enumerate(shares)))
    print(f"digits that appear: {classes}/10; the judge's mean confidence: {confidence:.2f}")
    if args.plot:
        plot.training_curves(history, args.plot)
        grids = ", ".join(hooks[-1].paths[:2])
        print(f"loss curves written to {args.plot}; samples every {GAN_EVERY} epochs to {grids}, ...")
    try:
        plot.require_matplotlib()
    except ImportError as exc:
        print(f"no picture of the samples: {exc}")
    else:
        samples = gan.sample(64)
        plot.image_grid(samples, predictions=judge.predict(samples.reshape(-1, 8, 8, 1) / 2 + 0.5), path=GAN_PICTURE)
        print(f"64 generated digits, titled with the judge's labels, written to {GAN_PICTURE}")
    if args.out:
        gan.save(args.out)
        print(f"GAN saved to {args.out} (nn.load_gan reads it)")


DEMOS = {"dense": _demo_dense, "cnn": _demo_cnn, "text": _demo_text, "forecast": _demo_forecast}  # (and gan)
TEXT_EXAMPLES = ["the movie was good , not bad", "the movie was bad , not good", "great film", "i hated it"]


def cmd_demo(args) -> None:
    if args.plot is True:  # --plot without a name: the demo's own picture
        args.plot = FORECAST_PICTURE if args.kind == "forecast" else CURVES_PICTURE
    if args.plot:
        plot.require_matplotlib()  # before training, not after it
        _check_writable(args.plot, "--plot")
    elif args.kind == "forecast":
        _check_writable(FORECAST_PICTURE, "the forecast picture")
    if args.kind == "gan":
        _check_writable(GAN_PICTURE, "the picture of the samples")
    if args.out:
        _check_writable(args.out, "--out")
        model_path(args.out, "--out")  # a foreign extension (.onnx, .keras) now, not after training
    set_seed(args.seed)
    if args.kind == "gan":  # two networks and no targets: a loop of its own
        _demo_gan(args)
        return
    epochs = args.epochs or 30
    model, (xt, yt), (xv, yv), (xs, ys), report = DEMOS[args.kind](args)
    model.summary()
    # the weights of the epoch with the lowest validation loss, not of the last one (a noisy step can end a run)
    best = callbacks.EarlyStopping(patience=epochs)
    start = time.perf_counter()
    history = model.fit(xt, yt, epochs=epochs, batch_size=32, validation_data=(xv, yv), callbacks=[best])
    print(f"trained in {time.perf_counter() - start:.1f} s")
    report(model, xs, ys)
    if args.plot and args.kind != "forecast":
        plot.training_curves(history, args.plot)
        print(f"training curves written to {args.plot}")
    if args.out:
        model.save(args.out)
        print(f"model saved to {args.out}")
    if args.kind == "text":
        _print_text_predictions(model, TEXT_EXAMPLES)
        example = '"the plot was not boring"'
        if args.out:
            print(f"try your own: neuronet predict-text {args.out} {example}")
        else:  # nothing was saved to try
            print(f"to try your own, save the model (--out MODEL), then: neuronet predict-text MODEL {example}")


# -- from a table to numbers -----------------------------------------------------------------
def guess_task(values: list[str]) -> str:
    """Classification for text labels or few whole-number values; regression otherwise."""
    kinds = [kind(v) for v in values]
    if "text" in kinds:
        return "classification"
    numbers = np.array([number(v) for v, k in zip(values, kinds) if k == "number"])
    few = len(np.unique(numbers)) <= MAX_CLASSES_GUESSED
    return "classification" if few and np.all(numbers == np.round(numbers)) else "regression"


def _class_order(labels: set[str]) -> list[str]:
    if all(is_number(v) for v in labels):
        return sorted(labels, key=float)
    return sorted(labels)


def _is_index(table: Table) -> bool:
    """Whether the first column is a row index as pandas' ``to_csv`` writes it: no name, and distinct
    whole numbers (0..n-1, or a part of them after a split or a shuffle)."""
    if table.columns[0] != "":
        return False
    cells = table.column("")
    return all(cell.isascii() and cell.isdigit() for cell in cells) and len({int(c) for c in cells}) == len(cells)


def _feature_columns(table: Table, args) -> list[str]:
    """The columns to learn from: --features, or every column but the target, --drop and a pandas index."""
    named = [*(args.features or []), *(args.drop or [])]
    unknown = [c for c in [args.target, *named] if c not in table.columns]
    if unknown:
        numbers = [c for c in table.columns if is_number(c)]  # names no one gives: a first row of data
        hint = f" (names such as {numbers[0]!r} are numbers: does the file lack its header row?)" if numbers else ""
        raise CLIError(f"{table.path} has no column(s) {unknown}; its columns are {table.columns}{hint}")
    if args.features:
        if args.target in args.features:
            raise CLIError(f"--features names the target {args.target!r}; a model cannot learn it from itself")
        return list(args.features)
    features = [c for c in table.columns if c != args.target and c not in (args.drop or [])]
    if "" in features and _is_index(table):
        features.remove("")
        print(
            "left out the first column: it has no name and holds distinct whole numbers, a row index as pandas' "
            "to_csv writes it (a model would learn the row order); to use it, name it: --features ',a,b'"
        )
    if not features:
        raise CLIError(f"{table.path} has no feature columns besides the target {args.target!r}")
    return features


def _lines(table: Table, rows) -> str:
    """Rows named by their line in the file: 'lines 4, 9 and 12' (the first five, then a count)."""
    numbers = [str(table.lines[r]) for r in sorted(rows)]
    shown = ", ".join(numbers[:5]) + (f" and {len(numbers) - 5} more" if len(numbers) > 5 else "")
    return f"line{'s' if len(numbers) > 1 else ''} {shown}"


def _cells(table: Table, name: str, rows: list[int]) -> str:
    """The first of ``rows``' cells in column ``name``, why it is not a number, and how many more there are."""
    more = f" (and {len(rows) - 1} more in {name!r}: {_lines(table, rows[1:])})" if len(rows) > 1 else ""
    return f"{table.where(rows[0], name)} {not_a_number(table.cell(rows[0], name))}{more}"


def _is_text(kinds: dict[str, list[int]]) -> bool:
    """Whether a column of these kinds of cells is text (labels or categories): text, and not one number."""
    return bool(kinds.get("text")) and not kinds.get("number")


def _not_numbers(table: Table, kinds: dict[str, dict[str, list[int]]], droppable: bool = False) -> list[str]:
    """What spoils the columns that should hold numbers (``kinds``: their cells' kinds), each with its fix
    (``droppable``: a column mixing text and numbers may be left out with --drop)."""
    problems, commas = [], {}
    for name, found in kinds.items():
        bad = sorted(found.get("text", []) + found.get("unread", []))
        if bad and all(COMMA_NUMBER.fullmatch(table.cell(r, name)) for r in bad):
            commas[name] = bad
        elif bad:
            fix = f", or leave the column out with --drop {name}" if droppable and found.get("text") else ""
            problems.append(f"{_cells(table, name, bad)}: correct the cell(s) or delete the row(s){fix}")
    if commas:  # a file from a spreadsheet in a decimal-comma locale: one fix for all its columns
        name, rows = next(iter(commas.items()))
        problems.insert(
            0,
            f"decimal commas: column(s) {list(commas)} hold numbers written with a comma ({table.cell(rows[0], name)!r}"
            f" on line {table.lines[rows[0]]}, {sum(map(len, commas.values()))} cells in all); numbers are read "
            "with a decimal point and no thousands separator (1.5, 1000): convert the commas, e.g. save the file "
            "from the spreadsheet with '.' as the decimal separator",
        )
    return problems


def _refuse(table: Table, problems: list[str]) -> None:
    """One error for every problem found, so a file is fixed in one go, not one column per run."""
    if problems:
        raise CLIError(f"{table.path}: " + "; ".join(problems))


def _control_character(table: Table, name: str) -> str | None:
    """The first cell of column ``name`` holding a control character (a NUL byte, ...), described."""
    for r, value in enumerate(table.column(name)):
        if CONTROL.search(value):
            return f"{table.where(r, name)} holds {value!r}, with a control character: remove it"
    return None


def _text_problems(table: Table, text: list[str], kinds: dict[str, dict[str, list[int]]], one_hot: bool) -> list[str]:
    """Why text feature columns cannot be used: at all without one-hot; with it, if a column has too many
    values to be categories (an id, a name, free text) or holds a control character."""
    if not text:
        return []
    if not one_hot:
        first = {name: kinds[name]["text"][0] for name in text}
        examples = ", ".join(f"{n!r} ({table.cell(r, n)!r} on line {table.lines[r]})" for n, r in first.items())
        return [
            f"column(s) {examples} hold text, and with --no-one-hot features must be numbers: leave them out with "
            f"--drop {','.join(text)}, or leave out --no-one-hot to encode each as one 0/1 column per value"
        ]
    problems = []
    limit = min(MAX_CATEGORIES, len(table.rows) // 2)
    for name in text:
        values = {v for v in table.column(name) if not is_missing(v)}
        if len(values) > limit:
            problems.append(
                f"column {name!r} holds {len(values):,} different texts in {len(table.rows):,} rows, too many to be "
                f"categories (at most {MAX_CATEGORIES} and half the rows): an id, a name or free text? leave it "
                f"out with --drop {name}"
            )
        elif found := _control_character(table, name):
            problems.append(found)
    return problems


def _check_features(table: Table, features: list[str], one_hot: bool) -> list[str]:
    """The features that hold text (encoded one-hot), after refusing at once every feature that cannot be
    used; missing cells are left to ``_handle_missing``, after this (a column that fails anyway comes first)."""
    kinds = {name: table.kinds(name) for name in features}
    text = [name for name in features if _is_text(kinds[name])]
    problems = _not_numbers(table, {name: found for name, found in kinds.items() if name not in text}, droppable=True)
    _refuse(table, problems + _text_problems(table, text, kinds, one_hot))
    return text


def _labels(table: Table, target: str) -> list[str]:
    """The target's cells as class labels: a number in one spelling (2, 2.0, +2 and 02 are one class)."""
    found = table.kinds(target)
    if not found.get("text") and found.get("unread"):  # numbers, but some spelt as no spreadsheet writes them
        _refuse(table, _not_numbers(table, {target: found}))
    if problem := _control_character(table, target):
        raise CLIError(f"{table.path}: {problem}")
    return [label(v) for v in table.column(target)]


def _regression_target(table: Table, target: str) -> None:
    """Refuse a regression target with cells that are not numbers, saying what to do."""
    found = table.kinds(target)
    if _is_text(found):
        first = found["text"][0]
        raise CLIError(
            f"{table.path}: the target {target!r} holds text ({table.cell(first, target)!r} on line "
            f"{table.lines[first]}), and regression predicts numbers: use --task classification to predict its "
            "values as classes"
        )
    _refuse(table, _not_numbers(table, {target: found}))


def _handle_missing(
    table: Table, columns: list[str], drop: bool, target: str | None, file=None, note: str = ""
) -> Table:
    """The table without rows that miss a value in ``columns``, if --drop-missing; otherwise an error.
    What was dropped is said on ``file`` (stdout if None), with ``note``."""
    gaps = table.missing_rows(columns)
    if not gaps:
        return table
    in_target = [r for r, names in gaps.items() if target in names]
    if not drop:
        what = (
            f"the target {target!r} is missing on {_lines(table, in_target)}"
            if in_target
            else f"{len(gaps)} row(s) miss feature values ({_lines(table, gaps)})"
        )
        raise CLIError(f"{table.path}: {what}; fill them in, or leave those rows out with --drop-missing")
    kept = table.without_rows(gaps)
    if not kept.rows:
        raise CLIError(f"{table.path}: every row misses a value; nothing is left to use")
    print(f"dropped {len(gaps)} row(s) with missing values ({_lines(table, gaps)}){note}", file=file)
    return kept


def _one_hot(table: Table, name: str, known: list[str]) -> np.ndarray:
    """Column ``name`` as one 0/1 column per category in ``known``; a value not among them is an error."""
    index = {value: i for i, value in enumerate(known)}
    values = table.column(name)
    unseen = [r for r, value in enumerate(values) if value not in index]
    if unseen:
        shown = ", ".join(map(repr, known[:10])) + (f" and {len(known) - 10} more" if len(known) > 10 else "")
        raise CLIError(
            f"{table.path}, {table.where(unseen[0], name)} holds {values[unseen[0]]!r}, a value the model never "
            f"saw in training ({len(unseen)} such row(s): {_lines(table, unseen)}); it knows {shown}: correct "
            "those cells or delete their rows"
        )
    return np.eye(len(known))[[index[value] for value in values]]


def _inputs(table: Table, features: list[str], categories: dict[str, list[str]]) -> np.ndarray:
    """The network's input: each numeric feature as it is, each text feature as one 0/1 column per category."""
    blocks = [_one_hot(table, f, categories[f]) if f in categories else table.numeric([f]) for f in features]
    return np.hstack(blocks)


def _input_names(features: list[str], categories: dict[str, list[str]]) -> list[str]:
    """The network's input columns by name: a numeric feature's own, 'colour=red' for a category's."""
    return [name for f in features for name in ([f"{f}={c}" for c in categories[f]] if f in categories else [f])]


def _sources(features: list[str], categories: dict[str, list[str]]) -> list[str]:
    """The CSV column each of the network's inputs comes from."""
    return [f for f in features for _ in categories.get(f, [f])]


def _standardise(scaler: StandardScaler, x: np.ndarray, table: Table, columns: list[str]) -> np.ndarray:
    """``scaler.transform(x)``, ``x``'s columns from the table's ``columns``; a value too far from the training
    rows' to be standardised is an error naming its cell."""
    with np.errstate(over="ignore"):
        out = scaler.transform(x)
    bad = np.argwhere(~np.isfinite(out))
    if len(bad):
        r, c = bad[0]
        raise CLIError(
            f"{table.path}, {table.where(r, columns[c])} holds {x[r, c]:g}, so far from the training "
            f"rows' values (mean {scaler.shift[c]:g}, standard deviation {scaler.scale[c]:g}) that it cannot be "
            "standardised: correct it or delete the row"
        )
    return out


def _fit_scaler(x: np.ndarray, encoded: np.ndarray) -> StandardScaler:
    """Standardisation fitted on the training rows ``x``; one-hot columns (``encoded``) are left as 0 and 1."""
    fitted = StandardScaler().fit(x)
    return StandardScaler(np.where(encoded, 0.0, fitted.shift), np.where(encoded, 1.0, fitted.scale))


def _in_target_units(name: str, scale: float, squared: bool):
    """A metric on the standardised target, reported in the target's units."""

    def metric(y_true, y_pred) -> float:
        if squared:  # root mean squared error
            return math.sqrt(mean_squared_error(y_true, y_pred)) * scale
        return mean_absolute_error(y_true, y_pred) * scale

    metric.__name__ = name
    return metric


def _fit_or_fail(model: Sequential, args, *fit_args, **fit_kwargs):
    """``model.fit``; a diverged loss is an error (nothing is saved) with fit's advice in the flags' terms."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="training stopped: the")  # said below, in one line
        # under mpiexec, data-parallel over the ranks by itself (a process on its own trains as ever)
        history = model.fit(*fit_args, **fit_kwargs, distributed=True)
    last = {key: values[-1] for key, values in history.history.items() if key in ("loss", "val_loss")}
    broken = [f"the {key.replace('_', ' ')} became {value}" for key, value in last.items() if not math.isfinite(value)]
    if broken:
        raise CLIError(
            f"training diverged: {' and '.join(broken)} in epoch {len(history.epoch)}; lower --learning-rate "
            f"(it was {args.learning_rate:g}), or check the data for extreme values; nothing was saved to {args.out}"
        )
    return history


# -- train ---------------------------------------------------------------------------------
def _classes(table: Table, target: str, n: int) -> tuple[list[str], np.ndarray]:
    """The class names in order, and each row's class as an index; a target of too few rows per class refused."""
    labels = _labels(table, target)
    classes = _class_order(set(labels))
    if len(classes) < 2:
        raise CLIError(f"the target {target!r} has a single class {classes}; a classifier needs two or more")
    if MIN_ROWS_PER_CLASS * len(classes) > n:
        numeric = all(is_number(c) for c in classes)
        raise CLIError(
            f"the target {target!r} has {len(classes):,} classes in {n:,} rows, fewer than {MIN_ROWS_PER_CLASS} rows "
            "per class: too few to train on and validate each class; "
            + ("to predict it as a number, use --task regression" if numeric else "is it an id or free text?")
        )
    index = {c: i for i, c in enumerate(classes)}
    return classes, np.array([index[v] for v in labels], dtype=np.int64)


def _split(n: int, y: np.ndarray, args, classification: bool) -> tuple[np.ndarray, np.ndarray]:
    """The rows to train on and to validate on (stratified by class for a classifier)."""
    try:
        (train, _), (val, _), _ = train_val_test_split(
            np.arange(n), y, val_size=args.validation_split, test_size=0.0, stratify=classification, seed=args.seed
        )
    except ValueError:  # the only one it raises here: no rows left to train on
        raise CLIError(
            f"--validation-split {args.validation_split:g} leaves none of the {n} rows to train on: lower it"
        ) from None
    return train, val


def cmd_train(args) -> None:
    curves = os.path.splitext(args.out)[0] + "_curves.png"
    _check_writable(args.out, "--out")
    model_path(args.out, "--out")  # a foreign extension (.onnx, .keras) now, not after training
    if args.plot:
        plot.require_matplotlib()  # before training, not after it
        _check_writable(curves, "--plot")
    if args.features and args.drop:
        raise CLIError("give --features (the columns to use) or --drop (the columns to leave out), not both")
    set_seed(args.seed)
    table = read_csv(args.data, args.delimiter)
    features = _feature_columns(table, args)
    task = args.task or guess_task(table.column(args.target))
    classification = task == "classification"
    if classification:
        _labels(table, args.target)  # its mistakes before those of the features
    else:
        _regression_target(table, args.target)
    text = _check_features(table, features, one_hot=not args.no_one_hot)
    table = _handle_missing(table, [*features, args.target], args.drop_missing, args.target)
    n = len(table.rows)
    if classification:
        classes, y = _classes(table, args.target, n)
    else:
        y = table.numeric([args.target])[:, 0]
    categories = {name: sorted(set(table.column(name))) for name in text}
    X = _inputs(table, features, categories)
    sources = _sources(features, categories)
    train, val = _split(n, y, args, classification)
    patience = args.early_stopping if args.early_stopping is not None else 10
    if patience and not len(val):
        if args.early_stopping:
            raise CLIError("--early-stopping watches the validation loss: it needs --validation-split above 0")
        patience = 0
    scaler = _fit_scaler(X[train], np.array([s in categories for s in sources]))
    Xs = _standardise(scaler, X, table, sources)
    metadata = {"task": task, "target": args.target, "features": features, "scaler": scaler.get_config()}
    if categories:
        metadata["categories"] = categories
    metrics = ["accuracy"]
    if classification:
        metadata["classes"] = classes
        ys = y
    else:
        y_scaler = StandardScaler().fit(y[train, None])
        ys = _standardise(y_scaler, y[:, None], table, [args.target])
        metadata["target_scaler"] = y_scaler.get_config()
        std = float(y_scaler.scale[0])
        metrics = [_in_target_units("mae", std, squared=False), _in_target_units("rmse", std, squared=True)]

    outputs = len(classes) if classification else 1
    _check_memory([X.shape[1], *args.hidden, outputs])
    model = build_model(X.shape[1], args.hidden, outputs, classification, args.activation, args.dropout, args.l2)
    model.compile(
        loss=losses.CategoricalCrossentropy() if classification else losses.MeanSquaredError(),
        optimizer=OPTIMIZERS[args.optimizer](args.learning_rate),
        metrics=metrics,
    )
    model.metadata = metadata
    what = f"classification into {len(classes)} classes" if classification else "regression"
    print(f"{args.data}: {n} rows, {len(features)} features, target {args.target!r} ({what})")
    if categories:
        shown = ", ".join(f"{name!r} ({len(values)})" for name, values in categories.items())
        print(f"text features, encoded as one 0/1 input per value: {shown}; {X.shape[1]} inputs in all")
    split = "stratified by class" if classification else "at random"
    print(f"training on {len(train)} rows, validating on {len(val)} ({split})")
    if not classification:
        print("the loss is the mean squared error of the standardised target; mae and rmse are in its units")
    stop = [callbacks.EarlyStopping(patience=patience)] if patience else []
    history = _fit_or_fail(
        model,
        args,
        Xs[train],
        ys[train],
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_data=(Xs[val], ys[val]) if len(val) else None,
        callbacks=stop,
        verbose=0 if args.quiet else 1,
    )
    if stop and stop[0].best_epoch >= 0:
        print(f"kept the weights of epoch {stop[0].best_epoch + 1} of {len(history.epoch)}, the lowest val_loss")
    model.save(args.out)
    if args.plot:
        plot.training_curves(history, curves)
        print(f"training curves written to {curves}")
    if len(val):
        report = _report(model, Xs[val], ys[val])
        print("validation: " + ", ".join(f"{k} {v:.4f}" for k, v in report.items()))
    print(f"saved to {args.out}")


# -- using a saved model ---------------------------------------------------------------------
def _damaged(path: str, what: str):
    return CLIError(f"{path}: its saved settings are damaged or incomplete ({what}); retrain it")


def _outputs_for(model: Sequential, path: str, x) -> int:
    """The number of outputs the model gives for ``x`` (one sample): checks the two fit together."""
    try:
        return int(np.prod(model.predict(x).shape[1:]))
    except ValueError as exc:
        raise _damaged(path, f"its network does not fit them: {exc}") from None


def _scaler(meta: dict, key: str, size: int, path: str) -> StandardScaler:
    config = meta.get(key)
    ok = isinstance(config, dict) and all(
        isinstance(config.get(k), list)
        and len(config[k]) == size
        and all(isinstance(v, (int, float)) for v in config[k])
        for k in ("mean", "std")
    )
    if not ok or not all(math.isfinite(v) for v in config["mean"] + config["std"]) or min(config["std"]) <= 0:
        raise _damaged(path, f"{key!r} must hold {size} means and positive standard deviations")
    return StandardScaler(**config)


def _categories(meta: dict, path: str) -> dict[str, list[str]]:
    """The categories of the model's text features (none in a model from before they were encoded), checked."""
    categories = meta.get("categories", {})

    def fine(values) -> bool:
        return (
            isinstance(values, list)
            and 1 <= len(values) <= MAX_CATEGORIES
            and all(isinstance(v, str) and v and not CONTROL.search(v) for v in values)
            and len(set(values)) == len(values)
        )

    if not (isinstance(categories, dict) and all(k in meta["features"] and fine(v) for k, v in categories.items())):
        raise _damaged(path, f"'categories' must map text features to lists of 1 to {MAX_CATEGORIES} distinct values")
    return categories


def _load_cli_model(path: str) -> Sequential:
    """A model from `neuronet train`, its saved settings checked: every key there, of the right kind."""
    return _check_cli_model(load_model(path), path)


def _check_cli_model(model: Sequential, path: str) -> Sequential:
    """``model`` (loaded from ``path``) if its `neuronet train` settings are all there, of the right kind."""
    meta = model.metadata
    if "features" not in meta:
        raise CLIError(
            f"{path} was not trained by `neuronet train`: it lacks the feature names and scaling the CLI needs"
        )
    features = meta["features"]
    if not (isinstance(features, list) and features and all(isinstance(f, str) for f in features)):
        raise _damaged(path, "'features' must be a list of column names")
    if meta.get("task") not in ("classification", "regression"):
        raise _damaged(path, "'task' must be 'classification' or 'regression'")
    if not isinstance(meta.get("target"), str):
        raise _damaged(path, "'target' must be a column name")
    inputs = len(_sources(features, _categories(meta, path)))
    _scaler(meta, "scaler", inputs, path)
    outputs = _outputs_for(model, path, np.zeros((1, inputs)))
    if meta["task"] == "classification":
        classes = meta.get("classes")
        if not (isinstance(classes, list) and len(classes) == outputs and all(isinstance(c, str) for c in classes)):
            raise _damaged(path, f"'classes' must name the {outputs} classes the network outputs")
    else:
        _scaler(meta, "target_scaler", 1, path)
    return model


def _read_for(model: Sequential, args, target: bool, keep: list[str] = ()) -> Table:
    """The CSV file of `evaluate` (``target``: with the target) or `predict` (``keep``: columns to copy), checked
    against the model: its columns there, the numeric ones numbers (all problems at once, before missing
    values), rows missing a value dropped if asked."""
    meta = model.metadata
    table = read_csv(args.data, args.delimiter)
    unknown = [c for c in keep if c not in table.columns]
    if unknown:
        raise CLIError(f"--keep: {args.data} has no column(s) {unknown}; its columns are {table.columns}")
    missing = [f for f in meta["features"] if f not in table.columns]
    if missing:
        raise CLIError(
            f"{table.path} lacks the feature column(s) {missing} the model was trained on "
            f"(it expects {len(meta['features'])} features: {meta['features']})"
        )
    if target and meta["target"] not in table.columns:
        raise CLIError(f"{args.data} has no target column {meta['target']!r} to evaluate against")
    numeric = [f for f in meta["features"] if f not in meta.get("categories", {})]
    if target and meta["task"] == "regression":
        numeric.append(meta["target"])
    _refuse(table, _not_numbers(table, {name: table.kinds(name) for name in numeric}))
    if target:
        used = [*meta["features"], meta["target"]]
        return _handle_missing(table, used, args.drop_missing, meta["target"])
    note = "; they get no prediction" + ("" if keep else " (--keep ID copies an id column to line predictions up)")
    # predict's output is the predictions: what it says about the data goes to stderr
    return _handle_missing(table, meta["features"], args.drop_missing, None, file=sys.stderr, note=note)


def _features(model: Sequential, table: Table) -> np.ndarray:
    """The network's input for the table's rows, encoded and standardised as in training."""
    meta = model.metadata
    categories = meta.get("categories", {})
    x = _inputs(table, meta["features"], categories)
    return _standardise(StandardScaler(**meta["scaler"]), x, table, _sources(meta["features"], categories))


def _targets(model: Sequential, table: Table) -> np.ndarray:
    meta = model.metadata
    if meta["task"] == "regression":
        target_scaler = StandardScaler(**meta["target_scaler"])
        return _standardise(target_scaler, table.numeric([meta["target"]]), table, [meta["target"]])
    classes = meta["classes"]
    index = {c: i for i, c in enumerate(classes)}
    # a label is its class by its spelling, or else by its value: 4.0 is the class '4' (a model trained before
    # labels had one spelling may have its classes spelt '4.0' or '04')
    by_value = {}
    for i, c in enumerate(classes):
        if (value := number(c)) is not None:
            by_value.setdefault(value, i)
    found = [v if v in index else number(v) for v in table.column(meta["target"])]
    found = [index[v] if isinstance(v, str) else by_value.get(v) for v in found]
    unknown = [r for r, i in enumerate(found) if i is None]
    if unknown:
        values = sorted({table.cell(r, meta["target"]) for r in unknown})
        raise CLIError(
            f"{table.path}: labels {values[:5]} were not seen in training ({_lines(table, unknown)}; "
            f"known: {classes[:20]}{' ...' if len(classes) > 20 else ''})"
        )
    return np.array(found, dtype=np.int64)


def _report(model: Sequential, Xs: np.ndarray, ys: np.ndarray) -> dict[str, float]:
    """Accuracy and loss for a classifier; MSE, RMSE, MAE and R^2 in the target's own units for a regressor."""
    out = model.predict(Xs)
    if model.metadata["task"] == "classification":
        return {"accuracy": accuracy(ys, out), "loss": losses.CategoricalCrossentropy()(out, ys)}
    # on the standardised values, then in the target's units: the errors of values near 1e308 overflow
    scale = float(model.metadata["target_scaler"]["std"][0])
    rmse = _in_target_units("rmse", scale, squared=True)(ys, out)
    mae = _in_target_units("mae", scale, squared=False)(ys, out)
    return {"mse": rmse * rmse, "rmse": rmse, "mae": mae, "r2": r2_score(ys, out)}


def _confusion_table(y_true, y_pred, classes: list[str]) -> str:
    """The confusion matrix as text: a row per true class, a column per predicted class."""
    counts = confusion_matrix(y_true, y_pred, num_classes=len(classes))
    width = max(8, *(len(c) for c in classes)) + 1
    lines = [
        "confusion matrix (rows: true class, columns: predicted class)",
        " " * width + "".join(f"{c:>{width}}" for c in classes),
    ]
    lines += [f"{c:>{width}}" + "".join(f"{v:>{width}}" for v in row) for c, row in zip(classes, counts)]
    return "\n".join(lines)


def cmd_evaluate(args) -> None:
    model = _load_cli_model(args.model)
    meta = model.metadata
    table = _read_for(model, args, target=True)
    Xs, ys = _features(model, table), _targets(model, table)
    print(f"{args.data}: {len(table.rows)} rows")
    for k, v in _report(model, Xs, ys).items():
        print(f"{k}: {v:.4f}")
    if meta["task"] == "classification":
        if len(meta["classes"]) > CLASSES_SHOWN:  # a table of classes x classes says nothing any more
            print(f"(the per-class report and confusion matrix are shown for up to {CLASSES_SHOWN} classes)")
            return
        predicted = model.predict(Xs)
        print()
        print(classification_report(ys, predicted, class_names=meta["classes"]))
        print()
        print(_confusion_table(ys, predicted, meta["classes"]))


def cmd_predict(args) -> None:
    model = _load_cli_model(args.model)
    meta = model.metadata
    classification = meta["task"] == "classification"
    if args.proba and not classification:
        raise CLIError(f"--proba gives class probabilities, but {args.model} is a regression model")
    if args.out:
        _check_writable(args.out, "--out")
    table = _read_for(model, args, target=False, keep=args.keep or [])
    kept = [table.column(c) for c in args.keep or []]
    out = model.predict(_features(model, table))
    header = list(args.keep or [])
    if classification:
        header += ["prediction", *(meta["classes"] if args.proba else ["probability"])]
        best = out.argmax(axis=1)
        rows = [
            [meta["classes"][k], *(f"{p:.6f}" for p in (row if args.proba else row[k : k + 1]))]
            for k, row in zip(best, out)
        ]
    else:
        header.append("prediction")
        with np.errstate(over="ignore"):  # a prediction beyond float64 is written as inf
            values = StandardScaler(**meta["target_scaler"]).inverse_transform(out)[:, 0]
        rows = [[f"{v:.6g}"] for v in values]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([*(column[i] for column in kept), *row] for i, row in enumerate(rows))
    if args.out:
        atomic_write_bytes(args.out, buffer.getvalue().encode())
        print(f"wrote {len(out)} predictions to {args.out}")
    else:
        sys.stdout.write(buffer.getvalue())


def _text_settings(model: Sequential, path: str) -> tuple[Tokenizer, int, list[str]]:
    """The tokenizer, padded length and class names a text model was saved with, each checked."""
    meta = model.metadata
    if meta.get("task") != "text":
        raise CLIError(f"{path} is not a text model (train one with `neuronet demo text --out MODEL`)")
    config, maxlen, classes = meta.get("tokenizer"), meta.get("maxlen"), meta.get("classes")
    index = config.get("word_index") if isinstance(config, dict) else None
    if not (isinstance(index, dict) and all(isinstance(i, int) and not isinstance(i, bool) for i in index.values())):
        raise _damaged(path, "'tokenizer' must hold a word index")
    if not (isinstance(config.get("lower"), bool) and isinstance(config.get("keep_punctuation"), bool)):
        raise _damaged(path, "the tokenizer's 'lower' and 'keep_punctuation' must be true or false")
    if not (isinstance(config.get("num_words"), int) or config.get("num_words") is None):
        raise _damaged(path, "the tokenizer's 'num_words' must be a whole number or null")
    if not (isinstance(maxlen, int) and not isinstance(maxlen, bool) and maxlen >= 1):
        raise _damaged(path, "'maxlen' must be a positive whole number")
    outputs = _outputs_for(model, path, np.zeros((1, maxlen), np.int64))
    if not (isinstance(classes, list) and len(classes) == outputs and all(isinstance(c, str) for c in classes)):
        raise _damaged(path, f"'classes' must name the {outputs} classes the network outputs")
    return Tokenizer.from_config(config), maxlen, classes


def _print_text_predictions(model: Sequential, sentences: list[str], path: str = "the model") -> None:
    tokenizer, maxlen, classes = _text_settings(model, path)
    tokens = [tokenizer.tokenize(s) for s in sentences]
    for i, (sentence, words) in enumerate(zip(sentences, tokens), start=1):
        if not words:
            raise CLIError(f"sentence {i} ({sentence!r}) holds no words to classify")
    ids = tokenizer.texts_to_sequences(sentences)
    for sentence, words, sequence, probs in zip(sentences, tokens, ids, model.predict(pad_sequences(ids, maxlen))):
        k = int(probs.argmax())
        line = f"{classes[k]:>9} ({probs[k]:6.1%})  "
        print(line + sentence)
        unknown = sorted({w for w, t in zip(words, sequence) if t == OOV})
        if unknown:
            print(" " * len(line) + f"not in the vocabulary, read as unknown: {', '.join(map(repr, unknown))}")
        if len(words) > maxlen:
            print(" " * len(line) + f"longer than the {maxlen} words the model reads: only the last {maxlen} were read")


def cmd_predict_text(args) -> None:
    _print_text_predictions(load_model(args.model), args.sentences, args.model)


def cmd_summary(args) -> None:
    model = load_model(args.model)
    model.summary()
    for key in ("task", "target", "features", "categories", "classes"):
        if key in model.metadata:
            print(f"{key}: {model.metadata[key]}")


def cmd_export(args) -> None:
    """A model as ONNX; one from `neuronet train` with its scaling inside, so the graph takes the CSV's
    feature values and gives the target in its units (or the classes' probabilities)."""
    _check_writable(args.out, "OUT")
    model = load_model(args.model)
    if "features" not in model.metadata:
        dims = onnx_export(model, args.out, input_shape=args.input_shape)
        print(f"{args.model} written as ONNX to {args.out} (input: {' x '.join(map(str, dims))})")
        return
    model, meta = _check_cli_model(model, args.model), model.metadata
    scaling = {"input_scaling": (meta["scaler"]["mean"], meta["scaler"]["std"])}
    if meta["task"] == "regression":
        scaling["output_scaling"] = (meta["target_scaler"]["mean"], meta["target_scaler"]["std"])
    onnx_export(model, args.out, input_shape=args.input_shape, **scaling)
    out = f"the probabilities of {meta['classes']}" if meta["task"] == "classification" else meta["target"]
    inputs = f"the features {meta['features']} as in the CSV"
    if meta.get("categories"):
        names = _input_names(meta["features"], meta["categories"])
        inputs = f"the {len(names)} columns {names} (a text feature as one 0/1 column per value, numbers as in the CSV)"
    print(f"{args.model} written as ONNX to {args.out}: input {inputs} (scaled inside the graph), output {out}")


def _shape(text: str) -> list[int]:
    """--input-shape: sizes separated by commas, without the batch."""
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes sizes separated by commas, e.g. 28,28,1; got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be 1 or more, got {text!r}")
    return sizes


# -- wiring ----------------------------------------------------------------------------------
class Parser(argparse.ArgumentParser):
    """argparse, with a mistake reported as one line (not the usage block) and exit code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int(low: int):
    """An argparse type: a whole number >= low."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be {low} or more, got {value}")
        return value

    return parse


def _number(**limits):
    """An argparse type: a finite number within ``limits`` (as ``checks.number`` takes them)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        try:
            return checks.number(value, "it", **limits)
        except checks.ArgumentError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix("it ")) from None

    return parse


def _sizes(text: str) -> list[int]:
    """--hidden: sizes separated by commas, or "none" for no hidden layer."""
    if text.strip().lower() == "none":
        return []
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"takes layer sizes separated by commas, e.g. 64,32 (or none for no hidden layer); got {text!r}"
        ) from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be 1 or more, got {text!r}")
    return sizes


def _names(text: str) -> list[str]:
    """A list of column names separated by commas ('' names a column with no name, as pandas' index)."""
    return [n.strip() for n in text.split(",")]


def _delimiter(text: str) -> str:
    text = {"tab": "\t", "\\t": "\t"}.get(text, text)
    if len(text) != 1:
        raise argparse.ArgumentTypeError(f"takes one character (or tab), got {text!r}")
    return text


def _add_delimiter(p) -> None:
    p.add_argument(
        "--delimiter",
        type=_delimiter,
        help="the CSV's column separator (default: found from the header line: , ; tab or |)",
    )


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="neuronet", description="Neural networks from scratch on NumPy.")
    p.add_argument("--version", action="version", version=f"neuronet {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("demo", help="train a network on bundled data (no download) and report test scores")
    d.add_argument(
        "kind",
        nargs="?",
        choices=sorted([*DEMOS, "gan"]),
        default="dense",
        help="dense: digits as pixels (default); cnn: digits as images; text: sentiment of reviews; "
        "forecast: monthly CO2 at Mauna Loa, forecast by an LSTM; gan: a GAN that learns to draw digits (300 "
        "epochs: about half a minute on an idle 2-core machine, several times longer when other work shares "
        "the cores)",
    )
    d.add_argument(
        "--model",
        choices=sorted(TEXT_MODELS),
        help="the network of `demo text`: cnn (default), lstm or gru, to compare them on the same reviews",
    )
    d.add_argument("--epochs", type=_int(1), help="passes over the training data (default 30; gan 300)")
    d.add_argument("--seed", type=int, default=0, help="random seed for the split and the weights (default 0)")
    d.add_argument(
        "--plot",
        nargs="?",
        const=True,
        metavar="PNG",
        help=f"write the training curves to PNG ({CURVES_PICTURE} if no name is given; default: no picture); "
        f"forecast: the forecast against the truth (default {FORECAST_PICTURE}); gan: the losses, and samples "
        f"every {GAN_EVERY} epochs to {GAN_GRIDS.replace('{epoch:03d}', 'NNN')}",
    )
    d.add_argument(
        "--out", help="save the trained model here (the text demo's works with predict-text; default: not saved)"
    )
    d.set_defaults(func=cmd_demo)

    t = sub.add_parser("train", help="train on a CSV file with a header row")
    t.add_argument(
        "data",
        help="CSV file: a header row, feature columns (numbers, or text encoded one-hot) and one target column; "
        "numbers are ASCII digits with an optional sign, decimal point and exponent (1e-3); a first column with "
        "no name and distinct whole numbers (a pandas index) is left out",
    )
    t.add_argument("--target", required=True, help="name of the column to predict (required)")
    t.add_argument("--out", required=True, help="where to save the model, e.g. model.nnet (required)")
    t.add_argument(
        "--features",
        type=_names,
        action="extend",
        help="the columns to learn from, e.g. a,b,c (default: all but the target)",
    )
    t.add_argument("--drop", type=_names, action="extend", help="columns to leave out, e.g. id,name (default: none)")
    t.add_argument(
        "--task",
        choices=["classification", "regression"],
        help="default: classification for text labels or up to 20 whole-number values, else regression; "
        "numeric labels are numbers (2, 2.0 and +2 are one class, named 2)",
    )
    t.add_argument(
        "--no-one-hot",
        action="store_true",
        help=f"refuse text feature columns; default: each is encoded as one 0/1 input per value (at most "
        f"{MAX_CATEGORIES}, and half the rows), the values saved in the model; a value not seen in training is "
        "an error in evaluate and predict",
    )
    t.add_argument(
        "--hidden",
        type=_sizes,
        default="64",
        help="hidden layer sizes, e.g. 64,32, or none for no hidden layer (default 64)",
    )
    t.add_argument("--activation", choices=ACTIVATIONS, default="relu", help="of the hidden layers (default relu)")
    t.add_argument(
        "--dropout",
        type=_number(low=0.0, high=1.0, high_open=True),
        default=0.0,
        help="fraction of each hidden layer's outputs dropped while training (default 0: no dropout)",
    )
    t.add_argument(
        "--l2", type=_number(low=0.0), default=0.0, help="L2 penalty on every layer's weights (default 0: none)"
    )
    t.add_argument(
        "--optimizer",
        choices=sorted(OPTIMIZERS),
        default="adam",
        help="the rule that turns gradients into steps (default adam)",
    )
    t.add_argument(
        "--learning-rate", type=_number(low=0.0, low_open=True), default=0.001, help="step size (default 0.001)"
    )
    t.add_argument("--epochs", type=_int(1), default=200, help="most passes over the training rows (default 200)")
    t.add_argument("--batch-size", type=_int(1), default=32, help="rows per training step (default 32)")
    t.add_argument(
        "--early-stopping",
        type=_int(0),
        metavar="PATIENCE",
        help="stop when the validation loss has not improved for PATIENCE epochs and keep the best epoch's "
        "weights (default 10; 0 trains every epoch)",
    )
    t.add_argument(
        "--validation-split",
        type=_number(low=0.0, high=1.0, high_open=True),
        default=0.2,
        help="fraction of rows held out to validate on, stratified by class for classification (default 0.2)",
    )
    t.add_argument(
        "--drop-missing",
        action="store_true",
        help="leave out rows with a missing value (empty, NA, NaN, null, ?) in a used column; default: stop "
        "with an error naming them",
    )
    _add_delimiter(t)
    t.add_argument("--seed", type=int, default=0, help="random seed for the split and the weights (default 0)")
    t.add_argument("--quiet", action="store_true", help="print no line per epoch")
    t.add_argument("--plot", action="store_true", help="write the training curves as PNG next to the model")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="score a trained model on a labelled CSV file")
    e.add_argument("model", help="a model file from `neuronet train`")
    e.add_argument("data", help="CSV file with the model's feature columns and its target column")
    e.add_argument("--drop-missing", action="store_true", help="leave out rows with a missing value (default: error)")
    _add_delimiter(e)
    e.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("predict", help="predict the target for each row of a CSV file")
    pr.add_argument("model", help="a model file from `neuronet train`")
    pr.add_argument("data", help="CSV file with the model's feature columns")
    pr.add_argument("--out", help="CSV file for the predictions (default: print them)")
    pr.add_argument("--proba", action="store_true", help="one probability column per class, headed by its name")
    pr.add_argument(
        "--keep",
        type=_names,
        action="extend",
        help="columns copied into the predictions first, e.g. an id column (default: none)",
    )
    pr.add_argument(
        "--drop-missing",
        action="store_true",
        help="leave out rows with a missing value in a feature (said on stderr; they get no prediction, so "
        "--keep an id column to line the rest up); default: error",
    )
    _add_delimiter(pr)
    pr.set_defaults(func=cmd_predict)

    pt = sub.add_parser("predict-text", help="classify sentences with a text model (from `demo text --out`)")
    pt.add_argument("model", help="a model file from `neuronet demo text --out MODEL`")
    pt.add_argument("sentences", nargs="+", help="one or more sentences, each in quotes")
    pt.set_defaults(func=cmd_predict_text)

    s = sub.add_parser("summary", help="show a saved model's layers, shapes and parameter counts")
    s.add_argument("model", help="a model file")
    s.set_defaults(func=cmd_summary)

    e = sub.add_parser("export", help="write a saved model as ONNX (needs the onnx extra)")
    e.add_argument("model", help="a model file")
    e.add_argument("out", metavar="OUT.onnx", help="the ONNX file to write")
    e.add_argument(
        "--input-shape", type=_shape, help="the input's sizes without the batch, e.g. 28,28,1, if the file lacks them"
    )
    e.set_defaults(func=cmd_export)
    return p


def main(argv: list[str] | None = None) -> int:
    if not process.is_writer():  # under mpiexec, rank 0 speaks for all
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 -- for the life of the process
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # named by the command's own parser, whose --help lists what it takes
            command = f"{parser.prog} {args.command}"
            parser.exit(2, f"{command}: error: unrecognized arguments: {' '.join(extra)} (see {command} --help)\n")
        if args.command == "demo" and args.model is not None and args.kind != "text":
            parser.error(f"--model chooses the network of `demo text`, not of `demo {args.kind}`")
    except SystemExit as exc:  # --help, --version, or a mistake in the command (already printed)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        args.func(args)
    except BrokenPipeError:  # the reader went away (neuronet evaluate ... | head): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (ValueError, TypeError, OSError, ImportError, MemoryError, ModelFileError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__  # one line, whatever the message held
        if isinstance(exc, MemoryError):
            message = f"not enough memory ({message}); use smaller layers or less data"
        print(f"neuronet: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("neuronet: interrupted", file=sys.stderr)
        return 130
    return 0
