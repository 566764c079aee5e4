"""modelport: turn a trained scikit-learn-compatible model into working software.

Example:
    >>> from modelport import load_bundle, Predictor
    >>> predictor = Predictor(load_bundle("iris.joblib"))  # doctest: +SKIP
    >>> predictor.predict_records([{"petal length (cm)": 5.1}], proba=True)  # doctest: +SKIP
"""

from modelport._version import __version__
from modelport.bundle import ModelBundle, load_bundle, save_bundle
from modelport.client import Client
from modelport.errors import (
    AuthenticationError,
    BundleError,
    ConfigurationError,
    FieldProblem,
    InputTableError,
    InvalidInputError,
    ModelNotFoundError,
    ModelNotReadyError,
    ModelportError,
    NotSupportedError,
    PredictionError,
    ServerUnreachableError,
    StoreError,
)
from modelport.metadata import FeatureSpec, FeatureType, ModelMetadata, Task
from modelport.predictor import Predictor, Runtime
from modelport.settings import Settings
from modelport.validation import validate_columns, validate_records

__all__ = [
    "AuthenticationError",
    "BundleError",
    "Client",
    "ConfigurationError",
    "FeatureSpec",
    "FeatureType",
    "FieldProblem",
    "InputTableError",
    "InvalidInputError",
    "ModelBundle",
    "ModelMetadata",
    "ModelNotFoundError",
    "ModelNotReadyError",
    "ModelportError",
    "NotSupportedError",
    "PredictionError",
    "Predictor",
    "Runtime",
    "ServerUnreachableError",
    "Settings",
    "StoreError",
    "Task",
    "__version__",
    "load_bundle",
    "save_bundle",
    "validate_columns",
    "validate_records",
]
