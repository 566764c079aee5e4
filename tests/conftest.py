"""Shared fixtures: every example bundle, built once per session from real data."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport import ModelBundle, Predictor, load_bundle
from modelport.examples import EXAMPLES, save_example

pytest_plugins = ["tests.postgres"]

EXAMPLE_NAMES = list(EXAMPLES)
TABULAR_EXAMPLES = [name for name in EXAMPLE_NAMES if name != "sentiment"]


@pytest.fixture(scope="session")
def example_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding `<name>.joblib` for every example model."""
    folder = tmp_path_factory.mktemp("examples")
    for name in EXAMPLE_NAMES:
        save_example(name, folder / f"{name}.joblib")
    return folder


@pytest.fixture(scope="session")
def example_bundles(example_dir: Path) -> dict[str, ModelBundle]:
    """Every example, loaded once."""
    return {name: load_bundle(example_dir / f"{name}.joblib") for name in EXAMPLE_NAMES}


@pytest.fixture(scope="session")
def predictors(example_bundles: dict[str, ModelBundle]) -> dict[str, Predictor]:
    """A Predictor per example, shared so SHAP explainers are built once."""
    return {name: Predictor(bundle) for name, bundle in example_bundles.items()}
