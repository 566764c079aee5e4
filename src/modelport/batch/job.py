"""The scoring job: read, score and commit chunk by chunk, the three overlapping.

One thread reads the next chunk while the model scores this one (on every core: the
forest's trees and BLAS release the GIL) and another commits the last. Queues of two
chunks bound memory, whatever the input's size.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from modelport.batch.progress import Progress, Silent
from modelport.batch.readers import InputTable
from modelport.batch.scoring import ChunkScorer, ModelIdentity, ScoreOptions, id_kind
from modelport.errors import InputTableError, InvalidInputError, NotSupportedError, StoreError
from modelport.predictor import Predictor
from modelport.screening import check_columns
from modelport.settings import DEFAULT_CHUNK_SIZE, DEFAULT_MAX_INVALID
from modelport.store import Store
from modelport.store.chunk import ColumnKind, ScoredChunk
from modelport.store.runs import Run, new_run_id, now

_QUEUE_CHUNKS = 2
_END = object()


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
    options: ScoreOptions = ScoreOptions()
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
    chunks = _Chunks(job.source, run.chunk_size if run else job.chunk_size, run)
    first = chunks.peek()
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
    try:
        guard = _IdGuard(job.store, run, options.id_column)
        run = _pipeline(job, run, chunks, scorer, guard, progress, scoring or score_here)
    except InputTableError as error:
        job.store.discard(run)
        _record_end(job.store, run, "failed", str(error))
        raise
    except (InvalidInputError, StoreError) as error:
        _record_end(job.store, run, "failed", str(error))
        raise
    except BaseException:
        _record_end(job.store, run, "interrupted", "stopped before the end (interrupted)")
        raise
    finally:
        progress.stop(run)
    run = run.ended("completed")
    job.store.save(run)
    return run


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
            and run.input == job.source.name
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
    if run.status == "running":
        raise StoreError(f"run {run.id} is still running (process {run.pid} on {run.host})")
    if run.model_sha256 != job.predictor.bundle.sha256:
        raise StoreError(f"run {run.id} was scored by another bundle (sha256 {run.model_sha256})")
    if run.input != job.source.name:
        raise StoreError(f"run {run.id} read another input: {run.input}")


def _record_end(store: Store, run: Run, status: Any, error: str) -> None:
    """Record how the run ended, with the progress the store committed (not what this
    process believes), if the store still answers: it may be what failed."""
    try:
        committed = next((r for r in store.runs() if r.id == run.id), run)
        store.save(committed.ended(status, error))
    except StoreError:
        pass


class _Chunks:
    """The input's chunks, with the first one read early (its id column fixes the id kind)."""

    def __init__(self, source: InputTable, chunk_size: int, run: Run | None) -> None:
        self._iterator: Iterator[pd.DataFrame] = source.chunks(
            chunk_size, skip=run.chunks_committed if run else 0
        )
        self.index = run.chunks_committed if run else 0
        self.first_row = run.rows_read if run else 0
        self._first: pd.DataFrame | None = next(self._iterator, None)
        self.source = source

    def peek(self) -> pd.DataFrame | None:
        return self._first

    def __iter__(self) -> Iterator[tuple[int, int, pd.DataFrame]]:
        if self._first is None:
            return
        for frame in _prepend(self._first, self._iterator):
            yield self.index, self.first_row, frame
            self.index += 1
            self.first_row += len(frame)


