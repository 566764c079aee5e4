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
from typing import Any

import numpy as np
import pandas as pd

from modelport.bundle import save_bundle
from modelport.errors import ModelNotFoundError
from modelport.examples import _bank, _sentiment, _tabular, _wind
from modelport.metadata import ModelMetadata


@dataclass(frozen=True)
class Example:
    """One example model: its name, what it shows, and how to build it."""

    name: str
    summary: str
    build: Callable[[], tuple[Any, ModelMetadata]]


EXAMPLES: dict[str, Example] = {
    example.name: example
    for example in (
        Example(
            "linear-binary",
            "scaled logistic regression, breast cancer (numpy input)",
            _tabular.linear_binary,
        ),
        Example(
            "forest-binary",
            "random forest, breast cancer, labels benign/malignant",
            _tabular.forest_binary,
        ),
        Example(
            "forest-multiclass", "random forest, iris, three species", _tabular.forest_multiclass
        ),
        Example(
            "forest-regression", "random forest, diabetes progression", _tabular.forest_regression
        ),
        Example(
            "xgboost-regression",
            "XGBoost, diabetes progression (DataFrame input)",
            _tabular.xgboost_regression,
        ),
        Example(
            "lightgbm-binary",
            "LightGBM with categorical features, bank marketing",
            _bank.lightgbm_binary,
        ),
        Example(
            "bank-marketing",
            "Pipeline: one-hot encoder + logistic regression, labels yes/no",
            _bank.bank_marketing,
        ),
        Example(
            "sentiment",
            "TF-IDF + naive Bayes on short reviews, labels Positive/Negative",
            _sentiment.sentiment,
        ),
        Example(
            "wind-turbine",
            "gradient boosting on 12 turbine sensors, each with a default",
            _wind.wind_turbine,
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
    try:
        example = EXAMPLES[name]
    except KeyError:
        raise ModelNotFoundError(
            f"no example named {name!r}; choose one of: {', '.join(EXAMPLES)}"
        ) from None
    return example.build()


def save_example(name: str, path: str | os.PathLike[str]) -> str:
    """Build the example `name` and write it as a bundle (joblib, or skops by suffix).

    Returns:
        The sha256 of the written file.
    """
    estimator, metadata = build_example(name)
    return save_bundle(estimator, path, metadata)
