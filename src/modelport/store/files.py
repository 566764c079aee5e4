"""What file outputs share: the manifest beside them, the owner check, disk errors as one line."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from modelport.errors import StoreError
from modelport.store.manifest import Manifest
from modelport.store.reading import StoreReader
from modelport.store.runs import Run

Method = TypeVar("Method", bound=Callable[..., Any])


def disk(method: Method) -> Method:
    """A file system's refusal (full disk, no permission, a file where a folder should be)
    becomes one StoreError line naming the output."""

    @functools.wraps(method)
    def guarded(self: FileStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except StoreError:
            raise
        except OSError as error:
            reason = error.strerror or str(error)
            target = f" ({error.filename})" if error.filename else ""
            raise StoreError(f"{self.location}: cannot write or read: {reason}{target}") from None

    return guarded  # type: ignore[return-value]


class FileStore(StoreReader):
    """What both file outputs share: the manifest, the owner check, reading back."""

    kind = ""

    def __init__(self, path: Path, manifest: Path) -> None:
        self.path = path
        self.location = str(path)
        self.table = path.name
        self.manifest = Manifest(manifest, self.kind)

    def close(self) -> None:
        """Nothing to release: files are closed after each write."""

    @disk
    def runs(self) -> list[Run]:
        """Every run recorded for this output, oldest first."""
        return self.manifest.runs()

    @disk
    def save(self, run: Run) -> None:
        """Record the run as it is now (its status, its end)."""
        with self.manifest.update() as data:
            self.manifest.put(data, run)

    @disk
    def resume(self, run: Run) -> None:
        """Claim `run` for this process; refused when another process claimed it first.

        Raises:
            StoreError: the run is already running (two `--resume` at once).
        """
        with self.manifest.update() as data:
            recorded = [item for item in data["runs"] if item["id"] == run.id]
            if recorded and recorded[0]["status"] == "running":
                raise StoreError(f"run {run.id} is already being resumed by another process")
            self.manifest.put(data, run)

    def _check_owner(self, run: Run) -> None:
        others = sorted({r.model for r in self.runs() if r.model != run.model})
        if others:
            raise StoreError(
                f"{self.location} holds predictions of model {others[0]!r}, not "
                f"{run.model!r}; choose another --output"
            )
