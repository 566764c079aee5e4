"""JSON schemas of the API's bodies, from a model's metadata and the Open Inference Protocol.

The route table (`api/routes/`) says which of these each operation takes and answers;
`api/openapi.py` assembles them into the document.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from modelport.metadata import FeatureSpec, FeatureType, ModelMetadata, Task

_JSON_TYPES = {
    FeatureType.NUMERIC: "number",
    FeatureType.INTEGER: "integer",
    FeatureType.BOOLEAN: "boolean",
    FeatureType.TEXT: "string",
}
PROMETHEUS_TEXT = "text/plain"
"""The media type of Prometheus' text exposition format (its version is a parameter)."""


@dataclass(frozen=True)
class Context:
    """What an operation's description depends on: the served models, and for the
    operations documented per model, the model being documented."""

    models: list[str]
    model: str | None = None
    metadata: ModelMetadata | None = None

    @property
    def record(self) -> dict[str, Any]:
        """A reference to the documented model's record schema."""
        return {"$ref": f"#/components/schemas/{record_name(self.model or '')}"}

    @property
    def model_metadata(self) -> ModelMetadata:
        """The documented model's metadata (per-model operations only)."""
        assert self.metadata is not None, "a per-model operation described without its model"
        return self.metadata

    @property
    def name_parameter(self) -> dict[str, Any]:
        """`{name}` in a path: one of the served models."""
        return path_parameter("name", {"type": "string", "enum": self.models})


def path_parameter(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A required path parameter."""
    return {"name": name, "in": "path", "required": True, "schema": schema}


def json_content(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A response whose body is JSON of this schema."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def text_content(description: str, media_type: str = "text/plain") -> dict[str, Any]:
    """A response whose body is text."""
    return {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}


def problem(description: str) -> dict[str, Any]:
    """An error response: an RFC 9457 problem document."""
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


def v2_error(description: str) -> dict[str, Any]:
    """An error response under /v2: the protocol's `{"error": ...}`."""
    return json_content({"$ref": "#/components/schemas/v2.error_response"}, description)


def record_name(model: str) -> str:
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


def records_body(context: Context) -> dict[str, Any]:
    """A request body of records: one, a list, `{"_data", "_samples"}`, or a CSV table."""
    record, metadata = context.record, context.model_metadata
    examples = metadata.examples or [{}]
    return {
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


def _csv(metadata: ModelMetadata) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=metadata.feature_names, lineterminator="\n")
    writer.writeheader()
    writer.writerows(metadata.examples[:3])
    return buffer.getvalue()


def prediction_schema(metadata: ModelMetadata) -> dict[str, Any]:
    """`{"prediction": [...], "explanation": [...]}`: labels, or {class: probability} rows."""
    if metadata.task is Task.REGRESSION:
        item: dict[str, Any] = {"type": "number"}
    else:
        item = {
            "oneOf": [
                {"type": ["string", "number", "boolean"], "description": "a label"},
                {
                    "type": "object",
                    "description": "{class: probability}",
                    "additionalProperties": {"type": "number"},
                },
            ]
        }
    return {
        "type": "object",
        "required": ["prediction"],
        "properties": {
            "prediction": {"type": "array", "items": item},
            "explanation": {"type": "array", "items": {"type": "object"}},
        },
    }


def problem_schema() -> dict[str, Any]:
    """RFC 9457's problem document, with the `errors` extension that locates each problem."""
    return {
        "type": "object",
        "required": ["type", "title", "status", "detail"],
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
                    "required": ["detail"],
                    "properties": {
                        "detail": {"type": "string"},
                        "pointer": {"type": "string"},
                        "parameter": {"type": "string"},
                        "row": {"type": "integer"},
                        "line": {"type": "integer"},
                        "column": {"type": "string"},
                    },
                },
            },
        },
    }
