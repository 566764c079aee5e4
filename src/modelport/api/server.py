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


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging, plus modelport's own loggers on the same handler."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["modelport"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    return config


def serve(settings: Settings) -> None:
    """Serve until stopped. Several workers share one socket; each loads every model.

    Raises:
        BundleError: the bundle path holds nothing to serve (checked before binding).
    """
    discover(settings.bundle_path)
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": log_config(settings.log_level),
        "log_level": settings.log_level,
        "access_log": False,  # modelport logs each request itself, with its id and caller
        "timeout_graceful_shutdown": int(settings.grace_seconds),
        "timeout_keep_alive": settings.keep_alive_seconds,
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
        uvicorn.run(
            "modelport.api.app:create_app", factory=True, workers=settings.workers, **common
        )
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
