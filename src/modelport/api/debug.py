"""MODELPORT_DEBUG: each request's body and each model call's time, in the log.

Installed only in debug mode, so a server that is not debugging pays nothing. Headers are
never logged (they carry the Authorization key), and the keys settings hold are masked
should a body hold one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelport.settings import Settings

logger = logging.getLogger("modelport.debug")

LOGGED_BODY_BYTES = 2048
"""How much of a body the log shows; the rest is counted, not shown."""


class BodyLogMiddleware:
    """Logs the first `LOGGED_BODY_BYTES` of every request body, once the answer is sent."""

    def __init__(self, app: ASGIApp, secrets: tuple[str, ...] = ()) -> None:
        self.app = app
        encoded = {secret.encode() for secret in secrets if secret}
        self.secrets = sorted(encoded, key=len, reverse=True)
        # A key that starts within the bound must be kept whole, to be masked whole.
        self.kept_bytes = LOGGED_BODY_BYTES + max(map(len, self.secrets), default=0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        kept = bytearray()
        size = 0

        async def receive_and_keep() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                size += len(body)
                if len(kept) < self.kept_bytes:
                    kept.extend(body[: self.kept_bytes - len(kept)])
            return message

        try:
            await self.app(scope, receive_and_keep, send)
        finally:
            if size:
                logger.info(
                    "request id=%s %s %s body (%d bytes): %s",
                    scope.get("state", {}).get("request_id", "-"),
                    scope["method"],
                    _printable(scope["path"]),
                    size,
                    self._shown(bytes(kept), size),
                )

    def _shown(self, kept: bytes, size: int) -> str:
        for secret in self.secrets:  # masked in place: what follows keeps its position
            kept = kept.replace(secret, b"*" * len(secret))
        shown = kept[:LOGGED_BODY_BYTES].decode("utf-8", errors="replace")
        return _printable(shown) + (" ..." if size > LOGGED_BODY_BYTES else "")


def configured_secrets(settings: Settings) -> tuple[str, ...]:
    """Every key settings hold in plain text (a keys file holds only their hashes)."""
    keys = [*settings.api_keys, *settings.admin_keys]
    if settings.client_api_key is not None:
        keys.append(settings.client_api_key)
    return tuple(key.get_secret_value() for key in keys)


def timed(call: Callable[[Any], Any], model: str, method: str) -> Callable[[Any], Any]:
    """`call`, logging how long each model call takes and on how many rows."""

    def call_and_log(X: Any) -> Any:
        started = time.perf_counter()
        try:
            return call(X)
        finally:
            logger.info(
                "model %s %s: %d rows in %.3f ms",
                model,
                method,
                len(X),
                (time.perf_counter() - started) * 1000,
            )

    return call_and_log


def _printable(text: str) -> str:
    """Control characters escaped, so a body can't forge a log line."""
    return text.encode("unicode_escape").decode("ascii")
