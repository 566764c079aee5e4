"""Shared fixtures (every example bundle, built once per session from real data; the browser)
and the rule that nothing is skipped in CI."""

from __future__ import annotations

import os
import shutil
from collections.abc import Generator
from pathlib import Path

import pytest

from modelport import ModelBundle, Predictor, load_bundle
from modelport.examples import EXAMPLES, save_example

pytest_plugins = ["tests.postgres", "pytester"]

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


def in_ci() -> bool:
    """True under `CI=true` (or `CI=1`), as CI services set it."""
    return os.environ.get("CI", "").lower() in {"true", "1"}


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def _fail_a_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    """In CI, a skip (a missing browser, runtime or client library) is a failure: a real check
    must never turn into a silent pass. Expected failures (xfail) are not skips."""
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where nothing may be: {_skip_reason(report)}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    _fail_a_skip(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield  # a module-level importorskip skips its whole module here
    _fail_a_skip(report)
    return report


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The `chromium` on PATH, found as `make chromium` finds it (Debian's, never a download)."""
    found = shutil.which("chromium")
    if found is None:
        pytest.skip("no `chromium` on PATH: `make chromium` installs Debian's")
    return Path(found)
