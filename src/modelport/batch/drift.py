"""Drift offline: a table, or a store of predictions, against a bundle's reference profile.

Both ways end in the same place: frames whose columns are features (as the model takes
them) and `prediction`, counted by `modelport.drift.Tally`. A table is screened and scored
here; a store written by `modelport score` holds the predictions (and a prediction log
also holds each feature), so it is read as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from modelport.batch.readers import open_input
from modelport.drift import PREDICTION, Tally, Thresholds, drift_report
from modelport.errors import InputTableError, ModelportError, StoreError
from modelport.prediction_log.rows import feature_column
from modelport.predictor import Predictor
from modelport.profile import Profile, feature_columns, require_columns
from modelport.screening import screen_frame
from modelport.settings import DEFAULT_TABLE
from modelport.store import is_url, open_store, store_exists
from modelport.store.log import LOG_TABLE, is_log_run

if TYPE_CHECKING:  # SQLAlchemy is imported only when a database is read
    from modelport.store.sql import SqlStore

TIME_COLUMNS = ("time", "scored_at")
"""Columns a log's rows are timed by: a prediction log's `time`, a scoring run's `scored_at`."""
_AGO = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass
class Drift:
    """A drift report and what was left out of it."""

    report: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def drift_of_table(
    predictor: Predictor,
    source: str,
    thresholds: Thresholds,
    *,
    query: str | None = None,
    chunk_size: int = 50_000,
) -> Drift:
    """Drift of a table's rows (any input `modelport score` reads) and of the model's own
    predictions for them; rows the model would reject are left out and counted.

    Raises:
        InputTableError, InvalidInputError: the table can't be read or lacks a feature.
    """
    tally = Tally(_profile(predictor))
    metadata = predictor.input_metadata
    table = open_input(source, metadata, query=query)
    rejected = 0
    try:
        require_columns(table.columns(), metadata)
        for chunk in table.chunks(chunk_size):
            screened = screen_frame(chunk.reset_index(drop=True), metadata)
            rejected += len(chunk) - len(screened.valid)
            if screened.X is not None and len(screened.valid):
                answers = predictor.predict_array(screened.X)
                tally.add(tally.bins(feature_columns(screened.X, metadata), answers))
    finally:
        table.close()
    notes = [f"{rejected:,} rows the model would reject were left out"] if rejected else []
    return Drift(drift_report(tally, thresholds, window=None), notes)


