"""SHAP explanations in one documented shape, in the space of the features the caller sent.

Each row becomes::

    {"values": {feature: contribution}, "base_value": b, "output": "margin"|"probability"|"value"}

with `values` and `base_value` keyed by class name for a multiclass model; a binary
classifier is explained for its positive class (the second in `classes_`). In every case
`base_value + sum(values)` is the output explained: log-odds (logits) for "margin", the
probability itself for "probability", the prediction for "value". A row also holds a
`note` when the output is not the one asked for (margin where background rows asked for
probability, because SHAP cannot explain that model in probability space).

SHAP is imported here only, so the core loads without it.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd

from modelport.errors import NotSupportedError, PredictionError
from modelport.introspection import final_estimator, infer_explainer, preprocessor, shap_installed
from modelport.metadata import FeatureType, ModelMetadata, Task
from modelport.permutation import PermutationShap

logger = logging.getLogger("modelport.explain")

Output = Literal["margin", "probability", "value"]
_PROBABILITY_TREES = ("sklearn.tree", "sklearn.ensemble._forest")
_PERMUTATION_SEED = 0
MAX_BACKGROUND_ROWS = 1000
"""More background rows cost time and change little (SHAP samples 100 of them anyway)."""


class Explainer:
    """Picks the exact SHAP explainer a model allows, else the model-agnostic one.

    Args:
        estimator: the fitted model, as the bundle holds it.
        metadata: its completed metadata.
        validate: records → the model's input (turns the example rows into background).
        background: validated rows to explain against; the example rows when None.
    """

    def __init__(
        self,
        estimator: Any,
        metadata: ModelMetadata,
        validate: Callable[[Any], Any],
        background: Any | None = None,
    ) -> None:
        if metadata.input_kind == "text" or not shap_installed():
            raise NotSupportedError(_why_not_explainable(metadata.input_kind))
        self.estimator = estimator
        self.metadata = metadata
        self.task = metadata.task or Task.REGRESSION
        self.kind = infer_explainer(self.estimator, metadata.feature_names)
        self.given_background = background is not None
        if background is None and self.kind != "tree":
            if not metadata.examples:
                raise NotSupportedError(
                    "this model needs background rows to be explained: send them as _samples"
                )
            background = validate(metadata.examples)
        self.background = background
        self.note: str | None = None
        """Why the output is not the one asked for, when it is not."""
        self._lock = threading.Lock()
        self._shap, self.output = self._build()

    def explain(self, X: Any) -> list[dict[str, Any]]:
        """One explanation per row of the validated input `X`.

        Raises:
            PredictionError: SHAP produced NaN or infinite values.
        """
        # SHAP's maskers keep state between calls, and the warning filters are the
        # process's: one explanation at a time per explainer.
        with self._lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SHAP's own deprecation and numba chatter
            if self.kind == "permutation":
                raw = self._shap(_encode(X, self.metadata), max_evals=_max_evals(X))
            else:
                result = (
                    self._shap(self._transform(X), check_additivity=False)
                    if self.kind == "tree"
                    else self._shap(self._transform(X))
                )
                raw = result.values, result.base_values
        values = np.asarray(raw[0], dtype=np.float64)
        base = np.asarray(raw[1], dtype=np.float64).reshape(len(values), -1)
        if not (np.isfinite(values).all() and np.isfinite(base).all()):
            raise PredictionError(
                "the explanation holds NaN or infinite values; it cannot be served"
            )
        return _shape(values, base, self.metadata, self.output, self.note)

    def _build(self) -> tuple[Any, Output]:
        import shap

        classifier = self.task.is_classification
        final = final_estimator(self.estimator)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.kind == "tree":
                return self._tree(shap, final)
            if self.kind == "linear":
                masker = shap.maskers.Independent(self._transform(self.background))
                return shap.LinearExplainer(final, masker), "margin" if classifier else "value"
            proba = getattr(self.estimator, "predict_proba", None)
            method = proba if classifier and callable(proba) else self.estimator.predict
            output: Output = "probability" if method is proba else "value"
            model = _decoded(method, self.metadata)
            background = _encode(self.background, self.metadata)
            return PermutationShap(model, background, seed=_PERMUTATION_SEED), output

    def _tree(self, shap: Any, final: Any) -> tuple[Any, Output]:
        if self.given_background and _all_numeric(self._transform(self.background)):
            # Interventional SHAP against the caller's rows: probability space for classifiers.
            data = self._transform(self.background)
            try:
                kind = "probability" if self.task.is_classification else "raw"
                explainer = shap.TreeExplainer(
                    final, data=data, model_output=kind, feature_perturbation="interventional"
                )
                return explainer, "probability" if self.task.is_classification else "value"
            except Exception as error:  # SHAP can't do probability space for this model
                self.note = _margin_note(error)
                logger.warning("model %s: %s", self.metadata.name, self.note)
        explainer = shap.TreeExplainer(final)
        if not self.task.is_classification:
            return explainer, "value"
        in_probability = type(final).__module__.startswith(_PROBABILITY_TREES)
        return explainer, "probability" if in_probability else "margin"

    def _transform(self, X: Any) -> Any:
        steps = preprocessor(self.estimator)
        return X if steps is None else steps.transform(X)


def _all_numeric(data: Any) -> bool:
    """SHAP's interventional tree code reads plain numbers only (no pandas categories)."""
    if isinstance(data, pd.DataFrame):
        return all(pd.api.types.is_numeric_dtype(dtype) for dtype in data.dtypes)
    return np.asarray(data).dtype.kind in "fiub"


