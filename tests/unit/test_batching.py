"""Adaptive batching: no wait when idle, coalescing under load, failures kept to their request."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from modelport import InvalidInputError
from modelport.batching import RECENT_CALLS, Batcher


class GatedModel:
    """Records each call's rows; the first call waits until released, so others queue up."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.release = threading.Event()

    def predict(self, X: np.ndarray) -> list[float]:
        self.calls.append(len(X))
        if len(self.calls) == 1:
            self.release.wait(10)
        if (X < 0).any():
            raise InvalidInputError.single("negative")
        return (X[:, 0] * 10).tolist()


async def _gather_while_first_runs(model: GatedModel, batcher: Batcher, inputs: list[np.ndarray]):
    first = asyncio.create_task(batcher(inputs[0]))
    while not model.calls:
        await asyncio.sleep(0.001)
    rest = [asyncio.create_task(batcher(X)) for X in inputs[1:]]
    await asyncio.sleep(0.05)  # they are queued behind the running call now
    model.release.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


def test_a_lone_request_runs_at_once_in_its_own_call():
    model = GatedModel()
    model.release.set()
    batcher = Batcher(model.predict)
    assert asyncio.run(batcher(np.array([[1.0], [2.0]]))) == [10.0, 20.0]
    assert model.calls == [2]


def test_requests_arriving_while_the_model_runs_go_together():
    model = GatedModel()
    sizes: list[int] = []
    batcher = Batcher(model.predict, on_call=sizes.append)
    inputs = [np.array([[float(i)]] * (i % 3 + 1)) for i in range(10)]
    results = asyncio.run(_gather_while_first_runs(model, batcher, inputs))
    assert results == [(X[:, 0] * 10).tolist() for X in inputs]
    assert model.calls == [1, sum(len(X) for X in inputs[1:])]
    assert sizes == model.calls


def test_one_bad_request_fails_only_itself():
    model = GatedModel()
    batcher = Batcher(model.predict)
    inputs = [np.array([[1.0]]), np.array([[2.0]]), np.array([[-1.0]]), np.array([[3.0]])]
    results = asyncio.run(_gather_while_first_runs(model, batcher, inputs))
    assert results[0] == [10.0] and results[1] == [20.0] and results[3] == [30.0]
    assert isinstance(results[2], InvalidInputError)


def test_batches_stop_at_max_rows_and_big_requests_run_alone():
    model = GatedModel()
    batcher = Batcher(model.predict, max_batch_rows=4)
    inputs = [np.ones((1, 1)), np.ones((3, 1)), np.ones((2, 1)), np.ones((9, 1)), np.ones((1, 1))]
    asyncio.run(_gather_while_first_runs(model, batcher, inputs))
    # After the first call: 3+2 would pass 4 rows, so 3 goes alone, then 2, then 9 alone, then 1.
    assert model.calls == [1, 3, 2, 9, 1]


def test_max_batch_wait_gathers_a_burst_into_one_call():
    model = GatedModel()
    model.release.set()
    batcher = Batcher(model.predict, max_batch_wait=0.05)

    async def burst():
        return await asyncio.gather(*(batcher(np.array([[float(i)]])) for i in range(8)))

    assert asyncio.run(burst()) == [[float(i * 10)] for i in range(8)]
    assert model.calls == [8]


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
@pytest.mark.parametrize("name", ["forest-binary", "bank-marketing", "linear-binary", "sentiment"])
def test_batched_answers_are_the_unbatched_answers(predictors, name, method):
    predictor = predictors[name]
    rows = [predictor.validate(example) for example in predictor.metadata.examples] * 4
    batcher = Batcher(getattr(predictor, method))

    async def concurrently():
        return await asyncio.gather(*(batcher(X) for X in rows))

    batched = asyncio.run(concurrently())
    alone = [getattr(predictor, method)(X) for X in rows]
    if method == "predict":
        assert batched == alone
    else:
        # Trees give the very same floats; a matrix product may sum in another order for
        # another batch shape, so linear models agree to the last bits, not always exactly.
        flat = lambda answers: [p for answer in answers for row in answer for p in row.values()]  # noqa: E731
        assert flat(batched) == pytest.approx(flat(alone), rel=1e-12, abs=1e-15)
        if name.startswith("forest"):
            assert batched == alone


class Clock:
    """The batcher's clock, moved only by the model: a call takes exactly what it is told to,
    whatever else the machine is doing."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TimedModel:
    """Takes the given seconds on each call in turn (then none); records its thread."""

    def __init__(self, clock: Clock, *seconds: float) -> None:
        self.clock = clock
        self.seconds = list(seconds)
        self.threads: list[threading.Thread] = []

    def predict(self, X: np.ndarray) -> list[float]:
        self.threads.append(threading.current_thread())
        if self.seconds:
            self.clock.now += self.seconds.pop(0)
        return X[:, 0].tolist()


def _on_loop(model: TimedModel, rows: list[int]) -> list[bool]:
    """Whether each of the sequential requests (of so many rows) ran on the loop's thread."""
    batcher = Batcher(model.predict, clock=model.clock)

    async def run() -> None:
        for n in rows:
            await batcher(np.ones((n, 1)))

    asyncio.run(run())
    return [thread is threading.main_thread() for thread in model.threads]


