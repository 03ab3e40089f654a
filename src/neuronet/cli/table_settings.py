"""The settings `neuronet train` saves beside the network, as one object: how a table's rows become the
network's numbers.

Features are standardised with the mean and standard deviation of the training part only; those statistics,
the feature names, the categories of the text features and the class names are saved in the model file, so
``evaluate``, ``predict`` and ``export`` apply the same transformation. The file keeps them as metadata keys
(task, target, features, scaler, categories, classes, target_scaler), which ``to_metadata`` writes and
``from_model`` reads back, checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..data import StandardScaler, Table
from ..data.csv import CONTROL, number
from ..sequential import Sequential
from .arguments import CLIError
from .reading import line_list, lines
from .settings import damaged, outputs_for
from .table_summary import MAX_CATEGORIES, TableSummary


def sources(features: list[str], categories: dict[str, list[str]]) -> list[str]:
    """The CSV column each of the network's inputs comes from."""
    return [f for f in features for _ in categories.get(f, [f])]


def input_names(features: list[str], categories: dict[str, list[str]]) -> list[str]:
    """The network's input columns by name: a numeric feature's own, 'colour=red' for a category's."""
    return [name for f in features for name in ([f"{f}={c}" for c in categories[f]] if f in categories else [f])]


def _one_hot(table: Table, name: str, known: list[str]) -> np.ndarray:
    """Column ``name`` as one 0/1 column per category in ``known``; a value not among them is an error."""
    index = {value: i for i, value in enumerate(known)}
    values = table.column(name)
    unseen = [r for r, value in enumerate(values) if value not in index]
    if unseen:
        raise unseen_category(table, name, values[unseen[0]], unseen, known)
    return np.eye(len(known))[[index[value] for value in values]]


def unseen_category(table: Table | TableSummary, name: str, value: str, rows, known: list[str]) -> CLIError:
    """The error for a text feature's ``value`` that the model never saw, in the ``rows`` of ``table`` (the
    first of them holding ``value``)."""
    shown = ", ".join(map(repr, known[:10])) + (f" and {len(known) - 10} more" if len(known) > 10 else "")
    more = f" ({len(rows)} such rows: {lines(table, rows)})" if len(rows) > 1 else ""
    return CLIError(
        f"{table.path}, {table.where(rows[0], name)} holds {value!r}, a value the model never saw in training"
        f"{more}; it knows {shown}: correct those cells or delete their rows"
    )


def encode(table: Table, features: list[str], categories: dict[str, list[str]]) -> np.ndarray:
    """The network's input: each numeric feature as it is, each text feature as one 0/1 column per category."""
    blocks = [_one_hot(table, f, categories[f]) if f in categories else table.numeric([f]) for f in features]
    return np.hstack(blocks)


