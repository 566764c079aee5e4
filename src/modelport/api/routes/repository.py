"""The V2 repository extension: index, load and unload (admin keys only; off without them)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from modelport.api.heap import change_models
from modelport.api.responses import json_response
from modelport.api.routes.operation import Operation
from modelport.api.schemas import Context, json_content, v2_error
from modelport.api.state import server_state
from modelport.errors import ModelportError
from modelport.registry import Registry
from modelport.repository import discover

_STATES = {
    "ready": "READY",
    "loading": "LOADING",
    "failed": "UNAVAILABLE",
    "unloaded": "UNAVAILABLE",
}
NOT_LOADED = "not loaded yet: load it, or wait for the next reload"


async def index(request: Request) -> Response:
    """Every model version with its state, and the reason when it is not ready.

    An index only reads: it loads nothing and collects nothing. A bundle on disk that the
    server has not loaded yet is listed as unavailable.
    """
    registry = server_state(request.app).registry
    return json_response(await run_in_threadpool(_listing, registry))


def _listing(registry: Registry) -> list[dict[str, str]]:
    entries = registry.entries
    listing = []
    for entry in entries:
        item = {"name": entry.name, "version": entry.version, "state": _STATES[entry.state]}
        if entry.error or entry.state == "unloaded":
            item["reason"] = entry.error or "unloaded"
        listing.append(item)
    known = {(entry.name, entry.version) for entry in entries}
    try:
        on_disk = discover(registry.settings.bundle_path)
    except ModelportError:  # the folder emptied: what serves is still listed
        on_disk = []
    for source in on_disk:
        if source.key not in known:
            item = {"name": source.name, "version": source.version, "state": "UNAVAILABLE"}
            listing.append(item | {"reason": NOT_LOADED})
    return sorted(listing, key=lambda item: (item["name"], item["version"]))


async def load(request: Request, name: str) -> Response:
    """Load (again) every version of a model from disk; 200 once it serves."""
    registry = server_state(request.app).registry
    await change_models(registry, registry.load, name)
    return json_response({})


async def unload(request: Request, name: str) -> Response:
    """Stop serving a model until it is loaded again."""
    registry = server_state(request.app).registry
    await change_models(registry, registry.unload, name)
    return json_response({})


_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}


def _index(context: Context) -> dict[str, Any]:
    item = {
        "type": "object",
        "required": ["name", "version", "state"],
        "properties": {
            "name": {"type": "string"},
            "version": {"type": "string"},
            "state": {"enum": ["READY", "LOADING", "UNAVAILABLE"]},
            "reason": {"type": "string"},
        },
    }
    body = {"type": "array", "items": item}
    return {"responses": {"200": json_content(body, "every model version in the repository")}}


def _load(context: Context) -> dict[str, Any]:
    return {
        "parameters": [_NAME],
        "responses": {
            "200": json_content({"type": "object"}, "the model serves"),
            "404": v2_error("the repository has no such model"),
            "503": v2_error("no version of the model could be loaded"),
        },
    }


def _unload(context: Context) -> dict[str, Any]:
    return {
        "parameters": [_NAME],
        "responses": {
            "200": json_content({"type": "object"}, "the model no longer serves"),
            "404": v2_error("no such model"),
        },
    }


OPERATIONS = [
    Operation(
        "POST", "/v2/repository/index", index, "v2_repository_index", "v2 repository", _index,
    ),
    Operation(
        "POST", "/v2/repository/models/{name}/load", load, "v2_repository_load",
        "v2 repository", _load,
    ),
    Operation(
        "POST", "/v2/repository/models/{name}/unload", unload, "v2_repository_unload",
        "v2 repository", _unload,
    ),
]  # fmt: skip
"""Served only when admin keys are set, and only to them."""
