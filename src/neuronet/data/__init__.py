"""Getting data into shape: reading tables, splitting, scaling."""

from .csv import Table, read_csv
from .scaling import StandardScaler

__all__ = ["StandardScaler", "Table", "read_csv"]
