"""An optional compiled runtime: the model converted to ONNX and run by ONNX Runtime.

It is used only after it has agreed with the native model on the example rows and on
random rows: probabilities (and regression values) within 1e-5, labels exactly. Float32
inputs are part of that check, since ONNX tree ensembles compare in float32.
"""

from __future__ import annotations

import copy
import logging
import os
import warnings
from typing import Any

import numpy as np
import pandas as pd

from modelport.introspection import final_estimator
from modelport.metadata import FeatureType, ModelMetadata, Task
from modelport.runtime import check_rows

logger = logging.getLogger("modelport.runtime")

TOLERANCE = 1e-5
_NUMERIC = frozenset({FeatureType.NUMERIC, FeatureType.INTEGER, FeatureType.BOOLEAN})


class OnnxRuntime:
    """`predict` and `predict_proba` from an ONNX Runtime session, on float32 matrices."""

    def __init__(self, session: Any, task: Task) -> None:
        self.session = session
        self.task = task
        self.input_name = session.get_inputs()[0].name
        self.outputs = [output.name for output in session.get_outputs()]

    def predict(self, X: Any) -> np.ndarray:
        """Labels (classifiers) or values (regressors)."""
        [output] = self.session.run(self.outputs[:1], {self.input_name: _float32(X)})
        return (
            np.asarray(output).reshape(len(X), -1)[:, 0] if self.task is Task.REGRESSION else output
        )

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the model's class order."""
        [output] = self.session.run(self.outputs[1:2], {self.input_name: _float32(X)})
        return np.asarray(output, dtype=np.float64)


def _float32(X: Any) -> np.ndarray:
    return np.ascontiguousarray(X, dtype=np.float32)


def compile_onnx(estimator: Any, metadata: ModelMetadata) -> tuple[OnnxRuntime | None, str]:
    """The compiled runtime, or None and the reason it can't be used for this model."""
    if not metadata.features or any(f.type not in _NUMERIC for f in metadata.features):
        return None, "ONNX is used for models whose features are all numbers"
    try:
        os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
        import onnxruntime
    except ImportError:
        return None, "onnxruntime is not installed (pip install 'modelport[onnx]')"
    try:
        model = _convert(estimator, len(metadata.features), metadata.task)
    except Exception as error:  # converters refuse what they don't know, in many ways
        return None, f"the model could not be converted to ONNX ({_summary(error)})"
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # requests are batched; one thread per call is enough
    options.inter_op_num_threads = 1
    try:
        session = onnxruntime.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # a converter newer than the runtime, say: the model stays
        return None, f"ONNX Runtime could not load the converted model ({_summary(error)})"
    runtime = OnnxRuntime(session, metadata.task or Task.REGRESSION)
    reason = _disagreement(estimator, runtime, metadata)
    return (None, reason) if reason else (runtime, "")


def _summary(error: Exception) -> str:
    """The error's type and first 300 characters: ONNX Runtime's messages run long."""
    return f"{type(error).__name__}: {str(error).strip()[:300]}"


def _convert(estimator: Any, n_features: int, task: Task | None) -> Any:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    initial = [("input", FloatTensorType([None, n_features]))]
    module = type(final_estimator(estimator)).__module__.split(".")[0]
    if module in ("lightgbm", "xgboost") and not hasattr(estimator, "steps"):
        import onnxmltools

        convert = (
            onnxmltools.convert_lightgbm if module == "lightgbm" else onnxmltools.convert_xgboost
        )
        kwargs = (
            {"zipmap": False} if module == "lightgbm" and task and task.is_classification else {}
        )
        if module == "xgboost":
            estimator = _positional_xgboost(estimator)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return convert(estimator, initial_types=initial, **kwargs)
    options = (
        {id(final_estimator(estimator)): {"zipmap": False}}
        if task and task.is_classification
        else None
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return convert_sklearn(estimator, initial_types=initial, options=options)


def _positional_xgboost(estimator: Any) -> Any:
    """A shallow copy whose booster forgets its column names (the converter wants f0, f1, ...)."""
    booster = estimator.get_booster().copy()
    booster.feature_names = None
    twin = copy.copy(estimator)
    twin._Booster = booster
    return twin


def _disagreement(estimator: Any, runtime: OnnxRuntime, metadata: ModelMetadata) -> str:
    """Why the compiled model can't stand in for the model, or "" when it can."""
    rows = check_rows(metadata)
    X = rows.to_numpy(dtype=np.float32).astype(np.float64)  # what the compiled model sees
    native = pd.DataFrame(X, columns=rows.columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            inputs = native if metadata.input_kind == "dataframe" else X
            expected_labels = np.asarray(estimator.predict(inputs))
            served_labels = np.asarray(runtime.predict(X))
            if metadata.task is Task.REGRESSION:
                if not np.allclose(served_labels, expected_labels, rtol=TOLERANCE, atol=TOLERANCE):
                    return "its predictions differ from the model's by more than 1e-5"
                return ""
            if expected_labels.tolist() != served_labels.tolist():
                return "its labels differ from the model's on some rows"
            expected = np.asarray(estimator.predict_proba(inputs))
            served = runtime.predict_proba(X)
        except Exception as error:
            return f"it failed on the check rows ({type(error).__name__}: {error})"
    if expected.shape != served.shape or not np.allclose(served, expected, rtol=0, atol=TOLERANCE):
        return "its probabilities differ from the model's by more than 1e-5"
    return ""
