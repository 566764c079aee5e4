"""Unique ids across a run: a repeated id stops the job (rows would be ambiguous to read)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from modelport.batch.pipeline import Item
from modelport.errors import InputTableError
from modelport.store import Store
from modelport.store.runs import Run


class IdGuard:
    """Refuses an id seen before in the run: 8 bytes a row (a 64-bit hash), not the ids.

    A resumed run starts from the ids its committed chunks hold (predictions and rejects).
    """

    def __init__(self, store: Store, run: Run, id_column: str | None) -> None:
        self.column = id_column
        self.seen = np.empty(0, dtype=np.uint64)
        if id_column and run.chunks_committed:
            frames = [store.read([run.id]), store.read([run.id], rejects=True)]
            known = [frame[id_column] for frame in frames if not frame.empty]
            if known:
                self.seen = np.unique(_hashes(pd.concat(known, ignore_index=True)))

    def check(self, frame: pd.DataFrame, first_row: int) -> None:
        """Raise on the first id of `frame` seen before (in it or in an earlier chunk)."""
        if self.column is None:
            return
        hashes = _hashes(frame[self.column])
        repeated = np.isin(hashes, self.seen) | pd.Series(hashes).duplicated().to_numpy()
        if repeated.any():
            row = int(np.flatnonzero(repeated)[0])
            value = frame[self.column].iloc[row]
            raise InputTableError(
                f"the id column {self.column!r} holds {value!r} more than once "
                f"(again at row {first_row + row}); ids must be unique"
            )
        self.seen = np.union1d(self.seen, hashes)

    def checked(self, items: Iterator[Item]) -> Iterator[Item]:
        """The chunks, each checked as it passes."""
        for item in items:
            self.check(item[2], item[1])
            yield item


def _hashes(values: pd.Series) -> np.ndarray:
    hashed: np.ndarray = pd.util.hash_array(values.astype(str).to_numpy(dtype=object))
    return hashed
