"""Feature metadata inferred from a sample of the training data (types, defaults, ranges)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelport.metadata import FeatureSpec, FeatureType, to_plain

MAX_CATEGORIES = 50
"""A string column with more distinct values than this (and long values) is read as text."""
TEXT_MIN_WORDS = 3.0
"""Mean words per value from which a string column is read as free text."""


@dataclass
class SampleProfile:
    """What a sample says about each feature, and what it could not say."""

    features: list[FeatureSpec]
    examples: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)


def profile_sample(frame: pd.DataFrame, *, n_examples: int = 5) -> SampleProfile:
    """Infer each column's type, default (median or mode), range and categories.

    Example:
        >>> profile = profile_sample(pd.DataFrame({"age": [30, 40, 50]}))
        >>> profile.features[0].type, profile.features[0].default
        (<FeatureType.INTEGER: 'integer'>, 40)
    """
    features, notes = [], []
    for name in frame.columns:
        spec, note = _profile_column(str(name), frame[name])
        features.append(spec)
        if note:
            notes.append(note)
    head = frame.head(n_examples).astype(object).where(frame.head(n_examples).notna(), None)
    examples = [{str(k): to_plain(v) for k, v in row.items()} for row in head.to_dict("records")]
    return SampleProfile(features=features, examples=examples, notes=notes)


def _profile_column(name: str, column: pd.Series) -> tuple[FeatureSpec, str | None]:
    present = column.dropna()
    if present.empty:
        return FeatureSpec(
            name=name
        ), f"{name}: every value is missing, so its type and default are unknown"
    if pd.api.types.is_bool_dtype(column):
        return FeatureSpec(
            name=name, type=FeatureType.BOOLEAN, default=bool(present.mode().iloc[0])
        ), None
    if pd.api.types.is_numeric_dtype(column):
        return _numeric(name, present), None
    values = present.astype(str)
    if (
        values.nunique() > MAX_CATEGORIES
        and values.map(lambda text: len(text.split())).mean() >= TEXT_MIN_WORDS
    ):
        return FeatureSpec(name=name, type=FeatureType.TEXT, example=values.iloc[0]), None
    categories = sorted(values.unique().tolist())
    note = None
    if len(categories) > MAX_CATEGORIES:
        note = f"{name}: {len(categories)} distinct values; read as categorical, check that it is"
    spec = FeatureSpec(
        name=name,
        type=FeatureType.CATEGORICAL,
        categories=categories,
        default=values.mode().iloc[0],
        example=values.iloc[0],
    )
    return spec, note


def _numeric(name: str, present: pd.Series) -> FeatureSpec:
    integral = pd.api.types.is_integer_dtype(present) or bool(np.all(np.mod(present, 1) == 0))
    median = float(present.median())
    return FeatureSpec(
        name=name,
        type=FeatureType.INTEGER if integral else FeatureType.NUMERIC,
        default=round(median) if integral else round(median, 6),
        min=float(present.min()),
        max=float(present.max()),
        example=to_plain(present.iloc[0]),
    )
