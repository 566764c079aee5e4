"""Numpy twins: faster ways to call a model, used only when they answer exactly as the model."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from modelport import ModelBundle, ModelMetadata, Predictor
from modelport.completion import complete_metadata
from modelport.runtime import (
    ColumnOrderRows,
    ForestClassifierTwin,
    ForestRegressorTwin,
    LinearClassifierTwin,
    LinearRegressorTwin,
    numpy_twin,
)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(300, 5))
COLUMNS = [f"c{i}" for i in range(5)]
LABELS = np.array(["low", "mid", "high"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)]
TARGET = X[:, 0] * 3 + X[:, 2]
ROWS = RNG.normal(scale=2, size=(600, 5))  # enough for BLAS to block a dot product


def _fit(model, *, frame: bool, y=None):
    data = pd.DataFrame(X, columns=COLUMNS) if frame else X
    target = y if y is not None else (LABELS if hasattr(model, "predict_proba") else TARGET)
    return model.fit(data, target)


def _predictor(model) -> Predictor:
    return Predictor(ModelBundle(model, complete_metadata(model, ModelMetadata())))


def _records(predictor: Predictor, rows: np.ndarray) -> list[dict]:
    return [dict(zip(predictor.metadata.feature_names, row, strict=True)) for row in rows]


def _native(model, rows: np.ndarray, method: str) -> np.ndarray:
    names = getattr(model, "feature_names_in_", None)
    data = pd.DataFrame(rows, columns=names) if names is not None else rows
    return np.asarray(getattr(model, method)(data))


FORESTS = [
    (RandomForestClassifier, ForestClassifierTwin),
    (ExtraTreesClassifier, ForestClassifierTwin),
    (RandomForestRegressor, ForestRegressorTwin),
    (ExtraTreesRegressor, ForestRegressorTwin),
]


@pytest.mark.parametrize("frame", [True, False], ids=["dataframe", "numpy"])
@pytest.mark.parametrize(("forest", "twin"), FORESTS, ids=lambda c: c.__name__)
def test_forests_are_called_tree_by_tree_with_exactly_their_own_answers(forest, twin, frame):
    model = _fit(forest(n_estimators=15, max_depth=6, random_state=0), frame=frame)
    predictor = _predictor(model)
    assert type(predictor.runtime) is twin
    assert predictor.runtime_name == "native"
    X_served = predictor.validate(_records(predictor, ROWS))
    np.testing.assert_array_equal(
        np.asarray(predictor.predict(X_served)), _native(model, ROWS, "predict")
    )
    if predictor.has_proba:
        np.testing.assert_array_equal(
            predictor.predict_proba_array(X_served), _native(model, ROWS, "predict_proba")
        )
    else:
        assert not hasattr(predictor.runtime, "predict_proba")


def test_a_forest_that_learned_missing_values_answers_them_as_itself():
    holes = X.copy()
    holes[RNG.random(holes.shape) < 0.2] = np.nan
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(holes, LABELS)
    predictor = _predictor(model)
    assert type(predictor.runtime) is ForestClassifierTwin
    rows = ROWS.copy()
    rows[RNG.random(rows.shape) < 0.3] = np.nan
    np.testing.assert_array_equal(predictor.runtime.predict_proba(rows), model.predict_proba(rows))


def test_a_value_too_large_for_float32_gets_the_forest_s_own_answer():
    """Served under `assume_finite`, scikit-learn reads 1e39 as infinity; so does the twin."""
    model = _fit(RandomForestRegressor(n_estimators=5, random_state=0), frame=False)
    predictor = _predictor(model)
    assert type(predictor.runtime) is ForestRegressorTwin
    rows = np.full((3, 5), 1e39) * np.array([[1], [-1], [0]])
    with sklearn.config_context(assume_finite=True), np.errstate(over="ignore"):
        expected = model.predict(rows)
    served = predictor.predict(predictor.validate(_records(predictor, rows)))
    np.testing.assert_array_equal(np.asarray(served), expected)


class _OwnForest(RandomForestClassifier):
    """A subclass may predict in its own way; it is never replaced by the twin."""


@pytest.mark.parametrize(
    "model",
    [
        _fit(_OwnForest(n_estimators=5, random_state=0), frame=False),
        _fit(
            RandomForestRegressor(n_estimators=5, random_state=0),
            frame=False,
            y=np.column_stack([TARGET, -TARGET]),
        ),
        _fit(GradientBoostingClassifier(n_estimators=5, random_state=0), frame=False),
    ],
    ids=["subclass", "multi-output", "other-ensemble"],
)
def test_other_models_fitted_on_numpy_are_called_as_they_are(model):
    assert _predictor(model).runtime is model


METHODS = ("predict", "predict_proba")
LINEAR = [
    (lambda: make_pipeline(StandardScaler(), LogisticRegression()), LinearClassifierTwin),
    (lambda: LogisticRegression(max_iter=500), LinearClassifierTwin),
    (
        lambda: make_pipeline(
            StandardScaler(with_mean=False), StandardScaler(with_std=False), LogisticRegression()
        ),
        LinearClassifierTwin,
    ),
    (lambda: make_pipeline(StandardScaler(), LinearRegression()), LinearRegressorTwin),
    (lambda: Ridge(alpha=0.5), LinearRegressorTwin),
]


LINEAR_CASES = [
    pytest.param(make, twin, binary, id=f"{twin.__name__}-{i}-{'binary' if binary else 'multi'}")
    for i, (make, twin) in enumerate(LINEAR)
    for binary in ((True, False) if twin is LinearClassifierTwin else (True,))
]


@pytest.mark.parametrize("frame", [True, False], ids=["dataframe", "numpy"])
@pytest.mark.parametrize(("make", "twin", "binary"), LINEAR_CASES)
def test_scalers_and_linear_models_are_arithmetic_with_exactly_their_own_answers(
    make, twin, binary, frame
):
    model = make()
    labels = np.where(LABELS == "high", "mid", LABELS) if binary else LABELS
    _fit(model, frame=frame, y=labels if twin is LinearClassifierTwin else None)
    predictor = _predictor(model)
    assert type(predictor.runtime) is twin
    X_served = predictor.validate(_records(predictor, ROWS))
    # The model is given its input as serving it natively would: a DataFrame for a model
    # fitted on one (its values reach BLAS in column order, which can change the last bit
    # of a dot product), else the rows as validation builds them.
    native = pd.DataFrame(X_served, columns=model.feature_names_in_) if frame else X_served
    expected = {m: np.asarray(getattr(model, m)(native)) for m in METHODS if hasattr(model, m)}
    np.testing.assert_array_equal(np.asarray(predictor.predict(X_served)), expected["predict"])
    if predictor.has_proba:
        np.testing.assert_array_equal(
            predictor.predict_proba_array(X_served), expected["predict_proba"]
        )
    else:
        assert "predict_proba" not in expected


def test_a_model_fitted_on_a_frame_of_numbers_gets_a_copy_that_skips_the_names():
    model = _fit(make_pipeline(MinMaxScaler(), LogisticRegression()), frame=True)
    predictor = _predictor(model)
    assert type(predictor.runtime) is ColumnOrderRows
    assert not hasattr(predictor.runtime.model.steps[0][1], "feature_names_in_")
    assert hasattr(model.steps[0][1], "feature_names_in_")  # the model itself is untouched
    X_served = predictor.validate(_records(predictor, ROWS))
    assert isinstance(X_served, np.ndarray)
    np.testing.assert_array_equal(
        predictor.predict_proba_array(X_served), _native(model, ROWS, "predict_proba")
    )


def test_a_twin_that_disagrees_with_the_model_is_not_used(monkeypatch, caplog):
    model = _fit(RandomForestClassifier(n_estimators=5, random_state=0), frame=True)
    original = ForestClassifierTwin.predict_proba

    def off_by_a_little(self, rows):
        return original(self, rows) + 1e-12

    monkeypatch.setattr(ForestClassifierTwin, "predict_proba", off_by_a_little)
    metadata = complete_metadata(model, ModelMetadata())
    with caplog.at_level(logging.INFO, logger="modelport.runtime"):
        assert numpy_twin(model, metadata) is None
    assert "disagrees with the model's predict" in caplog.text
    assert _predictor(model).runtime is model


@pytest.mark.parametrize("width", [4, 6])
def test_a_forest_twin_refuses_rows_of_another_width_instead_of_reading_past_them(width):
    """The twin calls the trees' structures, which do not count the features themselves."""
    model = _fit(RandomForestClassifier(n_estimators=3, random_state=0), frame=False)
    twin = _predictor(model).runtime
    assert type(twin) is ForestClassifierTwin
    with pytest.raises(ValueError, match="for a forest of 5 features"):
        twin.predict_proba(np.zeros((2, width)))
