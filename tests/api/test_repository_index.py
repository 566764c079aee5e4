"""`POST /v2/repository/index` only reads: it loads nothing, drops nothing, collects nothing."""

from __future__ import annotations

import gc
import time
from pathlib import Path

from sklearn.dummy import DummyRegressor

from modelport import ModelMetadata, save_bundle
from modelport.api import heap
from modelport.api.state import server_state

ADMIN = {"Authorization": "Bearer admin-secret"}


def _constant(path: Path, value: float) -> None:
    model = DummyRegressor(strategy="constant", constant=value).fit([[0.0]], [value])
    metadata = ModelMetadata(features=[{"name": "x", "default": 0}], examples=[{"x": 1}])
    save_bundle(model, path, metadata)


def test_the_index_lists_what_is_on_disk_without_loading_it(serve, tmp_path, monkeypatch):
    _constant(tmp_path / "flat.joblib", 5.0)
    with serve(tmp_path, admin_keys=["admin-secret"]) as client:
        state = server_state(client.app)
        deadline = time.monotonic() + 30
        while not state.loading.done():  # loading ends by settling the heap
            assert time.monotonic() < deadline
            time.sleep(0.01)
        registry, settled = state.registry, []
        monkeypatch.setattr(heap, "settle_heap", lambda: settled.append(gc.get_freeze_count()))
        _constant(tmp_path / "flat.joblib", 6.0)  # changed on disk
        _constant(tmp_path / "new.joblib", 7.0)  # added on disk
        changes = registry.changes
        index = client.post("/v2/repository/index", headers=ADMIN)
        assert index.status_code == 200
        assert registry.changes == changes
        assert settled == []  # no collection, no refreeze
        assert client.post("/models/flat/predict", json={}).json() == {"prediction": [5.0]}
        assert client.post("/models/new/predict", json={}).status_code == 404
        assert client.post("/v2/repository/models/new/load", headers=ADMIN).status_code == 200
        assert client.post("/models/new/predict", json={}).json() == {"prediction": [7.0]}
        assert len(settled) == 1  # loading does settle the heap: the spy sees it
    assert index.json() == [
        {"name": "flat", "version": "1", "state": "READY"},
        {
            "name": "new",
            "version": "1",
            "state": "UNAVAILABLE",
            "reason": "not loaded yet: load it, or wait for the next reload",
        },
    ]


def test_the_index_of_an_emptied_folder_still_lists_what_serves(serve, tmp_path):
    _constant(tmp_path / "flat.joblib", 5.0)
    with serve(tmp_path, admin_keys=["admin-secret"]) as client:
        (tmp_path / "flat.joblib").unlink()
        index = client.post("/v2/repository/index", headers=ADMIN).json()
        assert client.post("/models/flat/predict", json={}).json() == {"prediction": [5.0]}
    assert index == [{"name": "flat", "version": "1", "state": "READY"}]
