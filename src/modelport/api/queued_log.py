"""A log handler whose lines are formatted and written by a thread, not the event loop."""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import TextIO

from uvicorn.logging import DefaultFormatter

FLUSH_SECONDS = 0.05
"""How often the thread writes what is queued: a line shows in the log this late at most."""
WAKE_RECORDS = 4096
"""Queued records that wake the thread before its time, so a burst stays bounded."""


class QueuedStreamHandler(logging.Handler):
    """`logging.StreamHandler(stream)`, with the work moved to a thread, in batches.

    The access log writes a line per request: formatted and written on the event loop, it
    cost more than routing, auth and metrics together (and a write to a slow disk or a full
    pipe would stall every request). A thread woken for every line cost as much again, in
    wake-ups and in taking the interpreter's lock back and forth (measured: a third of a
    one-row prediction's CPU). Here the loop only appends the record to a deque; every
    `FLUSH_SECONDS` (or once `WAKE_RECORDS` wait) the thread formats what is queued with
    this handler's formatter and writes it at once. `close()` (called by
    `logging.shutdown` at exit, and when logging is configured again) writes what is queued.

    For loggers whose arguments are plain values (strings, numbers): a record is formatted
    later, so a mutable argument changed in the meantime would be logged as changed.

    Args:
        stream: where lines go (`sys.stderr` by default, as `StreamHandler`).
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self.target = logging.StreamHandler(stream)
        self.records: deque[logging.LogRecord] = deque()
        self.wake = threading.Event()
        self.writing = threading.Lock()
        self.running = True
        self.thread = threading.Thread(
            target=self._write_forever, name="modelport-log", daemon=True
        )
        self.thread.start()

    def setFormatter(self, fmt: logging.Formatter | None) -> None:
        """The thread formats: the formatter is its handler's."""
        self.target.setFormatter(fmt)

    def emit(self, record: logging.LogRecord) -> None:
        """Queue the record as it is: formatting it here would keep the cost on the caller."""
        self.records.append(record)
        if len(self.records) >= WAKE_RECORDS:
            self.wake.set()

    def handle(self, record: logging.LogRecord) -> bool:
        """`Handler.handle` without its lock: a deque's append is already thread-safe."""
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def flush(self) -> None:
        """Write what is queued now (from the caller's thread)."""
        self._write_queued()

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        if self.running:  # close() may come twice; the thread stops once
            self.running = False
            self.wake.set()
            self.thread.join()
        self._write_queued()
        self.target.close()
        super().close()

    def _write_forever(self) -> None:
        while self.running:
            self.wake.wait(FLUSH_SECONDS)
            self.wake.clear()
            self._write_queued()

    def _write_queued(self) -> None:
        """Format every queued record and write them in one write and one flush."""
        with self.writing:  # the thread, and a caller's flush() or close()
            lines = []
            while self.records:
                record = self.records.popleft()
                try:
                    lines.append(self.target.format(record) + self.target.terminator)
                except Exception:  # a record that can't be formatted is reported, not fatal
                    self.target.handleError(record)
            if lines:
                try:
                    self.target.stream.write("".join(lines))
                    self.target.flush()
                except Exception:
                    self.target.handleError(record)


class AccessFormatter(DefaultFormatter):
    """uvicorn's format (`INFO:     ...`), without the copy of every record it makes to
    colour the level: without colours (a file, a pipe) the prefix is set on the record
    itself, at a third of the cost per line (measured)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        if self.use_colors:
            return super().formatMessage(record)
        record.__dict__["levelprefix"] = record.levelname + ":" + " " * (8 - len(record.levelname))
        return logging.Formatter.formatMessage(self, record)
