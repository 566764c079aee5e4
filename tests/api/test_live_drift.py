"""Live drift through the API: what the routes served, counted per model, in /drift and the
gauges of /metrics."""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from modelport import load_bundle, save_bundle
from modelport.api.state import server_state
from modelport.examples import EXAMPLES

BANK = "bank-marketing"
IRIS = "forest-multiclass"
ADMIN = {"Authorization": "Bearer admin-secret"}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records"))
    return records


def _send(client: TestClient, frame: pd.DataFrame, path: str = "/predict", size: int = 50) -> None:
    """The rows as traffic comes: requests of `size` rows (the last maybe fewer)."""
    for start in range(0, len(frame), size):
        response = client.post(path, json=_records(frame.iloc[start : start + size]))
        assert response.status_code == 200, response.text


def _bank_rows() -> pd.DataFrame:
    return EXAMPLES[BANK].data().head(1000)  # clients the model never saw, as in production


def _statuses(report: dict[str, Any]) -> dict[str, str]:
    return {name: entry["status"] for name, entry in report["features"].items()}


def _gauges(text: str, name: str) -> dict[tuple[str, ...], float]:
    """Every sample of one gauge: its label values (in the order shown) → value."""
    samples = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line.rsplit(" ", 1)
            samples[tuple(re.findall(r'="([^"]*)"', labels))] = float(value)
    return samples


def _feature_gauges(text: str, model: str) -> dict[str, float]:
    # labels are written sorted: feature, then model
    return {
        feature: value
        for (feature, of), value in _gauges(text, "modelport_feature_drift").items()
        if of == model
    }


def test_a_model_fed_clients_like_those_it_learnt_from_is_ok_on_every_feature(
    serve, example_dir: Path
):
    with serve(example_dir / f"{BANK}.joblib") as client:
        _send(client, _bank_rows())
        report = client.get("/drift").json()
        per_model = client.get(f"/models/{BANK}/drift").json()
        metrics = client.get("/metrics").text
    assert report == per_model
    assert (report["model"], report["window"], report["rows"]) == (BANK, 1000, 1000)
    assert report["reference"] == "profile"
    assert set(_statuses(report).values()) == {"ok"}
    assert report["status"] == report["prediction"]["status"] == "ok"
    gauges = _feature_gauges(metrics, BANK)
    assert gauges == {name: entry["psi"] for name, entry in report["features"].items()}
    assert _gauges(metrics, "modelport_prediction_drift") == {(BANK,): report["prediction"]["psi"]}


def _shift_balance(rows: pd.DataFrame) -> pd.DataFrame:
    rows["balance"] = (rows["balance"] + 2 * rows["balance"].std()).round()
    return rows


def _students(rows: pd.DataFrame) -> pd.DataFrame:
    rows.loc[rows.index[:600], "job"] = "student"
    return rows


@pytest.mark.parametrize(
    ("change", "moved"), [(_shift_balance, "balance"), (_students, "job")], ids=["2sd", "dominant"]
)
def test_a_moved_feature_alerts_alone_in_drift_and_in_the_gauges(
    serve, example_dir: Path, change: Any, moved: str
):
    with serve(example_dir / f"{BANK}.joblib") as client:
        _send(client, change(_bank_rows()))
        report = client.get(f"/models/{BANK}/drift").json()
        gauges = _feature_gauges(client.get("/metrics").text, BANK)
    statuses = _statuses(report)
    assert statuses.pop(moved) == "alert"
    assert set(statuses.values()) == {"ok"}
    assert gauges[moved] >= 0.25
    assert [name for name, value in gauges.items() if value >= 0.1] == [moved]


def test_v2_requests_are_watched_and_probabilities_count_as_their_likeliest_class(
    serve, example_dir: Path
):
    rows = EXAMPLES[IRIS].data()
    rows["petal length (cm)"] += 2 * rows["petal length (cm)"].std()
    data = rows.to_numpy().tolist()
    body = {
        "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [len(data), 4], "data": data}],
        "outputs": [{"name": "predict_proba"}],
    }
    with serve(example_dir / f"{IRIS}.joblib") as client:
        assert client.post(f"/v2/models/{IRIS}/infer", json=body).status_code == 200
        report = client.get("/drift").json()
        labels = client.post("/predict", json=_records(rows)).json()["prediction"]
    assert report["rows"] == len(rows)
    statuses = _statuses(report)
    assert statuses.pop("petal length (cm)") == "alert"
    assert set(statuses.values()) == {"ok"}
    prediction = report["prediction"]
    counted = Counter(labels)
    assert prediction["current"] == [
        round(counted[name] / len(labels), 6) if name in counted else 0.0
        for name in prediction["bins"]
    ]