def drift_of_log(
    predictor: Predictor,
    url: str,
    thresholds: Thresholds,
    *,
    table: str | None = None,
    since: datetime | None = None,
) -> Drift:
    """Drift of the rows a store holds: the predictions of a scoring run's output (and each
    feature a prediction log holds), since a time when given.

    A database's table is `predictions` unless told, or `prediction_log` when only that one
    is there. A prediction log that holds several models' rows is read for the bundle's
    model: the rows of its sha256, else of its name.

    Raises:
        StoreError: no store there, nothing in it to compare, or no row of this model.
    """
    tally = Tally(_profile(predictor))
    for frame in _log_frames(url, table or _table_of(url), since):
        frame = _feature_columns(_rows_of_model(frame, predictor, url), tally.names)
        columns = {name: frame[name].to_numpy() for name in tally.names if name in frame}
        predictions = columns.pop(PREDICTION, None)
        tally.add(tally.bins(columns, predictions))
    report = drift_report(tally, thresholds, window=None)
    notes = []
    if tally.rows and not any(entry["rows"] for entry in report["features"].values()):
        notes.append(
            "the log holds no feature columns (a scoring run publishes predictions only): "
            "give the scored table with --input for the features' drift"
        )
    return Drift(report, notes)


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`2026-03-01`, `2026-03-01T12:00` (UTC unless it says), or an age: `30m`, `12h`, `7d`.

    Raises:
        InputTableError: the text is neither.
    """
    now = now or datetime.now(UTC)
    ago = _AGO.match(text.strip().lower())
    if ago:
        return now - timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputTableError(
            f"--since {text!r} is not a time: give an ISO date or time (2026-03-01T12:00) "
            "or an age (30m, 12h, 7d)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _profile(predictor: Predictor) -> Profile:
    profile = predictor.bundle.profile
    if profile is None:
        where = predictor.bundle.path or predictor.bundle.name
        raise ModelportError(
            f"{where} has no reference profile to compare with; add one with: "
            f"modelport profile {where} --sample TRAINING_TABLE --output PROFILED_BUNDLE"
        )
    return profile


def _log_frames(url: str, table: str, since: datetime | None) -> Iterator[pd.DataFrame]:
    """The rows of a store's completed runs and prediction log runs (those that ended after
    `since`); a database table without runs is read whole. Rows before `since` are
    dropped."""
    from modelport.store.sql import SqlStore

    with open_store(url, table) as store:
        if not store_exists(store):
            raise StoreError(f"no predictions store at {store.location}")
        readable = [r for r in store.runs() if r.status == "completed" or is_log_run(r)]
        runs = [
            run.id
            for run in readable
            if since is None or run.ended_at is None or run.ended_at >= since
        ]
        if readable and not runs:
            return  # every run ended before `since`: no rows to compare
        if runs:
            frame = store.read(runs)
        elif isinstance(store, SqlStore) and not store.runs():
            frame = _whole_table(store)
        else:
            raise StoreError(f"{store.location} holds no completed run")
    if PREDICTION not in frame.columns:
        raise StoreError(f"{store.location} has no {PREDICTION} column")
    if since is not None:
        frame = frame[_times(frame, store.location) >= since]
    yield frame


def _table_of(url: str) -> str:
    """`predictions`, or `prediction_log` in a database that has only the log."""
    if not is_url(url):
        return DEFAULT_TABLE
    import sqlalchemy as sa

    from modelport.store.sql import create_engine, missing_sqlite_file

    engine = create_engine(url)
    try:
        if missing_sqlite_file(engine) is not None:
            return DEFAULT_TABLE
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            only_log = inspector.has_table(LOG_TABLE) and not inspector.has_table(DEFAULT_TABLE)
    except sa.exc.SQLAlchemyError:
        return DEFAULT_TABLE  # reading the store says what is wrong
    finally:
        engine.dispose()
    return LOG_TABLE if only_log else DEFAULT_TABLE


def _feature_columns(frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """A log's `feature_<name>` columns (features named like the log's own) by their name."""
    renamed = {
        feature_column(name): name
        for name in names
        if name != PREDICTION and feature_column(name) != name and feature_column(name) in frame
    }
    if not renamed:
        return frame
    return frame.drop(columns=[n for n in renamed.values() if n in frame]).rename(columns=renamed)


def _rows_of_model(frame: pd.DataFrame, predictor: Predictor, url: str) -> pd.DataFrame:
    """The rows of the bundle's model in a log of several (by sha256, else by name)."""
    if "model" not in frame.columns or frame["model"].nunique(dropna=True) <= 1:
        return frame
    bundle = predictor.bundle
    if "model_sha256" in frame.columns and bundle.sha256:
        same = frame["model_sha256"] == bundle.sha256
        if same.any():
            return frame[same]
    same = frame["model"] == bundle.name
    if not same.any():
        held = ", ".join(sorted(map(str, frame["model"].dropna().unique()))[:10])
        raise StoreError(f"{url} holds no rows of model {bundle.name!r} (it holds {held})")
    return frame[same]


def _whole_table(store: SqlStore) -> pd.DataFrame:
    import sqlalchemy as sa

    with store.engine.connect() as connection:
        if not sa.inspect(connection).has_table(store.table):
            raise StoreError(f"{store.location} has no table {store.table!r}")
        table = sa.Table(store.table, sa.MetaData(), autoload_with=connection)
        return pd.read_sql(sa.select(table), connection)


def _times(frame: pd.DataFrame, url: str) -> pd.Series:
    for name in TIME_COLUMNS:
        if name in frame.columns:
            return pd.to_datetime(frame[name], utc=True, format="ISO8601")
    raise StoreError(f"{url} has no time column ({' or '.join(TIME_COLUMNS)}) for --since")
