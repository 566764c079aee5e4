"""Real served records for the prediction log's tests: rows of example models, validated and
answered by a real Predictor, as the API's routes build them."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from modelport import Predictor
from modelport.examples import EXAMPLES
from modelport.served import RouteKind, Served
from modelport.store import open_store


def example_rows(name: str, n_rows: int) -> list[dict[str, Any]]:
    """The first rows of an example's own data, as records a client sends."""
    frame = EXAMPLES[name].data().head(n_rows)
    return [
        {key: (None if pd.isna(value) else value) for key, value in row.items()}
        for row in frame.to_dict("records")
    ]


def served(
    predictor: Predictor,
    records: list[dict[str, Any]],
    request_id: str,
    *,
    route: RouteKind = "classic",
    caller: str | None = "alice",
    model: str | None = None,
    version: str = "1",
) -> Served:
    """What a route hands its monitors after answering `records` (the model's name as the
    registry serves it, when given)."""
    X = predictor.validate(records)
    return Served(
        model=model or predictor.bundle.name,
        version=version,
        sha256=predictor.bundle.sha256 or "",
        request_id=request_id,
        caller=caller,
        route=route,
        X=X,
        predictions=predictor.predict(X),
        probabilities=predictor.predict_proba(X) if predictor.has_proba else None,
        time=time.time(),
    )


def features_of(*predictors: Predictor) -> Callable[[Served], Sequence[str] | None]:
    """The lookup the server gives the log: a record's model → its input's feature names."""
    names = {p.bundle.name: p.input_metadata.feature_names for p in predictors}
    return lambda record: names.get(record.model)


def read_log(target: str) -> pd.DataFrame:
    """Every row of the log, through the store readers applications use."""
    with open_store(target, "prediction_log") as store:
        return store.read([run.id for run in store.runs()])


def eventually(condition: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    """Wait for the writer thread to get somewhere (a bound on a hang, not a speed check)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)


def log_target(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's log goes: a SQLite file, the test PostgreSQL database or a folder."""
    if kind == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{tmp_path / 'log.db'}" if kind == "sqlite" else str(tmp_path / "log")