def test_proba_requests_and_get_predict_are_watched_too(serve, example_dir: Path):
    rows = EXAMPLES[IRIS].data().head(30)
    with serve(example_dir / f"{IRIS}.joblib") as client:
        _send(client, rows.head(20), "/predict?proba=1", size=7)
        for record in _records(rows.tail(10)):
            assert client.get("/predict", params=record).status_code == 200
        report = client.get("/drift").json()
        labels = client.post("/predict", json=_records(rows)).json()["prediction"]
    assert report["rows"] == 30
    assert report["prediction"]["rows"] == 30
    counted = Counter(labels)
    shares = dict(zip(report["prediction"]["bins"], report["prediction"]["current"], strict=True))
    assert {name: shares[name] for name in counted} == {
        name: round(n / 30, 6) for name, n in counted.items()
    }


def test_refused_requests_are_not_counted(serve, example_dir: Path):
    with serve(example_dir / f"{BANK}.joblib") as client:
        _send(client, _bank_rows().head(10))
        assert client.post("/predict", json={"age": "old"}).status_code == 422
        assert client.post("/predict?proba=1", json=[{"agee": 3}]).status_code == 422
        assert client.get("/drift").json()["rows"] == 10


@pytest.fixture
def bare_bank(example_dir: Path, tmp_path: Path) -> Path:
    """The bank model saved without its reference profile."""
    bundle = load_bundle(example_dir / f"{BANK}.joblib")
    path = tmp_path / "bare" / f"{BANK}.joblib"
    path.parent.mkdir()
    save_bundle(bundle.estimator, path, bundle.metadata)
    return path


def test_a_model_without_a_profile_has_no_reference_and_no_gauges(serve, bare_bank: Path):
    with serve(bare_bank) as client:
        _send(client, _bank_rows().head(200))
        report = client.get("/drift").json()
        metrics = client.get("/metrics").text
    assert report == {
        "model": BANK,
        "version": "1",
        "window": 1000,
        "rows": 0,
        "reference": None,
        "status": "no-reference",
        "features": {},
        "prediction": None,
    }
    assert _gauges(metrics, "modelport_feature_drift") == {}
    assert _gauges(metrics, "modelport_prediction_drift") == {}


def test_first_window_mode_learns_its_reference_from_the_first_rows_served(serve, bare_bank: Path):
    rows = EXAMPLES[BANK].data()
    with serve(bare_bank, drift_reference="first-window", drift_window=500) as client:
        _send(client, rows.head(500))
        learnt = client.get("/drift").json()
        _send(client, rows.iloc[500:1000])
        steady = client.get("/drift").json()
        _send(client, _shift_balance(rows.iloc[1000:1500].copy()))
        shifted = client.get("/drift").json()
    assert (learnt["reference"], learnt["rows"]) == ("first-window", 0)
    assert steady["rows"] == 500
    assert set(_statuses(steady).values()) == {"ok"}
    statuses = _statuses(shifted)
    assert statuses.pop("balance") == "alert"
    assert set(statuses.values()) == {"ok"}


def test_with_drift_off_nothing_is_watched_and_the_routes_say_so(serve, example_dir: Path):
    before = _drift_threads()
    with serve(example_dir / f"{BANK}.joblib", drift=False) as client:
        _send(client, _bank_rows().head(20))
        state = server_state(client.app)
        answers = [client.get("/drift"), client.get(f"/models/{BANK}/drift")]
        metrics = client.get("/metrics").text
        started = _drift_threads() - before
    for answer in answers:
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        assert problem["type"] == "urn:modelport:problem:turned-off"
        assert "MODELPORT_DRIFT=false" in problem["detail"]
    assert not state.monitor.watching
    assert started == set()
    assert "modelport_feature_drift" not in metrics
    assert "modelport_prediction_drift" not in metrics


