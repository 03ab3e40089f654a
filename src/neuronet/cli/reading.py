"""A CSV table checked for what a command needs of it: which columns are features, what the target holds, cells
that are not numbers, text columns that cannot be categories, missing values.

Every problem found in a table is reported at once, in one line naming the cells by their line in the file,
so a file is fixed in one go, before training starts. The checks read the table's summary
(``table_summary.py``), which a file read in chunks gives as well as a table in memory.
"""

from __future__ import annotations

import numpy as np

from ..data import Table
from ..data.csv import class_order, is_number, not_a_number
from .arguments import CLIError
from .table_summary import MAX_CATEGORIES, Cells, Column, TableSummary

MAX_CLASSES_GUESSED = 20  # an integer target with at most this many values is taken as class labels
# a classifier needs this many rows per class on average: at --validation-split 0.2, 3 rows give 2 to train on
# and 1 to validate (fewer classes than this many rows per class is an id, or a number to regress)
MIN_ROWS_PER_CLASS = 3


def guess_task(table: TableSummary, target: str) -> str:
    """Classification for text labels or few whole-number values; regression otherwise."""
    if "text" in table.kinds(target):
        return "classification"
    numbers = table.numbers(target)
    numbers = numbers[~np.isnan(numbers)]
    few = len(np.unique(numbers)) <= MAX_CLASSES_GUESSED
    return "classification" if few and np.all(numbers == np.round(numbers)) else "regression"


def _is_index(table: TableSummary) -> bool:
    """Whether the first column is a row index as pandas' ``to_csv`` writes it: no name, and distinct
    whole numbers (0..n-1, or a part of them after a split or a shuffle)."""
    if table.columns[0] != "" or table.column("").whole is None:
        return False
    cells = np.concatenate(table.column("").whole)
    return len(np.unique(cells)) == len(cells)


def feature_columns(table: TableSummary, args) -> list[str]:
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


def lines(table: Table | TableSummary, rows, count: int | None = None) -> str:
    """Rows named by their line in the file: 'lines 4, 9 and 12' (the first five, then a count); ``count``: how
    many rows there are, if ``rows`` are only the first of them."""
    return line_list([table.lines[r] for r in sorted(rows)[:5]], len(rows) if count is None else count)


def line_list(numbers: list[int], count: int | None = None) -> str:
    """Lines of the file by their numbers, in order: 'lines 4, 9 and 12' (the first five, then a count);
    ``count``: how many lines there are, if ``numbers`` are only the first of them."""
    count = len(numbers) if count is None else count
    shown = ", ".join(str(n) for n in numbers[:5]) + (f" and {count - 5} more" if count > 5 else "")
    return f"line{'s' if count > 1 else ''} {shown}"


def _cells(table: TableSummary, name: str, cells: Cells) -> str:
    """The first of the ``cells`` of column ``name``, why it is not a number, and how many more there are."""
    (row, cell), rest = cells.first[0], cells.rows[1:]
    more = f" (and {cells.count - 1} more in {name!r}: {lines(table, rest, cells.count - 1)})" if rest else ""
    return f"{table.where(row, name)} {not_a_number(cell)}{more}"


def _is_text(kinds: dict[str, Cells]) -> bool:
    """Whether a column of these kinds of cells is text (labels or categories): text, and not one number."""
    return "text" in kinds and "number" not in kinds


def not_numbers(table: TableSummary, kinds: dict[str, dict[str, Cells]], droppable: bool = False) -> list[str]:
    """What spoils the columns that should hold numbers (``kinds``: their cells' kinds), each with its fix
    (``droppable``: a column mixing text and numbers may be left out with --drop)."""
    problems, commas = [], {}
    for name, found in kinds.items():
        bad = found.get("text", Cells()) + found.get("unread", Cells())
        if bad.count and bad.commas:
            commas[name] = bad
        elif bad.count:
            fix = f", or leave the column out with --drop {name}" if droppable and "text" in found else ""
            problems.append(f"{_cells(table, name, bad)}: correct the cell(s) or delete the row(s){fix}")
    if commas:  # a file from a spreadsheet in a decimal-comma locale: one fix for all its columns
        row, cell = next(iter(commas.values())).first[0]
        problems.insert(
            0,
            f"decimal commas: column(s) {list(commas)} hold numbers written with a comma ({cell!r}"
            f" on line {table.lines[row]}, {sum(c.count for c in commas.values())} cells in all); numbers are read "
            "with a decimal point and no thousands separator (1.5, 1000): convert the commas, e.g. save the file "
            "from the spreadsheet with '.' as the decimal separator",
        )
    return problems


def refuse(table: TableSummary, problems: list[str]) -> None:
    """One error for every problem found, so a file is fixed in one go, not one column per run."""
    if problems:
        raise CLIError(f"{table.path}: " + "; ".join(problems))


def _control_character(table: TableSummary, name: str) -> str | None:
    """The first cell of column ``name`` holding a control character (a NUL byte, ...), described."""
    found = table.column(name).control
    if found is None:
        return None
    row, value = found
    return f"{table.where(row, name)} holds {value!r}, with a control character: remove it"


