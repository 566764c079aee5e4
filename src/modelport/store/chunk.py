"""What a store writes: published columns of a few kinds, and one chunk's rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

ColumnKind = Literal["text", "repeated", "integer", "float", "boolean", "time"]
"""`repeated`: text with one value per chunk (the run, the model): stored once per chunk
where the format can (Parquet's dictionary columns), as text elsewhere."""


@dataclass(frozen=True)
class Column:
    """One published column and the kind of value it holds (each store maps the kind)."""

    name: str
    kind: ColumnKind


@dataclass(frozen=True)
class ScoredChunk:
    """A chunk's output: written together, or not at all."""

    index: int
    rows_read: int
    rows_rejected: int
    predictions: pd.DataFrame
    rejects: pd.DataFrame
