"""Live drift on a real `modelport serve`: concurrent clients, one worker and two."""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from modelport.examples import EXAMPLES

from .conftest import START_SECONDS, Server

BANK = "bank-marketing"


def _shifted_clients() -> pd.DataFrame:
    rows = EXAMPLES[BANK].data().head(1000)
    rows["balance"] = (rows["balance"] + 2 * rows["balance"].std()).round()
    return rows


def _bodies(rows: pd.DataFrame, size: int) -> list[list[dict[str, Any]]]:
    records = json.loads(rows.to_json(orient="records"))
    return [records[start : start + size] for start in range(0, len(records), size)]


def _post(server: Server, body: list[dict[str, Any]]) -> int:
    with server.client() as client:  # a new connection: with workers, they take turns
        return client.post("/predict", json=body).status_code


def _feature_gauges(text: str) -> dict[str, float]:
    found = re.findall(
        r'modelport_feature_drift\{feature="([^"]+)",model="bank-marketing"\} (\S+)', text
    )
    return {feature: float(value) for feature, value in found}


def test_eight_clients_at_once_and_every_row_is_counted(serve, example_dir: Path):
    server = serve(example_dir / f"{BANK}.joblib")
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda body: _post(server, body), _bodies(_shifted_clients(), 10)))
    assert statuses == [200] * 100
    report = server.get("/drift").json()
    gauges = _feature_gauges(server.get("/metrics").text)
    assert report["rows"] == 1000
    statuses_by_feature = {name: entry["status"] for name, entry in report["features"].items()}
    assert statuses_by_feature.pop("balance") == "alert"
    assert set(statuses_by_feature.values()) == {"ok"}
    assert gauges == {name: entry["psi"] for name, entry in report["features"].items()}


def _wait_for_both_workers(server: Server) -> None:
    """/ready came from one worker; the summed count of loads tells when both serve."""
    loaded = 'modelport_model_loads_total{model="bank-marketing",outcome="loaded"} 2.0'
    deadline = time.monotonic() + START_SECONDS
    while loaded not in server.get("/metrics").text:
        assert time.monotonic() < deadline, f"not every worker loaded:\n{server.log()}"
        time.sleep(0.1)


def test_with_two_workers_the_gauges_show_each_series_once_at_its_worst(serve, example_dir: Path):
    server = serve(example_dir / f"{BANK}.joblib", "--workers", "2")
    _wait_for_both_workers(server)
    statuses = [_post(server, body) for body in _bodies(_shifted_clients(), 10)]
    assert statuses == [200] * 100
    deadline = time.monotonic() + START_SECONDS
    while True:  # each worker writes its gauges within a second of counting its rows
        text = server.get("/metrics").text
        gauges = _feature_gauges(text)
        if gauges.get("balance", 0) >= 0.25:
            break
        assert time.monotonic() < deadline, f"no drift on balance:\n{text}\n{server.log()}"
        time.sleep(0.2)
    assert set(gauges) == set(EXAMPLES[BANK].data().columns)
    lines = [line for line in text.splitlines() if line.startswith("modelport_feature_drift{")]
    assert len(lines) == len(gauges)  # one per series, not one per worker
    assert 'modelport_prediction_drift{model="bank-marketing"}' in text
