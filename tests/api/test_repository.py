"""Versions, the repository routes (admin keys only), and reloading what changed on disk."""

from __future__ import annotations

import gc
import time
import weakref
from pathlib import Path

import pytest
from sklearn.dummy import DummyRegressor

from modelport import ModelMetadata, Settings, save_bundle
from modelport.api.state import server_state
from modelport.registry import Registry

ADMIN = {"Authorization": "Bearer admin-secret"}


def _constant(path: Path, value: float, version: str = "1") -> None:
    model = DummyRegressor(strategy="constant", constant=value).fit([[0.0]], [value])
    save_bundle(
        model,
        path,
        ModelMetadata(version=version, features=[{"name": "x", "default": 0}], examples=[{"x": 1}]),
    )


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    for version, value in (("1", 1.0), ("2", 2.0), ("10", 10.0)):
        _constant(tmp_path / "const" / version / "model.joblib", value, version)
    _constant(tmp_path / "flat.joblib", 5.0)
    (tmp_path / "const" / "bad version!").mkdir()
    (tmp_path / "notes.txt").write_text("not a bundle")
    return tmp_path


def test_the_highest_version_is_the_default_and_others_can_be_pinned(serve, repository):
    with serve(repository) as client:
        assert client.post("/models/const/predict", json={}).json() == {"prediction": [10.0]}
        body = {"inputs": [{"name": "input-0", "datatype": "FP64", "shape": [1, 1], "data": [0]}]}
        pinned = client.post("/v2/models/const/versions/2/infer", json=body).json()
        assert pinned["model_version"] == "2" and pinned["outputs"][0]["data"] == [2.0]
        assert client.get("/v2/models/const").json()["versions"] == ["1", "2", "10"]
        assert client.post("/v2/models/const/versions/3/infer", json=body).status_code == 404
        listing = client.get("/models").json()["models"]
    assert [(m["name"], m["version"]) for m in listing] == [
        ("const", "1"),
        ("const", "2"),
        ("const", "10"),
        ("flat", "1"),
    ]


def test_repository_routes_are_off_without_admin_keys(folder_client):
    assert folder_client.post("/v2/repository/index").status_code == 404


def test_repository_routes_need_an_admin_key_not_an_api_key(serve, repository):
    with serve(repository, api_keys=["user-key"], admin_keys=["admin-secret"]) as client:
        user = {"Authorization": "Bearer user-key"}
        assert client.post("/v2/repository/index").status_code == 401
        assert client.post("/v2/repository/index", headers=user).status_code == 401
        assert client.post("/models/flat/predict", json={}, headers=ADMIN).status_code == 401
        index = client.post("/v2/repository/index", headers=ADMIN).json()
    assert {"name": "flat", "version": "1", "state": "READY"} in index


def test_admin_keys_alone_leave_the_prediction_routes_open(serve, repository):
    with serve(repository, admin_keys=["admin-secret"]) as client:
        assert client.post("/models/flat/predict", json={}).status_code == 200
        assert client.post("/v2/repository/index").status_code == 401


def test_unload_then_load(serve, repository):
    with serve(repository, admin_keys=["admin-secret"]) as client:
        assert client.post("/v2/repository/models/flat/unload", headers=ADMIN).status_code == 200
        gone = client.post("/models/flat/predict", json={})
        assert gone.status_code == 404 and "unloaded" in gone.json()["detail"]
        assert client.get("/ready").status_code == 200  # an unloaded model is not waited for
        index = client.post("/v2/repository/index", headers=ADMIN).json()
        assert {
            "name": "flat",
            "version": "1",
            "state": "UNAVAILABLE",
            "reason": "unloaded",
        } in index
        assert client.post("/v2/repository/models/flat/load", headers=ADMIN).status_code == 200
        assert client.post("/models/flat/predict", json={}).json() == {"prediction": [5.0]}
        missing = client.post("/v2/repository/models/nope/load", headers=ADMIN)
    assert missing.status_code == 404 and "error" in missing.json()


def test_refresh_loads_changes_and_keeps_the_old_model_when_the_new_one_fails(repository):
    registry = Registry(Settings(bundle_path=repository))
    registry.load_all()
    assert registry.get("flat").predict_records({}) == [5.0]
    _constant(repository / "flat.joblib", 6.0)
    registry.refresh()
    assert registry.get("flat").predict_records({}) == [6.0]
    (repository / "flat.joblib").write_bytes(b"truncated")
    registry.refresh()
    entry = registry.entry("flat")
    assert registry.get("flat").predict_records({}) == [6.0]
    assert entry.state == "ready" and "not a readable" in entry.error
    _constant(repository / "new.joblib", 7.0)
    (repository / "const" / "10" / "model.joblib").unlink()
    registry.refresh()
    assert registry.get("new").predict_records({}) == [7.0]
    assert registry.versions("const") == ["1", "2"]


def test_a_new_version_that_fails_its_example_rows_is_not_swapped_in(repository):
    from sklearn.linear_model import LinearRegression

    registry = Registry(Settings(bundle_path=repository))
    registry.load_all()
    two_features = LinearRegression().fit([[0.0, 1.0], [1.0, 0.0]], [0.0, 1.0])
    broken = ModelMetadata(
        features=[{"name": "x", "default": 0}, {"name": "y", "default": 0}],
        examples=[{"x": 1, "y": "oops"}],
    )
    save_bundle(two_features, repository / "flat.joblib", broken)
    registry.refresh()
    assert registry.get("flat").predict_records({}) == [5.0]
    assert "expected a number" in registry.entry("flat").error


def test_the_openapi_document_follows_a_reload(serve, repository):
    with serve(repository, admin_keys=["admin-secret"]) as client:
        before = client.get("/openapi.json").json()
        assert "/models/later/predict" not in before["paths"]
        _constant(repository / "later.joblib", 3.0)
        client.post("/v2/repository/models/later/load", headers=ADMIN)
        after = client.get("/openapi.json").json()
    assert "/models/later/predict" in after["paths"]


def test_what_serves_is_frozen_and_an_unloaded_model_is_freed(serve, tmp_path: Path):
    """Loaded objects are frozen out of the collector's way, yet a model that goes is freed,
    even one whose objects form a reference cycle (only the cyclic collector frees those)."""
    model = DummyRegressor(strategy="constant", constant=3.0).fit([[0.0]], [3.0])
    model.cycle = {"model": model}
    metadata = ModelMetadata(features=[{"name": "x", "default": 0}], examples=[{"x": 1}])
    save_bundle(model, tmp_path / "cyclic.joblib", metadata)
    with serve(tmp_path, admin_keys=["admin-secret"]) as client:
        deadline = time.monotonic() + 30
        while not server_state(client.app).loading.done():  # loading ends by settling the heap
            assert time.monotonic() < deadline
            time.sleep(0.01)
        served = server_state(client.app).registry.get("cyclic")
        estimator_id = id(served.bundle.estimator)
        collected = {id(o) for generation in range(3) for o in gc.get_objects(generation)}
        assert estimator_id not in collected  # frozen: no collection walks it
        assert client.post("/predict", json={"x": 2}).json() == {"prediction": [3.0]}
        assert client.post("/predict?proba=0", json=[{"x": 2}]).status_code == 200
        freed = weakref.ref(served.bundle.estimator)
        del served
        assert client.post("/v2/repository/models/cyclic/unload", headers=ADMIN).status_code == 200
        assert freed() is None
