"""Feature metadata inferred from a sample of training data."""

import numpy as np
import pandas as pd

from modelport import FeatureType
from modelport.sample import MAX_CATEGORIES, profile_sample


def _by_name(frame: pd.DataFrame):
    profile = profile_sample(frame)
    return {feature.name: feature for feature in profile.features}, profile


def test_types_defaults_and_ranges_come_from_the_data():
    features, _ = _by_name(
        pd.DataFrame(
            {
                "age": [20, 30, 40, 50, 90],
                "income": [1.5, 2.5, 3.5, np.nan, 10.0],
                "member": [True, False, True, True, False],
                "city": ["Paris", "Lyon", "Paris", "Nice", "Paris"],
            }
        )
    )
    assert (features["age"].type, features["age"].default) == (FeatureType.INTEGER, 40)
    assert (features["age"].min, features["age"].max) == (20.0, 90.0)
    assert features["income"].type is FeatureType.NUMERIC
    assert features["income"].default == 3.0  # the median of the values present
    assert (features["member"].type, features["member"].default) == (FeatureType.BOOLEAN, True)
    assert features["city"].type is FeatureType.CATEGORICAL
    assert (features["city"].categories, features["city"].default) == (
        ["Lyon", "Nice", "Paris"],
        "Paris",
    )


def test_whole_numbers_stored_as_floats_are_integers():
    features, _ = _by_name(pd.DataFrame({"rooms": [1.0, 2.0, 3.0]}))
    assert features["rooms"].type is FeatureType.INTEGER


def test_long_varied_strings_are_text_not_categories():
    reviews = [f"review number {i} says the product was fine" for i in range(MAX_CATEGORIES + 5)]
    features, _ = _by_name(pd.DataFrame({"review": reviews}))
    assert features["review"].type is FeatureType.TEXT
    assert features["review"].categories is None


def test_an_all_missing_column_is_reported_not_guessed():
    features, profile = _by_name(pd.DataFrame({"empty": [np.nan, np.nan], "x": [1, 2]}))
    assert features["empty"].default is None
    assert any("empty" in note and "missing" in note for note in profile.notes)


def test_examples_are_plain_values_with_missing_as_none():
    _, profile = _by_name(pd.DataFrame({"a": [1, 2], "b": [np.nan, 0.5]}))
    assert profile.examples == [{"a": 1, "b": None}, {"a": 2, "b": 0.5}]
    assert all(type(row["a"]) is int for row in profile.examples)
