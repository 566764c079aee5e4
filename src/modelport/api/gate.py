"""The one ASGI layer every HTTP request passes: its id, its caller, its body's deadline,
the drain, its metrics and its access line.

One layer, not a middleware per concern: each layer wraps `receive` and `send` again and
adds frames to every request (four of them cost more than the model's own call for a
one-row prediction, measured). Prediction routes then go straight to their handler (the
fast lane); every other request goes through FastAPI's stack, as before.

uvicorn bounds the time an idle keep-alive connection stays open, not the time a body takes
to arrive, nor the time headers take (a proxy in front bounds those: see the README's
production notes): the gate bounds the body's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelport.api.auth import Guard
from modelport.api.metrics import Metrics
from modelport.api.request_ids import printable, request_id
from modelport.errors import BodyTimeoutError

logger = logging.getLogger("modelport.access")

CLOSE = (b"connection", b"close")
ACCESS_LINE = '%s "%s %s" %d %.1fms caller=%s id=%s'

ErrorHandler = Callable[[Request, Exception], Any]


class Gate:
    """Every HTTP request: takes `X-Request-ID` (or the template's `X-Correlation-ID`), or
    makes one, and echoes it; refuses a request without a known bearer token (`guard`);
    answers a 408 (with `Connection: close`) when the body has not fully arrived
    `body_timeout` seconds after the request began; while the server drains, says
    `Connection: close` on every answer, so a keep-alive client moves to a new connection
    between requests, never finding its connection closed under a request it just sent;
    counts and times the request by its route template; logs one access line with the
    caller's name (never the key).

    Args:
        app: FastAPI's stack, for every request the fast lane does not take.
        metrics: the app's metrics.
        guard: the bearer-token check, or None when no keys are configured.
        body_timeout: seconds a body has to arrive in full.
        draining: whether the server is draining (read per answer).
        fast_lane: the routes served without FastAPI's stack, or None.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        guard: Guard | None,
        body_timeout: float,
        draining: Callable[[], bool],
        fast_lane: FastLane | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.guard = guard
        self.body_timeout = body_timeout
        self.draining = draining
        self.fast_lane = fast_lane

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        identifier, header = request_id(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = identifier.decode()
        status = 500
        deadline = Deadline(self.body_timeout)

        async def receive_in_time() -> Message:
            if deadline.over:
                return await receive()
            message = await deadline.bound(receive)
            if message["type"] != "http.request" or not message.get("more_body", False):
                deadline.stop()
            return message

        async def send_marked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                deadline.stop()
                headers = message.setdefault("headers", [])
                headers.append((header, identifier))
                if self.draining() and CLOSE not in headers:
                    headers.append(CLOSE)
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self._serve(scope, receive_in_time, send_marked)
        finally:
            deadline.stop()
            self.metrics.in_flight.dec()
            self._account(scope, status, time.perf_counter() - started)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A 401, or the fast lane's answer, or the stack's."""
        refusal = self.guard.refusal(scope) if self.guard is not None else None
        if refusal is not None:
            await refusal(scope, receive, send)
        elif self.fast_lane is None or not await self.fast_lane(scope, receive, send):
            await self.app(scope, receive, send)

    def _account(self, scope: Scope, status: int, seconds: float) -> None:
        """Count and time the request by its route template; write its access line."""
        state = scope["state"]
        route = scope.get("route")
        self.metrics.count_request(
            getattr(route, "path", None) or "unmatched",
            state.get("model", "-"),  # set by the route, from the registry: bounded
            status,
            state.get("caller", "-"),
            seconds,
        )
        if logger.isEnabledFor(logging.INFO):
            client = scope.get("client")
            arguments = (
                client[0] if client else "-",
                scope["method"],
                printable(scope["path"]),
                status,
                seconds * 1000,
                state.get("caller", "-"),
                state["request_id"],
            )
            # `logger.info` would look for its caller up the stack: a known one is cheaper.
            line = logger.makeRecord(
                logger.name, logging.INFO, __file__, 0, ACCESS_LINE, arguments, None, "_account"
            )
            logger.handle(line)


class Deadline:
    """The time a request's body has to arrive, from the request's start.

    One timer, made at the first read and cancelled once the body is in (or the answer has
    begun): `asyncio.timeout_at` around every read costs three times as much, and a request
    whose body has arrived whole never waits on its read.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = asyncio.get_running_loop().time()
        self.over = False  # the body is in, or the answer has begun: no deadline any more
        self.expired = False
        self._timer: asyncio.TimerHandle | None = None
        self._reading: asyncio.Task[Any] | None = None  # the task waiting on a read, if one is

    async def bound(self, read: Receive) -> Message:
        """`read()`'s message, or BodyTimeoutError once the deadline has passed."""
        if self.expired:
            raise self._error()
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_at(self.start + self.seconds, self._expire)
        task = self._reading = asyncio.current_task()
        try:
            return await read()
        except asyncio.CancelledError:
            if self.expired and task is not None and task.uncancel() == 0:
                raise self._error() from None  # this deadline's cancel, nobody else's
            raise
        finally:
            self._reading = None

    def stop(self) -> None:
        """No deadline any more: the body is in, or the answer has begun."""
        self.over = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self.expired, self._timer = True, None
        if self._reading is not None:
            self._reading.cancel()

    def _error(self) -> BodyTimeoutError:
        self.over = True
        return BodyTimeoutError(f"the body did not arrive within {self.seconds:g} s")


class FastLane:
    """The routes that take the load, served straight from the gate: the route's own
    endpoint and the app's own error handlers, without the layers of FastAPI's stack
    (error middleware, telemetry, body limit, exception middleware, router), which cost
    as much as the rest of a one-row prediction.

    Args:
        routes: the routes to serve; a method a route does not answer goes to the stack
            (its 405).
        handlers: the app's exception handlers (`app.exception_handlers`).
    """

    def __init__(self, routes: Iterable[Route], handlers: dict[Any, ErrorHandler]) -> None:
        self.routes = list(routes)
        self.exact = {route.path: route for route in self.routes if not route.param_convertors}
        self.handlers = handlers
        self.unexpected = handlers.get(Exception) or handlers.get(500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Serve the request if it is one of the lane's routes; False leaves it to the stack."""
        found = self._match(scope)
        if found is None:
            return False
        route, params = found
        scope["route"] = route
        scope["path_params"] = params
        request = Request(scope, receive, send)
        try:
            response: Response = await route.endpoint(request)
        except Exception as error:
            handler = self._handler(type(error))
            if handler is None:  # an unexpected error: answered 500, then raised for the log
                if self.unexpected is not None:
                    await (await self.unexpected(request, error))(scope, receive, send)
                raise
            response = await handler(request, error)
        await response(scope, receive, send)
        return True

    def _match(self, scope: Scope) -> tuple[Route, dict[str, Any]] | None:
        path = get_route_path(scope)
        method = scope["method"]
        exact = self.exact.get(path)  # `/predict`: a dict look-up, not a regex per route
        if exact is not None:
            return (exact, {}) if exact.methods is None or method in exact.methods else None
        for route in self.routes:
            match = route.path_regex.match(path)
            if match is not None:
                if route.methods is not None and method not in route.methods:
                    return None
                params = {
                    key: route.param_convertors[key].convert(value)
                    for key, value in match.groupdict().items()
                }
                return route, params
        return None

    def _handler(self, kind: type[BaseException]) -> ErrorHandler | None:
        """The handler of the nearest class in the error's MRO, as Starlette looks it up
        (the catch-all for `Exception` is not one: unexpected errors are raised)."""
        for cls in kind.__mro__:
            if cls is Exception:
                return None
            if cls in self.handlers:
                return self.handlers[cls]
        return None