def standardise(scaler: StandardScaler, x: np.ndarray, table: Table, columns: list[str]) -> np.ndarray:
    """``scaler.transform(x)``, ``x``'s columns from the table's ``columns``; a value too far from the training
    rows' to be standardised (beyond float32, the network's numbers) is an error naming its cell."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = scaler.transform(x)
        bad = np.argwhere(~(np.abs(out) <= np.finfo(np.float32).max))
    if len(bad):
        r, c = bad[0]
        raise CLIError(
            f"{table.path}, {table.where(r, columns[c])} holds {x[r, c]:g}, so far from the training "
            f"rows' values (mean {scaler.shift[c]:g}, standard deviation {scaler.scale[c]:g}) that it cannot be "
            "standardised: correct it or delete the row"
        )
    return out


@dataclass
class TableSettings:
    """What the network was trained on: the ``task`` (classification or regression), the ``target`` column,
    the ``features`` columns, each text feature's ``categories``, the inputs' ``scaler``, and the ``classes``
    (classification) or the target's ``target_scaler`` (regression)."""

    task: str
    target: str
    features: list[str]
    scaler: StandardScaler
    categories: dict[str, list[str]] = field(default_factory=dict)
    classes: list[str] | None = None
    target_scaler: StandardScaler | None = None

    @property
    def classification(self) -> bool:
        return self.task == "classification"

    def inputs(self, table: Table) -> np.ndarray:
        """The network's input for the table's rows, encoded and standardised as in training."""
        x = encode(table, self.features, self.categories)
        return standardise(self.scaler, x, table, sources(self.features, self.categories))

    def targets(self, table: Table) -> np.ndarray:
        """The target column as the network was trained on it: standardised values, or class indices (a label not
        seen in training is an error naming its rows)."""
        if not self.classification:
            return standardise(self.target_scaler, table.numeric([self.target]), table, [self.target])
        found = self.class_indices(table)
        unknown = [r for r, i in enumerate(found) if i is None]
        if unknown:
            values = sorted({table.cell(r, self.target) for r in unknown})
            raise self.unseen_labels(table.path, values, [table.lines[r] for r in unknown])
        return np.array(found, dtype=np.int64)

    def class_indices(self, table: Table) -> list[int | None]:
        """Each row's class index by its target label, None for a label not seen in training."""
        index = {c: i for i, c in enumerate(self.classes)}
        # a label is its class by its spelling, or else by its value: 4.0 is the class '4' (a model trained before
        # labels had one spelling may have its classes spelt '4.0' or '04')
        by_value = {}
        for i, c in enumerate(self.classes):
            if (value := number(c)) is not None:
                by_value.setdefault(value, i)
        found = [v if v in index else number(v) for v in table.column(self.target)]
        return [index[v] if isinstance(v, str) else by_value.get(v) for v in found]

    def unseen_labels(
        self, path: str, values: list[str], line_numbers: list[int], count: int | None = None
    ) -> CLIError:
        """The error for labels ``values`` that training never saw, on the lines ``line_numbers`` of ``path`` (the
        first of ``count``, if given)."""
        known = f"{self.classes[:20]}{' ...' if len(self.classes) > 20 else ''}"
        where = line_list(line_numbers, count)
        return CLIError(f"{path}: labels {values[:5]} were not seen in training ({where}; known: {known})")

    def to_metadata(self) -> dict:
        """The settings as the model file keeps them (``model.metadata``)."""
        metadata = {"task": self.task, "target": self.target, "features": self.features}
        metadata["scaler"] = self.scaler.get_config()
        if self.categories:
            metadata["categories"] = self.categories
        if self.classification:
            metadata["classes"] = self.classes
        else:
            metadata["target_scaler"] = self.target_scaler.get_config()
        return metadata

    @staticmethod
    def saved_in(model: Sequential) -> bool:
        """Whether ``model`` carries settings of `neuronet train` (damaged or not): its feature names."""
        return "features" in model.metadata

    @classmethod
    def from_model(cls, model: Sequential, path: str) -> TableSettings:
        """The settings ``model`` (loaded from ``path``) was saved with, each checked: there, of the right kind,
        and fitting its network."""
        meta = model.metadata
        if not cls.saved_in(model):
            raise CLIError(
                f"{path} was not trained by `neuronet train`: it lacks the feature names and scaling the CLI needs"
            )
        features = meta["features"]
        if not (isinstance(features, list) and features and all(isinstance(f, str) for f in features)):
            raise damaged(path, "'features' must be a list of column names")
        if meta.get("task") not in ("classification", "regression"):
            raise damaged(path, "'task' must be 'classification' or 'regression'")
        if not isinstance(meta.get("target"), str):
            raise damaged(path, "'target' must be a column name")
        categories = _categories(meta, path)
        inputs = len(sources(features, categories))
        settings = cls(meta["task"], meta["target"], features, _scaler(meta, "scaler", inputs, path), categories)
        outputs = outputs_for(model, path, np.zeros((1, inputs)))
        if settings.classification:
            classes = meta.get("classes")
            if not (isinstance(classes, list) and len(classes) == outputs and all(isinstance(c, str) for c in classes)):
                raise damaged(path, f"'classes' must name the {outputs} classes the network outputs")
            settings.classes = classes
        else:
            settings.target_scaler = _scaler(meta, "target_scaler", 1, path)
        return settings


def _scaler(meta: dict, key: str, size: int, path: str) -> StandardScaler:
    """The scaler saved under ``key``, checked: ``size`` means and as many positive standard deviations."""
    config = meta.get(key)
    ok = isinstance(config, dict) and all(
        isinstance(config.get(k), list)
        and len(config[k]) == size
        and all(isinstance(v, (int, float)) for v in config[k])
        for k in ("mean", "std")
    )
    if not ok or not all(math.isfinite(v) for v in config["mean"] + config["std"]) or min(config["std"]) <= 0:
        raise damaged(path, f"{key!r} must hold {size} means and positive standard deviations")
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
        raise damaged(path, f"'categories' must map text features to lists of 1 to {MAX_CATEGORIES} distinct values")
    return categories
