"""The categories a fitted model keeps for its categorical input columns.

Two kinds of model know them: pipelines whose one-hot or ordinal encoders were fitted on
named columns, and models that read pandas `category` columns themselves
(HistGradientBoosting with `categorical_features`, LightGBM, XGBoost with
`enable_categorical`). The second kind must be handed those columns with the category
dtype it was trained with: `native_categories` tells which columns, and their categories
in the model's own order.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from modelport.metadata import to_plain

logger = logging.getLogger("modelport.metadata")

_LIGHTGBM_CATEGORICAL = re.compile(r"^\[categorical_feature: ([0-9,]*)\]$", re.MULTILINE)


def infer_categories(estimator: Any) -> dict[str, list[Any]]:
    """Input column → the categories the model knows for it (encoders' and the model's own).

    Looks through Pipelines and ColumnTransformers; columns an encoder was fitted on by
    position (no names) are not reported.
    """
    found: dict[str, list[Any]] = {}
    steps = [step for _, step in estimator.steps] if hasattr(estimator, "steps") else [estimator]
    for step in steps:
        for _, transformer, columns in getattr(step, "transformers_", []):
            if isinstance(columns, list | tuple) and all(isinstance(c, str) for c in columns):
                found |= _encoder_categories(transformer, [str(c) for c in columns])
        names = getattr(step, "feature_names_in_", None)
        if names is not None:
            found |= _encoder_categories(step, [str(name) for name in names])
    native = native_categories(estimator)
    return found | {name: values for name, values in native.items() if values is not None}


def native_categories(estimator: Any) -> dict[str, list[Any] | None]:
    """Columns a bare model reads as pandas categories → its categories, in its order.

    None for a column the model reads as a category but whose categories it did not keep
    (XGBoost before 3.1). Empty for every other model, pipelines included (their own
    steps turn categories into numbers), and models under a wrapper.
    """
    module = type(estimator).__module__.split(".")[0]
    if module == "lightgbm":
        return _lightgbm_categories(estimator)
    if module == "xgboost":
        return _xgboost_categories(estimator)
    return _histogram_boosting_categories(estimator)


def _histogram_boosting_categories(estimator: Any) -> dict[str, list[Any] | None]:
    """HistGradientBoosting keeps an ordinal encoder over its categorical columns."""
    mask = getattr(estimator, "is_categorical_", None)
    names = getattr(estimator, "feature_names_in_", None)
    encoder = _histogram_encoder(estimator)
    if mask is None or names is None or encoder is None:
        return {}
    columns = [str(name) for name, categorical in zip(names, mask, strict=True) if categorical]
    return dict(_encoder_categories(encoder, columns))


def _histogram_encoder(estimator: Any) -> Any | None:
    for name, transformer, _ in getattr(
        getattr(estimator, "_preprocessor", None), "transformers_", []
    ):
        if name == "encoder" and hasattr(transformer, "categories_"):
            return transformer
    return None


def _lightgbm_categories(estimator: Any) -> dict[str, list[Any] | None]:
    """LightGBM keeps the pandas categories of its category columns, in column order."""
    booster = getattr(estimator, "booster_", estimator)
    kept = getattr(booster, "pandas_categorical", None)
    if not kept or not callable(getattr(booster, "feature_name", None)):
        return {}
    names = booster.feature_name()
    indices = _lightgbm_categorical_columns(booster)
    if len(indices) != len(kept):
        # Categorical columns given by position as well as by dtype: which of them were
        # pandas categories is not recorded, so the caller's metadata must say.
        logger.warning(
            "the LightGBM model has %d categorical columns but %d pandas categories: "
            "list its categorical features in the bundle's metadata",
            len(indices),
            len(kept),
        )
        return {}
    return {
        str(names[index]): [to_plain(value) for value in values]
        for index, values in zip(indices, kept, strict=True)
    }


def _lightgbm_categorical_columns(booster: Any) -> list[int]:
    params = getattr(booster, "params", None) or {}
    if "categorical_column" in params:
        return [int(index) for index in params["categorical_column"]]
    match = _LIGHTGBM_CATEGORICAL.search(booster.model_to_string())
    return [int(index) for index in match.group(1).split(",") if index] if match else []


def _xgboost_categories(estimator: Any) -> dict[str, list[Any] | None]:
    """XGBoost marks categorical columns `c`; since 3.1 it keeps their categories too."""
    get_booster = getattr(estimator, "get_booster", None)
    booster = get_booster() if callable(get_booster) else estimator
    types = getattr(booster, "feature_types", None) or []
    names = getattr(booster, "feature_names", None) or []
    columns = [str(name) for name, kind in zip(names, types, strict=False) if kind == "c"]
    if not columns:
        return {}
    kept: dict[str, list[Any] | None] = dict.fromkeys(columns)
    try:
        for name, values in booster.get_categories(export_to_arrow=True).to_arrow() or []:
            if name in kept and values is not None:
                kept[name] = [to_plain(value) for value in values.to_pylist()]
    except (AttributeError, TypeError, ImportError, ValueError) as error:
        logger.info("the XGBoost model's categories cannot be read: %s", error)
    return kept


def _encoder_categories(encoder: Any, columns: list[str]) -> dict[str, list[Any]]:
    if hasattr(encoder, "steps"):  # an imputer then an encoder, say: the same columns throughout
        steps = [step for _, step in encoder.steps if hasattr(step, "categories_")]
        return _encoder_categories(steps[0], columns) if steps else {}
    categories = getattr(encoder, "categories_", None)
    if categories is None or len(categories) != len(columns):
        return {}
    return {
        column: [to_plain(c) for c in values if not (isinstance(c, float) and c != c)]
        for column, values in zip(columns, categories, strict=True)
    }
