"""The OpenAPI document, rebuilt from the registry: one request schema per model.

The routes are generic (`/models/{name}/predict`); the document lists each served model's
concrete paths with a schema built from its metadata, so Swagger's "Try it out", generated
clients and API fuzzers send values the model accepts.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from modelport._version import __version__
from modelport.errors import ModelportError
from modelport.metadata import FeatureSpec, FeatureType, ModelMetadata, Task
from modelport.registry import ModelEntry, Registry

_JSON_TYPES = {
    FeatureType.NUMERIC: "number",
    FeatureType.INTEGER: "integer",
    FeatureType.BOOLEAN: "boolean",
    FeatureType.TEXT: "string",
}
_PROBLEM = {
    "description": "a problem document naming each wrong field",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
_FLAGS = [
    {
        "name": "proba",
        "in": "query",
        "schema": {"type": "integer", "enum": [0, 1], "default": 0},
        "description": "1: one {class: probability} per row instead of labels (classifiers).",
    },
    {
        "name": "explain",
        "in": "query",
        "schema": {"type": "integer", "enum": [0, 1], "default": 0},
        "description": "1: add SHAP explanations (`_samples`, if sent, is the background).",
    },
]


def install_openapi(app: FastAPI) -> None:
    """Replace `app.openapi` with a builder that follows the registry's models."""
    cache: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        registry: Registry = app.state.registry
        key = tuple(
            (e.name, e.version, e.state, e.predictor.bundle.sha256 if e.predictor else None)
            for e in registry.entries
        )
        if cache.get("key") != key:
            cache["key"], cache["document"] = key, build_document(app, registry)
        document: dict[str, Any] = cache["document"]
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def build_document(app: FastAPI, registry: Registry) -> dict[str, Any]:
    """The server-wide routes FastAPI knows, plus every ready model's own paths."""
    document = get_openapi(
        title=app.title, version=__version__, description=app.description, routes=app.routes
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = _problem_schema()
    for name in registry.names:
        try:
            entry = registry.entry(
                name
            )  # the default (highest) version is what /models/<name> serves
        except ModelportError:
            continue
        if entry.predictor is None:
            continue
        prefixes = [f"/models/{entry.name}"] + ([""] if entry.name == registry.default_name else [])
        schemas[_record_name(entry.name)] = record_schema(entry.predictor.metadata)
        for prefix in prefixes:
            document["paths"].update(model_paths(entry, prefix))
    document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    document["security"] = [{"bearer": []}]
    return document


def _record_name(model: str) -> str:
    """Model names already fit OpenAPI's component-name pattern: keep them, so none collide."""
    return f"{model}.Record"


def record_schema(metadata: ModelMetadata) -> dict[str, Any]:
    """One record: a property per feature, with its type, categories, default and range."""
    properties = {feature.name: feature_schema(feature) for feature in metadata.features}
    required = [
        f.name
        for f in metadata.features
        if f.default is None and not (f.accepts_missing and metadata.allows_nan)
    ]
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    if metadata.examples:
        schema["example"] = metadata.examples[0]
    return schema


def feature_schema(feature: FeatureSpec) -> dict[str, Any]:
    """A feature's JSON schema; null means "use the default"."""
    if feature.type is FeatureType.CATEGORICAL:
        schema: dict[str, Any] = (
            {"enum": [*feature.categories, None]}
            if feature.categories
            else {"type": ["string", "null"]}
        )
    else:
        schema = {"type": [_JSON_TYPES[feature.type], "null"]}
    notes = [feature.description] if feature.description else []
    if feature.min is not None and feature.max is not None:
        notes.append(f"Training range {feature.min:g} to {feature.max:g} (not enforced).")
        schema |= {"x-training-min": feature.min, "x-training-max": feature.max}
    if feature.default is not None:
        schema["default"] = feature.default
    if feature.example is not None:
        schema["examples"] = [feature.example]
    if notes:
        schema["description"] = " ".join(notes)
    return schema


def model_paths(entry: ModelEntry, prefix: str) -> dict[str, Any]:
    """The concrete paths of one model under `prefix` (`/models/<name>` or the root)."""
    assert entry.predictor is not None
    metadata = entry.predictor.metadata
    record = {"$ref": f"#/components/schemas/{_record_name(entry.name)}"}
    tag = entry.name
    summary = metadata.description or entry.name
    examples = metadata.examples or [{}]
    body = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        record,
                        {"type": "array", "items": record, "minItems": 1},
                        {
                            "type": "object",
                            "required": ["_data"],
                            "additionalProperties": False,
                            "properties": {
                                "_data": {"oneOf": [record, {"type": "array", "items": record}]},
                                "_samples": {"type": "array", "items": record},
                            },
                        },
                    ]
                },
                "examples": {
                    "one record": {"value": examples[0]},
                    "several records": {"value": examples},
                },
            },
            "text/csv": {"schema": {"type": "string"}, "example": _csv(metadata)},
        },
    }
    prediction = {
        "description": "one prediction per row",
        "content": {"application/json": {"schema": _prediction_schema(metadata)}},
    }
    query = [
        {"name": f.name, "in": "query", "required": False, "schema": feature_schema(f)}
        for f in metadata.features
    ]
    paths: dict[str, Any] = {
        f"{prefix}/predict": {
            "post": {
                "tags": [tag],
                "summary": f"Predict: {summary}",
                "operationId": f"predict{prefix.replace('/', '_')}",
                "parameters": _FLAGS,
                "requestBody": body,
                "responses": {
                    "200": prediction,
                    "400": _PROBLEM,
                    "413": _PROBLEM,
                    "415": _PROBLEM,
                    "422": _PROBLEM,
                },
            },
            "get": {
                "tags": [tag],
                "summary": "Predict one row from the query string; absent features take defaults",
                "operationId": f"predict_query{prefix.replace('/', '_')}",
                "parameters": [*query, *_FLAGS],
                "responses": {"200": prediction, "422": _PROBLEM},
            },
        },
        f"{prefix}/preprocess": {
            "post": {
                "tags": [tag],
                "summary": "The rows as the model sees them",
                "operationId": f"preprocess{prefix.replace('/', '_')}",
                "requestBody": body,
                "responses": {"200": {"description": "the validated rows"}, "422": _PROBLEM},
            },
        },
        f"{prefix}/info": {
            "get": {
                "tags": [tag],
                "summary": "Metadata and model information",
                "operationId": f"info{prefix.replace('/', '_')}",
                "responses": {"200": {"description": "metadata and model"}},
            }
        },
        f"{prefix}/features": {
            "get": {
                "tags": [tag],
                "summary": "Features with types, defaults and importances",
                "operationId": f"features{prefix.replace('/', '_')}",
                "responses": {"200": {"description": "the features"}},
            }
        },
    }
    if metadata.input_kind == "text":
        paths[f"{prefix}/"] = {
            "get": {
                "tags": [tag],
                "summary": "Classify a text",
                "operationId": f"text{prefix.replace('/', '_')}",
                "parameters": [
                    {
                        "name": "query",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string"},
                        "example": metadata.features[0].example or "great value",
                    }
                ],
                "responses": {
                    "200": {"description": "the label and the probability of that label"},
                    "422": _PROBLEM,
                },
            }
        }
    return paths


def _csv(metadata: ModelMetadata) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=metadata.feature_names, lineterminator="\n")
    writer.writeheader()
    writer.writerows(metadata.examples[:3])
    return buffer.getvalue()


def _prediction_schema(metadata: ModelMetadata) -> dict[str, Any]:
    if metadata.task is Task.REGRESSION:
        item: dict[str, Any] = {"type": "number"}
    else:
        item = {
            "oneOf": [
                {"description": "a label"},
                {
                    "type": "object",
                    "description": "{class: probability}",
                    "additionalProperties": {"type": "number"},
                },
            ]
        }
    return {
        "type": "object",
        "properties": {
            "prediction": {"type": "array", "items": item},
            "explanation": {"type": "array", "items": {"type": "object"}},
        },
    }


def _problem_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "detail": {"type": "string"},
                        "pointer": {"type": "string"},
                        "parameter": {"type": "string"},
                    },
                },
            },
        },
    }
