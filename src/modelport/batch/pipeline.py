"""Three stages at once: read the next chunk, score this one, commit the last.

Reading (pandas' and pyarrow's parsers) and committing (drivers, file writes) release the
GIL for much of their time, as the model's trees and BLAS do: overlapped, they keep both
cores busy. Queues of two chunks between the stages bound memory whatever the input's size.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pandas as pd

from modelport.batch.readers import InputTable
from modelport.batch.scoring import ChunkScorer
from modelport.store.chunk import ScoredChunk
from modelport.store.runs import Run, now

Item = tuple[int, int, pd.DataFrame]
"""A chunk as read: its index in the input, the number of its first row, its rows."""
Scoring = Callable[[ChunkScorer, Iterator[Item]], Iterator[ScoredChunk]]
"""An engine: scores chunks and yields them in the order they came."""
_QUEUE_CHUNKS = 2
_END = object()


def score_here(scorer: ChunkScorer, items: Iterator[Item]) -> Iterator[ScoredChunk]:
    """The local engine: each chunk in this process, on every core."""
    for index, first_row, frame in items:
        yield scorer.score(index, frame, first_row, now())


class Chunks:
    """The input's chunks after the committed ones, numbered; the first is read at once
    (its id column fixes the id's kind, and an unreadable file fails before any write)."""

    def __init__(self, source: InputTable, chunk_size: int, run: Run | None) -> None:
        self._iterator = source.chunks(chunk_size, skip=run.chunks_committed if run else 0)
        self.index = run.chunks_committed if run else 0
        self.first_row = run.rows_read if run else 0
        self.first: pd.DataFrame | None = next(self._iterator, None)

    def __iter__(self) -> Iterator[Item]:
        if self.first is None:
            return
        frame: pd.DataFrame | None = self.first
        while frame is not None:
            yield self.index, self.first_row, frame
            self.index += 1
            self.first_row += len(frame)
            frame = next(self._iterator, None)


def run_pipeline(
    chunks: Iterable[Item],
    scoring: Callable[[Iterator[Item]], Iterator[ScoredChunk]],
    commit: Callable[[ScoredChunk], None],
) -> None:
    """Read in one thread, score in this one, commit in another, in the input's order.

    The first error in any stage stops all three and is raised here; a chunk being
    committed is finished first (each commit is atomic anyway).
    """
    stop = threading.Event()
    read: queue.Queue[Any] = queue.Queue(_QUEUE_CHUNKS)
    scored: queue.Queue[Any] = queue.Queue(_QUEUE_CHUNKS)

    def read_all() -> None:
        for item in chunks:
            if not _put(read, item, stop):
                return
        _put(read, _END, stop)

    def commit_all() -> None:
        while (chunk := _get(scored, stop)) is not None and chunk is not _END:
            commit(chunk)

    def items() -> Iterator[Item]:
        while (item := _get(read, stop)) is not None and item is not _END:
            yield item

    reader, writer = _Worker(read_all, stop), _Worker(commit_all, stop)
    try:
        for chunk in scoring(items()):
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
