"""Failures while serving, on a real server: a model that won't load, a worker that dies,
a model that breaks on valid input."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
from sklearn.dummy import DummyRegressor

from modelport import FeatureSpec, ModelMetadata, save_bundle

from .conftest import Server, StartServer
from .fake_models import BreaksAfterLoadModel, GatedModel, SideFileModel

DEADLINE_SECONDS = 60.0
ONE_FEATURE = ModelMetadata(
    task="REGRESSION", features=[FeatureSpec(name="x")], examples=[{"x": 1}]
)


def _wait(condition: Callable[[], bool], what: str, server: Server) -> None:
    """Poll `condition` (a connection refused while the server starts counts as False)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        with suppress(httpx.TransportError):
            if condition():
                return
        assert server.process.poll() is None, f"the server exited:\n{server.log()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{server.log()}"
        time.sleep(0.05)


def _repository(tmp_path: Path) -> tuple[Path, Path]:
    """`good` (always 3.0) and `side` (twice x, once its weight file exists; it does not yet)."""
    repository = tmp_path / "models"
    repository.mkdir()
    good = DummyRegressor(strategy="constant", constant=3.0).fit([[0.0]], [3.0])
    save_bundle(good, repository / "good.joblib", ONE_FEATURE)
    weight = tmp_path / "weight.txt"
    weight.write_text("2")
    save_bundle(SideFileModel(weight), repository / "side.joblib", ONE_FEATURE)
    weight.unlink()
    return repository, weight


def _states(server: Server) -> dict[str, dict[str, Any]]:
    return {model["name"]: model for model in server.get("/models").json()["models"]}


def test_a_model_that_fails_to_load_is_retried_and_ready_waits_for_every_model(
    serve: StartServer, tmp_path: Path
) -> None:
    """MODELPORT_READY_WHEN=all (the default): the failed model keeps /ready at 503 while the
    others serve; once what it lacked is there, a retry loads it, bundle untouched."""
    repository, weight = _repository(tmp_path)
    bundle_stamp = (repository / "side.joblib").stat().st_mtime_ns
    server = serve(repository, ready=False, reload_interval=0.1)
    _wait(lambda: _states(server)["side"]["state"] == "failed", "the failed load", server)
    _wait(lambda: _states(server)["good"]["state"] == "ready", "the good model", server)

    side = _states(server)["side"]
    assert "No such file or directory" in side["error"]
    assert str(weight) in side["error"]
    assert server.get("/ready").status_code == 503
    v2 = server.get("/v2/health/ready")
    assert (v2.status_code, v2.json()) == (503, {"ready": False})
    with server.client() as client:
        answer = client.post("/models/good/predict", json={"x": 5})
        assert (answer.status_code, answer.json()) == (200, {"prediction": [3.0]})
        refused = client.post("/models/side/predict", json={"x": 5})
        assert refused.status_code == 503
        assert "is failed" in refused.json()["detail"]
        assert str(weight) in refused.json()["detail"]
    # Each retry waits twice as long as the one before.
    _wait(lambda: "trying again in 0.8 s" in server.log(), "four failed loads", server)
    waits = re.findall(
        r"model side version 1 failed to load: .*; trying again in (\S+) s", server.log()
    )
    assert waits[:4] == ["0.1", "0.2", "0.4", "0.8"]
    assert server.log().count("model side version 1: trying its load again") >= 3

    weight.write_text("2")
    _wait(lambda: server.get("/ready").status_code == 200, "/ready after the fix", server)
    assert server.get("/v2/health/ready").json() == {"ready": True}
    assert (repository / "side.joblib").stat().st_mtime_ns == bundle_stamp
    assert _states(server)["side"]["state"] == "ready"
    assert "error" not in _states(server)["side"]
    with server.client() as client:
        answer = client.post("/models/side/predict", json={"x": 5})
        assert (answer.status_code, answer.json()) == (200, {"prediction": [10.0]})


def test_ready_when_any_serves_once_one_model_does(serve: StartServer, tmp_path: Path) -> None:
    repository, _ = _repository(tmp_path)
    server = serve(repository, ready=False, ready_when="any")
    _wait(lambda: _states(server)["side"]["state"] == "failed", "the failed load", server)
    _wait(lambda: server.get("/ready").status_code == 200, "/ready", server)
    assert server.get("/ready").text == "ready"
    assert server.get("/v2/health/ready").json() == {"ready": True}
    assert _states(server)["good"]["state"] == "ready"
    # Hot reload is off: nothing tries the failed load again.
    assert "trying its load again" not in server.log()
    assert "trying again in" not in server.log()


