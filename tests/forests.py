"""The forests a twin's tests fit (scikit-learn's four single-output kinds, one data set) and
the rows they ask them about."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from modelport.runtime import ForestClassifierTwin, ForestRegressorTwin

RNG = np.random.default_rng(11)
X = RNG.normal(size=(600, 6))
CLASSES = np.array(["a", "b", "c"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.4)]
TARGET = X[:, 0] * 3 - X[:, 2] + RNG.normal(scale=0.2, size=len(X))
FORESTS = [
    (RandomForestClassifier, CLASSES, ForestClassifierTwin, "predict_proba"),
    (ExtraTreesClassifier, CLASSES, ForestClassifierTwin, "predict_proba"),
    (RandomForestRegressor, TARGET, ForestRegressorTwin, "predict"),
    (ExtraTreesRegressor, TARGET, ForestRegressorTwin, "predict"),
]
"""(forest class, target, its twin's class, the method compared)"""


def asked_rows(n: int, missing: bool = False) -> np.ndarray:
    """`n` random rows, with values past float32's range from the fourth row on, and a
    fifth of the values missing if asked."""
    drawn = RNG.normal(scale=2.0, size=(n, X.shape[1]))
    if n > 3:
        drawn[1, 3] = np.inf  # as a value too large for float32 arrives
        drawn[2, 0] = -1e300
        drawn[3, 5] = 1e300
    if missing:
        drawn[RNG.random(size=drawn.shape) < 0.2] = np.nan
    return drawn
