"""The route table: every route the API serves, declared once (see `operation.py`).

Classic (the Flask template's routes), live drift, server-wide, V2, and the V2 repository
extension.
"""

from __future__ import annotations

from modelport.api.routes import classic, drift, repository, server, v2
from modelport.api.routes.operation import Operation


def route_table(*, admin: bool) -> list[Operation]:
    """Every operation the app serves; the repository's only with admin keys (`admin`)."""
    return [
        *classic.OPERATIONS,
        *drift.OPERATIONS,
        *server.OPERATIONS,
        *v2.OPERATIONS,
        *(repository.OPERATIONS if admin else []),
    ]


PROBE_PATHS = frozenset(
    path for op in route_table(admin=True) if op.public for path in op.served_paths
)
"""The paths answered without a bearer token: the probes an orchestrator calls."""
