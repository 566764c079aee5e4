"""Models that read pandas category columns themselves: their features, dtype and refusals."""

from __future__ import annotations

import logging
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from modelport import BundleError, ModelBundle, ModelMetadata, Predictor, load_bundle
from modelport.completion import complete_metadata
from modelport.metadata import FeatureType
from modelport.screening import screen_frame
from tests.cities import CITY, city_table


def _lightgbm() -> Any:
    lightgbm = pytest.importorskip("lightgbm")
    return lightgbm.LGBMClassifier(n_estimators=20, min_child_samples=5, verbose=-1).fit(
        *city_table()
    )


def _xgboost() -> Any:
    xgboost = pytest.importorskip("xgboost")
    model = xgboost.XGBClassifier(n_estimators=20, enable_categorical=True, tree_method="hist")
    return model.fit(*city_table())


def _histogram() -> Any:
    return HistGradientBoostingClassifier(categorical_features="from_dtype", max_iter=20).fit(
        *city_table()
    )


@pytest.mark.parametrize("build", [_lightgbm, _xgboost])
def test_boosters_hand_the_model_its_training_category_dtype(build, tmp_path):
    joblib.dump(build(), tmp_path / "model.joblib")
    predictor = Predictor(load_bundle(tmp_path / "model.joblib"))
    city = predictor.metadata.feature("city")
    assert (city.type, city.categories) == (FeatureType.CATEGORICAL, ["rome", "paris", "oslo"])
    X = predictor.validate([{"city": "oslo", "size": 1.0}, {"size": 0.0}])
    assert X["city"].dtype == CITY
    assert X["city"].cat.codes.tolist() == [2, -1]


def test_histogram_boosting_takes_its_encoders_categories():
    model = _histogram()
    metadata = complete_metadata(model, ModelMetadata())
    assert metadata.feature("city").categories == ["oslo", "paris", "rome"]
    assert metadata.feature("size").type is FeatureType.NUMERIC


def test_histogram_boosting_on_integer_codes_stays_numeric():
    X, y = city_table()
    codes = X.assign(city=X["city"].cat.codes)
    model = HistGradientBoostingClassifier(categorical_features=[0], max_iter=5).fit(
        codes.to_numpy(), y
    )
    metadata = complete_metadata(model, ModelMetadata())
    # Fitted on numbers, it takes numbers: its codes are read as they were given.
    assert metadata.feature("f0").type is FeatureType.NUMERIC
    predictor = Predictor(ModelBundle(model, metadata))
    assert (
        predictor.predict(predictor.validate({"f0": 2, "f1": 0.5}))
        == model.predict(np.array([[2.0, 0.5]])).tolist()
    )


def test_metadata_that_calls_a_category_column_a_number_is_refused():
    given = ModelMetadata(features=[{"name": "city"}, {"name": "size"}])
    with pytest.raises(BundleError, match="'city': the model reads it as a pandas category"):
        complete_metadata(_lightgbm(), given)


def test_metadata_categories_unknown_to_the_model_are_refused():
    given = ModelMetadata(
        features=[
            {"name": "city", "type": "categorical", "categories": ["rome", "berlin"]},
            {"name": "size"},
        ]
    )
    with pytest.raises(BundleError, match="differ from the model's"):
        complete_metadata(_lightgbm(), given)


def test_metadata_categories_in_another_order_take_the_models_order():
    given = ModelMetadata(
        features=[
            {"name": "city", "type": "categorical", "categories": ["oslo", "paris", "rome"]},
            {"name": "size"},
        ]
    )
    metadata = complete_metadata(_xgboost(), given)
    assert metadata.feature("city").categories == ["rome", "paris", "oslo"]


def test_a_table_with_an_unknown_category_keeps_its_valid_rows():
    model = _lightgbm()
    metadata = complete_metadata(model, ModelMetadata())
    frame = pd.DataFrame({"city": ["paris", "berlin", "oslo"], "size": [0.1, 0.2, 0.3]})
    screened = screen_frame(frame, metadata)
    assert screened.valid.tolist() == [0, 2]
    assert [(p.row, p.field) for p in screened.problems] == [(1, "city")]
    assert screened.X["city"].dtype == CITY


def test_the_onnx_runtime_leaves_category_models_native_and_says_why(caplog):
    pytest.importorskip("onnxruntime")
    model = _lightgbm()
    with caplog.at_level(logging.INFO, logger="modelport.runtime"):
        predictor = Predictor(
            ModelBundle(model, complete_metadata(model, ModelMetadata())), runtime="auto"
        )
    assert predictor.runtime_name == "native"
    assert "ONNX is used for models whose features are all numbers" in caplog.text
