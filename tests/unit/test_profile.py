"""The reference profile: its bins and shares, and its life in a bundle file."""

from __future__ import annotations

import logging
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from modelport import BundleError, ModelBundle, Predictor, load_bundle, save_bundle
from modelport.examples import EXAMPLES
from modelport.metadata import FeatureType
from modelport.profile import (
    MAX_CATEGORIES,
    PROFILE_VERSION,
    Distribution,
    Profile,
    create_profile,
    describe,
    profile_input,
)


def test_numeric_bins_are_the_quantiles_and_shares_count_every_row():
    values = np.concatenate([np.arange(100.0), [np.nan] * 25])
    spread = describe(values, "numeric", bins=4)
    assert spread.edges == [25.0, 50.0, 75.0]
    assert spread.shares == [0.2, 0.2, 0.2, 0.2]
    assert spread.missing == 0.2
    assert spread.labels == ["< 25", "25 to 50", "50 to 75", "≥ 75", "missing"]
    # An edge value belongs to the bin it opens; None in an object column is missing.
    given = np.array([-1e9, 25, 75, 1e9, None], dtype=object)
    assert spread.bin_indices(given).tolist() == [0, 1, 3, 3, 4]


def test_a_feature_of_few_values_gets_one_bin_per_value_not_empty_repeats():
    spread = describe(np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, 2]), "numeric")
    assert spread.edges == [0.0, 1.0, 2.0]
    assert spread.shares == [0.0, 0.7, 0.2, 0.1]


def test_rare_categories_share_the_other_bin():
    common = [f"c{i:02d}" for i in range(MAX_CATEGORIES) for _ in range(3)]
    rare = [f"rare{i}" for i in range(10)]
    spread = describe(np.array(common + rare + [None], dtype=object), "categorical")
    assert spread.categories == sorted({*common})
    assert spread.shares[-1] == pytest.approx(10 / 71, abs=1e-6)
    assert spread.missing == pytest.approx(1 / 71, abs=1e-6)
    assert spread.bin_indices(["c03", "never seen", None]).tolist() == [
        3,
        MAX_CATEGORIES,
        MAX_CATEGORIES + 1,
    ]


def test_a_category_reads_the_same_from_text_an_integer_or_a_float_matrix():
    spread = describe(np.array(["3", "7", "7"], dtype=object), "categorical")
    assert spread.bin_indices(np.array([3.0, 7, "7"], dtype=object)).tolist() == [
        spread.categories.index("3"),
        spread.categories.index("7"),
        spread.categories.index("7"),
    ]


def test_a_pandas_categorical_is_binned_as_its_values_are():
    spread = describe(np.array(["a", "b", "b", "c"], dtype=object), "categorical")
    values = ["c", None, "a", "zzz", "b"]
    categorical = pd.Categorical(values, categories=["a", "b", "c", "zzz"])
    assert (
        spread.bin_indices(categorical).tolist()
        == spread.bin_indices(np.array(values, dtype=object)).tolist()
        == [2, 4, 1, 3, 0]  # b, a, c by frequency, other, missing
    )


def test_booleans_read_the_same_as_bools_or_as_floats():
    spread = describe(np.array([True, False, True, True]), "boolean")
    assert spread.categories == ["false", "true"]
    assert spread.shares == [0.25, 0.75, 0.0]
    assert spread.bin_indices(np.array([1.0, 0.0])).tolist() == [1, 0]


def test_many_text_values_are_binned_as_one_at_a_time():
    spread = describe(np.array(["a", "b", "c"] * 10, dtype=object), "categorical")
    values = np.array((["a", "b", "zzz", None] * 2000), dtype=object)  # past the C lookup size
    one_by_one = [spread.bin_indices(values[i : i + 1])[0] for i in range(8)]
    assert spread.bin_indices(values).tolist()[:8] == one_by_one
    assert np.bincount(spread.bin_indices(values)).tolist() == [2000, 2000, 0, 2000, 2000]


