"""The gate and its fast lane: prediction routes skip FastAPI's stack, and answer exactly as
the stack answers (the same bodies, errors, headers, metrics and access lines)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path
from typing import Any

import pytest

from modelport.api.gate import Deadline, Gate
from modelport.errors import BodyTimeoutError

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


def test_a_deadline_turns_only_its_own_cancel_into_a_408():
    async def scenario() -> None:
        never = asyncio.Event()

        async def stalled() -> dict[str, Any]:
            await never.wait()
            return {}

        async def whole() -> dict[str, Any]:
            return {"type": "http.request", "body": b"{}", "more_body": False}

        with pytest.raises(BodyTimeoutError, match=r"within 0\.01 s"):
            await Deadline(0.01).bound(stalled)

        other = asyncio.create_task(Deadline(30).bound(stalled))
        await asyncio.sleep(0)
        other.cancel()  # a cancel of its own (the server stopping): not a 408
        with pytest.raises(asyncio.CancelledError):
            await other

        deadline = Deadline(0.01)
        assert (await deadline.bound(whole))["body"] == b"{}"
        deadline.stop()
        await asyncio.sleep(0.05)
        assert not deadline.expired  # stopped: its timer never fires

        late = Deadline(0.01)
        await late.bound(whole)
        await asyncio.sleep(0.05)  # past due between two reads: the next read is refused
        with pytest.raises(BodyTimeoutError):
            await late.bound(whole)

    asyncio.run(scenario())
