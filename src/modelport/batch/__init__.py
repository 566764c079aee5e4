"""Model published as data: score a table in chunks, publish the predictions, record the run.

Example:
    >>> from modelport import Settings
    >>> from modelport.batch import score_table
    >>> settings = Settings(bundle_path="iris.joblib", output="sqlite:///predictions.db")
    >>> score_table(settings, "flowers.csv").status  # doctest: +SKIP
    'completed'
"""

from __future__ import annotations

from modelport.batch.job import Job, run_job
from modelport.batch.progress import Progress, create_progress
from modelport.batch.readers import open_input
from modelport.batch.scoring import ScoreOptions
from modelport.bundle import load_bundle
from modelport.errors import ConfigurationError
from modelport.predictor import Predictor
from modelport.settings import Settings
from modelport.store import open_store
from modelport.store.runs import Run

__all__ = ["Job", "Run", "ScoreOptions", "score_table"]


def score_table(settings: Settings, source: str, progress: Progress | None = None) -> Run:
    """Score the table `source` with the settings' bundle into `settings.output`.

    Raises:
        ModelportError: the bundle, the input or the output can't be used (one sentence).
        KeyboardInterrupt: stopped; the run is recorded as interrupted.
    """
    if not settings.output:
        raise ConfigurationError("no output: set --output (MODELPORT_OUTPUT)")
    bundle = load_bundle(
        settings.bundle_path, sha256=settings.bundle_sha256, trusted_types=settings.trusted_types
    )
    predictor = Predictor(
        bundle, max_explain_rows=settings.max_explain_rows, runtime=settings.runtime
    )
    options = ScoreOptions(
        proba=settings.proba, explain=settings.explain, id_column=settings.id_column
    )
    table = open_input(
        source, predictor.metadata, query=settings.query, id_column=settings.id_column
    )
    try:
        store = open_store(settings.output, settings.table)
    except BaseException:
        table.close()
        raise
    job = Job(
        predictor=predictor,
        source=table,
        store=store,
        output=getattr(store, "location", settings.output),
        options=options,
        chunk_size=settings.chunk_size,
        max_invalid=settings.max_invalid,
        resume=settings.resume,
    )
    try:
        if settings.engine == "dask":
            from modelport.batch.dask import run_on_dask

            return run_on_dask(
                job,
                settings.scheduler,
                progress or create_progress(settings.quiet),
                trusted_types=tuple(settings.trusted_types),
                runtime=settings.runtime,
            )
        return run_job(job, progress or create_progress(settings.quiet))
    finally:
        store.close()
        table.close()
