"""The Open Inference Protocol's REST routes under /v2 (errors are `{"error": ...}`)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from modelport._version import __version__
from modelport.api.admission import admitted_body
from modelport.api.body import read_body
from modelport.api.monitor import watch
from modelport.api.readiness import is_ready
from modelport.api.responses import json_response
from modelport.api.routes.operation import Operation
from modelport.api.schemas import Context, json_content, v2_error
from modelport.api.state import server_state
from modelport.api.turns import BIG_BODY_BYTES
from modelport.api.v2_schemas import v2_schema
from modelport.predictor import Predictor
from modelport.registry import ready_predictor
from modelport.v2.dataplane import (
    PREDICT,
    PREDICT_PROBA,
    model_metadata,
    requested_outputs,
    to_columns,
    to_tensor,
)
from modelport.v2.tensors import HEADER_LENGTH, decode_request, encode_response

EXTENSIONS = ["binary_tensor_data"]


async def server_metadata(request: Request) -> Response:
    """Server metadata: name, version and the protocol extensions it supports."""
    return json_response({"name": "modelport", "version": __version__, "extensions": EXTENSIONS})


async def live(request: Request) -> Response:
    """Server live: 200 as soon as the server accepts connections."""
    return json_response({"live": True})


async def ready(request: Request) -> Response:
    """200 once the models serve (as MODELPORT_READY_WHEN asks); 503 while loading or stopping."""
    answer = is_ready(request)
    return json_response({"ready": answer}, 200 if answer else 503)


def _resolve(request: Request, name: str, version: str | None) -> tuple[str, Predictor]:
    """The version served and its predictor; 404 for an unknown model or version."""
    entry = server_state(request.app).registry.entry(name, version)
    request.state.model = entry.name
    return entry.version, ready_predictor(entry)


async def metadata(request: Request, name: str, version: str | None = None) -> Response:
    """Model metadata: inputs and outputs with names, datatypes and shapes."""
    served, predictor = _resolve(request, name, version)
    document = model_metadata(name, served, predictor)
    document["versions"] = server_state(request.app).registry.versions(name)
    return json_response(document)


async def model_ready(request: Request, name: str, version: str | None = None) -> Response:
    """Model ready: 200 when this model (version) is loaded, 503 while it loads."""
    entry = server_state(request.app).registry.entry(name, version)
    is_ready = entry.predictor is not None
    return json_response({"name": name, "ready": is_ready}, 200 if is_ready else 503)


async def infer_route(request: Request, name: str, version: str | None = None) -> Response:
    """Inference: tensors in, `predict` / `predict_proba` out, JSON or binary as asked."""
    served, predictor = _resolve(request, name, version)
    state = server_state(request.app)
    async with admitted_body(request):
        body = await read_body(request, state.settings.max_body_bytes)
        async with state.dispatch.turns.when(len(body) >= BIG_BODY_BYTES):
            length = request.headers.get(HEADER_LENGTH)
            decoded = await run_in_threadpool(decode_request, body, length)
    requested = requested_outputs(decoded, predictor)
    dispatch = state.dispatch
    X = await dispatch.validate(
        predictor, to_columns(decoded.inputs, predictor.metadata), columns=True
    )
    answers = {output: await dispatch.batcher(predictor, output, name)(X) for output in requested}
    outputs = [to_tensor(output, rows) for output, rows in answers.items()]
    state.metrics.count_rows(name, len(X))
    watch(request, predictor, served, "v2", X, answers.get(PREDICT), answers.get(PREDICT_PROBA))
    content, headers = encode_response(name, served, decoded, outputs)
    return Response(content, 200, headers=headers)


def _flag(key: str) -> dict[str, Any]:
    return {"type": "object", "required": [key], "properties": {key: {"type": "boolean"}}}


def _server_metadata(context: Context) -> dict[str, Any]:
    ok = json_content(v2_schema("metadata_server_response"), "OK")
    return {"responses": {"200": ok}}


def _live(context: Context) -> dict[str, Any]:
    return {"responses": {"200": json_content(_flag("live"), "live")}}


def _ready(context: Context) -> dict[str, Any]:
    return {
        "responses": {
            "200": json_content(_flag("ready"), "every model is loaded"),
            "503": json_content(_flag("ready"), "models are loading or the server is stopping"),
        }
    }


_MODEL_ERRORS = {
    "404": v2_error("no such model or version, or it is unloaded"),
    "503": v2_error("the model is loading, or failed to load"),
}


def _metadata(context: Context) -> dict[str, Any]:
    ok = json_content(v2_schema("metadata_model_response"), "OK")
    return {"responses": {"200": ok, **_MODEL_ERRORS}}


def _model_ready(context: Context) -> dict[str, Any]:
    body = {
        "type": "object",
        "required": ["name", "ready"],
        "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}},
    }
    return {
        "responses": {
            "200": json_content(body, "the model is loaded"),
            "503": json_content(body, "the model is loading, or failed to load"),
            "404": _MODEL_ERRORS["404"],
        },
    }


_BINARY = {
    "schema": {"type": "string", "format": "binary"},
    "description": "binary tensor data extension: the JSON header, then the raw tensors",
}
_HEADER_LENGTH = {
    "name": HEADER_LENGTH,
    "in": "header",
    "required": False,
    "description": "binary tensor data extension: the length of the JSON header",
    "schema": {"type": "integer", "minimum": 0},
}


def _infer(context: Context) -> dict[str, Any]:
    return {
        "parameters": [_HEADER_LENGTH],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": v2_schema("inference_request")},
                "application/octet-stream": _BINARY,
            },
        },
        "responses": {
            "200": {
                "description": "OK",
                "content": {
                    "application/json": {"schema": v2_schema("inference_response")},
                    "application/octet-stream": _BINARY,
                },
            },
            "400": v2_error("the request does not fit the model's inputs"),
            "413": v2_error("the body is larger than the server accepts"),
            **_MODEL_ERRORS,
        },
    }


def _model_operations(versioned: bool) -> list[Operation]:
    base = "/v2/models/{name}" + ("/versions/{version}" if versioned else "")
    suffix = "_version" if versioned else ""
    return [
        Operation("GET", base, metadata, "v2_metadata" + suffix, "v2", _metadata),
        Operation(
            "GET", base + "/ready", model_ready, "v2_model_ready" + suffix, "v2", _model_ready
        ),
        Operation("POST", base + "/infer", infer_route, "v2_infer" + suffix, "v2", _infer),
    ]


OPERATIONS = [
    Operation("GET", "/v2", server_metadata, "v2_server_metadata", "v2", _server_metadata),
    Operation("GET", "/v2/health/live", live, "v2_live", "v2", _live, public=True),
    Operation("GET", "/v2/health/ready", ready, "v2_ready", "v2", _ready, public=True),
    *_model_operations(versioned=False),
    *_model_operations(versioned=True),
]
"""The protocol's health, metadata and inference routes, each with an optional version."""
