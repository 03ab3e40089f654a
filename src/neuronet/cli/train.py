"""`neuronet train`: a network of dense layers trained on a CSV table, saved with its table settings.

The table is checked whole before training starts, read in chunks of rows (never whole: ``table_summary.py``);
the features are encoded and standardised with the training rows' statistics only into a file the training
reads a batch at a time (``encoded_table.py``), and a regression target is standardised as well (its scores
are reported back in its own units). A loss that diverges is an error, and nothing is saved.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings

import numpy as np

from .. import callbacks, layers, losses, memory, optimizers, plot, sample_weights
from ..data import ArrayDataset, StandardScaler, Subset, train_val_test_split
from ..layers import activations
from ..saving import model_path
from ..sequential import Sequential
from ..settings import set_seed
from .arguments import CLIError, check_writable
from .encoded_table import chunks, encoded, fitted_scaler, scratch, standardised
from .reading import (
    categories_of,
    check_features,
    classes,
    feature_columns,
    guess_task,
    handle_missing,
    labels,
    regression_target,
)
from .scores import in_target_units, scores
from .table_settings import TableSettings, sources, standardise
from .table_summary import summarise

BYTES_PER_PARAMETER = 28  # float32 weights, gradients, Adam's two moments and scratch, plus a float64 draw at init
FEATURES_NAMED = 12  # the first line names this many feature columns (the rest: summary, or the model file)


def optimizer_classes() -> dict[str, type]:
    """The optimizers --optimizer offers, by their class names in lower case: the library's registry, less a
    subclass that a program defines (it registers itself too, but is not the command's to offer)."""
    registry = optimizers.OPTIMIZERS
    return {name.lower(): cls for name, cls in registry.items() if cls.__module__ == optimizers.__name__}


def hidden_activations() -> list[str]:
    """The activations --activation offers: the library's registry less softmax, which makes a layer's outputs
    probabilities that sum to 1, an output layer's activation and not a hidden one's."""
    return [name for name in activations.ACTIVATIONS if name != "softmax"]


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


def _check_memory(sizes: list[int]) -> None:
    """Refuse a network that cannot fit in memory before allocating it (MemoryError would come after)."""
    count = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    memory.require(
        count * BYTES_PER_PARAMETER,
        f"--hidden {','.join(map(str, sizes[1:-1]))} makes a network of {count:,} parameters, which to train",
        "use smaller layers",
    )


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


def cmd_train(args) -> None:
    """`neuronet train DATA --target T --out MODEL`: check the table whole, train, save with its settings."""
    curves = os.path.splitext(args.out)[0] + "_curves.png"
    check_writable(args.out, "--out")
    model_path(args.out, "--out")  # a foreign extension (.onnx, .keras) now, not after training
    if args.plot:
        plot.require_matplotlib()  # before training, not after it
        check_writable(curves, "--plot")
    if args.features and args.drop:
        raise CLIError("give --features (the columns to use) or --drop (the columns to leave out), not both")
    set_seed(args.seed)
    table = summarise(chunks(args.data, args.delimiter), args.target)
    features = feature_columns(table, args)
    task = args.task or guess_task(table, args.target)
    classification = task == "classification"
    if args.class_weight and not classification:
        raise CLIError(
            f"--class-weight {args.class_weight} weights the classes of a classification, but {args.target!r} is "
            "trained as a regression: leave out --class-weight (or give --task classification)"
        )
    if classification:
        labels(table, args.target)  # its mistakes before those of the features
    else:
        regression_target(table, args.target)
    text = check_features(table, features, one_hot=not args.no_one_hot)
    kept = handle_missing(table, [*features, args.target], args.drop_missing, args.target)
    n = len(kept)
    if classification:
        names, y = classes(table, args.target, kept)
    else:
        y = table.numbers(args.target)[kept]
    categories = categories_of(table, text, kept)
    columns = sources(features, categories)
    train, val = _split(n, y, args, classification)
    patience = args.early_stopping if args.early_stopping is not None else 10
    if patience and not len(val):
        if args.early_stopping:
            raise CLIError("--early-stopping watches the validation loss: it needs --validation-split above 0")
        patience = 0
    kept_table = dataclasses.replace(table, n=n, lines=table.lines[kept])  # row r: the r-th row kept
    settings = TableSettings(task, args.target, features, None, categories, names if classification else None)
    with scratch() as folder:
        X = encoded(args.data, args.delimiter, table.n, kept, features, categories, folder)
        settings.scaler = fitted_scaler(X, train, np.array([c in categories for c in columns]))
        Xs = standardised(X, settings.scaler, kept_table, columns, folder)
        os.remove(X.filename)  # (read no more: its disk space back before training)
        del X
        if not classification:
            settings.target_scaler = StandardScaler().fit(y[train, None])
            y = standardise(settings.target_scaler, y[:, None], kept_table, [args.target])
        _train(args, settings, ArrayDataset(Xs, y), train, val, patience, curves)


def _train(args, settings: TableSettings, data: ArrayDataset, train, val, patience: int, curves: str) -> None:
    """Build, train and save the network on the rows ``train`` of ``data`` (the standardised inputs and the
    targets), validating on its rows ``val``; say what is done."""
    classification, features, categories = settings.classification, settings.features, settings.categories
    metrics = ["accuracy"]
    if not classification:
        std = float(settings.target_scaler.scale[0])
        metrics = [in_target_units("mae", std, squared=False), in_target_units("rmse", std, squared=True)]
    inputs = data.x.shape[1]
    outputs = len(settings.classes) if classification else 1
    _check_memory([inputs, *args.hidden, outputs])
    model = build_model(inputs, args.hidden, outputs, classification, args.activation, args.dropout, args.l2)
    model.compile(
        loss=losses.CategoricalCrossentropy() if classification else losses.MeanSquaredError(),
        optimizer=optimizer_classes()[args.optimizer](args.learning_rate),
        metrics=metrics,
    )
    model.metadata = settings.to_metadata()
    what = f"classification into {outputs} classes" if classification else "regression"
    named = ", ".join(features[:FEATURES_NAMED]) + (", ..." if len(features) > FEATURES_NAMED else "")
    print(f"{args.data}: {len(data)} rows, {len(features)} features ({named}), target {args.target!r} ({what})")
    if categories:
        shown = ", ".join(f"{name!r} ({len(values)})" for name, values in categories.items())
        print(f"text features, encoded as one 0/1 input per value: {shown}; {inputs} inputs in all")
    split = "stratified by class" if classification else "at random"
    print(f"training on {len(train)} rows, validating on {len(val)} ({split})")
    if not classification:
        print("the loss is the mean squared error of the standardised target; mae and rmse are in its units")
    weights = sample_weights.balanced(data.y[train]) if args.class_weight else None
    if weights:
        shown = ", ".join(f"{settings.classes[c]} {w:.3g}" for c, w in weights.items())
        print(f"class weights ({args.class_weight}): {shown}")
    stop = [callbacks.EarlyStopping(patience=patience)] if patience else []
    history = _fit_or_fail(
        model,
        args,
        Subset(data, train),
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_data=Subset(data, val) if len(val) else None,
        callbacks=stop + ([callbacks.TrainingDoctor()] if args.doctor else []),
        verbose=0 if args.quiet else 1,
        class_weight=weights,
    )
    if stop and stop[0].best_epoch >= 0:
        print(f"kept the weights of epoch {stop[0].best_epoch + 1} of {len(history.epoch)}, the lowest val_loss")
    model.save(args.out)
    if args.plot:
        plot.training_curves(history, curves)
        print(f"training curves written to {curves}")
    if len(val):
        report = scores(settings, model.predict(Subset(data, val)), data.y[val])
        print("validation: " + ", ".join(f"{k} {v:.4f}" for k, v in report.items()))
    print(f"saved to {args.out}")
