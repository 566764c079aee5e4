"""Many rows into a table, fast: COPY for PostgreSQL, one executemany for SQLite.

SQLAlchemy's `insert()` with a list of dicts processes every value of every row in Python
(a timestamp is formatted a million times for a million rows); the drivers' own bulk paths
take plain tuples. Both run on the connection of the caller's transaction, so the rows
still commit together with the run's progress. Other databases take the portable path.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"
"""How SQLAlchemy stores a DateTime in SQLite, so that it reads the value back."""


def insert_frame(connection: Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    """Append the frame's rows to `table` (its columns, by name) in the open transaction."""
    dialect = connection.dialect.name
    names = [str(name) for name in frame.columns]
    if dialect == "postgresql" and connection.dialect.driver == "psycopg":
        _copy(connection, table, names, _rows(frame, text_times=False))
    elif dialect == "sqlite":
        preparer = connection.dialect.identifier_preparer
        columns = ", ".join(preparer.quote(name) for name in names)
        marks = ", ".join("?" * len(names))
        statement = f"INSERT INTO {preparer.quote(table.name)} ({columns}) VALUES ({marks})"
        driver = connection.connection.driver_connection  # the transaction's own connection
        assert driver is not None
        driver.executemany(statement, _rows(frame, text_times=True))
    else:
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        connection.execute(table.insert(), cast(list[dict[str, Any]], records))


def _copy(
    connection: Connection, table: sa.Table, names: list[str], rows: list[tuple[Any, ...]]
) -> None:
    preparer = connection.dialect.identifier_preparer
    columns = ", ".join(preparer.quote(name) for name in names)
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        statement = f"COPY {preparer.quote(table.name)} ({columns}) FROM STDIN"
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)


def _rows(frame: pd.DataFrame, *, text_times: bool) -> list[tuple[Any, ...]]:
    """The frame as tuples of plain Python values (NaN as None), built column by column."""
    return list(zip(*(_values(frame[name], text_times) for name in frame.columns), strict=True))


def _values(column: pd.Series, text_times: bool) -> list[Any]:
    if isinstance(column.dtype, pd.CategoricalDtype):  # a repeated value: formatted once
        categories = [_plain(value, text_times) for value in column.cat.categories]
        codes = column.cat.codes.to_numpy()
        return [categories[code] if code >= 0 else None for code in codes.tolist()]
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        if text_times:  # formatted by numpy at once: a log has a time per request
            return _sqlite_times(column)
        codes, moments = pd.factorize(column)  # one time per chunk: converted once
        converted = [_plain(moment, text_times) for moment in moments]
        return [converted[code] if code >= 0 else None for code in codes.tolist()]
    values = column.to_numpy()
    if values.dtype.kind == "f" and np.isnan(values).any():
        return [None if value != value else value for value in values.tolist()]
    if values.dtype.kind == "O" and pd.isna(values).any():  # the check in C, the rare fix here
        return [None if value is None or value != value else value for value in values.tolist()]
    return values.tolist()


def _sqlite_times(column: pd.Series) -> list[Any]:
    """UTC times as SQLAlchemy writes them in SQLite (`_SQLITE_TIME`), None for NaT."""
    moments = column.dt.tz_convert("UTC").dt.tz_localize(None) if column.dt.tz else column
    values = moments.to_numpy(dtype="datetime64[us]")
    text = np.char.replace(np.datetime_as_string(values, unit="us"), "T", " ")
    missing = np.isnat(values)
    if not missing.any():
        return list(text.tolist())
    return [None if gone else value for value, gone in zip(text.tolist(), missing, strict=True)]


def _plain(value: Any, text_times: bool) -> Any:
    if isinstance(value, pd.Timestamp):
        moment = value.tz_convert("UTC").tz_localize(None) if value.tzinfo else value
        return moment.strftime(_SQLITE_TIME) if text_times else value.to_pydatetime()
    return value
