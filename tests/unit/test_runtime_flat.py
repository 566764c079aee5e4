"""Without numba, a forest twin's calls of a few rows walk every tree at once with numpy:
the same bits as the trees called one by one and as the forest itself, and only for calls
small enough."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import sklearn
from sklearn.ensemble import (
    RandomForestClassifier,
    RandomForestRegressor,
)

from modelport import runtime
from modelport.runtime import ForestClassifierTwin, ForestRegressorTwin
from tests.forests import CLASSES, FORESTS, TARGET, X, asked_rows


@pytest.fixture(autouse=True)
def _without_numba(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "_compiled", lambda trees: None)


@pytest.mark.parametrize("depth", [3, None])  # shallow, and grown to pure leaves (uneven)
@pytest.mark.parametrize(("forest", "y", "twin", "method"), FORESTS)
def test_the_flat_walk_is_the_forest_bit_for_bit(forest, y, twin, method, depth):
    model = forest(n_estimators=15, max_depth=depth, random_state=0).fit(X, y)
    flat_twin = twin(model)
    assert flat_twin.flat is not None
    for n in (1, 2, 5, 9):
        rows = asked_rows(n)
        with np.errstate(over="ignore"), sklearn.config_context(assume_finite=True):
            ours = getattr(flat_twin, method)(rows)
            np.testing.assert_array_equal(ours, getattr(model, method)(rows))
            trees, inputs = flat_twin.trees, runtime._tree_input(rows)
        np.testing.assert_array_equal(
            flat_twin.flat.summed(inputs) / len(trees), runtime._summed(trees, inputs)
        )


def _walks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    seen: list[int] = []
    real = runtime._FlatForest.summed

    def spy(self: Any, rows: np.ndarray) -> np.ndarray:
        seen.append(len(rows))
        return real(self, rows)

    monkeypatch.setattr(runtime._FlatForest, "summed", spy)
    return seen


def test_only_small_calls_without_missing_values_walk_flat(monkeypatch):
    model = RandomForestClassifier(n_estimators=10, max_depth=8, random_state=0).fit(X, CLASSES)
    twin = ForestClassifierTwin(model)
    walks = _walks(monkeypatch)
    small = runtime.FLAT_WORK // twin.flat.depth
    twin.predict_proba(asked_rows(small))
    twin.predict_proba(asked_rows(small + 1))
    assert walks == [small]

    missing = asked_rows(3)
    missing[0, 1] = np.nan
    twin.predict_proba(missing)  # a tree may send a missing value either side: tree by tree
    assert walks == [small]


def test_a_forest_too_big_to_copy_is_not_laid_out_flat(monkeypatch):
    monkeypatch.setattr(runtime, "MAX_FLAT_NODES", 10)
    model = RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0).fit(X, TARGET)
    twin = ForestRegressorTwin(model)
    assert twin.flat is None
    rows = asked_rows(2)
    np.testing.assert_array_equal(twin.predict(rows), model.predict(rows))


def test_values_on_a_threshold_go_where_the_trees_send_them():
    model = RandomForestClassifier(n_estimators=8, max_depth=6, random_state=1).fit(X, CLASSES)
    twin = ForestClassifierTwin(model)
    rows = np.zeros((8, X.shape[1]))
    for i, estimator in enumerate(model.estimators_):  # each tree's root threshold, exactly
        tree = estimator.tree_
        rows[i, tree.feature[0]] = np.float32(tree.threshold[0])
    np.testing.assert_array_equal(twin.predict_proba(rows), model.predict_proba(rows))
    assert twin.flat is not None and len(rows) * twin.flat.depth <= runtime.FLAT_WORK
