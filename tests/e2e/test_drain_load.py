"""SIGTERM under steady load: no request sent before the signal fails, and keep-alive
connections are closed between requests, never under one."""

from __future__ import annotations

import http.client
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import HOST, Server, StartServer

pytestmark = pytest.mark.timeout(180)

CONNECTIONS = 8
BODY = b'[{"Ws1_avg": 3.25}, {"Ws1_avg": 9.5}]'
STEADY_REQUESTS = 20
"""Requests each client completes before the signal: the load is steady, not starting."""
THINK_SECONDS = 0.05
"""A client's pause between an answer and its next request: its connection sits idle then,
as real clients' do, so a stop that closed idle connections at a bad moment would show."""


@dataclass(frozen=True)
class Outcome:
    """One request as its client saw it."""

    sent_at: float  # time.monotonic() when the request was sent
    reused: bool  # sent on a keep-alive connection that had answered before
    status: int | None  # None: no answer
    error: str | None = None
    closed_after: bool = False  # the answer said the connection would close


class SteadyClient(threading.Thread):
    """POSTs predictions on one keep-alive connection, a short pause between them (a new
    connection only when the server closes it), until the server refuses a new connection
    or `stop` is set."""

    def __init__(self, port: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.port, self.stop = port, stop
        self.outcomes: list[Outcome] = []

    def run(self) -> None:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=60)
        headers = {"Content-Type": "application/json"}
        while not self.stop.is_set():
            reused, sent_at = connection.sock is not None, time.monotonic()
            try:
                connection.request("POST", "/predict", BODY, headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                self.outcomes.append(Outcome(sent_at, reused, None, repr(error)))
                if not reused:  # a new connection failed: the server has stopped
                    return
                continue
            # http.client closes the connection itself when the answer says so
            self.outcomes.append(
                Outcome(sent_at, reused, response.status, None, response.will_close)
            )
        connection.close()

    def answered(self) -> int:
        return len(self.outcomes)


def _wait_for(condition: object, what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_under_load_fails_no_request_sent_before_it(
    serve: StartServer, example_dir: Path, workers: int
) -> None:
    server: Server = serve(
        example_dir / "wind-turbine.joblib", "--workers", str(workers), drain_seconds=1
    )
    # /ready came from one worker: wait until every worker has loaded the model
    _wait_for(lambda: server.log().count(" loaded from ") == workers, "every worker to load")
    stop = threading.Event()
    clients = [SteadyClient(server.port, stop) for _ in range(CONNECTIONS)]
    for client in clients:
        client.start()
    try:
        _wait_for(
            lambda: all(client.answered() >= STEADY_REQUESTS for client in clients),
            "every client to be answered steadily",
        )
        signalled_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        status = server.process.wait(timeout=60)
        for client in clients:
            client.join(timeout=60)
            assert not client.is_alive(), "a client still gets answers after the server exited"
    finally:
        stop.set()
    outcomes = [outcome for client in clients for outcome in client.outcomes]
    before = [outcome for outcome in outcomes if outcome.sent_at < signalled_at]
    after = [outcome for outcome in outcomes if outcome.sent_at >= signalled_at]

    assert status == 0, server.log()
    assert len(before) >= CONNECTIONS * STEADY_REQUESTS
    assert [outcome for outcome in before if outcome.status != 200] == []
    # After the signal, the drain still answers; then only a new connection may fail.
    assert any(outcome.status == 200 for outcome in after)
    assert [outcome for outcome in outcomes if outcome.reused and outcome.status is None] == []
    assert [outcome for outcome in after if outcome.status not in (200, None)] == []
    # Every client's keep-alive connection was closed by the stop between two requests: an
    # answer said so, and its next request went on a new connection.
    assert all(any(o.closed_after and o.reused for o in client.outcomes) for client in clients)
    assert all(client.outcomes[-1].status is None for client in clients)  # then refused
    assert "SIGTERM: /ready is 503" in server.log()
