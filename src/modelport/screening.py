"""A table's rows → the model input of its valid rows, and every problem of the others.

The API refuses a request with one bad row; a batch job sets bad rows aside and scores the
rest. Clean columns (numbers read as numbers, categories as strings) convert in numpy; a
column with anything unusual goes through the same `convert_column` the API uses, so a
row gets the same value, or the same message, whichever way it arrives.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelport.columns import convert_column
from modelport.errors import FieldProblem, InvalidInputError
from modelport.metadata import FeatureSpec, FeatureType, ModelMetadata
from modelport.validation import build_input, valid_matrix

_NUMBERS = frozenset({FeatureType.NUMERIC, FeatureType.INTEGER})
_STRINGS = frozenset({FeatureType.CATEGORICAL, FeatureType.TEXT})
_CLOSE = 0.6
"""How alike a column's name must be to a feature's to be taken for its misspelling
(difflib's own default for close matches)."""


@dataclass(frozen=True)
class Screened:
    """The model input of the valid rows, where they are, and what is wrong with the rest.

    Attributes:
        X: the model input of the valid rows, in their order (None when there are none).
        valid: positions (from 0) of the valid rows in the frame.
        problems: every problem found, `row` being the position in the frame.
    """

    X: Any
    valid: np.ndarray
    problems: list[FieldProblem]


def check_columns(columns: Iterable[str], metadata: ModelMetadata) -> list[str]:
    """Refuse a table whose columns can't feed the model; name the features it lacks.

    A feature absent from the table takes its default in every row, as an absent field does
    in a request. An absent feature with no default, or one whose name is close to a column
    that is there (a misspelling would otherwise be a silent default), is an error.

    Returns:
        The absent features that take their default.

    Raises:
        InvalidInputError: naming each feature the table lacks, with a suggestion.
    """
    present = [str(column) for column in columns]
    absent = [spec for spec in metadata.features if spec.name not in present]
    problems, defaulted = [], []
    spare = [name for name in present if name not in set(metadata.feature_names)]
    likely = _misspellings([spec.name for spec in absent], spare)
    for spec in absent:
        if spec.name in likely:
            problems.append(
                FieldProblem(
                    f"no such column; the table has {likely[spec.name]!r}", field=spec.name
                )
            )
        elif spec.default is None and not (spec.accepts_missing and metadata.allows_nan):
            problems.append(FieldProblem("no such column, and no default", field=spec.name))
        else:
            defaulted.append(spec.name)
    if problems:
        raise InvalidInputError(problems, within="the input table")
    return defaulted


def _misspellings(features: list[str], columns: list[str]) -> dict[str, str]:
    """Feature → the column that is most likely its misspelling; a column is given to the
    one feature it resembles most (`educaton` is `education`, not `duration`)."""
    pairs = sorted(
        (
            (difflib.SequenceMatcher(None, feature, column).ratio(), feature, column)
            for feature in features
            for column in columns
        ),
        reverse=True,
    )
    matched: dict[str, str] = {}
    for ratio, feature, column in pairs:
        if ratio >= _CLOSE and feature not in matched and column not in matched.values():
            matched[feature] = column
    return matched


def screen_frame(frame: pd.DataFrame, metadata: ModelMetadata) -> Screened:
    """Validate every row of `frame`; keep the valid ones as model input.

    Columns the model does not take (an id, a label) are ignored; an absent feature takes
    its default (see `check_columns`).
    """
    n_rows = len(frame)
    matrix = _all_numbers(frame, metadata)
    if matrix is not None:
        return Screened(matrix, np.arange(n_rows), [])
    allows_nan = bool(metadata.allows_nan)
    converted: dict[str, np.ndarray] = {}
    problems: list[FieldProblem] = []
    for spec in metadata.features:
        column = frame[spec.name] if spec.name in frame.columns else _absent(n_rows)
        fast = _fast_column(spec, column, allows_nan)
        if fast is None:
            array, found = convert_column(spec, column.to_numpy(dtype=object), allows_nan)
            problems += found
        else:
            array = fast
        converted[spec.name] = array
    bad = np.zeros(n_rows, dtype=bool)
    bad[[problem.row for problem in problems if problem.row is not None]] = True
    valid = np.flatnonzero(~bad)
    if not len(valid):
        return Screened(None, valid, problems)
    if bad.any():
        converted = {
            spec.name: _narrow(spec, converted[spec.name][valid]) for spec in metadata.features
        }
    return Screened(build_input(converted, len(valid), metadata), valid, problems)


def _all_numbers(frame: pd.DataFrame, metadata: ModelMetadata) -> np.ndarray | None:
    """The common case in one numpy call: a numeric model, every value a finite number.

    Gives what the column-by-column path gives (a C-ordered float64 matrix) for such a
    frame; anything else (a missing value, a column of text) returns None.
    """
    names = metadata.feature_names
    if metadata.input_kind != "numpy" or not names or not set(names) <= set(frame.columns):
        return None
    if not all(
        spec.type in _NUMBERS and _is_number_column(frame[spec.name]) for spec in metadata.features
    ):
        return None
    return valid_matrix(np.ascontiguousarray(frame[names].to_numpy(dtype=np.float64)), metadata)


def _absent(n_rows: int) -> pd.Series:
    return pd.Series([None] * n_rows, dtype=object)


def _narrow(spec: FeatureSpec, array: np.ndarray) -> np.ndarray:
    """The dtype `convert_column` gives the valid rows alone (a bad row widened the column)."""
    if array.dtype.kind != "f" or np.isnan(array).any():
        return array
    if spec.type is FeatureType.INTEGER and (np.abs(array) < 2.0**63).all():
        return array.astype(np.int64)
    if spec.type is FeatureType.BOOLEAN:
        return array.astype(bool)
    return array


def _fast_column(spec: FeatureSpec, column: pd.Series, allows_nan: bool) -> np.ndarray | None:
    """The converted column when it is clean, in numpy; None sends it the exact slow way."""
    if isinstance(column.dtype, pd.CategoricalDtype):  # Parquet's dictionary columns
        column = column.astype(object)
    if spec.type in _NUMBERS and _is_number_column(column):
        return _numbers(spec, column, allows_nan)
    if spec.type is FeatureType.BOOLEAN and pd.api.types.is_bool_dtype(column.dtype):
        return column.to_numpy(dtype=bool) if not column.isna().any() else None
    if spec.type in _STRINGS and pd.api.types.infer_dtype(column, skipna=True) == "string":
        return _strings(spec, column, allows_nan)
    return None


def _is_number_column(column: pd.Series) -> bool:
    dtype = column.dtype
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _numbers(spec: FeatureSpec, column: pd.Series, allows_nan: bool) -> np.ndarray | None:
    array = column.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    missing = np.isnan(array)
    if missing.any():
        default = spec.default
        if default is None:
            if not (spec.accepts_missing and allows_nan):
                return None
        elif isinstance(default, int | float) and not isinstance(default, bool):
            array[missing] = float(default)
        else:
            return None
    if np.isinf(array).any():
        return None
    if spec.type is FeatureType.INTEGER:
        finite = np.isfinite(array)
        if (np.mod(array[finite], 1) != 0).any():
            return None
        if finite.all() and (np.abs(array) < 2.0**63).all():
            return array.astype(np.int64)
    return array


def _strings(spec: FeatureSpec, column: pd.Series, allows_nan: bool) -> np.ndarray | None:
    values: np.ndarray = column.to_numpy(dtype=object, copy=True)  # filled in place below
    missing: np.ndarray = pd.isna(column).to_numpy()
    if spec.type is FeatureType.TEXT:
        if missing.any():
            if not isinstance(spec.default, str):
                return None
            values[missing] = spec.default
        return values
    return _categories(spec, values, missing, allows_nan)


def _categories(
    spec: FeatureSpec, values: np.ndarray, missing: np.ndarray, allows_nan: bool
) -> np.ndarray | None:
    """Known categories mapped to the metadata's own values (`"3"` → 3), missing ones to
    the default; anything else (an unknown category) goes the slow way for its message."""
    allowed = {str(category): category for category in spec.categories or []}
    default = spec.default
    if missing.any() and default is None and not (spec.accepts_missing and allows_nan):
        return None
    if missing.any() and default is not None and allowed and str(default) not in allowed:
        return None
    present = ~missing
    if allowed:
        given = pd.Series(values[present], dtype=object)
        if not given.isin(list(allowed)).all():
            return None
        values[present] = given.map(allowed).to_numpy(dtype=object)
    if missing.any():
        values[missing] = np.nan if default is None else allowed.get(str(default), default)
    return values
