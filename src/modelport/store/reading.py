"""What applications read from a predictions store: runs, a run's rows, the latest by id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import pandas as pd

from modelport.errors import StoreError
from modelport.store.runs import Run


class StoreReader:
    """Reading methods shared by every store; they see completed runs unless told otherwise.

    A store is a context manager: `with open_store(url) as store:` releases its connections.
    """

    location: str

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:  # pragma: no cover - every store defines it
        raise NotImplementedError

    def runs(self) -> list[Run]:  # pragma: no cover - every store defines it
        raise NotImplementedError

    def read(
        self,
        run_ids: Sequence[str],
        *,
        ids: Sequence[Any] | None = None,
        id_column: str | None = None,
        rejects: bool = False,
    ) -> pd.DataFrame:  # pragma: no cover - every store defines it
        raise NotImplementedError

    def run(self, run_id: str | None = None) -> Run:
        """The run `run_id`, or the latest completed one.

        Raises:
            StoreError: no such run, or no completed run yet.
        """
        runs = self.runs()
        if run_id is None:
            completed = [run for run in runs if run.status == "completed"]
            if not completed:
                raise StoreError(f"{self.location} holds no completed run")
            return completed[-1]
        for run in runs:
            if run.id == run_id:
                return run
        raise StoreError(f"{self.location} holds no run {run_id!r}")

    def rows(self, run_id: str | None = None) -> pd.DataFrame:
        """The predictions of one run (the latest completed one by default)."""
        return self.read([self.run(run_id).id])

    def rejects(self, run_id: str | None = None) -> pd.DataFrame:
        """The rows a run set aside, with the field and the reason."""
        return self.read([self.run(run_id).id], rejects=True)

    def latest(self, ids: Sequence[Any]) -> pd.DataFrame:
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
