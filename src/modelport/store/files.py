"""Predictions as files: a Parquet dataset folder, or one CSV file, with `_runs.json` beside.

Parquet: each chunk is a part file written under a hidden name and renamed into place
(the rename commits it; readers such as pandas, pyarrow and DuckDB skip hidden files and
folders that start with `_`). CSV: each chunk is appended and flushed to disk, then the
manifest records the file's new length (that rename commits it); whatever lies past the
recorded length, a killed run's tail, is cut off before anything else is written.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from modelport.atomic import write_atomically
from modelport.errors import StoreError
from modelport.store.chunk import Column, ColumnKind, ScoredChunk
from modelport.store.manifest import Manifest
from modelport.store.reading import StoreReader, id_matches
from modelport.store.runs import Run

_ARROW: dict[ColumnKind, pa.DataType] = {
    "text": pa.string(),
    "repeated": pa.dictionary(pa.int32(), pa.string()),
    "integer": pa.int64(),
    "float": pa.float64(),
    "boolean": pa.bool_(),
    "time": pa.timestamp("us", tz="UTC"),
}


def arrow_schema(columns: Sequence[Column]) -> pa.Schema:
    """The Parquet schema of published columns."""
    return pa.schema([pa.field(column.name, _ARROW[column.kind]) for column in columns])


Method = TypeVar("Method", bound=Callable[..., Any])


def _disk(method: Method) -> Method:
    """A file system's refusal (full disk, no permission, a file where a folder should be)
    becomes one StoreError line naming the output."""

    @functools.wraps(method)
    def guarded(self: _FileStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except StoreError:
            raise
        except OSError as error:
            reason = error.strerror or str(error)
            target = f" ({error.filename})" if error.filename else ""
            raise StoreError(f"{self.location}: cannot write or read: {reason}{target}") from None

    return guarded  # type: ignore[return-value]


class _FileStore(StoreReader):
    """What both file outputs share: the manifest, the owner check, reading back."""

    kind = ""

    def __init__(self, path: Path, manifest: Path) -> None:
        self.path = path
        self.location = str(path)
        self.table = path.name
        self.manifest = Manifest(manifest, self.kind)

    def close(self) -> None:
        """Nothing to release: files are closed after each write."""

    @_disk
    def runs(self) -> list[Run]:
        """Every run recorded for this output, oldest first."""
        return self.manifest.runs()

    @_disk
    def save(self, run: Run) -> None:
        """Record the run as it is now (its status, its end)."""
        with self.manifest.update() as data:
            self.manifest.put(data, run)

    @_disk
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


class ParquetStore(_FileStore):
    """A folder of Parquet part files, one per committed chunk, with `_runs.json`."""

    kind = "parquet"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        folder = Path(path)
        super().__init__(folder, folder / "_runs.json")
        if folder.exists() and not folder.is_dir():
            raise StoreError(f"{folder} is a file; a Parquet output is a folder of part files")
        if folder.is_dir() and any(folder.iterdir()) and not self.manifest.exists():
            raise StoreError(f"{folder} is not empty and was not written by modelport")

    @_disk
    def begin(self, run: Run, columns: Sequence[Column], rejects: Sequence[Column]) -> None:
        """Record the run as running (the folder is made if need be)."""
        self._check_owner(run)
        (self.path / "_rejects").mkdir(parents=True, exist_ok=True)
        with self.manifest.update() as data:
            schemas = data.setdefault("schemas", {})
            wanted = [[c.name, c.kind] for c in columns]
            for other in schemas.values():  # one folder reads as one table: one schema
                if other["predictions"] != wanted:
                    shown = ", ".join(f"{name} ({kind})" for name, kind in other["predictions"])
                    raise StoreError(
                        f"{self.path} holds predictions with the columns {shown}; this run "
                        "writes other columns (or another kind of id): choose another --output"
                    )
            schemas[run.id] = {
                "predictions": wanted,
                "rejects": [[c.name, c.kind] for c in rejects],
            }
            self.manifest.put(data, run)

    @_disk
    def commit(self, run: Run, chunk: ScoredChunk) -> Run:
        """Rejects first, then the part file whose rename commits the chunk."""
        schemas = self.manifest.load()["schemas"][run.id]
        rejects = self._part(run.id, chunk.index, rejects=True)
        if len(chunk.rejects):
            _write_parquet(rejects, chunk.rejects, schemas["rejects"])
        else:
            rejects.unlink(missing_ok=True)  # a stale file from a killed attempt at this chunk
        _write_parquet(self._part(run.id, chunk.index), chunk.predictions, schemas["predictions"])
        advanced = run.advanced(
            read=chunk.rows_read, scored=len(chunk.predictions), rejected=chunk.rows_rejected
        )
        self.save(advanced)
        return advanced

    @_disk
    def reconciled(self, run: Run, id_column: str) -> Run:
        """The run with a chunk renamed into place but not yet in the manifest counted in."""
        part = self._part(run.id, run.chunks_committed)
        if not part.exists():
            return run
        scored = pq.ParquetFile(part).metadata.num_rows
        rejects = self._part(run.id, run.chunks_committed, rejects=True)
        rejected = (
            len(pq.read_table(rejects, columns=[id_column]).column(0).unique())
            if rejects.exists()
            else 0
        )
        return run.advanced(read=scored + rejected, scored=scored, rejected=rejected)

    @_disk
    def discard(self, run: Run, *, rejects: bool = True) -> None:
        """Remove the run's part files (and its rejects, unless told to keep them)."""
        folders = [self.path, self.path / "_rejects"] if rejects else [self.path]
        for folder in folders:
            for part in folder.glob(f"part-{run.id}-*.parquet"):
                part.unlink()

    @_disk
    def read(
        self,
        run_ids: Sequence[str],
        *,
        ids: Sequence[Any] | None = None,
        id_column: str | None = None,
        rejects: bool = False,
    ) -> pd.DataFrame:
        """Committed rows of the given runs (and ids), as a DataFrame."""
        runs = {run.id: run for run in self.runs()}
        frames = []
        for run_id in run_ids:
            run = runs.get(run_id)
            for index in range(run.chunks_committed if run else 0):
                part = self._part(run_id, index, rejects=rejects)
                if not part.exists():
                    continue
                frame = pq.read_table(part).to_pandas()
                if ids is not None and id_column is not None:
                    frame = frame[id_matches(frame[id_column], ids)]
                frames.append(frame)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def _part(self, run_id: str, index: int, *, rejects: bool = False) -> Path:
        folder = self.path / "_rejects" if rejects else self.path
        return folder / f"part-{run_id}-{index:06d}.parquet"


class CsvStore(_FileStore):
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

    @_disk
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

    @_disk
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

    @_disk
    def reconciled(self, run: Run, id_column: str) -> Run:
        """A CSV chunk counts only once the manifest says so: nothing to add."""
        return run

    @_disk
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

    @_disk
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


def _write_parquet(path: Path, frame: pd.DataFrame, columns: list[list[str]]) -> None:
    schema = arrow_schema([Column(name, kind) for name, kind in columns])  # type: ignore[arg-type]
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    buffer = pa.BufferOutputStream()
    pq.write_table(table, buffer)
    write_atomically(path, buffer.getvalue().to_pybytes())


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
