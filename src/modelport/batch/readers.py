"""Input tables read in chunks, so memory stays flat: CSV, Parquet, JSON lines, SQL."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from modelport.errors import InputTableError
from modelport.metadata import FeatureType, ModelMetadata
from modelport.store import is_url

CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
QUALIFIED_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_TAIL_BYTES = 1 << 16
_STREAM_BYTES = 1 << 20
_JSON_AS_IS: dict[str, Any] = (
    {"dtype": False}  # pandas 3: no conversion at all, dates included
    if int(pd.__version__.split(".")[0]) >= 3
    else {"dtype": False, "convert_dates": False}
)
"""JSON values keep their JSON types: a column named `date` stays text."""


class InputTable(Protocol):
    """A table read chunk by chunk, always cut at the same rows for the same chunk size."""

    name: str
    """What the runs table records: the resolved path, or the URL (no password) and query."""
    total_rows: int | None
    """Rows in the table when known up front (Parquet), else None."""

    def columns(self) -> list[str]:
        """The table's column names."""
        ...

    def chunks(self, chunk_size: int, skip: int = 0) -> Iterator[pd.DataFrame]:
        """Chunks of at most `chunk_size` rows, in order, after the first `skip` chunks."""
        ...

    def fraction_read(self) -> float | None:
        """How far the reading has got, for progress, when the total is unknown."""
        ...

    def close(self) -> None:
        """Release what the reading holds (a database's connections)."""
        ...

    def fingerprint(self) -> str | None:
        """The input's sizes and modification times; None when it can't be known (a query)."""
        ...


def open_input(
    source: str, metadata: ModelMetadata, *, query: str | None = None, id_column: str | None = None
) -> InputTable:
    """The input table `source` names: a file, a folder of Parquet files, or a database URL.

    Raises:
        InputTableError: the file is missing, of an unknown kind, or a URL has no query.
    """
    if is_url(source):
        if not query:
            raise InputTableError("a database input needs --query (a SELECT or a table name)")
        from modelport.batch.sql_input import SqlInput

        return SqlInput(source, query)
    if query:
        raise InputTableError("--query reads from a database: give a database URL as the input")
    path = Path(source)
    if not path.exists():
        raise InputTableError(f"input not found: {path}")
    text_columns = {
        spec.name
        for spec in metadata.features
        if spec.type in (FeatureType.CATEGORICAL, FeatureType.TEXT)
    }
    if path.is_dir() or path.name.lower().endswith(PARQUET_SUFFIXES):
        return ParquetInput(path)
    if path.name.lower().endswith(JSON_SUFFIXES):
        return JsonLinesInput(path)
    if path.name.lower().endswith(CSV_SUFFIXES):
        if id_column:
            text_columns.add(id_column)  # "00123" stays "00123"
        return CsvInput(path, text_columns)
    raise InputTableError(
        f"cannot tell the kind of {path.name}: name it .csv, .parquet (or a folder of them), "
        ".jsonl, or give a database URL"
    )


class _FileInput:
    """What file inputs share: nothing to release, and a fingerprint of their files."""

    path: Path

    def close(self) -> None:
        """Files are closed after each read."""

    def fingerprint(self) -> str | None:
        """Size and modification time (ns) of each file read."""
        files = _parquet_files(self.path) if self.path.is_dir() else [self.path]
        stats = [file.stat() for file in files]
        return ";".join(f"{stat.st_size}:{stat.st_mtime_ns}" for stat in stats)


