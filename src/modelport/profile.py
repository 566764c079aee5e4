"""The reference profile: how a model's training data, and its answers to them, are spread.

A bundle may carry one. Drift (`modelport.drift`) compares what a model is sent with it,
bin by bin: quantile bins for numbers, one bin per category for the rest, and a bin for
missing values in every feature.

Example:
    >>> profile = create_profile({"age": np.arange(100.0)}, None, bins=4)
    >>> profile.features["age"].edges
    [25.0, 50.0, 75.0]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from functools import cached_property
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from modelport.errors import InvalidInputError
from modelport.metadata import FeatureType, ModelMetadata

if TYPE_CHECKING:
    from modelport.predictor import Predictor

PROFILE_VERSION = 1
"""Bumped when the stored shape changes; a bundle with a newer profile is served without it."""
DEFAULT_BINS = 10
"""Quantile bins per numeric feature (and for a regressor's predictions)."""
MAX_CATEGORIES = 20
"""Categories kept by name per feature; rarer ones share the bin `other`."""
_LOOKUP_IN_C = 4096
"""From this many values, text categories are looked up by pandas rather than one by one."""
MAX_PROFILE_ROWS = 200_000
"""Rows of a sample a profile is computed from (the first ones): quantiles settle long before."""

_SHOWN = 5
Kind = Literal["numeric", "categorical", "boolean"]
OTHER, MISSING = "other", "missing"
_KINDS: dict[FeatureType, Kind] = {
    FeatureType.NUMERIC: "numeric",
    FeatureType.INTEGER: "numeric",
    FeatureType.BOOLEAN: "boolean",
    FeatureType.CATEGORICAL: "categorical",
}


class Distribution(BaseModel):
    """How one feature's values (or the predictions) fall into bins.

    Numeric: value bin `i` holds `edges[i-1] <= value < edges[i]` (open-ended at both ends).
    Categorical and boolean: one bin per category, then `other`. Every distribution ends
    with the `missing` bin, whose share is `missing`.
    """

    model_config = ConfigDict(frozen=True)

    kind: Kind
    edges: list[float] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    shares: list[float]
    missing: float = 0.0

    @property
    def n_bins(self) -> int:
        """Bins, the missing one included."""
        return len(self.shares) + 1

    @property
    def labels(self) -> list[str]:
        """A name per bin, for reports: `< 5.1`, `5.1 to 5.8`, `≥ 7.2`, a category, `missing`."""
        if self.kind != "numeric":
            return [*self.categories, OTHER, MISSING]
        if not self.edges:
            return ["any", MISSING]
        edges = [f"{edge:.4g}" for edge in self.edges]
        inner = [f"{low} to {high}" for low, high in pairwise(edges)]
        return [f"< {edges[0]}", *inner, f"≥ {edges[-1]}", MISSING]

    def reference(self) -> np.ndarray:
        """The share of each bin, the missing one last."""
        return np.asarray([*self.shares, self.missing], dtype=np.float64)

    def bin_indices(self, values: Any) -> np.ndarray:
        """The bin of each value (the last bin for a missing one)."""
        if self.kind == "numeric":
            numbers = _as_numbers(values)
            bins = np.searchsorted(np.asarray(self.edges, dtype=np.float64), numbers, "right")
            return np.where(np.isnan(numbers), len(self.shares), bins)
        if isinstance(values, pd.Categorical):  # a DataFrame model's input: bin each category once
            by_category = self.bin_indices(np.asarray(values.categories, dtype=object))
            codes = np.asarray(values.codes)
            return np.append(by_category, self.n_bins - 1)[codes]  # code -1: the missing bin
        array = np.asarray(values, dtype=object)
        other, boolean = len(self.categories), self.kind == "boolean"
        if len(array) > _LOOKUP_IN_C and not boolean:
            if pd.api.types.infer_dtype(array, skipna=True) == "string":  # validated text
                bins = pd.Index(self.categories, dtype=object).get_indexer(pd.Index(array))
                bins[bins < 0] = other
                bins[pd.isna(array)] = other + 1
                return bins
        lookup = self._lookup
        return np.fromiter(
            (
                lookup.get(value, other)
                if type(value) is str and not boolean
                else _bin_of_key(_key(value, boolean), lookup, other)
                for value in array.tolist()
            ),
            np.int64,
            len(array),
        )

    @cached_property
    def _lookup(self) -> dict[str, int]:
        return {category: i for i, category in enumerate(self.categories)}


class Profile(BaseModel):
    """The reference a model's inputs and predictions are compared with: small, plain data.

    Attributes:
        rows: rows of the sample it was computed from.
        features: each profiled feature's distribution (text features are not profiled).
        prediction: the predictions' distribution (class shares, or value bins).
    """

    model_config = ConfigDict(frozen=True)

    version: int = PROFILE_VERSION
    rows: int = Field(ge=0)
    features: dict[str, Distribution]
    prediction: Distribution | None = None


def describe(values: Any, kind: Kind, *, bins: int = DEFAULT_BINS) -> Distribution:
    """The distribution of `values`: quantile edges and shares, or category shares."""
    if kind == "numeric":
        numbers = _as_numbers(values)
        present = numbers[~np.isnan(numbers)]
        quantiles = np.linspace(0, 1, bins + 1)[1:-1]
        # Observed values as edges ("higher"): a feature of few values gets a bin per value,
        # not fractional edges between them.
        edges = (
            np.unique(np.quantile(present, quantiles, method="higher"))
            if len(present)
            else np.empty(0)
        )
        spread = Distribution(kind=kind, edges=edges.tolist(), shares=[0.0] * (len(edges) + 1))
    else:
        keys = pd.Series(_keys(values, boolean=kind == "boolean"), dtype=object)
        if kind == "boolean":
            categories = ["false", "true"]
        else:
            counted = keys.dropna().value_counts(sort=False)
            order = sorted(counted.index, key=lambda key: (-counted[key], key))
            categories = order[:MAX_CATEGORIES]
        spread = Distribution(
            kind=kind, categories=categories, shares=[0.0] * (len(categories) + 1)
        )
    counts = np.bincount(spread.bin_indices(values), minlength=spread.n_bins)
    shares = [round(float(share), 6) for share in counts / max(1, counts.sum())]
    return spread.model_copy(update={"shares": shares[:-1], "missing": shares[-1]})


def create_profile(
    columns: Mapping[str, Any],
    predictions: Any,
    metadata: ModelMetadata | None = None,
    *,
    bins: int = DEFAULT_BINS,
) -> Profile:
    """The profile of validated feature columns and the model's predictions for them.

    Args:
        columns: feature name → values, as `feature_columns` gives them.
        predictions: the model's labels or values for the same rows (None: not profiled).
        metadata: says each feature's type and the task; without it numbers are numeric,
            the rest categorical, and numeric predictions binned.
        bins: quantile bins per numeric feature.
    """
    features = {
        name: describe(values, _kind_of(name, values, metadata), bins=bins)
        for name, values in columns.items()
    }
    rows = len(next(iter(columns.values()))) if columns else 0
    prediction = None
    if predictions is not None:
        predictions = np.asarray(predictions)
        rows = rows or len(predictions)
        prediction = describe(predictions, prediction_kind(predictions, metadata), bins=bins)
    return Profile(rows=rows, features=features, prediction=prediction)


def feature_columns(X: Any, metadata: ModelMetadata) -> dict[str, np.ndarray]:
    """The profiled features' columns of a validated model input (matrix, frame or texts)."""
    if metadata.input_kind == "text" or isinstance(X, list):
        return {}  # free text has no bins
    profiled = [(i, spec.name) for i, spec in enumerate(metadata.features) if spec.type in _KINDS]
    if isinstance(X, pd.DataFrame):
        return {name: _values(X[name]) for _, name in profiled if name in X.columns}
    matrix = np.asarray(X)
    return {name: matrix[:, i] for i, name in profiled if i < matrix.shape[1]}


def profile_input(
    predictor: Predictor, frame: pd.DataFrame, *, bins: int = DEFAULT_BINS
) -> Profile:
    """The profile of a sample table: its valid rows as the model takes them, and the model's
    own predictions for them.

    Raises:
        InvalidInputError: the table lacks a feature, or none of its rows is valid.
    """
    from modelport.screening import screen_frame

    metadata = predictor.input_metadata
    require_columns(frame.columns, metadata)
    screened = screen_frame(frame.head(MAX_PROFILE_ROWS).reset_index(drop=True), metadata)
    if screened.X is None or not len(screened.valid):
        first = screened.problems[0] if screened.problems else None
        reason = f" (row {first.row}, {first.field}: {first.detail})" if first else ""
        raise InvalidInputError.single(f"no valid row in the sample to profile{reason}")
    predictions = predictor.predict_array(screened.X)
    return create_profile(feature_columns(screened.X, metadata), predictions, metadata, bins=bins)


def require_columns(columns: Iterable[str], metadata: ModelMetadata) -> None:
    """Refuse a table that lacks a profiled feature: the profile (or the drift) of a default
    would say nothing of the data. Otherwise as the batch scorer checks a table.

    Raises:
        InvalidInputError: naming the features the table lacks.
    """
    from modelport.screening import check_columns

    defaulted = [name for name in check_columns(columns, metadata) if _profiled(name, metadata)]
    if defaulted:
        shown = ", ".join(defaulted[:_SHOWN]) + (", ..." if len(defaulted) > _SHOWN else "")
        raise InvalidInputError.single(
            f"the table has no column for the features {shown} "
            "(their defaults would stand in for data)"
        )


def prediction_kind(predictions: np.ndarray, metadata: ModelMetadata | None) -> Kind:
    """Class shares for a classifier's labels, value bins for a regressor's values."""
    if metadata is not None and metadata.task is not None:
        return "categorical" if metadata.task.is_classification else "numeric"
    return "numeric" if predictions.dtype.kind in "fiu" else "categorical"


def _values(column: pd.Series) -> Any:
    """A frame's column as values to bin: a categorical column keeps its codes."""
    return column.array if isinstance(column.dtype, pd.CategoricalDtype) else column.to_numpy()


def _profiled(name: str, metadata: ModelMetadata) -> bool:
    return metadata.feature(name).type in _KINDS


def _kind_of(name: str, values: Any, metadata: ModelMetadata | None) -> Kind:
    if metadata is not None and name in metadata.feature_names:
        return _KINDS.get(metadata.feature(name).type, "categorical")
    array = np.asarray(values)
    return "numeric" if array.dtype.kind in "fiu" else "categorical"


def _as_numbers(values: Any) -> np.ndarray:
    """Values as floats, NaN for missing (an object column may hold None)."""
    array = np.asarray(values)
    if array.dtype.kind in "fiub":
        return array.astype(np.float64)
    return pd.to_numeric(pd.Series(array, dtype=object), errors="coerce").to_numpy(np.float64)


def _keys(values: Any, *, boolean: bool) -> list[str | None]:
    """Each value as the text a category is kept under; None for a missing one."""
    return [_key(value, boolean) for value in np.asarray(values, dtype=object).tolist()]


def _key(value: Any, boolean: bool) -> str | None:
    """A value as the text its category is kept under; None when it is missing.

    A whole float reads as the integer (`3.0` → `"3"`), since a numeric matrix carries an
    integer category as a float; a boolean feature's values read as `"true"` or `"false"`.
    """
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if boolean or isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _bin_of_key(key: str | None, lookup: dict[str, int], other: int) -> int:
    return other + 1 if key is None else lookup.get(key, other)