def _text_problems(table: TableSummary, text: list[str], one_hot: bool) -> list[str]:
    """Why text feature columns cannot be used: at all without one-hot; with it, if a column has too many
    values to be categories (an id, a name, free text) or holds a control character."""
    if not text:
        return []
    if not one_hot:
        first = {name: table.kinds(name)["text"].first[0] for name in text}
        examples = ", ".join(f"{n!r} ({cell!r} on line {table.lines[r]})" for n, (r, cell) in first.items())
        return [
            f"column(s) {examples} hold text, and with --no-one-hot features must be numbers: leave them out with "
            f"--drop {','.join(text)}, or leave out --no-one-hot to encode each as one 0/1 column per value"
        ]
    problems = []
    limit = min(MAX_CATEGORIES, table.n // 2)
    for name in text:
        column = table.column(name)
        if len(column.values) > limit:
            count = f"more than {len(column.values):,}" if column.more_values else f"{len(column.values):,}"
            problems.append(
                f"column {name!r} holds {count} different texts in {table.n:,} rows, too many to be "
                f"categories (at most {MAX_CATEGORIES} and half the rows): an id, a name or free text? leave it "
                f"out with --drop {name}"
            )
        elif found := _control_character(table, name):
            problems.append(found)
    return problems


def check_features(table: TableSummary, features: list[str], one_hot: bool) -> list[str]:
    """The features that hold text (encoded one-hot), after refusing at once every feature that cannot be
    used; missing cells are left to ``handle_missing``, after this (a column that fails anyway comes first)."""
    kinds = {name: table.kinds(name) for name in features}
    text = [name for name in features if _is_text(kinds[name])]
    problems = not_numbers(table, {name: found for name, found in kinds.items() if name not in text}, droppable=True)
    refuse(table, problems + _text_problems(table, text, one_hot))
    return text


def categories_of(table: TableSummary, text: list[str], kept: np.ndarray) -> dict[str, list[str]]:
    """Each text feature's values in the rows ``kept``, sorted: one 0/1 input each."""
    found = {}
    for name in text:
        column: Column = table.column(name)
        values = list(column.values)
        found[name] = sorted(values[c] for c in np.unique(column.rows_coded()[kept]))
    return found


def labels(table: TableSummary, target: str) -> None:
    """Refuse a target whose cells cannot be class labels: numbers spelt as no spreadsheet writes them, a control
    character (a label is a number in one spelling: 2, 2.0, +2 and 02 are one class)."""
    found = table.kinds(target)
    if "text" not in found and "unread" in found:  # numbers, but some spelt as no spreadsheet writes them
        refuse(table, not_numbers(table, {target: found}))
    if problem := _control_character(table, target):
        raise CLIError(f"{table.path}: {problem}")


def classes(table: TableSummary, target: str, kept: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The class names in order, and each of the rows ``kept``'s class as an index; a target of too few rows per
    class refused."""
    labelled, codes = table.labels(target)
    codes = codes[kept]
    present = np.unique(codes)
    spelt = list(labelled)
    names = class_order({spelt[c] for c in present})
    n = len(codes)
    if len(names) < 2:
        raise CLIError(f"the target {target!r} has a single class {names}; a classifier needs two or more")
    if MIN_ROWS_PER_CLASS * len(names) > n:
        numeric = all(is_number(c) for c in names)
        raise CLIError(
            f"the target {target!r} has {len(names):,} classes in {n:,} rows, fewer than {MIN_ROWS_PER_CLASS} rows "
            "per class: too few to train on and validate each class; "
            + ("to predict it as a number, use --task regression" if numeric else "is it an id or free text?")
        )
    order = np.zeros(len(spelt), dtype=np.int64)  # first-sight code -> the class's index in ``names``
    order[present] = [names.index(spelt[c]) for c in present]
    return names, order[codes]


def regression_target(table: TableSummary, target: str) -> None:
    """Refuse a regression target with cells that are not numbers, saying what to do."""
    found = table.kinds(target)
    if _is_text(found):
        row, cell = found["text"].first[0]
        raise CLIError(
            f"{table.path}: the target {target!r} holds text ({cell!r} on line {table.lines[row]}), and regression "
            "predicts numbers: use --task classification to predict its values as classes"
        )
    refuse(table, not_numbers(table, {target: found}))


def handle_missing(
    table: TableSummary, columns: list[str], drop: bool, target: str | None, file=None, note: str = ""
) -> np.ndarray:
    """The rows to keep: all but those that miss a value in ``columns`` if --drop-missing (an error otherwise).
    What was dropped is said on ``file`` (stdout if None), with ``note``."""
    gaps = np.unique(np.concatenate([table.column(name).missing_rows() for name in columns]))
    if not len(gaps):
        return np.arange(table.n)
    if not drop:
        in_target = table.column(target).missing_rows() if target is not None else []
        what = (
            f"the target {target!r} is missing on {lines(table, in_target)}"
            if len(in_target)
            else f"{len(gaps)} row(s) miss feature values ({lines(table, gaps)})"
        )
        raise CLIError(f"{table.path}: {what}; fill them in, or leave those rows out with --drop-missing")
    kept = np.setdiff1d(np.arange(table.n), gaps)
    if not len(kept):
        raise CLIError(f"{table.path}: every row misses a value; nothing is left to use")
    print(f"dropped {len(gaps)} row(s) with missing values ({lines(table, gaps)}){note}", file=file)
    return kept
