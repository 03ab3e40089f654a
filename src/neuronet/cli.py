"""The ``neuronet`` command line: a demo, and training on your own CSV data.

    neuronet demo [dense|cnn|text]
    neuronet predict-text sentiment.nnet "the plot was not boring"
    neuronet train data.csv --target label --hidden 64,32 --epochs 30 --out model.nnet
    neuronet evaluate model.nnet test.csv
    neuronet predict model.nnet new.csv --out predictions.csv
    neuronet summary model.nnet

Features are standardised with the mean and standard deviation of the
training part only; those statistics, the feature names and the class names
are saved in the model file, so ``evaluate`` and ``predict`` apply the same
transformation. Every error is one line and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
import sys

import numpy as np

from . import __version__, datasets, layers, losses, optimizers, plot
from .backend import set_seed
from .data import StandardScaler, Table, read_csv, train_val_test_split
from .metrics import (
    accuracy,
    classification_report,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision,
    r2_score,
    recall,
)
from .model import Sequential, load_model
from .saving import ModelFileError, atomic_write_bytes
from .text import PAD, Tokenizer, pad_sequences

MAX_CLASSES_GUESSED = 20  # an integer target with at most this many values is taken as class labels


class CLIError(ValueError):
    """A mistake in the command or the data: printed as one line."""


def build_model(n_inputs: int, hidden: list[int], n_outputs: int, classification: bool) -> Sequential:
    sizes = [n_inputs, *hidden]
    model = Sequential([layers.Dense(a, b, activation="relu") for a, b in zip(sizes[:-1], sizes[1:])])
    model.add(layers.Dense(sizes[-1], n_outputs, activation="softmax" if classification else None))
    return model


# -- demos -------------------------------------------------------------------------------
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
    model = build_model(64, [64], 10, classification=True)
    model.compile(loss=losses.CategoricalCrossentropy(), optimizer=optimizers.Adam(0.005), metrics=["accuracy"])
    return model, (xt, yt), (xv, yv), (xs, ys), "digits"


def _demo_cnn(args):
    (xt, yt), (xv, yv), (xs, ys) = _digits_split(args.seed, images=True)
    print(f"8x8 handwritten digits as images: {len(xt)} training, {len(xv)} validation, {len(xs)} test images")
    L = layers
    model = Sequential(
        [
            L.RandomTranslation(0.1),  # augmentation: only while training
            L.RandomRotation(0.03),
            L.Conv2D(1, 16, 3, padding="same", activation="relu"),
            L.MaxPool2D(2),
            L.Conv2D(16, 32, 3, padding="same", activation="relu"),
            L.MaxPool2D(2),
            L.Flatten(),
            L.Dense(128, 64, activation="relu"),
            L.Dropout(0.2),
            L.Dense(64, 10, activation="softmax"),
        ],
        input_shape=(8, 8, 1),
    )
    model.compile(loss=losses.CategoricalCrossentropy(), optimizer=optimizers.Adam(0.003), metrics=["accuracy"])
    return model, (xt, yt), (xv, yv), (xs, ys), "digits"


TEXT_LENGTH = 12  # tokens per review after padding


def _demo_text(args):
    texts, y = datasets.sentiment(3000, seed=args.seed)
    cut, val = 2100, 2400
    tokenizer = Tokenizer().fit(texts[:cut])
    X = pad_sequences(tokenizer.texts_to_sequences(texts), maxlen=TEXT_LENGTH)
    print(f"{len(texts)} short film reviews (1 positive, 0 negative), e.g. {texts[0]!r} -> {y[0]}")
    print(f"vocabulary of {tokenizer.vocab_size} ids; each review padded to {TEXT_LENGTH} tokens")
    L = layers
    model = Sequential(
        [
            L.Embedding(tokenizer.vocab_size, 32, padding_id=PAD),
            L.Conv1D(32, 64, 3, padding="same", activation="relu"),  # reads 3 words at a time, in order
            L.GlobalMaxPool1D(),
            L.Dense(64, 2, activation="softmax"),
        ],
        input_shape=(TEXT_LENGTH,),
    )
    model.compile(loss=losses.CategoricalCrossentropy(), optimizer=optimizers.Adam(0.005), metrics=["accuracy"])
    model.metadata = {
        "task": "text",
        "tokenizer": tokenizer.get_config(),
        "maxlen": TEXT_LENGTH,
        "classes": ["negative", "positive"],
    }
    return model, (X[:cut], y[:cut]), (X[cut:val], y[cut:val]), (X[val:], y[val:]), "reviews"


DEMOS = {"dense": _demo_dense, "cnn": _demo_cnn, "text": _demo_text}


def cmd_demo(args) -> None:
    if args.plot:
        plot.require_matplotlib()  # before training, not after it
    set_seed(args.seed)
    model, (xt, yt), (xv, yv), (xs, ys), what = DEMOS[args.kind](args)
    model.summary()
    history = model.fit(xt, yt, epochs=args.epochs or 30, batch_size=32, validation_data=(xv, yv), verbose=1)
    _report_classifier(model, xs, ys, what)
    if args.plot:
        plot.training_curves(history, args.plot)
        print(f"training curves written to {args.plot}")
    if args.out:
        model.save(args.out)
        print(f"model saved to {args.out}")
    if args.kind == "text":
        examples = ["the movie was good , not bad", "the movie was bad , not good", "i did not think it was dull"]
        _print_text_predictions(model, examples)
        print(f'try your own: neuronet predict-text {args.out or "MODEL"} "the plot was not boring"')


# -- train ------------------------------------------------------------------------------
def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def guess_task(values: list[str]) -> str:
    """Classification for text labels or few integer values; regression otherwise."""
    if not all(_is_number(v) for v in values):
        return "classification"
    numbers = np.array([float(v) for v in values])
    few = len(np.unique(numbers)) <= MAX_CLASSES_GUESSED
    return "classification" if few and np.all(numbers == np.round(numbers)) else "regression"


def _class_order(labels: set[str]) -> list[str]:
    if all(_is_number(v) for v in labels):
        return sorted(labels, key=float)
    return sorted(labels)


def _parse_hidden(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise CLIError(f"--hidden takes layer sizes separated by commas, e.g. 64,32; got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise CLIError(f"--hidden sizes must be positive, got {text!r}")
    return sizes


def cmd_train(args) -> None:
    if args.plot:
        plot.require_matplotlib()  # before training, not after it
    set_seed(args.seed)
    table = read_csv(args.data)
    target = table.column(args.target)
    features = [c for c in table.columns if c != args.target]
    if not features:
        raise CLIError(f"{args.data} has no feature columns besides the target {args.target!r}")
    X = table.numeric(features)
    task = args.task or guess_task(target)
    classification = task == "classification"
    if classification:
        classes = _class_order(set(target))
        if len(classes) < 2:
            raise CLIError(f"the target {args.target!r} has a single class {classes}; a classifier needs two or more")
        index = {c: i for i, c in enumerate(classes)}
        y = np.array([index[v] for v in target])
    else:
        y = table.numeric([args.target])[:, 0]

    n = len(X)
    n_val = int(round(n * args.validation_split))
    if n - n_val < 1:
        raise CLIError(f"{n} rows leave nothing to train on with --validation-split {args.validation_split}")
    order = np.random.default_rng(args.seed).permutation(n)
    train, val = order[: n - n_val], order[n - n_val :]
    scaler = StandardScaler().fit(X[train])
    Xs = scaler.transform(X)
    metadata = {"task": task, "target": args.target, "features": features, "scaler": scaler.get_config()}
    if classification:
        metadata["classes"] = classes
        ys = y
    else:
        y_scaler = StandardScaler().fit(y[train, None])
        ys = y_scaler.transform(y[:, None])
        metadata["target_scaler"] = y_scaler.get_config()

    hidden = _parse_hidden(args.hidden)
    model = build_model(len(features), hidden, len(classes) if classification else 1, classification)
    model.compile(
        loss=losses.CategoricalCrossentropy() if classification else losses.MeanSquaredError(),
        optimizer=optimizers.Adam(args.learning_rate),
        metrics=["accuracy"] if classification else [],
    )
    model.metadata = metadata
    what = f"classification into {len(classes)} classes" if classification else "regression"
    print(f"{args.data}: {n} rows, {len(features)} features, target {args.target!r} ({what})")
    print(f"training on {len(train)} rows, validating on {len(val)}")
    history = model.fit(
        Xs[train],
        ys[train],
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_data=(Xs[val], ys[val]) if len(val) else None,
        verbose=0 if args.quiet else 1,
    )
    model.save(args.out)
    if args.plot:
        picture = os.path.splitext(args.out)[0] + "_curves.png"
        plot.training_curves(history, picture)
        print(f"training curves written to {picture}")
    if len(val):
        report = _report(model, Xs[val], ys[val])
        print("validation: " + ", ".join(f"{k} {v:.4f}" for k, v in report.items()))
    print(f"saved to {args.out}")


# -- using a saved model ------------------------------------------------------------------
def _load_cli_model(path: str) -> Sequential:
    model = load_model(path)
    if "features" not in model.metadata:
        raise CLIError(
            f"{path} was not trained by `neuronet train`: it lacks the feature names and scaling the CLI needs"
        )
    return model


def _features(model: Sequential, table: Table) -> np.ndarray:
    meta = model.metadata
    missing = [f for f in meta["features"] if f not in table.columns]
    if missing:
        raise CLIError(
            f"{table.path} lacks the feature column(s) {missing} the model was trained on "
            f"(it expects {len(meta['features'])} features: {meta['features']})"
        )
    return StandardScaler(**meta["scaler"]).transform(table.numeric(meta["features"]))


def _targets(model: Sequential, table: Table) -> np.ndarray:
    meta = model.metadata
    values = table.column(meta["target"])
    if meta["task"] == "classification":
        index = {c: i for i, c in enumerate(meta["classes"])}
        unknown = sorted(set(values) - set(index))
        if unknown:
            raise CLIError(f"{table.path}: labels {unknown[:5]} were not seen in training (known: {meta['classes']})")
        return np.array([index[v] for v in values])
    return StandardScaler(**meta["target_scaler"]).transform(table.numeric([meta["target"]]))


def _report(model: Sequential, Xs: np.ndarray, ys: np.ndarray) -> dict[str, float]:
    """Accuracy and loss for a classifier; MSE, MAE and R^2 in the target's own units for a regressor."""
    if model.metadata["task"] == "classification":
        out = model.predict(Xs)
        return {"accuracy": accuracy(ys, out), "loss": losses.CategoricalCrossentropy()(out, ys)}
    y_scaler = StandardScaler(**model.metadata["target_scaler"])
    pred = y_scaler.inverse_transform(model.predict(Xs))
    true = y_scaler.inverse_transform(ys)
    return {"mse": mean_squared_error(true, pred), "mae": mean_absolute_error(true, pred), "r2": r2_score(true, pred)}


