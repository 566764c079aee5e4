"""Explanations: which explainer, which output space, and clear refusals."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from modelport import ModelBundle, ModelMetadata, NotSupportedError, Predictor
from modelport.completion import complete_metadata


def _knn(examples: list[dict]) -> Predictor:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    model = KNeighborsClassifier(n_neighbors=5).fit(X, y)
    given = ModelMetadata(features=[{"name": n} for n in "abc"], examples=examples)
    return Predictor(ModelBundle(model, complete_metadata(model, given)))


def test_model_agnostic_explanations_use_example_rows_and_add_up():
    rows = [{"a": a, "b": b, "c": 0.0} for a, b in [(-1, -1), (1, 1), (0.5, -0.2), (0, 0)]]
    predictor = _knn(rows)
    assert predictor.metadata.is_explainable
    X = predictor.validate({"a": 2.0, "b": 2.0, "c": 0.0})
    [explanation] = predictor.explain(X)
    assert explanation["output"] == "probability"
    total = explanation["base_value"] + sum(explanation["values"].values())
    assert total == pytest.approx(predictor.predict_proba(X)[0]["1"])
    assert abs(explanation["values"]["c"]) < abs(explanation["values"]["a"])


def test_a_model_with_no_example_rows_asks_for_background():
    predictor = _knn([])
    assert predictor.metadata.is_explainable is False
    with pytest.raises(NotSupportedError, match="_samples"):
        predictor.explain(predictor.validate({"a": 1.0, "b": 1.0, "c": 1.0}))


def test_background_given_by_the_caller_is_used():
    predictor = _knn([])
    background = predictor.validate([{"a": 0.0, "b": 0.0, "c": 0.0}] * 3)
    [explanation] = predictor.explain(
        predictor.validate({"a": 3.0, "b": 3.0, "c": 0.0}), background
    )
    # Against an all-zero background, the base value is the model's answer at zero.
    assert explanation["base_value"] == pytest.approx(predictor.predict_proba(background)[0]["1"])


def test_multiclass_explanations_are_keyed_by_class(predictors):
    predictor = predictors["forest-multiclass"]
    [explanation] = predictor.explain(predictor.validate(predictor.metadata.examples[:1]))
    assert list(explanation["values"]) == predictor.metadata.class_names
    assert list(explanation["base_value"]) == predictor.metadata.class_names
    assert set(explanation["values"]["setosa"]) == set(predictor.metadata.feature_names)


def test_the_default_explainer_is_built_once(predictors):
    predictor = predictors["bank-marketing"]
    X = predictor.validate(predictor.metadata.examples[:1])
    predictor.explain(X)
    first = predictor._explainer
    predictor.explain(X)
    assert predictor._explainer is first


def test_categorical_pipelines_are_explained_per_input_feature(predictors):
    predictor = predictors["bank-marketing"]
    record = dict(predictor.metadata.examples[0], duration=1500, job="student")
    [explanation] = predictor.explain(predictor.validate(record))
    assert set(explanation["values"]) == set(predictor.metadata.feature_names)
    top = max(explanation["values"], key=lambda name: abs(explanation["values"][name]))
    assert top == "duration"


def test_the_same_row_is_explained_the_same_way_every_time(predictors):
    predictor = predictors["bank-marketing"]
    X = predictor.validate(predictor.metadata.examples[:2])
    assert predictor.explain(X) == predictor.explain(X)


def test_explanations_are_limited_in_rows_and_background(example_bundles):
    from modelport import InvalidInputError

    predictor = Predictor(example_bundles["forest-regression"], max_explain_rows=2)
    rows = predictor.validate(predictor.metadata.examples[:3])
    with pytest.raises(InvalidInputError, match="limited to 2 rows"):
        predictor.explain(rows)
    background = predictor.validate(predictor.metadata.examples[:1] * 1001)
    with pytest.raises(InvalidInputError, match="at most 1000 background rows"):
        predictor.explain(rows[:1], background)


def test_concurrent_explanations_agree(example_bundles):
    import threading

    predictor = Predictor(example_bundles["bank-marketing"])
    X = predictor.validate(predictor.metadata.examples[:1])
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(predictor.explain(X))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(result == results[0] for result in results)
