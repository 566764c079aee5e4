"""Turns on the GIL: a forest's threaded call and a big body's parse never run at once;
small work, and models that release the GIL once per call, never wait for a turn."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import orjson
import pytest
from starlette.requests import Request

from modelport import Settings
from modelport import runtime as runtime_module
from modelport.api.body import read_payload
from modelport.api.dispatch import Dispatcher
from modelport.api.metrics import Metrics
from modelport.api.turns import BIG_BODY_BYTES, BIG_INPUT_CELLS, Turns
from modelport.batching import Batcher
from modelport.predictor import Predictor


def _request(body: bytes) -> Request:
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/predict",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
    }
    return Request(scope, receive)


def _records(size: int) -> bytes:
    """A JSON list of records of at least `size` bytes."""
    rows = [{"x": 0.5, "y": 1.25}] * (size // 19 + 1)  # 19 bytes a record, with its comma
    body = orjson.dumps(rows)
    assert len(body) >= size
    return body


class _HeldModel:
    """A model whose call runs in the batcher's thread until released."""

    def __init__(self, events: list[str] | None = None) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.events = events if events is not None else []

    def predict(self, X: np.ndarray) -> list[float]:
        self.started.set()
        assert self.release.wait(10)
        self.events.append("predicted")
        return X[:, 0].tolist()


async def _until(condition: threading.Event) -> None:
    for _ in range(1000):
        if condition.is_set():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the model was never called")


def test_a_big_parse_waits_for_a_threaded_call_and_a_small_one_does_not():
    async def scenario() -> list[str]:
        events: list[str] = []
        turns, model = Turns(), _HeldModel(events)
        batcher = Batcher(model.predict, turn=turns)  # unmeasured: its first call is threaded
        call = asyncio.create_task(batcher(np.array([[1.0], [2.0]])))
        await _until(model.started)
        assert turns().locked()

        small = await read_payload(_request(b'[{"x": 1}]'), 10**7, turns)
        assert small.records == [{"x": 1}]  # answered while the call holds the turn

        big = asyncio.create_task(read_payload(_request(_records(BIG_BODY_BYTES)), 10**7, turns))
        big.add_done_callback(lambda _: events.append("parsed"))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not big.done()

        model.release.set()
        assert await call == [1.0, 2.0]
        assert len((await big).records) > 1
        assert not turns().locked()
        return events

    assert asyncio.run(scenario()) == ["predicted", "parsed"]


def test_a_call_without_a_turn_leaves_the_lock_free():
    async def scenario() -> None:
        turns, model = Turns(), _HeldModel()
        batcher = Batcher(model.predict)
        call = asyncio.create_task(batcher(np.array([[3.0]])))
        await _until(model.started)
        assert not turns().locked()
        parsed = await read_payload(_request(_records(BIG_BODY_BYTES)), 10**7, turns)
        assert len(parsed.records) > 1  # parsed while the model runs
        model.release.set()
        assert await call == [3.0]

    asyncio.run(scenario())


def test_each_event_loop_gets_its_own_lock():
    turns = Turns()

    async def hold() -> asyncio.Lock:
        lock = turns()
        await lock.acquire()  # never released: a later loop must not inherit it
        return lock

    first = asyncio.run(hold())
    second = asyncio.run(hold())
    assert first is not second


@pytest.mark.parametrize("numba", [True, False])
@pytest.mark.parametrize(
    ("name", "runtime", "tree_by_tree"),
    [
        ("forest-binary", "native", True),
        ("forest-multiclass", "native", True),
        ("forest-regression", "native", True),
        ("forest-binary", "onnx", False),  # one C call that releases the GIL once
        ("linear-binary", "native", False),
        ("lightgbm-binary", "native", False),
    ],
)
def test_forests_run_tree_by_tree_take_turns(
    example_bundles, monkeypatch, name, runtime, tree_by_tree, numba
):
    """A native forest walked by compiled code holds the GIL once a call, as ONNX does."""
    if not numba:
        monkeypatch.setattr(runtime_module, "_compiled", lambda trees: None)
    takes = tree_by_tree and not numba
    assert Predictor(example_bundles[name], runtime=runtime).takes_turns is takes


def test_a_served_forest_answers_big_bodies_as_small_ones(serve, example_dir):
    """Through the app: a body past the turn's size is answered as a small one is."""
    with serve(example_dir / "forest-binary.joblib") as client:
        features = client.get("/features").json()
        row = {f["name"]: f.get("default", 0) for f in features if "default" in f}
        small = client.post("/predict?proba=1", json=[row]).json()["prediction"]
        rows = [row] * (BIG_BODY_BYTES // len(orjson.dumps(row)) + 1)
        big = client.post("/predict?proba=1", content=orjson.dumps(rows))
        assert len(big.content) > 0 and big.status_code == 200, big.text
        assert big.json()["prediction"] == small * len(rows)


@pytest.mark.parametrize("consume", [True, False])
def test_a_big_input_is_consumed_only_when_asked(predictors, consume):
    predictor = predictors["forest-binary"]
    names = predictor.metadata.feature_names
    row = dict.fromkeys(names, 1.0)
    big = [dict(row) for _ in range(BIG_INPUT_CELLS // len(names) + 1)]
    small = [dict(row)]
    dispatch = Dispatcher(Settings(), Metrics())

    async def validate(rows: list[dict[str, float]]) -> np.ndarray:
        return await dispatch.validate(predictor, rows, consume=consume)

    X = asyncio.run(validate(big))
    assert len(X) == BIG_INPUT_CELLS // len(names) + 1
    assert big == ([] if consume else [row] * len(X))  # emptied in its turn, if asked
    assert len(asyncio.run(validate(small))) == 1 and small == [row]  # small: never emptied
