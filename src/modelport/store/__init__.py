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

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from modelport.store.chunk import Column, ScoredChunk
from modelport.store.csvfile import CsvStore
from modelport.store.parquet import ParquetStore
from modelport.store.reading import Readable
from modelport.store.runs import Run

if TYPE_CHECKING:  # SQLAlchemy is imported only when a database is used
    from modelport.store.sql import SqlStore

__all__ = ["CsvStore", "ParquetStore", "Run", "Store", "is_url", "open_store", "store_exists"]


class Store(Readable, Protocol):
    """What the scoring job writes through; applications read through `Readable`."""

    table: str
    """The predictions table (a file output's name)."""

    def begin(self, run: Run, columns: Sequence[Column], rejects: Sequence[Column]) -> None: ...

    def resume(self, run: Run) -> None: ...

    def commit(self, run: Run, chunk: ScoredChunk) -> Run: ...

    def save(self, run: Run) -> None: ...

    def discard(self, run: Run, *, rejects: bool = True) -> None: ...

    def reconciled(self, run: Run, id_column: str) -> Run: ...


def is_url(text: str) -> bool:
    """True for a SQLAlchemy URL (`dialect[+driver]://...`), not a path."""
    return re.match(r"^[A-Za-z][A-Za-z0-9+]*://", text) is not None


def open_store(output: str, table: str = "predictions") -> SqlStore | ParquetStore | CsvStore:
    """The store `output` names: a database URL, a `.csv` file, else a Parquet folder.

    Args:
        output: `sqlite:///predictions.db`, `postgresql+psycopg://...`, `out.csv`, `out/`.
        table: the predictions table in a database (files ignore it).

    Raises:
        StoreError: the output can't be used (another kind of file is there, say).
    """
    if is_url(output):
        from modelport.store.sql import SqlStore

        return SqlStore(output, table)
    if output.lower().endswith(".csv"):
        return CsvStore(output)
    return ParquetStore(output)


def store_exists(store: SqlStore | ParquetStore | CsvStore) -> bool:
    """False when nothing was ever written there: reading such a store is a typo, not empty."""
    from modelport.store.sql import SqlStore, missing_sqlite_file

    if isinstance(store, SqlStore):
        return missing_sqlite_file(store.engine) is None
    return store.manifest.exists()
