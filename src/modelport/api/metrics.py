"""Prometheus metrics on a registry the app owns (never the global one), counted by the gate.

With several workers, `PROMETHEUS_MULTIPROC_DIR` (set by `modelport serve` before any import
of prometheus-client) makes every worker write its samples to files there, and `/metrics`
sums them across workers. The drift gauges are not sums: each worker watches the requests it
served, and `/metrics` shows the worst worker's drift (the highest PSI) of each series.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import Metric

LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
ROWS_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)
DRIFT_GAUGES = ("modelport_feature_drift", "modelport_prediction_drift")
GONE = -1.0
"""What a worker writes for a drift series it no longer has (a removed model): PSIs are never
negative, so the worst worker's value is a real one if any worker has one, and a series that
is GONE in every worker is left out of `/metrics`. (Files of several processes can't forget a
series.)"""


class Metrics:
    """Every metric modelport records, registered on one registry the app owns.

    Args:
        drift: register the drift gauges (live drift is on).
    """

    def __init__(self, *, drift: bool = True) -> None:
        self.multiprocess = "PROMETHEUS_MULTIPROC_DIR" in os.environ
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "modelport_requests", "HTTP requests answered, by route, model, status and caller.",
            ["route", "model", "status", "caller"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "modelport_request_duration_seconds", "Time to answer a request, by route and model.",
            ["route", "model"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.in_flight = Gauge(
            "modelport_requests_in_flight", "Requests being answered now.",
            registry=self.registry, multiprocess_mode="livesum",
        )  # fmt: skip
        self.rows = Counter(
            "modelport_rows_predicted",
            "Rows predicted, by model.",
            ["model"],
            registry=self.registry,
        )
        self.rows_per_call = Histogram(
            "modelport_rows_per_call", "Rows in one call to the model, by model.",
            ["model"], buckets=ROWS_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.shed = Counter(
            "modelport_requests_shed", "Requests refused with a 503 because too much work was"
            " waiting, by model and reason (queue: rows for the model; bodies: bodies being read).",
            ["model", "reason"], registry=self.registry,
        )  # fmt: skip
        self.loads = Counter(
            "modelport_model_loads", "Model loads, by model and outcome (loaded or failed).",
            ["model", "outcome"], registry=self.registry,
        )  # fmt: skip

        self.log_rows = Counter(
            "modelport_prediction_log_rows", "Rows written to the prediction log.",
            registry=self.registry,
        )  # fmt: skip
        self.log_dropped = Counter(
            "modelport_prediction_log_dropped", "Rows the prediction log dropped, by reason (full:"
            " its queue; refused: by the store; stopped: still queued when the server stopped).",
            ["reason"], registry=self.registry,
        )  # fmt: skip
        self.drift_dropped = Counter(
            "modelport_drift_dropped_rows", "Rows served that live drift did not count because"
            " too many were waiting to be counted, by model.", ["model"], registry=self.registry,
        )  # fmt: skip
        self.feature_drift = self.prediction_drift = None
        if drift:
            self.feature_drift = Gauge(
                DRIFT_GAUGES[0], "Population stability index of a feature over the last rows"
                " served, against the model's reference profile, by model and feature.",
                ["model", "feature"], registry=self.registry, multiprocess_mode="livemax",
            )  # fmt: skip
            self.prediction_drift = Gauge(
                DRIFT_GAUGES[1], "Population stability index of the model's predictions over"
                " the last rows served, against its reference profile, by model.",
                ["model"], registry=self.registry, multiprocess_mode="livemax",
            )  # fmt: skip
        self._drift_series: dict[tuple[str, ...], Gauge] = {}
        self._drift_lock = threading.Lock()
        # Children by label values: a look-up in prometheus-client takes a lock and builds
        # a key each time, twice per request. The label values are bounded (route templates,
        # loaded models, status codes, named callers), so this stays small.
        self._answered: dict[tuple[str, str, int, str], tuple[Any, Any]] = {}
        self._rows: dict[str, Any] = {}

    def count_request(
        self, route: str, model: str, status: int, caller: str, seconds: float
    ) -> None:
        """Count one answered request and observe its duration."""
        key = (route, model, status, caller)
        children = self._answered.get(key)
        if children is None:
            children = self._answered[key] = (
                self.requests.labels(route, model, str(status), caller),
                self.latency.labels(route, model),
            )
        children[0].inc()
        children[1].observe(seconds)

    def count_rows(self, model: str, n_rows: int) -> None:
        """Count the rows a request had predicted (model calls are observed by the batcher)."""
        child = self._rows.get(model)
        if child is None:
            child = self._rows[model] = self.rows.labels(model)
        child.inc(n_rows)

    def set_drift(
        self, features: dict[tuple[str, str], float], predictions: dict[str, float]
    ) -> None:
        """Make the drift gauges these series exactly: (model, feature) → PSI, model → PSI.

        A series not given any more (a model removed, reloaded without a reference) goes.
        """
        if self.feature_drift is None or self.prediction_drift is None:
            return
        wanted: dict[tuple[str, ...], tuple[Gauge, float]] = {
            **{key: (self.feature_drift, value) for key, value in features.items()},
            **{(model,): (self.prediction_drift, value) for model, value in predictions.items()},
        }
        with self._drift_lock:
            for key, gauge in self._drift_series.items():
                if key not in wanted:
                    if self.multiprocess:
                        gauge.labels(*key).set(GONE)
                    else:
                        gauge.remove(*key)
            for key, (gauge, value) in wanted.items():
                gauge.labels(*key).set(value)
            self._drift_series = {key: gauge for key, (gauge, _) in wanted.items()}

    def render(self) -> bytes:
        """The text exposition format, summed over workers in multiprocess mode."""
        if self.multiprocess:
            registry = CollectorRegistry()
            registry.register(_PresentSeries())
            return generate_latest(registry)
        return generate_latest(self.registry)


class _PresentSeries:
    """Every worker's samples, merged, without the drift series that every worker left."""

    def collect(self) -> Iterable[Metric]:
        files = multiprocess.MultiProcessCollector(None)  # type: ignore[no-untyped-call]
        for metric in files.collect():  # type: ignore[no-untyped-call]
            if metric.name in DRIFT_GAUGES:
                metric.samples = [sample for sample in metric.samples if sample.value != GONE]
            yield metric
