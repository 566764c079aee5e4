"""Examples on scikit-learn's bundled data sets: breast cancer, iris and diabetes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn import datasets
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelport.metadata import ModelMetadata
from modelport.sample import profile_sample

SEED = 0


def _metadata(
    name: str, description: str, frame: pd.DataFrame, source: str, **extra: Any
) -> ModelMetadata:
    profile = profile_sample(frame)
    features = [
        spec.model_copy(update={"description": f"From {source}."}) for spec in profile.features
    ]
    return ModelMetadata(
        name=name,
        version="1",
        description=description,
        features=features,
        examples=profile.examples,
        **extra,
    )


def linear_binary() -> tuple[Any, ModelMetadata]:
    """Logistic regression behind a scaler, fitted on plain numpy (so served as numpy)."""
    data = datasets.load_breast_cancer(as_frame=True)
    frame, target = data.data, data.target
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(frame.to_numpy(), target.to_numpy())
    description = "Breast cancer diagnosis (1 = benign, 0 = malignant) from 30 cell measurements."
    return model, _metadata(
        "linear-binary",
        description,
        frame.sample(frac=1, random_state=SEED),
        "the breast cancer data set",
    )


def forest_binary() -> tuple[Any, ModelMetadata]:
    """Random forest fitted on a DataFrame (so it knows column names) with string labels."""
    data = datasets.load_breast_cancer(as_frame=True)
    frame = data.data
    labels = np.where(data.target == 1, "benign", "malignant")
    model = RandomForestClassifier(n_estimators=60, max_depth=6, random_state=SEED, n_jobs=1)
    model.fit(frame, labels)
    description = "Breast cancer diagnosis (benign or malignant) from 30 cell measurements."
    return model, _metadata(
        "forest-binary",
        description,
        frame.sample(frac=1, random_state=SEED),
        "the breast cancer data set",
    )


def forest_multiclass() -> tuple[Any, ModelMetadata]:
    """Random forest on iris: three species, numpy input."""
    data = datasets.load_iris(as_frame=True)
    frame = data.data
    species = np.asarray(data.target_names)[data.target]
    model = RandomForestClassifier(n_estimators=50, max_depth=4, random_state=SEED, n_jobs=1)
    model.fit(frame.to_numpy(), species)
    description = "Iris species (setosa, versicolor, virginica) from sepal and petal sizes in cm."
    return model, _metadata(
        "forest-multiclass",
        description,
        frame.sample(frac=1, random_state=SEED),
        "the iris data set",
    )


def forest_regression() -> tuple[Any, ModelMetadata]:
    """Random forest regressor on diabetes progression, numpy input."""
    data = datasets.load_diabetes(as_frame=True)
    frame = data.data
    model = RandomForestRegressor(n_estimators=50, max_depth=6, random_state=SEED, n_jobs=1)
    model.fit(frame.to_numpy(), data.target.to_numpy())
    description = "Disease progression one year after baseline, from ten standardised measurements."
    return model, _metadata(
        "forest-regression",
        description,
        frame.sample(frac=1, random_state=SEED),
        "the diabetes data set",
    )


def xgboost_regression() -> tuple[Any, ModelMetadata]:
    """XGBoost regressor on diabetes, fitted on a DataFrame."""
    from xgboost import XGBRegressor

    data = datasets.load_diabetes(as_frame=True)
    frame = data.data
    model = XGBRegressor(
        n_estimators=120, max_depth=3, learning_rate=0.05, random_state=SEED, n_jobs=1
    )
    model.fit(frame, data.target)
    description = "Disease progression one year after baseline (XGBoost), from ten measurements."
    return model, _metadata(
        "xgboost-regression",
        description,
        frame.sample(frac=1, random_state=SEED),
        "the diabetes data set",
    )
