"""Predictor: plain JSON-safe answers, and the model's failures turned into clear errors."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression, RidgeClassifier

from modelport import (
    FeatureSpec,
    InvalidInputError,
    ModelBundle,
    ModelMetadata,
    NotSupportedError,
    PredictionError,
    Predictor,
    Task,
    load_bundle,
    save_bundle,
)
from modelport.completion import complete_metadata

X_TRAIN = np.array([[0.0], [1.0], [2.0], [3.0], [10.0], [11.0], [12.0], [13.0]])
LOW, HIGH = {"f0": 0.5}, {"f0": 12.5}
PLAIN = (int, float, str, bool)


def _predictor(estimator, metadata: ModelMetadata | None = None) -> Predictor:
    return Predictor(
        ModelBundle(estimator, complete_metadata(estimator, metadata or ModelMetadata()))
    )


def _assert_plain(values: list) -> None:
    orjson.dumps(values)
    for value in values:
        if isinstance(value, dict):
            assert all(type(key) is str for key in value)
            _assert_plain(list(value.values()))
        else:
            assert type(value) in PLAIN, f"{value!r} is a {type(value).__name__}"


# Labels, probabilities and values are plain Python -------------------------------------------


@pytest.mark.parametrize(
    ("labels", "low", "high"),
    [
        (np.array([0, 1]), 0, 1),
        (np.array([3, 7], dtype=np.int32), 3, 7),
        (np.array([False, True]), False, True),
        (np.array(["cat", "dog"]), "cat", "dog"),
        (np.array(["cat", "dog"], dtype=object), "cat", "dog"),
        (np.array([0.0, 1.0]), 0.0, 1.0),
    ],
    ids=["int64", "int32", "bool", "str", "object-str", "float"],
)
def test_labels_are_plain_python_values_of_the_labels_own_type(labels, low, high):
    y = np.repeat(labels, 4)
    predictor = _predictor(LogisticRegression().fit(X_TRAIN, y))
    predictions = predictor.predict_records([LOW, HIGH])
    assert predictions == [low, high]
    assert [type(value) for value in predictions] == [type(low), type(high)]
    _assert_plain(predictions)


def test_multiclass_labels_are_plain_ints():
    y = np.repeat(np.array([5, 6, 7], dtype=np.int64), [3, 3, 2])
    x = np.array([[0.0], [0.5], [1.0], [10.0], [10.5], [11.0], [20.0], [21.0]])
    predictor = _predictor(LogisticRegression().fit(x, y))
    predictions = predictor.predict_records([{"f0": 0.2}, {"f0": 10.2}, {"f0": 30.0}])
    assert predictions == [5, 6, 7]
    _assert_plain(predictions)


def test_probabilities_are_plain_floats_keyed_by_class_name():
    predictor = _predictor(LogisticRegression().fit(X_TRAIN, np.repeat([False, True], 4)))
    rows = predictor.predict_records([LOW, HIGH], proba=True)
    _assert_plain(rows)
    assert [list(row) for row in rows] == [["False", "True"]] * 2
    assert all(sum(row.values()) == pytest.approx(1.0) for row in rows)
    assert rows[0]["False"] > 0.5 > rows[1]["False"]


def test_predict_records_with_proba_matches_predict_proba_on_validated_input():
    predictor = _predictor(LogisticRegression().fit(X_TRAIN, np.repeat(["no", "yes"], 4)))
    expected = predictor.predict_proba(predictor.validate([LOW, HIGH]))
    assert predictor.predict_records([LOW, HIGH], proba=True) == expected
    assert predictor.predict_records(HIGH, proba=True) == expected[1:]
    array = predictor.predict_proba_array(predictor.validate([LOW, HIGH]))
    assert array.shape == (2, 2)
    np.testing.assert_allclose(array, [list(row.values()) for row in expected])


def test_string_labels_keep_their_type_through_a_saved_bundle(tmp_path):
    estimator = LogisticRegression().fit(X_TRAIN, np.repeat(["benign", "malignant"], 4))
    metadata = ModelMetadata(name="tiny", features=[FeatureSpec(name="size")])
    save_bundle(estimator, tmp_path / "tiny.joblib", metadata)
    predictor = Predictor(load_bundle(tmp_path / "tiny.joblib"))
    assert predictor.metadata.class_names == ["benign", "malignant"]
    predictions = predictor.predict_records([{"size": 0.5}, {"size": 12.5}])
    assert predictions == ["benign", "malignant"]
    assert all(type(label) is str for label in predictions)
    _assert_plain(predictor.predict_records({"size": 1.0}, proba=True))


@pytest.mark.parametrize("column", [False, True], ids=["vector", "column-vector"])
def test_regression_values_are_plain_floats(column):
    y = 2.0 * X_TRAIN.ravel() + 1.0
    estimator = LinearRegression().fit(X_TRAIN, y.reshape(-1, 1) if column else y)
    predictor = _predictor(estimator)
    values = predictor.predict_records([{"f0": 4}, {"f0": 5}])
    assert values == pytest.approx([9.0, 11.0])
    assert all(type(value) is float for value in values)
    _assert_plain(values)


def test_real_examples_answer_in_plain_types(predictors):
    for name in ("forest-multiclass", "lightgbm-binary", "xgboost-regression", "sentiment"):
        predictor = predictors[name]
        examples = predictor.metadata.examples[:3]
        _assert_plain(predictor.predict_records(examples))
        if predictor.has_proba:
            _assert_plain(predictor.predict_records(examples, proba=True))


# What a model cannot do --------------------------------------------------------------------


def test_probabilities_of_a_regressor_are_not_supported():
    predictor = _predictor(LinearRegression().fit(X_TRAIN, X_TRAIN.ravel()))
    with pytest.raises(NotSupportedError, match="regressor"):
        predictor.predict_records(LOW, proba=True)
    with pytest.raises(NotSupportedError, match="regressor"):
        predictor.predict_proba_array(predictor.validate(LOW))
    assert predictor.has_proba is False


def test_probabilities_of_a_classifier_without_predict_proba_are_not_supported():
    predictor = _predictor(RidgeClassifier().fit(X_TRAIN, np.repeat([0, 1], 4)))
    assert predictor.metadata.task is Task.BINARY_CLASSIFICATION
    with pytest.raises(NotSupportedError, match="no predict_proba"):
        predictor.predict_records(LOW, proba=True)
    assert predictor.predict_records([LOW, HIGH]) == [0, 1]


# Output that is not a valid answer ----------------------------------------------------------


class _Fixed:
    """A duck-typed regressor answering with fixed values whatever it is asked (no fitting)."""

    def __init__(self, values) -> None:
        self.values = np.asarray(values)

    def predict(self, X):
        return self.values[: len(X)]


class _FixedClassifier(_Fixed):
    """The same, with classes `a` and `b` and fixed probabilities."""

    classes_ = np.array(["a", "b"])

    def __init__(self, values, proba) -> None:
        super().__init__(values)
        self.proba = np.asarray(proba, dtype=float)

    def predict_proba(self, X):
        return self.proba[: len(X)]


def _fixed(values, proba=None) -> Predictor:
    estimator = _Fixed(values) if proba is None else _FixedClassifier(values, proba)
    metadata = ModelMetadata(features=[FeatureSpec(name="x")], input_kind="numpy")
    return Predictor(ModelBundle(estimator, complete_metadata(estimator, metadata)))


@pytest.mark.parametrize(
    "values",
    [[1.0, math.nan, 2.0, math.inf], [[1.0], [math.nan], [2.0], [-math.inf]]],
    ids=["vector", "column"],
)
def test_nan_or_infinite_predictions_are_a_prediction_error_naming_the_rows(values):
    predictor = _fixed(values)
    with pytest.raises(PredictionError, match=r"NaN or infinite predictions \(rows 1, 3\)"):
        predictor.predict_records([{"x": 1}] * 4)


def test_numpy_scalars_a_model_returns_in_an_object_array_become_plain_values():
    labels = np.array([np.int64(3), np.bool_(True), np.str_("a"), np.float32(0.5)], dtype=object)
    predictions = _fixed(labels).predict_records([{"x": 1}] * 4)
    assert predictions == [3, True, "a", 0.5]
    _assert_plain(predictions)


def test_finite_predictions_of_the_same_model_pass():
    assert _fixed([1.0, 2.5]).predict_records([{"x": 1}, {"x": 2}]) == [1.0, 2.5]


def test_nan_probabilities_are_a_prediction_error_naming_the_rows():
    proba = [[0.5, 0.5], [0.2, 0.8], [math.nan, math.nan]]
    predictor = _fixed(["a", "b", "a"], proba)
    assert predictor.metadata.task is Task.BINARY_CLASSIFICATION
    assert predictor.predict_records([{"x": 1}] * 3) == ["a", "b", "a"]
    with pytest.raises(PredictionError, match=r"probabilities \(rows 2\)"):
        predictor.predict_records([{"x": 1}] * 3, proba=True)
    assert predictor.predict_records([{"x": 1}] * 2, proba=True) == [
        {"a": 0.5, "b": 0.5},
        {"a": 0.2, "b": 0.8},
    ]


# Input the model itself rejects -------------------------------------------------------------


@pytest.fixture(scope="module")
def open_job(example_bundles, tmp_path_factory) -> Predictor:
    """bank-marketing with `job` listing no categories: validation lets any job through.

    (Loading would fill them in from the encoder, so the bundle is built in memory.)
    """
    bundle = example_bundles["bank-marketing"]
    features = [
        f.model_copy(update={"categories": None}) if f.name == "job" else f
        for f in bundle.metadata.features
    ]
    metadata = bundle.metadata.model_copy(update={"features": features})
    predictor = Predictor(ModelBundle(bundle.estimator, metadata))
    assert predictor.metadata.feature("job").categories is None
    return predictor


def test_a_value_the_model_rejects_in_one_record_is_an_input_error(open_job):
    record = {**open_job.metadata.examples[0], "job": "astronaut"}
    open_job.validate(record)  # validation lets it through: the model is what refuses it
    with pytest.raises(InvalidInputError) as caught:
        open_job.predict_records(record)
    error = caught.value
    assert [(p.row, p.field) for p in error.problems] == [(None, None)]
    assert "the model rejected the input" in str(error)
    assert "astronaut" in str(error)


def test_a_value_the_model_rejects_in_a_list_names_only_that_row(open_job):
    good = open_job.metadata.examples[0]
    records = [good, {**good, "job": "astronaut"}, good]
    with pytest.raises(InvalidInputError) as caught:
        open_job.predict_records(records)
    error = caught.value
    assert [problem.row for problem in error.problems] == [1]
    assert error.total == 1
    assert str(error).startswith("row 1: the model rejected this row")
    assert "astronaut" in str(error)
    with pytest.raises(InvalidInputError, match="row 1"):
        open_job.predict_records(records, proba=True)
    assert len(open_job.predict_records([good, good, good])) == 3


@pytest.mark.parametrize("labels", [["no", "yes"], ["a", "b", "c", "d"]], ids=["two", "four"])
def test_probability_dicts_hold_each_row_s_array_in_class_order(labels):
    target = np.resize(labels, len(X_TRAIN))
    predictor = _predictor(LogisticRegression().fit(X_TRAIN, target))
    X = predictor.validate([LOW, HIGH, LOW])
    rows = predictor.predict_proba(X)
    assert [list(row) for row in rows] == [labels] * 3
    assert [list(row.values()) for row in rows] == predictor.predict_proba_array(X).tolist()
