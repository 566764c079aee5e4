"""Records or columns → the 2-D model input, column by column; errors name row and field."""

from __future__ import annotations

import difflib
import math
import operator
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from modelport.errors import MAX_PROBLEMS, FieldProblem, InvalidInputError
from modelport.metadata import FeatureSpec, FeatureType, ModelMetadata, to_plain

_NUMBER_TYPES = frozenset({int, float})
_TRUE = frozenset({"true", "yes", "1", "t", "y", "on"})
_FALSE = frozenset({"false", "no", "0", "f", "n", "off"})
_SHOWN_CATEGORIES = 10
_NUMBERS = frozenset({FeatureType.NUMERIC, FeatureType.INTEGER})


def validate_records(records: Any, metadata: ModelMetadata, *, max_rows: int) -> Any:
    """One record (a dict) or a list of them → the model's input.

    Errors of a single record name no row; errors in a list name the row (from 0).

    Raises:
        InvalidInputError: listing every problem with its row and field.
    """
    single = isinstance(records, Mapping)
    rows = [records] if single else records
    if not isinstance(rows, list):
        raise InvalidInputError.single(f"expected a record or a list of records, got {_kind(rows)}")
    _check_row_count(len(rows), max_rows)
    problems = [
        FieldProblem(f"expected a record (an object of feature values), got {_kind(row)}", i)
        for i, row in enumerate(rows)
        if not isinstance(row, Mapping)
    ]
    if problems:
        raise InvalidInputError(problems)
    known = set(metadata.feature_names)
    keys: set[str] = set().union(*rows)
    unknown = keys - known
    if unknown:
        first_row: dict[str, int] = {}
        for i, row in enumerate(rows):  # one pass; only the first few unknown keys are named
            for key in row.keys() - known - first_row.keys():
                first_row[key] = i
            if len(first_row) >= MAX_PROBLEMS:
                break
        named = sorted(first_row, key=str)[:MAX_PROBLEMS]
        problems += [
            _unknown_feature(key, metadata, None if single else first_row[key]) for key in named
        ]
    if not problems:
        matrix = _all_numbers(rows, metadata)
        if matrix is not None:
            return matrix
    columns = {name: [row.get(name) for row in rows] for name in metadata.feature_names}
    hidden = len(unknown) - min(len(unknown), MAX_PROBLEMS)
    return _assemble(columns, len(rows), metadata, problems, single=single, hidden=hidden)


def validate_columns(columns: Mapping[str, Any], metadata: ModelMetadata, *, max_rows: int) -> Any:
    """Columns (feature name → list of values, all the same length) → the model's input.

    Raises:
        InvalidInputError: listing every problem with its row and field.
    """
    if not isinstance(columns, Mapping) or not columns:
        raise InvalidInputError.single(
            "expected columns: an object of feature name → list of values"
        )
    lengths = {
        name: len(values) if _is_sequence(values) else -1 for name, values in columns.items()
    }
    problems = [
        FieldProblem("expected a list of values", field=str(name))
        for name, length in lengths.items()
        if length < 0
    ]
    problems += [
        _unknown_feature(str(name), metadata, None)
        for name in columns
        if name not in set(metadata.feature_names)
    ]
    if problems:
        raise InvalidInputError(problems)
    n_rows = max(lengths.values())
    uneven = sorted(str(name) for name, length in lengths.items() if length != n_rows)
    if uneven:
        raise InvalidInputError.single(
            f"columns differ in length ({', '.join(uneven)} are shorter)"
        )
    _check_row_count(n_rows, max_rows)
    full = {
        name: columns[name] if name in columns else [None] * n_rows
        for name in metadata.feature_names
    }
    return _assemble(full, n_rows, metadata, [], single=False)


def _all_numbers(rows: list[Mapping[str, Any]], metadata: ModelMetadata) -> np.ndarray | None:
    """The common case in one numpy call: numbers for every feature of a numeric model.

    Anything else (a missing value, a string that is not a number, a fraction for an
    integer feature) returns None, and the column-by-column path gives the answer and the
    errors; both paths give the same array for the same valid rows.
    """
    if metadata.input_kind != "numpy" or not all(f.type in _NUMBERS for f in metadata.features):
        return None
    names = metadata.feature_names
    values = operator.itemgetter(*names)  # one C call per row, not one lookup per cell
    try:
        if len(names) == 1:
            matrix = np.array([[values(row)] for row in rows], dtype=np.float64)
        else:
            matrix = np.array([values(row) for row in rows], dtype=np.float64)
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    if matrix.shape != (len(rows), len(names)) or not np.isfinite(matrix).all():
        return None
    integers = [i for i, f in enumerate(metadata.features) if f.type is FeatureType.INTEGER]
    if integers and (np.mod(matrix[:, integers], 1) != 0).any():
        return None
    return matrix


