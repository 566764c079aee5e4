"""The Open Inference Protocol's REST routes under /v2 (errors are `{"error": ...}`)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from modelport._version import __version__
from modelport.api.body import read_body
from modelport.api.dispatch import Dispatcher
from modelport.api.readiness import is_ready
from modelport.api.routes import add_plain_route
from modelport.api.routes.classic import json_response
from modelport.predictor import Predictor
from modelport.registry import Registry, ready_predictor
from modelport.v2.dataplane import model_metadata, requested_outputs, to_columns, to_tensor
from modelport.v2.tensors import HEADER_LENGTH, decode_request, encode_response

EXTENSIONS = ["binary_tensor_data"]


def install_v2_routes(app: FastAPI) -> None:
    """Server and model health, metadata and inference, each with an optional version."""
    app.add_api_route("/v2", server_metadata, methods=["GET"], tags=["v2"])
    app.add_api_route("/v2/health/live", live, methods=["GET"], tags=["v2"])
    app.add_api_route("/v2/health/ready", ready, methods=["GET"], tags=["v2"])
    for suffix in ("", "/versions/{version}"):
        base = "/v2/models/{name}" + suffix
        add_plain_route(app, base, _endpoint(metadata), ["GET"])
        add_plain_route(app, base + "/ready", _endpoint(model_ready), ["GET"])
        add_plain_route(app, base + "/infer", _endpoint(infer_route), ["POST"])


def _endpoint(handler: Any) -> Any:
    """A plain Starlette endpoint (no per-request dependency solving) for a model route."""

    async def endpoint(request: Request) -> Response:
        params = request.path_params
        response: Response = await handler(request, params["name"], params.get("version"))
        return response

    endpoint.__name__ = handler.__name__
    return endpoint


async def server_metadata() -> Response:
    """`{"name", "version", "extensions"}`."""
    return json_response({"name": "modelport", "version": __version__, "extensions": EXTENSIONS})


async def live() -> Response:
    """200 as soon as the server accepts connections."""
    return json_response({"live": True})


async def ready(request: Request) -> Response:
    """200 once the models serve (as MODELPORT_READY_WHEN asks); 503 while loading or stopping."""
    answer = is_ready(request)
    return json_response({"ready": answer}, 200 if answer else 503)


def _resolve(request: Request, name: str, version: str | None) -> tuple[str, Predictor]:
    """The version served and its predictor; 404 for an unknown model or version."""
    registry: Registry = request.app.state.registry
    entry = registry.entry(name, version)
    request.state.model = entry.name
    return entry.version, ready_predictor(entry)


async def metadata(request: Request, name: str, version: str | None = None) -> Response:
    """Inputs and outputs with names, datatypes and shapes."""
    served, predictor = _resolve(request, name, version)
    document = model_metadata(name, served, predictor)
    document["versions"] = request.app.state.registry.versions(name)
    return json_response(document)


async def model_ready(request: Request, name: str, version: str | None = None) -> Response:
    """200 when this model (version) is loaded, 503 while it loads."""
    registry: Registry = request.app.state.registry
    entry = registry.entry(name, version)
    is_ready = entry.predictor is not None
    return json_response({"name": name, "ready": is_ready}, 200 if is_ready else 503)


async def infer_route(request: Request, name: str, version: str | None = None) -> Response:
    """Tensors in, `predict` / `predict_proba` out, JSON or binary as asked."""
    served, predictor = _resolve(request, name, version)
    body = await read_body(request, request.app.state.settings.max_body_bytes)
    decoded = await run_in_threadpool(decode_request, body, request.headers.get(HEADER_LENGTH))
    requested = requested_outputs(decoded, predictor)
    dispatch: Dispatcher = request.app.state.dispatch
    X = await dispatch.validate(
        predictor, to_columns(decoded.inputs, predictor.metadata), columns=True
    )
    outputs = [
        to_tensor(output, await dispatch.batcher(predictor, output, name)(X))
        for output in requested
    ]
    request.app.state.metrics.count_rows(name, len(X))
    content, headers = encode_response(name, served, decoded, outputs)
    return Response(content, 200, headers=headers)
