"""A database table or query as a batch input, streamed in chunks (a server-side cursor)."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from modelport.batch.readers import QUALIFIED_NAME
from modelport.errors import InputTableError, StoreError
from modelport.store.sql import create_engine, missing_sqlite_file, safe_url


class SqlInput:
    """Rows of a SELECT (or of a whole table, given its name) through any SQLAlchemy URL.

    A resumed run skips the chunks it committed, so the query must return its rows in the
    same order each time: give it an ORDER BY.
    """

    def __init__(self, url: str, query: str) -> None:
        self.url = url
        self.query = query.strip()
        self.name = f"{safe_url(url)} {self.query}"
        self.total_rows: int | None = None
        try:
            self.engine = create_engine(url)
        except StoreError as error:
            raise InputTableError(str(error)) from None
        missing = missing_sqlite_file(self.engine)
        if missing:
            raise InputTableError(f"input not found: {missing}")

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    def fingerprint(self) -> str | None:
        """Unknown for a query: a resumed query must return its rows in the same order."""
        return None

    def _statement(self) -> sa.TextClause:
        if QUALIFIED_NAME.match(self.query):
            preparer = self.engine.dialect.identifier_preparer
            quoted = ".".join(preparer.quote(part) for part in self.query.split("."))
            return sa.text(f"SELECT * FROM {quoted}")
        return sa.text(self.query)

    def columns(self) -> list[str]:
        """The result's column names (the query runs once, for none of its rows)."""
        try:
            connection = self.engine.connect()
        except SQLAlchemyError as error:
            raise InputTableError(
                f"cannot connect to {safe_url(self.url)}: {_reason(error)}"
            ) from None
        try:
            with connection:
                result = connection.execution_options(stream_results=True).execute(
                    self._statement()
                )
                names = [str(name) for name in result.keys()]
                result.close()
                return names
        except SQLAlchemyError as error:
            raise InputTableError(self._reason(error)) from None

    def chunks(self, chunk_size: int, skip: int = 0) -> Iterator[pd.DataFrame]:
        """Chunks in order, fetched as they are needed."""
        try:
            with self.engine.connect() as connection:
                streaming = connection.execution_options(stream_results=True)
                reader = pd.read_sql_query(self._statement(), streaming, chunksize=chunk_size)
                for index, chunk in enumerate(reader):
                    if index >= skip:
                        yield chunk
        except SQLAlchemyError as error:
            raise InputTableError(self._reason(error)) from None

    def fraction_read(self) -> float | None:
        """Unknown for a query."""
        return None

    def _reason(self, error: SQLAlchemyError) -> str:
        return f"{safe_url(self.url)}: the query failed: {_reason(error)}"


def _reason(error: SQLAlchemyError) -> str:
    detail = str(getattr(error, "orig", None) or error).strip().splitlines()
    return detail[0][:300] if detail else type(error).__name__
