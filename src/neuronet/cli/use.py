"""Using a saved model: `neuronet evaluate`, `predict`, `summary` and `export`.

A model from ``neuronet train`` is used with the table settings it was saved with, checked first: a CSV
file is read, checked against them (its columns there, numbers where numbers were) and turned into the
network's numbers as the training rows were. Each command reads its file in chunks of rows, never whole.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import shutil
import sys
import tempfile

import numpy as np

from ..data import Table
from ..metrics import classification_report
from ..onnx import export as onnx_export
from ..saving import atomic_writer
from ..sequential import Sequential, load_model
from .arguments import CLIError, check_writable
from .encoded_table import chunks, columns, kept_chunks
from .reading import handle_missing, not_numbers, refuse
from .scores import confusion_table, scores
from .table_settings import TableSettings, input_names, unseen_category
from .table_summary import TableSummary, summarise

CLASSES_SHOWN = 50  # evaluate prints the per-class report and confusion matrix up to this many classes
# rows predicted at a time; the file's chunks are cut at multiples of it, so that every row is predicted in the
# batch it has when the table is read whole (a product's rounding may depend on the size of its batch)
BATCH = 256


def _load(path: str) -> tuple[Sequential, TableSettings]:
    """A model from `neuronet train`, and its saved settings, checked."""
    model = load_model(path)
    return model, TableSettings.from_model(model, path)


def _check_columns(names: list[str], settings: TableSettings, args, target: bool, keep: list[str] = ()) -> None:
    """The CSV file's columns ``names`` (its header) checked against the model's settings before the file is
    read: the features there, the target for `evaluate` (``target``), the columns --keep copies."""
    unknown = [c for c in keep if c not in names]
    if unknown:
        raise CLIError(f"--keep: {args.data} has no column(s) {unknown}; its columns are {names}")
    missing = [f for f in settings.features if f not in names]
    if missing:
        raise CLIError(
            f"{args.data} lacks the feature column(s) {missing} the model was trained on "
            f"(it expects {len(settings.features)} features: {settings.features})"
        )
    if target and settings.target not in names:
        raise CLIError(f"{args.data} has no target column {settings.target!r} to evaluate against")


def _kept(settings: TableSettings, args, target: bool, keep: list[str] = ()) -> tuple[TableSummary, np.ndarray]:
    """The CSV file of `evaluate` and `explain` (``target``: with the target) or `predict` (``keep``: columns to
    copy) checked against the model's settings, its header first, then read once in chunks into a summary:
    the numeric columns numbers (all problems at once, before missing values), rows missing a value dropped if
    asked. The summary, and the rows to use."""
    _check_columns(columns(args.data, args.delimiter), settings, args, target, keep)
    summary = summarise(chunks(args.data, args.delimiter))
    numeric = [f for f in settings.features if f not in settings.categories]
    if target and not settings.classification:
        numeric.append(settings.target)
    refuse(summary, not_numbers(summary, {name: summary.kinds(name) for name in numeric}))
    if target:
        used = [*settings.features, settings.target]
        kept = handle_missing(summary, used, args.drop_missing, settings.target)
    else:
        note = "; they get no prediction" + ("" if keep else " (--keep ID copies an id column to line predictions up)")
        # predict's output is the predictions: what it says about the data goes to stderr
        kept = handle_missing(summary, settings.features, args.drop_missing, None, file=sys.stderr, note=note)
    _refuse_unseen_categories(summary, settings, kept)
    return summary, kept


def _refuse_unseen_categories(summary: TableSummary, settings: TableSettings, kept: np.ndarray) -> None:
    """An error for a text feature's value the model never saw, in the rows ``kept``: from the summary, so with
    every such row of the file at once. (A column the summary holds no codes of, one with numbers or with more
    distinct texts than categories, is found a chunk at a time as it is encoded.)"""
    for name, known in settings.categories.items():
        column = summary.column(name)
        if column.codes is None:
            continue
        values, codes, knows = list(column.values), column.rows_coded(), set(known)
        unseen = [c for c, value in enumerate(values) if value not in knows]
        rows = kept[np.isin(codes[kept], unseen)]
        if len(rows):
            raise unseen_category(summary, name, values[codes[rows[0]]], rows, known)


def cmd_evaluate(args) -> None:
    """`neuronet evaluate MODEL DATA`: the model's scores on labelled rows (per class too, for a classifier). The
    file is read in chunks of rows: checked first, then predicted a chunk at a time; only the outputs and the
    targets are kept."""
    model, settings = _load(args.model)
    summary, kept = _kept(settings, args, target=True)
    outs, ys, unseen, unseen_lines, unseen_count = [], [], set(), [], 0
    for chunk in kept_chunks(args.data, args.delimiter, summary.n, kept, BATCH):
        outs.append(model.predict(settings.inputs(chunk), batch_size=BATCH))
        if not settings.classification:
            ys.append(settings.targets(chunk))
            continue
        found = settings.class_indices(chunk)  # (labels not seen in training: gathered, then named all at once)
        rows = [r for r, i in enumerate(found) if i is None]
        unseen |= {chunk.cell(r, settings.target) for r in rows}
        unseen_lines += [chunk.lines[r] for r in rows[: 5 - len(unseen_lines)]]  # (the lines a message shows)
        unseen_count += len(rows)
        ys.append(np.array([-1 if i is None else i for i in found], dtype=np.int64))
    if unseen:
        raise settings.unseen_labels(args.data, sorted(unseen), unseen_lines, unseen_count)
    out, y = np.concatenate(outs), np.concatenate(ys)
    print(f"{args.data}: {len(y)} rows")
    for k, v in scores(settings, out, y).items():
        print(f"{k}: {v:.4f}")
    if settings.classification:
        if len(settings.classes) > CLASSES_SHOWN:  # a table of classes x classes says nothing any more
            print(f"(the per-class report and confusion matrix are shown for up to {CLASSES_SHOWN} classes)")
            return
        print()
        print(classification_report(y, out, class_names=settings.classes))
        print()
        print(confusion_table(y, out, settings.classes))


def cmd_predict(args) -> None:
    """`neuronet predict MODEL DATA`: a prediction per row, as CSV (to --out, or printed). The file is read in
    chunks of rows, never whole: checked first (``table_summary.py``), then predicted a chunk at a time into
    a file (--out's, or a temporary one printed at the end), so that nothing is written if a row fails."""
    model, settings = _load(args.model)
    if args.proba and not settings.classification:
        raise CLIError(f"--proba gives class probabilities, but {args.model} is a regression model")
    if args.out:
        check_writable(args.out, "--out")
    keep = args.keep or []
    summary, kept = _kept(settings, args, target=False, keep=keep)
    header = list(keep)
    if settings.classification:
        header += ["prediction", *(settings.classes if args.proba else ["probability"])]
    else:
        header.append("prediction")
    with atomic_writer(args.out) if args.out else tempfile.TemporaryFile() as f:
        text = io.TextIOWrapper(f, encoding="utf-8", newline="")
        writer = csv.writer(text, lineterminator="\n")

        def write(rows: list[list[str]]) -> None:
            try:
                writer.writerows(rows)
                text.flush()
            except OSError as exc:  # (a full disk)
                where = args.out or f"the predictions' temporary file in {tempfile.gettempdir()} (TMPDIR moves it)"
                raise CLIError(f"cannot write {where}: {exc.strerror or exc}") from None

        write([header])
        for chunk in kept_chunks(args.data, args.delimiter, summary.n, kept, BATCH):
            kept_columns = [chunk.column(c) for c in keep]
            rows = _predictions(model, settings, chunk, args.proba)
            write([[*(column[i] for column in kept_columns), *row] for i, row in enumerate(rows)])
        if not args.out:  # every row predicted: now print them
            text.seek(0)
            shutil.copyfileobj(text, sys.stdout)
        text.detach()  # (the file stays open for the ``with`` to close)
    if args.out:
        print(f"wrote {len(kept)} predictions to {args.out}")


def _predictions(model: Sequential, settings: TableSettings, table: Table, proba: bool) -> list[list[str]]:
    """The prediction columns of ``table``'s rows as text: a class and its probability (every class's, with
    ``proba``), or a value in the target's units."""
    out = model.predict(settings.inputs(table), batch_size=BATCH)
    if settings.classification:
        return [
            [settings.classes[k], *(f"{p:.6f}" for p in (row if proba else row[k : k + 1]))]
            for k, row in zip(out.argmax(axis=1), out)
        ]
    with np.errstate(over="ignore"):  # a prediction beyond float64 is written as inf
        values = settings.target_scaler.inverse_transform(out)[:, 0]
    return [[f"{v:.6g}"] for v in values]


def cmd_summary(args) -> None:
    """`neuronet summary MODEL`: the layers, and the settings a command saved, whatever they hold."""
    model = load_model(args.model)
    model.summary()
    for key in ("task", "target", "features", "categories", "classes"):
        if key in model.metadata:
            print(f"{key}: {model.metadata[key]}")


def cmd_export(args) -> None:
    """A model as ONNX; one from `neuronet train` with its scaling inside, so the graph takes the CSV's
    feature values and gives the target in its units (or the classes' probabilities)."""
    check_writable(args.out, "OUT")
    model = load_model(args.model)
    if not TableSettings.saved_in(model):
        shapes = onnx_export(model, args.out, input_shape=args.input_shape)
        shown = [" x ".join(map(str, dims)) for dims in (shapes if model.several_inputs else [shapes])]
        print(f"{args.model} written as ONNX to {args.out} (input{'s' if len(shown) > 1 else ''}: {'; '.join(shown)})")
        return
    settings = TableSettings.from_model(model, args.model)
    scaling = {"input_scaling": (settings.scaler.shift, settings.scaler.scale)}
    if not settings.classification:
        scaling["output_scaling"] = (settings.target_scaler.shift, settings.target_scaler.scale)
    onnx_export(model, args.out, input_shape=args.input_shape, **scaling)
    out = f"the probabilities of {settings.classes}" if settings.classification else settings.target
    inputs = f"the features {settings.features} as in the CSV"
    if settings.categories:
        names = input_names(settings.features, settings.categories)
        inputs = f"the {len(names)} columns {names} (a text feature as one 0/1 column per value, numbers as in the CSV)"
    print(f"{args.model} written as ONNX to {args.out}: input {inputs} (scaled inside the graph), output {out}")


def cmd_explain(args) -> None:
    """`neuronet explain MODEL DATA`: one training step of a model from `neuronet train` on the first rows of a
    labelled CSV, shown layer by layer in a self-contained HTML page (``model.explain_step``); the model file is
    left as it was."""
    check_writable(args.out, "--out")
    model, settings = _load(args.model)
    summary, kept = _kept(settings, args, target=True)
    count = min(args.rows, len(kept))
    if count < model.min_batch():
        raise CLIError(f"{args.data} has {count} usable rows; a training step of this model needs {model.min_batch()}")
    first = next(kept_chunks(args.data, args.delimiter, summary.n, kept, count))  # (at least ``count`` rows)
    table = dataclasses.replace(first, rows=first.rows[:count], lines=first.lines[:count])
    xs, ys = settings.inputs(table), settings.targets(table)
    model.explain_step(xs, ys, args.out)
    print(f"wrote one training step on the first {count} rows of {args.data} to {args.out}")
    scaled = "inputs and targets" if settings.target_scaler is not None else "inputs"
    print(f"(the page shows the {scaled} as the network sees them: each column, a text column as one 0/1 column "
          "per category, standardised with the mean and standard deviation of the training rows)")  # fmt: skip
