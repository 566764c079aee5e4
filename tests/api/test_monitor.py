"""The Monitor alone: records in on the event loop, counted per model in one call per drain,
bounded, and handed to a prediction log when one is set."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelport import Settings
from modelport.api import monitor as monitor_module
from modelport.api.metrics import Metrics
from modelport.api.monitor import Monitor
from modelport.drift import DriftWindow
from modelport.examples import EXAMPLES
from modelport.registry import Registry
from modelport.served import Served

BANK = "bank-marketing"


@pytest.fixture(scope="module")
def registry(example_dir: Path) -> Registry:
    registry = Registry(Settings(bundle_path=example_dir / f"{BANK}.joblib"))
    registry.load_all()
    return registry


def _records(registry: Registry, sizes: list[int]) -> list[Served]:
    entry = registry.entry(BANK)
    predictor = entry.predictor
    assert predictor is not None and predictor.bundle.sha256 is not None
    rows = EXAMPLES[BANK].data().to_dict("records")
    served, start = [], 0
    for size in sizes:
        X = predictor.validate(rows[start : start + size])
        labels = predictor.predict(X)
        served.append(
            Served(BANK, entry.version, predictor.bundle.sha256, f"r{start}", None,
                   "classic", X, labels, None, time.time())
        )  # fmt: skip
        start += size
    return served


def _monitor(registry: Registry, **settings: Any) -> Monitor:
    return Monitor(
        Settings(bundle_path=registry.settings.bundle_path, **settings), registry, Metrics()
    )


def _dropped(monitor: Monitor) -> float:
    text = monitor.metrics.render().decode()
    found = re.search(r'modelport_drift_dropped_rows_total\{model="bank-marketing"\} (\S+)', text)
    return float(found.group(1)) if found else 0.0


def test_one_drain_counts_every_queued_request_in_one_call_per_model(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
):
    calls: list[int] = []
    observe = DriftWindow.observe

    def counted(window: DriftWindow, X: Any, predictions: Any = None) -> None:
        calls.append(len(X))
        observe(window, X, predictions)

    monkeypatch.setattr(DriftWindow, "observe", counted)
    monitor = _monitor(registry)  # not started: nothing drains but the test
    for record in _records(registry, [1] * 64 + [36]):
        monitor.served(record)
    assert calls == []
    monitor.drain()
    assert calls == [100]
    report = monitor.report(registry.entry(BANK))
    assert report["rows"] == 100
    assert calls == [100]  # nothing was left to count


def test_a_full_queue_drops_and_counts_rather_than_holding_more(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(monitor_module, "MAX_PENDING_ROWS", 100)
    monitor = _monitor(registry)
    first, second, third, fourth = _records(registry, [60, 40, 30, 20])
    for record in (first, second, third):
        monitor.served(record)
    assert _dropped(monitor) == 30
    monitor.drain()  # room again
    monitor.served(fourth)
    assert _dropped(monitor) == 30
    assert monitor.report(registry.entry(BANK))["rows"] == 120


class _Log:
    """A stand-in for the prediction log: the monitor's boundary with it is `submit`."""

    def __init__(self) -> None:
        self.submitted: list[Served] = []

    def submit(self, served: Served) -> None:
        self.submitted.append(served)


@pytest.mark.parametrize("drift", [True, False])
def test_the_log_gets_every_record_with_drift_on_or_off(registry: Registry, drift: bool):
    log = _Log()
    monitor = _monitor(registry, drift=drift)
    assert monitor.watching is drift
    monitor.log = log
    assert monitor.watching
    records = _records(registry, [3, 1, 5])
    for record in records:
        monitor.served(record)
    assert log.submitted == records


def test_records_of_a_replaced_bundle_are_not_counted(registry: Registry):
    monitor = _monitor(registry)
    [record] = _records(registry, [10])
    other = Served(**{**{f: getattr(record, f) for f in record.__slots__}, "sha256": "0" * 64})
    monitor.served(other)
    monitor.served(record)
    assert monitor.report(registry.entry(BANK))["rows"] == 10


def test_the_thread_counts_what_arrives_and_stops_when_closed(registry: Registry):
    monitor = _monitor(registry)
    monitor.start()
    try:
        for record in _records(registry, [5, 5]):
            monitor.served(record)
        deadline = time.monotonic() + 30
        while monitor._queue and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not monitor._queue
    finally:
        monitor.close()
    assert monitor.report(registry.entry(BANK))["rows"] == 10


def test_most_probable_is_the_class_max_picks_first_of_a_tie():
    rng = np.random.default_rng(3)
    names = ["low", "mid", "high", 4]
    rows = [dict(zip(names, rng.integers(0, 3, size=4) / 4, strict=True)) for _ in range(500)]
    rows.append(dict.fromkeys(names, 0.25))  # a four-way tie: the first class
    expected = [max(row, key=row.__getitem__) for row in rows]
    assert monitor_module.most_probable(rows) == expected  # one numpy pass
    assert monitor_module.most_probable(rows[-3:]) == expected[-3:]  # row by row
    assert expected[-1] == "low" and len(set(expected)) == 4
    assert monitor_module.most_probable([]) == []
