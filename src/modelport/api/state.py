"""What the app holds while it serves, typed, and the one way to reach it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.applications import Starlette

from modelport.api.dispatch import Dispatcher
from modelport.api.metrics import Metrics
from modelport.prediction_log import PredictionLog
from modelport.registry import Registry
from modelport.settings import Settings

if TYPE_CHECKING:  # the monitor's hook reaches the monitor through this module
    from modelport.api.monitor import Monitor


@dataclass
class ServerState:
    """The settings, the models, the metrics and the monitor of one app, and whether it is
    stopping."""

    settings: Settings
    registry: Registry
    metrics: Metrics
    dispatch: Dispatcher
    monitor: Monitor
    """Takes each answered request for live drift and the prediction log."""
    started_at: float
    draining: bool = False
    """True from the first SIGTERM: /ready answers 503 so load balancers stop sending."""
    loading: asyncio.Task[None] | None = field(default=None, repr=False)
    """The startup load of every model; set by the lifespan."""
    prediction_log: PredictionLog | None = field(default=None, repr=False)
    """Where served rows are logged (MODELPORT_PREDICTION_LOG), or None."""


def server_state(app: Starlette) -> ServerState:
    """The app's state (`server_state(request.app)` in a route)."""
    state: ServerState = app.state.modelport
    return state
