"""A log handler whose lines are formatted and written by a thread, not the event loop."""

from __future__ import annotations

import logging
from logging.handlers import QueueHandler, QueueListener
from queue import SimpleQueue
from typing import TextIO


class QueuedStreamHandler(QueueHandler):
    """`logging.StreamHandler(stream)`, with the work moved to a thread.

    The access log writes a line per request: formatted and written on the event loop, it
    cost more than routing, auth and metrics together (and a write to a slow disk or a full
    pipe would stall every request). Here the loop only queues the record; a thread
    formats it with this handler's formatter and writes it. `close()` (called by
    `logging.shutdown` at exit, and when logging is configured again) writes what is queued.

    For loggers whose arguments are plain values (strings, numbers): a record is formatted
    later, so a mutable argument changed in the meantime would be logged as changed.

    Args:
        stream: where lines go (`sys.stderr` by default, as `StreamHandler`).
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.target = logging.StreamHandler(stream)
        super().__init__(SimpleQueue())
        self.listener = QueueListener(self.queue, self.target)
        self.listener.start()
        self.running = True

    def setFormatter(self, fmt: logging.Formatter | None) -> None:
        """The thread formats: the formatter is its handler's."""
        self.target.setFormatter(fmt)

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        """The record as it is: formatting it here would keep the cost on the caller."""
        return record

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        if self.running:  # close() may come twice; the listener stops once
            self.running = False
            self.listener.stop()
        self.target.close()
        super().close()
