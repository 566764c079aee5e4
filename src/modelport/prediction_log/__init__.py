"""The prediction log: every row the server answers, written to a store off the event loop.

A request pays for `submit` only: a sampling draw, a lock and an append to a queue bounded in
rows (a full queue drops the rows and counts them). A writer thread takes the queue in
batches and commits each one through `modelport.store` (table `prediction_log`, or part
files in a Parquet folder), one run per server process. A store that is down is retried with
exponential backoff while the batch in hand is kept and new rows queue up (then drop): one
warning says it is down, one line says it is back. `close` writes what is still queued.

Example:
    >>> log = PredictionLog("sqlite:///log.db", features=lambda served: ["x"])  # doctest: +SKIP
    >>> log.start()  # doctest: +SKIP
    >>> log.submit(served)  # from the request's path: O(1), never raises  # doctest: +SKIP
    >>> log.close(timeout=10)  # at shutdown: writes what is queued  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from modelport.errors import ConfigurationError
from modelport.prediction_log.rows import FeatureNames, log_frame
from modelport.served import Served
from modelport.settings import (
    DEFAULT_LOG_BATCH_ROWS,
    DEFAULT_LOG_FLUSH_SECONDS,
    DEFAULT_LOG_QUEUE_ROWS,
    Settings,
)

if TYPE_CHECKING:
    from modelport.prediction_log.writers import LogWriter

__all__ = ["PredictionLog"]

logger = logging.getLogger("modelport.prediction_log")

DEFAULT_BACKOFF = (0.5, 30.0)
"""Seconds before the first retry of a store that is down, and the longest wait between two."""
DEFAULT_CLOSE_SECONDS = 10.0
"""How long `close` may take to write what is queued before the rest is dropped (counted)."""

OnWrite = Callable[[int], None]
OnDrop = Callable[[int, str], None]
"""Called with rows dropped and why: `full` (the queue), `refused` (the store refused the
batch while it answered), `stopped` (still queued when the log stopped)."""


class PredictionLog:
    """A bounded queue of served rows and the thread that writes them to a store.

    Args:
        target: a SQLAlchemy URL (`sqlite:///log.db`, `postgresql+psycopg://...`) or a
            Parquet folder.
        sample: share of submitted requests kept (each drawn at random).
        queue_rows: rows held in memory at most; past it rows are dropped.
        batch_rows: most rows committed together.
        flush_seconds: longest time a row waits before its batch is written.
        features: the input column names of a record (its model's features); without it,
            features of a numpy input are not logged (a DataFrame input names its own).
        on_write, on_drop: counters, called from the writer thread (and `submit` on a drop).
        seed: seeds the sampling, for tests.
        backoff: first and longest wait between retries of a store that is down.

    Raises:
        StoreError: the target can't be a log (a malformed URL, a missing driver, a file
            where the folder should be).
        ConfigurationError: a sample outside (0, 1].
    """

    def __init__(
        self,
        target: str,
        *,
        sample: float = 1.0,
        queue_rows: int = DEFAULT_LOG_QUEUE_ROWS,
        batch_rows: int = DEFAULT_LOG_BATCH_ROWS,
        flush_seconds: float = DEFAULT_LOG_FLUSH_SECONDS,
        features: FeatureNames | None = None,
        on_write: OnWrite | None = None,
        on_drop: OnDrop | None = None,
        seed: int | None = None,
        backoff: tuple[float, float] = DEFAULT_BACKOFF,
    ) -> None:
        from modelport.prediction_log.writers import open_log_writer

        if not 0 < sample <= 1:
            raise ConfigurationError(f"the prediction log's sample must be in (0, 1], not {sample}")
        self.writer: LogWriter = open_log_writer(target)
        self.location = self.writer.location
        self.sample = sample
        self.queue_rows, self.batch_rows = queue_rows, batch_rows
        self.flush_seconds, self.backoff = flush_seconds, backoff
        self.written = 0
        """Rows committed to the store."""
        self.dropped = 0
        """Rows lost: the queue was full, the store refused them, or the log stopped first."""
        self._features = features
        self._names: dict[tuple[str, str], Sequence[str]] = {}
        self._on_write, self._on_drop = on_write, on_drop
        self._random = random.Random(seed)
        self._queue: deque[Served] = deque()
        self._queued = 0
        self._ready = threading.Condition()
        self._stop = threading.Event()
        self._deadline = float("inf")
        self._thread: threading.Thread | None = None
        self._down = False
        self._counting = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> PredictionLog | None:
        """The log `MODELPORT_PREDICTION_LOG` names, or None when it is unset."""
        if settings.prediction_log is None:
            return None
        return cls(
            settings.prediction_log,
            sample=settings.prediction_log_sample,
            queue_rows=settings.prediction_log_queue_rows,
            batch_rows=settings.prediction_log_batch_rows,
            flush_seconds=settings.prediction_log_flush_seconds,
            **options,
        )

    def start(self) -> None:
        """Start the writer thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._write_until_stopped, name="modelport-prediction-log", daemon=True
            )
            self._thread.start()

    def submit(self, served: Served) -> None:
        """Queue a served request's rows (or drop and count them); never blocks or raises."""
        try:
            if self.sample < 1.0 and self._random.random() >= self.sample:
                return
            rows = len(served.predictions)
            with self._ready:
                if not self._stop.is_set() and self._queued + rows <= self.queue_rows:
                    self._queue.append(served)
                    self._queued += rows
                    if self._queued >= self.batch_rows > self._queued - rows:  # a batch is full
                        self._ready.notify()
                    return
            self._drop(rows, "stopped" if self._stop.is_set() else "full")
        except Exception:  # logging must never fail a request
            logger.exception("prediction log: a served request could not be queued")

    def close(self, timeout: float = DEFAULT_CLOSE_SECONDS) -> None:
        """Write what is queued (for `timeout` seconds at most: the rest is dropped and
        counted), record the run as completed, and stop the writer."""
        with self._ready:
            self._deadline = time.monotonic() + timeout
            self._stop.set()
            self._ready.notify_all()
        if self._thread is None:
            self._write_until_stopped()
        else:
            self._thread.join(timeout + 1.0)

    # --- the writer thread ------------------------------------------------------------------

    def _write_until_stopped(self) -> None:
        try:
            while (batch := self._take()) is not None:
                if batch:
                    self._write(batch)
        finally:
            try:
                self.writer.finish()
            except Exception as error:
                logger.warning(
                    "prediction log %s: the run was not closed: %s", self.location, error
                )
            self.writer.close()

    def _take(self) -> list[Served] | None:
        """Up to `batch_rows` rows once there are as many or `flush_seconds` passed; None
        once stopped with nothing left (or past the deadline: the rest is dropped)."""
        with self._ready:
            if not self._stop.is_set() and self._queued < self.batch_rows:
                self._ready.wait(self.flush_seconds)
            if self._stop.is_set() and (not self._queue or self._past_deadline()):
                left, self._queue, self._queued = self._queued, deque(), 0
                if left:
                    self._drop(left, "stopped")
                return None
            batch: list[Served] = []
            rows = 0
            while self._queue and (
                not batch or rows + len(self._queue[0].predictions) <= self.batch_rows
            ):
                served = self._queue.popleft()
                batch.append(served)
                rows += len(served.predictions)
            self._queued -= rows
            return batch

    def _write(self, batch: list[Served]) -> None:
        """Commit one batch; a store that is down is waited for, one that refuses it (while
        it answers) drops it."""
        rows = sum(len(served.predictions) for served in batch)
        try:
            frame, kinds = log_frame(batch, self._feature_names)
        except Exception:
            logger.exception("prediction log: %d rows could not be turned into a table", rows)
            self._drop(rows, "refused")
            return
        delay, refusals = self.backoff[0], 0
        while True:
            try:
                self.writer.append(frame, kinds)
            except Exception as error:
                self.writer.reset()  # the next try checks the table and the run again
                if not self.writer.is_outage(error):
                    refusals += 1
                    if refusals < 2:
                        continue
                    logger.error(
                        "prediction log %s refused %d rows: %s", self.location, rows, _reason(error)
                    )
                    self._drop(rows, "refused")
                    return
                self._went_down(error)
                if not self._wait(delay):
                    self._drop(rows, "stopped")
                    return
                delay = min(delay * 2, self.backoff[1])
                continue
            self._came_back()
            self.written += rows
            if self._on_write is not None:
                self._on_write(rows)
            return

    def _went_down(self, error: BaseException) -> None:
        if not self._down:
            self._down = True
            logger.warning(
                "prediction log %s is unavailable (%s): retrying with backoff; rows are "
                "dropped (and counted) once %d are waiting",
                self.location, _reason(error), self.queue_rows,
            )  # fmt: skip

    def _came_back(self) -> None:
        if self._down:
            self._down = False
            logger.warning("prediction log %s is available again", self.location)

    def _wait(self, delay: float) -> bool:
        """Sleep before a retry; False once the log is stopping and its time is up."""
        if self._stop.is_set():
            left = self._deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(delay, left))
            return True
        self._stop.wait(delay)
        return True

    def _past_deadline(self) -> bool:
        return time.monotonic() >= self._deadline

    def _feature_names(self, served: Served) -> Sequence[str] | None:
        """A record's input columns, kept per model and bundle once known (a model that is
        reloading just then is asked again with the next batch)."""
        key = (served.model, served.sha256)
        names = self._names.get(key)
        if names is None and self._features is not None:
            try:
                names = self._features(served)
            except Exception:  # a model unloaded meanwhile: its rows go without features
                names = None
            if names is not None:
                self._names[key] = names
        return names

    def _drop(self, rows: int, reason: str) -> None:
        with self._counting:  # submit drops from the request's thread, the writer from its own
            self.dropped += rows
        if self._on_drop is not None:
            self._on_drop(rows, reason)


def _reason(error: BaseException) -> str:
    """An error's first line (a database error's own message, without SQLAlchemy's tail)."""
    text = str(getattr(error, "orig", None) or error).strip()
    return (text.splitlines() or [type(error).__name__])[0][:300]
