"""ModelMetadata and FeatureSpec: what is known about a model and each of its features."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Scalar = bool | int | float | str
InputKind = Literal["numpy", "dataframe", "text"]

# The Flask template's names for types and tasks, read as ours (DESIGN.md: a documented difference).
_TEMPLATE_TYPES = {
    "string": "categorical",
    "category": "categorical",
    "float": "numeric",
    "int": "integer",
    "bool": "boolean",
}
_TEMPLATE_TASKS = {"MULTILABEL_CLASSIFICATION": "MULTICLASS_CLASSIFICATION"}


class FeatureType(StrEnum):
    """The kinds of value a feature holds."""

    NUMERIC = "numeric"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    CATEGORICAL = "categorical"
    TEXT = "text"


class Task(StrEnum):
    """What the model predicts."""

    BINARY_CLASSIFICATION = "BINARY_CLASSIFICATION"
    MULTICLASS_CLASSIFICATION = "MULTICLASS_CLASSIFICATION"
    REGRESSION = "REGRESSION"

    @property
    def is_classification(self) -> bool:
        """True for binary and multiclass classification."""
        return self is not Task.REGRESSION


def to_plain(value: Any) -> Any:
    """Turn numpy scalars (np.bool_, np.int64, ...) into the Python values JSON can hold."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", None) == 0:
        return value.item()
    if isinstance(value, list | tuple):
        return [to_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_plain(item) for key, item in value.items()}
    return value


class FeatureSpec(BaseModel):
    """One input feature: its name, type, default and what a caller should know about it.

    A value that is absent (or null) takes `default`. With no default it becomes NaN when
    `accepts_missing` is true and the model takes NaN, and is an error otherwise.
    `min` and `max` describe the training range; they document, they do not reject.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(min_length=1)
    type: FeatureType = FeatureType.NUMERIC
    default: Scalar | None = None
    categories: list[Scalar] | None = None
    importance: float | None = None
    min: float | None = None
    max: float | None = None
    description: str | None = None
    example: Scalar | None = None
    accepts_missing: bool = True

    @field_validator("type", mode="before")
    @classmethod
    def _read_template_type(cls, value: object) -> object:
        if isinstance(value, str):
            lowered = value.strip().lower()
            return _TEMPLATE_TYPES.get(lowered, lowered)
        return value

    @field_validator("default", "example", "categories", "importance", "min", "max", mode="before")
    @classmethod
    def _plain_values(cls, value: object) -> object:
        value = to_plain(value)
        if isinstance(value, float) and math.isnan(value):
            return None
        return value

    @model_validator(mode="after")
    def _check_default_in_categories(self) -> FeatureSpec:
        if self.categories and self.default is not None and self.default not in self.categories:
            raise ValueError(
                f"feature {self.name!r}: default {self.default!r} is not one of its categories"
            )
        return self


class ModelMetadata(BaseModel):
    """What is known about a model: given in the bundle, or inferred once when it is loaded.

    `input_kind`, `is_explainable` and `allows_nan` describe the estimator itself and are
    always inferred at load time; the rest is inferred only where the bundle is silent.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str | None = None
    version: str | None = None
    description: str | None = None
    task: Task | None = None
    class_names: list[str] | None = None
    features: list[FeatureSpec] = Field(default_factory=list)
    examples: list[dict[str, Any]] = Field(default_factory=list)
    input_kind: InputKind | None = None
    is_explainable: bool | None = None
    allows_nan: bool | None = None

    @field_validator("task", mode="before")
    @classmethod
    def _read_template_task(cls, value: object) -> object:
        if isinstance(value, str):
            upper = value.strip().upper()
            return _TEMPLATE_TASKS.get(upper, upper)
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value

    @field_validator("examples", mode="before")
    @classmethod
    def _plain_examples(cls, value: object) -> object:
        return to_plain(value)

    @model_validator(mode="after")
    def _check_unique_features(self) -> ModelMetadata:
        names = [feature.name for feature in self.features]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"features named more than once: {', '.join(repeated)}")
        return self

    @property
    def feature_names(self) -> list[str]:
        """The features' names, in the order the model takes them."""
        return [feature.name for feature in self.features]

    def feature(self, name: str) -> FeatureSpec:
        """The feature called `name` (KeyError if there is none)."""
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(name)


def smoke_rows(metadata: ModelMetadata) -> list[dict[str, Any]]:
    """One typical row from the metadata: each feature's default, else the middle of its
    range, else its first category (none when a feature gives nothing to go on)."""
    row = {}
    for feature in metadata.features:
        value = _typical(feature)
        if value is None:
            return []
        row[feature.name] = value
    return [row]


def _typical(feature: FeatureSpec) -> Any:
    if feature.default is not None:
        return feature.default
    if feature.categories:
        return feature.categories[0]
    if feature.type is FeatureType.CATEGORICAL:
        return None
    if feature.type is FeatureType.TEXT:
        return ""
    if feature.type is FeatureType.BOOLEAN:
        return False
    bounds = [bound for bound in (feature.min, feature.max) if bound is not None]
    middle = sum(bounds) / len(bounds) if bounds else 0.0
    return round(middle) if feature.type is FeatureType.INTEGER else middle
