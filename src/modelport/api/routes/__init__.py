"""Route groups: classic (the Flask template's routes), V2, repository and server-wide."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Endpoint = Callable[[Request], Awaitable[Response]]


def add_plain_route(app: FastAPI, path: str, endpoint: Endpoint, methods: list[str]) -> None:
    """A Starlette route for a hot path: the request is all it takes, so FastAPI's
    per-request dependency solving is skipped. Like FastAPI's own routes it names itself
    in `scope["route"]`, which the metrics label requests by. The OpenAPI document
    describes these routes from the registry.
    """
    route: Route

    async def named(request: Request) -> Response:
        request.scope["route"] = route
        return await endpoint(request)

    route = Route(path, named, methods=methods, name=endpoint.__name__)
    app.router.routes.append(route)
