"""Records or columns → the 2-D model input, column by column; errors name row and field."""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from modelport.columns import convert_column, kind_of
from modelport.errors import MAX_PROBLEMS, FieldProblem, InvalidInputError
from modelport.metadata import FeatureSpec, FeatureType, ModelMetadata, to_plain

MAX_LAYOUTS = 64
"""Models whose layout is kept (more than a server holds; past it, all are made again)."""


@dataclass(frozen=True)
class _Layout:
    """What the fast path reads of a model's features on every request, made once."""

    numbers_only: bool  # a numpy matrix, every feature a number
    values: Callable[[Any], tuple[Any, ...]]  # a record's values in the model's order
    integers: list[int]  # positions of the integer features


_layouts: dict[int, tuple[ModelMetadata, _Layout]] = {}


def _layout(metadata: ModelMetadata) -> _Layout:
    """The metadata's layout, kept by the object's identity (metadata is frozen, but
    unhashable: its features are a list)."""
    kept = _layouts.get(id(metadata))
    if kept is not None and kept[0] is metadata:
        return kept[1]
    names = metadata.feature_names
    numbers = (FeatureType.NUMERIC, FeatureType.INTEGER)
    layout = _Layout(
        numbers_only=bool(names)
        and metadata.input_kind == "numpy"
        and all(f.type in numbers for f in metadata.features),
        values=operator.itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],),
        integers=[i for i, f in enumerate(metadata.features) if f.type is FeatureType.INTEGER],
    )
    if len(_layouts) >= MAX_LAYOUTS:
        _layouts.clear()
    _layouts[id(metadata)] = (metadata, layout)
    return layout


def numbers_only(metadata: ModelMetadata) -> bool:
    """True when the model's input is a numpy matrix and every feature a number."""
    return _layout(metadata).numbers_only


def validate_records(records: Any, metadata: ModelMetadata, *, max_rows: int) -> Any:
    """One record (a dict) or a list of them → the model's input.

    Errors of a single record name no row; errors in a list name the row (from 0).

    Raises:
        InvalidInputError: listing every problem with its row and field.
    """
    single = isinstance(records, Mapping)
    rows = [records] if single else records
    if not isinstance(rows, list):
        raise InvalidInputError.single(
            f"expected a record or a list of records, got {kind_of(rows)}"
        )
    _check_row_count(len(rows), max_rows)
    if set(map(type, rows)) - {dict}:  # in C, exact types: many times faster than the ABC
        not_records = [
            FieldProblem(f"expected a record (an object of feature values), got {kind_of(row)}", i)
            for i, row in enumerate(rows)
            if not isinstance(row, Mapping)
        ]
        if not_records:
            raise InvalidInputError(not_records)
    width = len(metadata.features)
    if set(map(len, rows)) == {width}:
        # The common case first: when every known name is found in a row of that many keys,
        # the row has no unknown ones.
        matrix = _all_numbers(rows, metadata)
        if matrix is not None:
            return matrix
    problems: list[FieldProblem] = []
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
    layout = _layout(metadata)
    if not layout.numbers_only:
        return None
    width = len(metadata.features)
    cells = map(layout.values, rows)  # one C call per row, not one lookup per cell
    try:  # one flat pass in C: twice as fast as np.array over a list of tuples
        flat = np.fromiter(chain.from_iterable(cells), np.float64, len(rows) * width)
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    return valid_matrix(flat.reshape(len(rows), width), metadata)


def valid_matrix(matrix: np.ndarray, metadata: ModelMetadata) -> np.ndarray | None:
    """The matrix when every value is finite and whole where its feature is an integer: then
    it is what the column-by-column path builds; else None, and that path says what is wrong."""
    if not np.isfinite(matrix).all():
        return None
    integers = _layout(metadata).integers
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
        array, found = convert_column(spec, columns[spec.name], allows_nan)
        converted[spec.name] = array
        problems += [FieldProblem(p.detail, None if single else p.row, p.field) for p in found]
    if problems:
        raise InvalidInputError(problems, total=len(problems) + hidden)
    return build_input(converted, n_rows, metadata)


def build_input(columns: dict[str, np.ndarray], n_rows: int, metadata: ModelMetadata) -> Any:
    """Converted columns → the model's input: a list of texts, a DataFrame or a matrix."""
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
