"""Connections that can't hold the server: slow bodies time out, a stop closes between requests.

uvicorn bounds the time an idle keep-alive connection stays open, not the time a body takes
to arrive, nor the time headers take (a proxy in front bounds those: see the README's
production notes).
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelport.api.state import ServerState
from modelport.errors import BodyTimeoutError

CLOSE = (b"connection", b"close")


class ConnectionMiddleware:
    """A body not fully arrived `body_timeout` seconds after the request began is a 408
    (the error says `Connection: close`); while the app drains, every answer says
    `Connection: close`, so a keep-alive client moves to a new connection between requests,
    never finding its connection closed under a request it has just sent.

    Args:
        app: the application.
        body_timeout: seconds a body has to arrive in full.
        state: the app's state, whose `draining` turns true on SIGTERM.
    """

    def __init__(self, app: ASGIApp, body_timeout: float, state: ServerState) -> None:
        self.app = app
        self.body_timeout = body_timeout
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.body_timeout
        arrived = False  # the whole body is in, or the answer has begun: no deadline any more

        async def receive_in_time() -> Message:
            nonlocal arrived
            if arrived:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                arrived = True
                raise BodyTimeoutError(
                    f"the body did not arrive within {self.body_timeout:g} s"
                ) from None
            arrived = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def send_closing(message: Message) -> None:
            nonlocal arrived
            if message["type"] == "http.response.start":
                arrived = True
                headers = message.setdefault("headers", [])
                if self.state.draining and CLOSE not in headers:
                    headers.append(CLOSE)
            await send(message)

        await self.app(scope, receive_in_time, send_closing)