def _prepend(first: pd.DataFrame, rest: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    yield first
    yield from rest


class _IdGuard:
    """Refuses an id seen before in the run: 8 bytes a row (a 64-bit hash), not the ids."""

    def __init__(self, store: Store, run: Run, id_column: str | None) -> None:
        self.column = id_column
        self.seen = np.empty(0, dtype=np.uint64)
        if id_column and run.chunks_committed:
            frames = [store.read([run.id]), store.read([run.id], rejects=True)]
            known = [f[id_column] for f in frames if not f.empty]
            if known:
                self.seen = np.unique(_hashes(pd.concat(known, ignore_index=True)))

    def check(self, frame: pd.DataFrame, first_row: int) -> None:
        if self.column is None:
            return
        hashes = _hashes(frame[self.column])
        unique, counts = np.unique(hashes, return_counts=True)
        repeated = np.isin(hashes, self.seen) | np.isin(hashes, unique[counts > 1])
        if repeated.any():
            row = int(np.flatnonzero(repeated)[0])
            value = frame[self.column].iloc[row]
            raise InputTableError(
                f"the id column {self.column!r} holds {value!r} more than once "
                f"(again at row {first_row + row}); ids must be unique"
            )
        self.seen = np.union1d(self.seen, unique)


def _hashes(values: pd.Series) -> np.ndarray:
    return pd.util.hash_array(values.astype(str).to_numpy(dtype=object))


Scoring = Callable[[ChunkScorer, Iterator[tuple[int, int, pd.DataFrame]]], Iterator[ScoredChunk]]
"""Scores chunks (index, first row, frame) and yields them in the order they came."""


def score_here(
    scorer: ChunkScorer, items: Iterator[tuple[int, int, pd.DataFrame]]
) -> Iterator[ScoredChunk]:
    """The local engine: each chunk in this process, on every core."""
    for index, first_row, frame in items:
        yield scorer.score(index, frame, first_row, now())


def _pipeline(
    job: Job,
    run: Run,
    chunks: _Chunks,
    scorer: ChunkScorer,
    guard: _IdGuard,
    progress: Progress,
    scoring: Scoring,
) -> Run:
    """Read, score and commit with a thread on each side of the scoring."""
    stop = threading.Event()
    read: queue.Queue[Any] = queue.Queue(_QUEUE_CHUNKS)
    scored: queue.Queue[Any] = queue.Queue(_QUEUE_CHUNKS)
    state = {"run": run}

    def read_all() -> None:
        for item in chunks:
            if not _put(read, item, stop):
                return
        _put(read, _END, stop)

    def commit_all() -> None:
        while True:
            item = _get(scored, stop)
            if item is _END or item is None:
                return
            state["run"] = job.store.commit(state["run"], item)
            _check_invalid(job, state["run"])
            progress.advance(state["run"], job.source.fraction_read())

    def items() -> Iterator[tuple[int, int, pd.DataFrame]]:
        while (item := _get(read, stop)) is not None and item is not _END:
            guard.check(item[2], item[1])
            yield item

    reader = _Worker(read_all, stop)
    writer = _Worker(commit_all, stop)
    try:
        for chunk in scoring(scorer, items()):
            if not _put(scored, chunk, stop):
                break
        _put(scored, _END, stop)
        writer.join()
    finally:
        stop.set()
        reader.join()
        writer.join()
    reader.raise_error()
    writer.raise_error()
    return state["run"]


def _check_invalid(job: Job, run: Run) -> None:
    if run.rows_read and run.rows_rejected / run.rows_read > job.max_invalid:
        raise InvalidInputError.single(
            f"{run.rows_rejected} of {run.rows_read} rows read are invalid, more than "
            f"--max-invalid allows ({job.max_invalid:.1%}); see the rejects of run {run.id}"
        )


class _Worker:
    """A thread that stops the others when it fails, and hands its error to the caller."""

    def __init__(self, target: Callable[[], None], stop: threading.Event) -> None:
        self.error: BaseException | None = None

        def body() -> None:
            try:
                target()
            except BaseException as error:
                self.error = error
                stop.set()

        self.thread = threading.Thread(target=body, daemon=True)
        self.thread.start()

    def join(self) -> None:
        self.thread.join()

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error


def _put(box: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            box.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _get(box: queue.Queue[Any], stop: threading.Event) -> Any:
    while not stop.is_set():
        try:
            return box.get(timeout=0.1)
        except queue.Empty:
            continue
    return None


__all__ = ["Job", "Scoring", "run_job", "score_here"]
