"""A batch that fails is retried one request at a time, and says so once in the log."""

from __future__ import annotations

import asyncio
import logging

import numpy as np

from modelport import InvalidInputError
from modelport.batching import Batcher


def _refuses_negatives(X: np.ndarray) -> list[float]:
    if (X < 0).any():
        raise InvalidInputError.single("negative values are refused")
    return X[:, 0].tolist()


async def _together(batcher: Batcher, inputs: list[np.ndarray]) -> list[object]:
    # Created together, all three are queued before the batcher's first call.
    return await asyncio.gather(*(batcher(X) for X in inputs), return_exceptions=True)


def test_a_failed_batch_is_logged_once_with_the_model_and_the_error(caplog):
    calls: list[int] = []

    def model(X: np.ndarray) -> list[float]:
        calls.append(len(X))
        return _refuses_negatives(X)

    batcher = Batcher(model, name="cities")
    inputs = [np.array([[1.0]]), np.array([[-1.0]]), np.array([[2.0]])]
    with caplog.at_level(logging.WARNING, logger="modelport.batching"):
        results = asyncio.run(_together(batcher, inputs))
    assert results[0] == [1.0] and results[2] == [2.0]
    assert isinstance(results[1], InvalidInputError)
    assert calls == [3, 1, 1, 1]  # the batch, then each request alone
    [record] = caplog.records
    assert record.getMessage() == (
        "model cities: a batch of 3 requests failed (InvalidInputError: "
        "negative values are refused); answering each alone"
    )


def test_a_request_that_fails_alone_is_not_logged_as_a_batch(caplog):
    batcher = Batcher(_refuses_negatives, name="cities")
    with caplog.at_level(logging.WARNING, logger="modelport.batching"):
        [result] = asyncio.run(_together(batcher, [np.array([[-1.0]])]))
    assert isinstance(result, InvalidInputError)
    assert caplog.records == []
