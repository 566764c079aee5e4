"""With numba, a forest twin's trees are walked by compiled code: the forest's answers bit
for bit at every size, missing values where the trees send them, and the GIL left alone."""

from __future__ import annotations

import sys
import threading
from typing import Any

import numba
import numpy as np
import pytest
import sklearn
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from modelport import compiled_forest, parallel, runtime
from modelport.compiled_forest import CompiledForest
from modelport.runtime import ForestClassifierTwin, ForestRegressorTwin
from tests.forests import CLASSES, FORESTS, RNG, TARGET, X, asked_rows


def _same(model: Any, twin: Any, method: str, rows: np.ndarray) -> None:
    with np.errstate(over="ignore"), sklearn.config_context(assume_finite=True):
        np.testing.assert_array_equal(getattr(twin, method)(rows), getattr(model, method)(rows))


@pytest.mark.parametrize("depth", [3, None])  # shallow, and grown to pure leaves (uneven)
@pytest.mark.parametrize(("forest", "y", "twin", "method"), FORESTS)
def test_the_compiled_walk_is_the_forest_bit_for_bit(forest, y, twin, method, depth):
    model = forest(n_estimators=25, max_depth=depth, random_state=0).fit(X, y)
    compiled_twin = twin(model)
    assert compiled_twin.compiled is not None and compiled_twin.flat is None
    for n in (1, 2, 31, 32, 33, 500, 2_500):  # around a block, and calls cut across threads
        _same(model, compiled_twin, method, asked_rows(n))


@pytest.mark.parametrize(("forest", "y", "twin", "method"), FORESTS)
def test_missing_values_go_where_each_tree_was_trained_to_send_them(forest, y, twin, method):
    if forest in (ExtraTreesClassifier, ExtraTreesRegressor) and sklearn.__version__ < "1.6":
        pytest.skip("extra trees learn from missing values from scikit-learn 1.6")
    train = X.copy()
    train[RNG.random(size=train.shape) < 0.15] = np.nan  # each split learns a side for them
    model = forest(n_estimators=20, max_depth=8, random_state=0).fit(train, y)
    sides = {bool(side) for e in model.estimators_ for side in e.tree_.missing_go_to_left}
    assert sides == {True, False}
    compiled_twin = twin(model)
    assert compiled_twin.compiled is not None
    for n in (1, 40, 700):
        _same(model, compiled_twin, method, asked_rows(n, missing=True))


def test_a_forest_trained_without_missing_values_sends_them_as_it_does():
    model = RandomForestClassifier(n_estimators=10, random_state=2).fit(X, CLASSES)
    _same(model, ForestClassifierTwin(model), "predict_proba", asked_rows(64, missing=True))


def test_values_on_a_threshold_go_where_the_trees_send_them():
    model = RandomForestClassifier(n_estimators=8, max_depth=6, random_state=1).fit(X, CLASSES)
    rows = np.zeros((8, 6))
    for i, estimator in enumerate(model.estimators_):  # each tree's root threshold, exactly
        tree = estimator.tree_
        rows[i, tree.feature[0]] = np.float32(tree.threshold[0])
    _same(model, ForestClassifierTwin(model), "predict_proba", rows)


def test_a_big_call_is_cut_by_rows_across_threads_with_the_same_sums(monkeypatch):
    model = RandomForestRegressor(n_estimators=30, max_depth=12, random_state=0).fit(X, TARGET)
    forest = ForestRegressorTwin(model).compiled
    rows = runtime._tree_input(asked_rows(3_000))
    walked: list[tuple[int, str]] = []
    real = CompiledForest._walk

    def spy(self: CompiledForest, part: np.ndarray, total: np.ndarray) -> None:
        walked.append((len(part), threading.current_thread().name))
        real(self, part, total)

    monkeypatch.setattr(CompiledForest, "_walk", spy)
    monkeypatch.setattr(compiled_forest, "SPLIT_WORK", 1_000)
    for module in (compiled_forest, parallel):
        monkeypatch.setattr(module, "free_threads", lambda: 2)
    cut = forest.summed(rows)
    assert [n for n, _ in walked] == [1_500, 1_500] and len({t for _, t in walked}) == 2
    walked.clear()
    monkeypatch.setattr(compiled_forest, "SPLIT_WORK", 10**9)
    whole = forest.summed(rows)
    assert [n for n, _ in walked] == [3_000]
    np.testing.assert_array_equal(cut, whole)


def test_the_walk_is_compiled_to_run_without_the_gil():
    """Without the GIL, a big call's parts run at once and the event loop runs beside them."""
    assert compiled_forest._walk.targetoptions["nogil"] is True


def test_without_numba_or_with_its_compiler_off_the_numpy_walks_are_used(monkeypatch):
    model = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(X, CLASSES)
    monkeypatch.setattr(numba.config, "DISABLE_JIT", True)  # as numba's own config file sets it
    twin = ForestClassifierTwin(model)
    assert twin.compiled is None and twin.flat is not None and twin.tree_by_tree
    monkeypatch.setattr(numba.config, "DISABLE_JIT", False)
    monkeypatch.setenv("NUMBA_DISABLE_JIT", "1")  # read before numba would be imported
    assert ForestClassifierTwin(model).compiled is None
    monkeypatch.setenv("NUMBA_DISABLE_JIT", "0")
    assert ForestClassifierTwin(model).compiled is not None
    monkeypatch.setitem(sys.modules, "modelport.compiled_forest", None)
    twin = ForestClassifierTwin(model)
    assert twin.compiled is None and twin.flat is not None
    _same(model, twin, "predict_proba", asked_rows(3))


def test_a_forest_too_big_to_copy_is_walked_tree_by_tree(monkeypatch):
    monkeypatch.setattr(runtime, "MAX_FLAT_NODES", 10)
    model = RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0).fit(X, TARGET)
    twin = ForestRegressorTwin(model)
    assert twin.compiled is None and twin.flat is None
    _same(model, twin, "predict", asked_rows(40))