def cmd_evaluate(args) -> None:
    model = _load_cli_model(args.model)
    table = read_csv(args.data)
    if model.metadata["target"] not in table.columns:
        raise CLIError(f"{args.data} has no target column {model.metadata['target']!r} to evaluate against")
    report = _report(model, _features(model, table), _targets(model, table))
    print(f"{args.data}: {len(table.rows)} rows")
    for k, v in report.items():
        print(f"{k}: {v:.4f}")


def cmd_predict(args) -> None:
    model = _load_cli_model(args.model)
    table = read_csv(args.data)
    out = model.predict(_features(model, table))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if model.metadata["task"] == "classification":
        classes = model.metadata["classes"]
        writer.writerow(["prediction", "probability"])
        for row in out:
            k = int(row.argmax())
            writer.writerow([classes[k], f"{row[k]:.6f}"])
    else:
        values = StandardScaler(**model.metadata["target_scaler"]).inverse_transform(out)[:, 0]
        writer.writerow(["prediction"])
        writer.writerows([f"{v:.6g}"] for v in values)
    if args.out:
        atomic_write_bytes(args.out, buffer.getvalue().encode())
        print(f"wrote {len(out)} predictions to {args.out}")
    else:
        sys.stdout.write(buffer.getvalue())


def _print_text_predictions(model: Sequential, sentences: list[str]) -> None:
    meta = model.metadata
    tokenizer = Tokenizer.from_config(meta["tokenizer"])
    ids = pad_sequences(tokenizer.texts_to_sequences(sentences), maxlen=meta["maxlen"])
    for sentence, probs in zip(sentences, model.predict(ids)):
        k = int(probs.argmax())
        print(f"{meta['classes'][k]:>9} ({probs[k]:.1%})  {sentence}")


