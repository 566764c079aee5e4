"""Server-wide routes: probes, service information, the list of models and the metrics."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse, Response

from modelport._version import __version__
from modelport.api.readiness import is_ready
from modelport.api.responses import json_response
from modelport.api.routes.operation import Operation
from modelport.api.schemas import PROMETHEUS_TEXT, Context, json_content, text_content
from modelport.api.state import ServerState, server_state
from modelport.introspection import family

TEMPLATE_VERSION = "2.2.0"
"""The Flask template version whose routes and shapes modelport keeps."""


async def health(request: Request) -> PlainTextResponse:
    """Liveness: `up` as soon as the server accepts connections."""
    return PlainTextResponse("up")


async def ready(request: Request) -> PlainTextResponse:
    """Readiness: `ready` once the models serve (as MODELPORT_READY_WHEN asks), 503
    `not ready` before and while stopping."""
    if is_ready(request):
        return PlainTextResponse("ready")
    return PlainTextResponse("not ready", status_code=503)


async def service_info(request: Request) -> Response:
    """The template's service information (both generations of its keys) plus our version."""
    state = server_state(request.app)
    registry, settings = state.registry, state.settings
    name = registry.default_name
    entry = registry.entry(name) if name else None
    predictor = entry.predictor if entry else None
    body: dict[str, Any] = {
        "version": __version__,
        "version-template": TEMPLATE_VERSION,
        "running-since": state.started_at,
        "serving-model-file": str(entry.path) if entry else str(settings.bundle_path),
        "serving-model-name": name,
        "serving-model-family": "SKLEARN_MODEL",
        "serving-model-type": family(predictor.bundle.estimator) if predictor else None,
        "models": registry.names,
        "debug": settings.debug,
    }
    return json_response(body)


async def models(request: Request) -> Response:
    """Every served model: name, state, file, task, and why it failed if it did."""
    registry = server_state(request.app).registry
    listing = []
    for entry in registry.entries:
        item: dict[str, Any] = {
            "name": entry.name,
            "version": entry.version,
            "state": entry.state,
            "file": str(entry.path),
        }
        if entry.predictor is not None:
            metadata = entry.predictor.metadata
            item |= {
                "description": metadata.description,
                "task": metadata.task,
                "sha256": entry.predictor.bundle.sha256,
            }
        if entry.error:
            item["error"] = entry.error
        item["default"] = entry.name == registry.default_name
        listing.append(item)
    return json_response({"models": listing})


async def metrics(request: Request) -> Response:
    """Prometheus' text format: every worker's samples, summed (drift: the worst worker's).

    The drift gauges are set from the windows first, and with several workers every
    worker's files are read: done off the event loop, so a scrape never holds up the
    requests in flight.
    """
    body = await run_in_threadpool(_scrape, server_state(request.app))
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _scrape(state: ServerState) -> bytes:
    state.monitor.refresh_gauges()
    return state.metrics.render()


def _health(context: Context) -> dict[str, Any]:
    return {"responses": {"200": text_content("`up`")}}


def _ready(context: Context) -> dict[str, Any]:
    return {
        "responses": {
            "200": text_content("`ready`"),
            "503": text_content("`not ready`: models are loading or the server is stopping"),
        }
    }


def _service_info(context: Context) -> dict[str, Any]:
    body = {
        "type": "object",
        "required": ["version", "models"],
        "properties": {
            "version": {"type": "string"},
            "models": {"type": "array", "items": {"type": "string"}},
        },
    }
    return {"responses": {"200": json_content(body, "the service and what it serves")}}


def _models(context: Context) -> dict[str, Any]:
    model = {
        "type": "object",
        "required": ["name", "version", "state", "file", "default"],
        "properties": {
            "name": {"type": "string"},
            "version": {"type": "string"},
            "state": {"enum": ["loading", "ready", "failed", "unloaded"]},
            "file": {"type": "string"},
            "default": {"type": "boolean"},
            "error": {"type": "string"},
        },
    }
    body = {
        "type": "object",
        "required": ["models"],
        "properties": {"models": {"type": "array", "items": model}},
    }
    return {"responses": {"200": json_content(body, "every served model")}}


def _metrics(context: Context) -> dict[str, Any]:
    return {"responses": {"200": text_content("Prometheus' text exposition", PROMETHEUS_TEXT)}}


OPERATIONS = [
    Operation("GET", "/health", health, "health", "probes", _health, public=True),
    Operation("GET", "/ready", ready, "ready", "probes", _ready, public=True),
    Operation("GET", "/service-info", service_info, "service_info", "service", _service_info),
    Operation("GET", "/models", models, "models", "service", _models),
    Operation("GET", "/metrics", metrics, "metrics", "service", _metrics),
]
"""Probes, service information, the list of models and the metrics."""
