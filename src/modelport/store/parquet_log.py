"""The prediction log in a Parquet folder: one part file per batch, one run per process.

The parts sit where a scoring run's would (`part-<run>-<n>.parquet`, `_runs.json` beside
them), so `open_store(folder)` reads the log. A part has every column the process has
logged so far; a part written before a model with new features came lacks them, so read the
folder with the columns' union (`open_store(...).read`, DuckDB's `union_by_name`).
"""

from __future__ import annotations

import os

import pandas as pd

from modelport.store.chunk import ColumnKind
from modelport.store.log import LogColumns, empty_column, new_log_run
from modelport.store.parquet import ParquetStore, _write_parquet


class ParquetLogWriter:
    """Appends the log's batches to a folder of part files.

    Raises:
        StoreError: the path is a file, or a folder modelport did not write.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.store = ParquetStore(path)
        self.location = self.store.location
        self.columns = LogColumns()
        self.run = new_log_run(self.location, self.store.table)
        self._recorded = False

    def append(self, frame: pd.DataFrame, kinds: dict[str, ColumnKind | None]) -> None:
        """Write the part file (renamed into place), then record the run's progress."""
        frame = self.columns.fit(frame, kinds, self.run.id)
        if not self._recorded:
            self.store.save(self.run)  # makes the folder, records the run
            self._recorded = True
        columns = self.columns.columns()
        full = pd.DataFrame(
            {
                c.name: frame[c.name] if c.name in frame else empty_column(c.kind, len(frame))
                for c in columns
            },
            index=frame.index,
        )
        part = self.store._part(self.run.id, self.run.chunks_committed)
        _write_parquet(part, full, [[c.name, c.kind] for c in columns])
        advanced = self.run.advanced(read=len(frame), scored=len(frame), rejected=0)
        self.store.save(advanced)
        self.run = advanced

    def is_outage(self, error: BaseException) -> bool:
        """True when the folder can't be written now (a full disk, a folder gone)."""
        return isinstance(error, OSError)

    def reset(self) -> None:
        """Record the run again with the next batch (the folder may have been replaced)."""
        self._recorded = False

    def finish(self) -> None:
        """Record the run as completed (nothing to do when it wrote nothing)."""
        if self._recorded:
            self.store.save(self.run.ended("completed"))

    def close(self) -> None:
        """Nothing to release: files are closed after each write."""
