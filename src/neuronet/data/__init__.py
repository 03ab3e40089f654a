"""Getting data into shape: reading tables, splitting, folding, scaling, batching, windows of a series."""

from ..batching import batches
from .csv import Table, read_csv
from .scaling import MinMaxScaler, StandardScaler, one_hot
from .series import sliding_windows
from .splitting import KFold, StratifiedKFold, cross_validate, train_val_test_split

__all__ = [
    "KFold",
    "MinMaxScaler",
    "StandardScaler",
    "StratifiedKFold",
    "Table",
    "batches",
    "cross_validate",
    "one_hot",
    "read_csv",
    "sliding_windows",
    "train_val_test_split",
]
