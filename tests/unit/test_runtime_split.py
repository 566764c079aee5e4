"""Without numba, a forest twin's big calls go tree by tree on several threads: exactly the
unsplit answers, and only for calls big enough (rows times trees) to be worth a thread hop."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from modelport import ModelBundle, ModelMetadata, Predictor, parallel, runtime
from modelport.completion import complete_metadata
from modelport.parallel import limited

RNG = np.random.default_rng(1)
X = RNG.normal(size=(400, 6))
THREE_CLASSES = np.array(["a", "b", "c"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.3)]
TWO_CLASSES = X[:, 2] + RNG.normal(scale=0.5, size=len(X)) > 0
TARGET = X[:, 0] * 2 - X[:, 3] + RNG.normal(scale=0.1, size=len(X))
TREES = 20
BIG = 2 * runtime.SPLIT_WORK // TREES  # rows for two parts of work
ROWS = RNG.normal(scale=1.5, size=(2 * BIG + 37, 6))  # work for four parts, and a few rows

FORESTS = {
    "random-forest-binary": (RandomForestClassifier, TWO_CLASSES, "predict_proba"),
    "random-forest-3-classes": (RandomForestClassifier, THREE_CLASSES, "predict_proba"),
    "extra-trees-3-classes": (ExtraTreesClassifier, THREE_CLASSES, "predict_proba"),
    "random-forest-regressor": (RandomForestRegressor, TARGET, "predict"),
    "extra-trees-regressor": (ExtraTreesRegressor, TARGET, "predict"),
}


@pytest.fixture(autouse=True)
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "CORES", 2)
    monkeypatch.setattr(runtime, "_compiled", lambda trees: None)  # as without numba


@pytest.fixture
def splits(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, set[int]]]:
    """Each split the twins make: its number of parts and the threads that ran them."""
    seen: list[tuple[int, set[int]]] = []
    real = runtime.run_parts

    def spy(function: Any, parts: Any) -> Any:
        threads: set[int] = set()

        def part(item: Any) -> Any:
            threads.add(threading.get_ident())
            return function(item)

        seen.append((len(parts), threads))
        return real(part, parts)

    monkeypatch.setattr(runtime, "run_parts", spy)
    return seen


def _twin(name: str) -> tuple[Any, Any, str]:
    forest, y, method = FORESTS[name]
    model = forest(n_estimators=TREES, max_depth=8, random_state=0).fit(X, y)
    predictor = Predictor(ModelBundle(model, complete_metadata(model, ModelMetadata())))
    assert predictor.runtime is not model  # the twin
    return model, predictor.runtime, method


@pytest.mark.parametrize("by", ["trees", "rows"])
@pytest.mark.parametrize("name", FORESTS)
def test_a_split_call_answers_bit_for_bit_as_one_thread_and_the_forest(
    name, by, splits, monkeypatch
):
    if by == "rows":  # as when the trees' answers would take too much memory to keep
        monkeypatch.setattr(runtime, "KEPT_ANSWERS", 0)
    model, twin, method = _twin(name)
    with limited(1):
        alone = getattr(twin, method)(ROWS)
    assert splits == []
    split = getattr(twin, method)(ROWS)
    [(parts, threads)] = splits
    assert parts == 2
    assert len(threads) == 2
    np.testing.assert_array_equal(split, alone)
    np.testing.assert_array_equal(split, getattr(model, method)(ROWS))


def test_predict_of_a_split_classifier_is_the_forest_s(splits):
    model, twin, _ = _twin("random-forest-3-classes")
    np.testing.assert_array_equal(twin.predict(ROWS), model.predict(ROWS))
    assert [parts for parts, _ in splits] == [2]


def test_only_calls_of_enough_rows_times_trees_are_split(splits):
    _, twin, _ = _twin("random-forest-binary")
    for rows in (1, 10, BIG // 2, BIG - 1):
        twin.predict_proba(ROWS[:rows])
    assert splits == []
    twin.predict_proba(ROWS[:BIG])
    assert [parts for parts, _ in splits] == [2]


def test_a_call_is_split_in_no_more_parts_than_cores(splits, monkeypatch):
    _, twin, _ = _twin("random-forest-binary")
    monkeypatch.setattr(parallel, "CORES", 3)
    twin.predict_proba(ROWS[: 3 * BIG // 2])
    twin.predict_proba(ROWS)  # work for four parts, three cores
    assert [parts for parts, _ in splits] == [3, 3]
