"""A row of the route table, and the one way rows become Starlette routes.

Each route is declared once, as an `Operation`: the app serves it from that row and the
OpenAPI document describes it from the same row, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelport.api.schemas import Context

Handler = Callable[..., Awaitable[Response]]
"""`handler(request, **path_parameters)`: `/v2/models/{name}` calls it with `name=`."""
Describe = Callable[[Context], dict[str, Any] | None]
"""An OpenAPI operation (parameters, request body, responses) minus what the row says;
None leaves it out of the document (the text route of a model that takes features)."""

MODEL_PREFIX = "/models/{name}"


@dataclass(frozen=True)
class Operation:
    """One route: method, path, handler, and how the document describes it."""

    method: str
    path: str
    handler: Handler
    name: str
    """Its operationId (documented per model: with the model's path prefix appended)."""
    tag: str
    """Its group in the docs; operations documented per model are grouped by model instead."""
    describe: Describe
    public: bool = False
    """Answered without a bearer token: the probes an orchestrator calls."""
    per_model: bool = False
    """Served at the root for the default model and under /models/{name} for each one, and
    documented at each served model's concrete paths with the schema of its records."""

    @property
    def summary(self) -> str:
        """The handler's docstring's first line."""
        return (self.handler.__doc__ or self.name).strip().splitlines()[0]

    @property
    def served_paths(self) -> list[str]:
        """The path patterns the app answers this operation at."""
        return [self.path, MODEL_PREFIX + self.path] if self.per_model else [self.path]


def to_routes(operations: Iterable[Operation]) -> list[Route]:
    """One Starlette route per path, answering each method the table lists for it."""
    handlers: dict[str, dict[str, Operation]] = {}
    for operation in operations:
        for path in operation.served_paths:
            per_path = handlers.setdefault(path, {})
            assert operation.method not in per_path, f"{operation.method} {path} declared twice"
            per_path[operation.method] = operation
    return [_route(path, by_method) for path, by_method in handlers.items()]


def _route(path: str, operations: dict[str, Operation]) -> Route:
    """A plain Starlette route: the request is all a handler takes, so FastAPI's
    per-request dependency solving is skipped. Like FastAPI's own routes it names itself in
    `scope["route"]`, which the metrics label requests by.
    """
    route: Route
    handlers = {method: operation.handler for method, operation in operations.items()}
    if "GET" in handlers:
        handlers.setdefault("HEAD", handlers["GET"])

    async def endpoint(request: Request) -> Response:
        request.scope["route"] = route
        return await handlers[request.method](request, **request.path_params)

    name = "_or_".join(operation.name for operation in operations.values())
    route = Route(path, endpoint, methods=list(operations), name=name)
    return route
