"""The drift gauges in prometheus-client's multiprocess mode (several workers), in
subprocesses as that mode needs: the worst worker's value, and a series gone from every
worker gone from /metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

_WORKER = """
import json, sys
from modelport.api.metrics import Metrics
features, predictions = json.loads(sys.argv[1])
metrics = Metrics()
metrics.set_drift({tuple(k.split("/")): v for k, v in features.items()}, predictions)
metrics.set_drift({tuple(k.split("/")): v for k, v in json.loads(sys.argv[2]).items()}, {})
print(metrics.render().decode())
"""


def _worker(folder: Path, first: dict[str, float], then: dict[str, float]) -> str:
    """One worker process: it sets the gauges to `first`, then to `then` only; returns
    what its /metrics would answer."""
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(folder))
    done = subprocess.run(
        [sys.executable, "-c", _WORKER, json.dumps([first, {"m": 0.5}]), json.dumps(then)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout


def _samples(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("modelport_feature_drift{")]


def test_each_series_shows_its_worst_worker_and_leaves_with_the_last_worker_that_had_it(
    tmp_path: Path,
):
    _worker(tmp_path, {"m/age": 0.4, "m/job": 0.02}, {"m/job": 0.02})  # age removed here
    text = _worker(tmp_path, {"m/age": 0.1, "m/job": 0.3}, {"m/age": 0.1, "m/job": 0.3})
    assert sorted(_samples(text)) == [
        'modelport_feature_drift{feature="age",model="m"} 0.1',
        'modelport_feature_drift{feature="job",model="m"} 0.3',
    ]
    text = _worker(tmp_path, {"m/age": 0.2}, {})  # a third worker, which also lost `age`
    assert sorted(_samples(text)) == [
        'modelport_feature_drift{feature="age",model="m"} 0.1',
        'modelport_feature_drift{feature="job",model="m"} 0.3',
    ]
    assert "modelport_prediction_drift{" not in text  # every worker set it, then dropped it
