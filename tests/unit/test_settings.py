"""Settings: one object, environment parsing, typo warnings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from modelport import Settings
from modelport.settings import warn_unknown_variables


def test_defaults():
    settings = Settings()
    assert settings.bundle_path == Path("model.joblib")
    assert settings.max_rows == 10_000
    assert settings.trusted_types == []


def test_environment_is_read_with_the_prefix(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MODELPORT_MAX_ROWS", "25")
    monkeypatch.setenv("MODELPORT_BUNDLE_PATH", "models/")
    assert Settings().max_rows == 25
    assert Settings().bundle_path == Path("models/")


def test_comma_separated_trusted_types(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(
        "MODELPORT_TRUSTED_TYPES", " sklearn.tree._tree.Tree, ,collections.OrderedDict "
    )
    assert Settings().trusted_types == ["sklearn.tree._tree.Tree", "collections.OrderedDict"]


def test_keyword_arguments_beat_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MODELPORT_MAX_ROWS", "25")
    assert Settings(max_rows=3).max_rows == 3


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MODELPORT_MAX_ROWS", "0"),
        ("MODELPORT_MAX_ROWS", "many"),
        ("MODELPORT_BUNDLE_SHA256", "abc"),
        ("MODELPORT_PREDICTION_LOG_SAMPLE", "0"),
        ("MODELPORT_PREDICTION_LOG_SAMPLE", "1.5"),
        ("MODELPORT_PREDICTION_LOG_QUEUE_ROWS", "0"),
    ],
)
def test_bad_values_are_refused_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.removeprefix("MODELPORT_").lower()):
        Settings()


def test_the_prediction_log_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MODELPORT_PREDICTION_LOG", "postgresql+psycopg://app@db/logs")
    monkeypatch.setenv("MODELPORT_PREDICTION_LOG_SAMPLE", "0.25")
    settings = Settings()
    assert settings.prediction_log == "postgresql+psycopg://app@db/logs"
    assert settings.prediction_log_sample == 0.25
    assert (settings.prediction_log_queue_rows, settings.prediction_log_batch_rows) == (
        100_000,
        5_000,
    )


def test_settings_are_frozen():
    with pytest.raises(ValidationError):
        Settings().max_rows = 5  # type: ignore[misc]


def test_unknown_variables_are_warned_about_by_name():
    environ = {"MODELPORT_MAX_ROWS": "5", "MODELPORT_API_KEY": "x", "OTHER": "1"}
    with pytest.warns(UserWarning, match="MODELPORT_API_KEY"):
        assert warn_unknown_variables(environ) == ["MODELPORT_API_KEY"]


def test_fields_have_descriptions_for_help_and_docs():
    assert all(field.description for field in Settings.model_fields.values())
