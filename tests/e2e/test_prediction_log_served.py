"""The prediction log of a real `modelport serve`: exactly the rows served, under eight
concurrent clients, in a SQLite file and a real PostgreSQL; and a store that goes away
while requests keep answering 200."""

from __future__ import annotations

import re
import shutil
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from modelport.examples import EXAMPLES
from tests.unit.prediction_log_helpers import read_log

from .conftest import START_SECONDS, Server

IRIS = "forest-multiclass"
CLIENTS, REQUESTS = 8, 20


def _records() -> list[dict[str, Any]]:
    return EXAMPLES[IRIS].data().head(30).to_dict(orient="records")


def _client_session(server: Server, client_number: int) -> list[tuple[str, str, int]]:
    """One client's requests, each 1 to 3 rows, classic with and without probabilities and
    GET: (request id, route kind, rows) for each."""
    records, sent = _records(), []
    with server.client() as client:
        for number in range(REQUESTS):
            size = 1 + (client_number + number) % 3
            body = records[number : number + size]
            if number % 4 == 3:
                response = client.get("/predict", params=body[0])
                size = 1
            else:
                response = client.post("/predict", params={"proba": number % 2}, json=body)
            assert response.status_code == 200, response.text
            sent.append((response.headers["x-request-id"], "classic", size))
    return sent


def _served_by_eight_clients(server: Server) -> list[tuple[str, str, int]]:
    with ThreadPoolExecutor(CLIENTS) as pool:
        sessions = list(pool.map(lambda n: _client_session(server, n), range(CLIENTS)))
    return [request for session in sessions for request in session]


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_the_log_holds_exactly_the_rows_eight_clients_were_served(
    kind: str, request: pytest.FixtureRequest, serve, example_dir: Path, tmp_path: Path
) -> None:
    target = (
        request.getfixturevalue("postgres_url")
        if kind == "postgres"
        else f"sqlite:///{tmp_path / 'log.db'}"
    )
    server = serve(example_dir / f"{IRIS}.joblib", prediction_log=target)
    served = _served_by_eight_clients(server)
    assert server.stop() == 0  # SIGTERM: what is still queued is written before it exits

    log = read_log(target)
    assert Counter(log["request_id"]) == {request_id: rows for request_id, _, rows in served}
    assert set(log["route"]) == {"classic"}
    assert set(log["model"]) == {IRIS}
    assert set(log["prediction"]) <= {"setosa", "versicolor", "virginica"}
    features = list(EXAMPLES[IRIS].data().columns)
    assert log[features].notna().all().all()


def _metric(text: str, name: str) -> float:
    """A counter's value, summed over its series."""
    pattern = rf"^{re.escape(name)}(?:{{[^}}]*}})? (\S+)$"
    return sum(float(value) for value in re.findall(pattern, text, re.M))


def _accounted(server: Server, rows: int) -> tuple[float, float]:
    """Wait until every row served so far is written or dropped: (written, dropped)."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        text = server.get("/metrics").text
        written = _metric(text, "modelport_prediction_log_rows_total")
        dropped = _metric(text, "modelport_prediction_log_dropped_total")
        if written + dropped >= rows:
            return written, dropped
        assert time.monotonic() < deadline, f"{written} + {dropped} < {rows}:\n{server.log()}"
        time.sleep(0.05)


def _rows(requests: list[tuple[str, str, int]]) -> int:
    return sum(rows for _, _, rows in requests)


def test_a_store_that_goes_away_drops_and_counts_rows_while_requests_answer(
    serve, example_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "log"
    server = serve(
        example_dir / f"{IRIS}.joblib",
        prediction_log=str(folder),
        prediction_log_queue_rows=50,
        prediction_log_batch_rows=5,
        prediction_log_flush_seconds=0.05,
    )
    first = _client_session(server, 0)  # fewer rows than the queue holds: none dropped
    assert _accounted(server, _rows(first)) == (_rows(first), 0)

    shutil.move(folder, tmp_path / "moved")  # the folder is gone, a file in its place
    folder.write_text("not a folder")
    during = _served_by_eight_clients(server)  # every request answered 200 (asserted inside)
    full = 'modelport_prediction_log_dropped_total{reason="full"}'
    assert _metric(server.get("/metrics").text, full) > 0

    folder.unlink()  # back: the rows kept and queued are written, and the log says so once
    shutil.move(tmp_path / "moved", folder)
    _accounted(server, _rows(first + during))
    after = _client_session(server, 1)
    written, dropped = _accounted(server, _rows(first + during + after))
    assert written + dropped == _rows(first + during + after)
    assert server.stop() == 0

    log = read_log(str(folder))
    assert len(log) == written
    logged = set(log["request_id"])
    assert {request_id for request_id, _, _ in first + after} <= logged
    assert len(logged & {request_id for request_id, _, _ in during}) < len(during)
    output = server.log()
    assert output.count("is unavailable") == 1, output
    assert output.count("is available again") == 1, output
