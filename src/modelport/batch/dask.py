"""The Dask engine: the chunks are scored on a cluster's workers, committed here in order.

This process reads the input and commits each chunk exactly as the local engine does (the
same atomic writes, the same runs table, the same resume), while the model, where the time
goes, runs on the workers. Each worker loads the bundle once, from bytes sent to it and
checked against their sha256, so workers need no access to the bundle file.
"""

from __future__ import annotations

import os
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from modelport.batch.job import Job, run_job
from modelport.batch.progress import Progress
from modelport.batch.scoring import ChunkScorer, ModelIdentity, ScoreOptions
from modelport.bundle import load_bundle
from modelport.errors import ConfigurationError
from modelport.predictor import Predictor
from modelport.store.chunk import ColumnKind, ScoredChunk
from modelport.store.runs import Run, now

LOCAL_WORKERS = 2
"""Worker processes of the cluster started when no scheduler is given."""
_IN_FLIGHT_PER_WORKER = 2


@dataclass(frozen=True)
class _Recipe:
    """What a worker needs to build the run's scorer (a Predictor holds locks: not sent)."""

    bundle: bytes
    sha256: str | None
    trusted_types: tuple[str, ...]
    runtime: str
    max_explain_rows: int
    options: ScoreOptions
    run_id: str
    identity: ModelIdentity
    ids: ColumnKind


_SCORERS: dict[tuple[str | None, str], ChunkScorer] = {}
"""Per worker process: the scorer of each run, built on its first chunk."""


def _score_on_worker(
    recipe: _Recipe, index: int, frame: pd.DataFrame, first_row: int
) -> ScoredChunk:
    key = (recipe.sha256, recipe.run_id)
    scorer = _SCORERS.get(key)
    if scorer is None:
        with tempfile.TemporaryDirectory(prefix="modelport-") as folder:
            path = Path(folder) / "bundle.joblib"
            path.write_bytes(recipe.bundle)
            bundle = load_bundle(path, sha256=recipe.sha256, trusted_types=recipe.trusted_types)
        predictor = Predictor(
            bundle,
            max_explain_rows=recipe.max_explain_rows,
            runtime=recipe.runtime,  # type: ignore[arg-type]
        )
        scorer = ChunkScorer(
            predictor,
            recipe.options,
            run_id=recipe.run_id,
            identity=recipe.identity,
            ids=recipe.ids,
        )
        _SCORERS.clear()  # one run at a time per worker: drop the last run's model
        _SCORERS[key] = scorer
    return scorer.score(index, frame, first_row, now())


def run_on_dask(
    job: Job,
    scheduler: str | None,
    progress: Progress,
    *,
    trusted_types: tuple[str, ...] = (),
    runtime: str = "native",
) -> Run:
    """Run `job` with its chunks scored on the cluster at `scheduler` (a local one if None).

    Raises:
        ConfigurationError: Dask is not installed, or the scheduler can't be reached.
    """
    bundle = job.predictor.bundle
    if bundle.path is None:
        raise ConfigurationError("the Dask engine needs a bundle read from a file")
    content = Path(bundle.path).read_bytes()
    with _client(scheduler) as client:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        window = workers * _IN_FLIGHT_PER_WORKER

        def scoring(
            scorer: ChunkScorer, items: Iterator[tuple[int, int, pd.DataFrame]]
        ) -> Iterator[ScoredChunk]:
            recipe = _Recipe(
                bundle=content,
                sha256=bundle.sha256,
                trusted_types=trusted_types,
                runtime=runtime,
                max_explain_rows=job.predictor.max_explain_rows,
                options=scorer.options,
                run_id=scorer.run_id,
                identity=scorer.identity,
                ids=scorer.ids,
            )
            [shipped] = client.scatter([recipe], broadcast=True)
            pending: deque[Future[ScoredChunk]] = deque()
            for index, first_row, frame in items:
                pending.append(
                    client.submit(_score_on_worker, shipped, index, frame, first_row, pure=False)
                )
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

        return run_job(job, progress, scoring)


@contextmanager
def _client(scheduler: str | None) -> Iterator[Any]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ConfigurationError(
            "--engine dask needs Dask: pip install 'modelport[dask]'"
        ) from None
    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as error:
            raise ConfigurationError(
                f"cannot reach the Dask scheduler {scheduler}: {error}"
            ) from None
        with client:
            yield client
        return
    os.environ.setdefault("DASK_TEMPORARY_DIRECTORY", tempfile.gettempdir())
    with (
        LocalCluster(
            n_workers=LOCAL_WORKERS,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
