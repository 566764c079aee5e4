"""/metrics with several workers: prometheus-client's multiprocess mode sums every worker."""

from __future__ import annotations

import re
import time

from .conftest import START_SECONDS, Server

REQUESTS = 40


def _predict_200s(text: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("modelport_requests_total{")
        and 'route="/predict"' in line
        and 'status="200"' in line
    )


def _loads(text: str) -> list[str]:
    return re.findall(
        r'modelport_model_loads_total\{model="wind-turbine",outcome="loaded"\} (\S+)', text
    )


def _wait_for_every_worker(server: Server, workers: int) -> str:
    """/ready came from one worker; each counts its load once its model serves, so the
    summed count tells when all of them do. Returns the metrics text seen then."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        text = server.get("/metrics").text
        if _loads(text) == [f"{workers:.1f}"]:
            return text
        assert time.monotonic() < deadline, f"not every worker loaded:\n{text}\n{server.log()}"
        time.sleep(0.1)


def test_metrics_add_up_across_workers(serve, example_dir):
    server = serve(example_dir / "wind-turbine.joblib", "--workers", "2")
    before = _wait_for_every_worker(server, 2)
    assert _predict_200s(before) == 0
    statuses = [  # a new connection each time, so that the requests spread over the workers
        server.get("/predict", params={"Ws1_avg": 8}).status_code for _ in range(REQUESTS)
    ]
    assert statuses == [200] * REQUESTS
    text = server.get("/metrics").text
    assert _predict_200s(text) == REQUESTS
    assert _loads(text) == ["2.0"]  # one load per worker, summed
