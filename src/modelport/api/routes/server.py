"""Server-wide routes: probes, service information and the list of models."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import PlainTextResponse, Response

from modelport._version import __version__
from modelport.api.readiness import is_ready
from modelport.api.routes.classic import json_response
from modelport.introspection import family
from modelport.registry import Registry

TEMPLATE_VERSION = "2.2.0"
"""The Flask template version whose routes and shapes modelport keeps."""


def install_server_routes(app: FastAPI) -> None:
    """Probes, /service-info and /models."""
    app.add_api_route(
        "/health", health, methods=["GET"], response_class=PlainTextResponse, tags=["probes"]
    )
    app.add_api_route(
        "/ready",
        ready,
        methods=["GET"],
        response_class=PlainTextResponse,
        tags=["probes"],
        responses={503: {"description": "not ready: models are loading or the server is stopping"}},
    )
    app.add_api_route("/service-info", service_info, methods=["GET"], tags=["service"])
    app.add_api_route("/models", models, methods=["GET"], tags=["service"])


async def health() -> PlainTextResponse:
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
    registry: Registry = request.app.state.registry
    settings = request.app.state.settings
    name = registry.default_name
    entry = registry.entry(name) if name else None
    predictor = entry.predictor if entry else None
    body: dict[str, Any] = {
        "version": __version__,
        "version-template": TEMPLATE_VERSION,
        "running-since": request.app.state.started_at,
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
    registry: Registry = request.app.state.registry
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
