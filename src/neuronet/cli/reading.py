"""A CSV table checked for what a command needs of it: which columns are features, what the target holds, cells
that are not numbers, text columns that cannot be categories, missing values.

Every problem found in a table is reported at once, in one line naming the cells by their line in the file,
so a file is fixed in one go, before training starts.
"""

from __future__ import annotations

import numpy as np

from ..data import Table
from ..data.csv import COMMA_NUMBER, CONTROL, class_order, is_missing, is_number, kind, label, not_a_number, number
from .arguments import CLIError

MAX_CLASSES_GUESSED = 20  # an integer target with at most this many values is taken as class labels
MAX_CATEGORIES = 100  # a text feature with more values than this (or than half the rows) is an id or free text
# a classifier needs this many rows per class on average: at --validation-split 0.2, 3 rows give 2 to train on
# and 1 to validate (fewer classes than this many rows per class is an id, or a number to regress)
MIN_ROWS_PER_CLASS = 3


def guess_task(values: list[str]) -> str:
    """Classification for text labels or few whole-number values; regression otherwise."""
    kinds = [kind(v) for v in values]
    if "text" in kinds:
        return "classification"
    numbers = np.array([number(v) for v, k in zip(values, kinds) if k == "number"])
    few = len(np.unique(numbers)) <= MAX_CLASSES_GUESSED
    return "classification" if few and np.all(numbers == np.round(numbers)) else "regression"


def _is_index(table: Table) -> bool:
    """Whether the first column is a row index as pandas' ``to_csv`` writes it: no name, and distinct
    whole numbers (0..n-1, or a part of them after a split or a shuffle)."""
    if table.columns[0] != "":
        return False
    cells = table.column("")
    return all(cell.isascii() and cell.isdigit() for cell in cells) and len({int(c) for c in cells}) == len(cells)


def feature_columns(table: Table, args) -> list[str]:
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


def lines(table: Table, rows) -> str:
    """Rows named by their line in the file: 'lines 4, 9 and 12' (the first five, then a count)."""
    numbers = [str(table.lines[r]) for r in sorted(rows)]
    shown = ", ".join(numbers[:5]) + (f" and {len(numbers) - 5} more" if len(numbers) > 5 else "")
    return f"line{'s' if len(numbers) > 1 else ''} {shown}"


def _cells(table: Table, name: str, rows: list[int]) -> str:
    """The first of ``rows``' cells in column ``name``, why it is not a number, and how many more there are."""
    more = f" (and {len(rows) - 1} more in {name!r}: {lines(table, rows[1:])})" if len(rows) > 1 else ""
    return f"{table.where(rows[0], name)} {not_a_number(table.cell(rows[0], name))}{more}"


def _is_text(kinds: dict[str, list[int]]) -> bool:
    """Whether a column of these kinds of cells is text (labels or categories): text, and not one number."""
    return bool(kinds.get("text")) and not kinds.get("number")


def not_numbers(table: Table, kinds: dict[str, dict[str, list[int]]], droppable: bool = False) -> list[str]:
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


def refuse(table: Table, problems: list[str]) -> None:
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


def check_features(table: Table, features: list[str], one_hot: bool) -> list[str]:
    """The features that hold text (encoded one-hot), after refusing at once every feature that cannot be
    used; missing cells are left to ``handle_missing``, after this (a column that fails anyway comes first)."""
    kinds = {name: table.kinds(name) for name in features}
    text = [name for name in features if _is_text(kinds[name])]
    problems = not_numbers(table, {name: found for name, found in kinds.items() if name not in text}, droppable=True)
    refuse(table, problems + _text_problems(table, text, kinds, one_hot))
    return text


def labels(table: Table, target: str) -> list[str]:
    """The target's cells as class labels: a number in one spelling (2, 2.0, +2 and 02 are one class)."""
    found = table.kinds(target)
    if not found.get("text") and found.get("unread"):  # numbers, but some spelt as no spreadsheet writes them
        refuse(table, not_numbers(table, {target: found}))
    if problem := _control_character(table, target):
        raise CLIError(f"{table.path}: {problem}")
    return [label(v) for v in table.column(target)]


def classes(table: Table, target: str, n: int) -> tuple[list[str], np.ndarray]:
    """The class names in order, and each row's class as an index; a target of too few rows per class refused."""
    found = labels(table, target)
    names = class_order(set(found))
    if len(names) < 2:
        raise CLIError(f"the target {target!r} has a single class {names}; a classifier needs two or more")
    if MIN_ROWS_PER_CLASS * len(names) > n:
        numeric = all(is_number(c) for c in names)
        raise CLIError(
            f"the target {target!r} has {len(names):,} classes in {n:,} rows, fewer than {MIN_ROWS_PER_CLASS} rows "
            "per class: too few to train on and validate each class; "
            + ("to predict it as a number, use --task regression" if numeric else "is it an id or free text?")
        )
    index = {c: i for i, c in enumerate(names)}
    return names, np.array([index[v] for v in found], dtype=np.int64)


def regression_target(table: Table, target: str) -> None:
    """Refuse a regression target with cells that are not numbers, saying what to do."""
    found = table.kinds(target)
    if _is_text(found):
        first = found["text"][0]
        raise CLIError(
            f"{table.path}: the target {target!r} holds text ({table.cell(first, target)!r} on line "
            f"{table.lines[first]}), and regression predicts numbers: use --task classification to predict its "
            "values as classes"
        )
    refuse(table, not_numbers(table, {target: found}))


def handle_missing(
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
            f"the target {target!r} is missing on {lines(table, in_target)}"
            if in_target
            else f"{len(gaps)} row(s) miss feature values ({lines(table, gaps)})"
        )
        raise CLIError(f"{table.path}: {what}; fill them in, or leave those rows out with --drop-missing")
    kept = table.without_rows(gaps)
    if not kept.rows:
        raise CLIError(f"{table.path}: every row misses a value; nothing is left to use")
    print(f"dropped {len(gaps)} row(s) with missing values ({lines(table, gaps)}){note}", file=file)
    return kept
