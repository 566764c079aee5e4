"""The Monitor: every answered request, handed to what watches the traffic, off its path.

A prediction route builds one `Served` record once it has its answers and gives it to
`Monitor.served`, which costs the event loop an append: the prediction log (when one is
set, `log.submit`) and live drift read the records elsewhere. Drift runs on the monitor's
own thread: every `GATHER_SECONDS` it takes every record queued, groups them by model, and
counts each group into that model's `DriftWindow` in one `observe` call (one call per
request would cost the loop 5-11 % of a one-row prediction).

Each loaded predictor has its own window, made at its first record: a reloaded model starts
a fresh one. A report, and a scrape of the gauges, first count every record still queued,
so they reflect every row served before them. With several workers each worker keeps the
window of the requests it served.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable
from itertools import chain
from typing import Any, Protocol

import numpy as np
from starlette.requests import Request

from modelport.api.metrics import Metrics
from modelport.api.state import server_state
from modelport.batching import concat_inputs
from modelport.drift import DriftWindow
from modelport.errors import ModelNotFoundError
from modelport.predictor import Predictor
from modelport.registry import ModelEntry, Registry, ready_predictor
from modelport.served import RouteKind, Served
from modelport.settings import Settings

logger = logging.getLogger("modelport.monitor")

MAX_PENDING_ROWS = 100_000
"""Rows queued for drift past which more are dropped (and counted) rather than held: the
thread fell behind, and memory must stay bounded."""
GATHER_SECONDS = 0.1
"""How often the drift thread counts what was queued. It is not woken per record: waking a
thread costs the event loop more than the append (a lock and a switch, measured), and each
`observe` has a fixed part, so both are paid once per tenth of a second, not per request.
Reports never wait for it: they count what is queued themselves."""
PUBLISH_SECONDS = 1.0
"""With several workers, how often a worker writes its drift gauges for the others' scrapes."""
STOP_SECONDS = 10.0
"""Longest wait for the drift thread to finish at shutdown."""


class PredictionSink(Protocol):
    """What takes every answered request besides drift: the prediction log."""

    def submit(self, served: Served) -> None:
        """Take one record; called on the event loop, so it must not block or raise."""


