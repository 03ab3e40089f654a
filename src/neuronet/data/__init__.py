"""Getting data into shape: reading tables, splitting, folding, scaling, batching, windows of a series, and
datasets read a batch at a time."""

from ..batching import batches
from .csv import Table, read_csv
from .csv_dataset import CSVDataset
from .dataset import ArrayDataset, NpyDataset, Subset
from .scaling import MinMaxScaler, StandardScaler, one_hot
from .series import sliding_windows
from .splitting import KFold, StratifiedKFold, cross_validate, train_val_test_split

__all__ = [
    "ArrayDataset",
    "CSVDataset",
    "NpyDataset",
    "Subset",
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
