"""The validation boundary: records or columns in; model input, or errors naming row and field."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import orjson
import pandas as pd
import pytest

from modelport import (
    FeatureSpec,
    FeatureType,
    FieldProblem,
    InvalidInputError,
    ModelMetadata,
    validate_columns,
    validate_records,
)
from modelport.errors import MAX_PROBLEMS
from modelport.validation import to_records

CITIES = ["Lyon", "Nice", "Paris"]


def _metadata(*features: FeatureSpec, input_kind="numpy", allows_nan=False) -> ModelMetadata:
    return ModelMetadata(features=list(features), input_kind=input_kind, allows_nan=allows_nan)


def _people(**overrides) -> ModelMetadata:
    """Four features of every tabular type, each with a default; a DataFrame model."""
    features = [
        FeatureSpec(name="age", type=FeatureType.INTEGER, default=0),
        FeatureSpec(name="income", type=FeatureType.NUMERIC, default=2.5),
        FeatureSpec(name="member", type=FeatureType.BOOLEAN, default=False),
        FeatureSpec(name="city", type=FeatureType.CATEGORICAL, categories=CITIES, default="Paris"),
    ]
    return _metadata(*features, **{"input_kind": "dataframe", **overrides})


NUMBERS = _metadata(
    FeatureSpec(name="x", type=FeatureType.NUMERIC),
    FeatureSpec(name="n", type=FeatureType.INTEGER),
)
"""Two numeric features without defaults, on a model that cannot take NaN."""


def _invalid(call, data, metadata: ModelMetadata, *, max_rows: int = 10_000) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        call(data, metadata, max_rows=max_rows)
    return caught.value


def _where(error: InvalidInputError) -> list[tuple[int | None, str | None]]:
    return [(problem.row, problem.field) for problem in error.problems]


def _nested(depth: int, leaf=1):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


# One record, a list of records, columns ------------------------------------------------------


def test_one_record_gives_one_row_and_its_errors_name_no_row():
    X = validate_records({"x": 1.5, "n": 2}, NUMBERS, max_rows=10)
    assert X.shape == (1, 2)
    error = _invalid(validate_records, {"x": "heavy", "n": 2}, NUMBERS)
    assert error.problems == [FieldProblem("expected a number, got 'heavy'", None, "x")]
    assert str(error) == "field 'x': expected a number, got 'heavy'"


def test_errors_in_a_list_name_the_row_counted_from_zero():
    records = [{"x": 1, "n": 1}, {"x": 2, "n": 2}, {"x": "heavy", "n": 3}]
    error = _invalid(validate_records, records, NUMBERS)
    assert error.problems == [FieldProblem("expected a number, got 'heavy'", 2, "x")]
    assert str(error) == "row 2, field 'x': expected a number, got 'heavy'"


def test_a_list_of_one_record_still_names_row_zero():
    error = _invalid(validate_records, [{"x": "heavy", "n": 1}], NUMBERS)
    assert _where(error) == [(0, "x")]


def test_columns_give_the_same_input_as_the_records_they_hold():
    columns = {"x": [1.5, "2", None], "n": [1, 2, 3]}
    records = [{"x": 1.5, "n": 1}, {"x": "2", "n": 2}, {"x": None, "n": 3}]
    metadata = NUMBERS.model_copy(update={"allows_nan": True})
    np.testing.assert_array_equal(
        validate_columns(columns, metadata, max_rows=10),
        validate_records(records, metadata, max_rows=10),
    )


def test_errors_in_columns_name_the_row_and_field():
    error = _invalid(validate_columns, {"x": [1, 2, "three"], "n": [1, 2.5, 3]}, NUMBERS)
    assert sorted(_where(error)) == [(1, "n"), (2, "x")]
    assert "row 2, field 'x'" in str(error)
    assert "row 1, field 'n': expected a whole number, got 2.5" in str(error)


def test_absent_columns_take_their_defaults():
    X = validate_columns({"age": [30, 40]}, _people(), max_rows=10)
    assert X["age"].tolist() == [30, 40]
    assert X["income"].tolist() == [2.5, 2.5]
    assert X["city"].tolist() == ["Paris", "Paris"]


def test_columns_of_uneven_length_are_refused_naming_the_short_ones():
    error = _invalid(validate_columns, {"x": [1, 2, 3], "n": [1, 2]}, NUMBERS)
    assert "differ in length" in str(error)
    assert re.search(r"\(n\b", str(error))
    assert "x" not in str(error).split("(", 1)[1]


@pytest.mark.parametrize("value", [5, "12", {"a": 1}, None])
def test_a_column_that_is_not_a_list_is_named(value):
    error = _invalid(validate_columns, {"x": value, "n": [1]}, NUMBERS)
    assert error.problems == [FieldProblem("expected a list of values", None, "x")]


def test_an_unknown_column_is_named_with_the_closest_feature():
    error = _invalid(validate_columns, {"x": [1], "nn": [1]}, NUMBERS)
    assert error.problems == [FieldProblem("unknown feature; did you mean 'n'?", None, "nn")]


@pytest.mark.parametrize("columns", [{}, [], "x", [{"x": 1}]])
def test_columns_must_be_a_non_empty_object(columns):
    error = _invalid(validate_columns, columns, NUMBERS)
    assert "expected columns" in str(error)


@pytest.mark.parametrize(
    ("feature", "values"),
    [
        (FeatureSpec(name="v", type=FeatureType.NUMERIC), [1.5, 2.5]),
        (FeatureSpec(name="v", type=FeatureType.INTEGER), [1, 2]),
        (FeatureSpec(name="v", type=FeatureType.BOOLEAN), [True, False]),
        (FeatureSpec(name="v", type=FeatureType.CATEGORICAL, categories=CITIES), ["Lyon", "Nice"]),
        (FeatureSpec(name="v", type=FeatureType.CATEGORICAL, categories=[1, 2]), [2, 1]),
    ],
    ids=["numeric", "integer", "boolean", "categorical", "integer-categories"],
)
def test_numpy_columns_are_read_like_lists(feature, values):
    metadata = _metadata(feature, input_kind="dataframe")
    from_list = validate_columns({"v": values}, metadata, max_rows=10)
    from_array = validate_columns({"v": np.asarray(values)}, metadata, max_rows=10)
    pd.testing.assert_frame_equal(from_array, from_list)


# Missing values and defaults -----------------------------------------------------------------


def test_absent_features_take_their_defaults():
    X = validate_records({}, _people(), max_rows=10)
    assert X.iloc[0].tolist() == [0, 2.5, False, "Paris"]


def test_a_default_of_zero_stays_zero():
    metadata = _metadata(
        FeatureSpec(name="count", type=FeatureType.INTEGER, default=0),
        FeatureSpec(name="rate", type=FeatureType.NUMERIC, default=0.0),
        FeatureSpec(name="flag", type=FeatureType.BOOLEAN, default=False),
        allows_nan=True,
    )
    X = validate_records([{}, {"count": None, "rate": None, "flag": None}], metadata, max_rows=10)
    assert not np.isnan(X).any()
    np.testing.assert_array_equal(X, np.zeros((2, 3)))


@pytest.mark.parametrize("empty", [None, float("nan")], ids=["null", "nan"])
def test_null_and_nan_take_the_default(empty):
    X = validate_records(
        {"age": empty, "income": empty, "member": empty, "city": empty}, _people(), max_rows=10
    )
    assert X.iloc[0].tolist() == [0, 2.5, False, "Paris"]


def test_absent_without_a_default_is_nan_when_the_feature_and_the_model_allow_it():
    metadata = _metadata(
        FeatureSpec(name="x"),
        FeatureSpec(name="city", type=FeatureType.CATEGORICAL, categories=CITIES),
        input_kind="dataframe",
        allows_nan=True,
    )
    X = validate_records([{"x": 1.0, "city": "Nice"}, {"x": None}], metadata, max_rows=10)
    assert math.isnan(X["x"][1])
    assert pd.isna(X["city"][1])
    assert X["city"].cat.categories.tolist() == CITIES


def test_absent_without_a_default_is_an_error_when_the_model_cannot_take_nan():
    error = _invalid(validate_records, [{"x": 1, "n": 1}, {"n": 2}], NUMBERS)
    assert _where(error) == [(1, "x")]
    assert "missing" in str(error)
    assert "cannot take missing values" in str(error)


def test_absent_is_an_error_for_a_feature_that_does_not_accept_missing_values():
    metadata = _metadata(
        FeatureSpec(name="x"), FeatureSpec(name="id", accepts_missing=False), allows_nan=True
    )
    error = _invalid(validate_records, [{"x": 1, "id": 7}, {"x": 2}, {"id": None}], metadata)
    assert _where(error) == [(1, "id"), (2, "id")]
    assert "does not accept missing values" in error.problems[0].detail


def test_a_feature_that_refuses_missing_values_still_takes_its_default():
    metadata = _metadata(FeatureSpec(name="id", default=7, accepts_missing=False))
    assert validate_records({}, metadata, max_rows=10).tolist() == [[7.0]]


# Unknown features ---------------------------------------------------------------------------


def test_a_misspelled_feature_is_named_with_the_closest_name():
    error = _invalid(validate_records, {"incme": 3, "age": 30}, _people())
    assert error.problems == [
        FieldProblem("unknown feature; did you mean 'income'?", None, "incme")
    ]
    assert "did you mean 'income'" in str(error)


def test_a_misspelled_feature_is_named_once_at_the_first_row_that_has_it():
    records = [{"age": 1}, {"incme": 3}, {"incme": 4}]
    error = _invalid(validate_records, records, _people())
    assert _where(error) == [(1, "incme")]


def test_an_unrelated_unknown_feature_gets_no_suggestion():
    error = _invalid(validate_records, {"zzzzzz": 1}, _people())
    assert error.problems == [FieldProblem("unknown feature", None, "zzzzzz")]


# Types --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("feature", "value", "detail"),
    [
        (FeatureSpec(name="v"), "heavy", "expected a number, got 'heavy'"),
        (FeatureSpec(name="v"), "", "expected a number, got ''"),
        (FeatureSpec(name="v", type=FeatureType.INTEGER), 2.5, "expected a whole number, got 2.5"),
        (
            FeatureSpec(name="v", type=FeatureType.INTEGER),
            "2.5",
            "expected a whole number, got 2.5",
        ),
        (FeatureSpec(name="v", type=FeatureType.BOOLEAN), "maybe", "expected true or false"),
        (
            FeatureSpec(name="v", type=FeatureType.BOOLEAN),
            2,
            "expected true or false, got a number",
        ),
        (
            FeatureSpec(name="v", type=FeatureType.CATEGORICAL, categories=CITIES),
            "Marseille",
            "unknown category 'Marseille'; expected one of Lyon, Nice, Paris",
        ),
        (FeatureSpec(name="v", type=FeatureType.TEXT), 5, "expected text, got a number"),
        (FeatureSpec(name="v", type=FeatureType.TEXT), True, "expected text, got a boolean"),
    ],
    ids=[
        "word-for-number",
        "empty-for-number",
        "fraction-for-integer",
        "fraction-text-for-integer",
        "word-for-boolean",
        "two-for-boolean",
        "unknown-category",
        "number-for-text",
        "boolean-for-text",
    ],
)
def test_a_value_of_the_wrong_type_is_named_by_row_and_field(feature, value, detail):
    good = {
        FeatureType.NUMERIC: 1.0,
        FeatureType.INTEGER: 1,
        FeatureType.BOOLEAN: True,
        FeatureType.CATEGORICAL: "Lyon",
        FeatureType.TEXT: "fine",
    }[feature.type]
    input_kind = "text" if feature.type is FeatureType.TEXT else "dataframe"
    metadata = _metadata(feature, input_kind=input_kind)
    error = _invalid(validate_records, [{"v": good}, {"v": value}], metadata)
    assert _where(error) == [(1, "v")]
    assert detail in error.problems[0].detail
    assert f"row 1, field 'v': {detail}" in str(error)


@pytest.mark.parametrize(
    "feature",
    [
        FeatureSpec(name="v", type=FeatureType.NUMERIC),
        FeatureSpec(name="v", type=FeatureType.INTEGER),
        FeatureSpec(name="v", type=FeatureType.BOOLEAN),
        FeatureSpec(name="v", type=FeatureType.CATEGORICAL, categories=CITIES),
        FeatureSpec(name="v", type=FeatureType.CATEGORICAL),
        FeatureSpec(name="v", type=FeatureType.TEXT),
    ],
    ids=["numeric", "integer", "boolean", "categorical", "open-categorical", "text"],
)
@pytest.mark.parametrize("value", [[1, 2], {"a": 1}], ids=["list", "object"])
def test_nested_values_are_refused_by_every_type(feature, value):
    metadata = _metadata(feature, input_kind="dataframe")
    error = _invalid(validate_records, {"v": value}, metadata)
    assert _where(error) == [(None, "v")]
    assert "nested values are not accepted" in error.problems[0].detail


@pytest.mark.parametrize(("value", "kind"), [([1], "list"), ({"a": 1}, "object")])
def test_the_nested_value_message_reads_as_english(value, kind):
    error = _invalid(validate_records, {"x": value, "n": 1}, NUMBERS)
    article = "an" if kind == "object" else "a"
    assert re.search(rf"got {article} (nested )?{kind}\b", error.problems[0].detail), error


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3.5", 3.5), (" 4 ", 4.0), ("1e3", 1000.0), ("-0.25", -0.25), (7, 7.0), (True, 1.0)],
)
def test_numeric_looking_values_are_coerced_to_numbers(value, expected):
    X = validate_records([{"x": value, "n": 1}, {"x": 1.0, "n": 1}], NUMBERS, max_rows=10)
    assert X[0, 0] == expected


@pytest.mark.parametrize(("value", "expected"), [("7", 7), (7.0, 7), (" 12 ", 12), (-3, -3)])
def test_integer_features_take_whole_numbers_in_any_form(value, expected):
    X = validate_records({"age": value}, _people(), max_rows=10)
    assert X["age"].dtype == np.int64
    assert X["age"][0] == expected


def test_booleans_take_json_booleans_zero_and_one_and_yes_no_strings():
    truths = [True, "yes", "TRUE", " Y ", "t", 1, 1.0, "1"]
    falsehoods = [False, "no", "false", "n", "F", 0, 0.0, "0"]
    records = [{"member": value} for value in truths + falsehoods]
    X = validate_records(records, _people(), max_rows=100)
    assert X["member"].dtype == bool
    assert X["member"].tolist() == [True] * len(truths) + [False] * len(falsehoods)


def test_the_categories_shown_in_an_error_are_capped():
    categories = [f"c{i:02d}" for i in range(12)]
    feature = FeatureSpec(name="v", type=FeatureType.CATEGORICAL, categories=categories)
    error = _invalid(validate_records, {"v": "c99"}, _metadata(feature, input_kind="dataframe"))
    detail = error.problems[0].detail
    assert detail.startswith("unknown category 'c99'; expected one of c00, c01,")
    assert "c09, ..." in detail
    assert "c10" not in detail


def test_categories_match_by_their_text_and_keep_their_own_type():
    feature = FeatureSpec(name="v", type=FeatureType.CATEGORICAL, categories=[1, 2, 3])
    X = validate_records(
        [{"v": "2"}, {"v": 3}], _metadata(feature, input_kind="dataframe"), max_rows=10
    )
    assert X["v"].tolist() == [2, 3]
    assert all(type(value) is int for value in X["v"].tolist())


def test_a_categorical_feature_without_categories_takes_any_scalar():
    feature = FeatureSpec(name="v", type=FeatureType.CATEGORICAL)
    X = validate_records(
        [{"v": "x"}, {"v": 3}], _metadata(feature, input_kind="dataframe"), max_rows=10
    )
    assert X["v"].tolist() == ["x", 3]


# NaN and infinity ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [float("inf"), float("-inf"), "inf", "-Infinity", json.loads('{"v": 1e999}')["v"]],
    ids=["inf", "minus-inf", "inf-text", "minus-infinity-text", "1e999-from-json"],
)
@pytest.mark.parametrize("allows_nan", [False, True])
def test_infinity_is_never_a_valid_number(value, allows_nan):
    metadata = NUMBERS.model_copy(update={"allows_nan": allows_nan})
    error = _invalid(validate_records, [{"x": 1, "n": 1}, {"x": value, "n": value}], metadata)
    assert sorted(_where(error)) == [(1, "n"), (1, "x")]
    assert all(problem.detail == "must be a finite number" for problem in error.problems)


@pytest.mark.parametrize("value", [float("nan"), "nan", "NaN"])
def test_nan_is_refused_where_the_model_cannot_take_it(value):
    error = _invalid(validate_records, [{"x": 1, "n": 1}, {"x": value, "n": 1}], NUMBERS)
    assert _where(error) == [(1, "x")]


def test_a_number_too_large_for_a_float_is_an_input_error_not_a_crash():
    huge = json.loads('{"x": 1' + "0" * 400 + "}")["x"]
    assert isinstance(huge, int)
    error = _invalid(validate_records, [{"x": 1, "n": 1}, {"x": huge, "n": 1}], NUMBERS)
    assert _where(error) == [(1, "x")]
    error = _invalid(validate_records, [{"x": 1, "n": 1}, {"x": "mixed", "n": huge}], NUMBERS)
    assert sorted(_where(error)) == [(1, "n"), (1, "x")]


@pytest.mark.parametrize("value", [1e20, 2**63, -(2**64)])
def test_a_whole_number_beyond_int64_is_not_silently_wrapped(value):
    metadata = _metadata(FeatureSpec(name="n", type=FeatureType.INTEGER))
    X = validate_records({"n": value}, metadata, max_rows=10)
    assert X[0, 0] == float(value)


# The shape of what is sent ------------------------------------------------------------------


def test_an_empty_list_is_refused():
    error = _invalid(validate_records, [], NUMBERS)
    assert "no rows" in str(error)


def test_more_rows_than_allowed_are_refused_before_any_is_read():
    error = _invalid(validate_records, [{"x": "bad"}] * 4, NUMBERS, max_rows=3)
    assert str(error) == "4 rows is more than the 3 allowed in one call"
    assert validate_records([{"x": 1, "n": 1}] * 3, NUMBERS, max_rows=3).shape == (3, 2)
    error = _invalid(validate_columns, {"x": [1] * 4, "n": [1] * 4}, NUMBERS, max_rows=3)
    assert "more than the 3 allowed" in str(error)


def test_a_list_mixing_records_and_numbers_names_the_rows_that_are_not_records():
    error = _invalid(validate_records, [{"x": 1, "n": 1}, 5, {"x": 2, "n": 2}, "text"], NUMBERS)
    assert _where(error) == [(1, None), (3, None)]
    assert "row 1: expected a record (an object of feature values), got a number" in str(error)
    assert "row 3: expected a record (an object of feature values), got a string" in str(error)


@pytest.mark.parametrize(
    ("value", "kind"),
    [("x=1", "a string"), (5, "a number"), (2.5, "a number"), (None, "null"), (True, "a boolean")],
)
def test_a_top_level_value_that_is_not_a_record_or_list_is_refused(value, kind):
    error = _invalid(validate_records, value, NUMBERS)
    assert str(error) == f"expected a record or a list of records, got {kind}"


@pytest.mark.parametrize(
    "feature",
    [
        FeatureSpec(name="v", type=FeatureType.NUMERIC),
        FeatureSpec(name="v", type=FeatureType.BOOLEAN),
        FeatureSpec(name="v", type=FeatureType.CATEGORICAL),
        FeatureSpec(name="v", type=FeatureType.TEXT),
    ],
    ids=["numeric", "boolean", "categorical", "text"],
)
def test_a_deeply_nested_value_is_a_clean_error(feature):
    deep_dict: dict = {}
    for _ in range(1000):
        deep_dict = {"v": deep_dict}
    metadata = _metadata(feature, input_kind="dataframe")
    for value in (_nested(1000), deep_dict):
        error = _invalid(validate_records, [{"v": value}], metadata)
        assert _where(error) == [(0, "v")]
        assert "nested" in str(error)


def test_a_deeply_nested_body_is_a_clean_error():
    error = _invalid(validate_records, _nested(1000), NUMBERS)
    assert _where(error) == [(0, None)]
    assert "got a list" in str(error)


# Many problems ------------------------------------------------------------------------------


def test_problems_are_capped_and_counted():
    records = [{"x": "bad", "n": 0.5} for _ in range(30)]
    error = _invalid(validate_records, records, NUMBERS)
    assert len(error.problems) == MAX_PROBLEMS
    assert error.total == 60
    assert str(error).endswith(f"; and {60 - MAX_PROBLEMS} more problem(s)")
    assert all(problem.row is not None and problem.field for problem in error.problems)


def test_rows_that_are_not_records_are_capped_and_counted_too():
    error = _invalid(validate_records, [1] * 25, NUMBERS)
    assert (len(error.problems), error.total) == (MAX_PROBLEMS, 25)
    assert str(error).endswith("; and 5 more problem(s)")


def test_unknown_features_and_bad_values_are_reported_together():
    error = _invalid(validate_records, [{"x": "bad", "n": 1, "nn": 2}], NUMBERS)
    assert sorted(_where(error)) == [(0, "nn"), (0, "x")]
    assert error.total == 2


# What the model receives --------------------------------------------------------------------


def test_numpy_models_get_a_2d_float64_array_in_feature_order():
    metadata = _metadata(
        FeatureSpec(name="a"),
        FeatureSpec(name="b", type=FeatureType.INTEGER),
        FeatureSpec(name="c", type=FeatureType.BOOLEAN),
    )
    X = validate_records(
        [{"c": True, "b": 2, "a": 0.5}, {"b": 3, "a": 1.5, "c": "no"}], metadata, max_rows=10
    )
    assert isinstance(X, np.ndarray)
    assert (X.ndim, X.dtype) == (2, np.float64)
    np.testing.assert_array_equal(X, [[0.5, 2.0, 1.0], [1.5, 3.0, 0.0]])


def test_a_real_numpy_model_gets_float64(example_bundles):
    metadata = example_bundles["linear-binary"].metadata
    X = validate_records(metadata.examples, metadata, max_rows=100)
    assert X.dtype == np.float64
    assert X.shape == (len(metadata.examples), len(metadata.features))


def test_dataframe_models_get_columns_in_feature_order_with_typed_columns():
    records = [
        {"city": "Nice", "member": "yes", "income": 1, "age": "30"},
        {"member": False, "age": 41, "city": "Lyon"},
    ]
    X = validate_records(records, _people(), max_rows=10)
    assert isinstance(X, pd.DataFrame)
    assert list(X.columns) == ["age", "income", "member", "city"]
    assert list(X.index) == [0, 1]
    assert X["age"].dtype == np.int64
    assert X["income"].dtype == np.float64
    assert X["member"].dtype == bool
    assert isinstance(X["city"].dtype, pd.CategoricalDtype)
    assert X["city"].cat.categories.tolist() == CITIES
    assert X["city"].tolist() == ["Nice", "Lyon"]


def test_a_real_dataframe_model_gets_categoricals_with_every_category(example_bundles):
    metadata = example_bundles["lightgbm-binary"].metadata
    X = validate_records(metadata.examples[:2], metadata, max_rows=100)
    assert list(X.columns) == metadata.feature_names
    categorical = [f for f in metadata.features if f.type is FeatureType.CATEGORICAL]
    assert categorical
    for feature in categorical:
        assert isinstance(X[feature.name].dtype, pd.CategoricalDtype)
        assert X[feature.name].cat.categories.tolist() == feature.categories


def test_text_models_get_a_list_of_strings(example_bundles):
    metadata = example_bundles["sentiment"].metadata
    X = validate_records([{"text": "lovely"}, {"text": "awful"}], metadata, max_rows=10)
    assert X == ["lovely", "awful"]
    assert all(type(text) is str for text in X)


def _assert_plain(records: list[dict]) -> None:
    orjson.dumps(records)
    assert all(
        type(value) in (int, float, str, bool, type(None))
        for record in records
        for value in record.values()
    )


def test_to_records_turns_numpy_input_back_into_plain_records():
    metadata = NUMBERS.model_copy(update={"allows_nan": True})
    X = validate_records([{"x": 1.5, "n": 2}, {}], metadata, max_rows=10)
    records = to_records(X, metadata)
    assert records == [{"x": 1.5, "n": 2.0}, {"x": None, "n": None}]
    _assert_plain(records)
    np.testing.assert_array_equal(validate_records(records, metadata, max_rows=10), X)


def test_to_records_turns_a_dataframe_back_into_plain_records():
    metadata = _metadata(
        FeatureSpec(name="age", type=FeatureType.INTEGER),
        FeatureSpec(name="member", type=FeatureType.BOOLEAN, default=True),
        FeatureSpec(name="city", type=FeatureType.CATEGORICAL, categories=CITIES),
        input_kind="dataframe",
        allows_nan=True,
    )
    X = validate_records([{"age": 3, "city": "Nice"}, {"member": False}], metadata, max_rows=10)
    records = to_records(X, metadata)
    assert records == [
        {"age": 3, "member": True, "city": "Nice"},
        {"age": None, "member": False, "city": None},
    ]
    _assert_plain(records)
    pd.testing.assert_frame_equal(validate_records(records, metadata, max_rows=10), X)


def test_to_records_of_text_input(example_bundles):
    metadata = example_bundles["sentiment"].metadata
    assert to_records(["fine"], metadata) == [{"text": "fine"}]


# Column-wise validation agrees with row-by-row validation ------------------------------------

PROPERTY = _metadata(
    FeatureSpec(name="x", default=1.5),
    FeatureSpec(name="n", type=FeatureType.INTEGER),
    FeatureSpec(name="b", type=FeatureType.BOOLEAN, default=False),
    FeatureSpec(name="y"),
    allows_nan=True,
)
"""Numeric, integer and boolean features, with and without defaults, on a NaN-taking model."""

_CHOICES = {
    "x": [
        lambda r: float(r.normal()),
        lambda r: int(r.integers(-9, 9)),
        lambda r: f"{r.normal():.4f}",
        lambda r: None,
        lambda r: float("nan"),
    ],
    "n": [
        lambda r: int(r.integers(-99, 99)),
        lambda r: str(r.integers(0, 99)),
        lambda r: 3.0,
        lambda r: None,
    ],
    "b": [
        lambda r: True,
        lambda r: False,
        lambda r: "yes",
        lambda r: "no",
        lambda r: 1,
        lambda r: 0,
        lambda r: None,
    ],
    "y": [lambda r: float(r.normal()), lambda r: None],
}
_BAD = {"x": "abc", "n": 2.5, "b": "maybe", "y": [1]}


def _random_records(n_rows: int, seed: int, bad_rate: float = 0.0) -> list[dict]:
    rng = np.random.default_rng(seed)
    records = []
    for _ in range(n_rows):
        record = {}
        for name, makers in _CHOICES.items():
            pick = rng.integers(0, len(makers) + 1)
            if rng.random() < bad_rate:
                record[name] = _BAD[name]
            elif pick < len(makers):  # else the feature is left out
                record[name] = makers[pick](rng)
        records.append(record)
    return records


def test_validating_many_records_at_once_equals_validating_each_alone():
    records = _random_records(5000, seed=1)
    together = validate_records(records, PROPERTY, max_rows=5000)
    alone = np.vstack([validate_records(record, PROPERTY, max_rows=1) for record in records])
    assert together.dtype == alone.dtype == np.float64
    assert together.shape == (5000, 4)
    assert np.isnan(together).any()  # the property covers missing values too
    np.testing.assert_array_equal(together, alone)


def test_errors_found_at_once_are_those_found_record_by_record():
    records = _random_records(5000, seed=2, bad_rate=0.01)
    expected = set()
    for i, record in enumerate(records):
        try:
            validate_records(record, PROPERTY, max_rows=1)
        except InvalidInputError as error:
            assert error.total == len(error.problems)
            expected |= {(i, p.field, p.detail) for p in error.problems}
    assert len(expected) > MAX_PROBLEMS
    error = _invalid(validate_records, records, PROPERTY)
    assert error.total == len(expected)
    assert {(p.row, p.field, p.detail) for p in error.problems} <= expected


_NUMERIC_VALUES = [
    lambda r: float(r.normal()),
    lambda r: int(r.integers(-99, 99)),
    lambda r: f"{r.normal():.3f}",
    lambda r: f" {r.integers(0, 9)} ",
    lambda r: "1_000",
    lambda r: "1e3",
    lambda r: bool(r.integers(0, 2)),
    lambda r: 2.5,
    lambda r: "nan",
    lambda r: "-inf",
    lambda r: 10**400,
    lambda r: "abc",
    lambda r: None,
    lambda r: [1.0],
    lambda r: {"v": 1},
]


def _outcome(call, data, metadata: ModelMetadata):
    try:
        return "array", np.asarray(call(data, metadata, max_rows=100))
    except InvalidInputError as error:
        return "error", sorted((p.row, p.field, p.detail) for p in error.problems)


@pytest.mark.parametrize("names", [["x", "n"], ["x"]])
@pytest.mark.parametrize("seed", range(40))
def test_numeric_rows_read_in_one_call_equal_the_column_by_column_path(seed, names):
    """Records of a numeric model take a one-call path; columns take the general one."""
    metadata = _metadata(*[f for f in NUMBERS.features if f.name in names])
    rng = np.random.default_rng(seed)
    clean = seed % 2 == 0  # half the batches mostly well-formed, to reach the one-call path
    makers = _NUMERIC_VALUES[:8] if clean else _NUMERIC_VALUES
    records = [
        {name: makers[rng.integers(0, len(makers))](rng) for name in names}
        for _ in range(int(rng.integers(1, 6)))
    ]
    columns = {name: [record[name] for record in records] for name in names}
    by_rows, by_columns = (
        _outcome(validate_records, records, metadata),
        _outcome(validate_columns, columns, metadata),
    )
    assert by_rows[0] == by_columns[0], (records, by_rows, by_columns)
    if by_rows[0] == "array":
        np.testing.assert_array_equal(by_rows[1], by_columns[1])
        assert by_rows[1].dtype == np.float64
    else:
        assert by_rows[1] == by_columns[1]