def test_a_model_runs_in_a_thread_until_it_is_known_to_be_fast():
    assert _on_loop(TimedModel(Clock()), [1] * 4) == [False, True, True, True]


def test_the_bound_is_one_millisecond():
    """The README's promise: a model runs on the loop when its calls take under 1 ms."""
    fast, slow = 0.0009, 0.0011
    assert _on_loop(TimedModel(Clock(), fast, fast), [1] * 3) == [False, True, True]
    assert _on_loop(TimedModel(Clock(), slow, slow), [1] * 3) == [False, False, False]


def test_a_slow_model_stays_off_the_event_loop():
    assert _on_loop(TimedModel(Clock(), *[0.003] * 6), [1] * 6) == [False] * 6


def test_one_slow_call_does_not_push_a_fast_model_off_the_loop():
    """A call slowed once (as by a wait for the GIL in a thread) is not the model's speed."""
    on_loop = _on_loop(TimedModel(Clock(), 0.0, 0.0, 0.05), [1] * 6)
    assert on_loop == [False, True, True, True, True, True]


def test_a_model_that_turned_slow_leaves_the_loop_after_a_few_calls():
    model = TimedModel(Clock(), 0.0, *[0.003] * (RECENT_CALLS + 2))
    on_loop = _on_loop(model, [1] * (RECENT_CALLS + 3))
    # Its fast call is forgotten once RECENT_CALLS slow ones have followed it.
    assert on_loop == [False, *[True] * RECENT_CALLS, False, False]


def test_a_request_far_bigger_than_the_recent_ones_goes_to_a_thread():
    """Known fast for one row is not known fast for thousands: the estimate scales up."""
    rows = [1, 1, 1, 20_000, 1]
    model = TimedModel(Clock(), 1e-6, 1e-6, 1e-6)  # 1 µs a row: 20 ms for 20,000
    assert _on_loop(model, rows) == [False, True, True, False, True]


def test_a_failed_call_says_nothing_of_a_slow_model_s_speed():
    """A call that stops early on a refused row must not bring a slow model onto the loop."""

    class SlowUnlessRefused:
        def __init__(self) -> None:
            self.threads: list[threading.Thread] = []

        def predict(self, X: np.ndarray) -> list[float]:
            self.threads.append(threading.current_thread())
            if (X < 0).any():
                raise InvalidInputError.single("negative")
            time.sleep(0.003)
            return X[:, 0].tolist()

    model = SlowUnlessRefused()
    batcher = Batcher(model.predict)

    async def run() -> None:
        await batcher(np.array([[1.0]]))
        with pytest.raises(InvalidInputError):
            await batcher(np.array([[-1.0]]))
        for _ in range(3):
            await batcher(np.array([[1.0]]))

    asyncio.run(run())
    assert not any(thread is threading.main_thread() for thread in model.threads)


class HeldModel:
    """Every call waits until released; counts the calls running at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.running = self.most = 0
        self.calls: list[int] = []
        self._lock = threading.Lock()

    def predict(self, X: np.ndarray) -> list[float]:
        with self._lock:
            self.calls.append(len(X))
            self.running += 1
            self.most = max(self.most, self.running)
        self.release.wait(10)
        with self._lock:
            self.running -= 1
        return X[:, 0].tolist()


async def _until(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        await asyncio.sleep(0.001)


def test_a_second_call_starts_beside_the_first_only_once_a_full_batch_waits():
    model = HeldModel()
    batcher = Batcher(model.predict, max_batch_rows=4, max_calls=2)

    async def run() -> list[list[float]]:
        first = asyncio.create_task(batcher(np.ones((1, 1))))
        await _until(lambda: model.calls == [1])
        partial = [asyncio.create_task(batcher(np.full((1, 1), 2.0))) for _ in range(4)]
        await asyncio.sleep(0.05)
        assert model.calls == [1]  # a batch's worth waits for the running call, to go together
        full = asyncio.create_task(batcher(np.full((2, 1), 3.0)))  # 6 rows wait: past a batch
        await _until(lambda: model.calls == [1, 4])
        assert model.running == 2
        model.release.set()
        return await asyncio.gather(first, *partial, full)

    results = asyncio.run(run())
    assert results == [[1.0], *[[2.0]] * 4, [3.0, 3.0]]
    assert model.calls == [1, 4, 2] and model.most == 2


@pytest.mark.parametrize("max_calls", [1, 3])
def test_calls_at_once_never_pass_max_calls(max_calls):
    model = HeldModel()
    batcher = Batcher(model.predict, max_batch_rows=2, max_calls=max_calls)

    async def run() -> None:
        tasks = [asyncio.create_task(batcher(np.ones((5, 1)))) for _ in range(8)]
        await _until(lambda: len(model.calls) == max_calls)
        await asyncio.sleep(0.05)
        assert model.running == max_calls  # no more start while these run
        model.release.set()
        assert await asyncio.gather(*tasks) == [[1.0] * 5] * 8

    asyncio.run(run())
    assert model.most == max_calls and model.calls == [5] * 8
