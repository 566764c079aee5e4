"""Run the API under uvicorn: one process, or several workers sharing the socket."""

from __future__ import annotations

import copy
import logging
import os
import shutil
import signal
import tempfile
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.supervisors.multiprocess import Multiprocess

from modelport.repository import discover
from modelport.settings import ENV_PREFIX, Settings

logger = logging.getLogger("modelport.server")


class CleanExitServer(uvicorn.Server):
    """uvicorn that exits 0 after a clean stop, instead of re-raising the signal it caught.

    The drain before the stop is the application's own (see `modelport.api.app`), so it
    works the same in every worker process.
    """

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True


class WorkerSupervisor(Multiprocess):
    """uvicorn's supervisor, which replaces a worker that dies, plus a count of those deaths
    in the log (a worker killed for memory, say, is otherwise one line among many), and the
    dead worker's live metrics (requests in flight) dropped from `/metrics`."""

    def __init__(self, config: uvicorn.Config, sockets: list[Any]) -> None:
        super().__init__(config, sockets)
        self.restarts = 0

    def keep_subprocess_alive(self) -> None:
        before = list(self.processes)
        super().keep_subprocess_alive()
        for old, new in zip(before, self.processes, strict=False):
            if new is not old:
                self.restarts += 1
                _forget_metrics_of(old.pid)
                logger.warning(
                    "worker process %s died (%s) and was replaced by %s; "
                    "%d worker restart(s) since the server started",
                    old.pid,
                    _exit_reason(old.exitcode),
                    new.pid,
                    self.restarts,
                )


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _forget_metrics_of(pid: int | None) -> None:
    if pid is not None and "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


WORKER_HEALTHCHECK_SECONDS = 20
"""How long the supervisor waits for a worker's answer to its health ping. uvicorn's 5 s
replaced workers for ever when importing the stack took longer on a busy machine; more
than this would let a worker that dies in the middle of a ping stall the supervision of
the others (its pipe never closes) for as long."""


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging, plus modelport's own loggers on the same stream and format.

    The access log's line per request is formatted and written by a thread (see
    `QueuedStreamHandler`), so the event loop does not wait on it.
    """
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["modelport.access"] = {
        **config["formatters"]["default"],
        "()": "modelport.api.queued_log.AccessFormatter",
    }
    config["handlers"]["modelport.access"] = {
        "()": "modelport.api.queued_log.QueuedStreamHandler",
        "formatter": "modelport.access",
        "stream": config["handlers"]["default"]["stream"],
    }
    config["loggers"]["modelport"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    config["loggers"]["modelport.access"] = {
        "handlers": ["modelport.access"],
        "level": level.upper(),
        "propagate": False,
    }
    return config


def serve(settings: Settings) -> None:
    """Serve until stopped. Several workers share one socket; each loads every model.

    Raises:
        BundleError: the bundle path holds nothing to serve (checked before binding).
        StoreError: the prediction log's target can't hold a log (checked before binding).
    """
    discover(settings.bundle_path)
    if settings.prediction_log is not None:  # refused here, not in each worker
        from modelport.prediction_log.writers import check_log_target

        check_log_target(settings.prediction_log)
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": log_config(settings.log_level),
        "log_level": settings.log_level,
        "access_log": False,  # modelport logs each request itself, with its id and caller
        "timeout_graceful_shutdown": int(settings.grace_seconds),
        "timeout_keep_alive": settings.keep_alive_seconds,
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_SECONDS,
        "server_header": False,
        "lifespan": "on",
    }
    if settings.workers == 1:
        from modelport.api.app import create_app

        CleanExitServer(uvicorn.Config(create_app(settings), **common)).run()
        return
    # Workers are separate processes: they rebuild the same Settings from the environment,
    # and write their metrics to files that /metrics sums (prometheus-client's multiprocess
    # mode, chosen when the variable is set before the workers import it).
    os.environ.update(settings_as_environment(settings))
    metrics_dir = tempfile.mkdtemp(prefix="modelport-metrics-")
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics_dir)
    try:
        config = uvicorn.Config(
            "modelport.api.app:create_app", factory=True, workers=settings.workers, **common
        )
        WorkerSupervisor(config, sockets=[config.bind_socket()]).run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def settings_as_environment(settings: Settings) -> dict[str, str]:
    """Every set field as a MODELPORT_* variable, lists comma-separated, secrets revealed."""
    environment = {}
    for name, value in settings:
        if value is None:
            continue
        if isinstance(value, list):
            text = ",".join(
                getattr(item, "get_secret_value", lambda item=item: str(item))() for item in value
            )
        else:
            text = str(value)
        environment[ENV_PREFIX + name.upper()] = text
    return environment
