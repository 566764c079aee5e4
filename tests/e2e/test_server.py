"""`modelport serve` as operators run it: a real process, real HTTP, real signals."""

from __future__ import annotations

import math
import pickle
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelport import FeatureSpec, ModelMetadata, save_bundle
from modelport.examples import EXAMPLES

from .conftest import ROOT, Server, StartServer, free_port, serve_command, server_environment
from .fake_models import FailingModel, GatedModel

pytestmark = pytest.mark.timeout(120)

PROBLEM = "application/problem+json"
WIND = "/models/wind-turbine/predict"


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "instance"} <= set(body)
    return body


def _wait_for(condition: Any, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


# --- every example through the real server -------------------------------------------------


def _sigmoid(margin: float) -> float:
    return 1 / (1 + math.exp(-margin))


def _softmax(margins: dict[str, float]) -> dict[str, float]:
    top = max(margins.values())
    exps = {name: math.exp(value - top) for name, value in margins.items()}
    return {name: value / sum(exps.values()) for name, value in exps.items()}


def _explained(row: dict[str, Any]) -> Any:
    """`base_value + sum(values)`, per class when the explanation is per class."""
    if isinstance(row["base_value"], dict):
        return {
            name: row["base_value"][name] + sum(row["values"][name].values())
            for name in row["base_value"]
        }
    return row["base_value"] + sum(row["values"].values())


def _check_explanation(
    metadata: dict[str, Any], rows: list[dict[str, Any]], answer: dict[str, Any]
) -> None:
    """Each row explains every feature, and adds up to the output it says it explains."""
    features = {feature["name"] for feature in metadata["features"]}
    classes = metadata.get("class_names")
    assert len(answer["explanation"]) == len(rows)
    for row, expected in zip(answer["explanation"], answer["prediction"], strict=True):
        per_class = isinstance(row["base_value"], dict)  # multiclass: keyed by class name
        if per_class:
            assert list(row["values"]) == classes
            assert all(set(values) == features for values in row["values"].values())
        else:
            assert set(row["values"]) == features
        total = _explained(row)
        if row["output"] == "value":
            assert total == pytest.approx(expected, rel=1e-3, abs=1e-3)
            continue
        # a binary classifier is explained for its positive class, the second one
        want = expected if per_class else expected[classes[1]]
        if row["output"] == "margin":  # log-odds, or one logit per class
            total = _softmax(total) if per_class else _sigmoid(total)
        assert total == pytest.approx(want, abs=1e-3)


def _check_probabilities(
    client: httpx.Client,
    name: str,
    classes: list[str],
    rows: list[dict[str, Any]],
    labels: list[Any],
) -> None:
    """Probabilities per class, in class order, adding up to 1, highest for the label."""
    assert {str(label) for label in labels} <= set(classes)
    response = client.post(f"/models/{name}/predict", params={"proba": 1}, json=rows)
    assert response.status_code == 200, response.text
    probabilities = response.json()["prediction"]
    assert len(probabilities) == len(rows)
    for label, row in zip(labels, probabilities, strict=True):
        assert list(row) == classes
        assert sum(row.values()) == pytest.approx(1.0)
        assert all(0.0 <= p <= 1.0 for p in row.values())
        assert str(label) == max(row, key=row.__getitem__)


def _check_text_route(client: httpx.Client, name: str, record: dict[str, str], label: Any) -> None:
    """`GET /?query=` agrees with POST /predict on the label and its probability."""
    [text] = record.values()
    answer = client.get(f"/models/{name}/", params={"query": text})
    assert answer.status_code == 200, answer.text
    assert answer.json()["prediction"] == label
    proba = client.post(f"/models/{name}/predict", params={"proba": 1}, json=record)
    [row] = proba.json()["prediction"]
    assert answer.json()["confidence"] == pytest.approx(row[label])


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_every_example_is_served_end_to_end(examples_server: Server, name: str) -> None:
    with examples_server.client() as client:
        info = client.get(f"/models/{name}/info")
        assert info.status_code == 200, info.text
        metadata = info.json()["metadata"]
        assert metadata["name"] == name
        rows = metadata["examples"]
        assert rows, "every example model ships example rows"
        features = client.get(f"/models/{name}/features")
        assert features.status_code == 200
        assert features.json() == metadata["features"]

        predicted = client.post(f"/models/{name}/predict", json=rows)
        assert predicted.status_code == 200, predicted.text
        labels = predicted.json()["prediction"]
        assert len(labels) == len(rows)
        if metadata["task"] == "REGRESSION":
            assert all(isinstance(value, float) and math.isfinite(value) for value in labels)
            refused = client.post(f"/models/{name}/predict", params={"proba": 1}, json=rows)
            assert "regressor" in _problem(refused, 400)["detail"]
        else:
            _check_probabilities(client, name, metadata["class_names"], rows, labels)

        if metadata["input_kind"] == "text":
            _check_text_route(client, name, rows[0], labels[0])
        else:
            assert metadata["is_explainable"]
            # a classifier's explanation is checked against the probabilities it explains
            flags = (
                {"explain": 1} if metadata["task"] == "REGRESSION" else {"explain": 1, "proba": 1}
            )
            explained = client.post(f"/models/{name}/predict", params=flags, json=rows)
            assert explained.status_code == 200, explained.text
            _check_explanation(metadata, rows, explained.json())

        preprocessed = client.post(f"/models/{name}/preprocess", json=rows)
        assert preprocessed.status_code == 200, preprocessed.text
        defaults = {feature["name"]: feature.get("default") for feature in metadata["features"]}
        assert preprocessed.json() == [defaults | row for row in rows]


def test_the_text_route_refuses_tabular_models(examples_server: Server) -> None:
    response = examples_server.get("/models/wind-turbine/", params={"query": "windy"})
    assert "text models" in _problem(response, 400)["detail"]


# --- bad input gets a problem document that names the problem ------------------------------


@pytest.mark.parametrize(
    ("content", "status", "words"),
    [
        pytest.param(b"{not json", 400, "not valid JSON", id="unparsable"),
        pytest.param(b'{"Ws1_avg": NaN}', 400, "not valid JSON", id="NaN-literal"),
        pytest.param(b'{"Ws1_avg": 1e999}', 400, "infinity", id="1e999"),
        pytest.param(b"[" * 2000 + b"]" * 2000, 400, "depth limit", id="2000-deep"),
        pytest.param(b"[]", 422, "no rows", id="empty-list"),
    ],
)
def test_unreadable_bodies(
    examples_server: Server, content: bytes, status: int, words: str
) -> None:
    response = examples_server.get("/health")  # the server is up before and after
    assert response.status_code == 200
    with examples_server.client() as client:
        response = client.post(WIND, content=content, headers={"Content-Type": "application/json"})
    assert words in _problem(response, status)["detail"]
    assert examples_server.get("/health").status_code == 200


@pytest.mark.parametrize(
    ("body", "pointer", "words"),
    [
        pytest.param(
            [{"Ws1_avg": 3}, {"Ws1_avgg": 3}],
            "#/1/Ws1_avgg",
            "unknown feature; did you mean 'Ws1_avg'?",
            id="misspelled-in-list",
        ),
        pytest.param(
            [{"Ws1_avgg": 3}], "#/0/Ws1_avgg", "did you mean 'Ws1_avg'", id="misspelled-first"
        ),
        pytest.param({"Ws1_avg": "fast"}, "#/Ws1_avg", "expected a number", id="wrong-type"),
        pytest.param({"Ws1_avg": {"m/s": 3}}, "#/Ws1_avg", "nested values", id="nested-object"),
        pytest.param([{"Ws1_avg": [3]}], "#/0/Ws1_avg", "nested values", id="nested-list"),
        pytest.param([{"Ws1_avg": 3}, 4], "#/1", "expected a record", id="records-and-numbers"),
    ],
)
def test_invalid_records_name_the_field(
    examples_server: Server, body: Any, pointer: str, words: str
) -> None:
    with examples_server.client() as client:
        response = client.post(WIND, json=body)
    problem = _problem(response, 422)
    assert [error["pointer"] for error in problem["errors"]] == [pointer]
    assert words in problem["errors"][0]["detail"]
    assert words in problem["detail"]


@pytest.mark.parametrize("media_type", ["application/octet-stream", "application/x-python-pickle"])
def test_other_content_types_are_refused(examples_server: Server, media_type: str) -> None:
    with examples_server.client() as client:
        response = client.post(
            WIND, content=pickle.dumps({"Ws1_avg": 3}), headers={"Content-Type": media_type}
        )
    assert media_type in _problem(response, 415)["detail"]


def test_a_body_with_no_content_type_is_read_as_json(examples_server: Server) -> None:
    with examples_server.client() as client:
        response = client.post(WIND, content=b'[{"Ws1_avg": 3}, {"Ws1_avg": 12}]')
    assert "content-type" not in response.request.headers
    assert response.status_code == 200, response.text
    low, high = response.json()["prediction"]
    assert low < high  # more wind, more power: the body was read, not defaulted


def _chunks(body: bytes, size: int = 256) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_bodies_over_the_limit_are_refused_chunked_or_not(
    serve: StartServer, example_dir: Path
) -> None:
    server = serve(example_dir / "wind-turbine.joblib", max_body_bytes=2000)
    big = b"[" + b",".join([b'{"Ws1_avg": 3.25}'] * 200) + b"]"
    small = b'[{"Ws1_avg": 3.25}, {"Ws1_avg": 9.5}]'
    assert len(big) > 2000
    headers = {"Content-Type": "application/json"}
    with server.client() as client:
        declared = client.post("/predict", content=big, headers=headers)
        assert declared.request.headers["content-length"] == str(len(big))
        detail = _problem(declared, 413)["detail"]
        assert detail == f"the body is {len(big)} bytes; the limit is 2000"

        chunked = client.post("/predict", content=_chunks(big), headers=headers)
        assert chunked.request.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in chunked.request.headers
        assert "over the limit of 2000 bytes" in _problem(chunked, 413)["detail"]

        # a chunked body within the limit is read whole
        fine = client.post("/predict", content=_chunks(small, 8), headers=headers)
        assert fine.request.headers["transfer-encoding"] == "chunked"
        assert fine.status_code == 200, fine.text
        assert len(fine.json()["prediction"]) == 2


def _one_feature_bundle(model: Any, path: Path) -> Path:
    save_bundle(model, path, ModelMetadata(task="REGRESSION", features=[FeatureSpec(name="x")]))
    return path


def test_an_unexpected_exception_is_a_bare_500(serve: StartServer, tmp_path: Path) -> None:
    server = serve(_one_feature_bundle(FailingModel(), tmp_path / "failing.joblib"))
    with server.client() as client:
        response = client.post("/predict", json={"x": 1})
        problem = _problem(response, 500)
        assert problem["detail"] == "the server failed to answer this request"
        for secret in ("secret internals", "RuntimeError", "Traceback", "fake_models"):
            assert secret not in response.text
        # uvicorn closes the connection after an error the app re-raises (as it must, to log
        # it): the answer has to say so, or a client's next request on it is reset.
        assert response.headers.get("connection") == "close"
        assert client.get("/health").status_code == 200  # the server, and this client, go on
    log = server.log()
    assert "Traceback (most recent call last)" in log
    assert "RuntimeError: secret internals" in log


# --- concurrency, probes and stopping ------------------------------------------------------


class _Predict(threading.Thread):
    """POST rows in the background; `response` holds the answer once it is done."""

    def __init__(self, server: Server, body: Any) -> None:
        super().__init__(daemon=True)
        self.server, self.body = server, body
        self.response: httpx.Response | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.server.client(timeout=60.0) as client:
                self.response = client.post("/predict", json=self.body)
        except BaseException as error:  # reported by the test, not lost in the thread
            self.error = error


GatedServer = Callable[..., tuple[Server, Path, Path]]


@pytest.fixture
def gated_server(serve: StartServer, tmp_path: Path) -> Iterator[GatedServer]:
    """`gated_server(**settings)`: a server whose model waits for a file; the gate opens at teardown.

    Opening it there lets a test that failed half-way still stop its server on SIGTERM.
    """
    started, release = tmp_path / "started", tmp_path / "release"

    def start(**settings: Any) -> tuple[Server, Path, Path]:
        bundle = _one_feature_bundle(GatedModel(started, release), tmp_path / "gated.joblib")
        return serve(bundle, **settings), started, release

    yield start
    release.touch()


def _start_predict(server: Server, started: Path) -> _Predict:
    """A predict request that is inside the model (and stays there until released)."""
    request = _Predict(server, [{"x": 1.5}, {"x": -2}])
    request.start()
    _wait_for(lambda: started.exists() or not request.is_alive(), "the model to be called")
    assert started.exists(), request.error or request.response
    return request


def _finish(request: _Predict, release: Path) -> httpx.Response:
    release.touch()
    request.join(timeout=60)
    assert not request.is_alive()
    assert request.error is None, request.error
    assert request.response is not None
    return request.response


def test_health_answers_while_a_model_is_busy(gated_server: GatedServer) -> None:
    server, started, release = gated_server()
    request = _start_predict(server, started)
    health, ready = server.get("/health", timeout=10), server.get("/ready", timeout=10)
    assert (health.status_code, health.text) == (200, "up")
    assert (ready.status_code, ready.text) == (200, "ready")
    assert request.is_alive() and request.response is None  # answered while predict runs
    response = _finish(request, release)
    assert response.status_code == 200, response.text
    assert response.json() == {"prediction": [3.0, -4.0]}


def _refused(server: Server) -> bool:
    """No answer: refused, or reset when the kernel had queued the connection as the socket closed."""
    try:
        server.get("/health", timeout=5)
    except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError):
        return True
    return False


