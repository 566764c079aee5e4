"""Every example bundle through load → validate → predict → probabilities → explain."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelport import NotSupportedError, Predictor, Task
from tests.conftest import EXAMPLE_NAMES, TABULAR_EXAMPLES


def _explained_output(explanation: dict, cls: str | None = None) -> float:
    base = explanation["base_value"] if cls is None else explanation["base_value"][cls]
    values = explanation["values"] if cls is None else explanation["values"][cls]
    return base + sum(values.values())


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_examples_predict_one_answer_per_row(predictors: dict[str, Predictor], name: str):
    predictor = predictors[name]
    X = predictor.validate(predictor.metadata.examples)
    predictions = predictor.predict(X)
    assert len(predictions) == len(predictor.metadata.examples) >= 3
    if predictor.metadata.task is Task.REGRESSION:
        assert all(isinstance(value, float) and math.isfinite(value) for value in predictions)
    else:
        assert {str(label) for label in predictions} <= set(predictor.metadata.class_names)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_probabilities_are_keyed_by_class_and_sum_to_one(
    predictors: dict[str, Predictor], name: str
):
    predictor = predictors[name]
    X = predictor.validate(predictor.metadata.examples)
    if predictor.metadata.task is Task.REGRESSION:
        with pytest.raises(NotSupportedError, match="regressor"):
            predictor.predict_proba(X)
        return
    for row, label in zip(predictor.predict_proba(X), predictor.predict(X), strict=True):
        assert list(row) == predictor.metadata.class_names
        assert sum(row.values()) == pytest.approx(1.0)
        assert max(row, key=row.get) == str(label)


@pytest.mark.parametrize("name", TABULAR_EXAMPLES)
@pytest.mark.parametrize("with_background", [False, True])
def test_explanations_add_up_to_the_output_they_explain(
    predictors: dict[str, Predictor], name: str, with_background: bool
):
    predictor = predictors[name]
    metadata = predictor.metadata
    X = predictor.validate(metadata.examples[:3])
    background = predictor.validate(metadata.examples) if with_background else None
    explanations = predictor.explain(X, background=background)
    assert len(explanations) == 3
    for i, explanation in enumerate(explanations):
        output = explanation["output"]
        if metadata.task is Task.REGRESSION:
            assert output == "value"
            assert set(explanation["values"]) == set(metadata.feature_names)
            assert _explained_output(explanation) == pytest.approx(
                predictor.predict(X)[i], rel=1e-4
            )
            continue
        proba = predictor.predict_proba(X)[i]
        if metadata.task is Task.BINARY_CLASSIFICATION:
            assert set(explanation["values"]) == set(metadata.feature_names)
            total = _explained_output(explanation)
            positive = metadata.class_names[1]
            explained = total if output == "probability" else 1 / (1 + math.exp(-total))
            assert explained == pytest.approx(proba[positive], abs=1e-4)
        else:
            totals = np.array([_explained_output(explanation, c) for c in metadata.class_names])
            assert set(explanation["values"]) == set(metadata.class_names)
            if output == "margin":
                totals = np.exp(totals - totals.max()) / np.exp(totals - totals.max()).sum()
            assert totals == pytest.approx(np.array(list(proba.values())), abs=1e-4)


@pytest.mark.parametrize("name", ["forest-binary", "forest-multiclass", "wind-turbine"])
def test_background_rows_put_classifiers_in_probability_space(
    predictors: dict[str, Predictor], name: str
):
    predictor = predictors[name]
    X = predictor.validate(predictor.metadata.examples[:1])
    background = predictor.validate(predictor.metadata.examples)
    [explanation] = predictor.explain(X, background=background)
    expected = "value" if predictor.metadata.task is Task.REGRESSION else "probability"
    assert explanation["output"] == expected


def test_boosted_classifier_without_background_is_explained_in_log_odds(predictors):
    predictor = predictors["lightgbm-binary"]
    [explanation] = predictor.explain(predictor.validate(predictor.metadata.examples[:1]))
    assert explanation["output"] == "margin"


def test_text_model_explanations_are_refused_clearly(predictors):
    predictor = predictors["sentiment"]
    assert predictor.metadata.is_explainable is False
    with pytest.raises(NotSupportedError, match="text model"):
        predictor.explain(predictor.validate({"text": "great"}))


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("the food was delicious and the staff friendly", "Positive"),
        ("absolutely loved it", "Positive"),
        ("great quality, highly recommend", "Positive"),
        ("I am so happy with this purchase", "Positive"),
        ("it broke after one day, total waste of money", "Negative"),
        ("the worst service I have ever had", "Negative"),
        ("very slow and rude staff", "Negative"),
        ("awful, boring movie", "Negative"),
    ],
)
def test_sentiment_reads_phrases_it_never_saw(predictors, phrase: str, expected: str):
    corpus_texts = {text.lower() for text in _corpus()}
    assert phrase.lower() not in corpus_texts
    assert predictors["sentiment"].predict_records({"text": phrase}) == [expected]


def _corpus() -> list[str]:
    from modelport.examples._sentiment import load_reviews

    return load_reviews()["text"].tolist()


def test_wind_turbine_answers_from_wind_speed_alone(predictors):
    power = predictors["wind-turbine"].predict_records([{"Ws1_avg": v} for v in (2, 6, 10, 14)])
    assert power == sorted(power)
    assert power[0] < 100 < 1500 < power[-1]


def test_wind_turbine_has_ten_or_more_features_each_with_a_default(example_bundles):
    features = example_bundles["wind-turbine"].metadata.features
    assert len(features) >= 10
    assert all(feature.default is not None and feature.description for feature in features)
