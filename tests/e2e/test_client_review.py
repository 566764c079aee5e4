"""Review of `modelport.Client`: each test is one confirmed bug, asserting the right behaviour.

The transport is the boundary: each body below is, byte for byte, what the server answers
(captured from `create_app` over the bank-marketing example).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from modelport import Client, InvalidInputError, ModelportError
from modelport.errors import RequestError


def _client(status: int, body: dict[str, Any]) -> Client:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status, json=body, headers={"Content-Type": "application/problem+json"}
        )

    return Client("http://modelport.test", retries=0, transport=httpx.MockTransport(answer))


def test_a_problem_in_the_background_samples_is_not_rebuilt_as_one_in_the_records():
    """`explain(records, samples=...)` with a bad sample: the server says `_samples: row 0`
    (pointer `#/_samples/0/age`); the client drops `/_samples` and rebuilds an error about
    row 0 of the records, `within` None, its message without `_samples`."""
    body = {
        "type": "urn:modelport:problem:invalid-input",
        "title": "Invalid input",
        "status": 422,
        "detail": "_samples: row 0, field 'age': expected a number, got 'old'",
        "instance": "/predict",
        "errors": [{"detail": "expected a number, got 'old'", "pointer": "#/_samples/0/age"}],
    }
    with _client(422, body) as client, pytest.raises(InvalidInputError) as caught:
        client.explain([{"age": 30}], samples=[{"age": "old"}])
    assert caught.value.within == "_samples"
    assert str(caught.value) == body["detail"]


def test_the_count_of_problems_past_the_listed_twenty_is_kept():
    """The server lists 20 problems and says how many more there are; the rebuilt error has
    total 20 and a message without "and 10 more problem(s)"."""
    errors = [{"detail": "expected a number, got 'x'", "pointer": f"#/{i}/age"} for i in range(20)]
    detail = "; ".join(f"row {i}, field 'age': expected a number, got 'x'" for i in range(20))
    body = {
        "type": "urn:modelport:problem:invalid-input",
        "title": "Invalid input",
        "status": 422,
        "detail": detail + "; and 10 more problem(s)",
        "instance": "/predict",
        "errors": errors,
    }
    with _client(422, body) as client, pytest.raises(InvalidInputError) as caught:
        client.predict([{"age": "x"}] * 30)
    assert caught.value.total == 30
    assert str(caught.value) == body["detail"]


def test_a_bad_query_parameter_keeps_its_name():
    """`RequestError.parameter` says which parameter was wrong; the body gives it in `errors`,
    the rebuilt error has None."""
    detail = "query parameter proba must be 1 or 0 (true or false), not 'maybe'"
    body = {
        "type": "urn:modelport:problem:bad-request",
        "title": "Bad request",
        "status": 400,
        "detail": detail,
        "instance": "/predict",
        "errors": [{"detail": detail, "parameter": "proba"}],
    }
    with _client(400, body) as client, pytest.raises(RequestError) as caught:
        client.predict([{"age": 30}])
    assert caught.value.parameter == "proba"


def test_a_connection_dropped_mid_answer_is_a_modelport_error():
    """Every call raises ModelportError (the class docstring); a connection reset while
    reading the answer (the server closes after a 500, a proxy restarts) is httpx.ReadError,
    which escapes as it is."""

    def reset(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset by peer", request=request)

    with (
        Client("http://modelport.test", retries=0, transport=httpx.MockTransport(reset)) as client,
        pytest.raises(ModelportError),
    ):
        client.models()