def cmd_predict_text(args) -> None:
    model = load_model(args.model)
    if model.metadata.get("task") != "text":
        raise CLIError(f"{args.model} is not a text model (train one with `neuronet demo text --out MODEL`)")
    _print_text_predictions(model, args.sentences)


def cmd_summary(args) -> None:
    model = load_model(args.model)
    model.summary()
    for key in ("task", "target", "features", "classes"):
        if key in model.metadata:
            print(f"{key}: {model.metadata[key]}")


# -- wiring -----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="neuronet", description="Neural networks from scratch on NumPy.")
    p.add_argument("--version", action="version", version=f"neuronet {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="train a network on bundled data (no download) and report test scores")
    d.add_argument(
        "kind",
        nargs="?",
        choices=sorted(DEMOS),
        default="dense",
        help="dense: digits as pixels (default); cnn: digits as images; text: sentiment of reviews",
    )
    d.add_argument("--epochs", type=int, help="default 30")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument(
        "--plot",
        nargs="?",
        const="demo_curves.png",
        metavar="PNG",
        help="write the training curves to PNG (default demo_curves.png)",
    )
    d.add_argument("--out", help="save the trained model here (the text demo's works with predict-text)")
    d.set_defaults(func=cmd_demo)

    t = sub.add_parser("train", help="train on a CSV file with a header row")
    t.add_argument("data", help="CSV file: numeric feature columns and one target column")
    t.add_argument("--target", required=True, help="name of the column to predict")
    t.add_argument("--out", required=True, help="where to save the model (e.g. model.nnet)")
    t.add_argument("--hidden", default="64", help="hidden layer sizes, e.g. 64,32 (default 64)")
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--learning-rate", type=float, default=0.001)
    t.add_argument("--validation-split", type=float, default=0.2, help="fraction held out (default 0.2)")
    t.add_argument("--task", choices=["classification", "regression"], help="default: guessed from the target")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--plot", action="store_true", help="write the training curves as PNG next to the model")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="score a trained model on a labelled CSV file")
    e.add_argument("model")
    e.add_argument("data")
    e.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("predict", help="predict the target for each row of a CSV file")
    pr.add_argument("model")
    pr.add_argument("data")
    pr.add_argument("--out", help="CSV file for the predictions (default: print them)")
    pr.set_defaults(func=cmd_predict)

    pt = sub.add_parser("predict-text", help="classify sentences with a text model (from `demo text --out`)")
    pt.add_argument("model")
    pt.add_argument("sentences", nargs="+", help="one or more sentences, each in quotes")
    pt.set_defaults(func=cmd_predict_text)

    s = sub.add_parser("summary", help="show a saved model's layers, shapes and parameter counts")
    s.add_argument("model")
    s.set_defaults(func=cmd_summary)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError, ModelFileError, OSError, ImportError) as exc:
        print(f"neuronet: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("neuronet: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
