"""One column of values → a typed numpy array, and every problem found in it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from modelport.errors import FieldProblem
from modelport.metadata import FeatureSpec, FeatureType

_NUMBER_TYPES = frozenset({int, float})
_TRUE = frozenset({"true", "yes", "1", "t", "y", "on"})
_FALSE = frozenset({"false", "no", "0", "f", "n", "off"})
_SHOWN_CATEGORIES = 10


def convert_column(
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
            return math.nan, f"expected a number, got {_short(value)!r}"
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
                    f"unknown category {_short(value)!r}; expected one of {shown}{more}",
                    i,
                    spec.name,
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


def _short(value: Any) -> Any:
    """A value as a message may quote it: long text cut to its first 40 characters."""
    return value[:40] if isinstance(value, str) else value


def _wrong(value: Any, expected: str) -> str:
    if isinstance(value, dict | list | tuple):
        return f"expected {expected}, got {kind_of(value)}: nested values are not accepted"
    return f"expected {expected}, got {kind_of(value)}"


def kind_of(value: Any) -> str:
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