def _margin_note(error: Exception) -> str:
    reason = str(error).strip().splitlines()
    why = reason[0][:200] if reason else type(error).__name__
    return (
        "explained in margin (log-odds), not probability: SHAP cannot explain this model "
        f"in probability space against the rows given ({why})"
    )


def _why_not_explainable(input_kind: str | None) -> str:
    if input_kind == "text":
        return "explanations need tabular features; this is a text model"
    return "explanations need SHAP: pip install 'modelport[explain]'"


def _max_evals(X: Any) -> int:
    n_features = int(X.shape[1])
    return max(500, 2 * n_features + 1)


def _encode(X: Any, metadata: ModelMetadata) -> np.ndarray:
    """Model input → an all-numeric matrix background rows can mix into (categories as codes)."""
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X, columns=metadata.feature_names)
    columns = []
    for spec in metadata.features:
        column = frame[spec.name]
        if spec.type is FeatureType.CATEGORICAL:
            categories = _categories(spec.categories)
            codes = pd.Categorical(column.astype(object), categories=categories).codes.astype(
                np.float64
            )
            columns.append(np.where(codes < 0, np.nan, codes))
        else:
            columns.append(column.to_numpy(dtype=np.float64, na_value=np.nan))
    return np.column_stack(columns)


def _decoded(method: Any, metadata: ModelMetadata) -> Callable[[np.ndarray], np.ndarray]:
    """Wrap a model method so it takes the encoded matrix `_encode` produces."""
    matrix_dtype = object if _has_categories(metadata) else np.float64  # once, not per batch

    def call(matrix: np.ndarray) -> np.ndarray:
        data: dict[str, Any] = {}
        for j, spec in enumerate(metadata.features):
            column = matrix[:, j]
            if spec.type is FeatureType.CATEGORICAL:
                categories = _categories(spec.categories)
                data[spec.name] = pd.Categorical.from_codes(
                    np.nan_to_num(column, nan=-1).astype(int), categories=pd.Index(categories)
                )
            elif spec.type is FeatureType.INTEGER and not np.isnan(column).any():
                data[spec.name] = column.astype(np.int64)
            else:
                data[spec.name] = column
        frame = pd.DataFrame(data)
        if metadata.input_kind == "dataframe":
            return np.asarray(method(frame))
        return np.asarray(method(frame.to_numpy(dtype=matrix_dtype)))

    return call


def _categories(categories: list[Any] | None) -> list[Any]:
    if not categories:
        raise NotSupportedError(
            "explaining a categorical feature needs its categories in the metadata"
        )
    return categories


def _has_categories(metadata: ModelMetadata) -> bool:
    return any(spec.type is FeatureType.CATEGORICAL for spec in metadata.features)


def _shape(
    values: np.ndarray, base: np.ndarray, metadata: ModelMetadata, output: Output, note: str | None
) -> list[dict[str, Any]]:
    names = metadata.feature_names
    classes = metadata.class_names or []
    task = metadata.task
    if values.ndim == 3 and task is Task.BINARY_CLASSIFICATION:
        values, base = values[:, :, 1], base[:, 1:2]
    rows = []
    for i in range(len(values)):
        if values.ndim == 3:
            row_values: Any = {
                c: dict(zip(names, values[i, :, k].tolist(), strict=True))
                for k, c in enumerate(classes)
            }
            row_base: Any = dict(zip(classes, base[i].tolist(), strict=True))
        else:
            row_values, row_base = (
                dict(zip(names, values[i].tolist(), strict=True)),
                float(base[i, 0]),
            )
        row = {"values": row_values, "base_value": row_base, "output": output}
        rows.append(row if note is None else {**row, "note": note})
    return rows
