"""Predictions as one CSV file (and one of rejects), appended chunk by chunk.

Each chunk is appended and flushed to disk, then the manifest records the file's new length
(that rename commits it); whatever lies past the recorded length, a killed run's tail, is
cut off before anything else is written.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from modelport.atomic import write_atomically
from modelport.errors import StoreError
from modelport.store.chunk import Column, ScoredChunk
from modelport.store.files import FileStore, disk
from modelport.store.reading import id_matches
from modelport.store.runs import Run


class CsvStore(FileStore):
    """One CSV file of predictions (and one of rejects), appended chunk by chunk."""

    kind = "csv"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        file = Path(path)
        super().__init__(file, file.with_name(f"{file.stem}_runs.json"))
        self.rejects_path = file.with_name(f"{file.stem}_rejects{file.suffix}")
        if file.is_dir():
            raise StoreError(f"{file} is a folder; a CSV output is one file")
        if file.exists() and file.stat().st_size and not self.manifest.exists():
            raise StoreError(f"{file} exists and was not written by modelport")

    @disk
    def begin(self, run: Run, columns: Sequence[Column], rejects: Sequence[Column]) -> None:
        """Cut off any uncommitted tail, check the header, and record the run as running."""
        self._check_owner(run)
        with self.manifest.update() as data:
            for path, wanted in ((self.path, columns), (self.rejects_path, rejects)):
                committed = int(data["files"].get(path.name, 0))
                _truncate(path, committed)
                header = _header(path) if committed else None
                names = [c.name for c in wanted]
                if header is not None and header != names:
                    raise StoreError(
                        f"{path} has the columns {', '.join(header)}; this run writes "
                        f"{', '.join(names)}: choose another --output"
                    )
            data.setdefault("text", {})[self.path.name] = _text_columns(columns)
            data["text"][self.rejects_path.name] = _text_columns(rejects)
            self.manifest.put(data, run)

    @disk
    def commit(self, run: Run, chunk: ScoredChunk) -> Run:
        """Append and flush both files, then record their lengths (the commit)."""
        advanced = run.advanced(
            read=chunk.rows_read, scored=len(chunk.predictions), rejected=chunk.rows_rejected
        )
        with self.manifest.update() as data:
            for path, frame in ((self.path, chunk.predictions), (self.rejects_path, chunk.rejects)):
                committed = int(data["files"].get(path.name, 0))
                _truncate(path, committed)
                if len(frame) or not committed:
                    data["files"][path.name] = _append_csv(path, frame, header=not committed)
            self.manifest.put(data, advanced)
        return advanced

    @disk
    def reconciled(self, run: Run, id_column: str) -> Run:
        """A CSV chunk counts only once the manifest says so: nothing to add."""
        return run

    @disk
    def discard(self, run: Run, *, rejects: bool = True) -> None:
        """Rewrite the files without the run's rows (its rejects stay if told so)."""
        with self.manifest.update() as data:
            for path in (self.path, self.rejects_path) if rejects else (self.path,):
                committed = int(data["files"].get(path.name, 0))
                if not committed:
                    continue
                frame = _read_committed(path, committed, text=None)  # every cell as written
                kept = frame[frame["run_id"] != run.id]
                buffer = io.StringIO()
                kept.to_csv(buffer, index=False)
                content = buffer.getvalue().encode()
                write_atomically(path, content)
                data["files"][path.name] = len(content)

    @disk
    def read(
        self,
        run_ids: Sequence[str],
        *,
        ids: Sequence[Any] | None = None,
        id_column: str | None = None,
        rejects: bool = False,
    ) -> pd.DataFrame:
        """Committed rows of the given runs (and ids), as a DataFrame."""
        path = self.rejects_path if rejects else self.path
        data = self.manifest.load()
        committed = int(data["files"].get(path.name, 0))
        if not committed:
            return pd.DataFrame()
        frame = _read_committed(path, committed, text=data.get("text", {}).get(path.name, []))
        frame = frame[frame["run_id"].isin(list(run_ids))]
        if ids is not None and id_column is not None:
            frame = frame[id_matches(frame[id_column], ids)]
        return frame.reset_index(drop=True)


def _append_csv(path: Path, frame: pd.DataFrame, *, header: bool) -> int:
    content = frame.to_csv(index=False, header=header, date_format="%Y-%m-%dT%H:%M:%S.%f%z")
    with open(path, "ab") as file:
        file.write(content.encode())
        file.flush()
        os.fsync(file.fileno())
        return file.tell()


def _truncate(path: Path, length: int) -> None:
    if path.exists() and path.stat().st_size > length:
        with open(path, "r+b") as file:
            file.truncate(length)


def _header(path: Path) -> list[str] | None:
    if not path.exists():
        return None
    with open(path, newline="") as file:
        return [str(name) for name in pd.read_csv(file, nrows=0).columns]


def _text_columns(columns: Sequence[Column]) -> list[str]:
    return [c.name for c in columns if c.kind in ("text", "repeated")]


def _read_committed(path: Path, length: int, text: list[str] | None) -> pd.DataFrame:
    """The committed part of a CSV output; text columns (ids!) as written, `"007"` stays.

    Args:
        text: the columns to keep as text; None keeps every cell as written.
    """
    with open(path, "rb") as file:
        content = file.read(length)
    dtype: Any = str if text is None else dict.fromkeys(text, str)
    return pd.read_csv(io.BytesIO(content), dtype=dtype, keep_default_na=False, na_values=[""])
