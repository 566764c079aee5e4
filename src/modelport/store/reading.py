"""What applications read from a predictions store: runs, a run's rows, the latest by id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, Self

import pandas as pd

from modelport.errors import StoreError
from modelport.store.runs import Run


class Readable(Protocol):
    """What every store can do to be read: list its runs, read rows of runs, let go."""

    location: str
    """Where the store is, as it may be shown (a database URL without its password)."""

    def runs(self) -> list[Run]: ...

    def read(
        self,
        run_ids: Sequence[str],
        *,
        ids: Sequence[Any] | None = None,
        id_column: str | None = None,
        rejects: bool = False,
    ) -> pd.DataFrame: ...

    def close(self) -> None: ...


class StoreReader:
    """Reading methods shared by every store; they see completed runs unless told otherwise.

    A store is a context manager: `with open_store(url) as store:` releases its connections.
    """

    def __enter__(self) -> Self:
        return self

    def __exit__(self: Readable, *exc_info: object) -> None:
        self.close()

    def run(self: Readable, run_id: str | None = None) -> Run:
        """The run `run_id`, or the latest completed one.

        Raises:
            StoreError: no such run, or no completed run yet.
        """
        return _find_run(self, run_id)

    def rows(self: Readable, run_id: str | None = None) -> pd.DataFrame:
        """The predictions of one run (the latest completed one by default)."""
        return self.read([_find_run(self, run_id).id])

    def rejects(self: Readable, run_id: str | None = None) -> pd.DataFrame:
        """The rows a run set aside, with the field and the reason."""
        return self.read([_find_run(self, run_id).id], rejects=True)

    def latest(self: Readable, ids: Sequence[Any]) -> pd.DataFrame:
        """The newest prediction of each id among completed runs; ids never scored are absent.

        Example:
            >>> open_store("sqlite:///predictions.db").latest([17, 42])  # doctest: +SKIP
        """
        completed = [run for run in self.runs() if run.status == "completed"]
        if not completed:
            return pd.DataFrame()
        id_column = completed[-1].options.get("id_column") or "row"
        frame = self.read([run.id for run in completed], ids=list(ids), id_column=id_column)
        if frame.empty:
            return frame
        order = {run.id: i for i, run in enumerate(completed)}
        frame = frame.assign(_order=frame["run_id"].map(order))
        newest = frame.sort_values("_order", kind="stable").groupby(id_column, sort=False).tail(1)
        return newest.drop(columns="_order").reset_index(drop=True)


def _find_run(store: Readable, run_id: str | None) -> Run:
    runs = store.runs()
    if run_id is None:
        completed = [run for run in runs if run.status == "completed"]
        if not completed:
            raise StoreError(f"{store.location} holds no completed run")
        return completed[-1]
    for run in runs:
        if run.id == run_id:
            return run
    raise StoreError(f"{store.location} holds no run {run_id!r}")


def id_values(ids: Sequence[Any], integer: bool) -> list[Any]:
    """The ids as the id column holds them: `17` finds the text id `"17"`, and `"17"` the
    integer id 17 (a CSV input's ids are text; Parquet's and databases' keep their type)."""
    if not integer:
        return sorted({str(value) for value in ids})
    whole = set()
    for value in ids:
        text = str(value).strip()
        if text.lstrip("-").isdigit():
            whole.add(int(text))
    return sorted(whole)


def id_matches(column: pd.Series, ids: Sequence[Any]) -> pd.Series:
    """Which rows hold one of `ids`, whatever the type the ids are given in."""
    integer = pd.api.types.is_integer_dtype(column.dtype)
    wanted = id_values(ids, integer)
    return column.isin(wanted) if integer else column.astype(str).isin(wanted)
