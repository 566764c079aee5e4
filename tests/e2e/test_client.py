"""`modelport.Client` against a real server: the core's answers, and the core's errors."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from modelport import (
    AuthenticationError,
    Client,
    ConfigurationError,
    InvalidInputError,
    ModelNotFoundError,
    ModelNotReadyError,
    ModelportError,
    NotSupportedError,
    Predictor,
    ServerUnreachableError,
)
from tests.e2e.conftest import Server, StartServer, free_port

KEY = "s3cret-key-for-tests"


@pytest.fixture
def server(example_dir: Path, serve: StartServer) -> Server:
    """Every example, auth on."""
    return serve(example_dir, api_keys=KEY)


def test_answers_are_the_predictors(server: Server, predictors: dict[str, Predictor]):
    iris = predictors["forest-multiclass"]
    records = iris.metadata.examples
    X = iris.validate(records)
    with Client(server.url, api_key=KEY, model="forest-multiclass") as client:
        assert client.predict(records) == iris.predict(X)
        assert client.predict_proba(records) == iris.predict_proba(X)
        explained = client.explain(records[:2])
        assert explained == iris.explain(X[:2])
        assert client.info()["model"]["class_names"] == iris.metadata.class_names
        assert [f["name"] for f in client.features()] == iris.metadata.feature_names
        assert {m["name"] for m in client.models()} == set(predictors)
        regression = client.predict(
            predictors["forest-regression"].metadata.examples, model="forest-regression"
        )
        assert len(regression) == len(predictors["forest-regression"].metadata.examples)


def test_invalid_input_comes_back_with_its_rows_and_fields(server: Server):
    with Client(server.url, api_key=KEY, model="bank-marketing") as client:
        with pytest.raises(InvalidInputError) as caught:
            client.predict([{"age": 30}, {"age": "old", "job": "astronaut"}])
    problems = {(p.row, p.field) for p in caught.value.problems}
    assert {(1, "age"), (1, "job")} <= problems
    age = next(p for p in caught.value.problems if (p.row, p.field) == (1, "age"))
    assert age.detail == "expected a number, got 'old'"
    assert isinstance(caught.value, ValueError)  # as the core's error is


def test_the_servers_refusals_are_the_cores_errors(server: Server):
    with Client(server.url, api_key="wrong", model="forest-multiclass", retries=0) as client:
        with pytest.raises(AuthenticationError):
            client.info()
    with Client(server.url, api_key=KEY) as client:
        with pytest.raises(ModelNotFoundError, match="nope"):
            client.info(model="nope")
        with pytest.raises(NotSupportedError, match="regressor"):
            client.predict_proba([{}], model="forest-regression")
    with pytest.raises(ConfigurationError, match="invalid model name"):
        Client(server.url, model="../admin")


def test_the_key_never_shows(server: Server):
    client = Client(server.url, api_key=KEY)
    assert KEY not in repr(client)
    client.close()


def test_an_unreachable_server_is_one_error_after_the_retries():
    started = time.monotonic()
    with Client(f"http://127.0.0.1:{free_port()}", retries=2, backoff=0.05) as client:
        with pytest.raises(ServerUnreachableError, match="cannot reach"):
            client.models()
    assert time.monotonic() - started >= 0.05  # it waited before retrying


def test_a_503_is_retried_with_backoff_then_answered():
    """The transport is the boundary here: a server answering 503 twice, on cue."""
    calls: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(time.monotonic())
        if len(calls) < 3:
            body = {"title": "Model not ready", "status": 503, "detail": "loading"}
            return httpx.Response(503, json=body)
        return httpx.Response(200, json={"models": [{"name": "iris"}]})

    client = Client("http://modelport.test", backoff=0.05, transport=httpx.MockTransport(answer))
    assert client.models() == [{"name": "iris"}]
    assert len(calls) == 3
    assert calls[1] - calls[0] >= 0.025 and calls[2] - calls[1] >= 0.05

    stubborn = Client(
        "http://modelport.test",
        retries=1,
        backoff=0.01,
        transport=httpx.MockTransport(
            lambda r: httpx.Response(503, json={"title": "Model not ready", "detail": "loading"})
        ),
    )
    with pytest.raises(ModelNotReadyError, match="loading"):
        stubborn.models()


def test_drift_asks_the_models_drift_route_and_rebuilds_its_refusals():
    """The transport is the boundary: a server with drift for one model, a refusal the client
    has no class for (409) for another, and no such model (404) for a third."""
    asked: list[str] = []
    report = {"window": 1000, "rows": 3, "status": "ok", "features": {}, "prediction": None}

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path in ("/drift", "/models/iris/drift"):
            return httpx.Response(200, json=report)
        if request.url.path == "/models/off/drift":
            body = {"title": "Conflict", "status": 409, "detail": "MODELPORT_DRIFT=false"}
            return httpx.Response(
                409, json=body, headers={"content-type": "application/problem+json"}
            )
        body = {"title": "Model not found", "status": 404, "detail": "no model 'nope'"}
        return httpx.Response(404, json=body)

    with Client("http://modelport.test", transport=httpx.MockTransport(answer)) as client:
        assert client.drift() == report
        assert client.drift(model="iris") == report
        with pytest.raises(ModelportError, match=r"^409 Conflict: MODELPORT_DRIFT=false$"):
            client.drift(model="off")
        with pytest.raises(ModelNotFoundError, match="nope"):
            client.drift(model="nope")
        with pytest.raises(ConfigurationError, match="invalid model name"):
            client.drift(model="../metrics")
    assert asked == ["/drift", "/models/iris/drift", "/models/off/drift", "/models/nope/drift"]