DRAIN_SECONDS = 10
"""Long enough for the two probes below to land inside the drain on a busy 2-core machine."""


def test_sigterm_drains_then_finishes_requests_in_flight(gated_server: GatedServer) -> None:
    server, started, release = gated_server(drain_seconds=DRAIN_SECONDS)
    request = _start_predict(server, started)
    server.process.send_signal(signal.SIGTERM)

    # The drain: /ready turns 503 at once (the signal lands asynchronously), /health stays up.
    answers: list[httpx.Response] = []
    _wait_for(
        lambda: answers.append(server.get("/ready")) or answers[-1].status_code == 503,
        "/ready to turn 503",
    )
    assert answers[-1].text == "not ready"
    health = server.get("/health")
    assert (health.status_code, health.text) == (200, "up")

    # After it, new connections are refused while the request in flight is still running.
    _wait_for(lambda: _refused(server), "the server to stop accepting connections")
    assert request.is_alive() and server.process.poll() is None

    response = _finish(request, release)
    assert response.status_code == 200, response.text
    assert response.json() == {"prediction": [3.0, -4.0]}
    assert server.process.wait(timeout=30) == 0
    assert _refused(server)
    assert "SIGTERM: /ready is 503" in server.log()


def test_serving_a_missing_path_is_one_line_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model.joblib"
    result = subprocess.run(
        serve_command(missing, free_port()),
        cwd=ROOT,
        env=server_environment({}),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    stderr = result.stderr.decode()
    assert result.returncode == 1, stderr
    assert stderr.splitlines() == [f"error: bundle file or folder not found: {missing}"]
    assert result.stdout == b""


def _workers(server: Server) -> set[str]:
    return set(re.findall(r"Started server process \[(\d+)\]", server.log()))


def test_several_workers_serve_and_stop_cleanly(serve: StartServer, example_dir: Path) -> None:
    server = serve(example_dir / "forest-multiclass.joblib", "--workers", "2")
    # /ready came from one worker; the other may still be starting
    _wait_for(lambda: len(_workers(server)) == 2, "a second worker to start")
    rows = [{"petal length (cm)": 1.4, "petal width (cm)": 0.2}]
    for _ in range(6):  # a new connection each time, so that both workers are likely to answer
        with server.client() as client:
            assert _predict_once_loaded(client, rows).json() == {"prediction": ["setosa"]}
    assert server.stop() == 0, server.log()
    # no worker (nor multiprocessing's helper) outlives the server for long
    _wait_for(lambda: not server.group_alive(), "every worker to exit", 10)
    assert len(_workers(server)) == 2, server.log()


def _predict_once_loaded(client: httpx.Client, rows: list[dict[str, Any]]) -> httpx.Response:
    """/ready came from one worker; the one answering now may still be loading its model."""
    deadline = time.monotonic() + 30
    while True:
        response = client.post("/predict", json=rows)
        if response.status_code != 503 or time.monotonic() > deadline:
            assert response.status_code == 200, response.text
            return response
        time.sleep(0.05)
