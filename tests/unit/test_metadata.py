"""Metadata: what fitted estimators tell about themselves, and how metadata is parsed."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier
from pydantic import ValidationError
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from xgboost import XGBRegressor

from modelport import FeatureSpec, FeatureType, InvalidInputError, ModelBundle, ModelMetadata, Task
from modelport.completion import complete_metadata
from modelport.introspection import (
    family,
    final_estimator,
    infer_allows_nan,
    infer_class_names,
    infer_explainer,
    infer_features,
    infer_importances,
    infer_input_kind,
    infer_task,
)

NAMES = ["f0", "f1", "f2", "f3"]


def _numbers(n_rows: int = 48, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, 4))
    X[:, 0] *= 3  # f0 carries the signal in every target below
    return X


def _binary() -> tuple[np.ndarray, np.ndarray]:
    X = _numbers()
    return X, (X[:, 0] > 0).astype(int)


def _three_classes() -> tuple[np.ndarray, np.ndarray]:
    X = _numbers()
    return X, np.digitize(X[:, 0], [-1.0, 1.0])


def _frame() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue"], 48),
            "size": rng.normal(size=48),
        }
    )
    return frame, (frame["colour"] == "red").to_numpy()


def _normalised(values) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values / values.sum()


def _text_pipeline():
    reviews = ["great film", "awful plot", "loved it", "hated it", "great cast", "awful acting"]
    labels = ["Positive", "Negative", "Positive", "Negative", "Positive", "Negative"]
    return make_pipeline(TfidfVectorizer(), MultinomialNB()).fit(reviews, labels)


# Task and class names.


def test_binary_classifier_task_and_class_names():
    X, y = _binary()
    model = LogisticRegression().fit(X, np.where(y == 1, "yes", "no"))
    assert infer_task(model) is Task.BINARY_CLASSIFICATION
    assert infer_class_names(model) == ["no", "yes"]


def test_multiclass_classifier_task_and_class_names():
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(*_three_classes())
    assert infer_task(model) is Task.MULTICLASS_CLASSIFICATION
    assert infer_class_names(model) == [str(c) for c in model.classes_] == ["0", "1", "2"]


def test_boolean_classes_are_named_like_python_booleans():
    X, y = _binary()
    model = LogisticRegression().fit(X, y.astype(bool))
    assert infer_class_names(model) == ["False", "True"]


def test_regressor_task_and_no_class_names():
    X = _numbers()
    model = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, X[:, 0])
    assert infer_task(model) is Task.REGRESSION
    assert infer_class_names(model) is None


# Importances.


def test_importances_from_feature_importances():
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(*_binary())
    importances = infer_importances(model, NAMES)
    assert importances == pytest.approx(_normalised(model.feature_importances_), abs=1e-6)
    assert sum(importances) == pytest.approx(1.0, abs=1e-5)
    assert max(importances) == importances[0]


def test_importances_from_the_absolute_coefficients_of_a_binary_model():
    model = LogisticRegression().fit(*_binary())
    importances = infer_importances(model, NAMES)
    assert importances == pytest.approx(_normalised(np.abs(model.coef_[0])), abs=1e-6)
    assert max(importances) == importances[0]


def test_importances_of_a_multiclass_linear_model_average_the_classes():
    model = LogisticRegression().fit(*_three_classes())
    assert model.coef_.shape == (3, 4)
    expected = _normalised(np.abs(model.coef_).mean(axis=0))
    assert infer_importances(model, NAMES) == pytest.approx(expected, abs=1e-6)


def test_importances_unwrap_a_pipeline():
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(*_binary())
    expected = _normalised(np.abs(model[-1].coef_[0]))
    assert infer_importances(model, NAMES) == pytest.approx(expected, abs=1e-6)


def test_importances_unwrap_a_calibrated_classifier():
    model = CalibratedClassifierCV(LogisticRegression(), cv=3).fit(*_binary())
    inner = final_estimator(model)
    assert isinstance(inner, LogisticRegression)
    expected = _normalised(np.abs(inner.coef_[0]))
    assert infer_importances(model, NAMES) == pytest.approx(expected, abs=1e-6)


def test_a_model_without_importances_has_none():
    model = KNeighborsClassifier(n_neighbors=3).fit(*_binary())
    assert infer_importances(model, NAMES) is None


def test_bank_marketing_importances_are_per_input_feature(
    example_bundles: dict[str, ModelBundle],
):
    bundle = example_bundles["bank-marketing"]
    importances = {feature.name: feature.importance for feature in bundle.metadata.features}
    assert len(importances) == 9
    assert sum(importances.values()) == pytest.approx(1.0, abs=1e-5)

    # Each one-hot column counts for the feature it came from: job's nine columns add up.
    pipeline = bundle.estimator
    columns = pipeline[:-1].get_feature_names_out()
    coefficients = np.abs(pipeline[-1].coef_[0])
    total = coefficients.sum()
    job = coefficients[[name.startswith("categorical__job_") for name in columns]]
    assert len(job) == 9
    assert importances["job"] == pytest.approx(job.sum() / total, abs=1e-5)
    age = coefficients[list(columns).index("integer__age")]
    assert importances["age"] == pytest.approx(age / total, abs=1e-5)


def test_one_hot_columns_go_to_the_longest_feature_name_they_start_with():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "loan": rng.choice(["yes", "no"], 48),
            "loan_type": rng.choice(["car", "home", "study"], 48),
        }
    )
    model = make_pipeline(
        ColumnTransformer([("onehot", OneHotEncoder(), ["loan", "loan_type"])]),
        LogisticRegression(),
    ).fit(frame, frame["loan_type"] == "home")
    coefficients = np.abs(model[-1].coef_[0])
    columns = list(model[:-1].get_feature_names_out())
    assert columns[:2] == ["onehot__loan_no", "onehot__loan_yes"]

    importances = infer_importances(model, ["loan", "loan_type"])

    expected = [coefficients[:2].sum(), coefficients[2:].sum()] / coefficients.sum()
    assert importances == pytest.approx(expected, abs=1e-6)


# Features and input kind.


def test_features_come_from_the_fitted_column_names_or_their_count():
    frame, y = _frame()
    encoded = make_pipeline(
        ColumnTransformer([("onehot", OneHotEncoder(), ["colour"])], remainder="passthrough"),
        LogisticRegression(),
    ).fit(frame, y)
    assert [f.name for f in infer_features(encoded)] == ["colour", "size"]
    assert [f.name for f in infer_features(LogisticRegression().fit(*_binary()))] == NAMES


def test_input_kind_is_numpy_for_a_model_fitted_on_arrays():
    model = LogisticRegression().fit(*_binary())
    assert infer_input_kind(model, infer_features(model)) == "numpy"


def test_input_kind_is_dataframe_for_a_model_fitted_on_a_frame():
    frame = pd.DataFrame(_numbers(), columns=NAMES)
    model = LogisticRegression().fit(frame, (frame["f0"] > 0).astype(int))
    assert infer_input_kind(model, infer_features(model)) == "dataframe"


def test_input_kind_is_text_for_a_text_pipeline():
    model = _text_pipeline()
    features = infer_features(model)
    assert features == [FeatureSpec(name="text", type=FeatureType.TEXT)]
    assert infer_input_kind(model, features) == "text"


# Missing values.


@pytest.mark.parametrize(
    "model",
    [
        RandomForestClassifier(n_estimators=5, random_state=0),
        LGBMClassifier(n_estimators=5, min_child_samples=2, verbose=-1, n_jobs=1),
        HistGradientBoostingClassifier(max_iter=5),
    ],
    ids=type,
)
def test_models_that_take_nan_allow_it(model):
    X, y = _binary()
    X[::7, 1] = np.nan
    model.fit(X, y)
    assert infer_allows_nan(model) is True
    model.predict(X)  # the claim holds: NaN goes through


def test_logistic_regression_does_not_allow_nan():
    model = LogisticRegression().fit(*_binary())
    assert infer_allows_nan(model) is False
    with pytest.raises(ValueError, match="NaN"):
        model.predict(np.full((1, 4), np.nan))


# Explainer choice.


@pytest.mark.parametrize(
    "model",
    [
        RandomForestClassifier(n_estimators=5, random_state=0),
        RandomForestRegressor(n_estimators=5, random_state=0),
        LGBMClassifier(n_estimators=5, min_child_samples=2, verbose=-1, n_jobs=1),
        XGBRegressor(n_estimators=5, max_depth=2, n_jobs=1),
    ],
    ids=type,
)
def test_trees_and_boosters_get_the_tree_explainer(model):
    X, y = _binary()
    model.fit(X, y)
    assert infer_explainer(model, NAMES) == "tree"


def test_linear_models_get_the_linear_explainer_even_behind_a_scaler():
    X, y = _binary()
    assert infer_explainer(LogisticRegression().fit(X, y), NAMES) == "linear"
    scaled = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    assert infer_explainer(scaled, NAMES) == "linear"


def test_a_one_hot_pipeline_gets_the_permutation_explainer():
    frame, y = _frame()
    model = make_pipeline(
        ColumnTransformer(
            [("onehot", OneHotEncoder(), ["colour"]), ("scale", StandardScaler(), ["size"])]
        ),
        LogisticRegression(),
    ).fit(frame, y)
    assert infer_explainer(model, ["colour", "size"]) == "permutation"


def test_other_models_get_the_permutation_explainer():
    X, y = _binary()
    assert infer_explainer(KNeighborsClassifier(n_neighbors=3).fit(X, y), NAMES) == "permutation"
    calibrated = CalibratedClassifierCV(LogisticRegression(), cv=3).fit(X, y)
    assert infer_explainer(calibrated, NAMES) == "permutation"


def test_family_names_the_pipeline_steps():
    X, y = _binary()
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    assert family(model) == "Pipeline(StandardScaler → LogisticRegression)"
    assert family(model[-1]) == "LogisticRegression"


# Completing the metadata a bundle gives.


def test_given_metadata_wins_over_what_is_inferred():
    X, y = _binary()
    model = LogisticRegression().fit(X, y)
    given = ModelMetadata(
        features=[
            FeatureSpec(name=name, importance=0.9 if name == "f3" else None) for name in NAMES
        ],
    )
    completed = complete_metadata(model, given)
    assert completed.feature("f3").importance == 0.9
    assert completed.feature("f0").importance == pytest.approx(
        _normalised(np.abs(model.coef_[0]))[0], abs=1e-6
    )


def test_a_regressor_has_no_class_names_even_when_given():
    X = _numbers()
    model = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, X[:, 0])
    completed = complete_metadata(model, ModelMetadata(class_names=["a", "b"]))
    assert completed.task is Task.REGRESSION
    assert completed.class_names is None


def test_explainable_needs_background_rows_unless_the_model_is_a_tree():
    X, y = _binary()
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    linear = LogisticRegression().fit(X, y)
    examples = [dict(zip(NAMES, row, strict=True)) for row in X[:3].tolist()]
    assert complete_metadata(forest, ModelMetadata()).is_explainable is True
    assert complete_metadata(linear, ModelMetadata()).is_explainable is False
    assert complete_metadata(linear, ModelMetadata(examples=examples)).is_explainable is True
    assert complete_metadata(_text_pipeline(), ModelMetadata()).is_explainable is False


# FeatureSpec and ModelMetadata parsing.


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("string", FeatureType.CATEGORICAL),
        ("category", FeatureType.CATEGORICAL),
        ("numeric", FeatureType.NUMERIC),
        ("float", FeatureType.NUMERIC),
        ("int", FeatureType.INTEGER),
        ("bool", FeatureType.BOOLEAN),
        (" Text ", FeatureType.TEXT),
    ],
)
def test_feature_types_read_the_template_names(given: str, expected: FeatureType):
    assert FeatureSpec(name="x", type=given).type is expected


def test_an_unknown_feature_type_is_refused():
    with pytest.raises(ValidationError, match="Input should be 'numeric'"):
        FeatureSpec(name="x", type="banana")


def test_numpy_defaults_become_plain_python_values():
    flag = FeatureSpec(name="flag", type="bool", default=np.bool_(True))
    count = FeatureSpec(name="count", type="int", default=np.int64(3), categories=[np.int64(3)])
    assert flag.default is True
    assert type(count.default) is int and count.default == 3
    assert type(count.categories[0]) is int
    metadata = ModelMetadata(features=[flag, count])
    assert '"default":true' in metadata.model_dump_json()  # np.bool_ would not encode


@pytest.mark.parametrize("nan", [float("nan"), np.float64("nan")])
def test_a_nan_default_becomes_none(nan):
    assert FeatureSpec(name="x", default=nan).default is None


def test_a_default_of_zero_stays_zero():
    spec = FeatureSpec(name="x", default=0)
    assert spec.default == 0 and spec.default is not None and not math.isnan(spec.default)


def test_a_default_must_be_one_of_the_categories():
    assert FeatureSpec(name="c", categories=["A", "B"], default="B").default == "B"
    with pytest.raises(ValidationError, match="default 'Z' is not one of its categories"):
        FeatureSpec(name="c", categories=["A", "B"], default="Z")


def test_feature_names_must_be_unique():
    with pytest.raises(ValidationError, match="features named more than once: a"):
        ModelMetadata(features=[FeatureSpec(name="a"), FeatureSpec(name="b"), {"name": "a"}])


def test_feature_by_name():
    metadata = ModelMetadata(features=[{"name": "a", "default": 1}, {"name": "b"}])
    assert metadata.feature("a").default == 1
    assert metadata.feature_names == ["a", "b"]
    with pytest.raises(KeyError, match="missing"):
        metadata.feature("missing")


def test_version_given_as_a_number_becomes_text():
    assert ModelMetadata(version=1).version == "1"
    assert ModelMetadata(version="2.0").version == "2.0"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("MULTILABEL_CLASSIFICATION", Task.MULTICLASS_CLASSIFICATION),
        ("binary_classification", Task.BINARY_CLASSIFICATION),
        ("REGRESSION", Task.REGRESSION),
    ],
)
def test_task_names_are_read_like_the_template(given: str, expected: Task):
    task = ModelMetadata(task=given).task
    assert task is expected
    assert task.is_classification is (expected is not Task.REGRESSION)


def test_examples_hold_plain_values():
    metadata = ModelMetadata(examples=[{"n": np.int64(2), "ok": np.bool_(False), "x": 1.5}])
    assert metadata.examples == [{"n": 2, "ok": False, "x": 1.5}]
    assert type(metadata.examples[0]["n"]) is int


def test_a_bare_pipeline_with_an_encoder_gets_categorical_features():
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from modelport import ModelBundle, Predictor
    from modelport.completion import complete_metadata

    frame = pd.DataFrame({"city": ["Lyon", "Nice", "Paris", "Lyon"], "rooms": [1, 2, 3, 4]})
    encoder = make_column_transformer((OneHotEncoder(), ["city"]), remainder="passthrough")
    model = make_pipeline(encoder, LogisticRegression()).fit(frame, [0, 1, 0, 1])
    metadata = complete_metadata(model, ModelMetadata())
    city = metadata.feature("city")
    assert (city.type, city.categories) == (FeatureType.CATEGORICAL, ["Lyon", "Nice", "Paris"])
    assert metadata.feature("rooms").type is FeatureType.NUMERIC
    predictor = Predictor(ModelBundle(model, metadata))
    assert len(predictor.predict_records({"city": "Nice", "rooms": 2})) == 1
    with pytest.raises(InvalidInputError, match="unknown category 'Brest'; expected one of Lyon"):
        predictor.validate({"city": "Brest", "rooms": 2})


def test_template_categorical_features_without_categories_take_the_encoders(example_bundles):
    from modelport.completion import complete_metadata

    bundle = example_bundles["bank-marketing"]
    bare = [
        FeatureSpec(name=f.name, type=f.type, default=f.default) for f in bundle.metadata.features
    ]
    metadata = complete_metadata(bundle.estimator, ModelMetadata(features=bare))
    assert metadata.feature("job").categories == bundle.metadata.feature("job").categories


def test_class_names_and_task_that_disagree_with_the_model_are_refused():
    from modelport import BundleError

    X, y = _binary()
    model = LogisticRegression().fit(X, y)
    assert complete_metadata(model, ModelMetadata(class_names=["0", "1"])).class_names == ["0", "1"]
    with pytest.raises(
        BundleError,
        match=r"class_names \['negative', 'positive'\] differ from the model's classes_ \['0', '1'\]",
    ):
        complete_metadata(model, ModelMetadata(class_names=["negative", "positive"]))
    with pytest.raises(
        BundleError, match="task is REGRESSION but the model is BINARY_CLASSIFICATION"
    ):
        complete_metadata(model, ModelMetadata(task="REGRESSION"))


def test_a_model_that_names_no_features_is_refused():
    from modelport import BundleError

    class Opaque:
        def predict(self, X):
            return [0.0] * len(X)

    with pytest.raises(BundleError, match="list them in the bundle's metadata"):
        complete_metadata(Opaque(), ModelMetadata())


def test_an_invalid_column_name_is_a_bundle_error():
    import pandas as pd

    from modelport import BundleError

    frame = pd.DataFrame({"": [1.0, 2.0], "b": [0.0, 1.0]})
    model = LogisticRegression().fit(frame, [0, 1])
    with pytest.raises(BundleError, match="invalid"):
        complete_metadata(model, ModelMetadata())


def test_the_common_column_transformer_with_imputers_and_encoders():
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    frame = pd.DataFrame({"job": ["a", "b", None, "a"] * 5, "age": [20.0, None, 40.0, 50.0] * 5})
    categorical = Pipeline(
        [("impute", SimpleImputer(strategy="most_frequent")), ("encode", OneHotEncoder())]
    )
    numeric = Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())])
    both = ColumnTransformer([("cat", categorical, ["job"]), ("num", numeric, ["age"])])
    model = Pipeline([("prep", both), ("clf", LogisticRegression())]).fit(frame, [0, 1] * 10)
    metadata = complete_metadata(model, ModelMetadata())
    assert metadata.feature("job").type is FeatureType.CATEGORICAL
    assert metadata.feature("job").categories == ["a", "b"]
    assert metadata.allows_nan is True
    scaled_only = ColumnTransformer(
        [("cat", categorical, ["job"]), ("num", StandardScaler(), ["age"])]
    )
    unsafe = Pipeline([("prep", scaled_only), ("clf", LogisticRegression())]).fit(
        frame.fillna({"age": 0}), [0, 1] * 10
    )
    assert infer_allows_nan(unsafe) is False  # NaN in age would reach the logistic regression


def test_wrapped_models_are_explained_as_a_whole():
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.linear_model import LinearRegression

    X = _numbers()
    wrapped = TransformedTargetRegressor(LinearRegression(), func=np.log1p, inverse_func=np.expm1)
    wrapped.fit(X, np.abs(X[:, 0]) + 1)
    assert infer_explainer(wrapped, NAMES) == "permutation"
    calibrated = make_pipeline(StandardScaler(), CalibratedClassifierCV(LogisticRegression(), cv=2))
    calibrated.fit(X, (X[:, 0] > 0).astype(int))
    assert infer_explainer(calibrated, NAMES) == "permutation"
