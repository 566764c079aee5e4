"""The server's prediction log: built from the settings, its features named by the registry,
its rows counted in the metrics, and closed (queue written) when the server stops."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from modelport.api.metrics import Metrics
from modelport.errors import ModelportError
from modelport.prediction_log import PredictionLog
from modelport.registry import Registry
from modelport.served import Served
from modelport.settings import Settings

logger = logging.getLogger("modelport.prediction_log")

CLOSE_SECONDS = 10.0
"""At shutdown, how long the log may take to write what is queued (the rest is counted)."""


def create_prediction_log(
    settings: Settings, registry: Registry, metrics: Metrics
) -> PredictionLog | None:
    """The log MODELPORT_PREDICTION_LOG names (not started), or None.

    Raises:
        StoreError: the target can't hold a log.
    """

    def features(served: Served) -> Sequence[str] | None:
        try:
            return registry.get(served.model, served.version).input_metadata.feature_names
        except ModelportError:  # unloaded since it answered
            return None

    def dropped(rows: int, reason: str) -> None:
        metrics.log_dropped.labels(reason).inc(rows)

    return PredictionLog.from_settings(
        settings, features=features, on_write=metrics.log_rows.inc, on_drop=dropped
    )


def close_prediction_log(log: PredictionLog) -> None:
    """Write what is queued, then say what was written and lost."""
    log.close(CLOSE_SECONDS)
    logger.info(
        "prediction log %s: %d rows written, %d dropped", log.location, log.written, log.dropped
    )
