"""What a fitted estimator tells about itself: task, classes, importances, input, explainer."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from modelport.categories import infer_categories, native_categories
from modelport.metadata import FeatureSpec, FeatureType, InputKind, Task, to_plain

ExplainerKind = Literal["tree", "linear", "permutation"]

# Estimators SHAP's TreeExplainer reads natively, by class name; boosters by their module.
_TREE_CLASSES = {
    "DecisionTreeClassifier",
    "DecisionTreeRegressor",
    "ExtraTreeClassifier",
    "ExtraTreeRegressor",
    "RandomForestClassifier",
    "RandomForestRegressor",
    "ExtraTreesClassifier",
    "ExtraTreesRegressor",
    "GradientBoostingClassifier",
    "GradientBoostingRegressor",
}
_BOOSTER_MODULES = ("xgboost", "lightgbm", "catboost")
"""Boosting libraries: SHAP reads their trees natively, and they all take NaN."""


def final_estimator(estimator: Any) -> Any:
    """The estimator that makes the prediction, under Pipelines and calibration wrappers."""
    while True:
        if hasattr(estimator, "steps"):
            estimator = estimator.steps[-1][1]
        elif hasattr(estimator, "calibrated_classifiers_"):
            estimator = estimator.calibrated_classifiers_[0].estimator
        elif hasattr(estimator, "regressor_"):
            estimator = estimator.regressor_
        else:
            return estimator


def preprocessor(estimator: Any) -> Any | None:
    """The steps of a Pipeline before its final estimator (None for a bare estimator)."""
    if hasattr(estimator, "steps") and len(estimator.steps) > 1:
        return estimator[:-1]
    return None


def infer_task(estimator: Any) -> Task:
    """Binary, multiclass or regression, from `classes_` and scikit-learn's estimator type."""
    classes = getattr(estimator, "classes_", None)
    if classes is not None:
        return Task.BINARY_CLASSIFICATION if len(classes) == 2 else Task.MULTICLASS_CLASSIFICATION
    return Task.REGRESSION


def infer_class_names(estimator: Any) -> list[str] | None:
    """`str(c)` for each class in `classes_`, in order: the one label space (DESIGN.md)."""
    classes = getattr(estimator, "classes_", None)
    return None if classes is None else [str(to_plain(c)) for c in classes]


def infer_features(estimator: Any) -> list[FeatureSpec]:
    """Features from `feature_names_in_`, else `n_features_in_` (named f0, f1, ...).

    Columns a fitted encoder takes, or the model reads as pandas categories, are
    categorical, with the categories the model knows.
    """
    if is_text_pipeline(estimator):
        return [FeatureSpec(name="text", type=FeatureType.TEXT)]
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        count = getattr(estimator, "n_features_in_", None)
        if count is None:
            return []
        names = [f"f{i}" for i in range(int(count))]
    categories: dict[str, list[Any] | None] = {
        **native_categories(estimator),
        **infer_categories(estimator),
    }
    return [
        FeatureSpec(name=str(name), type=FeatureType.CATEGORICAL, categories=categories[str(name)])
        if str(name) in categories
        else FeatureSpec(name=str(name))
        for name in names
    ]


def is_text_pipeline(estimator: Any) -> bool:
    """True when the first step turns raw documents into features (a text vectoriser)."""
    first = estimator.steps[0][1] if hasattr(estimator, "steps") else estimator
    return hasattr(first, "build_analyzer")


def infer_importances(estimator: Any, feature_names: Sequence[str]) -> list[float] | None:
    """Importances per input feature, from `feature_importances_` or normalised `|coef_|`.

    A Pipeline's final estimator sees transformed columns (one-hot, say); their importances
    are added back to the input feature each came from, when the names tell which.
    """
    final = final_estimator(estimator)
    raw = getattr(final, "feature_importances_", None)
    if raw is None and getattr(final, "coef_", None) is not None:
        coef = np.abs(np.asarray(final.coef_, dtype=float))
        raw = coef.mean(axis=0) if coef.ndim == 2 else coef
    if raw is None:
        return None
    raw = np.asarray(raw, dtype=float).ravel()
    if len(raw) != len(feature_names):
        raw = _sum_by_input_feature(estimator, raw, feature_names)
        if raw is None:
            return None
    total = raw.sum()
    if not np.isfinite(total) or total <= 0:
        return None
    return [round(float(value), 6) for value in raw / total]


def _sum_by_input_feature(
    estimator: Any, raw: np.ndarray, feature_names: Sequence[str]
) -> np.ndarray | None:
    """Map each transformed column back to the input feature whose name it starts with."""
    steps = preprocessor(estimator)
    if steps is None:
        return None
    try:
        out_names = [str(name) for name in steps.get_feature_names_out()]
    except (AttributeError, ValueError, TypeError):
        return None
    if len(out_names) != len(raw):
        return None
    by_length = sorted(range(len(feature_names)), key=lambda i: -len(feature_names[i]))
    summed = np.zeros(len(feature_names))
    for out_name, value in zip(out_names, raw, strict=True):
        bare = out_name.split("__", 1)[-1]
        owner = next((i for i in by_length if _names_column(feature_names[i], bare)), None)
        if owner is None:
            return None
        summed[owner] += value
    return summed


