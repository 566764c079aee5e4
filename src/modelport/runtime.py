"""How a model is called: the estimator as is, or a numpy twin that skips the overheads.

A scikit-learn model fitted on a DataFrame of numbers only uses the column names to check
them. Building a DataFrame for every request, and having scikit-learn check it, costs more
than a small model's prediction, so such a model gets a twin: a shallow copy without
`feature_names_in_` that takes the same columns as numpy.

A random forest or extra-trees model spends most of a small prediction in joblib's
dispatch and in checking the input again for each tree (4.2 ms of a 100-tree forest's
4.3 ms for one row, measured); its twin calls the fitted trees' structures itself, as
scikit-learn does, summing their answers in the same order, and runs a big call's trees
on every core.

A pipeline of standard scalers and a linear model spends most of a one-row prediction in
scikit-learn's input checks (about 0.2 ms, for a few microseconds of arithmetic); its twin
does the arithmetic in scikit-learn's order of operations.

A twin is used only after it has given exactly the answers of the model itself on the
example rows and random rows.
"""

from __future__ import annotations

import copy
import itertools
import logging
import warnings
from collections.abc import Iterable
from functools import partial
from typing import Any, Literal

import numpy as np
import pandas as pd
import sklearn
from scipy.special import expit
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.extmath import softmax

from modelport.compiled import compiled_module
from modelport.metadata import FeatureType, ModelMetadata
from modelport.parallel import cut, free_threads, run_parts

logger = logging.getLogger("modelport.runtime")

_NUMERIC = frozenset({FeatureType.NUMERIC, FeatureType.INTEGER, FeatureType.BOOLEAN})
_CHECK_ROWS = 32
Order = Literal["C", "F"]


def numpy_twin(estimator: Any, metadata: ModelMetadata) -> Any | None:
    """A copy of the model that takes numpy and answers exactly as the model, or None."""
    if metadata.input_kind not in ("dataframe", "numpy") or not metadata.features:
        return None
    if any(feature.type not in _NUMERIC for feature in metadata.features):
        return None
    # The layout the model's arithmetic sees when served as it is: a DataFrame's values
    # reach it in column order, and the last bit of a dot product depends on the order.
    order: Order = "F" if metadata.input_kind == "dataframe" else "C"
    twin = _forest_twin(estimator) or _linear_twin(estimator, order)
    if twin is None and order == "F":
        unnamed = _unnamed_twin(estimator)
        twin = ColumnOrderRows(unnamed) if unnamed is not None else None
    return twin if twin is not None and _agrees(estimator, twin, metadata) else None


class ColumnOrderRows:
    """A model handed its rows in column order, as a DataFrame hands them to it."""

    def __init__(self, model: Any) -> None:
        self.model = model
        if hasattr(model, "predict_proba"):
            self.predict_proba = lambda X: model.predict_proba(np.asfortranarray(X))

    def predict(self, X: Any) -> Any:
        return self.model.predict(np.asfortranarray(X))


def _unnamed_twin(estimator: Any) -> Any | None:
    """A shallow copy whose first step does not check column names."""
    head = estimator.steps[0][1] if hasattr(estimator, "steps") else estimator
    if not type(head).__module__.startswith("sklearn.") or hasattr(head, "transformers"):
        return None  # not scikit-learn's own check, or a ColumnTransformer selecting by name
    if "feature_names_in_" not in vars(head):
        return None
    twin_head = copy.copy(head)
    del twin_head.feature_names_in_
    if not hasattr(estimator, "steps"):
        return twin_head
    twin = copy.copy(estimator)
    twin.steps = [(estimator.steps[0][0], twin_head), *estimator.steps[1:]]
    return twin


def _forest_twin(estimator: Any) -> Any | None:
    """The forest's trees called directly, for scikit-learn's own single-output forests.

    Exact classes only: a subclass may predict in its own way.
    """
    if getattr(estimator, "n_outputs_", 0) != 1:
        return None
    if type(estimator) in (RandomForestClassifier, ExtraTreesClassifier):
        return ForestClassifierTwin(estimator)
    if type(estimator) in (RandomForestRegressor, ExtraTreesRegressor):
        return ForestRegressorTwin(estimator)
    return None


