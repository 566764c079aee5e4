"""Overload and slow clients against a real `modelport serve`: shed at once, time out trickles."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelport import FeatureSpec, ModelMetadata, save_bundle

from .conftest import HOST, Server, StartServer
from .fake_models import GatedModel

pytestmark = pytest.mark.timeout(120)

ROWS = b'[{"Ws1_avg": 3.25}, {"Ws1_avg": 9.5}]'


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith((name + "{", name + " ")):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.rsplit("} ", 1)[0]))
            if all(found.get(key) == value for key, value in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def _wait_for(condition: Any, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def _connect(server: Server) -> socket.socket:
    sock = socket.create_connection((HOST, server.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _head(path: str, length: int) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (fails if it never does)."""
    sock.settimeout(10)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def _read_response(sock: socket.socket) -> bytes:
    """One whole response with a Content-Length (its head and body may come apart)."""
    sock.settimeout(10)
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    declared = re.search(rb"content-length: (\d+)", head.lower())
    assert declared, head
    length = int(declared.group(1))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def _in_flight(server: Server) -> float:
    return _sample(server.get("/metrics").text, "modelport_requests_in_flight")


# --- slow clients --------------------------------------------------------------------------


def test_a_trickled_body_is_a_408_while_others_are_served(
    serve: StartServer, example_dir: Path
) -> None:
    server = serve(example_dir / "wind-turbine.joblib", body_timeout=2)
    body = ROWS.ljust(200)  # JSON allows trailing spaces: a valid body, if it ever arrived
    served, sent = 0, 0
    with _connect(server) as slow, server.client() as other:
        slow.sendall(_head("/predict", len(body)))
        slow.settimeout(1.0)
        answer = b""
        while not answer:
            slow.sendall(body[sent : sent + 1])  # one byte a second
            sent += 1
            response = other.post("/predict", content=ROWS)  # served meanwhile
            assert response.status_code == 200, response.text
            served += 1
            try:
                answer = slow.recv(65536)
            except TimeoutError:
                continue
        answer += _read_until_closed(slow)  # and then the connection is closed
    assert sent < len(body)
    assert served >= 2
    head, _, problem = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer
    assert b"connection: close" in head.lower()
    assert b"application/problem+json" in head
    assert b'"detail":"the body did not arrive within 2 s"' in problem


def test_an_idle_keep_alive_connection_is_closed(serve: StartServer, example_dir: Path) -> None:
    server = serve(example_dir / "wind-turbine.joblib", keep_alive_seconds=1)
    with _connect(server) as sock:
        sock.sendall(f"GET /health HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        answer = _read_response(sock)
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"\r\n\r\nup")
        assert b"connection: close" not in answer.lower()  # kept alive at first
        assert _read_until_closed(sock) == b""  # then closed with nothing more to say


# --- overload: shed, don't drown -----------------------------------------------------------


@pytest.fixture
def gated(serve: StartServer, tmp_path: Path) -> Iterator[tuple[StartServer, Path, Path, Path]]:
    """A one-feature model `gated` that waits in `predict` until the test releases it."""
    started, release = tmp_path / "started", tmp_path / "release"
    bundle = tmp_path / "gated.joblib"
    save_bundle(
        GatedModel(started, release),
        bundle,
        ModelMetadata(task="REGRESSION", features=[FeatureSpec(name="x")]),
    )
    yield serve, bundle, started, release
    release.touch()  # a failed test still lets its server stop


class _Post(threading.Thread):
    def __init__(self, server: Server, path: str, body: Any) -> None:
        super().__init__(daemon=True)
        self.server, self.path, self.body = server, path, body
        self.response: httpx.Response | None = None

    def run(self) -> None:
        with self.server.client(timeout=60) as client:
            self.response = client.post(self.path, json=self.body)


def test_a_full_queue_sheds_at_once_and_admitted_requests_finish(
    gated: tuple[StartServer, Path, Path, Path],
) -> None:
    serve, bundle, started, release = gated
    server = serve(bundle, max_queue_rows=2)
    admitted = _Post(server, "/predict", [{"x": 1.5}, {"x": -2}])
    admitted.start()
    _wait_for(started.exists, "the admitted request to reach the model")
    infer = {"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 1], "data": [1.0]}]}
    with server.client() as client:
        classic = client.post("/predict", json={"x": 1})
        query = client.get("/models/gated/predict", params={"x": 1})
        v2 = client.post("/v2/models/gated/infer", json=infer)
        health = client.get("/health")
    for refused in (classic, query):
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["title"] == "Overloaded"
        assert "2 rows are waiting for gated" in problem["detail"]
    assert v2.status_code == 503 and v2.headers["retry-after"] == "1"
    assert v2.json() == {
        "error": "the server is overloaded (2 rows are waiting for gated); retry in 1 s"
    }
    assert health.status_code == 200
    assert admitted.is_alive()  # shed while the admitted request still waits for the model

    release.touch()
    admitted.join(timeout=60)
    assert admitted.response is not None and admitted.response.status_code == 200
    assert admitted.response.json() == {"prediction": [3.0, -4.0]}
    with server.client() as client:
        assert client.post("/predict", json={"x": 1}).json() == {"prediction": [2.0]}
        metrics = client.get("/metrics").text
    assert _sample(metrics, "modelport_requests_shed_total", model="gated", reason="queue") == 3
    assert "overloaded" not in server.log()  # shedding is counted, not logged as an error


def test_bodies_being_read_are_bounded(serve: StartServer, example_dir: Path) -> None:
    server = serve(example_dir / "wind-turbine.joblib", max_concurrent_bodies=1)
    with _connect(server) as slow:
        slow.sendall(_head("/predict", len(ROWS)) + ROWS[:5])  # holds the one body slot
        _wait_for(lambda: _in_flight(server) >= 2, "the slow body to be read")  # it and /metrics
        with server.client() as client:
            refused = client.post("/predict", content=ROWS)
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "1"
        assert "1 request bodies are being read already" in refused.json()["detail"]

        slow.sendall(ROWS[5:])  # the slow body arrives: it is answered, its slot freed
        head, _, answer = _read_response(slow).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), head
        assert answer.startswith(b'{"prediction":[')
    with server.client() as client:
        assert client.post("/predict", content=ROWS).status_code == 200
        metrics = client.get("/metrics").text
    shed = _sample(metrics, "modelport_requests_shed_total", model="wind-turbine", reason="bodies")
    assert shed == 1


def test_clients_sending_big_batches_side_by_side_are_all_served(
    serve: StartServer, example_dir: Path
) -> None:
    """The default queue limit sheds floods, not eight clients of 1,000 rows each."""
    server = serve(example_dir / "wind-turbine.joblib")
    body = [{"Ws1_avg": 3.0 + (k % 12)} for k in range(1_000)]

    def send(_: int) -> list[int]:
        with server.client(timeout=60) as client:
            return [client.post("/predict", json=body).status_code for _ in range(3)]

    with ThreadPoolExecutor(8) as pool:
        statuses = [status for batch in pool.map(send, range(8)) for status in batch]
    assert statuses == [200] * 24