def _names_column(feature: str, column: str) -> bool:
    return column == feature or column.startswith(feature + "_")


def infer_input_kind(estimator: Any, features: Sequence[FeatureSpec]) -> InputKind:
    """`text` for text pipelines, `dataframe` when the model knows column names, else numpy."""
    if is_text_pipeline(estimator) or any(f.type is FeatureType.TEXT for f in features):
        return "text"
    if getattr(estimator, "feature_names_in_", None) is not None:
        return "dataframe"
    return "numpy"


def infer_allows_nan(estimator: Any) -> bool:
    """Whether NaN in the input can never reach a step that refuses it.

    Imputers remove NaN; other steps pass it on if scikit-learn's `allow_nan` tag says they
    take it (boosters always do). A ColumnTransformer passes NaN on if any branch does.
    """
    return _nan_handling(estimator) != "rejects"


def _nan_handling(estimator: Any) -> Literal["cleans", "passes", "rejects"]:
    if "Imputer" in type(estimator).__name__:
        return "cleans"
    if hasattr(estimator, "steps"):
        for _, step in estimator.steps:
            handling = _nan_handling(step)
            if handling != "passes":
                return handling
        return "passes"
    if hasattr(estimator, "transformers_"):
        branches = [
            "passes" if t == "passthrough" else _nan_handling(t)
            for _, t, _ in estimator.transformers_
            if not (isinstance(t, str) and t == "drop")
        ]
        if "rejects" in branches:
            return "rejects"
        return "cleans" if all(b == "cleans" for b in branches) else "passes"
    if type(estimator).__module__.split(".")[0] in _BOOSTER_MODULES:
        return "passes"
    try:
        from sklearn.utils import get_tags

        return "passes" if get_tags(estimator).input_tags.allow_nan else "rejects"
    except (AttributeError, TypeError, ValueError):
        return "rejects"


def infer_explainer(estimator: Any, feature_names: Sequence[str]) -> ExplainerKind:
    """Which SHAP explainer fits: exact tree or linear ones where the input space allows.

    A tree or linear model behind feature-wise preprocessing (scalers) is explained exactly
    on the transformed columns, which map one-to-one to the input features; anything else
    (one-hot encoders, text, unknown models) goes through the model-agnostic explainer.
    """
    final = final_estimator(estimator)
    steps = preprocessor(estimator)
    if steps is not None and not _is_featurewise(steps, feature_names):
        return "permutation"
    if _is_wrapped(estimator):  # calibration or a target transform: the final model's output
        return "permutation"  # is not the one served, so only the whole model can be explained
    if _tree_shap_reads(final):
        return "tree"
    if getattr(final, "coef_", None) is not None and hasattr(final, "intercept_"):
        return "linear"
    return "permutation"


def _tree_shap_reads(final: Any) -> bool:
    """SHAP's TreeExplainer reads these trees, but not a multiclass GradientBoostingClassifier
    (it refuses one tree per class in each stage)."""
    name = type(final).__name__
    if name == "GradientBoostingClassifier" and len(getattr(final, "classes_", ())) > 2:
        return False
    return name in _TREE_CLASSES or type(final).__module__.split(".")[0] in _BOOSTER_MODULES


def _is_wrapped(estimator: Any) -> bool:
    """True when a calibration or target-transform wrapper sits on the way to the model."""
    while hasattr(estimator, "steps"):
        estimator = estimator.steps[-1][1]
    return hasattr(estimator, "calibrated_classifiers_") or hasattr(estimator, "regressor_")


def _is_featurewise(steps: Any, feature_names: Sequence[str]) -> bool:
    try:
        out_names = [str(name) for name in steps.get_feature_names_out(list(feature_names))]
    except (AttributeError, ValueError, TypeError):
        return False
    return out_names == list(feature_names)


def is_multi_output(estimator: Any) -> bool:
    """True for models that predict several targets at once (2-D `y`)."""
    final = final_estimator(estimator)
    return int(getattr(final, "n_outputs_", 1) or 1) > 1 or isinstance(
        getattr(final, "classes_", None), list
    )


def shap_installed() -> bool:
    """True when the optional SHAP dependency can be imported."""
    return importlib.util.find_spec("shap") is not None


def family(estimator: Any) -> str:
    """A readable name, such as `Pipeline(StandardScaler → LogisticRegression)`."""
    if hasattr(estimator, "steps"):
        return "Pipeline(" + " → ".join(type(step).__name__ for _, step in estimator.steps) + ")"
    return type(estimator).__name__
