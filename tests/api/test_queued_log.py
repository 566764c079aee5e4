"""The access log's handler: lines formatted and written by a thread, none lost at close."""

from __future__ import annotations

import io
import logging
import logging.config
import threading

import pytest
from uvicorn.logging import DefaultFormatter

from modelport.api.queued_log import AccessFormatter, QueuedStreamHandler
from modelport.api.server import log_config


class _RecordingFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(levelname)s %(message)s")
        self.threads: set[str] = set()

    def format(self, record: logging.LogRecord) -> str:
        self.threads.add(threading.current_thread().name)
        return super().format(record)


def _logger(name: str, handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def test_lines_are_formatted_off_the_callers_thread_and_all_written_by_close():
    stream = io.StringIO()
    handler = QueuedStreamHandler(stream)
    formatter = _RecordingFormatter()
    handler.setFormatter(formatter)
    logger = _logger("modelport.test.queued", handler)
    for i in range(500):
        logger.info("line %d of %s", i, "500")
    handler.close()
    handler.close()  # logging.shutdown may close it again
    assert stream.getvalue().splitlines() == [f"INFO line {i} of 500" for i in range(500)]
    assert formatter.threads and threading.current_thread().name not in formatter.threads


def test_the_access_line_is_the_one_the_plain_handler_writes():
    plain, queued = io.StringIO(), io.StringIO()
    handlers = [logging.StreamHandler(plain), QueuedStreamHandler(queued)]
    for handler in handlers:
        handler.setFormatter(DefaultFormatter("%(levelprefix)s %(message)s", use_colors=False))
        logger = _logger("modelport.test.access", handler)
        logger.info(
            '%s "%s %s" %d %.1fms caller=%s id=%s', "::1", "POST", "/p", 200, 1.25, "k", "x"
        )
        handler.close()
    assert (
        queued.getvalue() == plain.getvalue() == 'INFO:     ::1 "POST /p" 200 1.2ms caller=k id=x\n'
    )


def test_serve_sends_the_access_log_through_the_thread(capsys):
    config = log_config("info")
    config["loggers"] = {
        name: config["loggers"][name] for name in ("modelport", "modelport.access")
    }
    loggers = [logging.getLogger(name) for name in config["loggers"]]
    try:
        logging.config.dictConfig(config)
        [handler] = loggers[1].handlers
        assert isinstance(handler, QueuedStreamHandler)
        loggers[1].info("one request")
        logging.getLogger("modelport.api").warning("something else")
        handler.close()
        lines = capsys.readouterr().err.splitlines()
        assert sorted(lines) == ["INFO:     one request", "WARNING:  something else"]
    finally:
        for logger in loggers:
            for handler in logger.handlers:
                handler.close()
            logger.handlers = []
            logger.propagate = True
            logger.setLevel(logging.NOTSET)


class _CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_a_burst_of_lines_is_written_in_a_few_writes_not_one_per_line():
    stream = _CountingStream()
    handler = QueuedStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = _logger("modelport.test.burst", handler)
    for i in range(2000):
        logger.info("request %d", i)
    handler.close()
    assert stream.getvalue().splitlines() == [f"request {i}" for i in range(2000)]
    assert stream.writes < 50  # a write per flush interval or per 4,096 lines, not per line


def test_flush_writes_what_is_queued_at_once():
    stream = io.StringIO()
    handler = QueuedStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = _logger("modelport.test.flush", handler)
    logger.info("now")
    handler.flush()
    assert stream.getvalue() == "now\n"
    handler.close()


def test_a_record_that_cannot_be_formatted_is_reported_and_the_others_written(capsys):
    stream = io.StringIO()
    handler = QueuedStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = _logger("modelport.test.broken", handler)
    logger.info("before")
    logger.info("%d apples", "not a number")
    logger.info("after")
    handler.close()
    assert stream.getvalue().splitlines() == ["before", "after"]
    assert "not a number" in capsys.readouterr().err  # logging's own report of a bad record


@pytest.mark.parametrize("level", [logging.DEBUG, logging.INFO, logging.WARNING, logging.CRITICAL])
@pytest.mark.parametrize("colours", [False, True])
def test_the_access_formatter_writes_what_uvicorns_writes(level, colours):
    def record() -> logging.LogRecord:
        return logging.LogRecord("a", level, __file__, 1, "%s %d", ("GET /", 200), None)

    fmt = "%(levelprefix)s %(message)s"
    ours = AccessFormatter(fmt, use_colors=colours).format(record())
    assert ours == DefaultFormatter(fmt, use_colors=colours).format(record())
    assert ours.endswith(" GET / 200") and logging.getLevelName(level) in ours
