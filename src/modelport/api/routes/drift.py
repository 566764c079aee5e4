"""Live drift, per model: `/drift` (the default model) and `/models/{name}/drift`."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from modelport.api.responses import json_response
from modelport.api.routes.operation import Operation
from modelport.api.schemas import Context, json_content, problem
from modelport.api.state import server_state
from modelport.errors import DisabledError


async def drift(request: Request, name: str | None = None) -> Response:
    """How far the last rows served are from the model's reference profile, per feature."""
    monitor = server_state(request.app).monitor
    if not monitor.drift:
        raise DisabledError("live drift is off on this server (MODELPORT_DRIFT=false)")
    entry = server_state(request.app).registry.entry(name)
    request.state.model = entry.name
    # Off the loop: rows still queued are counted first, maybe after the monitor's own turn.
    return json_response(await run_in_threadpool(monitor.report, entry))


_STATUS = {"enum": ["ok", "warn", "alert", "no-data", "no-reference"]}
_SHARES = {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1}}
_DISTRIBUTION = {
    "type": "object",
    "required": ["psi", "status", "rows", "bins", "reference", "current"],
    "properties": {
        "psi": {"type": ["number", "null"], "minimum": 0, "description": "null before any row"},
        "status": _STATUS,
        "rows": {"type": "integer", "minimum": 0},
        "bins": {"type": "array", "items": {"type": "string"}},
        "reference": {**_SHARES, "description": "each bin's share in the reference profile"},
        "current": {**_SHARES, "description": "each bin's share in the window"},
    },
}
_REPORT = {
    "type": "object",
    "required": ["model", "version", "window", "rows", "reference", "status", "features"],
    "properties": {
        "model": {"type": "string"},
        "version": {"type": "string"},
        "window": {"type": "integer", "minimum": 1, "description": "rows the window holds at most"},
        "rows": {"type": "integer", "minimum": 0, "description": "rows it holds now"},
        "reference": {
            "enum": ["profile", "first-window", None],
            "description": "the bundle's profile, the first rows served, or none yet",
        },
        "status": {**_STATUS, "description": "the worst of the features' and predictions'"},
        "thresholds": {
            "type": "object",
            "properties": {"warn": {"type": "number"}, "alert": {"type": "number"}},
        },
        "features": {"type": "object", "additionalProperties": _DISTRIBUTION},
        "prediction": {"anyOf": [_DISTRIBUTION, {"type": "null"}]},
    },
}


def _drift(context: Context) -> dict[str, Any]:
    return {
        "responses": {
            "200": json_content(_REPORT, "the drift of each feature and of the predictions"),
            "404": problem("no such model, or live drift is off (MODELPORT_DRIFT=false)"),
            "503": problem("the model is loading, or failed to load"),
        }
    }


OPERATIONS = [
    Operation("GET", "/drift", drift, "drift", "model", _drift, per_model=True),
]
"""Live drift of the default model, and of each model under /models/{name}."""