class _ForestMean:
    """The mean of a fitted forest's trees, summed in their order as scikit-learn does.

    Each tree's own structure (`tree_`) is called: the estimator's method around it checks
    that the tree is fitted and counts the features on every call (about three quarters of
    a tree's time for one row, measured), for input this class checks once. With numba
    installed, compiled code walks every tree (`modelport.compiled_forest`); without it, a
    call of a few rows walks every tree at once with numpy (`_FlatForest`).
    """

    def __init__(self, forest: Any) -> None:
        self.trees = [estimator.tree_ for estimator in forest.estimators_]
        self.n_features = int(forest.n_features_in_)
        nodes = sum(tree.node_count for tree in self.trees)
        single = all(tree.n_outputs == 1 for tree in self.trees)
        small = single and nodes <= MAX_FLAT_NODES
        self.compiled = _compiled(self.trees) if small else None
        self.flat = _FlatForest(self.trees) if small and self.compiled is None else None

    @property
    def tree_by_tree(self) -> bool:
        """True when a big call goes tree by tree, taking the GIL back for each."""
        return self.compiled is None

    def mean(self, X: Any) -> np.ndarray:
        """`[n_rows, width]`: the class probabilities, or one column of values."""
        rows = _tree_input(X)
        if rows.ndim != 2 or rows.shape[1] != self.n_features:
            raise ValueError(f"{rows.shape} rows for a forest of {self.n_features} features")
        if self.compiled is not None:
            total: np.ndarray = self.compiled.summed(rows)
            total /= len(self.trees)
            return total
        flat = self.flat
        if flat is not None and len(rows) * flat.depth <= FLAT_WORK and not np.isnan(rows).any():
            total = flat.summed(rows)
            total /= len(self.trees)
            return total
        return _tree_mean(self.trees, rows)


FLAT_WORK = 160
"""Rows times depth up to which a call walks all its trees at once: a few array operations
per level beat a call per tree (about 2 µs each) up to about 16 rows of depth 10 (one row
of the benchmark's 100-tree forest: 40 µs instead of 234, measured)."""
MAX_FLAT_NODES = 1_000_000
"""Nodes past which a forest is not laid out again (the copy costs 16 to 32 bytes a node,
plus its values)."""


def _compiled(trees: list[Any]) -> Any | None:
    """The trees laid out for compiled code, or None where there is none (see
    `modelport.compiled`)."""
    module = compiled_module("compiled_forest")
    return module.CompiledForest(trees) if module is not None else None


class _FlatForest:
    """Every tree's nodes in one set of arrays, walked one level at a time for all trees and
    rows at once.

    The comparisons are scikit-learn's (the float32 value against the float64 threshold,
    left when not greater) and the answers are summed in the trees' order from zero, as
    `_mean` sums them: the same bits. A leaf is its own child, so a walk that reaches it
    early stays there. Rows with a missing value go the per-tree way (a tree may send
    them either side).
    """

    def __init__(self, trees: list[Any]) -> None:
        counts = [tree.node_count for tree in trees]
        offsets = np.cumsum([0, *counts[:-1]]).astype(np.intp)
        self.roots = offsets
        self.depth = max(int(tree.max_depth) for tree in trees)
        self.feature = np.concatenate([np.maximum(tree.feature, 0) for tree in trees])
        self.feature = self.feature.astype(np.intp)
        self.threshold = np.concatenate([tree.threshold for tree in trees])
        self.left, self.right = (
            np.concatenate(
                [
                    np.where(children < 0, np.arange(count), children) + offset
                    for children, count, offset in zip(kids, counts, offsets, strict=True)
                ]
            ).astype(np.intp)
            for kids in (
                [tree.children_left for tree in trees],
                [tree.children_right for tree in trees],
            )
        )
        self.value = np.concatenate([tree.value.reshape(tree.node_count, -1) for tree in trees])

    def summed(self, rows: np.ndarray) -> np.ndarray:
        """`[n_rows, width]`: the trees' answers added up in their order (float32 rows,
        none missing)."""
        n_rows, n_trees = len(rows), len(self.roots)
        node = np.repeat(self.roots, n_rows)  # tree by tree, each over every row
        row = np.tile(np.arange(n_rows), n_trees)
        for _ in range(self.depth):
            left = rows[row, self.feature[node]] <= self.threshold[node]
            node = np.where(left, self.left[node], self.right[node])
        answers = np.empty((n_trees + 1, n_rows, self.value.shape[1]))
        answers[0] = 0.0
        answers[1:] = self.value[node].reshape(n_trees, n_rows, -1)
        total: np.ndarray = np.add.accumulate(answers, axis=0)[-1]  # tree after tree, from 0
        return total


