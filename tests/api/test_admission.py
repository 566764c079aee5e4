"""Admission control: rows waiting per model, bodies in progress, and what a refusal says."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import generate_latest
from pydantic import ValidationError

from modelport import Settings
from modelport.api.admission import Admission
from modelport.api.metrics import Metrics
from modelport.api.state import server_state
from modelport.errors import OverloadedError


def _admission(**settings: object) -> Admission:
    return Admission(Settings(**settings), Metrics())  # type: ignore[arg-type]


def _shed(admission: Admission, model: str, reason: str) -> float:
    value = admission.metrics.registry.get_sample_value(
        "modelport_requests_shed_total", {"model": model, "reason": reason}
    )
    return value or 0.0


def test_the_queue_limit_defaults_to_two_of_the_largest_calls():
    assert _admission().max_queue_rows == 2 * Settings().max_rows == 20_000
    assert _admission(max_rows=40).max_queue_rows == 80
    assert _admission(max_rows=40, max_queue_rows=7).max_queue_rows == 7


def test_a_full_queue_refuses_until_rows_leave():
    admission = _admission(max_queue_rows=10)
    with admission.rows("rf", 6):
        admission.check("rf")  # 6 of 10: admitted
        with admission.rows("rf", 4):
            with pytest.raises(OverloadedError) as refused:
                admission.check("rf")
            with pytest.raises(OverloadedError):
                with admission.rows("rf", 1):
                    pytest.fail("rows were admitted to a full queue")
            admission.check("lr")  # another model's queue is its own
        admission.check("rf")
    assert admission.waiting["rf"] == 0
    error = refused.value
    assert (error.status, error.reason, error.retry_after) == (503, "queue", 1)
    assert "10 rows are waiting for rf" in str(error)
    assert _shed(admission, "rf", "queue") == 2
    assert _shed(admission, "lr", "queue") == 0


def test_a_big_request_is_admitted_while_the_queue_is_not_full():
    """A request bigger than the limit is not starved: it needs the queue not full, not empty."""
    admission = _admission(max_queue_rows=10)
    with admission.rows("rf", 9), admission.rows("rf", 500):
        assert admission.waiting["rf"] == 509


def test_rows_leave_the_queue_when_the_prediction_fails():
    admission = _admission(max_queue_rows=10)
    with pytest.raises(ZeroDivisionError), admission.rows("rf", 10):
        _ = 1 / 0
    assert admission.waiting["rf"] == 0
    admission.check("rf")


def test_zero_turns_the_limits_off():
    admission = _admission(max_queue_rows=0, max_concurrent_bodies=0)

    async def many_bodies() -> None:
        with admission.rows("rf", 100_000):
            async with admission.body("rf"), admission.body("rf"), admission.body("rf"):
                assert admission.bodies == 3

    asyncio.run(many_bodies())
    assert _shed(admission, "rf", "queue") + _shed(admission, "rf", "bodies") == 0


def test_bodies_in_progress_are_bounded_and_released():
    admission = _admission(max_concurrent_bodies=2)

    async def scenario() -> OverloadedError:
        async with admission.body("rf"), admission.body("lr"):
            with pytest.raises(OverloadedError) as refused:
                async with admission.body("rf"):
                    pytest.fail("a third body was admitted")
        async with admission.body("rf"):  # the slots came back
            assert admission.bodies == 1
        return refused.value

    error = asyncio.run(scenario())
    assert admission.bodies == 0
    assert error.reason == "bodies"
    assert "2 request bodies are being read" in str(error)
    assert _shed(admission, "rf", "bodies") == 1


def test_a_body_for_a_full_queue_is_refused_before_it_is_read():
    admission = _admission(max_queue_rows=1)

    async def scenario() -> None:
        with admission.rows("rf", 1):
            with pytest.raises(OverloadedError, match="waiting for rf"):
                async with admission.body("rf"):
                    pytest.fail("a body was read for a full queue")

    asyncio.run(scenario())
    assert admission.bodies == 0
    text = generate_latest(admission.metrics.registry).decode()
    assert 'modelport_requests_shed_total{model="rf",reason="queue"} 1.0' in text


def test_explanations_wait_in_the_models_queue_too(serve, example_dir):
    """Explanations skip the batcher, not the queue: they are the costliest rows of all."""
    with serve(example_dir / "wind-turbine.joblib", max_queue_rows=1) as client:
        admission = server_state(client.app).dispatch.admission
        explain = {"explain": 1, "Ws1_avg": 9.5}
        assert client.get("/predict", params=explain).status_code == 200
        with admission.rows("wind-turbine", 1):  # a request the model is busy with
            refused = client.get("/predict", params=explain)
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["title"] == "Overloaded"
        assert admission.waiting["wind-turbine"] == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MODELPORT_MAX_QUEUE_ROWS", "-1"),
        ("MODELPORT_MAX_CONCURRENT_BODIES", "-1"),
        ("MODELPORT_BODY_TIMEOUT", "0"),
        ("MODELPORT_BODY_TIMEOUT", "soon"),
        ("MODELPORT_KEEP_ALIVE_SECONDS", "0"),
    ],
)
def test_bad_limits_are_refused_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.removeprefix("MODELPORT_").lower()):
        Settings()


def test_limits_have_environment_twins(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MODELPORT_MAX_QUEUE_ROWS", "64")
    monkeypatch.setenv("MODELPORT_MAX_CONCURRENT_BODIES", "4")
    monkeypatch.setenv("MODELPORT_BODY_TIMEOUT", "2.5")
    monkeypatch.setenv("MODELPORT_KEEP_ALIVE_SECONDS", "3")
    settings = Settings()
    assert (settings.max_queue_rows, settings.max_concurrent_bodies) == (64, 4)
    assert (settings.body_timeout, settings.keep_alive_seconds) == (2.5, 3)
