"""A run: one scoring job's record (what it scored, with what, how far it got, how it ended)."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any, Literal

Status = Literal["running", "completed", "failed", "interrupted"]
RUNS_TABLE = "modelport_runs"


def now() -> datetime:
    """The current time in UTC, to the microsecond: every timestamp a run writes."""
    return datetime.now(UTC)


def new_run_id(started: datetime) -> str:
    """Sortable by start, readable, and unique enough: `20261201T101500Z-408317`."""
    return f"{started:%Y%m%dT%H%M%SZ}-{secrets.randbelow(10**6):06d}"


@dataclass(frozen=True)
class Run:
    """One scoring job, as the runs table (or `_runs.json`) records it.

    `chunks_committed` is written in the same transaction (or after the same rename) as
    the chunk's rows, so a resumed run knows exactly where to pick up.
    """

    id: str
    model: str
    model_version: str | None
    model_sha256: str | None
    input: str
    output: str
    table: str
    chunk_size: int
    options: dict[str, Any] = field(default_factory=dict)
    status: Status = "running"
    started_at: datetime = field(default_factory=now)
    ended_at: datetime | None = None
    rows_read: int = 0
    rows_scored: int = 0
    rows_rejected: int = 0
    chunks_committed: int = 0
    error: str | None = None
    fingerprint: str | None = None
    """The input's size and modification time when the run started: a resumed run must read
    the same input, or its chunks would not be the ones it committed."""
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)

    def advanced(self, *, read: int, scored: int, rejected: int) -> Run:
        """This run one committed chunk further."""
        return replace(
            self,
            rows_read=self.rows_read + read,
            rows_scored=self.rows_scored + scored,
            rows_rejected=self.rows_rejected + rejected,
            chunks_committed=self.chunks_committed + 1,
        )

    def ended(self, status: Status, error: str | None = None) -> Run:
        """This run with its final status and end time."""
        return replace(self, status=status, ended_at=now(), error=error)

    def is_orphaned(self) -> bool:
        """True when the run says `running` but its process on this host is gone (killed).

        A run on another host can't be checked from here, and is left as it is.
        """
        if self.status != "running" or self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, under another user
            return False
        return False

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (times in ISO 8601)."""
        data = asdict(self)
        for key in ("started_at", "ended_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Run:
        """The run a `to_json` dict (or a runs-table row) describes; unknown keys ignored."""
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        for key in ("started_at", "ended_at"):
            if isinstance(values.get(key), str):
                values[key] = datetime.fromisoformat(values[key])
            if isinstance(values.get(key), datetime) and values[key].tzinfo is None:
                values[key] = values[key].replace(tzinfo=UTC)
        return cls(**values)
