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
from collections.abc import Iterator
from contextlib import contextmanager

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

    def body(self, model: str) -> BodySlot:
        """A slot to read and parse one request's body for `model` (`async with`).

        Raises (on entering):
            OverloadedError: the model's queue is full, or every body slot is taken.
        """
        return BodySlot(self, model)

    def _shed(self, model: str, reason: str, why: str) -> None:
        self.metrics.shed.labels(model, reason).inc()
        raise OverloadedError(
            f"the server is overloaded ({why}); retry in {RETRY_AFTER_SECONDS} s",
            reason,
            RETRY_AFTER_SECONDS,
        )


class BodySlot:
    """One body being read and parsed: a class, not a generator-based context manager,
    since every prediction request takes one."""

    __slots__ = ("admission", "model")

    def __init__(self, admission: Admission, model: str) -> None:
        self.admission = admission
        self.model = model

    async def __aenter__(self) -> None:
        admission = self.admission
        admission.check(self.model)
        if admission.max_bodies and admission.bodies >= admission.max_bodies:
            admission._shed(
                self.model, "bodies", f"{admission.bodies} request bodies are being read already"
            )
        admission.bodies += 1

    async def __aexit__(self, *error: object) -> None:
        self.admission.bodies -= 1


def admitted_body(request: Request) -> BodySlot:
    """`async with admitted_body(request):` around reading and parsing the request's body."""
    # The app's state (`server_state`) holds the dispatcher, which holds the admission.
    admission: Admission = request.app.state.modelport.dispatch.admission
    return admission.body(request.scope["state"]["model"])
