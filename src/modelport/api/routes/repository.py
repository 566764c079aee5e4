"""The V2 repository extension: index, load and unload (admin keys only; off without them)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import Response

from modelport.api.heap import change_models
from modelport.api.routes.classic import json_response
from modelport.registry import Registry

_STATES = {
    "ready": "READY",
    "loading": "LOADING",
    "failed": "UNAVAILABLE",
    "unloaded": "UNAVAILABLE",
}


def install_repository_routes(app: FastAPI) -> None:
    """`POST /v2/repository/index`, `.../models/{name}/load` and `.../unload`."""
    app.add_api_route("/v2/repository/index", index, methods=["POST"], tags=["v2 repository"])
    app.add_api_route(
        "/v2/repository/models/{name}/load", load, methods=["POST"], tags=["v2 repository"]
    )
    app.add_api_route(
        "/v2/repository/models/{name}/unload", unload, methods=["POST"], tags=["v2 repository"]
    )


async def index(request: Request) -> Response:
    """Every model version with its state, and the reason when it is not ready."""
    registry: Registry = request.app.state.registry
    await change_models(registry, registry.refresh)
    listing = []
    for entry in registry.entries:
        item = {"name": entry.name, "version": entry.version, "state": _STATES[entry.state]}
        if entry.error or entry.state == "unloaded":
            item["reason"] = entry.error or "unloaded"
        listing.append(item)
    return json_response(listing)


async def load(request: Request, name: str) -> Response:
    """Load (again) every version of a model from disk; 200 once it serves."""
    registry: Registry = request.app.state.registry
    await change_models(registry, registry.load, name)
    return json_response({})


async def unload(request: Request, name: str) -> Response:
    """Stop serving a model until it is loaded again."""
    registry: Registry = request.app.state.registry
    await change_models(registry, registry.unload, name)
    return json_response({})
