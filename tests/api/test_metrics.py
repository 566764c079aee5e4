"""/metrics: counts what the tests sent, on a registry each app owns."""

from __future__ import annotations

import re


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith((name + "{", name + " ")):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.rsplit("} ", 1)[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_requests_rows_and_loads_are_counted(serve, example_dir):
    with serve(example_dir / "wind-turbine.joblib") as client:
        before = client.get("/metrics").text
        for _ in range(3):
            client.post("/predict", json=[{}, {"Ws1_avg": 9}])
        client.post("/predict", json={"Ws1_avgg": 1})
        client.get("/models/nope/info")
        text = client.get("/metrics").text
    assert (
        _sample(
            text, "modelport_requests_total", route="/predict", status="200", model="wind-turbine"
        )
        == 3
    )
    assert (
        _sample(
            text, "modelport_requests_total", route="/predict", status="422", model="wind-turbine"
        )
        == 1
    )
    assert (
        _sample(
            text, "modelport_requests_total", route="/models/{name}/info", status="404", model="-"
        )
        == 1
    )
    assert _sample(text, "modelport_rows_predicted_total", model="wind-turbine") == 6
    assert _sample(text, "modelport_rows_per_call_count", model="wind-turbine") == 3
    assert _sample(text, "modelport_model_loads_total", model="wind-turbine", outcome="loaded") == 1
    assert _sample(before, "modelport_rows_predicted_total", model="wind-turbine") == 0
    assert "modelport_request_duration_seconds_bucket" in text
    assert _sample(text, "modelport_requests_in_flight") == 1  # the /metrics request itself


def test_each_app_owns_its_registry(serve, example_dir):
    with serve(example_dir / "wind-turbine.joblib") as first:
        first.post("/predict", json={})
        with serve(example_dir / "wind-turbine.joblib") as second:
            text = second.get("/metrics").text
    assert _sample(text, "modelport_rows_predicted_total", model="wind-turbine") == 0


def test_raw_paths_never_become_labels(folder_client):
    before = folder_client.get("/metrics").text
    for i in range(5):
        assert folder_client.get(f"/no/such/{i}").status_code == 404
    text = folder_client.get("/metrics").text
    assert "/no/such" not in text
    unmatched = {"route": "unmatched", "status": "404"}
    counted = _sample(text, "modelport_requests_total", **unmatched)
    assert counted - _sample(before, "modelport_requests_total", **unmatched) == 5


def test_metrics_follow_the_auth_rules(serve, example_dir):
    with serve(example_dir / "wind-turbine.joblib", api_keys=["k1"]) as client:
        assert client.get("/metrics").status_code == 401
        client.get("/info", headers={"Authorization": "Bearer k1"})
        text = client.get("/metrics", headers={"Authorization": "Bearer k1"}).text
    assert (
        _sample(text, "modelport_requests_total", route="/info", caller="key-1", status="200") == 1
    )
