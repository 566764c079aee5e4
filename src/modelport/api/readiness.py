"""Readiness: the one answer /ready and /v2/health/ready both give."""

from __future__ import annotations

from starlette.requests import Request

from modelport.api.state import server_state


def is_ready(request: Request) -> bool:
    """True when the models serve as `ready_when` asks and the server is not stopping."""
    state = server_state(request.app)
    return state.registry.ready and not state.draining
