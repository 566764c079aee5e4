"""Files replaced whole: written beside, flushed to disk, renamed (never seen half-written)."""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path


@functools.cache
def _umask() -> int:
    """The process's umask, read once: reading it means setting it, which is not thread-safe."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomically(path: Path, content: bytes) -> None:
    """Write `content` to a hidden file beside `path`, flush it to disk, rename it into place.

    The file gets the mode `open()` would give it (not mkstemp's 0600): the reader of a
    bundle or of published predictions may run as another user.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