def test_ready_when_any_still_waits_while_no_model_serves(
    serve: StartServer, tmp_path: Path
) -> None:
    repository, _ = _repository(tmp_path)
    (repository / "good.joblib").unlink()
    server = serve(repository, ready=False, ready_when="any")
    _wait(lambda: _states(server)["side"]["state"] == "failed", "the failed load", server)
    assert server.get("/ready").status_code == 503
    assert server.get("/v2/health/ready").status_code == 503


def _worker_pids(server: Server) -> list[int]:
    """Workers uvicorn started, in order, as its log names them."""
    return [int(pid) for pid in re.findall(r"Started server process \[(\d+)\]", server.log())]


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status.rpartition(")")[2].split()[0] != "Z"


def test_a_worker_killed_is_replaced_and_counted_while_requests_are_answered(
    serve: StartServer, tmp_path: Path
) -> None:
    path = tmp_path / "constant.joblib"
    model = DummyRegressor(strategy="constant", constant=3.0).fit([[0.0]], [3.0])
    save_bundle(model, path, ONE_FEATURE)
    server = serve(path, "--workers", "2")
    _wait(lambda: len(_worker_pids(server)) == 2, "two workers", server)
    victim, survivor = _worker_pids(server)

    os.kill(victim, signal.SIGKILL)
    _wait(lambda: not _alive(victim), "the killed worker to go", server)
    # Each request on a new connection: the one worker left (or its replacement) answers.
    for _ in range(20):
        with httpx.Client(base_url=server.url, timeout=30.0) as client:
            response = client.post("/predict", json={"x": 1})
        assert (response.status_code, response.json()) == (200, {"prediction": [3.0]})

    _wait(lambda: len(_worker_pids(server)) == 3, "a new worker", server)
    replacement = _worker_pids(server)[2]
    assert replacement not in (victim, survivor)
    assert _alive(replacement) and _alive(survivor)
    assert (
        f"worker process {victim} died (killed by SIGKILL) and was replaced by {replacement}; "
        "1 worker restart(s) since the server started"
    ) in server.log()
    _wait(lambda: server.get("/ready").status_code == 200, "ready", server)


def _in_flight(server: Server) -> float:
    """Requests in flight over every live worker, this /metrics request included."""
    text = server.get("/metrics").text
    [value] = re.findall(r"^modelport_requests_in_flight (\S+)$", text, re.MULTILINE)
    return float(value)


def test_a_dead_workers_requests_in_flight_leave_the_metrics(
    serve: StartServer, tmp_path: Path
) -> None:
    started, release = tmp_path / "started", tmp_path / "release"
    path = tmp_path / "gated.joblib"
    save_bundle(GatedModel(started, release), path, ModelMetadata(features=[FeatureSpec(name="x")]))
    server = serve(path, "--workers", "2")
    outcome: list[object] = []

    def held() -> None:
        with httpx.Client(base_url=server.url, timeout=60.0) as client:
            try:
                outcome.append(client.post("/predict", json={"x": 1}).status_code)
            except httpx.TransportError as error:  # its worker is killed under it
                outcome.append(type(error))

    thread = threading.Thread(target=held)
    thread.start()
    try:
        _wait(lambda: started.exists() and started.read_text() != "", "the held request", server)
        holder = int(started.read_text())
        assert _in_flight(server) == 2  # the held request and this one
        os.kill(holder, signal.SIGKILL)
        _wait(lambda: "1 worker restart(s)" in server.log(), "the replacement", server)
        assert _in_flight(server) == 1
    finally:
        release.touch()
        thread.join(timeout=DEADLINE_SECONDS)
    assert outcome and outcome[0] != 200


def test_a_model_that_breaks_on_valid_input_is_a_500_with_a_request_id(
    serve: StartServer, tmp_path: Path
) -> None:
    """Not the client's invalid input (422) with the model's internals in it: a 500 whose
    request id leads to the traceback in the log."""
    path = tmp_path / "breaks.joblib"
    save_bundle(BreaksAfterLoadModel(), path, ONE_FEATURE)
    server = serve(path)
    with server.client() as client:
        response = client.post("/predict", json={"x": 1}, headers={"X-Request-ID": "r-1234"})
        v2 = client.post(
            "/v2/models/breaks/infer",
            json={"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1.0]}]},
        )
    assert response.status_code == 500, response.text
    problem = response.json()
    assert problem["request_id"] == "r-1234" == response.headers["x-request-id"]
    assert problem["detail"] == "the server failed to answer this request"
    assert (v2.status_code, v2.json()) == (
        500,
        {"error": "the server failed to answer this request"},
    )
    for text in (response.text, v2.text):
        assert "secret internals" not in text
    log = server.log()
    assert "unexpected error on POST /predict (model breaks, request id r-1234)" in log
    assert "ValueError: secret internals: cache index out of sync" in log
    assert "Traceback (most recent call last)" in log