def to_records(X: Any, metadata: ModelMetadata) -> list[dict[str, Any]]:
    """The model input back as records: what /preprocess shows, JSON-safe (NaN → None)."""
    if metadata.input_kind == "text":
        return [{metadata.feature_names[0]: text} for text in X]
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X, columns=metadata.feature_names)
    frame = frame.astype(object).where(frame.notna(), None)
    return [{str(k): to_plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _assemble(
    columns: Mapping[str, Any],
    n_rows: int,
    metadata: ModelMetadata,
    problems: list[FieldProblem],
    *,
    single: bool,
    hidden: int = 0,
) -> Any:
    converted: dict[str, np.ndarray] = {}
    allows_nan = bool(metadata.allows_nan)
    for spec in metadata.features:
        array, found = _convert(spec, columns[spec.name], allows_nan)
        converted[spec.name] = array
        problems += [FieldProblem(p.detail, None if single else p.row, p.field) for p in found]
    if problems:
        raise InvalidInputError(problems, total=len(problems) + hidden)
    return _build_input(converted, n_rows, metadata)


def _build_input(columns: dict[str, np.ndarray], n_rows: int, metadata: ModelMetadata) -> Any:
    if metadata.input_kind == "text":
        return list(columns[metadata.feature_names[0]])
    if metadata.input_kind == "dataframe":
        data = {spec.name: _frame_column(spec, columns[spec.name]) for spec in metadata.features}
        return pd.DataFrame(data, index=pd.RangeIndex(n_rows))
    arrays = list(columns.values())
    if all(array.dtype.kind in "fiub" for array in arrays):
        return (
            np.column_stack([a.astype(np.float64) for a in arrays])
            if arrays
            else np.empty((n_rows, 0))
        )
    return np.column_stack([a.astype(object) for a in arrays])


def _frame_column(spec: FeatureSpec, array: np.ndarray) -> Any:
    if spec.type is FeatureType.CATEGORICAL and spec.categories:
        return pd.Categorical(array, categories=spec.categories)
    return array


def _convert(
    spec: FeatureSpec, values: Any, allows_nan: bool
) -> tuple[np.ndarray, list[FieldProblem]]:
    """One column → a typed numpy array, plus every problem found in it."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "biufU":
        values = values.tolist()  # numpy scalars become Python ones: one set of checks applies
    values = [_fill(value, spec) for value in values]
    problems: list[FieldProblem] = []
    missing = [i for i, value in enumerate(values) if value is None]
    if missing and not (spec.accepts_missing and allows_nan):
        reason = "no value and no default" + (
            "" if spec.accepts_missing else " (this feature does not accept missing values)"
        )
        if spec.accepts_missing and not allows_nan:
            reason = "no value and no default, and the model cannot take missing values"
        problems += [FieldProblem(f"missing: {reason}", i, spec.name) for i in missing]
    array, found = _CONVERTERS[spec.type](spec, values)
    if array.dtype.kind == "f" and not (spec.accepts_missing and allows_nan):
        reported = set(missing) | {p.row for p in found}
        problems += [
            FieldProblem("NaN is not a valid value here", int(i), spec.name)
            for i in np.flatnonzero(np.isnan(array))
            if int(i) not in reported
        ]
    return array, problems + found


def _fill(value: Any, spec: FeatureSpec) -> Any:
    """Absent, null and NaN (pandas' NA too) take the default; a default of 0 stays 0."""
    if isinstance(value, np.generic):
        value = value.item()  # numpy scalars from a DataFrame read like Python values
    if (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and math.isnan(value))
    ):
        return spec.default
    return value


def _to_number(spec: FeatureSpec, values: list[Any]) -> tuple[np.ndarray, list[FieldProblem]]:
    problems: list[FieldProblem] = []
    try:
        fast = set(map(type, values)) <= _NUMBER_TYPES
        array = np.asarray(values, dtype=np.float64) if fast else None
    except OverflowError:  # an int too large for a float: the loop below reports it
        array = None
    if array is None:
        array = np.empty(len(values), dtype=np.float64)
        for i, value in enumerate(values):
            number, detail = _one_number(value)
            array[i] = number
            if detail:
                problems.append(FieldProblem(detail, i, spec.name))
    bad = np.flatnonzero(np.isinf(array))
    problems += [FieldProblem("must be a finite number", int(i), spec.name) for i in bad]
    return array, problems


def _one_number(value: Any) -> tuple[float, str | None]:
    if value is None:
        return math.nan, None
    if isinstance(value, bool | int | float):
        try:
            return float(value), None
        except OverflowError:  # reported as "must be a finite number"
            return math.inf, None
    if isinstance(value, str):
        try:
            return float(value.strip()), None
        except ValueError:
            return math.nan, f"expected a number, got {value[:40]!r}"
    return math.nan, _wrong(value, "a number")


def _to_integer(spec: FeatureSpec, values: list[Any]) -> tuple[np.ndarray, list[FieldProblem]]:
    array, problems = _to_number(spec, values)
    finite = np.isfinite(array)
    fractional = np.flatnonzero(finite & (np.mod(np.where(finite, array, 0), 1) != 0))
    problems += [
        FieldProblem(f"expected a whole number, got {array[i]:g}", int(i), spec.name)
        for i in fractional
    ]
    if not problems and finite.all() and (np.abs(array) < 2.0**63).all():
        return array.astype(np.int64), problems
    return array, problems


def _to_boolean(spec: FeatureSpec, values: list[Any]) -> tuple[np.ndarray, list[FieldProblem]]:
    array = np.empty(len(values), dtype=np.float64)
    problems: list[FieldProblem] = []
    for i, value in enumerate(values):
        if value is None:
            array[i] = math.nan
        elif isinstance(value, bool) or (isinstance(value, int | float) and value in (0, 1)):
            array[i] = float(value)
        elif isinstance(value, str) and (word := parse_boolean(value)) is not None:
            array[i] = float(word)
        else:
            array[i] = math.nan
            problems.append(FieldProblem(_wrong(value, "true or false"), i, spec.name))
    if not problems and not np.isnan(array).any():
        return array.astype(bool), problems
    return array, problems


def parse_boolean(text: str) -> bool | None:
    """`true`/`yes`/`1`/`on` and their opposites, any case; None for anything else."""
    lowered = text.strip().lower()
    return True if lowered in _TRUE else False if lowered in _FALSE else None


def _to_category(spec: FeatureSpec, values: list[Any]) -> tuple[np.ndarray, list[FieldProblem]]:
    allowed = {str(category): category for category in spec.categories or []}
    array = np.empty(len(values), dtype=object)
    problems = []
    for i, value in enumerate(values):
        if value is None:
            array[i] = np.nan
        elif not isinstance(value, str | int | float | bool):
            problems.append(FieldProblem(_wrong(value, "a category"), i, spec.name))
        elif allowed and str(value) not in allowed:
            shown = ", ".join(list(allowed)[:_SHOWN_CATEGORIES])
            more = ", ..." if len(allowed) > _SHOWN_CATEGORIES else ""
            problems.append(
                FieldProblem(
                    f"unknown category {value!r}; expected one of {shown}{more}", i, spec.name
                )
            )
        else:
            array[i] = allowed.get(str(value), value)
    return array, problems


def _to_text(spec: FeatureSpec, values: list[Any]) -> tuple[np.ndarray, list[FieldProblem]]:
    problems = [
        FieldProblem(_wrong(value, "text"), i, spec.name)
        for i, value in enumerate(values)
        if value is not None and not isinstance(value, str)
    ]
    return np.asarray(["" if v is None else v for v in values], dtype=object), problems


_CONVERTERS = {
    FeatureType.NUMERIC: _to_number,
    FeatureType.INTEGER: _to_integer,
    FeatureType.BOOLEAN: _to_boolean,
    FeatureType.CATEGORICAL: _to_category,
    FeatureType.TEXT: _to_text,
}


def _wrong(value: Any, expected: str) -> str:
    if isinstance(value, dict | list | tuple):
        return f"expected {expected}, got {_kind(value)}: nested values are not accepted"
    return f"expected {expected}, got {_kind(value)}"


def _kind(value: Any) -> str:
    names = {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        type(None): "null",
    }
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "a number" if isinstance(value, int | float) else f"a {type(value).__name__}"


def _is_sequence(values: Any) -> bool:
    return isinstance(values, Sequence | np.ndarray | pd.Series) and not isinstance(
        values, str | bytes
    )


def _check_row_count(n_rows: int, max_rows: int) -> None:
    if n_rows == 0:
        raise InvalidInputError.single("no rows: send at least one record")
    if n_rows > max_rows:
        raise InvalidInputError.single(
            f"{n_rows} rows is more than the {max_rows} allowed in one call"
        )


def _unknown_feature(name: str, metadata: ModelMetadata, row: int | None) -> FieldProblem:
    close = difflib.get_close_matches(name, metadata.feature_names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return FieldProblem(f"unknown feature{hint}", row, name)
