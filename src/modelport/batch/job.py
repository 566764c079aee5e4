"""The scoring job: a run recorded, resumed or failed cleanly around the chunk pipeline."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from modelport.batch.ids import IdGuard
from modelport.batch.pipeline import Chunks, Scoring, run_pipeline, score_here
from modelport.batch.progress import Progress, Silent
from modelport.batch.readers import InputTable
from modelport.batch.scoring import ChunkScorer, ModelIdentity, ScoreOptions, id_kind
from modelport.errors import (
    InputTableError,
    InvalidInputError,
    ModelportError,
    NotSupportedError,
    StoreError,
)
from modelport.predictor import Predictor
from modelport.screening import check_columns
from modelport.settings import DEFAULT_CHUNK_SIZE, DEFAULT_MAX_INVALID
from modelport.store import Store
from modelport.store.chunk import ColumnKind, ScoredChunk
from modelport.store.runs import Run, new_run_id, now


@dataclass(frozen=True)
class Job:
    """What to score, with what, and where to publish it.

    Attributes:
        predictor: the model.
        source: the input table.
        store: where the predictions go.
        output: the output as the user named it (URL without password, or path).
        options: what to publish besides the prediction.
        chunk_size: rows per chunk (a resumed run keeps its own).
        max_invalid: the share of rejected rows past which the run fails.
        resume: None for a new run, "latest" for the latest unfinished run of the same
            model, input and output (a new run when there is none), else a run id.
        threads: parts of a chunk predicted at once.
    """

    predictor: Predictor
    source: InputTable
    store: Store
    output: str
    options: ScoreOptions = field(default_factory=ScoreOptions)
    chunk_size: int = DEFAULT_CHUNK_SIZE
    max_invalid: float = DEFAULT_MAX_INVALID
    resume: str | None = None
    threads: int = os.cpu_count() or 1


def run_job(job: Job, progress: Progress | None = None, scoring: Scoring | None = None) -> Run:
    """Score the whole input; return the completed run.

    Args:
        job: what to score, with what, where to.
        progress: told of each committed chunk.
        scoring: the engine; `score_here` (this process) by default.

    Raises:
        InputTableError: the input can't be read (nothing of the run stays written).
        InvalidInputError: more rows were rejected than `max_invalid` allows.
        StoreError: the output can't be written; the run can be resumed.
        KeyboardInterrupt: stopped (Ctrl-C, SIGTERM); the run is recorded as interrupted.
    """
    progress = progress or Silent()
    _check_model(job)
    columns = job.source.columns()
    defaulted = check_columns(columns, job.predictor.metadata)
    if defaulted:
        progress.note(f"absent from the input, so taking their defaults: {', '.join(defaulted)}")
    _mark_orphans(job.store)
    run = _resumed(job, progress)
    options = ScoreOptions(**run.options) if run else job.options
    if options.id_column and options.id_column not in columns:
        raise InputTableError(f"the input has no id column {options.id_column!r}")
    chunks = Chunks(job.source, run.chunk_size if run else job.chunk_size, run)
    first = chunks.first
    ids: ColumnKind = (
        id_kind(first[options.id_column]) if first is not None and options.id_column else "integer"
    )
    if run is None:
        run = _new_run(job, options)
        scorer = _scorer(job.predictor, options, run, ids)
        job.store.begin(run, scorer.columns, scorer.reject_columns)
    else:
        run = replace(run, status="running", pid=os.getpid(), ended_at=None, error=None)
        job.store.resume(run)
        scorer = _scorer(job.predictor, options, run, ids)
    progress.start(run, job.source.total_rows)
    committed = _Committed(job, run, progress)
    try:
        guard = IdGuard(job.store, run, options.id_column)
        engine = scoring or score_here
        run_pipeline(chunks, lambda items: engine(scorer, guard.checked(items)), committed.add)
    except (InputTableError, InvalidInputError) as error:
        # Nothing of a run whose input is unusable stays published; past --max-invalid its
        # rejects stay, since they say what is wrong.
        job.store.discard(run, rejects=isinstance(error, InputTableError))
        _record_end(job.store, run, "failed", str(error), discarded=True)
        raise
    except ModelportError as error:
        _record_end(job.store, run, "failed", str(error))
        raise
    except Exception as error:  # a bug, or a library's surprise: failed, with the reason
        _record_end(job.store, run, "failed", f"{type(error).__name__}: {error}")
        raise
    except BaseException:
        _record_end(job.store, run, "interrupted", "stopped before the end (interrupted)")
        raise
    finally:
        progress.stop(run)
    run = committed.run.ended("completed")
    job.store.save(run)
    return run


class _Committed:
    """The run as far as the store has committed it, checked after each chunk."""

    def __init__(self, job: Job, run: Run, progress: Progress) -> None:
        self.job, self.run, self.progress = job, run, progress

    def add(self, chunk: ScoredChunk) -> None:
        job = self.job
        self.run = job.store.commit(self.run, chunk)
        run = self.run
        if run.rows_read and run.rows_rejected / run.rows_read > job.max_invalid:
            raise InvalidInputError.single(
                f"{run.rows_rejected} of {run.rows_read} rows read are invalid, more than "
                f"--max-invalid allows ({job.max_invalid:.1%}); see the rejects of run {run.id}"
            )
        self.progress.advance(run, job.source.fraction_read())


def _check_model(job: Job) -> None:
    predictor = job.predictor
    if job.options.proba and not predictor.has_proba:
        raise NotSupportedError("--proba: this model does not give class probabilities")
    if job.options.explain and predictor.metadata.input_kind == "text":
        raise NotSupportedError(
            "--explain: explanations need tabular features; this is a text model"
        )


def _scorer(predictor: Predictor, options: ScoreOptions, run: Run, ids: ColumnKind) -> ChunkScorer:
    bundle = predictor.bundle
    identity = ModelIdentity(bundle.name, predictor.metadata.version, bundle.sha256)
    return ChunkScorer(
        predictor, options, run_id=run.id, identity=identity, ids=ids, threads=os.cpu_count() or 1
    )


def _new_run(job: Job, options: ScoreOptions) -> Run:
    started = now()
    bundle = job.predictor.bundle
    return Run(
        id=new_run_id(started),
        model=bundle.name,
        model_version=job.predictor.metadata.version,
        model_sha256=bundle.sha256,
        input=job.source.name,
        output=job.output,
        table=job.store.table,
        chunk_size=job.chunk_size,
        options={
            "proba": options.proba,
            "explain": options.explain,
            "id_column": options.id_column,
        },
        started_at=started,
        fingerprint=job.source.fingerprint(),
    )


def _mark_orphans(store: Store) -> None:
    """Runs left `running` by a process that no longer exists (killed) become interrupted."""
    for run in store.runs():
        if run.status == "running" and run.is_orphaned():
            store.save(run.ended("interrupted", "the process stopped before the end (killed?)"))


def _resumed(job: Job, progress: Progress) -> Run | None:
    if job.resume is None:
        return None
    runs = job.store.runs()
    if job.resume == "latest":
        same = [
            run
            for run in runs
            if run.status in ("interrupted", "failed")
            and run.chunks_committed > 0
            and run.input == job.source.name
            and run.fingerprint == job.source.fingerprint()
            and run.model_sha256 == job.predictor.bundle.sha256
        ]
        if not same:
            progress.note("no unfinished run of this model, input and output: starting a new run")
            return None
        run = same[-1]
    else:
        found = [run for run in runs if run.id == job.resume]
        if not found:
            raise StoreError(f"{job.store.location} holds no run {job.resume!r}")
        run = found[0]
        _check_resumable(job, run)
    run = job.store.reconciled(run, ScoreOptions(**run.options).id_name)
    progress.note(
        f"resuming run {run.id} after {run.rows_read} rows ({run.chunks_committed} chunks)"
    )
    return run


def _check_resumable(job: Job, run: Run) -> None:
    if run.status == "completed":
        raise StoreError(f"run {run.id} is already completed")
    if run.chunks_committed == 0:
        raise StoreError(f"run {run.id} published nothing to continue from: start a new run")
    if run.status == "running":
        raise StoreError(f"run {run.id} is still running (process {run.pid} on {run.host})")
    if run.model_sha256 != job.predictor.bundle.sha256:
        raise StoreError(f"run {run.id} was scored by another bundle (sha256 {run.model_sha256})")
    if run.input != job.source.name:
        raise StoreError(f"run {run.id} read another input: {run.input}")
    if run.fingerprint != job.source.fingerprint():
        raise StoreError(
            f"the input changed since run {run.id} started (its size or time differs): "
            "its chunks would not be the ones committed; start a new run"
        )


def _record_end(
    store: Store, run: Run, status: Any, error: str, *, discarded: bool = False
) -> None:
    """Record how the run ended, with the progress the store committed (not what this
    process believes), if the store still answers: it may be what failed."""
    try:
        committed = next((r for r in store.runs() if r.id == run.id), run)
        if discarded:  # its rows are gone: it published nothing, and resumes from nothing
            committed = replace(committed, rows_scored=0, chunks_committed=0)
        store.save(committed.ended(status, error))
    except StoreError:
        pass


__all__ = ["Job", "run_job"]
