"""V2 requests against a Predictor: tensors in, `predict` / `predict_proba` tensors out.

Output names follow MLServer's scikit-learn runtime, so a client moving from MLServer
changes only the URL.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelport.errors import RequestError
from modelport.metadata import FeatureType, ModelMetadata
from modelport.predictor import Predictor
from modelport.v2.tensors import InferRequest, Tensor, datatype_of

MATRIX_INPUT = "input-0"
PREDICT, PREDICT_PROBA = "predict", "predict_proba"
_FEATURE_DATATYPES = {
    FeatureType.NUMERIC: "FP64",
    FeatureType.INTEGER: "INT64",
    FeatureType.BOOLEAN: "BOOL",
    FeatureType.CATEGORICAL: "BYTES",
    FeatureType.TEXT: "BYTES",
}


def takes_matrix(metadata: ModelMetadata) -> bool:
    """One `[-1, n_features]` tensor for all-numeric models; one input per feature otherwise."""
    numeric = {FeatureType.NUMERIC, FeatureType.INTEGER, FeatureType.BOOLEAN}
    return all(feature.type in numeric for feature in metadata.features)


def model_metadata(name: str, version: str, predictor: Predictor) -> dict[str, Any]:
    """`GET /v2/models/{name}`: inputs, outputs, their datatypes and shapes."""
    metadata = predictor.metadata
    if takes_matrix(metadata):
        inputs = [
            {
                "name": MATRIX_INPUT,
                "datatype": "FP64",
                "shape": [-1, len(metadata.features)],
                "parameters": {"content_type": "np", "feature_names": metadata.feature_names},
            }
        ]
        content_type = "np"
    else:
        inputs = [
            {
                "name": f.name,
                "datatype": _FEATURE_DATATYPES[f.type],
                "shape": [-1],
                "parameters": {
                    "content_type": "str" if _FEATURE_DATATYPES[f.type] == "BYTES" else "np"
                },
            }
            for f in metadata.features
        ]
        content_type = "pd"
    outputs: list[dict[str, Any]] = [
        {"name": PREDICT, "datatype": _label_datatype(predictor), "shape": [-1]}
    ]
    if predictor.has_proba:
        outputs.append(
            {
                "name": PREDICT_PROBA,
                "datatype": "FP64",
                "shape": [-1, len(metadata.class_names or [])],
            }
        )
    module = type(predictor.bundle.estimator).__module__.split(".")[0]
    return {
        "name": name,
        "versions": [version],
        "platform": {"sklearn": "sklearn"}.get(module, module),
        "inputs": inputs,
        "outputs": outputs,
        "parameters": {"content_type": content_type},
    }


def _label_datatype(predictor: Predictor) -> str:
    names = predictor.metadata.class_names
    if names is None:
        return "FP64"
    classes = getattr(predictor.bundle.estimator, "classes_", None)
    return datatype_of(np.asarray(classes)) if classes is not None else "BYTES"


def requested_outputs(request: InferRequest, predictor: Predictor) -> list[str]:
    """The outputs asked for (`predict` when none is), each once.

    Raises:
        RequestError: an output this model does not have.
    """
    requested = list(dict.fromkeys(output["name"] for output in request.outputs)) or [PREDICT]
    unknown = [name for name in requested if name not in (PREDICT, PREDICT_PROBA)]
    if unknown:
        raise RequestError(
            f"unknown output {unknown[0]!r}; this model has {PREDICT!r} and {PREDICT_PROBA!r}"
        )
    if PREDICT_PROBA in requested and not predictor.has_proba:
        predictor.predict_proba_array([])  # raises the NotSupportedError that says why
    return requested


def to_tensor(name: str, rows: list[Any]) -> Tensor:
    """One output from the per-row results of `predict` (labels) or `predict_proba` (dicts)."""
    if name == PREDICT:
        labels = np.asarray(rows)
        return Tensor(PREDICT, datatype_of(labels), [len(labels)], labels)
    proba = np.array([list(row.values()) for row in rows], dtype=np.float64)
    return Tensor(PREDICT_PROBA, "FP64", list(proba.shape), proba)


def to_columns(inputs: list[Tensor], metadata: ModelMetadata) -> dict[str, Any]:
    """One `[n, n_features]` tensor (columns by position) or one tensor per feature (by name)."""
    names = metadata.feature_names
    if len(inputs) == 1 and inputs[0].name not in names and takes_matrix(metadata):
        tensor = inputs[0]
        data = (
            tensor.data.reshape(-1, 1) if tensor.data.ndim == 1 and len(names) == 1 else tensor.data
        )
        if data.ndim != 2 or data.shape[1] != len(names):
            raise RequestError(
                f"input {tensor.name!r} has shape {tensor.shape}; "
                f"this model takes [-1, {len(names)}] "
                f"(one column per feature) or one input per feature"
            )
        return {name: _text(data[:, j]) for j, name in enumerate(names)}
    columns: dict[str, Any] = {}
    for tensor in inputs:
        if tensor.name not in names:
            shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            raise RequestError(f"unknown input {tensor.name!r}; this model's inputs are {shown}")
        data = (
            tensor.data[:, 0]
            if tensor.data.ndim == 2 and tensor.data.shape[1] == 1
            else tensor.data
        )
        if data.ndim != 1:
            raise RequestError(
                f"input {tensor.name!r} has shape {tensor.shape}; "
                "a feature input is [-1] or [-1, 1]"
            )
        columns[tensor.name] = _text(data)
    return columns


def _text(column: np.ndarray) -> np.ndarray:
    """BYTES arrive as bytes or str; the validator wants str."""
    if column.dtype == object:
        return np.array(
            [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in column],
            dtype=object,
        )
    return column
