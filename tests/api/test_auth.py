"""Bearer auth: keys from settings or a file, probes public, every other route refused."""

from __future__ import annotations

import hashlib
import logging

import pytest
from starlette.routing import Mount, Route

from modelport import ConfigurationError
from modelport.api.routes import PROBE_PATHS

KEY = "s3cret-key"


@pytest.fixture(scope="module")
def secured(example_dir):
    from tests.api.conftest import running

    with running(example_dir / "forest-multiclass.joblib", api_keys=[KEY, "other-key"]) as client:
        yield client


def _auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_valid_key_is_served(secured):
    response = secured.post("/predict", json={}, headers=_auth())
    assert response.status_code == 200
    assert secured.post("/predict", json={}, headers=_auth("other-key")).status_code == 200


def test_a_missing_key_is_401_with_a_challenge(secured):
    response = secured.post("/predict", json={})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "a bearer token is required"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer wrong",
        f"Bearer {KEY}x",
        f"Basic {KEY}",
        "Bearer",
        f"bearer  {KEY[:-1]}",
        "Bearer \u00e9t\u00e9".encode(),
    ],
)
def test_wrong_keys_are_401(secured, header):
    response = secured.get("/info", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_non_ascii_bytes_in_the_key_are_401_not_a_crash(secured):
    response = secured.get("/info", headers=[(b"authorization", b"Bearer \xff\xfe\xc3")])
    assert response.status_code == 401


PROBES = {
    "/health": "up",
    "/ready": "ready",
    "/v2/health/live": '{"live":true}',
    "/v2/health/ready": '{"ready":true}',
}
"""What an orchestrator's probes get, key or no key: they send none."""


def test_the_public_probes_are_exactly_the_health_checks():
    assert set(PROBE_PATHS) == set(PROBES)


@pytest.mark.parametrize("path", sorted(PROBES))
@pytest.mark.parametrize("headers", [{}, _auth("wrong")], ids=["no key", "wrong key"])
def test_probes_stay_public(secured, path, headers):
    response = secured.get(path, headers=headers)
    assert (response.status_code, response.text) == (200, PROBES[path])


def test_docs_are_public_by_default(secured):
    assert secured.get("/openapi.json").status_code == 200
    assert secured.get("/docs").status_code == 200
    assert (
        secured.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200
    )  # or /docs is blank


def test_docs_can_require_a_key(serve, example_dir):
    with serve(
        example_dir / "forest-multiclass.joblib", api_keys=[KEY], docs_public=False
    ) as client:
        assert client.get("/openapi.json").status_code == 401
        assert client.get("/docs").status_code == 401
        assert client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 401
        assert client.get("/openapi.json", headers=_auth()).status_code == 200


def test_every_route_refuses_without_a_key(secured):
    """Walks the app's routes, so a route added later cannot forget auth."""
    app = secured.app
    public = PROBE_PATHS | {"/docs", "/openapi.json", "/docs/oauth2-redirect", "/redoc"}
    checked = 0
    for route in app.routes:
        if isinstance(route, Mount):
            path = route.path + "/swagger-ui.css"
            methods = {"GET"}
        elif isinstance(route, Route):
            path = route.path.replace("{name}", "forest-multiclass")
            methods = route.methods or {"GET"}
        else:
            continue
        if path in public or path.startswith("/static-offline-docs/"):  # the public docs' assets
            continue
        for method in methods - {"HEAD"}:
            response = secured.request(method, path, json={})
            assert response.status_code == 401, (method, path, response.status_code)
            checked += 1
    assert checked >= 14


def test_the_access_log_names_the_caller_never_the_key(example_dir, tmp_path, caplog):
    from tests.api.conftest import running

    digest = hashlib.sha256(b"alice-key").hexdigest()
    keys = tmp_path / "keys"
    keys.write_text(
        f"# clients\nalice: {digest}\n\nbob: {hashlib.sha256(b'bob-key').hexdigest()}\n"
    )
    with caplog.at_level(logging.INFO, logger="modelport.access"):
        with running(example_dir / "forest-multiclass.joblib", api_keys_file=keys) as client:
            assert client.get("/info", headers=_auth("alice-key")).status_code == 200
            assert client.get("/info", headers=_auth("bob-key")).status_code == 200
            assert client.get("/info", headers=_auth("mallory")).status_code == 401
    lines = [record.getMessage() for record in caplog.records if record.name == "modelport.access"]
    assert any("caller=alice" in line for line in lines)
    assert any("caller=bob" in line for line in lines)
    assert not any("alice-key" in line or digest in line for line in lines)


@pytest.mark.parametrize("content", ["alice 1234\n", "alice: nothex\n", f": {'0' * 64}\n"])
def test_a_malformed_keys_file_names_the_line(example_dir, tmp_path, content):
    from modelport import Settings
    from modelport.api import create_app

    keys = tmp_path / "keys"
    keys.write_text("# ok\n" + content)
    with pytest.raises(ConfigurationError, match="line 2"):
        create_app(
            Settings(bundle_path=example_dir / "forest-multiclass.joblib", api_keys_file=keys)
        )


def test_auth_is_off_without_keys(folder_client):
    assert folder_client.get("/models/forest-multiclass/info").status_code == 200


def test_admin_routes_stay_protected_when_the_app_is_mounted(example_dir):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from modelport import Settings
    from modelport.api import create_app

    outer = FastAPI()
    outer.mount(
        "/api",
        create_app(
            Settings(bundle_path=example_dir / "forest-multiclass.joblib", admin_keys=["adm"])
        ),
    )
    with TestClient(outer) as client:
        assert client.post("/api/v2/repository/models/forest-multiclass/unload").status_code == 401
        assert (
            client.post(
                "/api/v2/repository/index", headers={"Authorization": "Bearer adm"}
            ).status_code
            == 200
        )


def test_a_path_cannot_forge_an_access_log_line(folder_client, caplog):
    with caplog.at_level(logging.INFO, logger="modelport.access"):
        folder_client.get('/nope%0a10.0.0.1 "GET /admin" 200')
    lines = [r.getMessage() for r in caplog.records if r.name == "modelport.access"]
    assert lines and all("\n" not in line for line in lines)
