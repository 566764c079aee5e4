"""A model pickled bare, as a new user brings it, serves its own input types."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    StackingClassifier,
    VotingClassifier,
)
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tests.cities import CITY, city_table


def _lightgbm() -> Any:
    lightgbm = pytest.importorskip("lightgbm")
    return lightgbm.LGBMClassifier(n_estimators=20, min_child_samples=5, verbose=-1)


def _xgboost() -> Any:
    xgboost = pytest.importorskip("xgboost")
    return xgboost.XGBClassifier(n_estimators=20, enable_categorical=True, tree_method="hist")


CATEGORICAL_MODELS: dict[str, Callable[[], Any]] = {
    "histogram-boosting": lambda: HistGradientBoostingClassifier(
        categorical_features="from_dtype", max_iter=20
    ),
    "lightgbm": _lightgbm,
    "xgboost": _xgboost,
}


@pytest.mark.parametrize("kind", list(CATEGORICAL_MODELS))
def test_a_bare_model_fitted_on_category_columns_serves_categories(kind, serve, tmp_path: Path):
    X, y = city_table()
    model = CATEGORICAL_MODELS[kind]().fit(X, y)
    joblib.dump(model, tmp_path / "cities.joblib")
    rows = [{"city": "paris", "size": 0.3}, {"city": "oslo", "size": -1.2}, {"size": 0.5}]
    expected = model.predict_proba(
        pd.DataFrame(
            {"city": pd.Series(["paris", "oslo", None]).astype(CITY), "size": [0.3, -1.2, 0.5]}
        )
    )
    with serve(tmp_path / "cities.joblib") as client:
        answer = client.post("/predict?proba=true", json=rows)
        assert answer.status_code == 200, answer.text
        served = [[row["0"], row["1"]] for row in answer.json()["prediction"]]
        np.testing.assert_allclose(served, expected, rtol=0, atol=1e-12)

        [city, _] = client.get("/features").json()
        assert city["type"] == "categorical"
        assert set(city["categories"]) == {"rome", "paris", "oslo"}

        refused = client.post("/predict", json={"city": "berlin", "size": 0.1})
        assert refused.status_code == 422
        [error] = refused.json()["errors"]
        assert error["pointer"] == "#/city"
        assert error["detail"].startswith("unknown category 'berlin'; expected one of")


def _numbers(n: int = 120) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    return X, (X["a"] + X["b"] > 0).to_numpy().astype(int)


WRAPPED: dict[str, Callable[[], Any]] = {
    "search": lambda: GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2),
    "calibration": lambda: CalibratedClassifierCV(RandomForestClassifier(10, random_state=0), cv=2),
    "stacking": lambda: StackingClassifier(
        [("forest", RandomForestClassifier(10, random_state=0))], LogisticRegression(), cv=2
    ),
    "voting": lambda: VotingClassifier(
        [("linear", LogisticRegression()), ("forest", RandomForestClassifier(10, random_state=0))],
        voting="soft",
    ),
    "pipeline": lambda: make_pipeline(StandardScaler(), LogisticRegression()),
}


@pytest.mark.parametrize("kind", list(WRAPPED))
def test_wrapped_classifiers_serve_what_they_predict(kind, serve, tmp_path: Path):
    X, y = _numbers()
    model = WRAPPED[kind]().fit(X, y)
    joblib.dump(model, tmp_path / "wrapped.joblib")
    rows = [{"a": 0.2, "b": -0.1}, {"a": -2.0, "b": 0.5}]
    with serve(tmp_path / "wrapped.joblib") as client:
        answer = client.post("/predict?proba=true", json=rows)
    assert answer.status_code == 200, answer.text
    expected = model.predict_proba(pd.DataFrame(rows))
    served = [[row["0"], row["1"]] for row in answer.json()["prediction"]]
    np.testing.assert_allclose(served, expected, rtol=0, atol=1e-12)


def test_a_transformed_target_regressor_serves_the_original_scale(serve, tmp_path: Path):
    X, _ = _numbers()
    y = np.exp(X["a"] + 0.5 * X["b"])
    model = TransformedTargetRegressor(LinearRegression(), func=np.log, inverse_func=np.exp)
    joblib.dump(model.fit(X, y), tmp_path / "target.joblib")
    with serve(tmp_path / "target.joblib") as client:
        answer = client.post("/predict", json={"a": 1.0, "b": 2.0})
    assert answer.json()["prediction"] == pytest.approx([np.exp(2.0)], rel=1e-9)


def test_a_one_hot_pipeline_serves_its_categories(serve, tmp_path: Path):
    X, y = city_table()
    X = X.astype({"city": object})
    encode = ColumnTransformer([("city", OneHotEncoder(), ["city"])], remainder="passthrough")
    model = make_pipeline(encode, LogisticRegression()).fit(X, y)
    joblib.dump(model, tmp_path / "encoded.joblib")
    with serve(tmp_path / "encoded.joblib") as client:
        answer = client.post("/predict", json={"city": "paris", "size": 0.3})
        refused = client.post("/predict", json={"city": "berlin", "size": 0.3})
    expected = model.predict(pd.DataFrame({"city": ["paris"], "size": [0.3]}))
    assert answer.json()["prediction"] == expected.tolist()
    assert refused.status_code == 422


def test_a_bare_text_pipeline_serves_text(serve, tmp_path: Path):
    texts = ["great film", "awful plot", "great acting", "awful film", "great", "awful"]
    model = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(texts, [1, 0, 1, 0, 1, 0])
    joblib.dump(model, tmp_path / "text.joblib")
    with serve(tmp_path / "text.joblib") as client:
        answer = client.post("/predict", json=[{"text": "great plot"}, {"text": "awful"}])
    assert answer.json()["prediction"] == [1, 0]
