"""Served records → the prediction log's rows: one per row served, each feature a column.

The log's own columns come first (`LOG_COLUMNS`), then `proba_<class>` per class, then the
features as the model took them. A feature whose name is one of the log's columns (or
starts with `proba_`, or is empty) is stored as `feature_<name>`. Text is stored as it
came, except that NUL characters (which PostgreSQL refuses) become U+FFFD and text past
`MAX_TEXT` characters is cut, ending in `…`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from modelport.served import Served
from modelport.store.chunk import ColumnKind

LOG_COLUMNS: dict[str, ColumnKind] = {
    "run_id": "text",
    "time": "time",
    "model": "text",
    "model_version": "text",
    "model_sha256": "text",
    "request_id": "text",
    "caller": "text",
    "route": "text",
    "prediction": "float",  # or text, for labels that are not numbers
}
PROBA_PREFIX = "proba_"
FEATURE_PREFIX = "feature_"
MAX_TEXT = 10_000
"""Characters of a text value the log keeps (a request may carry megabytes of text)."""
_NUMBERS = frozenset({"floating", "integer", "mixed-integer-float", "boolean", "decimal"})
_IDENTITY = (
    ("model", "model"),
    ("model_version", "version"),
    ("model_sha256", "sha256"),
    ("request_id", "request_id"),
    ("caller", "caller"),
    ("route", "route"),
)

FeatureNames = Callable[[Served], Sequence[str] | None]
"""The names of a record's input columns (its model's features), None when unknown."""


def feature_column(name: str) -> str:
    """The log column that holds feature `name` (a NUL in a name, which PostgreSQL refuses,
    as U+FFFD)."""
    name = name.replace("\x00", "\ufffd")
    if name in LOG_COLUMNS or name.startswith(PROBA_PREFIX) or not name:
        return FEATURE_PREFIX + name
    return name


def log_frame(
    records: Sequence[Served], names_of: FeatureNames
) -> tuple[pd.DataFrame, dict[str, ColumnKind | None]]:
    """The rows of `records` (without `run_id`, which the writer adds) and each column's kind
    (None for a column with no value yet)."""
    groups: dict[tuple[str, str, str], list[Served]] = {}
    for record in records:
        key = (record.model, record.sha256, type(record.X).__name__)
        groups.setdefault(key, []).append(record)
    parts = [_part(group, names_of(group[0])) for group in groups.values()]
    frame = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    kinds: dict[str, ColumnKind | None] = {}
    data: dict[str, Any] = {}
    for name in frame.columns:
        values, kinds[name] = _typed(frame[name], LOG_COLUMNS.get(name))
        data[name] = values
    return pd.DataFrame({name: _column(values) for name, values in data.items()}), kinds


def _column(values: Any) -> Any:
    """Text stays Python objects: the stores' writers take them as they are (pandas would
    otherwise convert each column to its own string type, and the writers back)."""
    if isinstance(values, np.ndarray) and values.dtype == object:
        return pd.Series(values, dtype=object, copy=False)
    return values


def _part(group: list[Served], names: Sequence[str] | None) -> pd.DataFrame:
    counts = [len(record.predictions) for record in group]
    micros = np.round(np.repeat([r.time for r in group], counts) * 1e6).astype(np.int64)
    data: dict[str, Any] = {"time": pd.DatetimeIndex(micros.astype("datetime64[us]"), tz="UTC")}
    for column, attribute in _IDENTITY:
        values = np.array([getattr(r, attribute) for r in group], dtype=object)
        data[column] = np.repeat(values, counts)
    data["prediction"] = np.array(list(chain.from_iterable(r.predictions for r in group)), object)
    if any(r.probabilities is not None for r in group):
        rows = list(
            chain.from_iterable(r.probabilities or [{}] * len(r.predictions) for r in group)
        )
        classes = dict.fromkeys(chain.from_iterable(rows))
        for name in classes:
            data[PROBA_PREFIX + str(name)] = np.array([row.get(name, np.nan) for row in rows])
    if names is not None:
        data.update(_features(group, names))
    return pd.DataFrame(data)


def _features(group: list[Served], names: Sequence[str]) -> dict[str, Any]:
    """Each feature's column over the group's rows ({} when X does not fit the names)."""
    first = group[0].X
    if isinstance(first, pd.DataFrame):
        X = pd.concat([r.X for r in group], ignore_index=True)
        return {feature_column(n): _plain(X[n]) for n in names if n in X.columns}
    if isinstance(first, list):
        if len(names) != 1:
            return {}
        return {feature_column(names[0]): list(chain.from_iterable(r.X for r in group))}
    matrix = np.concatenate([np.asarray(r.X) for r in group])
    if matrix.ndim != 2 or matrix.shape[1] != len(names):
        return {}
    return {feature_column(name): matrix[:, j] for j, name in enumerate(names)}


def _plain(column: pd.Series) -> Any:
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.astype(object).to_numpy()
    return column.to_numpy()


def _typed(values: pd.Series, fixed: ColumnKind | None) -> tuple[Any, ColumnKind | None]:
    """The column as floats, text or times, and its kind."""
    if fixed == "time":
        return values, "time"
    if values.dtype.kind in "fiub" and fixed != "text":
        return values.to_numpy(dtype=np.float64), "float"
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    if inferred in _NUMBERS and fixed != "text":
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64), "float"
    if inferred == "empty" and fixed is None:
        return values, None
    return _texts(values), "text"


def _texts(values: pd.Series) -> np.ndarray:
    """The column as text, each distinct value cleaned once (a model's name repeats on every
    row; most values need nothing, which a few C-speed passes show)."""
    codes, uniques = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
    distinct = uniques.tolist()
    if not (
        all(type(value) is str for value in distinct)
        and "\x00" not in "".join(distinct)
        and max(map(len, distinct), default=0) <= MAX_TEXT
    ):
        distinct = [_text(value) for value in distinct]
    table = np.empty(len(distinct) + 1, dtype=object)
    table[: len(distinct)] = distinct
    return table[codes]  # code -1, a missing value: the last slot, None


def _text(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"
