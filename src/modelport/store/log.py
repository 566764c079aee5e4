"""The prediction log's columns: one table (or folder) that every model a server answers
shares, so its feature columns are the union of theirs and grow as models come.

A column keeps the kind it was first written with (by this process or another): a later
value of another kind is converted (a number into a text column as its text), or stored as
null when it can't be (text in a number column), and that is logged once per column.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from modelport.store.chunk import Column, ColumnKind
from modelport.store.runs import Run, new_run_id, now

logger = logging.getLogger("modelport.prediction_log")

LOG_TABLE = "prediction_log"
LOG_MODEL = "(served)"
"""The model a log's runs name: every model the server answers writes to the one log."""
LOG_OPTION = "prediction_log"
"""Set in a log run's options: its rows are committed as they come, so a `running` run (a
server still serving, or one that was killed) is read like a completed one."""


def new_log_run(location: str, table: str) -> Run:
    """The run of one server process (one worker) writing to the log."""
    started = now()
    return Run(
        id=new_run_id(started),
        model=LOG_MODEL,
        model_version=None,
        model_sha256=None,
        input="requests served",
        output=location,
        table=table,
        chunk_size=0,
        options={LOG_OPTION: True},
        started_at=started,
    )


def is_log_run(run: Run) -> bool:
    """True for a prediction log's run (not a scoring job's)."""
    return bool(run.options.get(LOG_OPTION))


class LogColumns:
    """The log's columns and their kinds as the store has them, and frames made to fit.

    Args:
        case_sensitive: False for SQLite, where `Age` and `age` are one column.
        max_name_bytes: the longest column name the store keeps (PostgreSQL cuts at 63).
    """

    def __init__(self, *, case_sensitive: bool = True, max_name_bytes: int | None = None) -> None:
        self.kinds: dict[str, ColumnKind] = {}
        self._case_sensitive = case_sensitive
        self._max_name_bytes = max_name_bytes
        self._keys: dict[str, str] = {}
        self._warned: set[str] = set()

    def name(self, column: str) -> str:
        """The name `column` is stored under (an existing column's spelling, or cut short)."""
        if self._max_name_bytes is not None:
            column = column.encode()[: self._max_name_bytes].decode(errors="ignore")
        return self._keys.get(self._key(column), column)

    def learn(self, kinds: Mapping[str, ColumnKind]) -> None:
        """Columns the store already has: their kinds win over what a batch brings."""
        for column, kind in kinds.items():
            self._keys[self._key(column)] = column
            self.kinds[column] = kind

    def fit(
        self, frame: pd.DataFrame, kinds: Mapping[str, ColumnKind | None], run_id: str
    ) -> pd.DataFrame:
        """The frame with its run, under the stored names, converted to the stored kinds; its
        new columns are added to `kinds` (a column with no value yet waits for one)."""
        if "run_id" not in self.kinds:
            self.learn({"run_id": "text"})
        data: dict[str, Any] = {"run_id": np.full(len(frame), run_id, dtype=object)}
        for column in frame.columns:
            kind, name = kinds[column], self.name(str(column))
            known = self.kinds.get(name)
            if known is None:
                if kind is None:
                    continue
                self.learn({name: kind})
                known = kind
            data[name] = self._converted(name, frame[column], kind, known)
        return pd.DataFrame(data, index=frame.index)

    def columns(self) -> list[Column]:
        """Every known column, in the order they came."""
        return [Column(name, kind) for name, kind in self.kinds.items()]

    def _key(self, column: str) -> str:
        return column if self._case_sensitive else column.casefold()

    def _converted(
        self, name: str, values: pd.Series, kind: ColumnKind | None, known: ColumnKind
    ) -> Any:
        if kind is None or kind == known:
            return values
        if known == "text":
            return np.array([_text(v) for v in values.tolist()], dtype=object)
        if known == "float":
            numbers = pd.to_numeric(values, errors="coerce").astype(np.float64)
            if numbers.isna().sum() > values.isna().sum() and name not in self._warned:
                self._warned.add(name)
                logger.warning(
                    "prediction log: column %r holds numbers; text values logged for it are "
                    "stored as null",
                    name,
                )
            return numbers
        if name not in self._warned:
            self._warned.add(name)
            logger.warning(
                "prediction log: column %r holds %s values; others are null", name, known
            )
        return np.full(len(values), None, dtype=object)


def _text(value: Any) -> str | None:
    """A number as text the way drift reads a category: `3.0` as `3`."""
    if value is None or value != value:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def empty_column(kind: ColumnKind, n_rows: int) -> Any:
    """A column of missing values of `kind`, for a part file's columns a batch lacks."""
    if kind == "float":
        return np.full(n_rows, np.nan)
    return np.full(n_rows, None, dtype=object)
