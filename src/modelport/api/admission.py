"""Admission control: shed requests at once when too much work already waits.

Two bounds, each a plain count on the event loop (a worker runs one loop, so no lock):

* rows waiting for each model (queued in its batcher or being predicted): past
  `max_queue_rows`, a request for that model is refused before its body is read;
* bodies being read and parsed at once, whatever the model: past `max_concurrent_bodies`,
  a request is refused before its body is read, so memory stays bounded.

A refused request is a 503 with `Retry-After`, counted by model and reason in /metrics;
a request that was admitted is always answered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager

from starlette.requests import Request

from modelport.api.metrics import Metrics
from modelport.errors import OverloadedError
from modelport.settings import Settings

RETRY_AFTER_SECONDS = 1
"""What a refused client is told to wait: a full queue drains in well under a second."""


class Admission:
    """Counts rows waiting per model and bodies in progress; refuses past the limits.

    Args:
        settings: `max_queue_rows` (unset: twice `max_rows`; 0: no limit) and
            `max_concurrent_bodies` (0: no limit).
        metrics: where refusals are counted.
    """

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        rows = settings.max_queue_rows
        self.max_queue_rows = 2 * settings.max_rows if rows is None else rows
        self.max_bodies = settings.max_concurrent_bodies
        self.metrics = metrics
        self.waiting: Counter[str] = Counter()
        self.bodies = 0

    def check(self, model: str) -> None:
        """Refuse a request for `model` whose queue is full.

        Raises:
            OverloadedError: `max_queue_rows` rows wait for the model already.
        """
        if self.max_queue_rows and self.waiting[model] >= self.max_queue_rows:
            self._shed(model, "queue", f"{self.waiting[model]} rows are waiting for {model}")

    @contextmanager
    def rows(self, model: str, n_rows: int) -> Iterator[None]:
        """Hold `n_rows` in `model`'s queue while they wait and are predicted.

        A request is admitted while the queue is not full, whatever its size: a big one
        would otherwise never find the queue empty enough under steady load. So the queue
        holds at most `max_queue_rows` plus one request's rows (`max_rows`).

        Raises:
            OverloadedError: the queue is full.
        """
        self.check(model)
        self.waiting[model] += n_rows
        try:
            yield
        finally:
            self.waiting[model] -= n_rows

    @asynccontextmanager
    async def body(self, model: str) -> AsyncIterator[None]:
        """A slot to read and parse one request's body for `model`.

        Raises:
            OverloadedError: the model's queue is full, or every body slot is taken.
        """
        self.check(model)
        if self.max_bodies and self.bodies >= self.max_bodies:
            self._shed(model, "bodies", f"{self.bodies} request bodies are being read already")
        self.bodies += 1
        try:
            yield
        finally:
            self.bodies -= 1

    def _shed(self, model: str, reason: str, why: str) -> None:
        self.metrics.shed.labels(model, reason).inc()
        raise OverloadedError(
            f"the server is overloaded ({why}); retry in {RETRY_AFTER_SECONDS} s",
            reason,
            RETRY_AFTER_SECONDS,
        )


def admitted_body(request: Request) -> AbstractAsyncContextManager[None]:
    """`async with admitted_body(request):` around reading and parsing the request's body."""
    from modelport.api.state import server_state  # the state holds the dispatcher, which holds us

    admission = server_state(request.app).dispatch.admission
    return admission.body(request.state.model)
