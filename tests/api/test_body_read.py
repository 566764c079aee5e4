"""A request body read from the ASGI messages themselves: whole however it is cut, refused as
soon as it passes the limit, and a client that leaves mid-body is a disconnect."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.requests import ClientDisconnect, Request

from modelport.api.body import read_body
from modelport.errors import PayloadTooLargeError


def _request(messages: list[dict[str, Any]], declared: int | None = None) -> Request:
    """A request whose receive() hands out `messages` in turn, then waits for ever."""
    pending = list(messages)
    handed: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if not pending:
            await asyncio.sleep(3600)  # a read past the last message would hang: fail instead
        handed.append(pending.pop(0))
        return handed[-1]

    headers = [] if declared is None else [(b"content-length", str(declared).encode())]
    request = Request({"type": "http", "method": "POST", "headers": headers}, receive)
    request.state.handed = handed
    return request


def _chunks(*parts: bytes) -> list[dict[str, Any]]:
    last = len(parts) - 1
    return [
        {"type": "http.request", "body": part, "more_body": i < last}
        for i, part in enumerate(parts)
    ]


def _read(request: Request, limit: int = 100) -> bytes:
    return asyncio.run(asyncio.wait_for(read_body(request, limit), 5))


@pytest.mark.parametrize(
    "parts",
    [(b'[{"a": 1}]',), (b'[{"a"', b": 1}", b"]"), (b"", b'[{"a": 1}]'), (b'[{"a": 1}]', b"")],
)
def test_a_body_is_read_whole_however_it_is_cut(parts):
    request = _request(_chunks(*parts))
    assert _read(request) == b'[{"a": 1}]'
    assert len(request.state.handed) == len(parts)  # no read past the last message


def test_an_empty_body_is_empty():
    assert _read(_request([{"type": "http.request"}])) == b""


def test_a_body_is_refused_at_the_chunk_that_passes_the_limit():
    request = _request(_chunks(b"x" * 60, b"x" * 60, b"x" * 60))
    with pytest.raises(PayloadTooLargeError, match="over the limit of 100 bytes"):
        _read(request)
    assert len(request.state.handed) == 2  # the third chunk is never waited for


def test_a_declared_length_over_the_limit_is_refused_before_reading():
    request = _request(_chunks(b"x"), declared=101)
    with pytest.raises(PayloadTooLargeError, match="101 bytes"):
        _read(request)
    assert request.state.handed == []


def test_a_client_that_leaves_mid_body_is_a_disconnect():
    request = _request([*_chunks(b"[1,", b"2]")[:1], {"type": "http.disconnect"}])
    with pytest.raises(ClientDisconnect):
        _read(request)
