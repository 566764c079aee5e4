"""Complete a bundle's metadata from its estimator, once, at load time."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from modelport.categories import infer_categories, native_categories
from modelport.errors import BundleError
from modelport.introspection import (
    infer_allows_nan,
    infer_class_names,
    infer_explainer,
    infer_features,
    infer_importances,
    infer_input_kind,
    infer_task,
    is_multi_output,
    is_text_pipeline,
    shap_installed,
)
from modelport.metadata import FeatureSpec, FeatureType, ModelMetadata, Task


def complete_metadata(estimator: Any, given: ModelMetadata) -> ModelMetadata:
    """Fill in what the bundle did not say, once, at load time.

    Raises:
        BundleError: the given features, task or class names disagree with the model, or
            nothing tells which features it takes.
    """
    try:
        return _complete(estimator, given)
    except ValidationError as error:
        first = error.errors()[0]
        raise BundleError(f"the model's own description is invalid: {first['msg']}") from None


def _complete(estimator: Any, given: ModelMetadata) -> ModelMetadata:
    features = _with_encoder_categories(estimator, _reconcile_features(estimator, given.features))
    features = _with_native_categories(estimator, features)
    if not features:
        raise BundleError(
            "nothing tells which features the model takes (no feature_names_in_ or "
            "n_features_in_): list them in the bundle's metadata"
        )
    names = [feature.name for feature in features]
    importances = infer_importances(estimator, names)
    if importances is not None:
        features = [
            f if f.importance is not None else f.model_copy(update={"importance": value})
            for f, value in zip(features, importances, strict=True)
        ]
    task, class_names = _label_space(estimator, given)
    input_kind = infer_input_kind(estimator, features)
    explainable = shap_installed() and input_kind != "text" and not is_multi_output(estimator)
    if explainable and infer_explainer(estimator, names) != "tree":
        explainable = bool(given.examples)  # the other explainers need background rows
    return given.model_copy(
        update={
            "features": features,
            "task": task,
            "class_names": class_names if task.is_classification else None,
            "input_kind": input_kind,
            "is_explainable": explainable,
            "allows_nan": infer_allows_nan(estimator),
        }
    )


def _with_encoder_categories(estimator: Any, features: list[FeatureSpec]) -> list[FeatureSpec]:
    """Categorical features the metadata gives no categories for take their encoder's."""
    if not any(f.type is FeatureType.CATEGORICAL and not f.categories for f in features):
        return features
    known = infer_categories(estimator)
    return [
        f.model_copy(update={"categories": known[f.name]})
        if f.type is FeatureType.CATEGORICAL and not f.categories and f.name in known
        else f
        for f in features
    ]


def _with_native_categories(estimator: Any, features: list[FeatureSpec]) -> list[FeatureSpec]:
    """Columns the model reads as pandas categories take its categories, in its order, so
    validation hands it exactly the category dtype it was trained with."""
    native = native_categories(estimator)
    return [_native(f, native[f.name]) if f.name in native else f for f in features]


def _native(feature: FeatureSpec, kept: list[Any] | None) -> FeatureSpec:
    where = f"feature {feature.name!r}: the model reads it as a pandas category"
    if feature.type is not FeatureType.CATEGORICAL:
        raise BundleError(f"{where}, but the metadata says it is {feature.type}")
    if kept is None:
        if not feature.categories:
            raise BundleError(
                f"{where} and keeps no categories: list them, in training order, "
                "in the bundle's metadata"
            )
        return feature
    if feature.categories and set(map(str, feature.categories)) != set(map(str, kept)):
        raise BundleError(
            f"{where}; the metadata's categories differ from the model's ({_listed(kept)})"
        )
    return feature.model_copy(update={"categories": kept})


def _listed(values: list[Any], shown: int = 10) -> str:
    more = ", ..." if len(values) > shown else ""
    return ", ".join(map(str, values[:shown])) + more


def _reconcile_features(estimator: Any, given: list[FeatureSpec]) -> list[FeatureSpec]:
    """The given features in the model's own column order, or inferred when none are given."""
    if not given:
        return infer_features(estimator)
    fitted = getattr(estimator, "feature_names_in_", None)
    if fitted is not None:
        fitted = [str(name) for name in fitted]
        by_name = {feature.name: feature for feature in given}
        missing = [name for name in fitted if name not in by_name]
        unknown = [name for name in by_name if name not in fitted]
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"the model needs {', '.join(missing)} but the metadata lacks them")
            if unknown:
                parts.append(
                    f"the metadata lists {', '.join(unknown)} which the model was not fitted on"
                )
            raise BundleError("metadata features disagree with the model: " + "; ".join(parts))
        return [by_name[name] for name in fitted]
    count = getattr(estimator, "n_features_in_", None)
    if count is not None and not is_text_pipeline(estimator) and int(count) != len(given):
        raise BundleError(
            f"metadata lists {len(given)} features but the model was fitted on {int(count)}"
        )
    return list(given)


def _label_space(estimator: Any, given: ModelMetadata) -> tuple[Task, list[str] | None]:
    """Task and class names from the model itself; metadata that disagrees is an error.

    One label space (DESIGN.md): class names are `str(c)` for each of `classes_`, so the
    labels, the probability keys and the explanations can never disagree.
    """
    classes = getattr(estimator, "classes_", None)
    if classes is None:  # a duck-typed model: what the metadata says is all there is
        task = given.task or Task.REGRESSION
        return task, given.class_names if task.is_classification else None
    if isinstance(classes, list):
        raise BundleError("multi-output classifiers are not supported: serve one model per output")
    task, names = infer_task(estimator), infer_class_names(estimator)
    if given.task is not None and given.task is not task:
        raise BundleError(f"the metadata says the task is {given.task} but the model is {task}")
    if given.class_names is not None and given.class_names != names:
        raise BundleError(
            f"the metadata's class_names {given.class_names} differ from the model's classes_ "
            f"{names}; labels, probabilities and explanations use the model's"
        )
    return task, names
