"""Predictions as a Parquet dataset folder: one part file per committed chunk.

Each part is written under a hidden name and renamed into place: the rename commits it
(readers such as pandas, pyarrow and DuckDB skip hidden files and folders that start with
`_`, where the rejects and `_runs.json` live). A part renamed before the manifest caught up
is counted back in when the run resumes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from modelport.atomic import write_atomically
from modelport.errors import StoreError
from modelport.store.chunk import Column, ColumnKind, ScoredChunk
from modelport.store.files import FileStore, disk
from modelport.store.reading import id_matches
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


class ParquetStore(FileStore):
    """A folder of Parquet part files, one per committed chunk, with `_runs.json`."""

    kind = "parquet"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        folder = Path(path)
        super().__init__(folder, folder / "_runs.json")
        self._schemas: dict[str, dict[str, list[list[str]]]] = {}
        if folder.exists() and not folder.is_dir():
            raise StoreError(f"{folder} is a file; a Parquet output is a folder of part files")
        if folder.is_dir() and any(folder.iterdir()) and not self.manifest.exists():
            raise StoreError(f"{folder} is not empty and was not written by modelport")

    @disk
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

    @disk
    def commit(self, run: Run, chunk: ScoredChunk) -> Run:
        """Rejects first, then the part file whose rename commits the chunk."""
        schemas = self._schemas.get(run.id)
        if schemas is None:  # read once per run (a resumed run's comes from its manifest)
            schemas = self._schemas[run.id] = self.manifest.load()["schemas"][run.id]
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

    @disk
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

    @disk
    def discard(self, run: Run, *, rejects: bool = True) -> None:
        """Remove the run's part files (and its rejects, unless told to keep them)."""
        folders = [self.path, self.path / "_rejects"] if rejects else [self.path]
        for folder in folders:
            for part in folder.glob(f"part-{run.id}-*.parquet"):
                part.unlink()

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


def _write_parquet(path: Path, frame: pd.DataFrame, columns: list[list[str]]) -> None:
    schema = arrow_schema([Column(name, kind) for name, kind in columns])  # type: ignore[arg-type]
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    buffer = pa.BufferOutputStream()
    pq.write_table(table, buffer)
    write_atomically(path, buffer.getvalue().to_pybytes())
