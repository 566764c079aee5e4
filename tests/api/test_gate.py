"""The gate and its fast lane: prediction routes skip FastAPI's stack, and answer exactly as
the stack answers (the same bodies, errors, headers, metrics and access lines)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import pytest

from modelport.api.gate import Gate

KEY = "gate-test-key-0123456789"


def _keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.txt"
    path.write_text(f"tester: {hashlib.sha256(KEY.encode()).hexdigest()}\n")
    return path


class _CountingStack:
    """FastAPI's stack, counting the requests that reach it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.requests += 1
        await self.app(scope, receive, send)


BUNDLE = "forest-multiclass.joblib"
AUTH = {"Authorization": f"Bearer {KEY}"}


def test_predictions_skip_the_stack_and_other_routes_take_it(serve, example_dir, tmp_path):
    with serve(example_dir / BUNDLE, api_keys_file=_keys_file(tmp_path)) as client:
        gate = client.app.middleware_stack
        assert isinstance(gate, Gate)
        gate.app = stack = _CountingStack(gate.app)
        row = {"petal length (cm)": 5.1}
        assert client.post("/predict", json=row, headers=AUTH).status_code == 200
        assert (
            client.post("/models/forest-multiclass/predict", json=row, headers=AUTH).status_code
            == 200
        )
        assert client.get("/predict", params=row, headers=AUTH).status_code == 200
        assert stack.requests == 0
        assert client.get("/info", headers=AUTH).status_code == 200
        assert client.put("/predict", json=row, headers=AUTH).status_code == 405
        assert stack.requests == 2


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b'{"petal length (cm)": "long"}', {"Content-Type": "application/json"}),
        (b'{"petal length (cm)": 5.1, "colour": 1}', {"Content-Type": "application/json"}),
        (b"{not json", {"Content-Type": "application/json"}),
        (b"petal length (cm)\n5.1\n", {"Content-Type": "text/plain"}),
        (b"[]", {"Content-Type": "application/json"}),
        (b'{"petal length (cm)": 5.1}', {"Content-Type": "application/json", "X-Q": "proba"}),
    ],
)
def test_the_fast_lane_answers_as_the_stack_does(serve, example_dir, body, headers):
    """Debug mode sends every request through the stack: the same request, the same answer."""
    query = "?proba=maybe" if headers.pop("X-Q", None) else ""
    answers = []
    for debug in (False, True):
        with serve(example_dir / BUNDLE, debug=debug) as client:
            response = client.post("/predict" + query, content=body, headers=headers)
            answers.append(
                (
                    response.status_code,
                    response.headers["content-type"],
                    response.json(),
                    "x-request-id" in response.headers,
                )
            )
    assert answers[0] == answers[1]
    assert answers[0][0] >= 400


def test_an_unknown_model_and_an_unready_one_are_problems_in_the_fast_lane(serve, example_dir):
    with serve(example_dir / BUNDLE) as client:
        response = client.post("/models/nothing/predict", json={"petal length (cm)": 1})
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert "nothing" in response.json()["detail"]


def test_refused_and_served_requests_are_counted_and_logged_once(
    serve, example_dir, tmp_path, caplog
):
    caplog.set_level(logging.INFO, logger="modelport.access")
    with serve(example_dir / BUNDLE, api_keys_file=_keys_file(tmp_path)) as client:
        assert client.post("/predict", json={"petal length (cm)": 5.1}).status_code == 401
        ok = client.post("/predict", json={"petal length (cm)": 5.1}, headers=AUTH)
        assert ok.status_code == 200
        metrics = client.get("/metrics", headers=AUTH).text
    lines = [r.getMessage() for r in caplog.records if r.name == "modelport.access"]
    predictions = [line for line in lines if '"POST /predict"' in line]
    assert len(predictions) == 2
    assert " 401 " in predictions[0] and "caller=-" in predictions[0]
    assert " 200 " in predictions[1] and "caller=tester" in predictions[1]
    assert f"id={ok.headers['x-request-id']}" in predictions[1]
    assert (
        'modelport_requests_total{caller="tester",model="forest-multiclass",route="/predict",status="200"} 1.0'
        in metrics
    )
    # refused before routing, as before the gate: a token-less scan cannot grow the labels
    assert 'route="unmatched",status="401"} 1.0' in metrics
