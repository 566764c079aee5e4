"""Readiness: the one answer /ready and /v2/health/ready both give."""

from __future__ import annotations

from starlette.requests import Request

from modelport.registry import Registry


def is_ready(request: Request) -> bool:
    """True when the models serve as `ready_when` asks and the server is not stopping."""
    registry: Registry = request.app.state.registry
    return registry.ready and not request.app.state.draining
