"""`_runs.json`: the runs of a file output, rewritten whole and renamed into place."""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from modelport.atomic import write_atomically
from modelport.errors import StoreError
from modelport.store.runs import Run

FORMAT = "modelport-predictions"


class Manifest:
    """The runs beside a file output, and their progress; one writer at a time (a lock).

    Args:
        path: the `_runs.json` file.
        kind: `parquet` or `csv`, so one kind of output is never read as the other.
    """

    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        self.kind = kind

    def exists(self) -> bool:
        """True when the output has been written by modelport before."""
        return self.path.is_file()

    def load(self) -> dict[str, Any]:
        """The manifest's content (an empty one when there is no file yet)."""
        if not self.path.exists():
            return {"format": FORMAT, "kind": self.kind, "runs": [], "files": {}}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError) as error:
            raise StoreError(f"cannot read {self.path}: {error}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise StoreError(f"{self.path} is not a modelport runs file")
        if data.get("kind") != self.kind:
            raise StoreError(f"{self.path} describes a {data.get('kind')} output, not {self.kind}")
        data.setdefault("files", {})
        return data

    def runs(self) -> list[Run]:
        """The recorded runs, oldest first."""
        return [Run.from_json(item) for item in self.load()["runs"]]

    @contextmanager
    def update(self) -> Iterator[dict[str, Any]]:
        """Read, change and write back under an exclusive lock; the write is a rename."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self.load()
            yield data
            write_atomically(self.path, json.dumps(data, indent=1, sort_keys=True).encode())

    def put(self, data: dict[str, Any], run: Run) -> None:
        """Record `run` in `data` (replacing its earlier record)."""
        runs = [item for item in data["runs"] if item["id"] != run.id]
        data["runs"] = [*runs, run.to_json()]