class CsvInput(_FileInput):
    """A CSV file: category and text columns (and the id) kept as text, numbers parsed exactly."""

    def __init__(self, path: Path, text_columns: set[str]) -> None:
        self.path = path
        self.name = str(path.resolve())
        self.total_rows: int | None = None
        self._text = text_columns
        self._handle: Any = None
        self._size = max(1, path.stat().st_size)
        self._sep = "\t" if ".tsv" in path.name.lower() else ","

    def columns(self) -> list[str]:
        """The header's names; a file without one, or not CSV, is an error."""
        try:
            header = pd.read_csv(self.path, nrows=0, sep=self._sep)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as e:
            raise InputTableError(f"cannot read {self.path} as CSV: {_first_line(e)}") from None
        self._check_tail(len(header.columns))
        return [str(name) for name in header.columns]

    def chunks(self, chunk_size: int, skip: int = 0) -> Iterator[pd.DataFrame]:
        """Chunks in order; a row the parser can't read stops the job with its line."""
        with open(self.path, "rb") as handle:
            self._handle = handle
            reader = pd.read_csv(
                handle,
                sep=self._sep,
                chunksize=chunk_size,
                dtype=dict.fromkeys(self._text, str),
                keep_default_na=False,
                na_values=[""],
                compression="gzip" if self.path.name.lower().endswith(".gz") else None,
            )
            try:
                for index, chunk in enumerate(reader):
                    if index >= skip:
                        yield chunk
            except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as e:
                raise InputTableError(f"cannot read {self.path}: {_first_line(e)}") from None

    def fraction_read(self) -> float | None:
        """Bytes read over the file's size."""
        handle = self._handle
        if handle is None or handle.closed:
            return None
        return min(1.0, float(handle.tell()) / self._size)

    def _check_tail(self, n_columns: int) -> None:
        """A file cut mid-row (a copy that stopped) ends with a short line and no line end."""
        with open(self.path, "rb") as handle:
            handle.seek(max(0, self._size - _TAIL_BYTES))
            tail = handle.read()
        if self.path.name.lower().endswith(".gz") or tail.endswith(b"\n") or b"\n" not in tail:
            return
        last = tail.rsplit(b"\n", 1)[1].decode(errors="replace")
        fields = next(csv.reader(io.StringIO(last), delimiter=self._sep), [])
        if len(fields) < n_columns:
            raise InputTableError(
                f"{self.path} looks truncated: its last line has {len(fields)} of "
                f"{n_columns} fields and no line end"
            )


class ParquetInput(_FileInput):
    """A Parquet file, or a folder of them read in name order."""

    def __init__(self, path: Path) -> None:
        import pyarrow.parquet as pq

        self.path = path
        self.name = str(path.resolve())
        files = _parquet_files(path) if path.is_dir() else [path]
        if not files:
            raise InputTableError(f"{path} holds no .parquet files")
        try:
            # No read-ahead: pyarrow's pre-buffering keeps what it read, so memory would
            # grow with the file; a 1 MiB stream buffer bounds even one huge row group.
            self._files = [
                pq.ParquetFile(file, pre_buffer=False, buffer_size=_STREAM_BYTES) for file in files
            ]
        except (OSError, ValueError) as error:
            raise InputTableError(f"cannot read {path} as Parquet: {_first_line(error)}") from None
        self.total_rows: int | None = sum(file.metadata.num_rows for file in self._files)
        names = [file.schema_arrow.names for file in self._files]
        if any(other != names[0] for other in names[1:]):
            raise InputTableError(f"the Parquet files in {path} do not all have the same columns")

    def columns(self) -> list[str]:
        """The schema's column names."""
        return list(self._files[0].schema_arrow.names)

    def chunks(self, chunk_size: int, skip: int = 0) -> Iterator[pd.DataFrame]:
        """Record batches of each file in turn (a chunk never spans two files)."""
        index = 0
        try:
            for file in self._files:
                for batch in file.iter_batches(batch_size=chunk_size):
                    if index >= skip:
                        yield batch.to_pandas()
                    index += 1
        except OSError as error:
            raise InputTableError(f"cannot read {self.path}: {_first_line(error)}") from None

    def fraction_read(self) -> float | None:
        """Unused: the total is known."""
        return None


class JsonLinesInput(_FileInput):
    """One JSON object per line; values keep their JSON types."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = str(path.resolve())
        self.total_rows: int | None = None

    def columns(self) -> list[str]:
        """The keys of the first lines."""
        first = next(self._read(100), pd.DataFrame())
        if first.empty:
            raise InputTableError(f"{self.path} holds no JSON records")
        return [str(name) for name in first.columns]

    def chunks(self, chunk_size: int, skip: int = 0) -> Iterator[pd.DataFrame]:
        """Chunks in order; a line that is not a JSON object stops the job."""
        for index, chunk in enumerate(self._read(chunk_size)):
            if index >= skip:
                yield chunk

    def _read(self, chunk_size: int) -> Iterator[pd.DataFrame]:
        try:
            with pd.read_json(self.path, lines=True, chunksize=chunk_size, **_JSON_AS_IS) as reader:
                yield from reader
        except ValueError as error:
            raise InputTableError(f"cannot read {self.path}: {_first_line(error)}") from None

    def fraction_read(self) -> float | None:
        """Unknown for JSON lines."""
        return None


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:300] if lines else type(error).__name__


def _parquet_files(folder: Path) -> list[Path]:
    """The folder's Parquet files in name order, skipping hidden ones and `_` folders (as
    pyarrow's datasets do), so a modelport output folder reads back as its predictions."""
    return [
        file
        for file in sorted(folder.rglob("*.parquet"))
        if not any(part.startswith(("_", ".")) for part in file.relative_to(folder).parts)
    ]
