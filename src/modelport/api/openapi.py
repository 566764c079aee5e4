"""The OpenAPI document, built from the route table and the registry's models.

Server-wide operations are documented once. Per-model operations (`/predict`...) are
documented at each ready model's concrete paths, with a record schema built from its
metadata, so Swagger's "Try it out", generated clients and API fuzzers send values the
model accepts.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI

from modelport._version import __version__
from modelport.api.auth import ADMIN_PREFIX
from modelport.api.routes.operation import Operation
from modelport.api.schemas import (
    Context,
    path_parameter,
    problem,
    problem_schema,
    record_name,
    record_schema,
)
from modelport.api.schemas import v2_error as v2_error_response
from modelport.api.state import server_state
from modelport.api.v2_schemas import V2_SCHEMAS
from modelport.errors import ModelportError
from modelport.registry import Registry


def install_openapi(
    app: FastAPI, operations: list[Operation], *, api_keys: bool, admin_keys: bool
) -> None:
    """Replace `app.openapi` with a builder that follows the registry's models."""
    cache: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        registry = server_state(app).registry
        key = tuple(
            (e.name, e.version, e.state, e.predictor.bundle.sha256 if e.predictor else None)
            for e in registry.entries
        )
        if cache.get("key") != key:
            secured = _Secured(api_keys, admin_keys)
            cache["key"], cache["document"] = (
                key,
                build_document(app, registry, operations, secured),
            )
        document: dict[str, Any] = cache["document"]
        return document

    app.openapi = openapi  # type: ignore[method-assign]


class _Secured:
    """Which operations need a bearer token, as the gate's auth check decides it."""

    def __init__(self, api_keys: bool, admin_keys: bool) -> None:
        self.api_keys, self.admin_keys = api_keys, admin_keys

    def __call__(self, operation: Operation) -> bool:
        if operation.path.startswith(ADMIN_PREFIX):
            return self.admin_keys
        return self.api_keys and not operation.public

    @property
    def any(self) -> bool:
        return self.api_keys or self.admin_keys


def build_document(
    app: FastAPI, registry: Registry, operations: list[Operation], secured: _Secured
) -> dict[str, Any]:
    """Every operation of the table; the per-model ones at each ready model's paths."""
    schemas: dict[str, Any] = {"Problem": problem_schema()}
    schemas |= {f"v2.{name}": schema for name, schema in V2_SCHEMAS.items()}
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": app.title, "version": __version__, "description": app.description},
        "paths": {},
        "components": {"schemas": schemas},
    }
    models = registry.names
    for operation in operations:
        if not operation.per_model:
            _add(document, operation, operation.path, Context(models), operation.name, secured)
    for name in models:
        try:
            entry = registry.entry(name)  # the default (highest) version is what /models/ serves
        except ModelportError:
            continue
        if entry.predictor is None:
            continue
        metadata = entry.predictor.metadata
        schemas[record_name(name)] = record_schema(metadata)
        context = Context(models, name, metadata)
        prefixes = [f"/models/{name}"] + ([""] if name == registry.default_name else [])
        for prefix in prefixes:
            for operation in operations:
                if operation.per_model:
                    path, operation_id = prefix + operation.path, operation.name + prefix
                    operation_id = operation_id.replace("/", "_")
                    _add(document, operation, path, context, operation_id, secured, tag=name)
    if secured.any:
        document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return document


def _add(
    document: dict[str, Any],
    operation: Operation,
    path: str,
    context: Context,
    operation_id: str,
    secured: _Secured,
    tag: str | None = None,
) -> None:
    described = operation.describe(context)
    if described is None:
        return
    item: dict[str, Any] = {
        "tags": [tag or operation.tag],
        "summary": operation.summary,
        "operationId": operation_id,
        **described,
    }
    parameters = _path_parameters(path, context, described.get("parameters", []))
    if parameters:
        item["parameters"] = parameters + described.get("parameters", [])
    if secured(operation):
        item["security"] = [{"bearer": []}]
        unauthorized = "a missing or unknown bearer token"
        v2 = path.startswith("/v2")
        refused = v2_error_response(unauthorized) if v2 else problem(unauthorized)
        item["responses"] = {**item["responses"], "401": refused}
    document["paths"].setdefault(path, {})[operation.method.lower()] = item


def _path_parameters(
    path: str, context: Context, declared: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The path's `{placeholders}` an operation does not declare itself: `{name}` is one of
    the served models, anything else a string."""
    named = {p["name"] for p in declared if p["in"] == "path"}
    return [
        context.name_parameter
        if placeholder == "name"
        else path_parameter(placeholder, {"type": "string"})
        for placeholder in re.findall(r"\{(\w+)\}", path)
        if placeholder not in named
    ]