@pytest.mark.parametrize(
    "path",
    [
        "/models/nope/drift",
        "/models/%00/drift",
        "/models/%E2%80%AEbank/drift",
        "/models/" + "b" * 5000 + "/drift",
        f"/models/{BANK}%20/drift",
        f"/models/{BANK.upper()}/drift",
    ],
)
def test_a_name_that_is_not_a_served_model_is_a_404_problem(serve, example_dir: Path, path: str):
    with serve(example_dir / f"{BANK}.joblib") as client:
        answer = client.get(path)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == "urn:modelport:problem:model-not-found"
    assert problem["detail"].startswith("no model named")
    assert len(problem["detail"]) < 200


def test_a_name_that_climbs_out_of_its_segment_matches_no_route(serve, example_dir: Path):
    with serve(example_dir / f"{BANK}.joblib") as client:
        answer = client.get("/models/..%2F..%2Fetc%2Fpasswd/drift")
    assert answer.status_code == 404
    assert answer.json()["title"] == "Not Found"


def test_query_strings_change_nothing(serve, example_dir: Path):
    with serve(example_dir / f"{BANK}.joblib") as client:
        _send(client, _bank_rows().head(60))
        plain = client.get("/drift").json()
        odd = client.get("/drift?model=nope&window=-1&rows=10&%00=%FF&features[]=age").json()
    assert odd == plain


def test_several_models_without_a_default_need_the_model_named(folder_client: TestClient):
    answer = folder_client.get("/drift")
    assert answer.status_code == 404
    assert "several models are served" in answer.json()["detail"]
    assert folder_client.get(f"/models/{IRIS}/drift").json()["model"] == IRIS


def test_drift_needs_a_key_like_the_other_routes(serve, example_dir: Path):
    with serve(example_dir / f"{BANK}.joblib", api_keys=["key-a"]) as client:
        refused = client.get("/drift")
        allowed = client.get("/drift", headers={"Authorization": "Bearer key-a"})
    assert refused.status_code == 401
    assert allowed.status_code == 200


def test_a_reloaded_model_starts_a_fresh_window_and_a_removed_one_leaves_no_series(
    serve, example_dir: Path, tmp_path: Path
):
    for name in (BANK, IRIS):
        shutil.copy(example_dir / f"{name}.joblib", tmp_path / f"{name}.joblib")
    with serve(tmp_path, admin_keys=["admin-secret"]) as client:
        _send(client, _bank_rows().head(100), f"/models/{BANK}/predict")
        _send(client, EXAMPLES[IRIS].data().head(30), f"/models/{IRIS}/predict")
        before = client.get("/metrics").text
        assert client.post(f"/v2/repository/models/{BANK}/load", headers=ADMIN).status_code == 200
        reloaded = client.get(f"/models/{BANK}/drift").json()
        after_reload = client.get("/metrics").text
        assert client.post(f"/v2/repository/models/{IRIS}/unload", headers=ADMIN).status_code == 200
        unloaded = client.get(f"/models/{IRIS}/drift")
        after_unload = client.get("/metrics").text
    assert set(_feature_gauges(before, BANK)) == set(EXAMPLES[BANK].data().columns)
    assert len(_feature_gauges(before, IRIS)) == 4
    assert reloaded["rows"] == 0
    assert _feature_gauges(after_reload, BANK) == {}  # no row since the reload: no value
    assert _feature_gauges(after_reload, IRIS) == _feature_gauges(before, IRIS)
    assert unloaded.status_code == 404
    assert _gauges(after_unload, "modelport_feature_drift") == {}
    assert _gauges(after_unload, "modelport_prediction_drift") == {}


def _drift_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == "modelport-drift"}


def test_the_drift_thread_stops_with_the_app(serve, example_dir: Path):
    before = _drift_threads()
    with serve(example_dir / f"{BANK}.joblib") as client:
        _send(client, _bank_rows().head(10))
        started = _drift_threads() - before
    assert len(started) == 1
    assert not started.pop().is_alive()
