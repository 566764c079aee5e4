"""Adaptive batching: concurrent calls coalesced into one model call.

No added wait when the model is idle (a lone request runs at once); while a call runs, the
requests that arrive queue up and go together in the next one, so batches grow with load.
Once more than a full batch waits, waiting gains nothing: another call starts beside the
running one (up to `max_calls`), so a model that releases the GIL uses a free core.
A batch that fails is retried one request at a time, so one bad request fails only itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger("modelport.batching")

DEFAULT_MAX_BATCH_ROWS = 256
INLINE_SECONDS = 0.001
"""Calls expected to take less than this run on the event loop, not in a thread."""
RECENT_CALLS = 8
"""How many recent calls the expected time of the next one is drawn from."""


@dataclass
class _Item:
    X: Any
    rows: int
    future: asyncio.Future[list[Any]]


class Batcher:
    """Runs `call` on the rows of many concurrent requests at once; answers each its own rows.

    Args:
        call: blocking function from model input to one result per row (a list).
        max_batch_rows: rows past which no more requests join a batch (a bigger request
            runs alone, never split).
        max_batch_wait: seconds an idle batcher waits for company before calling; 0 means a
            lone request never waits.
        on_call: told the number of rows of every model call (for metrics).
        name: the model's name, for the log.
        clock: seconds from an arbitrary start, to time the model's calls (a test gives
            its own, so that what counts as fast does not depend on a busy machine).
        turn: held around every call run in a thread (the server's turns on the GIL, for
            a model that takes the GIL back often: see `modelport.api.turns`).
        max_calls: calls run at once, at most; from the second on, only while more than
            `max_batch_rows` rows wait (1,000-row requests: measured 1.20x the rows per
            second with two on two cores).

    Example:
        >>> batcher = Batcher(predictor.predict)  # doctest: +SKIP
        >>> labels = await batcher(X)  # doctest: +SKIP
    """

    def __init__(
        self,
        call: Callable[[Any], Sequence[Any]],
        *,
        max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS,
        max_batch_wait: float = 0.0,
        on_call: Callable[[int], None] | None = None,
        name: str = "model",
        clock: Callable[[], float] = time.perf_counter,
        turn: Callable[[], AbstractAsyncContextManager[Any]] | None = None,
        max_calls: int = 1,
    ) -> None:
        self.call = call
        self.name = name
        self.max_batch_rows = max_batch_rows
        self.max_batch_wait = max_batch_wait
        self.on_call = on_call or (lambda rows: None)
        self.clock = clock
        self.turn = turn
        self.max_calls = max(1, max_calls)
        self._pending: list[_Item] = []
        self._pending_rows = 0
        self._calls = 0  # calls running, or about to
        self._drains: set[asyncio.Task[None]] = set()
        self._recent: deque[tuple[float, int]] = deque(maxlen=RECENT_CALLS)  # (seconds, rows)

    async def __call__(self, X: Any) -> list[Any]:
        """This request's results, computed in whatever batch it joins."""
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._pending.append(_Item(X, len(X), future))
        self._pending_rows += len(X)
        if self._calls == 0 or (
            self._calls < self.max_calls and self._pending_rows > self.max_batch_rows
        ):
            self._calls += 1
            drain = asyncio.create_task(self._drain())
            self._drains.add(drain)  # a task nobody holds may be collected mid-way
            drain.add_done_callback(self._drains.discard)
        return await future

    async def _drain(self) -> None:
        try:
            if self.max_batch_wait > 0:
                await asyncio.sleep(self.max_batch_wait)
            await self._answer_pending()
        finally:
            self._calls -= 1

    async def _answer_pending(self) -> None:
        while self._pending:
            batch = self._take()
            try:
                if self.expected_seconds(sum(item.rows for item in batch)) < INLINE_SECONDS:
                    results = self._run(batch)  # a thread hop would cost more than the model
                else:
                    async with self.turn() if self.turn is not None else nullcontext():
                        results = await asyncio.to_thread(self._run, batch)
            except Exception as error:  # never leave a request waiting forever
                results = [error] * len(batch)
            for item, result in zip(batch, results, strict=True):
                if item.future.done():
                    continue  # the client went away
                if isinstance(result, BaseException):
                    item.future.set_exception(result)
                else:
                    item.future.set_result(result)

    def _take(self) -> list[_Item]:
        """The oldest requests, up to `max_batch_rows` rows (always at least one request)."""
        batch, rows = [self._pending[0]], self._pending[0].rows
        for item in self._pending[1:]:
            if rows + item.rows > self.max_batch_rows:
                break
            batch.append(item)
            rows += item.rows
        del self._pending[: len(batch)]
        self._pending_rows -= rows
        return batch

    def expected_seconds(self, rows: int) -> float:
        """How long a call of `rows` rows should take; infinite until measured.

        The least over the recent calls, each scaled up in proportion when it had fewer
        rows (a call with fewer rows is taken to cost no more). The least, not the mean: a
        call run in a thread is slowed by waits for the GIL, and a mean would keep a fast
        model in a thread, paying those waits, for good.
        """
        return min(
            (seconds * max(1.0, rows / seen_rows) for seconds, seen_rows in self._recent),
            default=float("inf"),
        )

    def _run(self, batch: list[_Item]) -> list[list[Any] | BaseException]:
        started = self.clock()
        results = self._call_batch(batch)
        if not any(isinstance(result, BaseException) for result in results):
            # A call that failed (say, on a refused row) may have stopped early: its time
            # says nothing of the model's speed.
            rows = sum(item.rows for item in batch)
            self._recent.append((self.clock() - started, max(rows, 1)))
        return results

    def _call_batch(self, batch: list[_Item]) -> list[list[Any] | BaseException]:
        """One model call for the batch; on failure, one call per request to find the culprit."""
        if len(batch) > 1:
            try:
                combined = self.call(concat_inputs([item.X for item in batch]))
                self.on_call(sum(item.rows for item in batch))
                return _split(combined, [item.rows for item in batch])
            except Exception as error:  # one request's rows broke the batch: answer each alone
                logger.warning(
                    "model %s: a batch of %d requests failed (%s: %s); answering each alone",
                    self.name,
                    len(batch),
                    type(error).__name__,
                    error,
                )
        results: list[list[Any] | BaseException] = []
        for item in batch:
            try:
                results.append(list(self.call(item.X)))
                self.on_call(item.rows)
            except Exception as error:
                results.append(error)
        return results


def concat_inputs(parts: list[Any]) -> Any:
    """Model inputs of several requests as one (frames, arrays or lists of texts)."""
    first = parts[0]
    if isinstance(first, pd.DataFrame):
        return pd.concat(parts, ignore_index=True)
    if isinstance(first, np.ndarray):
        return np.concatenate(parts)
    return [row for part in parts for row in part]


def _split(results: Sequence[Any], sizes: list[int]) -> list[list[Any] | BaseException]:
    out: list[list[Any] | BaseException] = []
    start = 0
    for size in sizes:
        out.append(list(results[start : start + size]))
        start += size
    return out
