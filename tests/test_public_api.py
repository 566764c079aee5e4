"""The public surface is a decision: adding or removing a name must change this test."""

import modelport

EXPECTED = {
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
}


def test_all_lists_exactly_the_public_names():
    assert set(modelport.__all__) == EXPECTED


def test_every_public_name_is_importable():
    for name in modelport.__all__:
        assert getattr(modelport, name) is not None


def test_every_error_is_a_modelport_error():
    errors = [getattr(modelport, name) for name in EXPECTED if name.endswith("Error")]
    assert all(issubclass(error, modelport.ModelportError) for error in errors)
