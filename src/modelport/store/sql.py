"""Predictions in a database (any SQLAlchemy URL): rows and run progress in one transaction."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from modelport.errors import StoreError
from modelport.store.bulk import insert_frame
from modelport.store.chunk import Column, ColumnKind, ScoredChunk
from modelport.store.reading import StoreReader, id_values
from modelport.store.runs import RUNS_TABLE, Run

TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_TYPES: dict[ColumnKind, Any] = {
    "text": sa.Text,
    "repeated": sa.Text,
    "integer": sa.BigInteger,
    "float": sa.Float(precision=53),
    "boolean": sa.Boolean,
    "time": sa.DateTime(timezone=True),
}


def safe_url(url: str) -> str:
    """The URL as it may be shown: the password masked."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1]


def missing_sqlite_file(engine: Engine) -> str | None:
    """The file a SQLite URL names when it does not exist (SQLite would create it empty)."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        return None if Path(database).is_file() else database
    return None


def create_engine(url: str, **options: Any) -> Engine:
    """An engine for `url` (SQLAlchemy's `options`), or a StoreError that says what is wrong."""
    try:
        return sa.create_engine(url, **options)
    except (ArgumentError, NoSuchModuleError, ImportError) as error:
        raise StoreError(f"cannot use the database URL {safe_url(url)}: {error}") from None


class SqlStore(StoreReader):
    """The predictions table, its rejects table and the runs table, in one database.

    Args:
        url: a SQLAlchemy URL (`sqlite:///predictions.db`, `postgresql+psycopg://...`).
        table: the predictions table; rejects go to `<table>_rejects`.
        engine_options: SQLAlchemy's, for the engine (a pool, connection arguments).
    """

    def __init__(self, url: str, table: str = "predictions", **engine_options: Any) -> None:
        if not TABLE_NAME.match(table) or table == RUNS_TABLE:
            raise StoreError(
                f"invalid table name {table!r}: letters, digits and _ (not {RUNS_TABLE})"
            )
        self.url = url
        self.location = safe_url(url)
        self.table = table
        self.engine = create_engine(url, **engine_options)
        self._meta = sa.MetaData()
        self._runs = _runs_table(self._meta)
        self._tables: dict[str, sa.Table] = {}

    @contextmanager
    def _connect(self, what: str) -> Iterator[Connection]:
        """A transaction; a database error becomes one StoreError line saying what failed."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except SQLAlchemyError as error:
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0][:300]
            raise StoreError(f"{self.location}: cannot {what}: {reason}") from None

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    # --- runs -------------------------------------------------------------------------------

    def runs(self) -> list[Run]:
        """Every run recorded for this table, oldest first."""
        with self._connect("read the runs") as connection:
            if not sa.inspect(connection).has_table(RUNS_TABLE):
                return []
            _widen(connection, RUNS_TABLE, list(self._runs.columns))
            query = (
                sa.select(self._runs)
                .where(self._runs.c.table_name == self.table)
                .order_by(self._runs.c.started_at)
            )
            return [_run(row._mapping) for row in connection.execute(query)]

    def begin(self, run: Run, columns: Sequence[Column], rejects: Sequence[Column]) -> None:
        """Create (or widen) the tables and record the run as running.

        Raises:
            StoreError: the table holds another model's predictions, or has columns of
                another kind.
        """
        self._check_owner(run)
        self._tables.clear()  # the tables may change shape below
        with self._connect("create the tables") as connection:
            self._ensure(connection, self.table, columns)
            self._ensure(connection, f"{self.table}_rejects", rejects)
            self._meta.create_all(connection, tables=[self._runs])
            connection.execute(self._runs.insert().values(**_row(run)))

    def resume(self, run: Run) -> None:
        """Claim `run` for this process; refused when another process claimed it first.

        Raises:
            StoreError: the run is already running (two `--resume` at once).
        """
        with self._connect("record the run") as connection:
            claimed = connection.execute(
                self._runs.update()
                .where(self._runs.c.id == run.id, self._runs.c.status != "running")
                .values(**_row(run))
            )
            if claimed.rowcount != 1:
                raise StoreError(f"run {run.id} is already being resumed by another process")

    def commit(self, run: Run, chunk: ScoredChunk) -> Run:
        """The chunk's rows, its rejects and the run's progress, in one transaction."""
        advanced = run.advanced(
            read=chunk.rows_read, scored=len(chunk.predictions), rejected=chunk.rows_rejected
        )
        with self._connect("write predictions") as connection:
            for name, frame in (
                (self.table, chunk.predictions),
                (f"{self.table}_rejects", chunk.rejects),
            ):
                if len(frame):
                    insert_frame(connection, self._table(connection, name), frame)
            connection.execute(
                self._runs.update().where(self._runs.c.id == run.id).values(**_row(advanced))
            )
        return advanced

    def save(self, run: Run) -> None:
        """Record the run as it is now (its status, its end)."""
        with self._connect("record the run") as connection:
            connection.execute(
                self._runs.update().where(self._runs.c.id == run.id).values(**_row(run))
            )

    def reconciled(self, run: Run, id_column: str) -> Run:
        """A chunk and the run's progress commit in one transaction: nothing to add."""
        return run

    def discard(self, run: Run, *, rejects: bool = True) -> None:
        """Remove the run's rows (and its rejects, unless told to keep them)."""
        names = [self.table, f"{self.table}_rejects"] if rejects else [self.table]
        with self._connect("remove a failed run's rows") as connection:
            for name in names:
                if sa.inspect(connection).has_table(name):
                    table = self._table(connection, name)
                    connection.execute(table.delete().where(table.c.run_id == run.id))

    def _check_owner(self, run: Run) -> None:
        others = sorted({r.model for r in self.runs() if r.model != run.model})
        if others:
            raise StoreError(
                f"{self.location}: table {self.table!r} holds predictions of model "
                f"{others[0]!r}, not {run.model!r}; choose another --table"
            )

    def _ensure(self, connection: Connection, name: str, columns: Sequence[Column]) -> None:
        inspector = sa.inspect(connection)
        if not inspector.has_table(name):
            table = sa.Table(
                name, sa.MetaData(), *(sa.Column(c.name, _TYPES[c.kind]) for c in columns)
            )
            table.create(connection)
            sa.Index(f"ix_{name}_run_id", table.c.run_id).create(connection)
            return
        _widen(connection, name, [sa.Column(c.name, _TYPES[c.kind]) for c in columns])

    def _table(self, connection: Connection, name: str) -> sa.Table:
        """The table as the database has it (read once per store: `begin` has shaped it)."""
        if name not in self._tables:
            self._tables[name] = sa.Table(name, sa.MetaData(), autoload_with=connection)
        return self._tables[name]

    # --- reading ----------------------------------------------------------------------------

    def read(
        self,
        run_ids: Sequence[str],
        *,
        ids: Sequence[Any] | None = None,
        id_column: str | None = None,
        rejects: bool = False,
    ) -> pd.DataFrame:
        """Rows of the given runs (and ids), as a DataFrame."""
        name = f"{self.table}_rejects" if rejects else self.table
        with self._connect("read predictions") as connection:
            if not sa.inspect(connection).has_table(name):
                return pd.DataFrame()
            table = self._table(connection, name)
            query = sa.select(table).where(table.c.run_id.in_(list(run_ids)))
            if ids is not None and id_column is not None:
                column = table.c[id_column]
                integer = isinstance(column.type, sa.Integer)
                query = query.where(column.in_(id_values(ids, integer)))
            return pd.read_sql(query, connection)


def _widen(connection: Connection, name: str, columns: Sequence[sa.Column[Any]]) -> None:
    """Add the columns the table lacks: a run that publishes more (probabilities, say), or
    a runs table written by an earlier modelport."""
    present = {column["name"] for column in sa.inspect(connection).get_columns(name)}
    preparer = connection.dialect.identifier_preparer
    for column in columns:
        if column.name not in present:
            kind = column.type.compile(connection.dialect)
            connection.execute(
                sa.text(
                    f"ALTER TABLE {preparer.quote(name)} "
                    f"ADD COLUMN {preparer.quote(column.name)} {kind}"
                )
            )


def _runs_table(meta: sa.MetaData) -> sa.Table:
    return sa.Table(
        RUNS_TABLE,
        meta,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("table_name", sa.String(63), index=True),
        sa.Column("model", sa.Text),
        sa.Column("model_version", sa.Text),
        sa.Column("model_sha256", sa.String(64)),
        sa.Column("input", sa.Text),
        sa.Column("output", sa.Text),
        sa.Column("chunk_size", sa.Integer),
        sa.Column("options", sa.Text),
        sa.Column("status", sa.String(16)),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("rows_read", sa.BigInteger),
        sa.Column("rows_scored", sa.BigInteger),
        sa.Column("rows_rejected", sa.BigInteger),
        sa.Column("chunks_committed", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("fingerprint", sa.Text),
        sa.Column("host", sa.Text),
        sa.Column("pid", sa.Integer),
    )


def _row(run: Run) -> dict[str, Any]:
    data = {key: getattr(run, key) for key in Run.__dataclass_fields__ if key != "table"}
    data["table_name"] = run.table
    data["options"] = json.dumps(run.options, sort_keys=True)
    return data


def _run(row: Any) -> Run:
    data = dict(row)
    data["table"] = data.pop("table_name")
    data["options"] = json.loads(data["options"] or "{}")
    return Run.from_json(data)
