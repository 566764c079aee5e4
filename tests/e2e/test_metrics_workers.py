"""/metrics with several workers: prometheus-client's multiprocess mode sums every worker."""

from __future__ import annotations

import re


def test_metrics_add_up_across_workers(serve, example_dir):
    server = serve(example_dir / "wind-turbine.joblib", "--workers", "2")
    sent = 0
    for _ in range(200):  # new connections spread over the workers
        status = server.get("/predict", params={"Ws1_avg": 8}).status_code
        assert status in (200, 503)  # 503: a worker still loading after another answered /ready
        sent += status == 200
        if sent == 40:
            break
    text = server.get("/metrics").text
    counted = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("modelport_requests_total{")
        and 'route="/predict"' in line
        and 'status="200"' in line
    )
    assert counted == sent
    loads = re.findall(
        r'modelport_model_loads_total\{model="wind-turbine",outcome="loaded"\} (\S+)', text
    )
    assert loads == ["2.0"]  # one load per worker, summed
