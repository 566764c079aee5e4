"""Where the prediction log writes: a database (`store/sql_log.py`) or a Parquet folder
(`store/parquet_log.py`), chosen by the target as `open_store` chooses a scoring output."""

from __future__ import annotations

from typing import Protocol

import pandas as pd

from modelport.errors import StoreError
from modelport.store import is_url
from modelport.store.chunk import ColumnKind


class LogWriter(Protocol):
    """What the log's writer thread calls; only that thread calls it."""

    location: str

    def append(self, frame: pd.DataFrame, kinds: dict[str, ColumnKind | None]) -> None: ...

    def is_outage(self, error: BaseException) -> bool: ...

    def reset(self) -> None: ...

    def finish(self) -> None: ...

    def close(self) -> None: ...


def open_log_writer(target: str) -> LogWriter:
    """The writer for a database URL or a Parquet folder.

    Raises:
        StoreError: the target can't hold a log (a CSV file, a malformed URL, no driver).
    """
    if is_url(target):
        from modelport.store.sql_log import SqlLogWriter

        return SqlLogWriter(target)
    if target.lower().endswith(".csv"):
        raise StoreError(
            f"the prediction log can't be a CSV file ({target}): give a database URL "
            "(sqlite:///log.db) or a Parquet folder"
        )
    from modelport.store.parquet_log import ParquetLogWriter

    return ParquetLogWriter(target)


def check_log_target(target: str) -> None:
    """Refuse a target that can't hold a log, without connecting to it.

    Raises:
        StoreError: as `open_log_writer`.
    """
    open_log_writer(target).close()