class ForestRegressorTwin(_ForestMean):
    """`predict` of a fitted forest regressor: the mean of its trees, summed in order."""

    def predict(self, X: Any) -> np.ndarray:
        return self.mean(X)[:, 0]


class ForestClassifierTwin(_ForestMean):
    """`predict_proba` and `predict` of a fitted forest classifier, as scikit-learn does."""

    def __init__(self, forest: Any) -> None:
        super().__init__(forest)
        self.classes_ = forest.classes_

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.mean(X)

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self.classes_.take(np.argmax(self.predict_proba(X), axis=1), axis=0))


SPLIT_WORK = 25_000
"""Rows times trees per part, at least, for a call to be split across threads (about a
millisecond of traversal: the hop to another thread costs some tens of microseconds)."""
KEPT_ANSWERS = 1_000_000
"""Values of the trees' answers a call split by trees may keep until they are summed;
past this it is split by rows."""


def _tree_mean(trees: list[Any], rows: np.ndarray) -> np.ndarray:
    """The trees' answers summed in their order, then divided: scikit-learn's arithmetic.

    A big call runs on several cores (tree traversal releases the GIL), split by trees
    (each part keeps its trees' answers, summed in the trees' order afterwards) or, when
    those would take too much memory, by rows: the same sums either way, bit for bit.
    """
    parts = min(free_threads(), len(rows) * len(trees) // SPLIT_WORK, len(trees))
    if parts <= 1:
        return _summed(trees, rows)
    if len(rows) * len(trees) * trees[0].max_n_classes <= KEPT_ANSWERS:
        answers = run_parts(partial(_answers, rows), cut(trees, parts))
        return _mean(trees, rows, itertools.chain.from_iterable(answers))
    return np.concatenate(run_parts(partial(_summed, trees), cut(rows, parts)))


def _summed(trees: list[Any], rows: np.ndarray) -> np.ndarray:
    return _mean(trees, rows, (tree.predict(rows) for tree in trees))


def _answers(rows: np.ndarray, trees: list[Any]) -> list[np.ndarray]:
    return [tree.predict(rows) for tree in trees]


def _mean(trees: list[Any], rows: np.ndarray, answers: Iterable[np.ndarray]) -> np.ndarray:
    """The trees' answers for `rows` added up in their order into float64 zeros, divided."""
    total = np.zeros((len(rows), trees[0].max_n_classes), dtype=np.float64)
    for answer in answers:
        total += answer
    total /= len(trees)
    return total


def _linear_twin(estimator: Any, order: Order) -> Any | None:
    """Standard scalers then a linear model (binary or multiclass, or one output), or None."""
    steps = [step for _, step in estimator.steps] if type(estimator) is Pipeline else [estimator]
    *scalers, final = steps
    if any(type(scaler) is not StandardScaler for scaler in scalers):
        return None
    if type(final) is LogisticRegression:
        return LinearClassifierTwin(scalers, final, order)
    if type(final) in (LinearRegression, Ridge) and np.ndim(final.coef_) == 1:
        return LinearRegressorTwin(scalers, final, order)
    return None


class _LinearScores:
    """Standard scalers then a linear model's scores, as numpy arithmetic."""

    def __init__(self, scalers: list[StandardScaler], linear: Any, order: Order) -> None:
        self.order = order
        self.shifts = [
            (scaler.mean_ if scaler.with_mean else None, scaler.scale_ if scaler.with_std else None)
            for scaler in scalers
        ]
        self.coef_T = linear.coef_.T
        self.intercept = linear.intercept_

    def decision(self, X: Any) -> np.ndarray:
        """The linear scores, with the scalers applied in turn to a float64 copy."""
        rows = np.array(X, dtype=np.float64, order=self.order)
        for mean, scale in self.shifts:
            if mean is not None:
                rows -= mean
            if scale is not None:
                rows /= scale
        scores: np.ndarray = rows @ self.coef_T + self.intercept
        return scores.reshape(-1) if scores.ndim > 1 and scores.shape[1] == 1 else scores


class LinearRegressorTwin(_LinearScores):
    """`predict` of standard scalers and a linear regressor."""

    def predict(self, X: Any) -> np.ndarray:
        return self.decision(X)


class LinearClassifierTwin(_LinearScores):
    """`predict_proba` and `predict` of standard scalers and a logistic regression."""

    def __init__(self, scalers: list[StandardScaler], linear: Any, order: Order) -> None:
        super().__init__(scalers, linear, order)
        self.classes_ = linear.classes_

    def predict_proba(self, X: Any) -> np.ndarray:
        scores = self.decision(X)
        if len(self.classes_) > 2:
            return np.asarray(softmax(scores, copy=False))
        positive = expit(scores)
        return np.stack([1 - positive, positive], axis=1)

    def predict(self, X: Any) -> np.ndarray:
        scores = self.decision(X)
        chosen = (scores > 0).astype(np.intp) if scores.ndim == 1 else np.argmax(scores, axis=1)
        return np.asarray(self.classes_.take(chosen, axis=0))


def _tree_input(X: Any) -> np.ndarray:
    """The float32 rows trees read.

    A value too large for float32 becomes infinity, as in scikit-learn under the
    `assume_finite` setting models are served with (validation has refused non-finite input).
    """
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(X, dtype=np.float32)


def _agrees(estimator: Any, twin: Any, metadata: ModelMetadata) -> bool:
    """Exactly the model's answers, each given its input as serving gives it."""
    frame = check_rows(metadata)
    rows = np.ascontiguousarray(frame.to_numpy(dtype=np.float64))  # as validation builds them
    native = frame if metadata.input_kind == "dataframe" else rows
    methods = [m for m in ("predict", "predict_proba") if callable(getattr(estimator, m, None))]
    try:
        with warnings.catch_warnings(), sklearn.config_context(assume_finite=True):
            warnings.simplefilter("ignore")
            for method in methods:
                expected = np.asarray(getattr(estimator, method)(native))
                served = _quietly(getattr(twin, method), rows)
                if not np.array_equal(expected, served, equal_nan=expected.dtype.kind == "f"):
                    logger.info("the numpy path disagrees with the model's %s: not used", method)
                    return False
    except Exception as error:  # any failure means: keep the model as it is
        logger.info("the numpy path failed (%s): not used", error)
        return False
    return True


def _quietly(method: Any, rows: np.ndarray) -> np.ndarray:
    """The twin's answer; a warning fails it (a wrapper's inner model that misses the column
    names it was fitted with, say), as the warning would be raised on every request."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return np.asarray(method(rows))


def check_rows(metadata: ModelMetadata) -> pd.DataFrame:
    """The example rows, and random rows around the features' defaults and ranges."""
    rng = np.random.default_rng(0)
    columns = {}
    for feature in metadata.features:
        low = feature.min if feature.min is not None else -1.0
        high = feature.max if feature.max is not None else 1.0
        values = rng.uniform(low, high, _CHECK_ROWS)
        if feature.type is not FeatureType.NUMERIC:
            values = np.round(values)
        columns[feature.name] = values
    examples = [
        [_number(row.get(f.name), f.default) for f in metadata.features]
        for row in metadata.examples
    ]
    frame = pd.DataFrame(columns)
    if examples:
        frame = pd.concat(
            [pd.DataFrame(examples, columns=metadata.feature_names), frame], ignore_index=True
        )
    return frame


def _number(value: Any, default: Any) -> float:
    try:
        return float(value if value is not None else (default or 0))
    except (TypeError, ValueError):
        return 0.0
