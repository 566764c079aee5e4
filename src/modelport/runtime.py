"""How a model is called: the estimator as is, or a numpy twin that skips pandas.

A scikit-learn model fitted on a DataFrame of numbers only uses the column names to check
them. Building a DataFrame for every request, and having scikit-learn check it, costs more
than a small model's prediction, so such a model gets a twin: a shallow copy without
`feature_names_in_` that takes the same columns as numpy. The twin is used only after it
has given exactly the answers of the model itself on the example rows and random rows.
"""

from __future__ import annotations

import copy
import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd

from modelport.metadata import FeatureType, ModelMetadata

logger = logging.getLogger("modelport.runtime")

_NUMERIC = frozenset({FeatureType.NUMERIC, FeatureType.INTEGER, FeatureType.BOOLEAN})
_CHECK_ROWS = 32


def numpy_twin(estimator: Any, metadata: ModelMetadata) -> Any | None:
    """A copy of the model that takes numpy and answers exactly as the model, or None."""
    if metadata.input_kind != "dataframe" or not metadata.features:
        return None
    if any(feature.type not in _NUMERIC for feature in metadata.features):
        return None
    head = estimator.steps[0][1] if hasattr(estimator, "steps") else estimator
    if not type(head).__module__.startswith("sklearn.") or hasattr(head, "transformers"):
        return None  # not scikit-learn's own check, or a ColumnTransformer selecting by name
    if "feature_names_in_" not in vars(head):
        return None
    twin_head = copy.copy(head)
    del twin_head.feature_names_in_
    if hasattr(estimator, "steps"):
        twin = copy.copy(estimator)
        twin.steps = [(estimator.steps[0][0], twin_head), *estimator.steps[1:]]
    else:
        twin = twin_head
    return twin if _agrees(estimator, twin, metadata) else None


def _agrees(estimator: Any, twin: Any, metadata: ModelMetadata) -> bool:
    frame = check_rows(metadata)
    methods = [m for m in ("predict", "predict_proba") if callable(getattr(estimator, m, None))]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for method in methods:
                expected = np.asarray(getattr(estimator, method)(frame))
                served = np.asarray(getattr(twin, method)(frame.to_numpy(dtype=np.float64)))
                if not np.array_equal(expected, served, equal_nan=expected.dtype.kind == "f"):
                    logger.info("the numpy path disagrees with the model's %s: not used", method)
                    return False
    except Exception as error:  # any failure means: keep the model as it is
        logger.info("the numpy path failed (%s): not used", error)
        return False
    return True


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