class Monitor:
    """Takes each `Served` record on the event loop and feeds drift (and the log) elsewhere.

    Args:
        settings: `drift` turns live drift on; the window's size, thresholds and reference.
        registry: finds the predictor a record came from (and so its window).
        metrics: where the drift gauges and the count of dropped rows go.
        log: the prediction log, given every record when set.
    """

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        metrics: Metrics,
        log: PredictionSink | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.metrics = metrics
        self.drift = settings.drift
        self.log = log
        self._queue: deque[Served] = deque()
        # Rows queued = rows in - rows out: each count has one writer (the event loop, the
        # draining thread), so neither needs a lock.
        self._rows_in = self._rows_out = 0
        self._windows: weakref.WeakKeyDictionary[Predictor, DriftWindow] = (
            weakref.WeakKeyDictionary()
        )
        self._counting = threading.Lock()  # one drain at a time: a report waits for the thread's
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._published = 0.0

    @property
    def watching(self) -> bool:
        """True when anything reads the records: the routes build none otherwise."""
        return self.drift or self.log is not None

    def served(self, record: Served) -> None:
        """Take one answered request (on the event loop: an append, never a wait)."""
        if self.log is not None:
            self.log.submit(record)
        if not self.drift:
            return
        rows = len(record.predictions)
        if self._rows_in - self._rows_out + rows > MAX_PENDING_ROWS:
            self.metrics.drift_dropped.labels(record.model).inc(rows)
            return
        self._rows_in += rows
        self._queue.append(record)

    def start(self) -> None:
        """Start the drift thread (at the app's startup)."""
        if self.drift and self._thread is None:
            self._closing.clear()
            self._thread = threading.Thread(target=self._run, name="modelport-drift", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Count what is queued, then stop the drift thread (at the app's shutdown)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._closing.set()
        thread.join(STOP_SECONDS)
        if thread.is_alive():
            logger.warning("the drift thread did not stop within %.0f s", STOP_SECONDS)

    def _run(self) -> None:
        multiprocess = self.metrics.multiprocess
        while not self._closing.wait(GATHER_SECONDS):
            try:
                if self._queue:
                    self.drain()
                if multiprocess and time.monotonic() - self._published >= PUBLISH_SECONDS:
                    self.refresh_gauges()  # the other workers' scrapes read what this one wrote
            except Exception:  # drift must never stop: the next records are counted anyway
                logger.exception("counting served rows for drift failed")
        self.drain()

    def drain(self) -> None:
        """Count every queued record into its model's window: one `observe` per model."""
        with self._counting:
            records: list[Served] = []
            while True:
                try:
                    records.append(self._queue.popleft())
                except IndexError:
                    break
            self._rows_out += sum(len(record.predictions) for record in records)
            groups: dict[tuple[str, str, str], list[Served]] = {}
            for record in records:
                groups.setdefault((record.model, record.version, record.sha256), []).append(record)
            for (model, version, sha256), group in groups.items():
                window = self._window_of(model, version, sha256)
                if window is None:
                    continue
                try:
                    X = concat_inputs([record.X for record in group])
                    labels = [label for record in group for label in record.predictions]
                    window.observe(X, np.asarray(labels))
                except Exception:  # one model's rows must not cost the others theirs
                    logger.exception("model %s: counting %d served requests for drift failed",
                                     model, len(group))  # fmt: skip

    def _window_of(self, model: str, version: str, sha256: str) -> DriftWindow | None:
        """The window of the predictor that serves this version now; None once it no longer
        serves (the rows of a replaced bundle say nothing of the new one)."""
        try:
            predictor = self.registry.entry(model, version).predictor
        except ModelNotFoundError:
            return None
        if predictor is None or (predictor.bundle.sha256 or "") != sha256:
            return None
        return self._window(predictor)

    def _window(self, predictor: Predictor) -> DriftWindow:
        window = self._windows.get(predictor)
        if window is None:
            window = self._windows[predictor] = DriftWindow.for_predictor(predictor, self.settings)
        return window

    def report(self, entry: ModelEntry) -> dict[str, Any]:
        """`/drift`'s body for a served model version, the rows still queued counted.

        Raises:
            ModelNotReadyError: it is still loading, or failed to load.
        """
        predictor = ready_predictor(entry)
        self.drain()
        return {"model": entry.name, "version": entry.version, **self._window(predictor).report()}

    def refresh_gauges(self) -> None:
        """Set the drift gauges from the windows (rows queued included): one series per
        feature of each served model with a reference and rows, none for the others."""
        if not self.drift:
            return
        self.drain()
        self._published = time.monotonic()
        features: dict[tuple[str, str], float] = {}
        predictions: dict[str, float] = {}
        for name, predictor in self._serving():
            window = self._windows.get(predictor)
            if window is None:
                continue
            by_feature, prediction = window.psis()
            features |= {(name, f): psi for f, psi in by_feature.items() if psi is not None}
            if prediction is not None:
                predictions[name] = prediction
        self.metrics.set_drift(features, predictions)

    def _serving(self) -> Iterable[tuple[str, Predictor]]:
        """Each model's predictor that its routes answer with (the highest version)."""
        for name in self.registry.names:
            try:
                predictor = self.registry.entry(name).predictor
            except ModelNotFoundError:  # unloaded
                continue
            if predictor is not None:
                yield name, predictor


FEW_ROWS = 16
"""Rows under which the most probable classes are picked row by row (measured crossover)."""


def most_probable(probabilities: list[dict[str, float]]) -> list[Any]:
    """Each row's class of highest probability, the first of a tie, as `max` picks it: per
    row for a few rows, else in one numpy pass (four times faster for 1,000 rows, but some
    microseconds to start)."""
    if len(probabilities) < FEW_ROWS:
        return [max(row, key=row.__getitem__) for row in probabilities]
    names = list(probabilities[0])
    values = np.fromiter(
        chain.from_iterable(map(dict.values, probabilities)),
        np.float64,
        len(probabilities) * len(names),
    )
    chosen = values.reshape(len(probabilities), len(names)).argmax(axis=1)
    return list(map(names.__getitem__, chosen.tolist()))


def watch(
    request: Request,
    predictor: Predictor,
    version: str,
    route: RouteKind,
    X: Any,
    labels: list[Any] | None,
    probabilities: list[dict[str, float]] | None = None,
) -> None:
    """Hand one answered request to the app's monitor, if anything watches.

    Without labels (probabilities alone were asked for), the labels drift counts and the
    log writes are the classes of highest probability, the first of a tie (what `predict`
    answers for most classifiers).
    """
    monitor = server_state(request.app).monitor
    if not monitor.watching:
        return
    if labels is None:
        labels = most_probable(probabilities or [])
    state = request.scope["state"]
    monitor.served(
        Served(
            state["model"],
            version,
            predictor.bundle.sha256 or "",  # loaded from a file: always hashed
            state["request_id"],
            state.get("caller"),
            route,
            X,
            labels,
            probabilities,
            time.time(),
        )
    )
