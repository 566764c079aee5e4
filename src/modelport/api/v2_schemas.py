"""The Open Inference Protocol's REST schemas, as its published specification gives them.

`tests/data/open_inference_rest.yaml` keeps a copy of the specification; a test checks that
these agree with it, so the V2 routes are documented the way every V2 client reads them.
"""

from __future__ import annotations

from typing import Any

_PARAMETERS = {"type": "object"}
_TENSOR_DATA = {
    "type": "array",
    "items": {
        "anyOf": [
            {"$ref": "#/components/schemas/v2.tensor_data"},
            {"type": "number"},
            {"type": "string"},
            {"type": "boolean"},
        ]
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/v2.{name}"}


def _shape() -> dict[str, Any]:
    return {"type": "array", "items": {"type": "integer"}}


def _tensor() -> dict[str, Any]:
    """A tensor with its data: an input of a request, an output of a response."""
    return {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "shape": _shape(),
            "datatype": {"type": "string"},
            "parameters": _ref("parameters"),
            "data": _ref("tensor_data"),
        },
        "required": ["name", "shape", "datatype", "data"],
    }


V2_SCHEMAS: dict[str, dict[str, Any]] = {
    "metadata_server_response": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "version": {"type": "string"},
            "extensions": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name", "version", "extensions"],
    },
    "metadata_model_response": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "versions": {"type": "array", "items": {"type": "string"}},
            "platform": {"type": "string"},
            "inputs": {"type": "array", "items": _ref("metadata_tensor")},
            "outputs": {"type": "array", "items": _ref("metadata_tensor")},
            "properties": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "required": ["name", "platform"],
    },
    "metadata_tensor": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "datatype": {"type": "string"},
            "shape": _shape(),
        },
        "required": ["name", "datatype", "shape"],
    },
    "inference_request": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "parameters": _ref("parameters"),
            "inputs": {"type": "array", "items": _ref("request_input")},
            "outputs": {"type": "array", "items": _ref("request_output")},
        },
        "required": ["inputs"],
    },
    "parameters": _PARAMETERS,
    "request_input": _tensor(),
    "tensor_data": _TENSOR_DATA,
    "request_output": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "parameters": _ref("parameters")},
        "required": ["name"],
    },
    "response_output": _tensor(),
    "inference_response": {
        "type": "object",
        "properties": {
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
            "id": {"type": "string"},
            "parameters": _ref("parameters"),
            "outputs": {"type": "array", "items": _ref("response_output")},
        },
        "required": ["model_name", "outputs"],
    },
    "error_response": {
        "type": "object",
        "properties": {"error": {"type": "string"}},
        "required": ["error"],
    },
}
"""Each schema under the specification's own name (its three identical error schemas are
one here), registered as `v2.<name>` in the document."""


def v2_schema(name: str) -> dict[str, str]:
    """A reference to one of the protocol's schemas."""
    return _ref(name)