def test_every_example_bundle_carries_a_profile_of_its_tabular_features(
    example_bundles: dict[str, ModelBundle],
):
    for name, bundle in example_bundles.items():
        profile = bundle.profile
        assert profile is not None, name
        assert profile.prediction is not None
        expected = [f.name for f in bundle.metadata.features if f.type is not FeatureType.TEXT]
        assert list(profile.features) == expected
        for spread in [*profile.features.values(), profile.prediction]:
            assert sum(spread.shares) + spread.missing == pytest.approx(1, abs=1e-5)
        assert len(profile.model_dump_json()) < 16_000, name  # kilobytes, not the data


def test_the_prediction_profile_is_the_models_own_answers(predictors: dict[str, Predictor]):
    predictor = predictors["forest-multiclass"]
    rows = EXAMPLES["forest-multiclass"].data()
    profile = profile_input(predictor, rows)
    labels, counts = np.unique(predictor.predict_array(rows.to_numpy()), return_counts=True)
    assert profile.rows == len(rows) == 150
    assert profile.prediction is not None
    shares = dict(zip(profile.prediction.categories, profile.prediction.shares, strict=False))
    assert shares == {
        str(label): round(count / 150, 6) for label, count in zip(labels, counts, strict=True)
    }


def test_a_regressor_profiles_its_values_in_bins(example_bundles: dict[str, ModelBundle]):
    prediction = example_bundles["forest-regression"].profile.prediction  # type: ignore[union-attr]
    assert prediction is not None
    assert prediction.kind == "numeric"
    assert len(prediction.edges) == 9


@pytest.mark.parametrize("suffix", [".joblib", ".skops"])
def test_the_profile_round_trips_through_a_bundle_file(
    tmp_path: Path, example_bundles: dict[str, ModelBundle], suffix: str
):
    source = example_bundles["bank-marketing"]
    target = tmp_path / f"bank{suffix}"
    save_bundle(source.estimator, target, source.metadata, source.profile)
    loaded = load_bundle(target)
    assert loaded.profile == source.profile
    assert loaded.profile is not None and loaded.profile.version == PROFILE_VERSION


def _plain_model(tmp_path: Path) -> tuple[LogisticRegression, Path]:
    model = LogisticRegression().fit([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]], [0, 1, 0, 1])
    return model, tmp_path / "old.joblib"


def test_a_bundle_without_a_profile_loads_and_predicts(tmp_path: Path):
    model, path = _plain_model(tmp_path)
    joblib.dump({"model": model, "metadata": {"features": [{"name": "a"}, {"name": "b"}]}}, path)
    bundle = load_bundle(path)
    assert bundle.profile is None
    assert Predictor(bundle).predict_records({"a": 0.0, "b": 1.0}) == [0]


def test_a_profile_of_a_newer_shape_is_skipped_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    model, path = _plain_model(tmp_path)
    joblib.dump({"model": model, "profile": {"version": PROFILE_VERSION + 1, "bins": "?"}}, path)
    with caplog.at_level(logging.WARNING, logger="modelport.bundle"):
        bundle = load_bundle(path)
    assert bundle.profile is None
    assert "newer than this modelport reads" in caplog.text


def test_a_malformed_profile_is_a_bundle_error_naming_where(tmp_path: Path):
    model, path = _plain_model(tmp_path)
    profile = {"version": 1, "rows": 4, "features": {"a": {"kind": "numeric", "shares": "x"}}}
    joblib.dump({"model": model, "profile": profile}, path)
    with pytest.raises(BundleError, match=r"invalid reference profile at features\.a\.shares"):
        load_bundle(path)


def test_a_profile_from_plain_columns_guesses_kinds_from_dtypes():
    profile = create_profile(
        {"n": np.arange(10.0), "c": np.array(list("aabbbccccc"), dtype=object)},
        np.array(["x"] * 10, dtype=object),
    )
    assert profile.features["n"].kind == "numeric"
    assert profile.features["c"].shares == [0.5, 0.3, 0.2, 0.0]
    assert profile.prediction == Distribution(kind="categorical", categories=["x"], shares=[1, 0])
    assert Profile.model_validate_json(profile.model_dump_json()) == profile
