"""Published predictions: where a scoring job writes them and where applications read them.

One layout in every kind of store: a predictions table (`predictions`, or a Parquet folder,
or a CSV file) whose rows carry their `run_id`, a rejects table beside it, and the runs.

Example:
    >>> from modelport.store import open_store
    >>> store = open_store("sqlite:///predictions.db")  # doctest: +SKIP
    >>> store.runs()[-1].status  # doctest: +SKIP
    'completed'
    >>> store.latest([17, 42])  # the newest prediction of each id  # doctest: +SKIP
"""

from __future__ import annotations

from modelport.store.files import CsvStore, ParquetStore
from modelport.store.runs import Run
from modelport.store.sql import SqlStore, is_url

Store = SqlStore | ParquetStore | CsvStore

__all__ = ["CsvStore", "ParquetStore", "Run", "SqlStore", "Store", "open_store"]


def open_store(output: str, table: str = "predictions") -> Store:
    """The store `output` names: a database URL, a `.csv` file, else a Parquet folder.

    Args:
        output: `sqlite:///predictions.db`, `postgresql+psycopg://...`, `out.csv`, `out/`.
        table: the predictions table in a database (files ignore it).

    Raises:
        StoreError: the output can't be used (another kind of file is there, say).
    """
    if is_url(output):
        return SqlStore(output, table)
    if output.lower().endswith(".csv"):
        return CsvStore(output)
    return ParquetStore(output)
