"""Every error → one response shape: RFC 9457 problem+json, or `{"error"}` under /v2."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from modelport.errors import (
    AuthenticationError,
    BodyTimeoutError,
    FieldProblem,
    InvalidInputError,
    ModelportError,
    OverloadedError,
    RequestError,
)

logger = logging.getLogger("modelport.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"
V2_PREFIX = "/v2"


@dataclass(frozen=True)
class InputSource:
    """Where a request's rows came from, so errors can point into the body as sent."""

    kind: str  # "json", "query" or "csv"
    prefix: str = ""  # "/_data" when the records sat under the template's `_data` key


def problem_response(
    request: Request | None,
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    path: str = "",
    request_id: str | None = None,
) -> Response:
    """Render one error: a problem document, or the V2 protocol's `{"error": ...}`.

    A server error's document names the request id (also in the `X-Request-ID` header), so
    a client's report finds the traceback in the log.
    """
    path = request.url.path if request is not None else path
    if path == V2_PREFIX or path.startswith(V2_PREFIX + "/"):
        # The protocol answers 400 for any bad request; statuses that say something other
        # than "your request is wrong" (and 405, whose Allow header says what is right) stay.
        v2_status = (
            status if status in (401, 403, 404, 405, 408, 413, 503) or status >= 500 else 400
        )
        return Response(orjson.dumps({"error": detail}), v2_status, headers, "application/json")
    body: dict[str, Any] = {
        "type": _type_of(title) if title else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": path,
    }
    if errors:
        body["errors"] = errors
    if request_id is not None:
        body["request_id"] = request_id
    return Response(orjson.dumps(body), status, headers, PROBLEM_MEDIA_TYPE)


def _type_of(title: str) -> str:
    return "urn:modelport:problem:" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def locate(problem: FieldProblem, source: InputSource | None) -> dict[str, Any]:
    """One `errors` entry: a JSON pointer into the body, a query parameter, or a CSV cell."""
    entry: dict[str, Any] = {"detail": problem.detail}
    kind = source.kind if source else "json"
    if kind == "query":
        if problem.field is not None:
            entry["parameter"] = problem.field
    elif kind == "csv":
        if problem.row is not None:
            entry["row"] = problem.row
            entry["line"] = problem.row + 2  # the header is line 1
        if problem.field is not None:
            entry["column"] = problem.field
    else:
        parts = [source.prefix if source else ""]
        if problem.row is not None:
            parts.append(f"/{problem.row}")
        if problem.field is not None:
            parts.append("/" + problem.field.replace("~", "~0").replace("/", "~1"))
        entry["pointer"] = "#" + "".join(parts)
    return entry


async def _modelport_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ModelportError)
    errors = None
    if isinstance(error, InvalidInputError):
        source = getattr(request.state, "input_source", None)
        if error.within:
            source = InputSource("json", "/" + error.within)
        errors = [locate(problem, source) for problem in error.problems]
    elif isinstance(error, RequestError) and error.parameter:
        errors = [{"detail": str(error), "parameter": error.parameter}]
    headers = _headers(error)
    request_id = None
    if error.status >= 500 and not isinstance(error, OverloadedError):  # shed: counted, not logged
        request_id = _request_id(request)
        logger.error(
            "%s %s: %s (%s)", request.method, request.url.path, error, _whose(request, request_id)
        )
    return problem_response(
        request,
        error.status,
        str(error),
        title=error.title,
        errors=errors,
        headers=headers,
        request_id=request_id,
    )


def _headers(error: ModelportError) -> dict[str, str] | None:
    """What the client must know beside the body: how to authenticate, when to retry, and
    that a connection whose body never fully arrived can't be used again."""
    if isinstance(error, AuthenticationError):
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(error, OverloadedError):
        return {"Retry-After": str(error.retry_after)}
    if isinstance(error, BodyTimeoutError):
        return {"Connection": "close"}
    return None


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    errors = [
        {"detail": item["msg"], "parameter": str(item["loc"][-1])} for item in error.errors()[:20]
    ]
    return problem_response(
        request, 422, "the request's parameters are invalid", title="Invalid input", errors=errors
    )


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    detail = error.detail if isinstance(error.detail, str) else HTTPStatus(error.status_code).phrase
    if error.status_code == 404:
        detail = f"no route {request.url.path}"
    headers = dict(error.headers) if error.headers else None
    return problem_response(request, error.status_code, detail, headers=headers)


async def _unexpected_error(request: Request, error: Exception) -> Response:
    # Logged with its traceback; the client sees no detail (Starlette re-raises for the server).
    request_id = _request_id(request)
    logger.exception(
        "unexpected error on %s %s (%s)",
        request.method,
        request.url.path,
        _whose(request, request_id),
        exc_info=error,
    )
    # uvicorn closes the connection after an error the app re-raises: say so, or a client
    # reusing the connection for its next request gets a reset.
    return problem_response(
        request,
        500,
        "the server failed to answer this request",
        headers={"Connection": "close"},
        request_id=request_id,
    )


def _request_id(request: Request) -> str | None:
    """The id the gate gave the request (None outside it, in a bare app)."""
    return getattr(request.state, "request_id", None)


def _whose(request: Request, request_id: str | None) -> str:
    """`model NAME, request id ID`: what a log line about a failed request needs."""
    return f"model {getattr(request.state, 'model', '-')}, request id {request_id or '-'}"


def install_problem_handlers(app: FastAPI) -> None:
    """Register the one handler per error family, replacing FastAPI's own."""
    app.add_exception_handler(ModelportError, _modelport_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
