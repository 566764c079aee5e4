"""The public surface is a decision: adding or removing a name must change this test."""

import importlib.metadata

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


def test_a_star_import_gives_exactly_the_public_names():
    namespace: dict[str, object] = {}
    exec("from modelport import *", namespace)
    assert set(namespace) - {"__builtins__"} == EXPECTED


def test_every_public_name_is_modelport_s_own_and_documented():
    """A user reads `help(modelport.X)`: each name comes from a modelport module, with its own
    docstring (a class's `__doc__` is not inherited, so an undocumented one shows None)."""
    for name in EXPECTED - {"__version__"}:
        public = getattr(modelport, name)
        assert public.__module__.startswith("modelport."), name
        assert (public.__doc__ or "").strip(), f"{name} has no docstring"


def test_the_version_is_the_installed_distribution_s():
    assert modelport.__version__ == importlib.metadata.version("modelport")


def test_every_error_is_a_modelport_error():
    errors = [getattr(modelport, name) for name in EXPECTED if name.endswith("Error")]
    assert all(issubclass(error, modelport.ModelportError) for error in errors)
