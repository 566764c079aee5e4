"""A table's rows are screened as the API validates them: same values, same messages."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from modelport import FeatureSpec, FeatureType, InvalidInputError, ModelMetadata, Predictor
from modelport.screening import check_columns, screen_frame
from tests.conftest import EXAMPLE_NAMES


def _as_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as the batch scorer reads it back from a CSV file."""
    text = frame.to_csv(index=False)
    return pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""])


def _same(a: object, b: object) -> None:
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)  # type: ignore[arg-type]
    elif isinstance(a, list):
        assert a == b
    else:
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
        assert a.dtype == b.dtype and a.flags.c_contiguous == b.flags.c_contiguous
        assert np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_clean_rows_give_the_input_the_api_builds(name: str, predictors: dict[str, Predictor]):
    predictor = predictors[name]
    records = predictor.metadata.examples * 4
    screened = screen_frame(_as_csv(pd.DataFrame(records)), predictor.input_metadata)
    assert screened.problems == [] and screened.valid.tolist() == list(range(len(records)))
    _same(predictor.validate(records), screened.X)


def test_dirty_rows_are_set_aside_with_the_messages_the_api_gives(
    predictors: dict[str, Predictor],
):
    predictor = predictors["bank-marketing"]
    records = [dict(row) for row in predictor.metadata.examples * 2]
    records[1]["age"] = "old"
    records[2]["job"] = "astronaut"
    records[4]["campaign"] = 2.5
    del records[5]["balance"]  # takes its default
    frame = pd.DataFrame(records).astype(object)
    screened = screen_frame(frame, predictor.input_metadata)

    assert sorted({p.row for p in screened.problems}) == [1, 2, 4]
    for problem in screened.problems:
        with pytest.raises(InvalidInputError) as caught:
            predictor.validate(records[problem.row or 0])
        assert [(p.field, p.detail) for p in caught.value.problems] == [
            (problem.field, problem.detail)
        ]
    kept = [records[i] for i in screened.valid]
    _same(predictor.validate(kept), screened.X)


def test_integer_and_boolean_columns_narrow_once_bad_rows_are_gone():
    metadata = ModelMetadata(
        features=[
            FeatureSpec(name="n", type=FeatureType.INTEGER, accepts_missing=False),
            FeatureSpec(name="b", type=FeatureType.BOOLEAN, accepts_missing=False),
        ],
        input_kind="dataframe",
        allows_nan=True,
    )
    frame = pd.DataFrame({"n": [1, 2.5, 3], "b": ["yes", "no", "maybe"]})
    screened = screen_frame(frame, metadata)
    assert screened.valid.tolist() == [0]
    assert screened.X["n"].dtype == np.int64 and screened.X["b"].dtype == bool
    assert {(p.row, p.field) for p in screened.problems} == {(1, "n"), (2, "b")}


def test_a_column_with_one_bad_value_still_converts_the_others_exactly(
    predictors: dict[str, Predictor],
):
    predictor = predictors["wind-turbine"]
    frame = _as_csv(pd.DataFrame(predictor.metadata.examples * 3)).astype({"Ws1_avg": object})
    frame.loc[4, "Ws1_avg"] = "fast"
    screened = screen_frame(frame, predictor.input_metadata)
    assert [(p.row, p.field, p.detail) for p in screened.problems] == [
        (4, "Ws1_avg", "expected a number, got 'fast'")
    ]
    kept = frame.drop(index=4).to_dict("records")
    _same(predictor.validate(kept), screened.X)


def test_an_all_bad_chunk_has_no_input():
    metadata = ModelMetadata(features=[FeatureSpec(name="x")], input_kind="numpy")
    screened = screen_frame(pd.DataFrame({"x": ["a", "b"]}), metadata)
    assert screened.X is None and screened.valid.tolist() == []
    assert len(screened.problems) == 2


def test_columns_missing_from_a_table_default_or_fail_by_name(predictors: dict[str, Predictor]):
    metadata = predictors["wind-turbine"].metadata  # every feature has a default
    assert check_columns(["id", "Ws1_avg"], metadata) == [
        name for name in metadata.feature_names if name != "Ws1_avg"
    ]
    with pytest.raises(InvalidInputError) as caught:
        check_columns(["ws1_avg", *metadata.feature_names[1:]], metadata)
    assert caught.value.problems[0].field == "Ws1_avg"
    assert "the table has 'ws1_avg'" in caught.value.problems[0].detail

    strict = ModelMetadata(features=[FeatureSpec(name="x", accepts_missing=False)])
    with pytest.raises(InvalidInputError, match="field 'x': no such column, and no default"):
        check_columns(["id"], strict)


def test_a_misspelt_column_is_blamed_on_the_feature_it_resembles_most(
    predictors: dict[str, Predictor],
):
    metadata = predictors["bank-marketing"].metadata
    columns = [name for name in metadata.feature_names if name != "education"] + ["educaton"]
    with pytest.raises(InvalidInputError) as caught:
        check_columns(columns, metadata)
    assert [(p.field, p.detail) for p in caught.value.problems] == [
        ("education", "no such column; the table has 'educaton'")
    ]
