"""deploy/compose.yaml: valid under the Compose specification, its settings known to
modelport, its keys and password secrets, never environment variables."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from dotenv import dotenv_values

from modelport.settings import Settings, warn_unknown_variables

from .conftest import DEPLOY, SCHEMAS, documents

[COMPOSE] = documents(DEPLOY / "compose.yaml")
SERVICES: dict[str, Any] = COMPOSE["services"]
MODELPORT_SERVICES = ["api", "score", "dashboard"]


def _validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads((SCHEMAS / "compose-spec.json").read_text()))


def test_compose_file_matches_the_compose_specification() -> None:
    errors = [f"{list(error.path)}: {error.message}" for error in _validator().iter_errors(COMPOSE)]
    assert errors == []


def test_the_schema_refuses_a_misspelt_key() -> None:
    """The kept schema does reject unknown keys, so the check above means something."""
    broken = {**COMPOSE, "services": {**SERVICES, "api": {**SERVICES["api"], "stop_grace": "9s"}}}
    assert any("stop_grace" in error.message for error in _validator().iter_errors(broken))


def test_the_three_uses_and_the_database_are_services() -> None:
    assert set(SERVICES) == {"api", "score", "dashboard", "db"}
    assert "pgdata" in COMPOSE["volumes"]
    assert any(volume.startswith("pgdata:") for volume in SERVICES["db"]["volumes"])
    assert SERVICES["score"]["restart"] == "no"  # a job: it scores, then exits
    assert SERVICES["dashboard"]["depends_on"]["api"]["condition"] == "service_healthy"


def test_the_env_file_holds_only_settings_modelport_knows() -> None:
    values = {name: value or "" for name, value in dotenv_values(DEPLOY / ".env").items()}
    settings = {name: value for name, value in values.items() if name.startswith("MODELPORT_")}
    assert settings, "the .env file sets no modelport setting"
    assert warn_unknown_variables(values) == []
    Settings(**{name.removeprefix("MODELPORT_").lower(): v for name, v in settings.items()})
    for name in MODELPORT_SERVICES:
        assert SERVICES[name]["env_file"] == [".env"]


@pytest.mark.parametrize("name", MODELPORT_SERVICES)
def test_modelport_containers_run_on_a_read_only_root(name: str) -> None:
    service = SERVICES[name]
    assert service["read_only"] is True
    assert service["tmpfs"] == ["/tmp"]
    assert "./models:/models:ro" in service["volumes"]


def test_keys_and_password_are_secrets_not_variables() -> None:
    declared = set(COMPOSE["secrets"])
    for service in SERVICES.values():
        assert set(service.get("secrets", [])) <= declared
        for variable, value in service.get("environment", {}).items():
            if "KEY" in variable or "PASSWORD" in variable:  # a file under /run/secrets
                assert variable.endswith("_FILE") and value.startswith("/run/secrets/")
    assert SERVICES["api"]["environment"]["MODELPORT_API_KEYS_FILE"] == "/run/secrets/api_keys"
    assert "api_keys" in SERVICES["api"]["secrets"]
    assert SERVICES["db"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password"
    text = (DEPLOY / ".env").read_text().lower()
    assert "password" not in text and "api_keys=" not in text


def test_the_api_gets_the_time_to_drain_before_it_is_killed() -> None:
    values = dotenv_values(DEPLOY / ".env")
    defaults = Settings()
    drain = float(values.get("MODELPORT_DRAIN_SECONDS") or defaults.drain_seconds)
    grace = float(values.get("MODELPORT_GRACE_SECONDS") or defaults.grace_seconds)
    period = SERVICES["api"]["stop_grace_period"]
    assert period.endswith("s")
    assert drain + grace <= float(period.removesuffix("s")) <= drain + grace + 10
