"""Example bundles built from data scikit-learn ships or this package carries (no downloads).

They are the demo and the test fixtures, so each behaves like a real model and carries full
metadata: types, defaults, descriptions and example rows.

Example:
    >>> from modelport.examples import save_example
    >>> save_example("forest-multiclass", "iris.joblib")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import datasets

from modelport.bundle import ModelBundle, save_bundle
from modelport.completion import complete_metadata
from modelport.errors import ModelNotFoundError
from modelport.examples import _bank, _sentiment, _tabular, _wind
from modelport.metadata import ModelMetadata
from modelport.predictor import Predictor
from modelport.profile import profile_input


@dataclass(frozen=True)
class Example:
    """One example model: its name, what it shows, how to build it, and rows it can score."""

    name: str
    summary: str
    build: Callable[[], tuple[Any, ModelMetadata]]
    data: Callable[[], pd.DataFrame]
    train: Callable[[], pd.DataFrame] | None = None
    """The rows the model learnt from, which its reference profile describes (else `data`)."""


def _bundled(loader: Callable[..., Any]) -> Callable[[], pd.DataFrame]:
    """The features of one of scikit-learn's bundled data sets."""

    def load() -> pd.DataFrame:
        return pd.DataFrame(loader(as_frame=True).data)

    return load


_breast_cancer = _bundled(datasets.load_breast_cancer)
_iris = _bundled(datasets.load_iris)
_diabetes = _bundled(datasets.load_diabetes)


def _new_clients() -> pd.DataFrame:
    return _bank.generate(_bank.N_ROWS, seed=_bank.SEED + 1)[0]  # not the training rows


def _new_readings() -> pd.DataFrame:
    return _wind.generate(_wind.N_ROWS, seed=_wind.SEED + 1)[0]


def _clients() -> pd.DataFrame:
    return _bank.generate()[0]


def _readings() -> pd.DataFrame:
    return _wind.generate()[0]


def _reviews() -> pd.DataFrame:
    return _sentiment.load_reviews()[["text"]]


EXAMPLES: dict[str, Example] = {
    example.name: example
    for example in (
        Example(
            "linear-binary",
            "scaled logistic regression, breast cancer (numpy input)",
            _tabular.linear_binary,
            _breast_cancer,
        ),
        Example(
            "forest-binary",
            "random forest, breast cancer, labels benign/malignant",
            _tabular.forest_binary,
            _breast_cancer,
        ),
        Example(
            "forest-multiclass",
            "random forest, iris, three species",
            _tabular.forest_multiclass,
            _iris,
        ),
        Example(
            "forest-regression",
            "random forest, diabetes progression",
            _tabular.forest_regression,
            _diabetes,
        ),
        Example(
            "xgboost-regression",
            "XGBoost, diabetes progression (DataFrame input)",
            _tabular.xgboost_regression,
            _diabetes,
        ),
        Example(
            "lightgbm-binary",
            "LightGBM with categorical features, bank marketing",
            _bank.lightgbm_binary,
            _new_clients,
            _clients,
        ),
        Example(
            "bank-marketing",
            "Pipeline: one-hot encoder + logistic regression, labels yes/no",
            _bank.bank_marketing,
            _new_clients,
            _clients,
        ),
        Example(
            "sentiment",
            "TF-IDF + naive Bayes on short reviews, labels Positive/Negative",
            _sentiment.sentiment,
            _reviews,
        ),
        Example(
            "wind-turbine",
            "gradient boosting on 12 turbine sensors, each with a default",
            _wind.wind_turbine,
            _new_readings,
            _readings,
        ),
    )
}


def load_bank_marketing(n_rows: int = _bank.N_ROWS) -> pd.DataFrame:
    """The synthetic bank-marketing table the examples learn from, with its `subscribed` label.

    Deterministic, shaped like the well-known public data set, for trying `modelport bundle`.
    """
    frame, subscribed = _bank.generate(n_rows)
    return frame.assign(subscribed=np.where(subscribed, "yes", "no"))


def build_example(name: str) -> tuple[Any, ModelMetadata]:
    """Fit the example model `name` and return it with its metadata.

    Raises:
        ModelNotFoundError: no example has that name (the message lists them).
    """
    return _example(name).build()


def _example(name: str) -> Example:
    try:
        return EXAMPLES[name]
    except KeyError:
        raise ModelNotFoundError(
            f"no example named {name!r}; choose one of: {', '.join(EXAMPLES)}"
        ) from None


def save_example_data(name: str, path: str | os.PathLike[str]) -> int:
    """Write rows the example `name` can score, with an `id` column, as CSV or Parquet.

    Returns:
        The number of rows written.
    """
    frame = _example(name).data().reset_index(drop=True)
    frame.insert(0, "id", range(1, len(frame) + 1))
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix in (".parquet", ".pq"):
        frame.to_parquet(target, index=False)
    else:
        frame.to_csv(target, index=False)
    return len(frame)


def save_example(name: str, path: str | os.PathLike[str]) -> str:
    """Build the example `name` and write it as a bundle (joblib, or skops by suffix), with
    the reference profile of the rows it learnt from.

    Returns:
        The sha256 of the written file.
    """
    example = _example(name)
    estimator, metadata = example.build()
    predictor = Predictor(ModelBundle(estimator, complete_metadata(estimator, metadata)))
    profile = profile_input(predictor, (example.train or example.data)())
    return save_bundle(estimator, path, metadata, profile)
