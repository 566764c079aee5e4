"""The prediction log in a database: table `prediction_log`, one run per server process.

Each batch's rows and its run's progress commit in one transaction, as a scoring job's
chunks do. SQLite is opened in WAL mode with a busy timeout, a connection per batch, so the
workers of one server (separate processes) write the same file in turn; PostgreSQL takes
them side by side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from modelport.errors import StoreError
from modelport.store.bulk import insert_frame
from modelport.store.chunk import Column, ColumnKind
from modelport.store.log import LOG_TABLE, LogColumns, new_log_run
from modelport.store.sql import _TYPES, SqlStore, _row

SQLITE_BUSY_SECONDS = 30.0
"""How long a SQLite write waits for another worker's to finish before it counts as down."""
CONNECT_SECONDS = 10
"""How long a database connection may take before the store counts as down."""
_OUTAGES = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError, OSError)
_DDL_ATTEMPTS = 3
"""Workers starting together race to create the table or add a column: the loser looks again."""


class SqlLogWriter:
    """Appends the log's batches to a database, adding columns as new features come.

    Raises:
        StoreError: the URL can't be used (malformed, no driver, a SQLite file in a folder
            that does not exist).
    """

    def __init__(self, url: str) -> None:
        self.store = SqlStore(url, LOG_TABLE, **_engine_options(url))
        engine = self.store.engine
        self.location = self.store.location
        if engine.dialect.name == "sqlite":
            _check_sqlite_folder(engine.url.database, self.location)
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        self.columns = LogColumns(
            case_sensitive=engine.dialect.name != "sqlite",
            max_name_bytes=63 if engine.dialect.name == "postgresql" else None,
        )
        self.run = new_log_run(self.location, LOG_TABLE)
        self._shaped: set[str] | None = None
        """Columns the table is known to have; None until the table and run are checked."""
        self._recorded = False

    def append(self, frame: pd.DataFrame, kinds: dict[str, ColumnKind | None]) -> None:
        """Commit the rows (and the run's progress) in one transaction."""
        if self._shaped is None:
            self._shape()  # learns the kinds the table has, before the frame is fitted to them
        frame = self.columns.fit(frame, kinds, self.run.id)
        if set(frame.columns) - (self._shaped or set()):
            self._shape()
        advanced = self.run.advanced(read=len(frame), scored=len(frame), rejected=0)
        runs = self.store._runs
        with self.store.engine.begin() as connection:
            table = self.store._table(connection, LOG_TABLE)
            insert_frame(connection, table, frame)
            connection.execute(
                runs.update().where(runs.c.id == advanced.id).values(**_row(advanced))
            )
        self.run = advanced

    def is_outage(self, error: BaseException) -> bool:
        """True when the database can't be reached or written now (worth a retry later)."""
        return isinstance(error, _OUTAGES)

    def reset(self) -> None:
        """Forget what is known of the table: the next batch checks it (and the run) again,
        so a database that was dropped and made again gets its table back."""
        self._shaped = None
        self.store._tables.clear()

    def finish(self) -> None:
        """Record the run as completed (nothing to do when it wrote nothing)."""
        if self._recorded:
            self.store.save(self.run.ended("completed"))

    def close(self) -> None:
        """Release the connections."""
        self.store.close()

    def _shape(self) -> None:
        for attempt in range(_DDL_ATTEMPTS):
            try:
                with self.store.engine.begin() as connection:
                    self._ensure(connection)
                return
            except SQLAlchemyError:
                self.store._tables.clear()
                if attempt == _DDL_ATTEMPTS - 1 or self._is_down():
                    raise

    def _ensure(self, connection: Connection) -> None:
        """The table with every known column (the stored kinds learnt), and the run."""
        inspector = sa.inspect(connection)
        if inspector.has_table(LOG_TABLE):
            present = {c["name"]: _kind(c["type"]) for c in inspector.get_columns(LOG_TABLE)}
            self.columns.learn(present)
            missing = [c for c in self.columns.columns() if c.name not in present]
            _add_columns(connection, missing)
        elif "time" in self.columns.kinds:  # else there is nothing to create it with yet
            _create(connection, self.columns.columns())
        store = self.store
        store._meta.create_all(connection, tables=[store._runs])
        runs = store._runs
        found = connection.execute(sa.select(runs.c.id).where(runs.c.id == self.run.id)).first()
        if found is None:
            connection.execute(runs.insert().values(**_row(self.run)))
        self._recorded = True
        store._tables.clear()
        self._shaped = set(self.columns.kinds)

    def _is_down(self) -> bool:
        try:
            with self.store.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except SQLAlchemyError:
            return True
        return False


def _engine_options(url: str) -> dict[str, Any]:
    try:
        backend = sa.make_url(url).get_backend_name()
    except ArgumentError:
        return {}  # SqlStore says what is wrong with the URL
    if backend == "sqlite":
        # A connection per batch: a file moved or replaced is seen at the next batch.
        return {"poolclass": NullPool, "connect_args": {"timeout": SQLITE_BUSY_SECONDS}}
    if backend == "postgresql":
        return {"pool_pre_ping": True, "connect_args": {"connect_timeout": CONNECT_SECONDS}}
    return {"pool_pre_ping": True}


def _sqlite_pragmas(connection: Any, record: Any) -> None:
    """WAL: readers never block the writer, and writers from several processes queue up."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _check_sqlite_folder(database: str | None, location: str) -> None:
    if database and database != ":memory:" and not database.startswith("file:"):
        folder = Path(database).parent
        if not folder.is_dir():
            raise StoreError(f"{location}: the folder {folder} does not exist")


def _create(connection: Connection, columns: list[Column]) -> None:
    table = sa.Table(
        LOG_TABLE, sa.MetaData(), *(sa.Column(c.name, _TYPES[c.kind]) for c in columns)
    )
    table.create(connection)
    sa.Index(f"ix_{LOG_TABLE}_time", table.c.time).create(connection)


def _add_columns(connection: Connection, columns: list[Column]) -> None:
    preparer = connection.dialect.identifier_preparer
    for column in columns:
        kind = _TYPES[column.kind]
        kind = kind() if isinstance(kind, type) else kind
        connection.execute(
            sa.text(
                f"ALTER TABLE {preparer.quote(LOG_TABLE)} ADD COLUMN "
                f"{preparer.quote(column.name)} {kind.compile(connection.dialect)}"
            )
        )


def _kind(kind: Any) -> ColumnKind:
    """A column type as the database reports it, as the kind of value it holds."""
    if isinstance(kind, sa.DateTime):
        return "time"
    if isinstance(kind, sa.Boolean):
        return "boolean"
    if isinstance(kind, sa.Integer):
        return "integer"
    if isinstance(kind, sa.Float | sa.Numeric):
        return "float"
    return "text"
